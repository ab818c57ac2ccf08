"""Case rules (case-level records): the dates of a case run in order along the contract's
``chronology`` chain, an outcome has its date and a date its outcome (``outcome_needs_date``),
and a plan issue date comes only with the assessment outcome 'issued'.

Date columns arrive hash-encoded with their distinct values parsed (:class:`Encoded`), so the
chain is compared as int32 day numbers, in blocks of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.contracts.parse import Encoded, parse_iso_dates, row_finding
from evaluation.contracts.spec import ROW_BLOCK, Contract
from evaluation.findings import ERROR, Finding

NO_DAY = np.iinfo(np.int32).max  # a date that is missing or not a date, as a day number


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
    chain = [c for c in contract.rules.get("chronology", []) if c in typed]
    cached = {c: e for c, e in (cached or {}).items() if e is not None and len(e) == len(typed)}
    findings = _chronology(typed, chain, cached, file)
    for outcome, date_col in contract.rules.get("outcome_needs_date", []):
        if outcome in typed and date_col in typed:
            findings += _outcome_needs_date(typed, cached, outcome, date_col, file)
    if {"plan_issue_date", "assessment_outcome"} <= set(typed.columns):
        findings += _plan_needs_issued_outcome(typed, cached, file)
    return findings


def _nonempty(typed: pd.DataFrame, cached: dict, col: str, value: str = "") -> np.ndarray:
    """Row mask: the cell differs from ``value`` (and is not missing)."""
    enc = cached.get(col)
    if isinstance(enc, Encoded):
        return enc.mask(enc.values != value)
    s = typed[col]
    return (s.ne(value) & s.notna()).to_numpy(dtype=bool)


def _has_date(typed: pd.DataFrame, cached: dict, col: str) -> np.ndarray:
    """Row mask: the date cell is not empty."""
    if isinstance(cached.get(col), Encoded):
        return _nonempty(typed, cached, col)
    return typed[col].ne("").to_numpy(dtype=bool)


def _chronology(typed: pd.DataFrame, chain: list[str], cached: dict, file: str) -> list[Finding]:
    """chronology: a later date of the chain before an earlier one.  Each pair of the chain is
    compared in blocks of rows (small temporaries); a missing date is never out of order."""
    rows = typed["source_row"]
    tables = {c: _day_table(cached[c] if c in cached else parse_iso_dates(typed[c])) for c in chain}
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
    findings = []
    for (a, b), blocks in out_of_order.items():
        if blocks:
            for idx in typed.index[np.concatenate(blocks)]:
                findings.append(
                    row_finding(
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
    return findings


def _outcome_needs_date(
    typed: pd.DataFrame, cached: dict, outcome: str, date_col: str, file: str
) -> list[Finding]:
    """outcome_needs_date and date_needs_outcome: an outcome without its date, and back."""
    rows = typed["source_row"]
    has_outcome = _nonempty(typed, cached, outcome)
    has_date = _has_date(typed, cached, date_col)
    findings = [
        row_finding(
            file,
            rows,
            idx,
            date_col,
            "outcome_needs_date",
            ERROR,
            "",
            f"{outcome} is '{typed.at[idx, outcome]}' but {date_col} is empty.",
        )
        for idx in typed.index[has_outcome & ~has_date]
    ]
    findings += [
        row_finding(
            file,
            rows,
            idx,
            outcome,
            "date_needs_outcome",
            ERROR,
            typed.at[idx, date_col],
            f"{date_col} is given but {outcome} is empty.",
        )
        for idx in typed.index[~has_outcome & has_date]
    ]
    return findings


def _plan_needs_issued_outcome(typed: pd.DataFrame, cached: dict, file: str) -> list[Finding]:
    """plan_needs_issued_outcome: a plan issue date whose assessment outcome is not 'issued'."""
    rows = typed["source_row"]
    outcome = cached.get("assessment_outcome")
    issued = _has_date(typed, cached, "plan_issue_date")
    not_issued = (
        outcome.mask(outcome.values != "issued")
        if isinstance(outcome, Encoded)
        else typed["assessment_outcome"].ne("issued").to_numpy(dtype=bool)
    )
    return [
        row_finding(
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
        for idx in typed.index[issued & not_issued]
    ]
