"""The analysis panel: LA (or stable unit) x calendar year, holding numerators and denominators.

Steps: read every source -> validated observations -> choose the source for each
(measure, year) -> map LAs to analysis units under the boundary policy -> sum counts ->
recompute rates.  Nothing is dropped silently: observations whose (name, code) pair fails
validation are quarantined and listed in ``Panel.findings``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.config import DEFAULT_DATA_DIR, PROJECT_ROOT
from evaluation.findings import Finding, findings_frame
from evaluation.io.geography import Geography, load_geography
from evaluation.panel.cache import cached
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.sources import SOURCES, read_sources

MEASURES = sorted({m for s in SOURCES.values() for m in s.measures})


@dataclass
class Panel:
    """Area x year panel with provenance.

    * ``units``: one row per (unit_id, year): ``unit_id, unit_name, year`` + count measures +
      one rate column per catalogue outcome (0-100 scale).
    * ``national``: England, one row per year, same columns.
    * ``observations``: the long table every number came from (file and line).
    * ``findings``: data-quality findings raised while building the panel.
    """

    units: pd.DataFrame
    national: pd.DataFrame
    observations: pd.DataFrame
    findings: list[Finding]
    boundary_policy: str
    source_files: dict[str, str] = field(default_factory=dict)  # file -> sha256
    excluded_units: dict[str, str] = field(default_factory=dict)  # code -> why
    validation: list = field(default_factory=list)  # one ValidationResult per source file
    regions: dict[str, str] = field(default_factory=dict)  # unit_id -> region name
    _by_la: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    # the time column of ``units``: "year" (public statistics) or "period" (monthly returns:
    # month index, months since January 2000, with ``period_label`` 'Jan 2021', ``month`` 1-12
    # and ``calendar_year`` beside it)
    time: str = "year"
    frequency: str = "year"
    synthetic: bool = False

    def findings_frame(self) -> pd.DataFrame:
        return findings_frame(self.findings)

    def findings_by_la(self) -> pd.DataFrame:
        """Findings with the 3-digit code of the LA each concerns (blank if none); computed once
        per panel (every report section that lists findings uses it)."""
        if self._by_la is None:
            self._by_la = self._findings_by_la()
        return self._by_la

    def _findings_by_la(self) -> pd.DataFrame:
        frame = self.findings_frame()
        if frame.empty:
            return frame.assign(la_code=pd.Series(dtype=str))
        where = {}
        for result in self.validation:
            acc = result.accepted
            if "_la_code" in acc:
                where.update(
                    {
                        (result.file, int(r)): c
                        for r, c in zip(acc["source_row"], acc["_la_code"], strict=True)
                    }
                )
            q = result.quarantined
            code_col = next((c for c in ["old_la_code", "la_code_raw", "la_code"] if c in q), None)
            if code_col:
                where.update(
                    {
                        (result.file, int(r)): str(c)
                        for r, c in zip(q["source_row"], q[code_col], strict=True)
                    }
                )
        codes = []
        for f, r, v, rule in zip(
            frame["file"], frame["row"], frame["value"], frame["rule"], strict=True
        ):
            if r is not None and not pd.isna(r) and (f, int(r)) in where:
                codes.append(where[(f, int(r))])
            elif rule in {"la_year_missing", "period_gap"}:
                codes.append(str(v))
            else:
                codes.append("")
        return frame.assign(la_code=codes)

    def series(self, outcome: str) -> pd.DataFrame:
        """Wide table of one outcome's rate: rows = unit_id, columns = year (or period)."""
        return self.units.pivot(index="unit_id", columns=self.time, values=outcome)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def select_sources(obs: pd.DataFrame) -> pd.DataFrame:
    """Keep, for each measure and year, the one source declared for that year.

    The 2025 release is used where it covers a year (its figures are the latest revision);
    the 2023 release's aggregate sen2_mi fills 2014-2018.
    """
    keep = pd.Series(False, index=obs.index)
    for spec in SOURCES.values():
        lo, hi = spec.years
        keep |= (obs["source"] == spec.key) & obs["time_period"].between(lo, hi)
    chosen = obs[keep & obs["old_la_code"].notna()]
    dup = chosen.duplicated(
        ["geographic_level", "old_la_code", "time_period", "measure"], keep=False
    )
    if dup.any():
        first = chosen[dup].iloc[0]
        raise ValueError(
            f"Two sources supply {first['measure']} for {first['la_name']} in "
            f"{first['time_period']}; source year ranges overlap."
        )
    return chosen


def _wide(obs: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    wide = obs.pivot_table(
        index=index, columns="measure", values="value", aggfunc="first", dropna=False
    )
    wide = wide.reindex(columns=MEASURES)
    for col in MEASURES:
        wide[col] = wide[col].astype("Int64")
    return wide.reset_index()


def add_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Recompute every catalogue outcome's rate from its counts (0-100 scale)."""
    out = frame.copy()
    for outcome in CATALOGUE.values():
        out[outcome.name] = outcome.rate(out[outcome.numerator], out[outcome.denominator])
    return out


def aggregate_units(
    la: pd.DataFrame, geo: Geography, policy: str, time: str = "year"
) -> tuple[pd.DataFrame, dict]:
    """Map LA rows to analysis units and sum counts.

    A unit-year count is missing unless every member LA that existed that year has it, so a
    merged unit never silently covers only part of its footprint.  ``time`` names the period
    column (``"year"``, or ``"period"`` for monthly returns, whose rows then also carry their
    calendar ``year``, which decides whether an LA existed).
    """
    if time != "year":
        calendar = dict(zip(la[time], la["year"], strict=True))
        units, excluded = _aggregate_units(
            la.drop(columns="year").rename(columns={time: "year"}), geo, policy, calendar
        )
        return units.rename(columns={"year": time}), excluded
    return _aggregate_units(la, geo, policy)


def _aggregate_units(
    la: pd.DataFrame, geo: Geography, policy: str, calendar: dict | None = None
) -> tuple[pd.DataFrame, dict]:
    cal = (lambda p: int(p)) if calendar is None else (lambda p: int(calendar[p]))
    mapping = geo.unit_map(policy)
    excluded = {}
    if policy == "exclude":
        for unit in geo.stable_units:
            for member in unit["members"]:
                excluded[member] = f"boundary change: {unit['why']}"
    la = la[la["old_la_code"].isin(mapping)].copy()
    la["unit_id"] = la["old_la_code"].map(lambda c: mapping[c][0])
    years = sorted(la["year"].unique())
    expected = (
        pd.DataFrame(
            [
                (unit, year, code)
                for code, (unit, _) in mapping.items()
                for year in years
                if geo.exists_in(code, cal(year))
            ],
            columns=["unit_id", "year", "old_la_code"],
        )
        .groupby(["unit_id", "year"])
        .size()
        .rename("expected")
    )
    # completeness is judged on the members that existed that year; records that a source
    # publishes under a ceased member (known late records) still count towards the sum
    la["_exists"] = [
        geo.exists_in(c, cal(y)) for c, y in zip(la["old_la_code"], la["year"], strict=True)
    ]
    grouped = la.groupby(["unit_id", "year"])
    sums = grouped[MEASURES].sum(min_count=1)
    present = (
        la[la["_exists"]]
        .groupby(["unit_id", "year"])[MEASURES]
        .count()
        .reindex(sums.index, fill_value=0)
    )
    exp = expected.reindex(sums.index)
    complete = present.eq(exp, axis=0)
    units = sums.where(complete).reset_index()
    names = {unit: name for unit, name in mapping.values()}
    units.insert(1, "unit_name", units["unit_id"].map(names))
    for m in MEASURES:
        units[m] = units[m].astype("Int64")
    return units, excluded


def build_panel(
    data_dir: Path | str = DEFAULT_DATA_DIR,
    boundary_policy: str = "aggregate",
    geo: Geography | None = None,
) -> Panel:
    """Read, validate and assemble the analysis panel from the shipped public data."""
    data_dir = Path(data_dir)
    geo = geo or load_geography(data_dir)
    obs, findings, validation = read_sources(data_dir, geo)
    chosen = select_sources(obs)
    la_obs = chosen[
        (chosen["geographic_level"] == "Local authority") & chosen["old_la_code"].notna()
    ]
    la = _wide(la_obs, ["old_la_code", "time_period"]).rename(columns={"time_period": "year"})
    units, excluded = aggregate_units(la, geo, boundary_policy)
    units = add_rates(units).sort_values(["unit_id", "year"]).reset_index(drop=True)
    nat = chosen[chosen["geographic_level"] == "National"]
    national = _wide(nat, ["time_period"]).rename(columns={"time_period": "year"})
    national = add_rates(national.assign(unit_id="E92000001", unit_name="England"))
    files = sorted({spec.file for spec in SOURCES.values()})
    hashes = {f: sha256_file(data_dir / "public" / f) for f in files}
    hashes["la_lookup_old_la_codes.csv"] = sha256_file(
        data_dir / "public" / "la_lookup_old_la_codes.csv"
    )
    regions = unit_regions(validation, geo.unit_map(boundary_policy))
    return Panel(
        units, national, obs, findings, boundary_policy, hashes, excluded, validation, regions
    )


def unit_regions(validation: list, mapping: dict) -> dict[str, str]:
    """Region of each analysis unit, from the region columns of the EES files' LA rows."""
    regions: dict[str, str] = {}
    for result in validation:
        acc = result.accepted
        if not {"region_name", "_la_code", "geographic_level"} <= set(acc.columns):
            continue
        la = acc[acc["geographic_level"] == "Local authority"]
        for code, region in zip(la["_la_code"], la["region_name"], strict=True):
            if code in mapping and region:
                regions.setdefault(mapping[code][0], str(region))
    return regions


def reader_sources() -> list[Path]:
    """The code a panel depends on: settings, readers, contracts and the panel layer."""
    pkg = PROJECT_ROOT / "evaluation"
    files = [pkg / "config.py", pkg / "findings.py"]
    for sub in ("io", "contracts", "panel"):
        files += sorted((pkg / sub).rglob("*.py"))
    return files


def panel_cache_key(data_dir: Path | str, boundary_policy: str, extra: list | None = None) -> str:
    """Hash of everything a panel depends on: the data files, the reference and contract
    files, and the code that reads them (``extra``: more input files, e.g. returns).  Any change
    gives a new key."""
    data_dir = Path(data_dir)
    parts = sorted(data_dir.glob("public/*")) + sorted(data_dir.glob("reference/*"))
    parts += list(extra or [])
    parts += sorted((PROJECT_ROOT / "data_contracts").glob("*.yaml"))
    parts += reader_sources()
    digest = hashlib.sha256(boundary_policy.encode())
    for p in parts:
        digest.update(p.name.encode())
        digest.update(sha256_file(p).encode())
    return digest.hexdigest()[:24]


_PANELS: dict[str, Panel] = {}  # content key -> panel, this process (the last few)


def _memo(key: str, load) -> Panel:
    if key not in _PANELS:
        if len(_PANELS) >= 4:
            _PANELS.pop(next(iter(_PANELS)))
        _PANELS[key] = load()
    return _PANELS[key]


def cached_panel(data_dir: str, boundary_policy: str) -> Panel:
    """Build once per set of inputs, in this process and on disk (``.cache/``, git-ignored):
    a later report with the same data, contracts and code loads it instead of rebuilding.  The
    key hashes the files' contents, so a file edited while a process runs is seen."""

    key = panel_cache_key(data_dir, boundary_policy)
    build = lambda: build_panel(Path(data_dir), boundary_policy)  # noqa: E731
    return _memo("year" + key, lambda: cached("panel", key, build, Panel))


# ---- monthly returns ---------------------------------------------------------------------------
def build_returns_panel(
    files: list[Path | str],
    boundary_policy: str = "aggregate",
    geo: Geography | None = None,
    contract: str = "pilot_returns",
    data_dir: Path | str = DEFAULT_DATA_DIR,
    synthetic: bool = False,
) -> Panel:
    """Area x month panel from EES-layout monthly returns (e.g. ``python -m evaluation cases``).

    The same steps as :func:`build_panel`: every file is validated against ``contract`` (rows
    with errors are quarantined and listed in ``Panel.validation``), LAs are identified by their
    validated (name, code) pair, mapped to stable units under the boundary policy (a unit-month
    is missing unless every member that existed that calendar year has the count), counts are
    summed and every catalogue rate is recomputed from its counts.  Two files may not supply the
    same (LA, month).  ``units`` has ``period`` (month index, months since January 2000),
    ``period_label`` ('Jan 2021'), ``month`` (1-12, for seasonality) and ``calendar_year``.
    """
    from evaluation.panel.plan import DataMissingError, month_label
    from evaluation.panel.sources import returns_observations

    files = [Path(f) for f in files]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise DataMissingError(f"return file(s) not found: {', '.join(map(str, missing))}")
    if not files:
        raise ValueError("a monthly plan needs at least one return file")
    geo = geo or load_geography(data_dir)
    frames, findings, validation = [], [], []
    for f in files:
        obs, found, result = returns_observations(f, geo, contract)
        frames.append(obs)
        findings.extend(found)
        validation.append(result)
    obs = pd.concat(frames, ignore_index=True)
    obs = obs[obs["old_la_code"].notna() & obs["old_la_code"].ne("")]
    dup = obs.duplicated(["old_la_code", "time_period", "measure"], keep=False)
    if dup.any():
        first = obs[dup].iloc[0]
        raise ValueError(
            f"Two return files supply {first['measure']} for {first['la_name']} in "
            f"{month_label(int(first['time_period']))}."
        )
    la = _wide(obs, ["old_la_code", "time_period", "year"]).rename(
        columns={"time_period": "period"}
    )
    units, excluded = aggregate_units(la, geo, boundary_policy, time="period")
    units = add_rates(units).sort_values(["unit_id", "period"]).reset_index(drop=True)
    units["period"] = units["period"].astype(int)
    units.insert(3, "period_label", units["period"].map(month_label))
    units.insert(4, "calendar_year", units["period"] // 12 + 2000)
    units.insert(5, "month", units["period"] % 12 + 1)
    national = units.iloc[0:0].copy()  # returns carry LA rows only
    hashes = {f.name: sha256_file(f) for f in files}
    lookup = Path(data_dir) / "public" / "la_lookup_old_la_codes.csv"
    if lookup.exists():
        hashes[lookup.name] = sha256_file(lookup)
    return Panel(
        units,
        national,
        obs,
        findings,
        boundary_policy,
        hashes,
        excluded,
        validation,
        {},
        time="period",
        frequency="month",
        synthetic=synthetic,
    )


def cached_returns_panel(
    files: tuple[str, ...],
    boundary_policy: str,
    contract: str = "pilot_returns",
    data_dir: str = str(DEFAULT_DATA_DIR),
    synthetic: bool = False,
) -> Panel:
    """:func:`build_returns_panel` once per set of inputs, in this process and on disk
    (``.cache/`` keyed by the hash of the return files, reference data, contracts and code)."""

    from evaluation.panel.plan import DataMissingError

    missing = [f for f in files if not Path(f).exists()]
    if missing:
        raise DataMissingError(f"return file(s) not found: {', '.join(missing)}")
    key = panel_cache_key(
        data_dir, f"{boundary_policy}|{contract}|{synthetic}", extra=[Path(f) for f in files]
    )
    build = lambda: build_returns_panel(  # noqa: E731
        list(files), boundary_policy, contract=contract, data_dir=data_dir, synthetic=synthetic
    )
    return _memo("month" + key, lambda: cached("returns-panel", key, build, Panel))


def panel_for_plan(plan) -> Panel:
    """The analysis panel a plan reads: public statistics by year (:func:`cached_panel`) or
    monthly returns (:func:`cached_returns_panel`).  A missing input raises
    :class:`evaluation.plan.DataMissingError` with the plan's hint (e.g. run make demo-data)."""
    plan.require_data()
    if plan.frequency == "year":
        return cached_panel(str(plan.data_dir), plan.boundary_policy)
    return cached_returns_panel(
        tuple(str(f) for f in plan.returns_files),
        plan.boundary_policy,
        plan.returns_contract,
        str(plan.data_dir),
        plan.synthetic,
    )
