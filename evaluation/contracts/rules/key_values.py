"""Key values are required: a row whose key column (the contract's ``keys``) is blank, or holds
one of the source's missing-value symbols, cannot be told apart from other rows or joined to
anything, so it is an error at its line and the row is quarantined, for every contract.

One exception is the EES convention for geography: a geography's codes and name are blank
above its level (a National row has no region or LA code, a Regional row no LA code), so
there a blank (or a symbol) is the right value and not a finding.  A cell that already has an
error (e.g. an empty required column) is not reported twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.contracts.parse import row_finding
from evaluation.contracts.spec import Contract
from evaluation.findings import ERROR, Finding

# EES geography columns and the geographic levels at which they are blank by convention
EES_BLANK_AT = {
    "region_code": {"National"},
    "region_name": {"National"},
    "old_la_code": {"National", "Regional"},
    "new_la_code": {"National", "Regional"},
    "la_name": {"National", "Regional"},
}


def _missing(text: pd.Series, symbols: set[str]) -> np.ndarray:
    """Cells that are blank or a missing-value symbol."""
    return (text.isna() | text.isin(sorted(symbols | {""}))).to_numpy(dtype=bool)


def key_value_rules(
    frame: pd.DataFrame, contract: Contract, file: str, findings: list[Finding]
) -> list[Finding]:
    """``key_missing`` errors for blank or symbol key values (text frame ``frame``); cells
    with an error among ``findings`` already are skipped."""
    keys = [k for k in contract.keys if k in frame.columns]
    if not keys:
        return []
    symbols = dict(contract.missing_symbols)
    flagged = {(f.index, f.column) for f in findings if f.severity == ERROR and f.index is not None}
    level = frame["geographic_level"] if "geographic_level" in frame.columns else None
    rows = frame["source_row"]
    out = []
    for col in keys:
        text = frame[col]
        missing = _missing(text, set(symbols))
        if contract.layout == "ees" and col in EES_BLANK_AT and level is not None:
            missing = missing & ~level.isin(sorted(EES_BLANK_AT[col])).to_numpy(dtype=bool)
        for idx in frame.index[missing]:
            if (idx, col) in flagged:
                continue
            value = "" if pd.isna(text[idx]) else str(text[idx])
            out.append(
                row_finding(
                    file, rows, idx, col, "key_missing", ERROR, value, _message(col, value, symbols)
                )
            )
    return out


def _message(col: str, value: str, symbols: dict[str, str]) -> str:
    what = "is blank" if value == "" else f"holds the symbol '{value}' ({symbols[value]})"
    return (
        f"Key column '{col}' {what}: a key must have a value, or the row cannot be told apart "
        "from others or joined to anything. The row is quarantined; fill in the key."
    )
