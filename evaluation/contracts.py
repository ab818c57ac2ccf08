"""Data contracts: validate every input against ``data_contracts/*.yaml``, quarantine bad rows,
lose nothing.

A contract is readable YAML that doubles as the data dictionary (title, description, type, unit,
allowed values, missing-value symbols with their meanings, keys).  Validation runs in three
steps, each producing :class:`~evaluation.findings.Finding` records that name file, line,
column, rule and severity:

1. **parse**: each cell is a value of the column's type or one of *this source's* symbols;
2. **column checks** with pandera (types, ranges, allowed values, patterns, required values),
   built from the YAML;
3. **rules beyond types**: unique keys and duplicate submissions, time_period width against
   time_identifier and one family per file, numerator <= denominator, published percentages
   against their recomputation (0.1 points), (name, code) pairs against the LA lookup, case
   chronology, and gaps in a return's periods.

Rows with an error are quarantined with their reasons; ``rows_in == rows_accepted +
rows_quarantined`` always holds and is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .findings import ERROR, WARNING, Finding, findings_frame
from .geography import PROJECT_ROOT, Geography

CONTRACT_DIR = PROJECT_ROOT / "data_contracts"
TYPES = {
    "period",
    "time_identifier",
    "category",
    "la_code",
    "gss",
    "text",
    "count",
    "percent",
    "number",
    "date",
    "flag",
    "integer",
    "list",
}
PARALLEL_ROWS = 200_000  # frames at least this long run their checks on two threads
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FOUR_DIGIT = {
    "Calendar year",
    "Reporting year",
    *MONTHS,
    *(f"Calendar year Q{q}" for q in range(1, 5)),
}
SIX_DIGIT = {
    "Academic year",
    "Financial year",
    "Tax year",
    "Financial year Q1",
    "Financial year Q2",
    "Financial year Q3",
    "Financial year Q4",
    "Autumn term",
    "Spring term",
    "Summer term",
    "Autumn and spring term",
}
# Standard EES filter and geography columns: text whatever a contract's extra_columns says.
EES_TEXT_COLUMNS = {
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "la_name",
    "new_la_code",
    "old_la_code",
    "lad_code",
    "lad_name",
    "breakdown_topic",
    "breakdown",
    "time_identifier",
    "geographic_level",
}
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class ContractError(ValueError):
    """A contract file is invalid or unknown."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    title: str = ""
    description: str = ""
    unit: str = ""
    required: bool = False
    allowed: tuple = ()
    pattern: str | None = None


@dataclass
class Contract:
    name: str
    title: str
    description: str
    version: str
    layout: str
    columns: dict[str, ColumnSpec]
    missing_symbols: dict[str, str]
    keys: list[str] = field(default_factory=list)
    match: list[str] = field(default_factory=list)
    time_identifiers: list[str] = field(default_factory=list)
    extra_columns: str | None = None
    rules: dict = field(default_factory=dict)
    check_period_gaps: bool = False
    path: Path | None = None
    fields: dict = field(default_factory=dict)  # for non-tabular contracts (the plan)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]

    def dictionary(self) -> pd.DataFrame:
        """The data dictionary as a table."""
        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "title": c.title,
                    "type": c.type,
                    "unit": c.unit,
                    "required": c.required,
                    "allowed": ", ".join(map(str, c.allowed)),
                    "description": c.description,
                }
                for c in self.columns.values()
            ]
        )


def load_contract(name_or_path: str | Path) -> Contract:
    """Load a contract by name (``data_contracts/<name>.yaml``) or path, checking its syntax."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONTRACT_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ContractError(
            f"Unknown contract '{name_or_path}'. Known: {', '.join(list_contracts())}."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError(f"{path.name}: a contract must be a mapping.")
    for key in ["name", "title", "description", "version", "layout"]:
        if key not in raw:
            raise ContractError(f"{path.name}: key '{key}' is required.")
    columns = {}
    for col, spec in (raw.get("columns") or {}).items():
        spec = spec or {}
        unknown = set(spec) - {
            "title",
            "type",
            "required",
            "description",
            "unit",
            "allowed",
            "pattern",
        }
        if unknown:
            raise ContractError(
                f"{path.name}: column '{col}' has unknown key(s) {sorted(unknown)}."
            )
        if spec.get("type") not in TYPES:
            raise ContractError(
                f"{path.name}: column '{col}' has type {spec.get('type')!r}; "
                f"use one of {sorted(TYPES)}."
            )
        if spec.get("pattern"):
            re.compile(spec["pattern"])
        columns[str(col)] = ColumnSpec(
            name=str(col),
            type=spec["type"],
            title=str(spec.get("title", "")),
            description=str(spec.get("description", "")),
            unit=str(spec.get("unit", "")),
            required=bool(spec.get("required", False)),
            allowed=tuple(str(a) for a in spec.get("allowed", []) or []),
            pattern=spec.get("pattern"),
        )
    rules = raw.get("rules") or {}
    known_rules = {
        "numerator_le_denominator",
        "percent_matches",
        "chronology",
        "outcome_needs_date",
    }
    if set(rules) - known_rules:
        raise ContractError(f"{path.name}: unknown rule(s) {sorted(set(rules) - known_rules)}.")
    referenced = set(raw.get("keys") or [])
    for pair in rules.get("numerator_le_denominator", []):
        referenced |= set(pair)
    for item in rules.get("percent_matches", []):
        referenced |= {item["percent"], item["numerator"], item["denominator"]}
    referenced |= set(rules.get("chronology", []))
    missing = sorted(c for c in referenced if c not in columns)
    if missing and raw["layout"] != "plan":
        raise ContractError(f"{path.name}: keys or rules name undeclared column(s) {missing}.")
    if raw.get("extra_columns") not in {None, "allow", "number_or_symbol", "count_or_symbol"}:
        raise ContractError(
            f"{path.name}: extra_columns must be allow, number_or_symbol or count_or_symbol."
        )
    return Contract(
        name=str(raw["name"]),
        title=str(raw["title"]),
        description=str(raw["description"]),
        version=str(raw["version"]),
        layout=str(raw["layout"]),
        columns=columns,
        missing_symbols={str(k): str(v) for k, v in (raw.get("missing_symbols") or {}).items()},
        keys=list(raw.get("keys") or []),
        match=list(raw.get("match") or []),
        time_identifiers=list(raw.get("time_identifiers") or []),
        extra_columns=raw.get("extra_columns"),
        rules=rules,
        check_period_gaps=bool(raw.get("check_period_gaps", False)),
        path=path,
        fields=dict(raw.get("fields") or {}),
    )


def list_contracts() -> list[str]:
    return sorted(p.stem for p in CONTRACT_DIR.glob("*.yaml"))


def infer_contract(columns: list[str]) -> Contract:
    """The contract whose ``match`` columns are all present (the most specific wins)."""
    cols = set(columns)
    candidates = []
    tried = []
    for name in list_contracts():
        c = load_contract(name)
        if not c.match:
            continue
        tried.append(name)
        if set(c.match) <= cols:
            present = len(cols & set(c.columns))
            candidates.append(((present, present / max(len(c.columns), 1)), name, c))
    if not candidates:
        raise ContractError(
            f"No contract fits these columns; tried {', '.join(tried)}. Name one with --contract."
        )
    candidates.sort(key=lambda t: (-t[0][0], -t[0][1], t[1]))
    return candidates[0][2]


# ---- results ---------------------------------------------------------------------------------
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


# ---- parsing -----------------------------------------------------------------------------------
def _parse_numbers(text: pd.Series, symbols: dict[str, str], *, integer: bool, percent: bool):
    """(values as Float64, symbol per cell, mask of unparseable cells)."""
    t = text.astype(str).str.strip()
    is_symbol = t.isin(list(symbols))
    cleaned = t.str.replace(",", "", regex=False)
    if percent:
        cleaned = cleaned.str.replace("%", "", regex=False).str.strip()
    is_number = cleaned.str.match(NUMBER) & ~is_symbol
    values = pd.to_numeric(cleaned.where(is_number), errors="coerce").astype("Float64")
    if "-" in symbols and symbols["-"].startswith("nil"):
        values = values.mask(t == "-", 0.0)
    bad = ~is_number & ~is_symbol
    return values, t.where(is_symbol, ""), bad


def _strict_iso(values: np.ndarray) -> np.ndarray:
    """Strictly parse an array of distinct strings as YYYY-MM-DD (NaT otherwise)."""
    text = pd.Series(values, dtype=object).fillna("")
    ok = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
    parsed = pd.to_datetime(text.where(ok), format="%Y-%m-%d", errors="coerce")
    return parsed.to_numpy(dtype="datetime64[D]")


def date_findings(frame: pd.DataFrame, col: str, parsed: np.ndarray, file: str) -> list[Finding]:
    """iso_date findings: non-empty cells that are not real YYYY-MM-DD dates."""
    text = frame[col]
    bad = (text != "").to_numpy(dtype=bool) & np.isnat(parsed)
    return [
        _finding(
            file, frame["source_row"], idx, col, "iso_date", ERROR, text[idx], MESSAGES["iso_date"]
        )
        for idx in text.index[bad]
    ]


def parse_iso_dates(text: pd.Series) -> np.ndarray:
    """YYYY-MM-DD text -> datetime64[D] array (NaT for blanks and impossible dates such as
    2024-02-30).

    Dates repeat a lot (a few hundred distinct days in a million records), so only the distinct
    strings are parsed, strictly, and the result is spread back by index."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(text, type=pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        enc = pc.dictionary_encode(arr)
        uniques = enc.dictionary.to_numpy(zero_copy_only=False)
        codes = enc.indices.to_numpy(zero_copy_only=False)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        codes, uniques = pd.factorize(text)
    parsed = _strict_iso(np.asarray(uniques, dtype=object))
    return parsed[codes]


def _finding(file, rows, idx, column, rule, severity, value, message) -> Finding:
    return Finding(file, int(rows[idx]), column, rule, severity, str(value), message, index=idx)


def parse_frame(
    frame: pd.DataFrame, contract: Contract, file: str, pool=None
) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding], dict[str, pd.Series]]:
    """Typed frame, symbols frame, parse findings and parsed date columns."""
    rows = frame["source_row"]
    typed_cols: dict[str, pd.Series] = {"source_row": rows}
    symbol_cols: dict[str, pd.Series] = {}
    dates: dict[str, pd.Series] = {}
    findings: list[Finding] = []
    syms = contract.missing_symbols
    extra_kind = {"number_or_symbol": "number", "count_or_symbol": "count"}.get(
        contract.extra_columns or "", "text"
    )
    date_cols = [c for c, spec in contract.columns.items() if spec.type == "date" and c in frame]
    if pool is not None:  # parse dates on the pool while the caller starts other checks
        pre_parsed = {c: pool.submit(parse_iso_dates, frame[c]) for c in date_cols}
    else:
        pre_parsed = {c: parse_iso_dates(frame[c]) for c in date_cols}
    for col in frame.columns:
        if col in {"source_row", "_extra_cells"}:
            continue
        spec = contract.columns.get(col)
        if spec is not None:
            kind = spec.type
        else:
            kind = "text" if col in EES_TEXT_COLUMNS else extra_kind
        text = frame[col]  # text, already trimmed by the readers
        if kind == "date":
            typed_cols[col] = text
            dates[col] = pre_parsed[col]  # an array, or a future when parsing on a pool
        elif kind in {"count", "percent", "number"}:
            values, sym, bad = _parse_numbers(
                text, syms, integer=kind == "count", percent=kind == "percent"
            )
            listed = ", ".join(repr(s) for s in syms) or "none"
            for idx in text.index[bad]:
                findings.append(
                    _finding(
                        file,
                        rows,
                        idx,
                        col,
                        "value_or_symbol",
                        ERROR,
                        text[idx],
                        f"'{text[idx]}' is not a number or one of this source's symbols ({listed}).",
                    )
                )
            typed_cols[col] = values
            symbol_cols[col] = sym
        else:
            typed_cols[col] = text
    typed = pd.DataFrame(typed_cols, index=frame.index)
    symbols = pd.DataFrame(symbol_cols, index=frame.index)
    return typed, symbols, findings, dates


# ---- pandera column checks -------------------------------------------------------------------
def pandera_schema(contract: Contract, columns: list[str]):
    """pandera schema for the typed frame, built from the contract's column specs."""
    import pandera.pandas as pa

    checks = {}
    for name in columns:
        spec = contract.columns.get(name)
        if spec is None:
            if name in EES_TEXT_COLUMNS:
                continue
            if contract.extra_columns in {"number_or_symbol", "count_or_symbol"}:
                c = [pa.Check.ge(0, error="non_negative")]
                if contract.extra_columns == "count_or_symbol":
                    c.append(pa.Check(lambda s: s % 1 == 0, element_wise=False, error="integer"))
                checks[name] = pa.Column("Float64", c, nullable=True, required=False)
            continue
        c, dtype, nullable = [], "str", not spec.required
        # For required text columns the format check itself rejects "", so each column is
        # scanned once (large files); a separate required_value check runs only where needed.
        req = spec.required
        rejects_empty = False
        if spec.type == "count":
            dtype = "Float64"
            c += [
                pa.Check.ge(0, error="non_negative"),
                pa.Check(lambda s: s % 1 == 0, element_wise=False, error="integer"),
            ]
        elif spec.type == "percent":
            dtype = "Float64"
            c += [pa.Check.in_range(0, 100, error="percent_range")]
        elif spec.type == "number":
            dtype = "Float64"
        elif spec.type in {"category", "flag"} and spec.allowed:
            c.append(pa.Check.isin(list(spec.allowed), error="allowed_values"))
            rejects_empty = "" not in spec.allowed
        elif spec.type == "la_code":
            c.append(
                pa.Check.str_matches(
                    r"^(\d{3}|z)$" if req else r"^(\d{3}|z|)$", error="la_code_format"
                )
            )
            rejects_empty = req
        elif spec.type == "gss":
            c.append(
                pa.Check.str_matches(
                    r"^([EWSN]\d{8}|z|x)$" if req else r"^([EWSN]\d{8}|z|x|)$",
                    error="gss_code_format",
                )
            )
            rejects_empty = req
        elif spec.type == "date":
            pass  # parsed once in parse_frame (iso_date findings there)
        elif spec.type == "period":
            c.append(pa.Check.str_matches(r"^\d{4}(\d{2})?$", error="period_format"))
            rejects_empty = True
        if spec.pattern:
            if req and not re.match(spec.pattern, ""):
                c.append(
                    pa.Check(
                        lambda s, p=spec.pattern: s.str.match(p),
                        element_wise=False,
                        error="pattern",
                    )
                )
                rejects_empty = True
            else:
                c.append(
                    pa.Check(
                        lambda s, p=spec.pattern: s.eq("") | s.str.match(p),
                        element_wise=False,
                        error="pattern",
                    )
                )
        if req and dtype == "str" and not rejects_empty:
            c.append(pa.Check(lambda s: s.ne(""), element_wise=False, error="required_value"))
        checks[name] = pa.Column(
            dtype, c, nullable=True if dtype != "str" else nullable, required=False
        )
    return pa.DataFrameSchema(checks, strict=False)


MESSAGES = {
    "non_negative": "A count cannot be negative.",
    "integer": "A count must be a whole number.",
    "percent_range": "A percentage must be between 0 and 100.",
    "allowed_values": "This value is not one of the allowed values: {allowed}.",
    "la_code_format": "A DfE LA code has exactly three digits.",
    "gss_code_format": "A GSS code is a letter followed by eight digits (e.g. E06000001).",
    "iso_date": "Dates must be written as YYYY-MM-DD.",
    "period_format": "time_period must be 4 digits (e.g. 2024) or 6 digits (e.g. 202425).",
    "pattern": "This value does not have the expected form.",
    "required_value": "This column must not be empty.",
}


def column_checks(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    """pandera column checks (types, ranges, allowed values, patterns, required values)."""
    cols = [c for c in typed.columns if c != "source_row"]
    return _pandera_findings(pandera_schema(contract, cols), typed, typed, contract, file)


def _pandera_findings(
    schema, frame: pd.DataFrame, typed: pd.DataFrame | None, contract: Contract, file: str
) -> list[Finding]:
    """Run a pandera schema lazily and turn its failure cases into findings.  With ``typed``
    None, ``frame`` is a table of distinct values and findings carry its positions."""
    import pandera.pandas as pa

    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    findings = []
    for case in cases.itertuples(index=False):
        idx = case.index
        if idx is None or (isinstance(idx, float) and np.isnan(idx)):
            continue
        rule = str(case.check)
        col = str(case.column)
        spec = contract.columns.get(col)
        msg = MESSAGES.get(rule, f"Check {rule} failed.").format(
            allowed=", ".join(repr(a) for a in (spec.allowed if spec else ()))
        )
        value = frame.at[idx, col] if col in frame.columns else case.failure_case
        row = int(typed.at[idx, "source_row"]) if typed is not None else 0
        findings.append(
            Finding(
                file, row, col, rule, ERROR, "" if pd.isna(value) else str(value), msg, index=idx
            )
        )
    return findings


# ---- rules beyond types ------------------------------------------------------------------------
def _family(identifier: str) -> str:
    if identifier in MONTHS:
        return "month"
    if identifier.startswith("Calendar year Q"):
        return "quarter"
    if identifier in FOUR_DIGIT:
        return "year"
    if identifier in SIX_DIGIT:
        return "six-digit"
    return "unknown"


def year_of(period: pd.Series) -> pd.Series:
    """The calendar year (first four digits) of time_period values; NA unless they are digits
    (so 'INF' or '2O24' never become numbers)."""
    text = period.astype(str)
    digits = text.str.fullmatch(r"\d{4}(\d{2})?").fillna(False)
    return pd.to_numeric(text.str[:4].where(digits), errors="coerce").astype("Float64")


def time_rules(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    if "time_period" not in typed or "time_identifier" not in typed:
        return []
    findings = []
    tp, ti = typed["time_period"], typed["time_identifier"]
    rows = typed["source_row"]
    allowed = set(contract.time_identifiers)
    for idx in ti.index[~ti.isin(list(allowed))] if allowed else []:
        findings.append(
            _finding(
                file,
                rows,
                idx,
                "time_identifier",
                "time_identifier_allowed",
                ERROR,
                ti[idx],
                f"'{ti[idx]}' is not a time identifier this "
                f"contract accepts ({', '.join(sorted(allowed))}).",
            )
        )
    width = tp.str.len()
    four = ti.isin(list(FOUR_DIGIT))
    six = ti.isin(list(SIX_DIGIT))
    wrong = (four & (width != 4)) | (six & (width != 6))
    for idx in tp.index[wrong & tp.str.match(r"^\d+$")]:
        need = 4 if four[idx] else 6
        findings.append(
            _finding(
                file,
                rows,
                idx,
                "time_period",
                "time_period_width",
                ERROR,
                tp[idx],
                f"With time_identifier '{ti[idx]}' the time_period must have {need} digits.",
            )
        )
    families = ti.map(_family)
    known = families[families != "unknown"]
    if known.nunique() > 1:
        main = known.value_counts().idxmax()
        for idx in known.index[known != main]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    "time_identifier",
                    "one_time_family",
                    ERROR,
                    ti[idx],
                    f"This file mixes time identifier families; most "
                    f"rows are {main} data, this row is {families[idx]} data.",
                )
            )
    return findings


def _all_distinct(values: pd.Series) -> bool:
    """Fast uniqueness test (hash count in pyarrow; pandas if pyarrow is missing)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return len(pc.unique(pa.array(values))) == len(values)
    except (ImportError, pa.ArrowInvalid, pa.ArrowTypeError):  # pragma: no cover
        return bool(values.is_unique)


def key_rules(
    typed: pd.DataFrame, raw: pd.DataFrame, contract: Contract, file: str
) -> list[Finding]:
    keys = [k for k in contract.keys if k in typed.columns]
    if not keys:
        return []
    findings = []
    rows = typed["source_row"]
    if len(keys) == 1 and _all_distinct(typed[keys[0]]):
        return []
    dup = typed.duplicated(keys, keep="first")
    if dup.to_numpy().any():
        value_cols = [c for c in raw.columns if c not in {"source_row", "_extra_cells"}]
        first_line = typed.loc[~dup].set_index(keys)["source_row"]
        same_as_first = raw.duplicated(value_cols, keep="first")
        for idx in typed.index[dup]:
            key = tuple(typed.loc[idx, keys])
            first = first_line.get(key if len(keys) > 1 else key[0])
            first = int(first.iloc[0]) if isinstance(first, pd.Series) else first
            if same_as_first[idx]:
                rule, msg = (
                    "duplicate_submission",
                    (
                        f"This row repeats line {first} exactly: the same area and period was "
                        "submitted twice. The repeat is quarantined."
                    ),
                )
            else:
                rule, msg = (
                    "duplicate_key",
                    (
                        f"Line {first} already has a row for the same {', '.join(keys)} with "
                        "different values; which one is right cannot be decided, so this one is "
                        "quarantined."
                    ),
                )
            findings.append(
                _finding(file, rows, idx, keys[0], rule, ERROR, " | ".join(map(str, key)), msg)
            )
    return findings


def ratio_rules(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    findings = []
    rows = typed["source_row"]
    for num, den in contract.rules.get("numerator_le_denominator", []):
        if num not in typed or den not in typed:
            continue
        over = (typed[num] > typed[den]).fillna(False)
        for idx in typed.index[over]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    num,
                    "numerator_le_denominator",
                    ERROR,
                    f"{typed.at[idx, num]:g} > {typed.at[idx, den]:g}",
                    f"{num} ({typed.at[idx, num]:g}) is larger than {den} "
                    f"({typed.at[idx, den]:g}), which it is part of.",
                )
            )
    for item in contract.rules.get("percent_matches", []):
        pc, num, den = item["percent"], item["numerator"], item["denominator"]
        tol = float(item.get("tolerance", 0.1))
        if not {pc, num, den} <= set(typed.columns):
            continue
        d = typed[den].where(typed[den] > 0)
        recomputed = typed[num] / d * 100
        off = ((typed[pc] - recomputed).abs() > tol + 1e-9).fillna(False)
        for idx in typed.index[off]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    pc,
                    "percent_matches_counts",
                    ERROR,
                    f"{typed.at[idx, pc]:g}",
                    f"The published {pc} ({typed.at[idx, pc]:g}%) differs from {num} / {den} = "
                    f"{recomputed[idx]:.2f}% by more than {tol} percentage points.",
                )
            )
    return findings


def geography_rules(
    typed: pd.DataFrame,
    contract: Contract,
    file: str,
    geo: Geography,
    validated: pd.Series | None = None,
) -> list[Finding]:
    """(name, code[, GSS]) pairs against the LA lookup, once per distinct combination.
    Validated 3-digit codes (errata corrected) are written into ``validated``."""
    if validated is None:
        validated = pd.Series("", index=typed.index, dtype=object)
    findings = []
    rows = typed["source_row"]
    if contract.layout == "cases":
        if "la_code" not in typed:
            return []
        codes = set(geo.lookup["old_la_code"])
        for idx in typed.index[~typed["la_code"].isin(list(codes)) & typed["la_code"].ne("")]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    "la_code",
                    "la_code_in_lookup",
                    ERROR,
                    typed.at[idx, "la_code"],
                    f"{typed.at[idx, 'la_code']} is not a DfE LA code.",
                )
            )
        return findings
    if contract.layout == "ees" and "old_la_code" in typed:
        code_col, gss_col = "old_la_code", "new_la_code" if "new_la_code" in typed else None
    elif contract.layout == "tribunal":
        code_col, gss_col = "la_code_raw", None
    else:
        return []
    if "geographic_level" not in typed or "la_name" not in typed:
        return []
    la = typed[typed["geographic_level"] == "Local authority"]
    if la.empty:
        return []
    year = year_of(la["time_period"]).fillna(0).astype(int)
    has_data = pd.Series(True, index=la.index)
    if contract.layout == "tribunal":
        has_data = la[["appeals", "appealable_decisions"]].notna().any(axis=1)
    combo = pd.DataFrame(
        {
            "name": la["la_name"],
            "code": la[code_col],
            "gss": la[gss_col] if gss_col else "",
            "year": year,
            "has_data": has_data,
        }
    )
    for key, grp in combo.groupby(list(combo.columns), sort=False):
        name, code, gss, yr, data_ok = key
        valid, fs = geo.validate_pair(
            name,
            code,
            int(yr),
            source=contract.name,
            file=file,
            row=None,
            gss=gss or None,
            has_data=bool(data_ok),
        )
        if valid is not None:
            validated.loc[grp.index] = valid
        for f in fs:
            for idx in grp.index:
                findings.append(
                    Finding(
                        file,
                        int(rows[idx]),
                        f.column,
                        f.rule,
                        f.severity,
                        f.value,
                        f.message,
                        index=idx,
                    )
                )
    return findings


def case_rules(
    typed: pd.DataFrame, contract: Contract, file: str, cached: dict[str, pd.Series] | None = None
) -> list[Finding]:
    findings = []
    rows = typed["source_row"]
    chain = [c for c in contract.rules.get("chronology", []) if c in typed]
    cached = cached or {}
    dates = {c: cached[c] if c in cached else parse_iso_dates(typed[c]) for c in chain}
    for a_i in range(len(chain)):
        for b in chain[a_i + 1 :]:
            a = chain[a_i]
            bad = dates[b] < dates[a]  # NaT compares False
            for idx in typed.index[bad]:
                findings.append(
                    _finding(
                        file,
                        rows,
                        idx,
                        b,
                        "chronology",
                        ERROR,
                        typed.at[idx, b],
                        f"{b} ({typed.at[idx, b]}) is before {a} "
                        f"({typed.at[idx, a]}); events must run in order.",
                    )
                )
    for outcome, date_col in contract.rules.get("outcome_needs_date", []):
        if outcome not in typed or date_col not in typed:
            continue
        has_outcome = typed[outcome].ne("") & typed[outcome].notna()
        has_date = typed[date_col].ne("")
        for idx in typed.index[has_outcome & ~has_date]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    date_col,
                    "outcome_needs_date",
                    ERROR,
                    "",
                    f"{outcome} is '{typed.at[idx, outcome]}' but {date_col} is empty.",
                )
            )
        for idx in typed.index[~has_outcome & has_date]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    outcome,
                    "date_needs_outcome",
                    ERROR,
                    typed.at[idx, date_col],
                    f"{date_col} is given but {outcome} is empty.",
                )
            )
    if {"plan_issue_date", "assessment_outcome"} <= set(typed.columns):
        issued = typed["plan_issue_date"].ne("")
        for idx in typed.index[issued & typed["assessment_outcome"].ne("issued")]:
            findings.append(
                _finding(
                    file,
                    rows,
                    idx,
                    "plan_issue_date",
                    "plan_needs_issued_outcome",
                    ERROR,
                    typed.at[idx, "plan_issue_date"],
                    "A plan issue date is given but the assessment outcome is "
                    f"'{typed.at[idx, 'assessment_outcome']}', not 'issued'.",
                )
            )
    return findings


def period_gap_rules(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    if not contract.check_period_gaps or not {
        "time_period",
        "time_identifier",
        "old_la_code",
    } <= set(typed):
        return []
    fam = typed["time_identifier"].map(_family)
    if fam.nunique() != 1:
        return []
    family = fam.iloc[0]
    year = year_of(typed["time_period"])
    if family == "month":
        step = typed["time_identifier"].map({m: i for i, m in enumerate(MONTHS)})
        index = year * 12 + step
    elif family == "quarter":
        index = year * 4 + typed["time_identifier"].str[-1].map({"1": 0, "2": 1, "3": 2, "4": 3})
    else:
        index = year
    findings = []
    for code, idxs in index.groupby(typed["old_la_code"]):
        have = set(idxs.dropna().astype(int))
        if not have:
            continue
        missing = sorted(set(range(min(have), max(have) + 1)) - have)
        if missing:
            labels = [_period_label(m, family) for m in missing]
            findings.append(
                Finding(
                    file,
                    None,
                    "time_period",
                    "period_gap",
                    WARNING,
                    str(code),
                    f"LA {code} has no rows for {len(missing)} period(s) inside "
                    f"its range: {', '.join(labels[:6])}"
                    + (" ..." if len(labels) > 6 else "")
                    + ".",
                )
            )
    return findings


def _period_label(i: int, family: str) -> str:
    if family == "month":
        return f"{MONTHS[i % 12]} {i // 12}"
    if family == "quarter":
        return f"{i // 4} Q{i % 4 + 1}"
    return str(i)


# ---- the whole validation ----------------------------------------------------------------------
def validate_frame(
    frame: pd.DataFrame, contract: Contract, file: str, geo: Geography | None = None
) -> ValidationResult:
    """Validate a text frame (with ``source_row``) against a contract."""
    from .privacy import personal_data_findings

    file = Path(file).name
    rows_in = len(frame)
    pii = personal_data_findings(frame, contract, file)
    if pii:
        quarantined = frame[["source_row"]].assign(reasons="personal data: file refused")
        return ValidationResult(
            file, contract.name, rows_in, frame.iloc[0:0], quarantined, pii, withheld_values=True
        )
    missing = [c for c in contract.required if c not in frame.columns]
    if missing:
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
        return ValidationResult(file, contract.name, rows_in, frame.iloc[0:0], q, [f])
    findings: list[Finding] = []
    if "_extra_cells" in frame:
        for idx in frame.index[frame["_extra_cells"] != ""]:
            findings.append(
                _finding(
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
    # Independent checks.  On large frames they share a two-thread pool (the heavy lifting is
    # in pyarrow and numpy, which release the GIL); findings keep a fixed order either way.
    from concurrent.futures import Future, ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2) if len(frame) >= PARALLEL_ROWS else None
    try:
        typed, symbols, parse_findings, dates = parse_frame(frame, contract, file, pool)
        findings += parse_findings
        checks = [
            lambda: column_checks(typed, contract, file),
            lambda: time_rules(typed, contract, file),
            lambda: key_rules(typed, frame, contract, file),
            lambda: ratio_rules(typed, contract, file),
        ]
        parts = [pool.submit(c) for c in checks] if pool else [c() for c in checks]
        dates = {c: d.result() if isinstance(d, Future) else d for c, d in dates.items()}
        for col, parsed in dates.items():
            findings += date_findings(frame, col, parsed, file)
        for part in parts:
            findings += part.result() if isinstance(part, Future) else part
        if contract.layout == "cases":
            findings += case_rules(typed, contract, file, dates)
    finally:
        if pool is not None:
            pool.shutdown()
    if geo is not None:
        validated = pd.Series("", index=typed.index, dtype=object)
        findings += geography_rules(typed, contract, file, geo, validated)
        typed["_la_code"] = validated
    findings += period_gap_rules(typed, contract, file)
    reasons: dict = {}
    for f in findings:
        if f.severity == ERROR and f.index is not None:
            reasons.setdefault(f.index, []).append(f"{f.rule} ({f.column})")
    if not reasons:  # nothing to quarantine: no copies of a large frame
        return ValidationResult(
            file,
            contract.name,
            rows_in,
            typed,
            frame.iloc[0:0].assign(reasons=""),
            findings,
            symbols=symbols,
        )
    is_bad = frame.index.isin(list(reasons))
    quarantined = frame[is_bad].copy()
    quarantined["reasons"] = [("; ".join(dict.fromkeys(reasons[i]))) for i in quarantined.index]
    return ValidationResult(
        file,
        contract.name,
        rows_in,
        typed[~is_bad],
        quarantined,
        findings,
        symbols=symbols[~is_bad],
    )


def validate_file(
    path: Path | str, contract: str | Contract | None = None, geo: Geography | None = None
) -> ValidationResult:
    """Read a file robustly and validate it (the contract is inferred if not given)."""
    from .readers import read_table

    path = Path(path)
    if isinstance(contract, str):
        contract = load_contract(contract)
    if (
        contract is not None
        and contract.layout == "tribunal"
        or (contract is None and _looks_like_tribunal(path))
    ):
        from .tribunal import read_tribunal

        contract = contract or load_contract("send_tribunal")
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
        return validate_frame(text, contract, path.name, geo)
    read = read_table(path)
    contract = contract or infer_contract(list(read.frame.columns))
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


def _looks_like_tribunal(path: Path) -> bool:
    try:
        head = path.read_bytes()[:400].decode("utf-8-sig", errors="ignore")
    except OSError:
        return False
    return "Appeal rate" in head and "SEND Tribunal" in head


def findings_table(results: list[ValidationResult]) -> pd.DataFrame:
    return findings_frame([f for r in results for f in r.findings])
