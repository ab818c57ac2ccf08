"""Other estimators of one area's effect, shown beside the headline (the report's robustness
table): each entry of :mod:`evaluation.designs.registry` with a per-area runner, with placebo
inference; and the work every area report shares (placebo fits, batched synthetic-DiD fits),
kept in :class:`evaluation.panel.cache.DiskCache`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from evaluation.designs.area_sample import analysis_rows, comparison_pool, synthetic_donors
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.designs.registry import estimators
from evaluation.models.event_study import event_study_one_treated
from evaluation.models.intervals import within_bounds
from evaluation.models.results import EstimationResult
from evaluation.panel.build import Panel
from evaluation.panel.cache import DiskCache
from evaluation.panel.outcomes import CATALOGUE, Outcome
from evaluation.panel.plan import Plan

# Placebo fits of synthetic DiD do not involve the pilot, so every pilot evaluated against the
# same donors shares them (see ``placebo_cache`` in models/synthetic_control.py and synthetic_did.py): in this process, and across
# runs through .cache/ (keyed by the donors' data and the synthetic-DiD code).
_SDID_PLACEBOS: dict = DiskCache("sdid-placebos")

# The same for the synthetic control's placebo fits (each donor against the other donors).
_SC_PLACEBOS: dict = DiskCache("sc-placebos")

# The pilots' own synthetic-DiD fits, batched for all pilots at once by prefit_shared_work
# (make reports) and reused by each area's evaluation.
_SDID_TREATED: dict = DiskCache("sdid-treated")


@dataclass(frozen=True)
class AreaSpec:
    """What every per-area robustness runner receives."""

    plan: Plan
    time: str  # the panel's time column
    code: str  # the pilot area's unit
    pool: list[str]  # comparison units
    outcome: Outcome
    start: int  # the start period (a year, or a month index for monthly plans)
    pre: tuple = ()  # the outcome's pre-period (designs/pre_period.py); () = the plan's
    panel: Panel | None = field(default=None, compare=False, repr=False)


def area_alternatives(
    panel: Panel, plan: Plan, code: str, pool: list[str], outcome: Outcome, start_year: int
) -> dict[str, EstimationResult]:
    """Other estimators of the same per-area effect (one treated area: placebo inference for
    each): every ``area`` entry of :mod:`evaluation.designs.registry` the plan does not turn
    off.  An estimator that cannot run on this area's data is left out, not faked.
    ``start_year`` is the start period (a year, or a month index for monthly plans)."""
    pre = chosen_pre_period(panel, plan, outcome.name).years
    units = analysis_rows(panel, plan, pre)
    spec = AreaSpec(plan, panel.time, code, pool, outcome, start_year, tuple(pre), panel)
    out: dict[str, EstimationResult] = {}
    for entry in estimators("area"):
        if not plan.alternatives.get(entry.key, True):
            continue
        try:
            out[entry.key] = entry.runner("area")(units, spec)
        except ValueError:
            continue
    return out


def area_event_study(units: pd.DataFrame, spec: AreaSpec) -> EstimationResult:
    """Event study of the area against the pool, placebo inference."""
    outcome = spec.outcome
    es = event_study_one_treated(
        units,
        **_area_kw(spec),
        start=spec.start,
        pool=spec.pool,
        numerator=outcome.numerator,
        denominator=outcome.denominator,
        exclude=spec.plan.excluded_periods,
    )
    es.unit = outcome.unit
    return es


def _area_kw(spec: AreaSpec) -> dict:
    """The arguments every per-area estimator shares: columns, the area, the level."""
    return dict(
        unit="unit_id",
        time=spec.time,
        outcome=spec.outcome.name,
        treated=spec.code,
        alpha=spec.plan.alpha,
    )


def area_synthetic_control(units: pd.DataFrame, spec: AreaSpec) -> EstimationResult:
    """Synthetic control of the area from the pool, placebo inference (shared placebo fits)."""
    from evaluation.models.synthetic_control import synthetic_control

    res = synthetic_control(
        units,
        placebo_cache=_SC_PLACEBOS,
        ridge=spec.plan.synthetic_ridge,
        **_synthetic_kw(units, spec),
    )
    return _checked_synthetic(res, units, spec)


def area_synthetic_did(units: pd.DataFrame, spec: AreaSpec) -> EstimationResult:
    """Synthetic DiD of the area, rank (placebo) inference (shared placebo and prefit fits)."""
    from evaluation.models.synthetic_did import synthetic_did

    res = synthetic_did(
        units,
        inference="rank",
        placebo_cache=_SDID_PLACEBOS,
        treated_cache=_SDID_TREATED,
        seed=spec.plan.seed,
        **_synthetic_kw(units, spec),
    )
    return _checked_synthetic(res, units, spec)


def _synthetic_kw(units: pd.DataFrame, spec: AreaSpec) -> dict:
    plan = spec.plan
    pre = list(spec.pre) or plan.pre_years
    floor = plan.min_donor_denominator
    return {
        **_area_kw(spec),
        "pre": pre,
        "post": plan.post_years,
        "donors": synthetic_donors(units, spec.time, spec.outcome, spec.pool, pre, floor),
        "outcome_label": spec.outcome.name,
        "unit_label": spec.outcome.unit,
    }


def _checked_synthetic(res: EstimationResult, units: pd.DataFrame, spec: AreaSpec):
    """The pre-period fit check, and the interval bounded to effects a rate can have."""
    planned = next(p for p in spec.plan.outcomes if p.name == spec.outcome.name)
    res.diagnostics.update(pre_fit_check(res, planned.minimum_important_difference))
    post_vals = units.loc[
        (units["unit_id"] == spec.code) & units[spec.time].isin(spec.plan.post_years),
        spec.outcome.name,
    ].astype(float)
    bound_interval(res, post_vals, (0.0, 100.0))
    return res


def bound_interval(res: EstimationResult, post_vals: pd.Series, bounds: tuple) -> None:
    """Intersect a rate's interval with the effects that are logically possible (those that
    keep every post-period counterfactual inside ``bounds``), as ``did_one_treated`` does: a
    confidence set restricted to the parameter space keeps its coverage.  With few pre-periods
    and many donors, synthetic-control placebos can fit perfectly and give huge intervals."""
    if post_vals.empty or post_vals.isna().any():
        return
    lo, hi = within_bounds(res.ci_low, res.ci_high, post_vals, bounds)
    if (lo, hi) != (res.ci_low, res.ci_high):
        res.diagnostics["interval_before_bounds"] = [res.ci_low, res.ci_high]
        res.ci_low, res.ci_high = lo, hi
        res.conventions["bounds"] = (
            f"interval intersected with the effects that keep the post-period counterfactual "
            f"within {bounds}"
        )


def pre_fit_check(res: EstimationResult, mid: float) -> dict:
    """Is the synthetic comparison's pre-period fit good enough to use as evidence?  Poor if
    the pre-period RMSPE exceeds half the area's own pre-period SD, twice the median placebo
    pre-RMSPE, or the plan's minimum important difference (METHODOLOGY.md section 6)."""
    d = res.diagnostics
    pre = d.get("pre_rmspe")
    if pre is not None and pre < 1e-6:
        return {
            "pre_fit_ok": None,
            "pre_fit_problems": [
                "the pre-period fit is exact by construction (fewer pre-programme years than "
                "comparison areas), which is not evidence of a good comparison"
            ],
            "pre_fit_rule": "not assessable when the pre-period fit is exact",
        }
    reasons = []
    ratio = d.get("pre_rmspe_over_pre_sd")
    if ratio is not None and ratio > 0.5:
        reasons.append("pre-period error above half the area's own pre-period variation")
    med = d.get("placebo_median_pre_rmspe")
    if pre is not None and med is not None and pre > 2 * med:
        reasons.append("pre-period error above twice the comparison areas' median")
    if pre is not None and pre >= mid:
        reasons.append("pre-period error as large as the minimum important difference")
    return {
        "pre_fit_ok": None if pre is None else not reasons,
        "pre_fit_problems": reasons,
        "pre_fit_rule": "poor if pre-RMSPE > 0.5 x area's pre-period SD, > 2 x median placebo "
        "pre-RMSPE, or >= the minimum important difference",
    }


def prefit_shared_work(
    panel: Panel, plan: Plan, codes: list[str] | None = None, outcomes: list[str] | None = None
) -> int:
    """Work shared by every area report, done once before the areas are rendered: the
            synthetic-DiD fits of all pilots (one batched run per outcome against the same donors) and
            the synthetic-control and synthetic-DiD placebo fits (which do not involve any pilot).  Results go to the caches that
            ``evaluate_area`` reads, in memory and in ``.cache/``.  ``codes`` limits the pilots' fits to
        those about to be estimated (default: every pilot), ``outcomes`` the outcomes (default: the
    plan's; ``make reports`` runs one outcome per task).  Returns the number of fits made."""
    from evaluation.models.synthetic_control import synthetic_control
    from evaluation.models.synthetic_did import synthetic_did, synthetic_did_prefit

    time = panel.time
    pool = comparison_pool(panel, plan)
    made = 0
    for planned in plan.outcomes:
        name = planned.name
        if outcomes is not None and name not in outcomes:
            continue
        pre = chosen_pre_period(panel, plan, name).years
        units = analysis_rows(panel, plan, pre)
        floor = plan.min_donor_denominator
        donors = synthetic_donors(units, time, CATALOGUE[name], pool, pre, floor)
        kw = dict(unit="unit_id", time=time, outcome=name, pre=pre)
        kw.update(post=plan.post_years, donors=donors)
        if plan.alternatives.get("synthetic_control", True):
            _fit_for_any_pilot(
                plan,
                synthetic_control,
                units,
                alpha=plan.alpha,
                placebo_cache=_SC_PLACEBOS,
                ridge=plan.synthetic_ridge,
                **kw,
            )
        if not plan.alternatives.get("synthetic_did", True):
            continue
        made += synthetic_did_prefit(
            units, treated_units=list(codes or plan.pilot_codes), cache=_SDID_TREATED, **kw
        )
        _fit_for_any_pilot(
            plan,
            synthetic_did,
            units,
            inference="rank",
            placebo_cache=_SDID_PLACEBOS,
            treated_cache=_SDID_TREATED,
            seed=plan.seed,
            **kw,
        )
    return made


def _fit_for_any_pilot(plan: Plan, fit, units, **kwargs) -> None:
    """Run ``fit(units, treated=code, **kwargs)`` for the first pilot it works for: the placebo
    fits it caches do not depend on the pilot, so one pilot's run fills the cache for all."""
    for code in plan.pilot_codes:
        try:
            fit(units, treated=code, **kwargs)
            return
        except ValueError:  # e.g. this pilot lacks the outcome in a pre-period year
            continue
