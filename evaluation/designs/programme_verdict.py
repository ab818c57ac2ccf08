"""The verdict of one outcome for the programme as a whole, and a short verdict for each
partnership (issue #15; METHODOLOGY.md section 2b). The overview prints them. Its
``results.json`` stores them (``programme.<outcome>.verdict``, ``partnerships[].verdict``).

The programme grade mirrors the per-area one (section 2a) and uses the same reconciliation
(section 2h, :func:`evaluation.designs.verdict.reconcile`):

1. **Too early to tell** when the placebo-programme interval includes zero and is wider than
   four times the plan's minimum important difference. The line states the detectable
   effect: the interval's half-width.
2. **No clear change** when the interval includes zero otherwise. The grade is "No clear
   evidence".
3. Otherwise the direction, judged by the plan's direction of good, and a grade from the
   number of concerns: none gives **Strong**, one **Moderate**, two or more **Weak**. The
   concerns are:

   - *pre-period*: the in-time placebo check (section 2f) failed, so the fallback
     pre-period is used, or the check could not run;
   - *agreement*: a programme robustness estimator (wild-bootstrap TWFE, Conley-Taber,
     grouped binomial, doubly robust Callaway-Sant'Anna) points the other way;
   - *spread*: no more than half of the partnerships with an estimate share the programme's
     direction, so a few partnerships drive the result.

**Designs reconciled**: the placebo-programme DiD, the wild-bootstrap TWFE, Conley-Taber, the
grouped binomial and the doubly robust Callaway-Sant'Anna. The binomial model's p-value comes from the score cluster bootstrap,
valid with 9 partnerships (section 6.10). A design whose p-value is not valid with so few
clusters (``diagnostics["few_cluster_valid"]`` False: a cluster-robust Wald test with fewer
than 42 treated clusters) counts for its direction only and never as significant.
When the designs disagree, the verdict says so in one sentence and the grade is at most
"Weak".

A **partnership** is one combined unit with per-area placebo inference (section 2b). Its
verdict follows rules 1 and 2 and the direction. It is not graded, because no other designs
are fitted for it.
"""

from __future__ import annotations

import math

from evaluation.designs.verdict import (
    DESIGN_NAMES,
    WIDE,
    _direction_word,
    _finite,
    _join,
    _lower,
    _num,
    _row,
    capped_grade,
    detectable_effect,
    reconcile,
)


def programme_designs(result, robustness: dict, alpha: float) -> list[dict]:
    """The programme designs' estimates, p-values and significance (rule in the docstring)."""
    rows = [_row("did", result.estimate, result.p_value, alpha)]
    for key, r in robustness.items():
        row = _row(key, r.estimate, r.p_value, alpha)
        if r.diagnostics.get("few_cluster_valid") is False:  # p too small (METHODOLOGY 6.10)
            row["significant"] = False
            row["counts_for"] = "direction only"
        rows.append(row)
    return [r for r in rows if _finite(r["estimate"])]


def programme_verdict(outcome, result, robustness: dict, pre_period, partnerships, mid) -> dict:
    """The programme verdict of one outcome. ``partnerships``: the partnership estimates of
    this outcome (a frame with ``estimate``); ``pre_period``: its
    :class:`~evaluation.designs.pre_period.PrePeriod`; ``mid``: the plan's minimum important
    difference."""
    dp, name = outcome.decimals, outcome.short_name
    designs = programme_designs(result, robustness, result.alpha)
    agree, disagreement = reconcile(designs)
    includes_zero = not (result.ci_is_finite and (result.ci_low > 0 or result.ci_high < 0))
    detect = detectable_effect(result)
    concerns = _concerns(result, designs, pre_period, partnerships)
    if includes_zero and (detect is None or 2 * detect > WIDE * mid):
        status, grade = "cannot_tell", "No clear evidence"
        size = "larger than the whole scale" if detect is None or detect > 100 else (
            f"above {detect:.{dp}f} points"
        )  # fmt: skip
        line = (
            f"Too early to tell across the pilots: only an effect on {_lower(name)} {size} "
            "would show up."
        )
    elif includes_zero:
        status, grade = "no_clear_change", "No clear evidence"
        line = (
            f"No clear change across the pilots: {_lower(name)} moved in line with other areas "
            f"(likely range {_num(result.ci_low, dp)} to {_num(result.ci_high, dp)} points)."
        )
    else:
        status, word = _direction_word(result.estimate, outcome.better)
        grade = capped_grade(("Strong", "Moderate", "Weak")[min(len(concerns), 2)], agree)
        line = f"{name} {word} across the pilots more than elsewhere ({grade.lower()} evidence)."
    return {
        "status": status,
        "line": line,
        "grade": grade,
        "concerns": concerns,
        "designs_agree": agree,
        "disagreement": disagreement,
        "designs": designs,
        "detectable_effect": detect,
        "rule": "METHODOLOGY.md section 2b",
    }


def _concerns(result, designs: list[dict], pre_period, partnerships) -> list[str]:
    out = []
    check = getattr(pre_period, "check", None)
    if check is not None and not check.get("passed"):
        out.append(
            "pre-period: the in-time placebo check did not pass, so the shorter pre-period is used"
        )
    sign = math.copysign(1, result.estimate)
    against = [d["design"] for d in designs[1:] if math.copysign(1, d["estimate"]) != sign]
    if against:
        verb = "points" if len(against) == 1 else "point"
        out.append(f"agreement: {_join([DESIGN_NAMES[k] for k in against])} {verb} the other way")
    est = [float(x) for x in partnerships["estimate"] if _finite(float(x))]
    same = sum(math.copysign(1, x) == sign for x in est)
    if est and same <= len(est) / 2:
        out.append(f"spread: only {same} of {len(est)} partnerships point the same way")
    return out


def partnership_verdict(outcome, estimate, ci_low, ci_high, mid) -> str:
    """A short verdict for one partnership (ungraded; rules in the module docstring)."""
    if not all(_finite(x) for x in (estimate, ci_low, ci_high)):
        return "No estimate"
    if ci_low <= 0 <= ci_high:
        half = (ci_high - ci_low) / 2
        if 2 * half > WIDE * mid:
            size = (
                "larger than the scale"
                if half > 100
                else f"above {half:.{outcome.decimals}f} points"
            )
            return f"Too early to tell (only effects {size} would show)"
        return "No clear change"
    _, word = _direction_word(estimate, outcome.better)
    return f"{word.capitalize()} (interval excludes zero; not graded)"
