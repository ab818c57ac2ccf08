"""Personal-data guard: refuse files that look as if they carry personal identifiers.

Checked before any row enters the pipeline: column names that name personal data (names,
dates of birth, UPN/ULN, postcodes, email addresses), and values that look like them (a UPN is
a letter and 12 digits, a ULN 10 digits; UK postcodes; email addresses; dates in a column the
contract does not declare).  Findings name the column and never echo a value.
"""

from __future__ import annotations

import re

import pandas as pd

from evaluation.findings import ERROR, Finding

NAME_PATTERNS = {
    "name": re.compile(
        r"(^|_)(first|fore|sur|last|given|family|middle|full|child|pupil|person|"
        r"student|parent)_?names?($|_)|^names?$",
        re.I,
    ),
    "date of birth": re.compile(
        r"(^|_)(dob|date_?of_?birth|birth_?date|birthdate|d\.o\.b)($|_)", re.I
    ),
    "UPN or ULN": re.compile(
        r"(^|_)(upn|uln|unique_?pupil_?number|unique_?learner_?number)($|_)", re.I
    ),
    "postcode": re.compile(r"(^|_)(post_?code|postal_?code|zip)($|_)", re.I),
    "email address": re.compile(r"(^|_)(e_?mail|email_?address)($|_)", re.I),
}
VALUE_PATTERNS = {
    "UPN (a letter and 12 digits)": re.compile(r"^[A-Z]\d{12}$"),
    "ULN (10 digits)": re.compile(r"^\d{10}$"),
    "postcode": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$", re.I),
    "email address": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
}
NAME_VALUE = re.compile(r"^[A-Z][a-z]+(?:[ '-][A-Z][a-z]+)+$")  # "Jane Smith", "Anne-Marie O'Neil"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}/\d{1,2}/\d{2,4}$")


def personal_data_findings(frame: pd.DataFrame, contract, file: str) -> list[Finding]:
    """Findings (errors) for columns that look like personal data.  Values are withheld."""
    findings = []
    declared = set(contract.columns) if contract is not None else set()
    for col in frame.columns:
        if col in {"source_row", "_extra_cells"}:
            continue
        key = re.sub(r"[^a-z0-9]+", "_", str(col).lower()).strip("_")
        for what, pat in NAME_PATTERNS.items():
            if pat.search(key) and col not in declared:
                findings.append(_refuse(file, col, "personal_data_column", what))
                break
        else:
            # a sample is enough to recognise a column of identifiers (first 2,000 values)
            sample = frame[col].head(10000).astype(str).str.strip()
            sample = sample[sample != ""].head(2000)
            if sample.empty:
                continue
            for what, pat in VALUE_PATTERNS.items():
                if col in declared and what.startswith("ULN") and _declared_numeric(contract, col):
                    continue
                share = sample.str.match(pat).mean()
                if share >= 0.5 or (
                    share > 0
                    and what != "ULN (10 digits)"
                    and sample.str.match(pat).sum() >= 1
                    and what.startswith(("UPN", "email", "postcode"))
                ):
                    findings.append(_refuse(file, col, "personal_data_value", what))
                    break
            else:
                # Aggregate files are full of place names, which look like person names;
                # the name and date heuristics apply to case-level files only.
                if col not in declared and getattr(contract, "layout", "") == "cases":
                    if sample.str.match(NAME_VALUE).mean() >= 0.5:
                        findings.append(_refuse(file, col, "personal_data_value", "person's name"))
                    elif sample.str.match(ISO_DATE).mean() >= 0.5:
                        findings.append(
                            _refuse(
                                file, col, "personal_data_value", "date (possibly a date of birth)"
                            )
                        )
    return findings


def _declared_numeric(contract, col) -> bool:
    spec = contract.columns.get(col)
    return spec is not None and spec.type in {"count", "number", "percent", "integer"}


def _refuse(file: str, col: str, rule: str, what: str) -> Finding:
    return Finding(
        file,
        None,
        str(col),
        rule,
        ERROR,
        "(withheld)",
        f"Column '{col}' looks like it holds personal data ({what}). The whole file is "
        "refused and nothing from it is kept; remove the column and send it again.",
    )
