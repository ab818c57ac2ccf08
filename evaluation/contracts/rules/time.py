"""Time rules: time_identifier allowed by the contract, time_period width against the
time_identifier (4 digits for calendar years, months and quarters, 6 for academic and financial
years), and one time-identifier family per file.  Also the helpers the period-gap rule shares:
the family of an identifier and the calendar year of a time_period."""

from __future__ import annotations

import pandas as pd

from evaluation.contracts.parse import row_finding
from evaluation.contracts.spec import FOUR_DIGIT, MONTHS, SIX_DIGIT, Contract
from evaluation.findings import ERROR, Finding


def time_family(identifier: str) -> str:
    """month, quarter, year, six-digit (academic, financial, tax years and terms) or unknown."""
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
    return [
        *_identifier_allowed(typed, contract, file),
        *_period_width(typed, file),
        *_one_family(typed, file),
    ]


def _identifier_finding(file, rows, idx, rule: str, value, message: str) -> Finding:
    return row_finding(file, rows, idx, "time_identifier", rule, ERROR, value, message)


def _identifier_allowed(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    """time_identifier_allowed: identifiers the contract does not list (if it lists any)."""
    ti, rows = typed["time_identifier"], typed["source_row"]
    allowed = set(contract.time_identifiers)
    return [
        _identifier_finding(
            file,
            rows,
            idx,
            "time_identifier_allowed",
            ti[idx],
            f"'{ti[idx]}' is not a time identifier this "
            f"contract accepts ({', '.join(sorted(allowed))}).",
        )
        for idx in (ti.index[~ti.isin(list(allowed))] if allowed else [])
    ]


def _period_width(typed: pd.DataFrame, file: str) -> list[Finding]:
    """time_period_width: a digits-only time_period of the wrong width for its identifier."""
    tp, ti, rows = typed["time_period"], typed["time_identifier"], typed["source_row"]
    width = tp.str.len()
    four = ti.isin(list(FOUR_DIGIT))
    six = ti.isin(list(SIX_DIGIT))
    wrong = (four & (width != 4)) | (six & (width != 6))
    findings = []
    for idx in tp.index[wrong & tp.str.match(r"^\d+$")]:
        need = 4 if four[idx] else 6
        findings.append(
            row_finding(
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
    return findings


def _one_family(typed: pd.DataFrame, file: str) -> list[Finding]:
    """one_time_family: rows whose identifier is not of the file's most common family."""
    ti, rows = typed["time_identifier"], typed["source_row"]
    families = ti.map(time_family)
    known = families[families != "unknown"]
    if known.nunique() <= 1:
        return []
    main = known.value_counts().idxmax()
    return [
        _identifier_finding(
            file,
            rows,
            idx,
            "one_time_family",
            ti[idx],
            f"This file mixes time identifier families; most "
            f"rows are {main} data, this row is {families[idx]} data.",
        )
        for idx in known.index[known != main]
    ]
