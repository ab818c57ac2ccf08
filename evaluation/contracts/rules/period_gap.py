"""Period-gap rule (contracts with ``check_period_gaps``): a warning for each LA whose rows skip
periods inside its own range (months, quarters or years, by the file's one time family)."""

from __future__ import annotations

import pandas as pd

from evaluation.contracts.rules.time import time_family, year_of
from evaluation.contracts.spec import MONTHS, Contract
from evaluation.findings import WARNING, Finding


def period_gap_rules(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    if not contract.check_period_gaps or not {
        "time_period",
        "time_identifier",
        "old_la_code",
    } <= set(typed):
        return []
    fam = typed["time_identifier"].map(time_family)
    if fam.nunique() != 1:
        return []
    family = fam.iloc[0]
    index = _period_index(typed, family)
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


def _period_index(typed: pd.DataFrame, family: str) -> pd.Series:
    """Consecutive period numbers: year * 12 + month, year * 4 + quarter, or the year."""
    year = year_of(typed["time_period"])
    if family == "month":
        step = typed["time_identifier"].map({m: i for i, m in enumerate(MONTHS)})
        return year * 12 + step
    if family == "quarter":
        return year * 4 + typed["time_identifier"].str[-1].map({"1": 0, "2": 1, "3": 2, "4": 3})
    return year


def _period_label(i: int, family: str) -> str:
    if family == "month":
        return f"{MONTHS[i % 12]} {i // 12}"
    if family == "quarter":
        return f"{i // 4} Q{i % 4 + 1}"
    return str(i)
