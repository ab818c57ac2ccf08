"""Which pre-period each outcome's estimates use (METHODOLOGY.md section 2f).

A yearly plan declares a long pre-period (``periods.pre``), cut for each outcome to its first
comparable year (:attr:`evaluation.panel.outcomes.Outcome.first_comparable`), and a shorter
``periods.fallback_pre``.  The long one is used for an outcome when its **in-time placebo
check** passes: with the pilots combined against the comparison pool (the programme design of
:func:`evaluation.designs.programme.programme_did`, placebo partnerships drawn within regions),
pretend the programme started in the fallback's first year, i.e. compare the gap over the
fallback years with the gap over the earlier long-period years.  If that fake effect is not
significant at the plan's alpha (two-sided placebo p >= alpha) the early years tell the same
story as the late ones and are used; otherwise the fallback is used and the report says why.
The check uses pre-period data only, so it cannot be steered by the results.

Pre-testing has a known cost (Roth 2022, AER: Insights): passing a pre-test does not prove the
gap was stable, which is why every report also shows the estimate on the other pre-periods
(:func:`pre_period_sensitivity`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.programme import programme_did
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan

_CHOSEN: dict = {}  # (id of panel, plan path, outcome) -> (panel, PrePeriod), this process


@dataclass(frozen=True)
class PrePeriod:
    """The pre-period of one outcome: the years used and how they were chosen."""

    outcome: str
    years: list  # the periods every per-area estimate of this outcome uses as pre-period
    long: list  # the plan's long pre-period cut to the outcome's first comparable year
    fallback: list | None  # the plan's fallback pre-period (None: the plan has none)
    check: dict | None = None  # the in-time placebo check (None: not run)
    reason: str = ""  # one plain sentence: which pre-period and why
    comparable_note: str = ""  # why years before the first comparable one are not used
    first_years_left_out: list = field(default_factory=list)  # plan years before comparability

    @property
    def uses_long(self) -> bool:
        return self.years == self.long

    def to_dict(self) -> dict:
        return {
            "years": list(self.years),
            "long": list(self.long),
            "fallback": None if self.fallback is None else list(self.fallback),
            "uses_long": self.uses_long,
            "check": self.check,
            "reason": self.reason,
            "comparable_note": self.comparable_note,
            "plan_years_not_comparable": list(self.first_years_left_out),
        }


def chosen_pre_period(panel: Panel, plan: Plan, outcome: str) -> PrePeriod:
    """The pre-period of ``outcome`` under ``plan`` on ``panel`` (computed once per process).
    A plan-like object that is not a :class:`Plan` (a caller's own) is used as it is."""
    if not isinstance(plan, Plan):
        years = list(plan.pre_years)
        return PrePeriod(outcome, years, years, None, reason="the plan's pre-period")
    key = (id(panel), str(plan.path), outcome, tuple(plan.pre), plan.fallback_pre)
    cached = _CHOSEN.get(key)
    if cached is None or cached[0] is not panel:  # holding the panel keeps its id unique
        cached = _CHOSEN[key] = (panel, _choose(panel, plan, outcome))
    return cached[1]


def _choose(panel: Panel, plan: Plan, outcome: str) -> PrePeriod:
    o = CATALOGUE[outcome]
    years = list(plan.pre_years)
    if plan.monthly or o.first_comparable is None:
        return PrePeriod(outcome, years, years, None, reason="the plan's pre-period")
    early = [y for y in years if y < o.first_comparable]
    long = [y for y in years if y >= o.first_comparable]
    note = o.comparable_note if early else ""
    if plan.fallback_pre is None:
        return PrePeriod(outcome, long, long, None, None, "the plan's pre-period", note, early)
    fallback = [y for y in long if y >= plan.fallback_pre[0]]
    earlier = [y for y in long if y < plan.fallback_pre[0]]
    if not earlier:
        why = "the long pre-period is the fallback one for this outcome (no earlier years)"
        return PrePeriod(outcome, fallback, long, fallback, None, why, note, early)
    check = in_time_placebo(panel, plan, outcome, earlier, fallback)
    span_long, span_fb = _span(long), _span(fallback)
    if check.get("passed"):
        reason = (
            f"{span_long}: the pilots' gap with the comparison areas was no different in "
            f"{span_fb} from {_span(earlier)} (in-time placebo p = {check['p_value']:.2f})"
        )
        return PrePeriod(outcome, long, long, fallback, check, reason, note, early)
    if "error" in check:
        reason = f"{span_fb}: the in-time placebo check could not run ({check['error']})"
    else:
        reason = (
            f"{span_fb}: the pilots' gap with the comparison areas changed between "
            f"{_span(earlier)} and {span_fb} (in-time placebo p = {check['p_value']:.2f}), so "
            "the earlier years are not used"
        )
    return PrePeriod(outcome, fallback, long, fallback, check, reason, note, early)


def in_time_placebo(panel: Panel, plan: Plan, outcome: str, earlier: list, later: list) -> dict:
    """The programme DiD of ``later`` against ``earlier`` (both before the programme), with the
    programme design's placebo partnerships; ``passed`` when its p-value is >= alpha."""
    o = CATALOGUE[outcome]
    treated: dict[str, list[str]] = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    permutations = int(plan.inference.get("programme_permutations", 999))
    try:
        res = programme_did(
            panel.units,
            treated=treated,
            pool=comparison_pool(panel, plan),
            region_of=panel.regions,
            outcome=o.name,
            numerator=o.numerator,
            denominator=o.denominator,
            pre=earlier,
            post=later,
            permutations=permutations,
            seed=plan.seed,
            alpha=plan.alpha,
        )
    except ValueError as exc:
        return {"passed": False, "error": str(exc)}
    return {
        "test": "in-time placebo: all pilots combined, placebo partnerships within regions",
        "fake_start": later[0],
        "earlier": list(earlier),
        "later": list(later),
        "estimate": res.estimate,
        "p_value": res.p_value,
        "n_placebos": permutations,
        "seed": plan.seed,
        "alpha": plan.alpha,
        "passed": bool(res.p_value >= plan.alpha),
    }


def _span(years: list) -> str:
    return f"{years[0]}" if len(years) == 1 else f"{years[0]} to {years[-1]}"
