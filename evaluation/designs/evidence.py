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

Label: a data-quality flag (:mod:`evaluation.designs.data_flags`) -> "Check the data";
interval includes zero -> "No clear evidence"; otherwise "Strong" (no concern),
"Moderate" (one concern) or "Weak" (two or more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.designs.pre_trend import pre_trend_assessment


@dataclass
class Evidence:
    label: str
    concerns: list[str]
    checks: dict[str, bool | None]  # True = check passed, False = concern, None = not available

    def to_dict(self) -> dict:
        return {"label": self.label, "concerns": list(self.concerns), "checks": dict(self.checks)}


def evidence_strength(
    result,
    its_item: dict | None = None,
    decimals: int = 1,
    alternatives: dict | None = None,
    data_flags: list[str] | None = None,
    period_word: str = "year",
) -> Evidence:
    """Label for one DiD result (``EstimationResult`` from ``did_one_treated``);
    ``alternatives`` maps names (``event_study``, ``synthetic_control``, ``synthetic_did``) to
    other estimators' results for the same area and outcome.  ``data_flags``
    (:mod:`evaluation.designs.data_flags`) replace the grade by "Check the data"."""
    alternatives = alternatives or {}
    excludes_zero = bool(result.ci_is_finite and (result.ci_low > 0 or result.ci_high < 0))
    checks: dict[str, bool | None] = {"placebo_interval_excludes_zero": excludes_zero}
    concerns = []
    trend = pre_trend_assessment(result, alternatives, decimals, period_word)
    for key, (ok, concern) in [
        ("pre_trend_small", _pre_trend_check(trend)),
        ("pre_period_fit_typical", _pre_fit_check(result)),
        ("controlled_its_agrees", _its_agreement_check(result, its_item)),
        ("pre_trend_test_passes", _pre_trend_test_check(trend)),
        ("synthetic_control_fit_good", _synthetic_fit_check(alternatives)),
        ("synthetic_estimators_agree", _synthetic_agreement_check(result, alternatives)),
    ]:
        checks[key] = ok
        if concern is not None:
            concerns.append(concern)
    if trend["concern"]:  # the one pre-trend assessment, counted once
        concerns.insert(0, trend["sentence"])
    checks["data_quality_ok"] = not data_flags
    if data_flags:
        return Evidence("Check the data", [*data_flags, *concerns], checks)
    return Evidence(_label(excludes_zero, concerns), concerns, checks)


# ---- the checks: each gives (True = passed / False = concern / None = not available, concern)
def _pre_trend_check(trend: dict) -> tuple[bool | None, str | None]:
    """Check 2: would the pre-period gap trend, carried forward, explain half the estimate?
    (Its concern is the one pre-trend sentence, added once by ``evidence_strength``.)"""
    if trend["drift_to_post_period"] is None:
        return None, None
    return not trend["drift_large"], None


def _pre_fit_check(result) -> tuple[bool | None, str | None]:
    """Check 3: is the area's pre-period RMSE at most twice the comparison areas' median?"""
    dist = result.distribution
    if not (dist is not None and "pre_rmse" in dist and (~dist["is_treated"]).any()):
        return None, None
    median = float(np.nanmedian(dist.loc[~dist["is_treated"], "pre_rmse"]))
    ok = bool(result.diagnostics.get("pre_rmse", np.nan) <= 2 * median)
    if ok:
        return ok, None
    return ok, (
        "before the programme this area tracked the comparison much less closely than most areas do"
    )


def _its_agreement_check(result, its_item: dict | None) -> tuple[bool | None, str | None]:
    """Check 4: does the controlled ITS level change have the sign of the DiD estimate?"""
    if its_item is None:
        return None, None
    lvl = its_item["result"].terms.loc["level_change", "estimate"]
    ok = bool(np.sign(lvl) == np.sign(result.estimate))
    return ok, None if ok else "the controlled interrupted time series points the other way"


def _pre_trend_test_check(trend: dict) -> tuple[bool | None, str | None]:
    """Check 5: does the event study's joint pre-trend test pass at the plan's alpha?"""
    if trend["test_p_value"] is None:
        return None, None
    return not trend["test_rejects"], None


def _synthetic_fit_check(alternatives: dict) -> tuple[bool | None, str | None]:
    """Check 6: could a synthetic control reproduce the area's pre-period path?"""
    sc = alternatives.get("synthetic_control")
    fit_ok = sc.diagnostics.get("pre_fit_ok") if sc is not None else None
    check = None if fit_ok is None else bool(fit_ok)
    if fit_ok is not False:
        return check, None
    return check, (
        "no combination of comparison areas reproduces this area's path before the "
        "programme closely (poor synthetic-control fit)"
    )


def _synthetic_agreement_check(result, alternatives: dict) -> tuple[bool | None, str | None]:
    """Check 7: do synthetic control and synthetic DiD give the sign of the DiD estimate?"""
    signs = {
        k: np.sign(alternatives[k].estimate)
        for k in ("synthetic_control", "synthetic_did")
        if k in alternatives and np.isfinite(alternatives[k].estimate)
    }
    if not (signs and result.estimate != 0):
        return None, None
    disagree = [k for k, sg in signs.items() if sg != np.sign(result.estimate)]
    if not disagree:
        return not disagree, None
    names = {"synthetic_control": "synthetic control", "synthetic_did": "synthetic DiD"}
    return not disagree, " and ".join(names[k] for k in disagree) + " point(s) the other way"


def _label(excludes_zero: bool, concerns: list[str]) -> str:
    """The label: no clear evidence unless the interval excludes zero, else by concern count."""
    if not excludes_zero:
        return "No clear evidence"
    if not concerns:
        return "Strong"
    if len(concerns) == 1:
        return "Moderate"
    return "Weak"
