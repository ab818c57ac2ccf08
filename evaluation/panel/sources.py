"""Readers: shipped public files and EES-layout returns -> one long table of observations.

Each source names its data contract (``data_contracts/*.yaml``: layout rules and the source's own
missing-value symbols with their meanings), the indicator columns it supplies for each catalogue
measure, and the years it is preferred for. Every file is read and validated through its
contract; rows with errors are quarantined and reported, never dropped silently.

The long observation table has one row per (source, LA, year, measure):
``source, file, source_row, time_period, old_la_code, la_name, measure, value, symbol, meaning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.contracts import MONTHS, load_contract, validate_file
from evaluation.findings import Finding
from evaluation.io.geography import Geography


@dataclass(frozen=True)
class SourceSpec:
    """One published file and how to read it."""

    key: str
    file: str  # relative to data/public
    title: str
    release: str
    measures: dict[str, str]  # catalogue measure -> column in the file
    years: tuple[int, int]  # calendar years this source is used for in the panel
    layout: str = "ees"  # "ees" or "tribunal"
    row_filter: dict[str, str] = field(default_factory=dict)
    contract: str = ""  # data_contracts/<contract>.yaml


SOURCES: dict[str, SourceSpec] = {
    s.key: s
    for s in [
        SourceSpec(
            key="ehcp_2025_timeliness",
            contract="ehcp_2025_timeliness",
            file="ehcp_2025_timeliness_20_week.csv",
            title="Education, health and care plans: timeliness of new EHC plans (20 weeks)",
            release="DfE EHCP statistics, reporting year 2025",
            measures={
                "plans_issued_den": "plans_issued_den",
                "plans_issued_within_20_weeks": "plans_issued_within_20_weeks",
                "plans_issued_den_ex": "plans_issued_den_ex",
                "plans_issued_20_weeks_ex": "plans_issued_20_weeks_ex",
            },
            years=(2019, 2024),
            row_filter={"breakdown_topic": "All EHC plans issued"},
        ),
        SourceSpec(
            key="ehcp_2025_requests",
            contract="ehcp_2025_requests",
            file="ehcp_2025_requests.csv",
            title="Education, health and care plans: requests for EHC needs assessment",
            release="DfE EHCP statistics, reporting year 2025",
            measures={
                "requests_received": "requests_received_in_year",
                "requests_decided_not_to_assess": "requests_decided_not_to_assess",
            },
            years=(2019, 2024),
            row_filter={"breakdown_topic": "All requests for EHC needs assessments"},
        ),
        SourceSpec(
            key="ehcp_2025_assessments",
            contract="ehcp_2025_assessments",
            file="ehcp_2025_assessments.csv",
            title="Education, health and care plans: EHC needs assessments",
            release="DfE EHCP statistics, reporting year 2025",
            measures={"assessments": "assess_in_year", "assess_not_issued": "assess_not_issued"},
            years=(2019, 2024),
            row_filter={"breakdown_topic": "All EHC needs assessments"},
        ),
        SourceSpec(
            key="ehcp_2023_sen2_mi",
            contract="ehcp_2023_sen2_mi",
            file="ehcp_2023_sen2_mi.csv",
            title="Education, health and care plans (aggregate SEN2): sen2_mi",
            release="DfE EHCP statistics, reporting year 2023",
            measures={
                "plans_issued_den": "tot_inc_exc_ehc",
                "plans_issued_within_20_weeks": "inc_exc_20week_ehc",
                "plans_issued_den_ex": "tot_no_exc_ehc",
                "plans_issued_20_weeks_ex": "no_exc_20week_ehc",
                "requests_received": "inreq_ehc",
                "requests_decided_not_to_assess": "ass_refused_ehc",
                "assessments": "assessments",
                "assess_not_issued": "ass_none_ehc",
            },
            years=(2014, 2018),
        ),
        SourceSpec(
            key="send_tribunal",
            contract="send_tribunal",
            file="send_tribunal_appeal_rate_2014_2024.csv",
            title="SEND Tribunal appeal rate by local authority, 2014-2024 (MoJ/HMCTS and DfE)",
            release="Supporting file of DfE EHCP statistics, reporting year 2025",
            measures={
                "appeals": "appeals",
                "appealable_decisions": "appealable_decisions",
            },
            years=(2014, 2024),
            layout="tribunal",
        ),
    ]
}


def ees_observations(
    spec: SourceSpec, data_dir: Path, geo: Geography
) -> tuple[pd.DataFrame, list[Finding], object]:
    """Observations for LA and national rows of one EES source, validated by its contract."""
    result = validate_file(Path(data_dir) / "public" / spec.file, spec.contract, geo)
    frame, symbols = result.accepted, result.symbols
    keep = frame["geographic_level"].isin(["Local authority", "National"])
    for col, val in spec.row_filter.items():
        keep &= frame[col] == val
    frame, symbols = frame[keep], symbols[keep]
    base = _base(spec, frame)
    findings = list(result.findings)
    findings.extend(
        completeness_findings(base.drop_duplicates(["old_la_code", "time_period"]), spec, geo)
    )
    return _measures(base, frame, symbols, spec), findings, result


def _base(spec: SourceSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Identity columns of observations: LA rows keep their validated code, England gets
    E92000001 and the name 'England'."""
    la = frame["geographic_level"] == "Local authority"
    return pd.DataFrame(
        {
            "source": spec.key,
            "file": spec.file,
            "source_row": frame["source_row"].to_numpy(),
            "geographic_level": frame["geographic_level"].to_numpy(),
            "time_period": frame["time_period"].astype(int).to_numpy(),
            "old_la_code": frame["_la_code"].where(la, "E92000001").to_numpy(),
            "la_name": frame["la_name"].where(la, "England").to_numpy(),
        }
    )


def _measures(
    base: pd.DataFrame, frame: pd.DataFrame, symbols: pd.DataFrame, spec: SourceSpec
) -> pd.DataFrame:
    parts = []
    for measure, column in spec.measures.items():
        parts.append(
            base.assign(
                measure=measure,
                value=frame[column].round().astype("Int64").to_numpy(),
                symbol=symbols[column].to_numpy(),
            )
        )
    obs = pd.concat(parts, ignore_index=True)
    symbols = load_contract(spec.contract).missing_symbols  # the source's own meanings
    obs["meaning"] = obs["symbol"].map(symbols).fillna("")
    return obs


def completeness_findings(frame: pd.DataFrame, spec: SourceSpec, geo: Geography) -> list[Finding]:
    """Warn when an LA that existed in a year (and appears in other years of the same file)
    has no row for that year: the file does not 'complete the matrix'."""
    la = frame[(frame["geographic_level"] == "Local authority") & frame["old_la_code"].notna()]
    seen = set(la["old_la_code"])
    findings = []
    for year, grp in la.groupby("time_period"):
        for code in sorted(seen - set(grp["old_la_code"])):
            if geo.exists_in(code, int(year)):
                name = geo.name_for_code(code)
                findings.append(
                    Finding(
                        spec.file,
                        None,
                        "old_la_code",
                        "la_year_missing",
                        "warning",
                        code,
                        f"{name} ({code}) has no row for {year} in this file, although it existed "
                        f"then and appears in other years; its {year} values are missing.",
                    )
                )
    return findings


def tribunal_observations(
    spec: SourceSpec, data_dir: Path, geo: Geography
) -> tuple[pd.DataFrame, list[Finding], object]:
    """Observations from the MoJ appeal-rate table (layout normalised, then validated)."""
    result = validate_file(Path(data_dir) / "public" / spec.file, spec.contract, geo)
    frame, symbols = result.accepted, result.symbols
    base = _base(spec, frame)
    # The table keeps a row for every LA that ever existed; in years when an LA did not exist
    # its cells are blank or '..' and it has no valid code, so it adds no observation (the
    # rows are still counted as accepted in the validation result).
    keep = base["old_la_code"].ne("").to_numpy()
    obs = _measures(base[keep], frame[keep], symbols[keep], spec)
    return obs, list(result.findings), result


def read_sources(
    data_dir: Path, geo: Geography, keys: list[str] | None = None
) -> tuple[pd.DataFrame, list[Finding]]:
    """All observations from the shipped sources (or the named subset), their findings, and
    each file's :class:`~evaluation.contracts.ValidationResult`."""
    frames, findings, results = [], [], []
    for key in keys or list(SOURCES):
        spec = SOURCES[key]
        reader = tribunal_observations if spec.layout == "tribunal" else ees_observations
        obs, f, result = reader(spec, Path(data_dir), geo)
        frames.append(obs)
        findings.extend(f)
        results.append(result)
    return pd.concat(frames, ignore_index=True), dedupe_findings(findings), results


def dedupe_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per (file, line, column, rule, value): a presentation-table row repeats the
    same problem once per year column, which users need to read once."""
    seen, out = set(), []
    for f in findings:
        key = (f.file, f.row, f.column, f.rule, f.value)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# ---- pilot returns (EES layout, monthly / quarterly / annual) -----------------------------------
MONTH_NUMBER = {m: i for i, m in enumerate(MONTHS)}  # January -> 0


def returns_observations(
    path: Path | str, geo: Geography, contract: str = "pilot_returns", measures=None
) -> tuple[pd.DataFrame, list[Finding], object]:
    """Observations from one EES-layout return file (``pilot_returns`` contract), validated.

    Only monthly files are accepted here (``time_identifier`` January..December); ``time_period``
    of the observations is the month index (months since January 2000, see
    :func:`evaluation.plan.month_index`) and ``year`` the calendar year.  Every count column of
    the contract that is a catalogue measure becomes an observation (``measures`` restricts
    them); rows with errors stay in the result's quarantine.  Raises ``ValueError`` if the file
    is not monthly."""
    path = Path(path)
    result = validate_file(path, contract, geo)
    frame, symbols = result.accepted, result.symbols
    keep = (frame["geographic_level"] == "Local authority").to_numpy()
    frame, symbols = frame[keep], symbols[keep]
    months = frame["time_identifier"].map(MONTH_NUMBER)
    if months.isna().any():
        bad = frame.loc[months.isna(), "time_identifier"].iloc[0]
        raise ValueError(
            f"{path.name}: time identifier '{bad}' is not a month; a monthly plan needs "
            "monthly returns (January..December)."
        )
    year = frame["time_period"].astype(int).to_numpy()
    index = (year - 2000) * 12 + months.astype(int).to_numpy()
    spec = SourceSpec(
        key=path.stem,
        file=path.name,
        title=f"Returns: {path.name}",
        release="pilot returns",
        measures={
            m: m
            for m in (measures or list(frame.columns))
            if m in frame.columns and m in _catalogue_measures()
        },
        years=(int(year.min()) if len(year) else 0, int(year.max()) if len(year) else 0),
        contract=contract,
    )
    base = pd.DataFrame(
        {
            "source": spec.key,
            "file": spec.file,
            "source_row": frame["source_row"].to_numpy(),
            "geographic_level": frame["geographic_level"].to_numpy(),
            "time_period": index,
            "year": year,
            "old_la_code": frame["_la_code"].to_numpy(),
            "la_name": frame["la_name"].to_numpy(),
        }
    )
    obs = _measures(base, frame, symbols, spec)
    return obs, list(result.findings), result


def _catalogue_measures() -> set[str]:
    from evaluation.panel.outcomes import CATALOGUE

    return {m for o in CATALOGUE.values() for m in (o.numerator, o.denominator)}
