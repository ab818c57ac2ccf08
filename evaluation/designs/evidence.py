"""Strength-of-evidence labels, derived from design checks (one rule set, stated in
METHODOLOGY.md and in the report), so a label is never a matter of taste.

Checks for one outcome of one area:

1. **Placebo test**: does the interval exclude zero (placebo p below alpha)?  If not, the label
   is "no clear evidence" whatever else holds.
2. **Pre-period trend**: would the pre-period trend of the area-minus-comparison gap, carried
   forward to the post-period, explain at least half of the estimate?
3. **Pre-period fit**: is the area's pre-period RMSE of the gap more than twice the median of the
   comparison areas' (a noisier, harder to compare area)?
4. **Agreement between estimators**: does the controlled interrupted time series (a different
   model of the same comparison) give a level change of the same sign?
5. **Pre-trend test**: does the event study's joint test of the pre-period coefficients (placebo
   rank of their root mean square) reject at the plan's alpha?
6. **Synthetic control pre-fit**: could a synthetic control reproduce the area's pre-period path
   (the rule is in ``evaluation/designs/area_alternatives.py`` (``pre_fit_check``) and METHODOLOGY.md)?
7. **Synthetic estimators agree**: do synthetic control and synthetic DiD give the same sign?

Label: interval includes zero -> "No clear evidence"; otherwise "Strong" (no concern),
"Moderate" (one concern) or "Weak" (two or more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Evidence:
    label: str
    concerns: list[str]
    checks: dict[str, bool | None]  # True = check passed, False = concern, None = not available

    def to_dict(self) -> dict:
        return {"label": self.label, "concerns": list(self.concerns), "checks": dict(self.checks)}


def evidence_strength(
    result, its_item: dict | None = None, decimals: int = 1, alternatives: dict | None = None
) -> Evidence:
    """Label for one DiD result (``EstimationResult`` from ``did_one_treated``);
    ``alternatives`` maps names (``event_study``, ``synthetic_control``, ``synthetic_did``) to
    other estimators' results for the same area and outcome."""
    alternatives = alternatives or {}
    d = result.diagnostics
    checks: dict[str, bool | None] = {}
    concerns = []
    excludes_zero = bool(result.ci_is_finite and (result.ci_low > 0 or result.ci_high < 0))
    checks["placebo_interval_excludes_zero"] = excludes_zero
    pre, post = result.pre_periods, result.post_periods
    slope = d.get("pre_period_gap_slope_per_period")
    if slope is not None and np.isfinite(slope) and result.estimate != 0:
        horizon = float(np.mean(post) - np.mean(pre))
        drift = abs(slope * horizon)
        ok = drift < 0.5 * abs(result.estimate)
        checks["pre_trend_small"] = ok
        if not ok:
            concerns.append(
                f"the gap with the comparison areas was already changing before the programme "
                f"(the pre-period trend in the gap); carried forward, that trend alone would "
                f"move the gap by {drift:.{decimals}f} points, against an estimated change of "
                f"{abs(result.estimate):.{decimals}f}"
            )
    else:
        checks["pre_trend_small"] = None
    dist = result.distribution
    if dist is not None and "pre_rmse" in dist and (~dist["is_treated"]).any():
        median = float(np.nanmedian(dist.loc[~dist["is_treated"], "pre_rmse"]))
        ok = bool(d.get("pre_rmse", np.nan) <= 2 * median)
        checks["pre_period_fit_typical"] = ok
        if not ok:
            concerns.append(
                "before the programme this area tracked the comparison much less "
                "closely than most areas do"
            )
    else:
        checks["pre_period_fit_typical"] = None
    if its_item is not None:
        lvl = its_item["result"].terms.loc["level_change", "estimate"]
        ok = bool(np.sign(lvl) == np.sign(result.estimate))
        checks["controlled_its_agrees"] = ok
        if not ok:
            concerns.append("the controlled interrupted time series points the other way")
    else:
        checks["controlled_its_agrees"] = None
    es = alternatives.get("event_study")
    pt = es.diagnostics.get("pre_trend_test") if es is not None else None
    if pt and pt.get("p_value") is not None and np.isfinite(pt["p_value"]):
        ok = bool(pt["p_value"] >= result.alpha)
        checks["pre_trend_test_passes"] = ok
        if not ok:
            concerns.append(
                "the pre-trend test suggests the area was already diverging from the "
                f"comparison areas before the programme (p = {pt['p_value']:.2f})"
            )
    else:
        checks["pre_trend_test_passes"] = None
    sc = alternatives.get("synthetic_control")
    fit_ok = sc.diagnostics.get("pre_fit_ok") if sc is not None else None
    checks["synthetic_control_fit_good"] = None if fit_ok is None else bool(fit_ok)
    if fit_ok is False:
        concerns.append(
            "no combination of comparison areas reproduces this area's path before the "
            "programme closely (poor synthetic-control fit)"
        )
    signs = {
        k: np.sign(alternatives[k].estimate)
        for k in ("synthetic_control", "synthetic_did")
        if k in alternatives and np.isfinite(alternatives[k].estimate)
    }
    if signs and result.estimate != 0:
        disagree = [k for k, sg in signs.items() if sg != np.sign(result.estimate)]
        checks["synthetic_estimators_agree"] = not disagree
        if disagree:
            names = {"synthetic_control": "synthetic control", "synthetic_did": "synthetic DiD"}
            concerns.append(" and ".join(names[k] for k in disagree) + " point(s) the other way")
    else:
        checks["synthetic_estimators_agree"] = None
    if not excludes_zero:
        label = "No clear evidence"
    elif not concerns:
        label = "Strong"
    elif len(concerns) == 1:
        label = "Moderate"
    else:
        label = "Weak"
    return Evidence(label, concerns, checks)
