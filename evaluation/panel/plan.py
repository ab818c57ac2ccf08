"""The evaluation plan: a YAML file declaring, before results are seen, what is evaluated and how.

:func:`load_plan` validates the file and raises :class:`PlanError` naming the file, the key and
the rule, so a typo fails loudly rather than changing an analysis quietly.

Frequency.  ``frequency: year`` (the default) reads the shipped public statistics
(``data.sources``) and its periods are calendar years.  ``frequency: month`` reads area x month
returns in the EES layout (``data.returns.files``, validated with ``data.returns.contract``,
default ``pilot_returns``); its periods are written ``YYYY-MM`` in the plan and held as an
orderable integer index, months since January 2000 (:func:`month_index`; 2021-01 -> 252), with
labels such as ``Jan 2021`` for display (:meth:`Plan.period_label`).  Partially treated months
are declared as a span, ``{months: [YYYY-MM, YYYY-MM], handling: exclude, why: ...}`` (a
washout); each normalised entry then lists its period indices under ``periods``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evaluation.config import PROJECT_ROOT, read_yaml
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan_options import pool_options, pre_options
from evaluation.panel.sources import SOURCES

PARTIAL_HANDLING = {"exclude", "pre", "post"}
FREQUENCIES = ("year", "month")
ALTERNATIVES = ("event_study", "synthetic_control", "synthetic_did", "similar_areas")
MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
BASE_YEAR = 2000  # month index 0 = January 2000


def month_index(value) -> int:
    """Months since January 2000 of 'YYYY-MM' (or a date): 2021-01 -> 252."""
    if isinstance(value, (dt.date, dt.datetime)):
        year, month = value.year, value.month
    else:
        text = str(value).strip()
        parts = text.split("-")
        if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise ValueError(f"'{value}' is not a month written YYYY-MM")
        year, month = int(parts[0]), int(parts[1])
        if len(parts[0]) != 4 or not 1 <= month <= 12:
            raise ValueError(f"'{value}' is not a month written YYYY-MM")
    return (year - BASE_YEAR) * 12 + (month - 1)


def month_of_index(index: int) -> tuple[int, int]:
    """(year, month 1-12) of a month index."""
    year, m = divmod(int(index), 12)
    return BASE_YEAR + year, m + 1


def month_label(index: int) -> str:
    """'Jan 2021' for a month index."""
    year, month = month_of_index(index)
    return f"{MONTH_ABBR[month - 1]} {year}"


def month_text(index: int) -> str:
    """'2021-01' for a month index (the plan's own notation)."""
    year, month = month_of_index(index)
    return f"{year}-{month:02d}"


class DataMissingError(FileNotFoundError):
    """An input file the plan reads does not exist (e.g. synthetic data not generated yet).

    A ``FileNotFoundError`` (so an ``OSError``): the command line reports it as 'input data could
    not be read' (exit code 4); the message says what to run."""


class PlanError(ValueError):
    """The plan file is invalid."""


@dataclass(frozen=True)
class Pilot:
    la_code: str
    la_name: str
    partnership: str
    role: str
    start_date: dt.date


@dataclass(frozen=True)
class PlannedOutcome:
    name: str
    role: str  # primary or secondary
    minimum_important_difference: float


@dataclass
class Plan:
    name: str
    title: str
    description: str
    path: Path
    data_dir: Path
    sources: list[str]
    boundary_policy: str
    pilots: list[Pilot]
    comparison_exclude: list[str]
    outcomes: list[PlannedOutcome]
    pre: tuple[int, int]
    post: tuple[int, int]
    partially_treated: list[dict]
    alpha: float
    seed: int
    inference: dict
    disclosure_threshold: int
    its: dict = field(default_factory=dict)
    raw: dict = field(repr=False, default_factory=dict)
    frequency: str = "year"
    returns_files: list[Path] = field(default_factory=list)  # frequency month: EES-layout returns
    returns_contract: str = "pilot_returns"
    missing_data_hint: str = ""
    synthetic: bool = False  # the plan reads SYNTHETIC data (said on every report page)
    # estimators shown beside the headline DiD (all on by default): event_study,
    # synthetic_control, synthetic_did
    alternatives: dict = field(default_factory=lambda: dict.fromkeys(ALTERNATIVES, True))
    # yearly plans: the pre-period used for an outcome whose long pre-period fails its in-time
    # placebo check, and the pre-periods shown as a sensitivity ({pre, why}); see
    # designs/pre_period.py
    fallback_pre: tuple | None = None
    pre_sensitivity: list = field(default_factory=list)
    similar_areas: dict | None = None  # {k, region}: designs/similar_areas.py
    min_donor_denominator: float = 0.0  # synthetic donors' smallest mean pre-period denominator
    synthetic_ridge: float = 0.0  # synthetic control's ridge penalty (models/synthetic_control)

    @property
    def pilot_codes(self) -> list[str]:
        return [p.la_code for p in self.pilots]

    def pilot(self, code: str) -> Pilot:
        return next(p for p in self.pilots if p.la_code == code)

    @property
    def pre_years(self) -> list[int]:
        """Pre-period periods (years; month indices for a monthly plan)."""
        return self._years(self.pre)

    @property
    def post_years(self) -> list[int]:
        """Post-period periods (years; month indices for a monthly plan)."""
        return self._years(self.post)

    pre_periods = pre_years
    post_periods = post_years

    @property
    def monthly(self) -> bool:
        return self.frequency == "month"

    @property
    def period_word(self) -> str:
        """'year' or 'month', for prose."""
        return self.frequency

    @property
    def excluded_periods(self) -> list[int]:
        """Partially treated periods left out of both the pre- and the post-period."""
        out = []
        for p in self.partially_treated:
            if p["handling"] == "exclude":
                out.extend(p["periods"] if "periods" in p else [p["year"]])
        return sorted(set(out))

    def _years(self, span: tuple[int, int]) -> list[int]:
        excluded = set(self.excluded_periods)
        return [y for y in range(span[0], span[1] + 1) if y not in excluded]

    def period_label(self, period) -> str:
        """Display label of a period: '2024' or 'Jan 2024'."""
        return month_label(int(period)) if self.monthly else str(period)

    def partial_label(self, entry: dict) -> str:
        """Display label of a partially treated entry: '2023' or 'Sep 2023 to Feb 2024'."""
        if "periods" not in entry:
            return str(entry["year"])
        ps = entry["periods"]
        first, last = self.period_label(ps[0]), self.period_label(ps[-1])
        return first if len(ps) == 1 else f"{first} to {last}"

    def start_period(self, start_date: dt.date) -> int:
        """The period in which a pilot starts (its year, or its month index)."""
        return month_index(start_date) if self.monthly else start_date.year

    def missing_data(self) -> list[Path]:
        """Input files this plan reads that do not exist."""
        if self.monthly:
            return [p for p in self.returns_files if not p.exists()]
        from evaluation.panel.sources import SOURCES as _S

        files = [self.data_dir / "public" / _S[k].file for k in self.sources]
        return [p for p in files if not p.exists()]

    def require_data(self) -> None:
        """Raise :class:`DataMissingError` (what is missing and what to run) if an input is
        missing; call before rendering so a fresh clone gets a clear message."""
        missing = self.missing_data()
        if missing:
            hint = self.missing_data_hint or "Check the plan's data section."
            names = ", ".join(_display(p) for p in missing)
            raise DataMissingError(
                f"The plan '{self.name}' reads {names}, which does not exist. {hint}"
            )


def _display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _require(cond: bool, path: Path, key: str, rule: str) -> None:
    if not cond:
        raise PlanError(f"{path}: key '{key}': {rule}")


def load_plan(path: Path | str) -> Plan:
    """Read and validate a plan file."""
    path = _plan_path(path)
    raw = _read_raw(path)
    data = raw.get("data", {}) or {}
    frequency = _frequency(raw, path)
    monthly = frequency == "month"
    returns = _returns(data, path, monthly)
    sources = _sources(data, path, monthly)
    policy = _boundary_policy(raw, path)
    pilots = _pilots(raw, path)
    outcomes = _outcomes(raw, path)
    periods = raw["periods"]
    pre, post = _periods(periods, path, monthly)
    fallback_pre, sensitivity = pre_options(periods, path, pre, post, monthly, _require)
    partial = _partially_treated(periods, path, monthly)
    inference = raw["inference"]
    alpha, seed = _inference(inference, path)
    threshold = _disclosure_threshold(raw, path)
    pool = _comparison_pool(raw, path)
    pool_opts = pool_options(pool, path, _require)
    alternatives = _alternatives(raw, path)
    its_cfg = _its(raw, path, monthly, pre)
    return Plan(
        name=str(raw["name"]),
        title=str(raw.get("title", raw["name"])),
        description=str(raw.get("description", "")).strip(),
        path=path,
        data_dir=(PROJECT_ROOT / data.get("directory", "data")).resolve(),
        sources=sources,
        boundary_policy=policy,
        pilots=pilots,
        comparison_exclude=[str(c) for c in pool.get("exclude", []) or []],
        outcomes=outcomes,
        pre=pre,
        post=post,
        fallback_pre=fallback_pre,
        pre_sensitivity=sensitivity,
        similar_areas=pool_opts["similar_areas"],
        min_donor_denominator=pool_opts["min_donor_denominator"],
        synthetic_ridge=pool_opts["synthetic_ridge"],
        partially_treated=partial,
        alpha=float(alpha),
        seed=seed,
        inference=dict(inference),
        disclosure_threshold=threshold,
        its=its_cfg,
        raw=raw,
        frequency=frequency,
        returns_files=[_data_path(f) for f in returns.get("files", [])] if monthly else [],
        returns_contract=str(returns.get("contract", "pilot_returns")),
        missing_data_hint=str(returns.get("if_missing", "") or "").strip(),
        synthetic=bool(raw.get("synthetic", False)),
        alternatives=alternatives,
    )


# ---- load_plan steps, in the order their checks run -------------------------------------
def _plan_path(path: Path | str) -> Path:
    """The plan file's path: as given if it exists, else relative to the project root."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / path
    return path


def _read_raw(path: Path) -> dict:
    """Parse the plan's YAML and check it is a mapping with every required top-level key."""
    if not path.exists():
        raise PlanError(f"{path}: plan file not found.")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = read_yaml(fh)
        except yaml.YAMLError as exc:
            raise PlanError(f"{path}: not valid YAML: {exc}") from None
    _require(isinstance(raw, dict), path, "(top level)", "must be a mapping of keys to values")
    for key in ["name", "pilots", "outcomes", "periods", "inference"]:
        _require(key in raw, path, key, "is required")
    return raw


def _frequency(raw: dict, path: Path) -> str:
    """The plan's frequency ('year' by default), checked against :data:`FREQUENCIES`."""
    frequency = raw.get("frequency", "year")
    _require(
        frequency in FREQUENCIES, path, "frequency", f"must be one of {', '.join(FREQUENCIES)}"
    )
    return frequency


def _returns(data: dict, path: Path, monthly: bool) -> dict:
    """``data.returns``; a monthly plan must list its return files and no public sources."""
    returns = data.get("returns") or {}
    if monthly:
        _require(
            isinstance(returns, dict) and isinstance(returns.get("files"), list),
            path,
            "data.returns.files",
            "a monthly plan lists its EES-layout return files here",
        )
        _require(
            "sources" not in data,
            path,
            "data.sources",
            "the public sources are annual; a monthly plan reads data.returns instead",
        )
    return returns


def _sources(data: dict, path: Path, monthly: bool) -> list[str]:
    """The public sources an annual plan reads (all by default; none for a monthly plan)."""
    sources = [] if monthly else list(data.get("sources", list(SOURCES)))
    for s in sources:
        _require(
            s in SOURCES,
            path,
            "data.sources",
            f"unknown source '{s}' (known: {', '.join(SOURCES)})",
        )
    return sources


def _boundary_policy(raw: dict, path: Path) -> str:
    """``geography.boundary_policy``: 'aggregate' (the default) or 'exclude'."""
    policy = (raw.get("geography") or {}).get("boundary_policy", "aggregate")
    _require(
        policy in {"aggregate", "exclude"},
        path,
        "geography.boundary_policy",
        "must be 'aggregate' or 'exclude'",
    )
    return policy


def _pilots(raw: dict, path: Path) -> list[Pilot]:
    """The pilot LAs, each validated, with no LA listed twice."""
    pilots = [_pilot(p, f"pilots[{i}]", path) for i, p in enumerate(raw["pilots"])]
    codes = [p.la_code for p in pilots]
    _require(len(codes) == len(set(codes)), path, "pilots", "an LA is listed twice")
    return pilots


def _pilot(p: dict, key: str, path: Path) -> Pilot:
    """One pilot entry: its required keys, a 3-digit LA code and an ISO start date."""
    for k in ["la_code", "la_name", "partnership", "start_date"]:
        _require(k in p, path, f"{key}.{k}", "is required")
    code = str(p["la_code"])
    _require(
        len(code) == 3 and code.isdigit(),
        path,
        f"{key}.la_code",
        "must be a 3-digit DfE LA code",
    )
    start = _start_date(p["start_date"], path, f"{key}.start_date")
    return Pilot(code, str(p["la_name"]), str(p["partnership"]), str(p.get("role", "")), start)


def _start_date(start, path: Path, key: str) -> dt.date:
    """A pilot's start date: a date, or a string parsed as an ISO date."""
    if isinstance(start, str):
        try:
            start = dt.date.fromisoformat(start)
        except ValueError:
            raise PlanError(f"{path}: key '{key}': must be an ISO date") from None
    _require(isinstance(start, dt.date), path, key, "must be an ISO date")
    return start


def _outcomes(raw: dict, path: Path) -> list[PlannedOutcome]:
    """The primary then secondary outcomes, from the catalogue, with at least one primary."""
    outcomes = []
    for role in ["primary", "secondary"]:
        for i, o in enumerate(raw["outcomes"].get(role, []) or []):
            outcomes.append(_outcome(o, role, f"outcomes.{role}[{i}]", path))
    _require(
        any(o.role == "primary" for o in outcomes),
        path,
        "outcomes.primary",
        "at least one primary outcome is required",
    )
    return outcomes


def _outcome(o: dict, role: str, key: str, path: Path) -> PlannedOutcome:
    """One planned outcome: a catalogue name and a positive minimum important difference."""
    _require(
        o.get("name") in CATALOGUE,
        path,
        f"{key}.name",
        f"unknown outcome '{o.get('name')}' (catalogue: {', '.join(CATALOGUE)})",
    )
    mid = o.get("minimum_important_difference")
    _require(
        isinstance(mid, (int, float)) and mid > 0,
        path,
        f"{key}.minimum_important_difference",
        "must be a positive number",
    )
    return PlannedOutcome(o["name"], role, float(mid))


def _periods(periods: dict, path: Path, monthly: bool) -> tuple[tuple, tuple]:
    """The pre- and post-period spans (years, or month indices), the pre ending first."""
    if monthly:
        pre = _month_span(periods.get("pre", []), path, "periods.pre")
        post = _month_span(periods.get("post", []), path, "periods.post")
    else:
        pre, post = tuple(periods.get("pre", [])), tuple(periods.get("post", []))
    for key, span in [("periods.pre", pre), ("periods.post", post)]:
        _require(
            len(span) == 2 and all(isinstance(y, int) for y in span) and span[0] <= span[1],
            path,
            key,
            "must be [first_year, last_year]",
        )
    _require(pre[1] < post[0], path, "periods", "the pre-period must end before the post-period")
    return pre, post


def _partially_treated(periods: dict, path: Path, monthly: bool) -> list[dict]:
    """The partially treated entries, each with a valid handling (monthly: with ``periods``)."""
    partial = list(periods.get("partially_treated", []) or [])
    for i, p in enumerate(partial):
        _require(
            p.get("handling") in PARTIAL_HANDLING,
            path,
            f"periods.partially_treated[{i}].handling",
            f"must be one of {sorted(PARTIAL_HANDLING)}",
        )
    if monthly:
        normalised = []
        for i, p in enumerate(partial):
            key = f"periods.partially_treated[{i}].months"
            lo, hi = _month_span(p.get("months", []), path, key)
            normalised.append({**p, "periods": list(range(lo, hi + 1))})
        partial = normalised
    return partial


def _inference(inference: dict, path: Path) -> tuple:
    """(alpha, seed) of the ``inference`` section, whose method must be placebo in space."""
    alpha = inference.get("alpha", 0.05)
    _require(
        isinstance(alpha, float) and 0 < alpha < 0.5, path, "inference.alpha", "must be in (0, 0.5)"
    )
    seed = inference.get("seed")
    _require(
        isinstance(seed, int) and seed >= 0,
        path,
        "inference.seed",
        "must be a non-negative integer",
    )
    _require(
        inference.get("method") == "placebo_in_space",
        path,
        "inference.method",
        "only 'placebo_in_space' is implemented for per-area reports",
    )
    return alpha, seed


def _disclosure_threshold(raw: dict, path: Path) -> int:
    """``disclosure.threshold`` (10 by default), a positive integer."""
    threshold = (raw.get("disclosure") or {}).get("threshold", 10)
    _require(
        isinstance(threshold, int) and threshold >= 1,
        path,
        "disclosure.threshold",
        "must be a positive integer",
    )
    return threshold


def _comparison_pool(raw: dict, path: Path) -> dict:
    """The ``comparison_pool`` section; only 'all_other_las' may be included."""
    pool = raw.get("comparison_pool") or {}
    _require(
        pool.get("include", "all_other_las") == "all_other_las",
        path,
        "comparison_pool.include",
        "only 'all_other_las' is implemented",
    )
    return pool


def _alternatives(raw: dict, path: Path) -> dict:
    """Which alternative estimators are shown (all by default), each switched true or false."""
    alternatives = dict.fromkeys(ALTERNATIVES, True)
    for key, value in (raw.get("alternatives") or {}).items():
        _require(key in ALTERNATIVES, path, f"alternatives.{key}", f"must be one of {ALTERNATIVES}")
        _require(isinstance(value, bool), path, f"alternatives.{key}", "must be true or false")
        alternatives[key] = value
    return alternatives


def _its(raw: dict, path: Path, monthly: bool, pre: tuple) -> dict:
    """The ``its`` settings with defaults filled in, its first period and its model checked."""
    its_cfg = dict(raw.get("its") or {})
    if monthly:
        _its_monthly_start(its_cfg, path, pre)
    else:
        _its_annual_start(its_cfg, path, pre)
    its_cfg.setdefault("effects", "level")
    its_cfg.setdefault("method", "ar1-reml")
    _require(
        its_cfg["effects"] in {"level", "level+slope"},
        path,
        "its.effects",
        "must be 'level' or 'level+slope'",
    )
    _require(
        its_cfg["method"] in {"ar1-reml", "ols-hac", "glsar", "ols"},
        path,
        "its.method",
        "must be one of ar1-reml, ols-hac, glsar, ols",
    )
    return its_cfg


def _its_monthly_start(its_cfg: dict, path: Path, pre: tuple) -> None:
    """Monthly ITS: set ``first_period`` (a month index) and the seasonality defaults."""
    first = its_cfg.get("first_period", month_text(pre[0]))
    try:
        its_cfg["first_period"] = month_index(first)
    except ValueError:
        raise PlanError(f"{path}: key 'its.first_period': must be a month YYYY-MM") from None
    _require(
        its_cfg["first_period"] <= pre[0],
        path,
        "its.first_period",
        "must be a month no later than the start of the pre-period",
    )
    its_cfg.setdefault("harmonics", 0)
    its_cfg.setdefault("season_period", 12)
    _require(
        isinstance(its_cfg["harmonics"], int) and 0 <= its_cfg["harmonics"] <= 6,
        path,
        "its.harmonics",
        "must be an integer from 0 (no seasonality) to 6 (Fourier pairs, period 12)",
    )


def _its_annual_start(its_cfg: dict, path: Path, pre: tuple) -> None:
    """Annual ITS: check ``first_year`` (default: the pre-period start); it is the first period."""
    its_cfg.setdefault("first_year", pre[0])
    _require(
        isinstance(its_cfg["first_year"], int) and its_cfg["first_year"] < pre[1],
        path,
        "its.first_year",
        "must be a year before the end of the pre-period",
    )
    its_cfg["first_period"] = its_cfg["first_year"]


def _data_path(value) -> Path:
    """A data path from the plan: absolute, or relative to the project root."""
    p = Path(str(value))
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


def _month_span(span, path: Path, key: str) -> tuple:
    """[YYYY-MM, YYYY-MM] -> (first, last) month indices."""
    _require(
        isinstance(span, (list, tuple)) and len(span) == 2,
        path,
        key,
        "must be [first_month, last_month], each written YYYY-MM",
    )
    try:
        lo, hi = month_index(span[0]), month_index(span[1])
    except ValueError as exc:
        raise PlanError(f"{path}: key '{key}': {exc}") from None
    _require(lo <= hi, path, key, "the first month must not be after the last")
    return (lo, hi)
