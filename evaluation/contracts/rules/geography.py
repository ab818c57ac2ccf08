"""Geography rules: LA codes and names against the LA lookup (:mod:`evaluation.io.geography`).

For case records every la_code must be a DfE LA code (looked up once per distinct code when
the column is hash-encoded).  For EES and tribunal tables each distinct (name, code[, GSS],
year) combination of the local-authority rows is checked once against the lookup, which knows
retired LAs, code drift and the known errata of the sources; the validated 3-digit code of each
row (errata corrected) is written into ``validated``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.contracts.parse import Encoded, row_finding
from evaluation.contracts.rules.time import year_of
from evaluation.contracts.spec import Contract
from evaluation.findings import ERROR, Finding
from evaluation.io.geography import Geography


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
    if contract.layout == "cases":
        return _case_codes_in_lookup(typed, file, geo, encoded) if "la_code" in typed else []
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
    return _la_pairs(la, typed["source_row"], contract, file, geo, validated, code_col, gss_col)


def _case_codes_in_lookup(
    typed: pd.DataFrame, file: str, geo: Geography, encoded: dict | None
) -> list[Finding]:
    """la_code_in_lookup: case records whose la_code is not empty and not a DfE LA code."""
    rows = typed["source_row"]
    codes = set(geo.lookup["old_la_code"])
    enc = (encoded or {}).get("la_code")
    if isinstance(enc, Encoded) and len(enc) == len(typed):
        unknown = ~np.isin(enc.values, list(codes)) & (enc.values != "")
        bad = typed.index[enc.rows(unknown)]
    else:
        bad = typed.index[~typed["la_code"].isin(list(codes)) & typed["la_code"].ne("")]
    return [
        row_finding(
            file,
            rows,
            idx,
            "la_code",
            "la_code_in_lookup",
            ERROR,
            typed.at[idx, "la_code"],
            f"{typed.at[idx, 'la_code']} is not a DfE LA code.",
        )
        for idx in bad
    ]


def _la_pairs(
    la: pd.DataFrame,
    rows: pd.Series,
    contract: Contract,
    file: str,
    geo: Geography,
    validated: pd.Series,
    code_col: str,
    gss_col: str | None,
) -> list[Finding]:
    """Each distinct (name, code, GSS, year, has data) of the LA rows checked once; its
    findings are repeated for every row that has the combination."""
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
    findings = []
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
