"""Local authority identity: the DfE lookup, name drift, boundary changes and AREA resolution.

Rules (see METHODOLOGY.md, "Geography"):

* an LA is identified by a validated pair (3-digit ``old_la_code``, name), never by a raw code;
* GSS codes drift (E10/E06) between releases, so they are checked against the lookup but not
  used as keys;
* the boundary changes of 2019, 2021 and 2023 are handled by the plan's boundary policy:
  ``aggregate`` (default; fold the affected LAs into stable units) or ``exclude``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.config import DEFAULT_DATA_DIR, normalise_name, read_yaml, slugify
from evaluation.findings import ERROR, WARNING, Finding

LOOKUP_FILE = "public/la_lookup_old_la_codes.csv"
GEOGRAPHY_FILE = "reference/geography.yaml"


class AreaNotFoundError(ValueError):
    """AREA does not name a pilot area of the plan."""


@dataclass
class _RowFindings:
    """The findings for one row of one file, in the order they are found."""

    file: str
    row: int | None
    findings: list[Finding] = field(default_factory=list)

    def add(self, column: str, rule: str, severity: str, value: str, message: str) -> None:
        """Record a finding about ``column`` of this row."""
        self.findings.append(Finding(self.file, self.row, column, rule, severity, value, message))


@dataclass
class Geography:
    """The LA lookup plus the project's reference facts about names and boundaries."""

    lookup: pd.DataFrame  # la_name, old_la_code, new_la_code (English LAs only)
    aliases: dict[str, str]
    retired: dict[str, int]  # old_la_code -> last calendar year
    created: dict[str, int]  # old_la_code -> first calendar year
    stable_units: list[dict]
    errata: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    gss_in_force: dict[str, dict[str, int]] = field(default_factory=dict)
    late_records: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._names = {normalise_name(n): n for n in self.lookup["la_name"]}
        self._alias_keys = {normalise_name(k): v for k, v in self.aliases.items()}
        self._codes_by_name: dict[str, list[str]] = {}
        self._gss_by_code: dict[str, list[str]] = {}
        self._name_by_code: dict[str, str] = {}
        for name, code, gss in self.lookup[["la_name", "old_la_code", "new_la_code"]].itertuples(
            index=False
        ):
            codes = self._codes_by_name.setdefault(name, [])
            if code not in codes:
                codes.append(code)
            self._gss_by_code.setdefault(code, []).append(gss)
            self._name_by_code[code] = name
        self._pair_cache: dict[tuple, tuple[str | None, list[Finding]]] = {}

    # ---- names and codes -------------------------------------------------------------
    def canonical_name(self, name: str) -> str | None:
        """The lookup's spelling of ``name`` (after aliases and normalisation), or None."""
        raw = str(name).strip()
        key = normalise_name(self.aliases.get(raw, raw))
        if key in self._names:
            return self._names[key]
        return self._alias_keys.get(key)

    def codes_for_name(self, name: str) -> list[str]:
        canon = self.canonical_name(name)
        return sorted(self._codes_by_name.get(canon, [])) if canon else []

    def name_for_code(self, old_la_code: str, year: int | None = None) -> str | None:
        return self._name_by_code.get(str(old_la_code))

    def gss_codes(self, old_la_code: str) -> list[str]:
        return list(self._gss_by_code.get(str(old_la_code), []))

    def current_gss(self, old_la_code: str) -> str:
        """The most recent GSS code the lookup gives for an LA (lookup rows are chronological)."""
        codes = self.gss_codes(old_la_code)
        return codes[-1] if codes else ""

    def gss_for_year(self, old_la_code: str, year: int) -> str | None:
        """The GSS code in force for a year, where the reference records a code change."""
        changes = self.gss_in_force.get(str(old_la_code))
        if not changes:
            return None
        valid = [(y, g) for g, y in changes.items() if y <= year]
        return max(valid)[1] if valid else None

    def exists_in(self, old_la_code: str, year: int) -> bool:
        code = str(old_la_code)
        if code in self.retired and year > self.retired[code]:
            return False
        return not (code in self.created and year < self.created[code])

    def validate_pair(
        self,
        name: str,
        code: str,
        year: int,
        *,
        source: str,
        file: str,
        row: int | None,
        gss: str | None = None,
        has_data: bool = True,
    ) -> tuple[str | None, list[Finding]]:
        """Validate one (name, code[, GSS]) triple for ``year``.

        Returns the validated 3-digit code (None if the row must be quarantined) and findings.
        Known source errata are corrected with a warning; a blank code is resolved by name if the
        name is unambiguous for that year; anything else that disagrees is an error.  A retired
        LA's cell with no data after its end (a blank or 'not available' placeholder) is expected
        in presentation tables and is not an error (``has_data=False``).
        """
        out = _RowFindings(file, row)
        code = str(code or "").strip()
        canon = self.canonical_name(name)
        if canon is None:
            out.add(
                "la_name",
                "la_name_in_lookup",
                ERROR,
                str(name),
                f"'{name}' is not a local authority name in the DfE lookup.",
            )
            return None, out.findings
        name_codes = [
            c for c in self.codes_for_name(canon) if self.exists_in(c, year)
        ] or self.codes_for_name(canon)
        code = self._code_of_name(canon, code, name_codes, source, out)
        if code is None:
            return None, out.findings
        code = self._code_if_blank(canon, code, name_codes, out)
        if code is None:
            return None, out.findings
        code = self._code_before_creation(canon, code, year, has_data, out)
        if code is None:
            return None, out.findings
        if code in self.retired and year > self.retired[code] and has_data:
            return self._code_after_end(canon, code, year, source, out), out.findings
        if gss:
            code = self._code_with_gss(canon, code, year, str(gss).strip(), out)
        return code, out.findings

    # ---- validate_pair steps: each returns the code so far, or None to quarantine the row
    def _code_of_name(
        self, canon: str, code: str, name_codes: list[str], source: str, out: _RowFindings
    ) -> str | None:
        """A given code must be one of the name's codes, unless it is a known source erratum."""
        if not code or code in self.codes_for_name(canon):
            return code
        known = self.errata.get(source, {}).get(canon)
        if known and known["shown"] == code:
            out.add(
                "LA code",
                "known_source_erratum",
                WARNING,
                code,
                f"The source gives code {code} for {canon}; this is a known error in "
                f"the published table and the correct code {known['correct']} is used.",
            )
            return known["correct"]
        out.add(
            "old_la_code",
            "la_code_name_pair",
            ERROR,
            code,
            f"Code {code} does not belong to '{canon}' in the DfE lookup "
            f"(its codes: {', '.join(name_codes)}). The row is quarantined.",
        )
        return None

    def _code_if_blank(
        self, canon: str, code: str, name_codes: list[str], out: _RowFindings
    ) -> str | None:
        """A blank code is resolved by name, if the name has one code for the year."""
        if code:
            return code
        if len(name_codes) != 1:
            out.add(
                "old_la_code",
                "la_code_missing",
                ERROR,
                "",
                f"No LA code is given and the name '{canon}' is ambiguous.",
            )
            return None
        return name_codes[0]

    def _code_before_creation(
        self, canon: str, code: str, year: int, has_data: bool, out: _RowFindings
    ) -> str | None:
        """Data for a year before the LA was created go to its one same-name predecessor."""
        if not (code in self.created and year < self.created[code] and has_data):
            return code
        earlier = [c for c in self.codes_for_name(canon) if c != code and self.exists_in(c, year)]
        if len(earlier) == 1:
            out.add(
                "old_la_code",
                "la_code_before_creation",
                WARNING,
                code,
                f"Code {code} ({canon}) dates from {self.created[code]}; for {year} the "
                f"predecessor LA of the same name, code {earlier[0]}, is used.",
            )
            return earlier[0]
        out.add(
            "time_period",
            "la_used_before_creation",
            ERROR,
            str(year),
            f"{canon} ({code}) did not exist until {self.created[code]} but has "
            f"data for {year}. The row is quarantined.",
        )
        return None

    def _code_after_end(
        self, canon: str, code: str, year: int, source: str, out: _RowFindings
    ) -> str | None:
        """Data for a year after a retired LA ceased: kept only if a known late record."""
        if year in self.late_records.get(source, {}).get(code, []):
            out.add(
                "time_period",
                "known_record_after_end",
                WARNING,
                str(year),
                f"{canon} ({code}) ceased after {self.retired[code]} but the source "
                f"has {year} data for it; this is a known feature of the source and "
                "the data count towards the area's stable unit.",
            )
            return code
        out.add(
            "time_period",
            "retired_la_used",
            ERROR,
            str(year),
            f"{canon} ({code}) ceased after {self.retired[code]} but has data "
            f"for {year}. The row is quarantined.",
        )
        return None

    def _code_with_gss(
        self, canon: str, code: str, year: int, gss: str, out: _RowFindings
    ) -> str | None:
        """A given GSS code must be one of the LA's; a superseded one is known drift (a warning)."""
        expected = self.gss_for_year(code, year)
        if gss and gss in self.gss_codes(code) and expected and gss != expected:
            out.add(
                "new_la_code",
                "gss_code_drift",
                WARNING,
                gss,
                f"{canon} uses GSS code {gss} for {year}, but {expected} was in "
                "force then; this is known E10/E06 code drift and the 3-digit "
                "code is used.",
            )
        if gss and gss not in self.gss_codes(code):
            out.add(
                "new_la_code",
                "gss_code_in_lookup",
                ERROR,
                gss,
                f"GSS code {gss} is not a code of {canon} ({code}) in the lookup.",
            )
            return None
        return code

    # ---- boundary policy -------------------------------------------------------------
    def affected_codes(self) -> set[str]:
        return {m for u in self.stable_units for m in u["members"]}

    def unit_map(self, policy: str) -> dict[str, tuple[str, str]]:
        """old_la_code -> (unit_id, unit_name) under a boundary policy.

        ``aggregate`` maps members of a stable unit to that unit; ``exclude`` leaves them out.
        Unaffected LAs map to themselves (unit_id = old_la_code).
        """
        if policy not in {"aggregate", "exclude"}:
            raise ValueError(f"Unknown boundary policy '{policy}' (use aggregate or exclude).")
        mapping: dict[str, tuple[str, str]] = {}
        for code in sorted(set(self.lookup["old_la_code"])):
            mapping[code] = (code, str(self.name_for_code(code)))
        for unit in self.stable_units:
            for member in unit["members"]:
                if policy == "aggregate":
                    mapping[member] = (unit["unit_id"], unit["unit_name"])
                else:
                    mapping.pop(member, None)
        return mapping

    # ---- AREA resolution -------------------------------------------------------------
    def resolve_area(self, text: str, allowed_codes: list[str]) -> str:
        """Resolve AREA (slug, 3-digit code or GSS code) to a 3-digit code among ``allowed_codes``.

        Anything else raises :class:`AreaNotFoundError` with a message saying how to list the
        valid values.  Nothing here touches the file system, so a refused AREA writes nothing.
        """
        value = str(text).strip()
        hint = "Run `make areas` to list the pilot areas and the values AREA accepts."
        if (
            not value
            or len(value) > 80
            or not re.fullmatch(r"[A-Za-z0-9\-_ ,'&.()]+", value)
            or ".." in value
        ):
            raise AreaNotFoundError(f"'{text}' is not a valid area name or code. {hint}")
        candidates: set[str] = set()
        if re.fullmatch(r"\d{3}", value):
            candidates = {value}
        elif re.fullmatch(r"[EWSN]\d{8}", value.upper()):
            candidates = set(
                self.lookup.loc[self.lookup["new_la_code"] == value.upper(), "old_la_code"]
            )
        else:
            slug = slugify(value)
            slugs = self.lookup["la_name"].map(slugify)
            candidates = set(self.lookup.loc[slugs == slug, "old_la_code"])
        known = {c for c in candidates if c in set(self.lookup["old_la_code"])}
        if not known:
            raise AreaNotFoundError(
                f"'{text}' is not the name or code of an English local authority. {hint}"
            )
        matches = [c for c in known if c in allowed_codes]
        if not matches:
            name = self.name_for_code(sorted(known)[0])
            raise AreaNotFoundError(
                f"{name} ({sorted(known)[0]}) is not a pilot area in this evaluation plan, so "
                f"there is no evidence report for it. {hint}"
            )
        return matches[0]


def load_geography(data_dir: Path | str = DEFAULT_DATA_DIR) -> Geography:
    """Load the shipped DfE LA lookup and the project's geography reference."""
    data_dir = Path(data_dir)
    lookup = pd.read_csv(
        data_dir / LOOKUP_FILE, dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    lookup = lookup[lookup["new_la_code"].str.startswith("E")].reset_index(drop=True)
    with open(data_dir / GEOGRAPHY_FILE, encoding="utf-8") as fh:
        ref = read_yaml(fh)
    errata: dict[str, dict[str, dict[str, str]]] = {}
    late: dict[str, dict[str, list[int]]] = {}
    for item in ref.get("errata", []):
        errata.setdefault(item["source"], {}).update(
            {k: {kk: str(vv) for kk, vv in v.items()} for k, v in item["wrong_codes"].items()}
        )
        late.setdefault(item["source"], {}).update(
            {str(k): [int(y) for y in v] for k, v in (item.get("late_records") or {}).items()}
        )
    return Geography(
        lookup=lookup,
        aliases={str(k): str(v) for k, v in ref.get("name_aliases", {}).items()},
        retired={str(r["old_la_code"]): int(r["last_year"]) for r in ref.get("retired", [])},
        created={str(r["old_la_code"]): int(r["first_year"]) for r in ref.get("created", [])},
        stable_units=[
            {**u, "members": [str(m) for m in u["members"]]} for u in ref.get("stable_units", [])
        ],
        errata=errata,
        late_records=late,
        gss_in_force={
            str(code): {str(g): int(y) for g, y in m.items()}
            for code, m in (ref.get("gss_in_force") or {}).items()
        },
    )
