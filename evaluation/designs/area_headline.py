"""The headline estimate of one area's effect on one outcome: difference-in-differences of the
area against the comparison pool, placebo-in-space inference, the interval kept to effects a
rate can have (METHODOLOGY.md section 3)."""

from __future__ import annotations

import math

from evaluation.designs.area_sample import area_periods
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.results import EstimationResult
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome
from evaluation.panel.plan import Plan


def headline_did(
    panel: Panel,
    plan: Plan,
    code: str,
    pool: list[str],
    outcome: Outcome,
    pre: list | None = None,
) -> EstimationResult:
    """The area's DiD on the outcome's chosen pre-period (or ``pre``) and the plan's
    post-period, in the periods where the area's rate is defined."""
    if pre is None:
        pre = chosen_pre_period(panel, plan, outcome.name).years
    pre, post, dropped = area_periods(panel, plan, code, outcome, pre)
    if not post:
        raise ValueError(f"{code} has no {outcome.name} in the post-period")
    res = did_one_treated(
        panel.units,
        unit="unit_id",
        time=panel.time,
        outcome=outcome.name,
        treated=code,
        pre=pre,
        post=post,
        pool=pool,
        numerator=outcome.numerator,
        denominator=outcome.denominator,
        weighting="pooled",
        alpha=plan.alpha,
        outcome_label=outcome.name,
        bounds=(0.0, 100.0),
    )
    res.unit = outcome.unit
    if dropped:
        res.diagnostics["periods_without_data"] = [plan.period_label(t) for t in dropped]
        res.conventions["periods"] = (
            f"{len(dropped)} planned {plan.period_word}(s) left out because this area had "
            f"no {outcome.denominator} (the rate is undefined): "
            + ", ".join(plan.period_label(t) for t in dropped)
        )
    res.diagnostics["excluded_unit_periods"] = _missing_periods(
        panel, plan, outcome, res.diagnostics.get("excluded_units", {}), pre + post
    )
    return res


def _missing_periods(panel: Panel, plan: Plan, outcome: Outcome, excluded: dict, periods) -> dict:
    """For each comparison unit left out, the periods (labels) where it lacks the rate."""
    if not excluded:
        return {}
    u = panel.units[panel.units["unit_id"].isin(list(excluded))]
    u = u[u[panel.time].isin(periods)].set_index(["unit_id", panel.time])
    den = u[outcome.denominator].astype("Float64")
    ok = u[outcome.name].notna() & den.notna() & (den > 0)
    out = {}
    for unit in excluded:
        have = set(ok.loc[unit][ok.loc[unit]].index) if unit in ok.index else set()
        out[unit] = [plan.period_label(t) for t in periods if t not in have]
    return out


def pre_period_sensitivity(
    panel: Panel, plan: Plan, code: str, pool: list[str], outcome: Outcome
) -> list[dict]:
    """The headline DiD on every pre-period the plan names for this outcome: the chosen one
    (``used``), the long one if it was not chosen, and each ``periods.sensitivity`` entry.
    A pre-period the area's data cannot support gives its reason instead of numbers."""
    chosen = chosen_pre_period(panel, plan, outcome.name)
    rows = [(chosen.years, "used: " + chosen.reason, True)]
    if not chosen.uses_long:
        rows.append((chosen.long, "the long pre-period, not used: " + chosen.reason, False))
    for entry in plan.pre_sensitivity:
        first, last = entry["pre"]
        years = [y for y in range(first, last + 1) if y >= (outcome.first_comparable or first)]
        if years and years != chosen.years:
            rows.append((years, entry["why"], False))
    out = []
    for years, why, used in rows:
        row = {"pre": [plan.period_label(t) for t in years], "why": why, "used": used}
        try:
            r = headline_did(panel, plan, code, pool, outcome, pre=years)
        except ValueError as exc:
            out.append(row | {"estimate": None, "error": str(exc)})
            continue
        inference = math.isfinite(r.p_value)  # one pre-period: no measure of variation
        out.append(
            row
            | {
                "estimate": r.estimate,
                "ci_low": r.ci_low if inference else None,
                "ci_high": r.ci_high if inference else None,
                "p_value": r.p_value if inference else None,
                "n_comparison_units": r.n_comparison_units,
            }
        )
    return out
