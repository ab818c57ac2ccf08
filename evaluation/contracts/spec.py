"""What a data contract is: the YAML in ``data_contracts/`` loaded into :class:`Contract`.

A contract is readable YAML that doubles as the data dictionary (title, description, type, unit,
allowed values, missing-value symbols with their meanings, keys, rules).  This module loads and
checks it (:func:`load_contract`), lists the known ones, and holds the vocabulary the checks
share: the column types, the time identifiers and their period widths, the standard EES text
columns.  Which contract fits a file's columns is decided in
:mod:`~evaluation.contracts.inference`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from evaluation.config import PROJECT_ROOT, read_yaml

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
ROW_BLOCK = 1 << 16  # rows per block where a rule compares columns row by row
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
COLUMN_KEYS = {"title", "type", "required", "description", "unit", "allowed", "pattern"}
KNOWN_RULES = {"numerator_le_denominator", "percent_matches", "chronology", "outcome_needs_date"}
EXTRA_COLUMNS = {None, "allow", "number_or_symbol", "count_or_symbol"}


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
    raw = _read_mapping(path)
    columns = {
        str(col): _column_spec(path, col, spec or {})
        for col, spec in (raw.get("columns") or {}).items()
    }
    rules = raw.get("rules") or {}
    _check_rules_and_keys(path, raw, rules, columns)
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


def _read_mapping(path: Path) -> dict:
    """The contract file as a mapping that has the required top-level keys."""
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError(f"{path.name}: a contract must be a mapping.")
    for key in ["name", "title", "description", "version", "layout"]:
        if key not in raw:
            raise ContractError(f"{path.name}: key '{key}' is required.")
    return raw


def _column_spec(path: Path, col, spec: dict) -> ColumnSpec:
    """One column's entry, checked (known keys, a known type, a pattern that compiles)."""
    unknown = set(spec) - COLUMN_KEYS
    if unknown:
        raise ContractError(f"{path.name}: column '{col}' has unknown key(s) {sorted(unknown)}.")
    if spec.get("type") not in TYPES:
        raise ContractError(
            f"{path.name}: column '{col}' has type {spec.get('type')!r}; "
            f"use one of {sorted(TYPES)}."
        )
    if spec.get("pattern"):
        re.compile(spec["pattern"])
    return ColumnSpec(
        name=str(col),
        type=spec["type"],
        title=str(spec.get("title", "")),
        description=str(spec.get("description", "")),
        unit=str(spec.get("unit", "")),
        required=bool(spec.get("required", False)),
        allowed=tuple(str(a) for a in spec.get("allowed", []) or []),
        pattern=spec.get("pattern"),
    )


def _check_rules_and_keys(path: Path, raw: dict, rules: dict, columns: dict) -> None:
    """Known rules only; keys and rules name declared columns; a known extra_columns policy."""
    if set(rules) - KNOWN_RULES:
        raise ContractError(f"{path.name}: unknown rule(s) {sorted(set(rules) - KNOWN_RULES)}.")
    referenced = set(raw.get("keys") or [])
    for pair in rules.get("numerator_le_denominator", []):
        referenced |= set(pair)
    for item in rules.get("percent_matches", []):
        referenced |= {item["percent"], item["numerator"], item["denominator"]}
    referenced |= set(rules.get("chronology", []))
    missing = sorted(c for c in referenced if c not in columns)
    if missing and raw["layout"] != "plan":
        raise ContractError(f"{path.name}: keys or rules name undeclared column(s) {missing}.")
    if raw.get("extra_columns") not in EXTRA_COLUMNS:
        raise ContractError(
            f"{path.name}: extra_columns must be allow, number_or_symbol or count_or_symbol."
        )


def list_contracts() -> list[str]:
    return sorted(p.stem for p in CONTRACT_DIR.glob("*.yaml"))
