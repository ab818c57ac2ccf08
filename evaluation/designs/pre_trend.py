"""The one pre-trend assessment of an area's outcome (issue #15): computed once, used by every
sentence that mentions a pre-trend (the evidence concerns, the summary, the event-study caption,
the caveats), with one number and one test, always named the same way.

* **The number**: the slope of the area-minus-comparison gap over the pre-period, in the
  outcome's unit per period (``did_one_treated``'s ``pre_period_gap_slope_per_period``).
* **The test**: the event study's joint pre-trend test (placebo rank of the root mean square
  of the pre-period coefficients, METHODOLOGY.md section 6.3), "the pre-trend test".

It is a **concern** when the test rejects at the plan's alpha, or when the slope carried forward
from the middle of the pre-period to the middle of the post-period would move the gap by at
least half the estimate (the evidence rule of METHODOLOGY.md section 2a; counted once).
"""

from __future__ import annotations

import math


def pre_trend_assessment(result, alternatives: dict, decimals: int = 1, word: str = "year"):
    """``{slope, drift, test_p, test_rejects, drift_large, concern, sentence}`` (None parts
    where not available)."""
    slope = result.diagnostics.get("pre_period_gap_slope_per_period")
    slope = float(slope) if slope is not None and math.isfinite(slope) else None
    es = alternatives.get("event_study")
    pt = es.diagnostics.get("pre_trend_test") if es is not None else None
    p = pt.get("p_value") if pt else None
    p = float(p) if p is not None and math.isfinite(p) else None
    drift = None
    if slope is not None and result.pre_periods and result.post_periods:
        pre_mid = sum(result.pre_periods) / len(result.pre_periods)
        post_mid = sum(result.post_periods) / len(result.post_periods)
        drift = slope * (post_mid - pre_mid)
    rejects = p is not None and p < result.alpha
    large = (
        drift is not None
        and math.isfinite(result.estimate)
        and result.estimate != 0
        and abs(drift) >= 0.5 * abs(result.estimate)
    )
    return {
        "slope_per_period": slope,
        "drift_to_post_period": drift,
        "test": "event-study pre-trend test (joint, placebo rank)",
        "test_p_value": p,
        "test_rejects": bool(rejects),
        "drift_large": bool(large),
        "concern": bool(rejects or large),
        "sentence": _sentence(slope, drift, p, rejects, large, result, decimals, word),
    }


def _sentence(slope, drift, p, rejects, large, result, dp: int, word: str) -> str:
    if slope is None and p is None:
        return "No pre-trend assessment: too few years before the programme."
    parts = []
    if slope is not None:
        parts.append(
            f"Before the programme the gap with the comparison areas changed by "
            f"{_num(slope, dp)} points a {word}"
        )
    if p is not None:
        finding = "finds a divergence" if rejects else "finds no clear divergence"
        parts.append(f"the pre-trend test {finding} (p = {p:.2f})")
    text = "; ".join(parts) + "."
    if large:
        text += (
            f" Carried forward, that trend alone would move the gap by {_num(abs(drift), dp)} "
            f"points, at least half the estimated {_num(abs(result.estimate), dp)}."
        )
    return text[0].upper() + text[1:]


def _num(x: float, dp: int) -> str:
    s = f"{abs(x):.{dp}f}"
    return ("\u2212" + s) if x < 0 and float(s) != 0 else s
