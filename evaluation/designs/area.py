"""Per-area evaluation: everything an evidence report shows, computed once, from one place.

``evaluate_area(area, plan)`` returns an :class:`~evaluation.designs.area_result.AreaEvaluation`;
the report notebook only displays it, and ``results.json`` is its ``to_json()``.  Text, tables
and charts therefore come from the same numbers.  The steps live beside it: the sample
(:mod:`.area_sample`), the robustness estimators (:mod:`.area_alternatives`), the ITS
(:mod:`.area_its`) and disclosure control (:mod:`.area_disclosure`).

The area's own estimates (everything but the pooling across pilots, the multiplicity
adjustment and disclosure control, which are cheap and depend on other areas or are applied
last) are :func:`area_estimates`: kept in the one cache under :func:`.area_key.area_key`, so
an unchanged area is never re-estimated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from evaluation.config import slugify
from evaluation.designs.area_alternatives import area_alternatives
from evaluation.designs.area_disclosure import apply_disclosure
from evaluation.designs.area_headline import headline_did, pre_period_sensitivity
from evaluation.designs.area_its import area_its
from evaluation.designs.area_key import area_key
from evaluation.designs.area_result import AreaEvaluation, OutcomeResult
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.multiplicity import area_romano_wolf
from evaluation.designs.pooling import pooled_effects
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.io.geography import Geography, load_geography
from evaluation.panel import cache
from evaluation.panel.build import Panel, panel_for_plan
from evaluation.panel.cache import read_pickle, write_pickle
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan, load_plan


def save_panel(panel: Panel, path: Path | str) -> Path:
    """Save a built panel for other processes (pickle; a run-local cache, never published)."""
    return write_pickle(panel, path)


@lru_cache(maxsize=2)
def load_panel(path: Path | str) -> Panel:
    """A panel saved by :func:`save_panel` in this run."""
    panel = read_pickle(path)
    if not isinstance(panel, Panel):
        raise TypeError(f"{path} does not hold an analysis panel")
    return panel


@dataclass
class AreaEstimates:
    """One area's own estimates, before pooling, adjustment and disclosure control."""

    key: str  # :func:`area_key`: what they were computed from
    outcomes: list[OutcomeResult]
    its: list[dict]


_ESTIMATES: dict[str, AreaEstimates] = {}  # key -> estimates, this process


def estimate_area(panel: Panel, plan: Plan, code: str, seed: int) -> AreaEstimates:
    """Estimate every planned outcome for pilot ``code`` (the headline DiD, the pre-period
    sensitivity, the robustness estimators and the ITS): the expensive part of a report."""
    pool = comparison_pool(panel, plan)
    start = plan.start_period(plan.pilot(code).start_date)
    results = []
    for planned in plan.outcomes:
        outcome = CATALOGUE[planned.name]
        res = headline_did(panel, plan, code, pool, outcome)
        alternatives = area_alternatives(panel, plan, code, pool, outcome, start)
        o = OutcomeResult(planned, outcome, res, alternatives)
        o.pre_period = chosen_pre_period(panel, plan, outcome.name).to_dict()
        o.sensitivity = pre_period_sensitivity(panel, plan, code, pool, outcome)
        results.append(o)
    its_results = area_its(panel, plan, code, pool, [r.outcome for r in results], start, seed)
    return AreaEstimates(area_key(panel, plan, code, seed), results, its_results)


def area_estimates(
    panel: Panel, plan: Plan, code: str, seed: int, refresh: bool = False
) -> AreaEstimates:
    """:func:`estimate_area` through the one cache (in this process and in ``.cache/``);
    ``refresh`` recomputes and replaces the entry (``make reports FORCE=1``)."""
    key = area_key(panel, plan, code, seed)
    hit = None if refresh else _ESTIMATES.get(key)
    if hit is None and not refresh:
        found = cache.load("area-estimates", key, AreaEstimates)
        hit = None if found is cache.MISSING else found
    if hit is None:
        hit = estimate_area(panel, plan, code, seed)
        cache.store("area-estimates", key, hit)
    _ESTIMATES[key] = hit
    return hit


def remember_estimates(estimates: AreaEstimates, store: bool = True) -> None:
    """Keep estimates made elsewhere (another process, a Dask worker) in this process's cache
    and, if ``store``, in ``.cache/``."""
    _ESTIMATES[estimates.key] = estimates
    if store:
        cache.store("area-estimates", estimates.key, estimates)


def save_evaluation(ev: AreaEvaluation, path: Path | str) -> Path:
    """Save a finished evaluation, without its panel, for the report kernel to display."""
    return write_pickle(replace(ev, panel=None), path)


def load_evaluation(path: Path | str, panel: Panel | str | Path) -> AreaEvaluation:
    """An evaluation saved by :func:`save_evaluation`, with its panel put back."""
    ev = read_pickle(path, AreaEvaluation)
    return replace(ev, panel=panel if isinstance(panel, Panel) else load_panel(panel))


def evaluate_area(
    area: str,
    plan: Plan | str | Path = "plans/change_programme_2023.yaml",
    seed: int | None = None,
    geo: Geography | None = None,
    panel: Panel | str | Path | None = None,
    saved: str | Path | None = None,
) -> AreaEvaluation:
    """Resolve ``area`` against the plan's pilots and estimate every planned outcome.

    ``panel`` may be a built :class:`Panel` or the path of one saved with
    :func:`save_panel` (``make reports`` builds it once and shares it with every area).
    ``saved`` is the path of this evaluation already made by :func:`save_evaluation` (``make
    reports`` evaluates every area before rendering, to know which pages changed)."""
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    if panel is None:
        panel = panel_for_plan(plan)
    elif not isinstance(panel, Panel):
        panel = load_panel(panel)
    if saved is not None:
        return load_evaluation(saved, panel)
    geo = geo or load_geography(plan.data_dir)
    code = geo.resolve_area(area, plan.pilot_codes)
    pilot = plan.pilot(code)
    seed = plan.seed if seed is None else int(seed)
    estimates = copy.deepcopy(area_estimates(panel, plan, code, seed))  # disclosure edits them
    results, its_results = estimates.outcomes, estimates.its
    name = geo.name_for_code(code) or pilot.la_name
    adjusted = area_romano_wolf({o.outcome.name: o.result for o in results})
    for o in results:
        o.pooled = pooled_effects(panel, plan, o.outcome.name).for_area(code)
        if o.outcome.name in adjusted:
            o.p_value_romano_wolf = max(adjusted[o.outcome.name], o.result.p_value)
        apply_disclosure(o, its_results, panel, code, plan.disclosure_threshold)
    return AreaEvaluation(
        la_code=code,
        name=name,
        gss_code=geo.current_gss(code),
        slug=slugify(name),
        partnership=pilot.partnership,
        start_date=pilot.start_date,
        plan=plan,
        seed=seed,
        panel=panel,
        outcomes=results,
        pool=comparison_pool(panel, plan),
        its=its_results,
        key=estimates.key,
    )
