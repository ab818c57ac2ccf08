"""What one area's estimates depend on, as one content hash: the key of its cache entry.

An area's estimates (:func:`evaluation.designs.area.area_estimates`) read:

* the panel rows of the area itself and of every unit in its comparison pool (pilots are never
  in a pool, so another pilot's rows do not enter), the England rows, and the regions of those
  units (placebo partnerships are drawn within regions);
* the data-quality findings that concern the area, its pool or no LA in particular;
* each outcome's chosen pre-period, which *does* depend on every pilot (the in-time placebo
  check of :mod:`evaluation.designs.pre_period` combines them), so it enters as the choice
  made (years, check estimate and p-value);
* the plan (as read), the seed, the code and reference files that compute the estimates
  (:func:`estimation_version`) and the estimator table as it stands in the process
  (:func:`registry_digest`: an estimator registered in a notebook changes the key).

:func:`area_key` hashes exactly these.  A change anywhere else (another pilot's returns, a
report template) leaves the key, and so the cached estimates, as they are.
``tests/test_incremental.py`` checks the list is complete: an edit to one pilot's rows leaves
every other pilot's freshly computed estimates equal to its cached ones.
"""

from __future__ import annotations

from functools import lru_cache

from evaluation.config import PROJECT_ROOT
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.panel.build import Panel
from evaluation.panel.cache import digest, files_digest, frame_digest
from evaluation.panel.plan import Plan

_SHARED: dict = {}  # (id of panel, plan path) -> (panel, digest of what every area shares)


def estimation_sources() -> list:
    """The files whose content decides the estimates: the package's code outside the report
    and the command line, the data contracts and the reference geography."""
    package = PROJECT_ROOT / "evaluation"
    code = [
        p for p in package.rglob("*.py") if p.relative_to(package).parts[0] not in {"report", "cli"}
    ]
    return sorted(code) + sorted((PROJECT_ROOT / "data_contracts").glob("*.yaml"))


@lru_cache(maxsize=1)
def estimation_version() -> str:
    """A hash of :func:`estimation_sources` (once per process)."""
    return files_digest(estimation_sources())


def shared_digest(panel: Panel, plan: Plan) -> str:
    """The part of every area's key that is the same for all areas of a plan: the comparison
    pool's rows and findings, England's rows, the pre-period choices, the plan and the code."""
    key = (id(panel), str(plan.path))
    hit = _SHARED.get(key)
    if hit is not None and hit[0] is panel:  # holding the panel keeps its id unique
        return hit[1]
    pool = comparison_pool(panel, plan)
    units = panel.units[panel.units["unit_id"].isin(pool)]
    choices = [chosen_pre_period(panel, plan, o.name).to_dict() for o in plan.outcomes]
    geography = plan.data_dir / "reference" / "geography.yaml"
    value = digest(
        frame_digest(units),
        frame_digest(panel.national),
        _findings_digest(panel, plan, None),
        sorted((u, panel.regions.get(u)) for u in pool),
        choices,
        repr(plan.raw),
        panel.boundary_policy,
        panel.frequency,
        estimation_version(),
        files_digest([geography]) if geography.exists() else "",
    )
    _SHARED[key] = (panel, value)
    return value


def registry_digest() -> str:
    """The estimator table as it stands in this process: its entries, and the code of any
    runner from outside this package (an estimator a researcher registered in a notebook)."""
    import importlib

    from evaluation.designs import registry

    parts = [repr(registry.ESTIMATORS)]
    for entry in registry.ESTIMATORS:
        for target in entry.runners.values():
            module, _, name = target.partition(":")
            if module.startswith("evaluation."):
                continue  # in estimation_sources
            try:
                code = getattr(importlib.import_module(module), name).__code__
                parts += [code.co_code, repr(code.co_consts)]
            except (ImportError, AttributeError):
                parts.append(f"unresolved {target}")
    return digest(*parts)


def area_key(panel: Panel, plan: Plan, code: str, seed: int) -> str:
    """The content hash of everything ``code``'s estimates depend on (module docstring)."""
    rows = panel.units[panel.units["unit_id"] == code]
    return digest(
        "area-estimates",
        registry_digest(),
        code,
        int(seed),
        frame_digest(rows),
        panel.regions.get(code),
        _findings_digest(panel, plan, code),
        shared_digest(panel, plan),
    )


def page_data_key(panel: Panel, plan: Plan, code: str) -> str:
    """What an area's page draws from the panel beyond its results.json: the planned
    outcomes' rate, numerator and denominator columns (with names and periods) of the area's
    and its comparison pool's rows, the findings it lists, the pre-period choices and the
    plan.  An edit to a column no planned outcome uses re-estimates the area (its
    :func:`area_key` hashes every column) but leaves its page as it is."""
    from evaluation.panel.outcomes import CATALOGUE

    columns = ["unit_id", "unit_name", panel.time]
    for planned in plan.outcomes:
        o = CATALOGUE[planned.name]
        columns += [c for c in (o.name, o.numerator, o.denominator) if c not in columns]
    units = panel.units[panel.units["unit_id"].isin([code, *comparison_pool(panel, plan)])]
    choices = [chosen_pre_period(panel, plan, o.name).to_dict() for o in plan.outcomes]
    return digest(
        "page data",
        code,
        frame_digest(units[[c for c in columns if c in units.columns]]),
        _findings_digest(panel, plan, code),
        _findings_digest(panel, plan, None),
        choices,
        repr(plan.raw),
    )


def _findings_digest(panel: Panel, plan: Plan, code: str | None) -> str:
    """Findings about ``code`` (or, for None, those about no pilot: the pool's and general
    ones), as the report's data-quality section lists them."""
    frame = panel.findings_by_la()
    if frame.empty:
        return "no findings"
    pilots = set(plan.pilot_codes)
    mine = frame["la_code"] == code if code is not None else ~frame["la_code"].isin(pilots)
    return frame_digest(frame[mine].astype(str))
