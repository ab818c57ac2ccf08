"""Column checks, the second step of validation: pandera checks built from the contract.

Types, ranges, allowed values, patterns and required values.  Every check is a function of the
cell value alone, so a column whose values repeat (categories, codes, dates: hash-encoded in
:mod:`evaluation.contracts.parse`) is checked once per distinct value and each failure is spread
back to the rows that hold it; free text (such as case_id) is checked row by row.  Findings are
the same, in the same order (by column, then check, then row), either way.  Dates are parsed in
the parse step; their ``iso_date`` findings are made here (:func:`date_findings`).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.contracts.parse import Encoded, resolve, row_finding
from evaluation.contracts.spec import EES_TEXT_COLUMNS, ColumnSpec, Contract
from evaluation.findings import ERROR, Finding

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


# ---- the schema --------------------------------------------------------------------------------
def pandera_schema(contract: Contract, columns: list[str]):
    """pandera schema for the typed frame, built from the contract's column specs."""
    import pandera.pandas as pa

    checks = {}
    for name in columns:
        spec = contract.columns.get(name)
        if spec is not None:
            checks[name] = _declared_column(pa, spec)
        elif name not in EES_TEXT_COLUMNS:
            extra = _extra_column(pa, contract)
            if extra is not None:
                checks[name] = extra
    return pa.DataFrameSchema(checks, strict=False)


def _extra_column(pa, contract: Contract):
    """The checks of a column the contract does not declare (None: not checked)."""
    if contract.extra_columns not in {"number_or_symbol", "count_or_symbol"}:
        return None
    c = [pa.Check.ge(0, error="non_negative")]
    if contract.extra_columns == "count_or_symbol":
        c.append(pa.Check(lambda s: s % 1 == 0, element_wise=False, error="integer"))
    return pa.Column("Float64", c, nullable=True, required=False)


def _declared_column(pa, spec: ColumnSpec):
    """A declared column's checks: its type's, its pattern's, and required_value if needed."""
    c, dtype, rejects_empty = _type_checks(pa, spec)
    nullable = not spec.required
    req = spec.required
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
    return pa.Column(dtype, c, nullable=True if dtype != "str" else nullable, required=False)


def _type_checks(pa, spec: ColumnSpec) -> tuple[list, str, bool]:
    """(checks, pandera dtype, whether the checks already reject an empty cell) of a column's
    type.  For required text columns the format check itself rejects "", so each column is
    scanned once (large files); a separate required_value check runs only where needed."""
    c: list = []
    dtype = "str"
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
            pa.Check.str_matches(r"^(\d{3}|z)$" if req else r"^(\d{3}|z|)$", error="la_code_format")
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
        pass  # parsed once in the parse step (iso_date findings: date_findings)
    elif spec.type == "period":
        c.append(pa.Check.str_matches(r"^\d{4}(\d{2})?$", error="period_format"))
        rejects_empty = True
    return c, dtype, rejects_empty


def _message(rule: str, contract: Contract, column: str) -> str:
    """The message of a failed check (allowed values filled in)."""
    spec = contract.columns.get(column)
    allowed = ", ".join(repr(a) for a in (spec.allowed if spec else ()))
    return MESSAGES.get(rule, f"Check {rule} failed.").format(allowed=allowed)


# ---- running the checks ------------------------------------------------------------------------
class StartedColumnChecks(NamedTuple):
    """Column checks under way: the schema, which columns are checked on their distinct values
    (``distinct``) and which row by row (``full``, on the pool as ``job`` if there is one)."""

    typed: pd.DataFrame
    contract: Contract
    file: str
    schema: Any
    distinct: list[str]
    full: list[str]
    job: Any
    row_by_row: Any


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
    started = start_column_checks(typed, contract, file, set(encoded), pool)
    return finish_column_checks(started, encoded)


def start_column_checks(typed, contract, file, distinct: set, pool) -> StartedColumnChecks:
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
    return StartedColumnChecks(typed, contract, file, schema, distinct, full, job, row_by_row)


def distinct_column_checks(started: StartedColumnChecks, encoded: dict) -> dict[str, list[Finding]]:
    """Check the encoded columns on their distinct values, each as soon as it is encoded."""
    typed, contract, file, schema, distinct, full, job, row_by_row = started
    by_column: dict[str, list[Finding]] = {}
    for name in distinct:
        enc = resolve(encoded[name])  # encodings may still be under way on the pool
        if isinstance(enc, Encoded) and len(enc) == len(typed):
            findings = _distinct_findings(schema.columns[name], name, enc, typed, contract, file)
        else:  # a column with missing cells is not encoded
            findings = row_by_row([name])
        by_column[name] = findings
    return by_column


def finish_column_checks(
    started: StartedColumnChecks, encoded: dict, by_column: dict | None = None
) -> list[Finding]:
    """All column findings in pandera's order (distinct-value ones computed if not given)."""
    typed, contract, file, schema, distinct, full, job, row_by_row = started
    if by_column is None:
        by_column = distinct_column_checks(started, encoded)
    for f in job.result() if job is not None else row_by_row(full):
        by_column.setdefault(f.column, []).append(f)
    return [f for name in schema.columns for f in by_column.get(name, [])]


def _failure_cases(schema, frame: pd.DataFrame):
    """pandera's failure cases of a lazy validation (None when every check passes)."""
    import pandera.pandas as pa

    try:
        schema.validate(frame, lazy=True)
        return None
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases


def _label(idx):
    """A row's index label as a plain Python value."""
    return idx.item() if isinstance(idx, np.generic) else idx


def _has_row(idx) -> bool:
    """Does a failure case point at a row (not at the column as a whole)?"""
    return not (idx is None or (isinstance(idx, float) and np.isnan(idx)))


def _distinct_findings(
    column, name: str, enc: Encoded, typed: pd.DataFrame, contract: Contract, file: str
) -> list[Finding]:
    """One pandera column's checks on the distinct values of an encoded column, failures
    spread back to rows (check by check, rows in order, as pandera reports them)."""
    import pandera.pandas as pa

    values = pd.DataFrame({name: pd.array(enc.values, dtype=typed[name].dtype)})
    cases = _failure_cases(pa.DataFrameSchema({name: column}, strict=False), values)
    if cases is None:
        return []
    failing: dict = {}  # check -> positions of the distinct values that fail it
    for case in cases.itertuples(index=False):
        if _has_row(case.index):
            failing.setdefault((case.check_number, str(case.check)), []).append(int(case.index))
    source_rows = typed["source_row"].to_numpy()
    findings = []
    for (_, rule), positions in failing.items():
        hit = np.zeros(len(enc.values), dtype=bool)
        hit[positions] = True
        msg = _message(rule, contract, name)
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
    cases = _failure_cases(schema, frame)
    if cases is None:
        return []
    findings = []
    for case in cases.itertuples(index=False):
        idx = case.index
        if not _has_row(idx):
            continue
        rule = str(case.check)
        col = str(case.column)
        msg = _message(rule, contract, col)
        value = frame.at[idx, col] if col in frame.columns else case.failure_case
        row = int(typed.at[idx, "source_row"]) if typed is not None else 0
        findings.append(
            Finding(
                file, row, col, rule, ERROR, "" if pd.isna(value) else str(value), msg, index=idx
            )
        )
    return findings


def date_findings(frame: pd.DataFrame, col: str, parsed, file: str) -> list[Finding]:
    """iso_date findings: non-empty cells that are not real YYYY-MM-DD dates.  ``parsed`` is
    the column's :class:`Encoded` (or a datetime64 array per row)."""
    text = frame[col]
    if isinstance(parsed, Encoded):
        bad_positions = parsed.rows((parsed.values != "") & np.isnat(parsed.parsed))
    else:
        bad_positions = np.flatnonzero((text != "").to_numpy(dtype=bool) & np.isnat(parsed))
    return [
        row_finding(
            file, frame["source_row"], idx, col, "iso_date", ERROR, text[idx], MESSAGES["iso_date"]
        )
        for idx in text.index[bad_positions]
    ]
