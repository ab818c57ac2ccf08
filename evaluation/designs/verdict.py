"""The verdict of one outcome for one area (issue #15; METHODOLOGY.md section 2h): one plain
line of at most 25 words, the grade after reconciling the designs, and the numbers the line
rests on.  It is computed once, stored in ``results.json`` (``outcomes[].verdict``) and every
sentence of the report that states a verdict reads it.

Rules, in order:

1. **Check the data** when a data-quality flag applies (:mod:`evaluation.designs.data_flags`).
2. **Too early to tell** when the headline interval includes zero and is either bound by the
   0-100 scale or wider than four times the plan's minimum important difference: the line
   says how large an effect would have to be to show up (the *detectable effect*: the smallest
   effect the placebo test would call significant, i.e. the half-width of the interval before
   the scale bound; "larger than the scale" when it exceeds 100 points).
3. **No clear change** when the interval includes zero otherwise.
4. Otherwise the direction, judged by the plan's direction of good (improved / worsened; for an
   outcome the plan does not judge, rose / fell), with the grade.

**Designs reconciled**: the designs are the headline DiD (placebo inference), the event study,
synthetic control, synthetic DiD, the similar-area DiD, the single and controlled ITS and the
pooled (partial-pooling) estimate.  A design is *significant* when its p-value is below alpha
(the pooled one: its interval excludes zero).  They **disagree** when significant designs point
in opposite directions, when the headline is not significant but two or more other designs are,
or when the headline is significant but no more than half of the other designs share its sign.
Then the verdict says so in one sentence and the grade is at most "Weak".
"""

from __future__ import annotations

import math

GRADES = ("Strong", "Moderate", "Weak")
WIDE = 4.0  # "wider than the minimum important difference several times over"
SCALE = 100.0

DESIGN_NAMES = {  # plain names: the disagreement sentence sits on the report's first screen
    "did": "the main comparison",
    "event_study": "the year-by-year comparison",
    "synthetic_control": "a weighted mix of comparison areas",
    "synthetic_did": "a weighted mix of areas and years",
    "similar_areas": "the most similar areas",
    "its_single": "the area's own trend",
    "its_controlled": "the trend of its gap with other areas",
    "pooled": "the estimate pooled across pilots",
    # programme level (designs/programme_verdict.py)
    "twfe_wild": "a regression across all areas",
    "conley_taber": "a comparison of every area's change",
    "binomial_fe": "a model of the counts",
    "cs_dr": "a comparison with areas that started at similar levels",
}


def _finite(x) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def design_results(ev, o) -> list[dict]:
    """Every design's estimate, p-value and significance for one outcome."""
    alpha = o.result.alpha
    rows = [_row("did", o.result.estimate, o.result.p_value, alpha)]
    for key in ("event_study", "synthetic_control", "synthetic_did", "similar_areas"):
        alt = o.alternatives.get(key)
        if alt is not None:
            rows.append(_row(key, alt.estimate, alt.p_value, alpha))
    for item in ev.its:
        if item["outcome"] != o.outcome.name:
            continue
        terms = item["result"].terms
        if terms is None or "level_change" not in terms.index:
            continue
        t = terms.loc["level_change"]
        rows.append(_row(f"its_{item['design']}", t["estimate"], t.get("p_value"), alpha))
    p = o.pooled
    if p and _finite(p.get("shrunk")):
        sig = bool(p["ci_low"] > 0 or p["ci_high"] < 0)
        rows.append(
            {"design": "pooled", "estimate": p["shrunk"], "p_value": None, "significant": sig}
        )
    return [r for r in rows if _finite(r["estimate"])]


def _row(key: str, estimate, p, alpha: float) -> dict:
    p = float(p) if _finite(p) else None
    return {
        "design": key,
        "estimate": float(estimate) if _finite(estimate) else None,
        "p_value": p,
        "significant": bool(p is not None and p < alpha),
    }


def reconcile(designs: list[dict]) -> tuple[bool, str]:
    """(designs agree, the one sentence saying how they disagree or '')."""
    head = next((d for d in designs if d["design"] == "did"), None)
    others = [d for d in designs if d["design"] != "did"]
    sig = [d for d in designs if d["significant"]]
    signs = {math.copysign(1, d["estimate"]) for d in sig if d["estimate"] != 0}
    if len(signs) > 1:
        up = [DESIGN_NAMES[d["design"]] for d in sig if d["estimate"] > 0]
        down = [DESIGN_NAMES[d["design"]] for d in sig if d["estimate"] < 0]
        return False, (
            f"The methods disagree: {_join(up)} show a rise, {_join(down)} a fall, each "
            "clearly; treat this result with caution."
        )
    if head is None:
        return True, ""
    sig_others = [d for d in others if d["significant"]]
    if not head["significant"] and len(sig_others) >= 2:
        way = "rise" if sig_others[0]["estimate"] > 0 else "fall"
        return False, (
            f"The methods disagree: {_join([DESIGN_NAMES[d['design']] for d in sig_others])} "
            f"show a clear {way}, but the main comparison does not."
        )
    if head["significant"] and others:
        same = [
            d
            for d in others
            if math.copysign(1, d["estimate"]) == math.copysign(1, head["estimate"])
        ]
        if len(same) <= len(others) / 2:
            return False, (
                f"The methods disagree: only {len(same)} of the {len(others)} other methods "
                "point the same way as the main comparison."
            )
    return True, ""


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def capped_grade(label: str, agree: bool) -> str:
    """The evidence label, at most "Weak" when the designs disagree."""
    if agree or label not in GRADES[:2]:
        return label
    return "Weak"


def detectable_effect(result) -> float | None:
    """The smallest effect the placebo test would call significant (half the interval width
    before the scale bound)."""
    raw = result.diagnostics.get("interval_before_bounds") or [result.ci_low, result.ci_high]
    if not (_finite(raw[0]) and _finite(raw[1])):
        return None
    return (raw[1] - raw[0]) / 2


def outcome_verdict(ev, outcome: str) -> dict:
    """The verdict of one outcome (module docstring)."""
    o = next(x for x in ev.outcomes if x.outcome.name == outcome)
    r, dp, mid = o.result, o.outcome.decimals, o.planned.minimum_important_difference
    evidence = ev.evidence(outcome)
    designs = design_results(ev, o)
    agree, disagreement = reconcile(designs)
    grade = capped_grade(evidence.label, agree)
    raw = r.diagnostics.get("interval_before_bounds") or [r.ci_low, r.ci_high]
    bound = bool(raw and (r.ci_low != raw[0] or r.ci_high != raw[1]))
    includes_zero = not (r.ci_is_finite and (r.ci_low > 0 or r.ci_high < 0))
    detect = detectable_effect(r)
    width = (raw[1] - raw[0]) if detect is not None else math.inf
    name = o.outcome.short_name
    if grade == "Check the data":
        status = "check_the_data"
        line = (
            f"Check the data: {_lower(name)} moved unlike any comparison area, or its case "
            "numbers jumped; check the returns first."
        )
    elif includes_zero and (bound or width > WIDE * mid):
        status = "cannot_tell"
        if detect is None or detect > SCALE:
            line = (
                f"Too early to tell: only an effect on {_lower(name)} larger than the whole "
                "scale would show up in these data."
            )
        else:
            line = (
                f"Too early to tell: an effect on {_lower(name)} would need to exceed "
                f"{detect:.{dp}f} points to show up in these data."
            )
    elif includes_zero:
        status = "no_clear_change"
        line = (
            f"No clear change: {_lower(name)} moved in line with the comparison areas "
            f"(likely range {_num(r.ci_low, dp)} to {_num(r.ci_high, dp)} points)."
        )
    else:
        status, word = _direction(o)
        line = f"{name} {word} more than in the comparison areas ({grade.lower()} evidence)."
    return {
        "status": status,
        "line": line,
        "grade": grade,
        "grade_before_reconciliation": evidence.label,
        "designs_agree": agree,
        "disagreement": disagreement,
        "designs": designs,
        "detectable_effect": detect,
        "interval_bound_by_scale": bound,
        "rule": "METHODOLOGY.md section 2h",
    }


def _direction(o) -> tuple[str, str]:
    return _direction_word(o.result.estimate, o.outcome.better)


def _direction_word(estimate: float, better: str) -> tuple[str, str]:
    """(status, verb) of an effect judged by the outcome's direction of good."""
    up = estimate > 0
    if better == "neither":
        return ("higher", "rose") if up else ("lower", "fell")
    good = up == (better == "higher")
    return ("improved", "improved") if good else ("worsened", "worsened")


def _lower(name: str) -> str:
    """The name inside a sentence (first letter lower case)."""
    return name[0].lower() + name[1:]


def _num(x: float, dp: int) -> str:
    if not _finite(x):
        return "unbounded"
    s = f"{abs(x):.{dp}f}"
    return ("\u2212" + s) if x < 0 and float(s) != 0 else s
