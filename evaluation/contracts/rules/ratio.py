"""Ratio rules: a numerator is never larger than its denominator, and a published percentage
agrees with its recomputation from the counts (within the contract's tolerance, 0.1 points by
default)."""

from __future__ import annotations

import pandas as pd

from evaluation.contracts.parse import row_finding
from evaluation.contracts.spec import Contract
from evaluation.findings import ERROR, Finding


def ratio_rules(typed: pd.DataFrame, contract: Contract, file: str) -> list[Finding]:
    findings = []
    for num, den in contract.rules.get("numerator_le_denominator", []):
        if num in typed and den in typed:
            findings += _numerator_le_denominator(typed, num, den, file)
    for item in contract.rules.get("percent_matches", []):
        pc, num, den = item["percent"], item["numerator"], item["denominator"]
        tol = float(item.get("tolerance", 0.1))
        if {pc, num, den} <= set(typed.columns):
            findings += _percent_matches(typed, pc, num, den, tol, file)
    return findings


def _numerator_le_denominator(typed: pd.DataFrame, num: str, den: str, file: str):
    rows = typed["source_row"]
    over = (typed[num] > typed[den]).fillna(False)
    return [
        row_finding(
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
        for idx in typed.index[over]
    ]


def _percent_matches(typed: pd.DataFrame, pc: str, num: str, den: str, tol: float, file: str):
    rows = typed["source_row"]
    d = typed[den].where(typed[den] > 0)
    recomputed = typed[num] / d * 100
    off = ((typed[pc] - recomputed).abs() > tol + 1e-9).fillna(False)
    return [
        row_finding(
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
        for idx in typed.index[off]
    ]
