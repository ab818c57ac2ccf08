"""Data contracts: validate every input against ``data_contracts/*.yaml``, quarantine bad rows,
lose nothing.

A contract is readable YAML that doubles as the data dictionary (title, description, type, unit,
allowed values, missing-value symbols with their meanings, keys).  Validation runs in three
steps, each producing :class:`~evaluation.findings.Finding` records that name file, line,
column, rule and severity:

1. **parse**: each cell is a value of the column's type or one of *this source's* symbols;
2. **column checks** with pandera (types, ranges, allowed values, patterns, required values),
   built from the YAML.  Every check is a function of the cell value alone, so columns whose
   values repeat (categories, codes, dates) are hash-encoded once and checked on their distinct
   values, failures spread back to the rows that hold them; free text (such as case_id) is
   checked row by row.  Findings are the same, in the same order, either way;
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

from evaluation.config import PROJECT_ROOT, read_yaml
from evaluation.findings import ERROR, WARNING, Finding, findings_frame
from evaluation.io.geography import Geography

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
        raw = read_yaml(path.read_text(encoding="utf-8"))
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


@dataclass
class Encoded:
    """A text column as integer codes into its distinct values (hash encoding).

    Checks whose outcome depends on the cell value alone run once per distinct value and are
    spread back to the rows through ``codes``: a column of a million dates has a few hundred
    distinct values.  ``parsed`` holds, for a date column, each distinct value parsed strictly
    (NaT when it is not a real YYYY-MM-DD date)."""

    codes: np.ndarray  # one per row: position of the row's value in ``values``
    values: np.ndarray  # the distinct values (object array of str), in order of first appearance
    parsed: np.ndarray | None = None  # datetime64[D] per distinct value (date columns)

    def __len__(self) -> int:
        return len(self.codes)

    def rows(self, hit: np.ndarray) -> np.ndarray:
        """Positions of the rows whose value is flagged in ``hit`` (a mask over ``values``)."""
        return np.flatnonzero(hit[self.codes])

    def mask(self, hit: np.ndarray) -> np.ndarray:
        """Row mask from a mask over the distinct values."""
        return hit[self.codes]

    def dates(self) -> np.ndarray:
        """datetime64[D] per row (NaT for blanks and non-dates)."""
        return self.parsed[self.codes]

    def take(self, keep: np.ndarray) -> Encoded:
        """The encoding of a subset of rows (boolean mask or positions): only the values those
        rows hold remain."""
        codes = self.codes[keep]
        present = np.zeros(len(self.values), dtype=bool)
        present[codes] = True
        if present.all():
            return Encoded(codes, self.values, self.parsed)
        position = (np.cumsum(present) - 1).astype(codes.dtype)
        parsed = self.parsed[present] if self.parsed is not None else None
        return Encoded(position[codes], self.values[present], parsed)

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        """One encoding for rows stacked in order (distinct values merged)."""
        if len(parts) == 1:
            return parts[0]
        values = pd.unique(np.concatenate([p.values for p in parts]))
        values = np.asarray(values, dtype=object)
        position = {v: i for i, v in enumerate(values)}
        dtype = _code_dtype(len(values))
        codes = np.concatenate(
            [np.array([position[v] for v in p.values], dtype=dtype)[p.codes] for p in parts]
        )
        parsed = None
        if all(p.parsed is not None for p in parts):
            parsed = np.empty(len(values), dtype="datetime64[D]")
            for p in parts:
                parsed[[position[v] for v in p.values]] = p.parsed
        return Encoded(codes, values, parsed)


def encode(text: pd.Series, *, dates: bool = False) -> Encoded | None:
    """Hash-encode a text column (pyarrow ``dictionary_encode``; pandas ``factorize`` for other
    storage).  None when a cell is missing (NA): such a column is checked row by row.  With
    ``dates``, each distinct value is also parsed strictly as YYYY-MM-DD."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = values = None
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        arr = pa.array(text)  # the column's own Arrow data (no copy; may be chunked)
        if arr.null_count:
            return None
        if len(arr):
            enc = pc.dictionary_encode(arr)  # chunks share the final dictionary
            chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
            chunks = [c for c in chunks if len(c)]
            values = np.asarray(chunks[0].dictionary.to_numpy(zero_copy_only=False), dtype=object)
            dtype = _code_dtype(len(values))
            codes = np.concatenate(
                [c.indices.to_numpy(zero_copy_only=False).astype(dtype) for c in chunks]
            )
    if codes is None:
        factor, uniques = pd.factorize(text.to_numpy(dtype=object))
        if (factor < 0).any():
            return None
        values = np.asarray(uniques, dtype=object)
        codes = factor.astype(_code_dtype(len(values)))
    return Encoded(codes, values, _strict_iso(values) if dates else None)


def _code_dtype(n_values: int):
    """The smallest integer type for codes into ``n_values`` distinct values."""
    return np.uint8 if n_values <= 256 else np.uint16 if n_values <= 65536 else np.int32


def date_findings(frame: pd.DataFrame, col: str, parsed, file: str) -> list[Finding]:
    """iso_date findings: non-empty cells that are not real YYYY-MM-DD dates.  ``parsed`` is
    the column's :class:`Encoded` (or a datetime64 array per row)."""
    text = frame[col]
    if isinstance(parsed, Encoded):
        bad_positions = parsed.rows((parsed.values != "") & np.isnat(parsed.parsed))
    else:
        bad_positions = np.flatnonzero((text != "").to_numpy(dtype=bool) & np.isnat(parsed))
    return [
        _finding(
            file, frame["source_row"], idx, col, "iso_date", ERROR, text[idx], MESSAGES["iso_date"]
        )
        for idx in text.index[bad_positions]
    ]


def parse_iso_dates(text: pd.Series) -> np.ndarray:
    """YYYY-MM-DD text -> datetime64[D] array (NaT for blanks and impossible dates such as
    2024-02-30).

    Dates repeat a lot (a few hundred distinct days in a million records), so only the distinct
    strings are parsed, strictly, and the result is spread back by index."""
    enc = encode(text.fillna("") if text.hasnans else text, dates=True)
    return enc.dates()


def _label(idx):
    """A row's index label as a plain Python value."""
    return idx.item() if isinstance(idx, np.generic) else idx


def _finding(file, rows, idx, column, rule, severity, value, message) -> Finding:
    return Finding(file, int(rows[idx]), column, rule, severity, str(value), message, index=idx)


def _resolve(x):
    """The value of a future (checks on a pool), or the value itself."""
    from concurrent.futures import Future

    return x.result() if isinstance(x, Future) else x


def _parse_dates(text: pd.Series) -> Encoded | np.ndarray:
    """A date column's encoding with its distinct values parsed (a per-row array if the column
    has missing cells and so cannot be encoded)."""
    enc = encode(text, dates=True)
    return enc if enc is not None else parse_iso_dates(text)


def parse_frame(
    frame: pd.DataFrame,
    contract: Contract,
    file: str,
    pool=None,
    encoded: dict | None = None,
    *,
    parse_dates: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding], dict]:
    """Typed frame, symbols frame, parse findings and parsed date columns (per date column its
    :class:`Encoded` with the distinct values parsed, or a future of it when ``pool`` is given).
    ``encoded`` may hold date columns' encodings (or futures of them) already under way; with
    ``parse_dates`` False the caller parses the date columns (none are returned)."""
    rows = frame["source_row"]
    typed_cols: dict[str, pd.Series] = {"source_row": rows}
    symbol_cols: dict[str, pd.Series] = {}
    dates: dict = {}
    findings: list[Finding] = []
    syms = contract.missing_symbols
    extra_kind = {"number_or_symbol": "number", "count_or_symbol": "count"}.get(
        contract.extra_columns or "", "text"
    )
    date_cols = [c for c, spec in contract.columns.items() if spec.type == "date" and c in frame]
    if not parse_dates:
        date_cols = []
    pre_parsed = dict(encoded or {})
    for c in date_cols:
        if pre_parsed.get(c) is None:  # parse on the pool while the caller starts other checks
            pre_parsed[c] = pool.submit(_parse_dates, frame[c]) if pool else _parse_dates(frame[c])
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
            if parse_dates:
                dates[col] = pre_parsed[col]  # parsed, or a future when parsing on a pool
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
    # no copies: the columns are the frame's text (copy-on-write keeps the frame unchanged)
    typed = pd.DataFrame(typed_cols, index=frame.index, copy=False)
    symbols = pd.DataFrame(symbol_cols, index=frame.index, copy=False)
    if pool is None:
        dates = {c: _resolve(d) for c, d in dates.items()}
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


def column_checks(
    typed: pd.DataFrame,
    contract: Contract,
    file: str,
    encoded: dict | None = None,
    pool=None,
) -> list[Finding]:
    """pandera column checks (types, ranges, allowed values, patterns, required values).

    Every check the schema holds is a function of the cell value alone, so for a column given
    in ``encoded`` (its :class:`Encoded`, or a future of it) the column's pandera checks run on
    its distinct values and each failure is spread back to the rows holding that value; other
    columns are checked row by row (on ``pool`` if given).  Findings come in pandera's order
    either way: by column, then check, then row."""
    encoded = encoded or {}
    started = _start_column_checks(typed, contract, file, set(encoded), pool)
    return _finish_column_checks(started, encoded)


def _start_column_checks(typed, contract, file, distinct: set, pool) -> tuple:
    """Build the schema and start the row-by-row checks of the columns not in ``distinct``."""
    import pandera.pandas as pa

    cols = [c for c in typed.columns if c != "source_row"]
    schema = pandera_schema(contract, cols)
    distinct = [n for n in schema.columns if n in distinct]

    def row_by_row(names: list[str]) -> list[Finding]:
        if not names:
            return []
        sub = pa.DataFrameSchema({n: schema.columns[n] for n in names}, strict=False)
        return _pandera_findings(sub, typed[names], typed, contract, file)

    full = [n for n in schema.columns if n not in distinct]
    job = pool.submit(row_by_row, full) if pool is not None else None
    return typed, contract, file, schema, distinct, full, job, row_by_row


def _distinct_column_checks(started: tuple, encoded: dict) -> dict[str, list[Finding]]:
    """Check the encoded columns on their distinct values, each as soon as it is encoded."""
    typed, contract, file, schema, distinct, full, job, row_by_row = started
    by_column: dict[str, list[Finding]] = {}
    for name in distinct:
        enc = _resolve(encoded[name])  # encodings may still be under way on the pool
        if isinstance(enc, Encoded) and len(enc) == len(typed):
            findings = _distinct_findings(schema.columns[name], name, enc, typed, contract, file)
        else:  # a column with missing cells is not encoded
            findings = row_by_row([name])
        by_column[name] = findings
    return by_column


def _finish_column_checks(started: tuple, encoded: dict, by_column: dict | None = None):
    """All column findings in pandera's order (distinct-value ones computed if not given)."""
    typed, contract, file, schema, distinct, full, job, row_by_row = started
    if by_column is None:
        by_column = _distinct_column_checks(started, encoded)
    for f in job.result() if job is not None else row_by_row(full):
        by_column.setdefault(f.column, []).append(f)
    return [f for name in schema.columns for f in by_column.get(name, [])]


def _distinct_findings(
    column, name: str, enc: Encoded, typed: pd.DataFrame, contract: Contract, file: str
) -> list[Finding]:
    """One pandera column's checks on the distinct values of an encoded column, failures
    spread back to rows (check by check, rows in order, as pandera reports them)."""
    import pandera.pandas as pa

    values = pd.DataFrame({name: pd.array(enc.values, dtype=typed[name].dtype)})
    try:
        pa.DataFrameSchema({name: column}, strict=False).validate(values, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    failing: dict = {}  # check -> positions of the distinct values that fail it
    for case in cases.itertuples(index=False):
        idx = case.index
        if idx is None or (isinstance(idx, float) and np.isnan(idx)):
            continue
        failing.setdefault((case.check_number, str(case.check)), []).append(int(idx))
    spec = contract.columns.get(name)
    allowed = ", ".join(repr(a) for a in (spec.allowed if spec else ()))
    source_rows = typed["source_row"].to_numpy()
    findings = []
    for (_, rule), positions in failing.items():
        hit = np.zeros(len(enc.values), dtype=bool)
        hit[positions] = True
        msg = MESSAGES.get(rule, f"Check {rule} failed.").format(allowed=allowed)
        for i in enc.rows(hit):
            value = enc.values[enc.codes[i]]
            findings.append(
                Finding(
                    file,
                    int(source_rows[i]),
                    name,
                    rule,
                    ERROR,
                    "" if pd.isna(value) else str(value),
                    msg,
                    index=_label(typed.index[i]),
                )
            )
    return findings


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
    """Are all values distinct?  Exact, and cheap in the usual cases:

    * values that arrive strictly increasing (an extract sorted by its key) are distinct: one
      vectorised comparison of each value with the next;
    * values of one fixed width (pseudonyms usually are) are packed into 64-bit words and
      hashed; distinct hashes prove distinct values (only a hash collision, about 1 in 10^7
      for a million keys, falls through to the exact test);
    * otherwise pyarrow counts the distinct values in a hash table (pandas without pyarrow).
    """
    n = len(values)
    if n < 2:
        return True
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return bool(values.is_unique)
    try:
        arr = pa.array(values, from_pandas=True)
        if arr.null_count:
            return bool(values.is_unique)
        if pc.all(pc.less(arr.slice(0, n - 1), arr.slice(1))).as_py():
            return True
        hashes = _fixed_width_hashes(arr)
        if hashes is not None:
            hashes.sort()
            if not (hashes[1:] == hashes[:-1]).any():
                return True
        return len(pc.unique(arr)) == n
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # values Arrow cannot hold as one array (e.g. mixed types): pandas' exact check
        return bool(values.is_unique)


def _fixed_width_hashes(arr) -> np.ndarray | None:
    """64-bit hashes of the values of a string array (or chunked array) whose values all have
    the same byte length (at most 64), computed from its data buffers chunk by chunk; None
    otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    lengths = pc.min_max(pc.binary_length(arr))
    width = lengths["min"].as_py()
    if width is None or width != lengths["max"].as_py() or not 0 < width <= 64:
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    h = np.zeros(len(arr), dtype=np.uint64)
    done = 0
    for chunk in chunks:
        n = len(chunk)
        if not n:
            continue
        first = int(np.frombuffer(chunk.buffers()[1], dtype=offset_type)[chunk.offset])
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        cells = data[first : first + width * n].reshape(n, width)
        for lo in range(0, n, ROW_BLOCK):  # in blocks of rows: small temporaries
            block = cells[lo : lo + ROW_BLOCK]
            words = np.zeros((len(block), -(-width // 8) * 8), dtype=np.uint8)
            words[:, :width] = block
            words = words.view(np.uint64)
            hb = h[done + lo : done + lo + len(block)]
            for j in range(words.shape[1]):  # a multiply-xorshift mix per 8-byte word
                hb ^= words[:, j]
                hb *= np.uint64(0x9E3779B97F4A7C15)
                hb ^= hb >> np.uint64(31)
        done += n
    return h


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
    encoded: dict | None = None,
) -> list[Finding]:
    """(name, code[, GSS]) pairs against the LA lookup, once per distinct combination.
    Validated 3-digit codes (errata corrected) are written into ``validated``.  For case
    records, LA codes are looked up once per distinct code when ``encoded`` holds la_code."""
    if validated is None:
        validated = pd.Series("", index=typed.index, dtype=object)
    findings = []
    rows = typed["source_row"]
    if contract.layout == "cases":
        if "la_code" not in typed:
            return []
        codes = set(geo.lookup["old_la_code"])
        enc = (encoded or {}).get("la_code")
        if isinstance(enc, Encoded) and len(enc) == len(typed):
            unknown = ~np.isin(enc.values, list(codes)) & (enc.values != "")
            bad = typed.index[enc.rows(unknown)]
        else:
            bad = typed.index[~typed["la_code"].isin(list(codes)) & typed["la_code"].ne("")]
        for idx in bad:
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


NO_DAY = np.iinfo(np.int32).max  # a date that is missing or not a date, as a day number


ROW_BLOCK = 1 << 16  # rows per block where a rule compares columns row by row


def _day_table(parsed) -> tuple[np.ndarray | None, np.ndarray]:
    """(codes, days since 1970-01-01 per distinct value) of a date column's :class:`Encoded`,
    or (None, days per row) of a per-row datetime64 array; int32, :data:`NO_DAY` for NaT."""
    values = parsed.parsed if isinstance(parsed, Encoded) else np.asarray(parsed)
    values = values.astype("datetime64[D]")
    days = np.where(np.isnat(values), NO_DAY, values.astype(np.int64)).astype(np.int32)
    return (parsed.codes, days) if isinstance(parsed, Encoded) else (None, days)


def case_rules(
    typed: pd.DataFrame, contract: Contract, file: str, cached: dict | None = None
) -> list[Finding]:
    """Chronology, outcome <-> date and plan <-> issued rules of case-level records.
    ``cached``: per column its :class:`Encoded` (dates parsed), or a parsed date array; both
    spare a second pass over the text."""
    findings = []
    rows = typed["source_row"]
    chain = [c for c in contract.rules.get("chronology", []) if c in typed]
    cached = {c: e for c, e in (cached or {}).items() if e is not None and len(e) == len(typed)}
    tables = {c: _day_table(cached[c] if c in cached else parse_iso_dates(typed[c])) for c in chain}

    def nonempty(col: str, value: str = "") -> np.ndarray:
        """Row mask: the cell differs from ``value`` (and is not missing)."""
        enc = cached.get(col)
        if isinstance(enc, Encoded):
            return enc.mask(enc.values != value)
        s = typed[col]
        return (s.ne(value) & s.notna()).to_numpy(dtype=bool)

    # each pair of the chain, in blocks of rows (small temporaries); a missing date is never
    # out of order
    pairs = [(chain[i], b) for i in range(len(chain)) for b in chain[i + 1 :]]
    out_of_order: dict = {pair: [] for pair in pairs}
    for lo in range(0, len(typed), ROW_BLOCK):
        block = slice(lo, lo + ROW_BLOCK)
        days = {
            c: per_value[codes[block]] if codes is not None else per_value[block]
            for c, (codes, per_value) in tables.items()
        }
        for a, b in pairs:
            bad = np.flatnonzero((days[b] < days[a]) & (days[a] != NO_DAY))
            if len(bad):
                out_of_order[(a, b)].append(bad + lo)
    del tables
    for (a, b), blocks in out_of_order.items():
        if blocks:
            for idx in typed.index[np.concatenate(blocks)]:
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
        has_outcome = nonempty(outcome)
        has_date = (
            nonempty(date_col)
            if isinstance(cached.get(date_col), Encoded)
            else typed[date_col].ne("").to_numpy(dtype=bool)
        )
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
        plan, outcome = cached.get("plan_issue_date"), cached.get("assessment_outcome")
        issued = (
            nonempty("plan_issue_date")
            if isinstance(plan, Encoded)
            else typed["plan_issue_date"].ne("").to_numpy(dtype=bool)
        )
        not_issued = (
            outcome.mask(outcome.values != "issued")
            if isinstance(outcome, Encoded)
            else typed["assessment_outcome"].ne("issued").to_numpy(dtype=bool)
        )
        for idx in typed.index[issued & not_issued]:
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


def _release_arrow_memory() -> None:
    """Return memory Arrow's allocator holds but no longer uses to the system."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - older pyarrow
        pass


# Column types whose values repeat (a few distinct values in many rows): hash-encoded once.
ENCODED_TYPES = {"category", "flag", "la_code", "gss", "period", "time_identifier", "date"}


def _encoded_columns(frame: pd.DataFrame, contract: Contract) -> list[str]:
    return [c for c, spec in contract.columns.items() if c in frame and spec.type in ENCODED_TYPES]


# ---- the whole validation ----------------------------------------------------------------------
def validate_frame(
    frame: pd.DataFrame, contract: Contract, file: str, geo: Geography | None = None
) -> ValidationResult:
    """Validate a text frame (with ``source_row``) against a contract."""
    from evaluation.contracts.privacy import personal_data_findings

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
    # Columns whose values repeat (categories, codes, dates) are hash-encoded once: the column
    # checks, date parsing, case rules, LA lookup and the case-level ingest use the encodings.
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2) if len(frame) >= PARALLEL_ROWS else None
    run = pool.submit if pool is not None else (lambda fn, *args: fn(*args))
    try:
        typed, symbols, parse_findings, _ = parse_frame(frame, contract, file, parse_dates=False)
        findings += parse_findings
        to_encode = _encoded_columns(frame, contract)
        # the longest jobs first: row-by-row column checks (free text such as case_id), keys
        started = _start_column_checks(typed, contract, file, set(to_encode), pool)
        checks = [
            run(time_rules, typed, contract, file),
            run(key_rules, typed, frame, contract, file),
            run(ratio_rules, typed, contract, file),
        ]
        jobs = {}
        for col in to_encode:
            fn = _parse_dates if contract.columns[col].type == "date" else encode
            jobs[col] = run(fn, frame[col])
        by_column = _distinct_column_checks(started, jobs)  # as the encodings arrive
        encoded = {c: _resolve(j) for c, j in jobs.items()}
        for col in to_encode:
            if contract.columns[col].type == "date":
                findings += date_findings(frame, col, encoded[col], file)
        rules = case_rules(typed, contract, file, encoded) if contract.layout == "cases" else []
        findings += _finish_column_checks(started, encoded, by_column)
        for part in checks:
            findings += _resolve(part)
        findings += rules
    finally:
        if pool is not None:
            pool.shutdown()
            _release_arrow_memory()  # the checks' freed Arrow buffers go back to the system
    encoded = {c: e for c, e in encoded.items() if isinstance(e, Encoded)}
    if geo is not None:
        validated = pd.Series("", index=typed.index, dtype=object)
        findings += geography_rules(typed, contract, file, geo, validated, encoded)
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
            encoded=encoded,
        )
    if frame.index.is_unique:  # (a RangeIndex knows without looking)
        is_bad = np.zeros(len(frame), dtype=bool)
        is_bad[frame.index.get_indexer(list(reasons))] = True
    else:
        is_bad = frame.index.isin(list(reasons))
    quarantined = _take_rows(frame, np.flatnonzero(is_bad))
    quarantined["reasons"] = [("; ".join(dict.fromkeys(reasons[i]))) for i in quarantined.index]
    kept_index = typed.index[~is_bad]
    return ValidationResult(
        file,
        contract.name,
        rows_in,
        _keep_rows(typed, ~is_bad, kept_index),
        quarantined,
        findings,
        symbols=_keep_rows(symbols, ~is_bad, kept_index),
        encoded={c: e.take(~is_bad) for c, e in encoded.items()},
    )


MAX_SLICES = 10_000  # dropped rows up to which kept text columns are slices, not copies


def _is_arrow_text(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"


def _chunks(col: pd.Series):
    """The Arrow chunked array behind an Arrow-backed text column (no copy)."""
    import pyarrow as pa

    data = pa.array(col)
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def _take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """``frame.iloc[positions].copy()`` for a few rows of a large frame: Arrow-backed text columns
    take from each chunk separately (a take from the whole chunked column would first
    concatenate it, copying every row)."""
    import pyarrow as pa

    index = frame.index[positions]
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if _is_arrow_text(col):
            data = _chunks(col)
            starts = np.cumsum([0] + [len(c) for c in data.chunks])
            chunk_of = np.searchsorted(starts, positions, side="right") - 1
            pieces = [
                data.chunk(k).take(pa.array(positions[chunk_of == k] - starts[k]))
                for k in dict.fromkeys(chunk_of.tolist())
            ]
            taken = pa.chunked_array(pieces, type=data.type)
            array = pd.arrays.ArrowStringArray(taken, dtype=col.dtype)
            columns[name] = pd.Series(array, index=index, copy=False)
        else:
            columns[name] = pd.Series(col.array[positions], index=index, dtype=col.dtype)
    return pd.DataFrame(columns, index=index, columns=frame.columns, copy=False)


def _keep_rows(frame: pd.DataFrame, keep: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """``frame[keep]`` (``index`` is ``frame.index[keep]``).  When few rows are dropped
    (quarantined), each Arrow-backed text column is rebuilt from zero-copy slices of the runs of
    kept rows: a copy of a million rows of text would double the memory a large file needs for
    the sake of a few bad rows."""
    dropped = np.flatnonzero(~keep)
    if not 0 < len(dropped) <= MAX_SLICES:
        return frame[keep]
    import pyarrow as pa

    starts = np.concatenate([[0], dropped + 1])
    ends = np.concatenate([dropped, [len(frame)]])
    runs = [(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True) if b > a]
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if _is_arrow_text(col):
            data = _chunks(col)
            pieces = [c for a, n in runs for c in data.slice(a, n).chunks]
            kept = pa.chunked_array(pieces, type=data.type)
            columns[name] = pd.Series(
                pd.arrays.ArrowStringArray(kept, dtype=col.dtype), index=index, copy=False
            )
        else:
            columns[name] = pd.Series(col.array[keep], index=index, dtype=col.dtype, copy=False)
    return pd.DataFrame(columns, index=index, columns=frame.columns, copy=False)


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
        from evaluation.io.tribunal import read_tribunal

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
