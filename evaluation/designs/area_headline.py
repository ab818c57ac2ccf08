"""The headline estimate of one area's effect on one outcome: difference-in-differences of the
area against the comparison pool, placebo-in-space inference, the interval kept to effects a
rate can have (METHODOLOGY.md section 3)."""

from __future__ import annotations

from evaluation.designs.area_sample import area_periods
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.results import EstimationResult
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome
from evaluation.panel.plan import Plan


def headline_did(
    panel: Panel, plan: Plan, code: str, pool: list[str], outcome: Outcome
) -> EstimationResult:
    """The area's DiD on the plan's periods (those where its rate is defined)."""
    pre, post, dropped = area_periods(panel, plan, code, outcome)
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
    return res
