"""The whole validation of one file: read -> parse -> column checks -> rules -> quarantine.

:func:`validate_file` reads a file robustly (the tribunal workbook has its own reader) and
:func:`validate_frame` runs the steps on its text frame; the result (:class:`ValidationResult`)
holds the accepted rows typed, the quarantined rows as text with their reasons, and every
finding.  A file that looks as if it carries personal data, or lacks a required column, is
refused as a whole.  On large frames the independent checks share a two-thread pool (the heavy
lifting is in pyarrow and numpy, which release the GIL); findings keep a fixed order either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.contracts.inference import infer_contract
from evaluation.contracts.parse import (
    Encoded,
    encode,
    parse_date_column,
    parse_frame,
    resolve,
    row_finding,
)
from evaluation.contracts.privacy import personal_data_findings
from evaluation.contracts.quarantine import split_rows
from evaluation.contracts.rules import (
    case_rules,
    geography_rules,
    key_rules,
    key_value_rules,
    period_gap_rules,
    ratio_rules,
    time_rules,
)
from evaluation.contracts.schema import (
    date_findings,
    distinct_column_checks,
    finish_column_checks,
    start_column_checks,
)
from evaluation.contracts.spec import PARALLEL_ROWS, Contract, load_contract
from evaluation.findings import ERROR, WARNING, Finding, findings_frame
from evaluation.io.geography import Geography

# Column types whose values repeat (a few distinct values in many rows): hash-encoded once.
ENCODED_TYPES = {"category", "flag", "la_code", "gss", "period", "time_identifier", "date"}


@dataclass
class ValidationResult:
    file: str
    contract: str
    rows_in: int
    accepted: pd.DataFrame  # typed values of the accepted rows (+ source_row)
    quarantined: pd.DataFrame  # original text of quarantined rows + source_row + reasons
    findings: list[Finding]
    symbols: pd.DataFrame | None = None  # per cell: the symbol found ("" for values)
    withheld_values: bool = False  # personal data: values never written anywhere
    # accepted rows of the hash-encoded columns (codes into distinct values; dates parsed once),
    # so that callers such as the case-level ingest need not encode or parse them again
    encoded: dict[str, Encoded] = field(default_factory=dict, repr=False, compare=False)

    @property
    def rows_accepted(self) -> int:
        return len(self.accepted)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)

    @property
    def n_errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def n_warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)

    def balanced(self) -> bool:
        return self.rows_in == self.rows_accepted + self.rows_quarantined

    def summary(self) -> str:
        return (
            f"{self.file} [{self.contract}]: {self.rows_in} rows in = {self.rows_accepted} "
            f"accepted + {self.rows_quarantined} quarantined; {self.n_errors} error(s), "
            f"{self.n_warnings} warning(s)"
        )

    def to_dict(self) -> dict:
        findings = []
        for f in self.findings:
            d = f.to_dict()
            d.pop("file")
            if f.rule.startswith("personal_data"):
                d["value"] = "(withheld)"
            findings.append(d)
        return {
            "path": self.file,
            "contract": self.contract,
            "rows_in": self.rows_in,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "findings": findings,
        }

    def write_quarantine(self, directory: Path | str) -> Path | None:
        """Write quarantined rows with their reasons to ``<directory>/<file>.quarantine.csv``."""
        if self.quarantined.empty:
            return None
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / f"{Path(self.file).name}.quarantine.csv"
        frame = self.quarantined
        if self.withheld_values:
            frame = frame[["source_row", "reasons"]]
        tmp = out.with_name(out.name + ".tmp")
        frame.rename(columns={"source_row": "line"}).to_csv(tmp, index=False)
        tmp.replace(out)
        return out


def findings_table(results: list[ValidationResult]) -> pd.DataFrame:
    return findings_frame([f for r in results for f in r.findings])


# ---- one frame ---------------------------------------------------------------------------------
def validate_frame(
    frame: pd.DataFrame, contract: Contract, file: str, geo: Geography | None = None
) -> ValidationResult:
    """Validate a text frame (with ``source_row``) against a contract."""
    file = Path(file).name
    refused = _refuse_personal_data(frame, contract, file)
    if refused is None:
        refused = _refuse_missing_columns(frame, contract, file)
    if refused is not None:
        return refused
    findings = _shape_findings(frame, contract, file)
    typed, symbols, check_findings, encoded = _run_checks(frame, contract, file)
    findings += check_findings
    findings += key_value_rules(frame, contract, file, findings)
    if geo is not None:
        validated = pd.Series("", index=typed.index, dtype=object)
        findings += geography_rules(typed, contract, file, geo, validated, encoded)
        typed["_la_code"] = validated
    findings += period_gap_rules(typed, contract, file)
    accepted, quarantined, symbols, encoded = split_rows(frame, typed, symbols, encoded, findings)
    return ValidationResult(
        file,
        contract.name,
        len(frame),
        accepted,
        quarantined,
        findings,
        symbols=symbols,
        encoded=encoded,
    )


def _refuse_personal_data(
    frame: pd.DataFrame, contract: Contract, file: str
) -> ValidationResult | None:
    """A file that looks as if it carries personal data: every row quarantined, no value kept."""
    pii = personal_data_findings(frame, contract, file)
    if not pii:
        return None
    quarantined = frame[["source_row"]].assign(reasons="personal data: file refused")
    return ValidationResult(
        file, contract.name, len(frame), frame.iloc[0:0], quarantined, pii, withheld_values=True
    )


def _refuse_missing_columns(
    frame: pd.DataFrame, contract: Contract, file: str
) -> ValidationResult | None:
    """A file without a required column: no row can be checked, so every row is quarantined."""
    missing = [c for c in contract.required if c not in frame.columns]
    if not missing:
        return None
    f = Finding(
        file,
        1,
        ", ".join(missing),
        "required_columns",
        ERROR,
        "",
        f"The file lacks required column(s) {', '.join(missing)}, so no row can be "
        f"checked; every row is quarantined.",
    )
    q = frame.assign(reasons=f"required_columns: missing {', '.join(missing)}")
    return ValidationResult(file, contract.name, len(frame), frame.iloc[0:0], q, [f])


def _shape_findings(frame: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    """row_width (a row with more cells than the header) and unexpected_column findings."""
    findings = []
    if "_extra_cells" in frame:
        for idx in frame.index[frame["_extra_cells"] != ""]:
            findings.append(
                row_finding(
                    file,
                    frame["source_row"],
                    idx,
                    "(beyond the header)",
                    "row_width",
                    ERROR,
                    frame.at[idx, "_extra_cells"],
                    "This row has more cells than the header has columns.",
                )
            )
    if contract.extra_columns is None:
        for col in frame.columns:
            if col not in contract.columns and col not in {"source_row", "_extra_cells"}:
                findings.append(
                    Finding(
                        file,
                        1,
                        col,
                        "unexpected_column",
                        WARNING,
                        col,
                        f"Column '{col}' is not in contract {contract.name}; it "
                        "is kept but not checked.",
                    )
                )
    return findings


def _encoded_columns(frame: pd.DataFrame, contract: Contract) -> list[str]:
    return [c for c, spec in contract.columns.items() if c in frame and spec.type in ENCODED_TYPES]


def _run_checks(frame: pd.DataFrame, contract: Contract, file: str):
    """(typed, symbols, findings, encodings) from parsing, column checks and the rules that
    need no lookup.  Columns whose values repeat (categories, codes, dates) are hash-encoded
    once: the column checks, date parsing, case rules, LA lookup and the case-level ingest use
    the encodings.  On large frames the independent checks share a two-thread pool."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2) if len(frame) >= PARALLEL_ROWS else None
    run = pool.submit if pool is not None else (lambda fn, *args: fn(*args))
    findings: list[Finding] = []
    try:
        typed, symbols, parse_findings, _ = parse_frame(frame, contract, file, parse_dates=False)
        findings += parse_findings
        to_encode = _encoded_columns(frame, contract)
        # the longest jobs first: row-by-row column checks (free text such as case_id), keys
        started = start_column_checks(typed, contract, file, set(to_encode), pool)
        checks = [
            run(time_rules, typed, contract, file),
            run(key_rules, typed, frame, contract, file),
            run(ratio_rules, typed, contract, file),
        ]
        jobs = {}
        for col in to_encode:
            fn = parse_date_column if contract.columns[col].type == "date" else encode
            jobs[col] = run(fn, frame[col])
        by_column = distinct_column_checks(started, jobs)  # as the encodings arrive
        encoded = {c: resolve(j) for c, j in jobs.items()}
        for col in to_encode:
            if contract.columns[col].type == "date":
                findings += date_findings(frame, col, encoded[col], file)
        rules = case_rules(typed, contract, file, encoded) if contract.layout == "cases" else []
        findings += finish_column_checks(started, encoded, by_column)
        for part in checks:
            findings += resolve(part)
        findings += rules
    finally:
        if pool is not None:
            pool.shutdown()
            _release_arrow_memory()  # the checks' freed Arrow buffers go back to the system
    encoded = {c: e for c, e in encoded.items() if isinstance(e, Encoded)}
    return typed, symbols, findings, encoded


def _release_arrow_memory() -> None:
    """Return memory Arrow's allocator holds but no longer uses to the system."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - older pyarrow
        pass


# ---- one file ----------------------------------------------------------------------------------
def validate_file(
    path: Path | str, contract: str | Contract | None = None, geo: Geography | None = None
) -> ValidationResult:
    """Read a file robustly and validate it (the contract is inferred if not given)."""
    from evaluation.io.readers import read_table

    path = Path(path)
    if isinstance(contract, str):
        contract = load_contract(contract)
    if (
        contract is not None
        and contract.layout == "tribunal"
        or (contract is None and _looks_like_tribunal(path))
    ):
        contract = contract or load_contract("send_tribunal")
        return validate_frame(_tribunal_text(path), contract, path.name, geo)
    read = read_table(path)
    contract = contract or infer_contract(list(read.frame.columns), path.name)
    result = validate_frame(read.frame, contract, path.name, geo)
    for line in read.note_rows:
        result.findings.append(
            Finding(
                path.name,
                line,
                "(whole row)",
                "note_row",
                WARNING,
                "",
                "A note below the data was skipped (not a data row).",
            )
        )
    return result


def _tribunal_text(path: Path) -> pd.DataFrame:
    """The tribunal workbook as a text frame: each count holds its value, or the source's
    symbol where it gives one (empty where it gives neither)."""
    from evaluation.io.tribunal import read_tribunal

    table = read_tribunal(path)
    text = pd.DataFrame(
        {c: table[c].map(lambda v: "" if pd.isna(v) else str(v)) for c in table.columns}
    )
    for col, sym in [
        ("appeals", "appeals_symbol"),
        ("appealable_decisions", "decisions_symbol"),
        ("rate_pct_published", "rate_symbol"),
    ]:
        text[col] = text[col].where(table[sym] == "", table[sym])
        text[col] = text[col].where(~((table[sym] == "") & table[col].isna()), "")
    text["source_row"] = table["source_row"].astype(int)
    return text


def _looks_like_tribunal(path: Path) -> bool:
    try:
        head = path.read_bytes()[:400].decode("utf-8-sig", errors="ignore")
    except OSError:
        return False
    return "Appeal rate" in head and "SEND Tribunal" in head
