"""The evaluation plan: a YAML file declaring, before results are seen, what is evaluated and how.

:func:`load_plan` validates the file and raises :class:`PlanError` naming the file, the key and
the rule, so a typo fails loudly rather than changing an analysis quietly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .geography import PROJECT_ROOT
from .ingest import SOURCES
from .outcomes import CATALOGUE

PARTIAL_HANDLING = {"exclude", "pre", "post"}


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

    @property
    def pilot_codes(self) -> list[str]:
        return [p.la_code for p in self.pilots]

    def pilot(self, code: str) -> Pilot:
        return next(p for p in self.pilots if p.la_code == code)

    @property
    def pre_years(self) -> list[int]:
        return self._years(self.pre)

    @property
    def post_years(self) -> list[int]:
        return self._years(self.post)

    def _years(self, span: tuple[int, int]) -> list[int]:
        excluded = {p["year"] for p in self.partially_treated if p["handling"] == "exclude"}
        return [y for y in range(span[0], span[1] + 1) if y not in excluded]


def _require(cond: bool, path: Path, key: str, rule: str) -> None:
    if not cond:
        raise PlanError(f"{path}: key '{key}': {rule}")


def load_plan(path: Path | str) -> Plan:
    """Read and validate a plan file."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / path
    if not path.exists():
        raise PlanError(f"{path}: plan file not found.")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise PlanError(f"{path}: not valid YAML: {exc}") from None
    _require(isinstance(raw, dict), path, "(top level)", "must be a mapping of keys to values")
    for key in ["name", "pilots", "outcomes", "periods", "inference"]:
        _require(key in raw, path, key, "is required")
    data = raw.get("data", {}) or {}
    sources = list(data.get("sources", list(SOURCES)))
    for s in sources:
        _require(
            s in SOURCES,
            path,
            "data.sources",
            f"unknown source '{s}' (known: {', '.join(SOURCES)})",
        )
    policy = (raw.get("geography") or {}).get("boundary_policy", "aggregate")
    _require(
        policy in {"aggregate", "exclude"},
        path,
        "geography.boundary_policy",
        "must be 'aggregate' or 'exclude'",
    )
    pilots = []
    for i, p in enumerate(raw["pilots"]):
        key = f"pilots[{i}]"
        for k in ["la_code", "la_name", "partnership", "start_date"]:
            _require(k in p, path, f"{key}.{k}", "is required")
        code = str(p["la_code"])
        _require(
            len(code) == 3 and code.isdigit(),
            path,
            f"{key}.la_code",
            "must be a 3-digit DfE LA code",
        )
        start = p["start_date"]
        if isinstance(start, str):
            try:
                start = dt.date.fromisoformat(start)
            except ValueError:
                raise PlanError(f"{path}: key '{key}.start_date': must be an ISO date") from None
        _require(isinstance(start, dt.date), path, f"{key}.start_date", "must be an ISO date")
        pilots.append(
            Pilot(code, str(p["la_name"]), str(p["partnership"]), str(p.get("role", "")), start)
        )
    codes = [p.la_code for p in pilots]
    _require(len(codes) == len(set(codes)), path, "pilots", "an LA is listed twice")
    outcomes = []
    for role in ["primary", "secondary"]:
        for i, o in enumerate(raw["outcomes"].get(role, []) or []):
            key = f"outcomes.{role}[{i}]"
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
            outcomes.append(PlannedOutcome(o["name"], role, float(mid)))
    _require(
        any(o.role == "primary" for o in outcomes),
        path,
        "outcomes.primary",
        "at least one primary outcome is required",
    )
    periods = raw["periods"]
    pre, post = tuple(periods.get("pre", [])), tuple(periods.get("post", []))
    for key, span in [("periods.pre", pre), ("periods.post", post)]:
        _require(
            len(span) == 2 and all(isinstance(y, int) for y in span) and span[0] <= span[1],
            path,
            key,
            "must be [first_year, last_year]",
        )
    _require(pre[1] < post[0], path, "periods", "the pre-period must end before the post-period")
    partial = list(periods.get("partially_treated", []) or [])
    for i, p in enumerate(partial):
        _require(
            p.get("handling") in PARTIAL_HANDLING,
            path,
            f"periods.partially_treated[{i}].handling",
            f"must be one of {sorted(PARTIAL_HANDLING)}",
        )
    inference = raw["inference"]
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
    threshold = (raw.get("disclosure") or {}).get("threshold", 10)
    _require(
        isinstance(threshold, int) and threshold >= 1,
        path,
        "disclosure.threshold",
        "must be a positive integer",
    )
    pool = raw.get("comparison_pool") or {}
    _require(
        pool.get("include", "all_other_las") == "all_other_las",
        path,
        "comparison_pool.include",
        "only 'all_other_las' is implemented",
    )
    its_cfg = dict(raw.get("its") or {})
    its_cfg.setdefault("first_year", pre[0])
    its_cfg.setdefault("effects", "level")
    its_cfg.setdefault("method", "ar1-reml")
    _require(
        isinstance(its_cfg["first_year"], int) and its_cfg["first_year"] <= pre[0],
        path,
        "its.first_year",
        "must be a year no later than the start of the pre-period",
    )
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
        partially_treated=partial,
        alpha=float(alpha),
        seed=seed,
        inference=dict(inference),
        disclosure_threshold=threshold,
        its=its_cfg,
        raw=raw,
    )
