"""Difference-in-differences for ONE treated unit, with placebo-in-space inference.

Estimator (per unit *i*, comparison set *C*):

    gap_t      = y_it - c_t,  c_t = comparison series (pooled rate: sum of numerators over sum
                 of denominators x 100; or the unweighted mean of unit rates)
    tau_i      = mean(gap_t, t in post) - mean(gap_t, t in pre)
    sigma_i    = sqrt( sum_{t in pre} (gap_t - mean_pre gap)^2 / (T_pre - 1) )
    z_i        = tau_i / sigma_i      (DiD normalised by the pre-period fit)

Inference (Abadie, Diamond and Hainmueller 2010; Firpo and Possebom 2018): every comparison unit
*j* in turn plays the pilot, against the pool without *j*; the two-sided p-value is the rank of
|z_i| among the placebo |z_j|:  p = (1 + #{j : |z_j| >= |z_i|}) / (1 + J).

Confidence interval by inverting that test under a constant additive effect delta: subtracting
delta from the treated unit's post-period outcomes changes only tau_i (not sigma_i, and not the
placebos, whose comparison sets exclude the pilots), so the set of delta not rejected at level
alpha is exactly  tau_i +/- a_(m) * sigma_i,  where a_(m) is the m-th largest placebo |z_j| and
m = floor(alpha * (1 + J)).  If m = 0 (too few comparison units) the interval is unbounded.

No standard error is reported: with one treated unit a cluster-robust SE is not valid.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .results import EstimationResult

METHOD = "Difference-in-differences, one treated area, placebo-in-space inference"


def _comparison_series(
    y: pd.DataFrame,
    num: pd.DataFrame | None,
    den: pd.DataFrame | None,
    members: list,
    weighting: str,
) -> pd.Series:
    if weighting == "pooled":
        return num.loc[members].sum() / den.loc[members].sum() * 100.0
    return y.loc[members].mean()


def _did(gap: pd.Series, pre: list, post: list) -> tuple[float, float, float]:
    pre_gap = gap[pre]
    tau = float(gap[post].mean() - pre_gap.mean())
    resid = pre_gap - pre_gap.mean()
    sigma = float(math.sqrt((resid**2).sum() / (len(pre) - 1))) if len(pre) > 1 else float("nan")
    return tau, sigma, float(pre_gap.mean())


def placebo_ci(
    tau: float, sigma: float, placebo_abs_z: np.ndarray, alpha: float
) -> tuple[float, float]:
    """Interval from inverting the placebo rank test (see module docstring)."""
    j = len(placebo_abs_z)
    m = math.floor(alpha * (1 + j) + 1e-12)
    if m < 1 or not math.isfinite(sigma):
        return -math.inf, math.inf
    crit = float(np.sort(placebo_abs_z)[::-1][m - 1])
    return tau - crit * sigma, tau + crit * sigma


def did_one_treated(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated,
    pre: list,
    post: list,
    pool: list | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    weighting: str = "pooled",
    alpha: float = 0.05,
    sigma_floor: float = 1e-9,
    outcome_label: str | None = None,
    bounds: tuple[float, float] | None = None,
) -> EstimationResult:
    """Per-area DiD against a comparison pool, with placebo-in-space inference.

    ``data`` is long: one row per (unit, time) with ``outcome`` on the 0-100 scale, and, for
    ``weighting="pooled"``, the ``numerator`` and ``denominator`` counts.  ``pool`` lists the
    comparison units (default: every unit except ``treated``).  Units lacking the outcome (or a
    positive denominator) in any pre or post period are left out of the pool and listed in
    ``diagnostics['excluded_units']``.

    ``bounds`` (e.g. ``(0, 100)`` for a percentage) intersects the interval with the effects that
    are logically possible, i.e. those leaving every post-period counterfactual inside the
    bounds; a confidence set restricted to the parameter space keeps its coverage.
    """
    if weighting not in {"pooled", "unweighted"}:
        raise ValueError("weighting must be 'pooled' or 'unweighted'")
    if weighting == "pooled" and (numerator is None or denominator is None):
        raise ValueError("pooled weighting needs numerator= and denominator= columns")
    if len(pre) < 1 or len(post) < 1:
        raise ValueError("need at least one pre-period and one post-period")
    years = list(pre) + list(post)
    y = data.pivot(index=unit, columns=time, values=outcome).astype(float)
    if treated not in y.index:
        raise ValueError(f"treated unit {treated!r} is not in the data")
    missing_years = [t for t in years if t not in y.columns]
    if missing_years:
        raise ValueError(f"periods {missing_years} are not in the data")
    y = y[years]
    num = den = None
    ok = y.notna().all(axis=1)
    if weighting == "pooled":
        num = data.pivot(index=unit, columns=time, values=numerator).astype(float)[years]
        den = data.pivot(index=unit, columns=time, values=denominator).astype(float)[years]
        ok &= num.notna().all(axis=1) & (den > 0).all(axis=1)
    if not ok[treated]:
        raise ValueError(
            f"the treated unit {treated!r} lacks {outcome} in some of the periods {years}"
        )
    candidates = [u for u in (pool if pool is not None else y.index) if u != treated]
    excluded = {
        u: "missing outcome or zero denominator in a pre/post period"
        for u in candidates
        if u in y.index and not ok[u]
    }
    excluded.update({u: "not in the data" for u in candidates if u not in y.index})
    pool_ok = [u for u in candidates if u in y.index and ok[u]]
    if len(pool_ok) < 2:
        raise ValueError("fewer than two usable comparison units")

    comp = _comparison_series(y, num, den, pool_ok, weighting)
    tau, sigma, pre_gap = _did(y.loc[treated] - comp, pre, post)
    # Leave-one-out comparison series for every placebo at once: subtract unit j from the sums.
    if weighting == "pooled":
        s_num, s_den = num.loc[pool_ok].sum(), den.loc[pool_ok].sum()
        loo = (s_num - num.loc[pool_ok]) / (s_den - den.loc[pool_ok]) * 100.0
    else:
        s_y = y.loc[pool_ok].sum()
        loo = (s_y - y.loc[pool_ok]) / (len(pool_ok) - 1)
    gaps = y.loc[pool_ok] - loo
    pre_mean = gaps[pre].mean(axis=1)
    tau_j = gaps[post].mean(axis=1) - pre_mean
    sigma_j = np.sqrt(gaps[pre].sub(pre_mean, axis=0).pow(2).sum(axis=1) / max(len(pre) - 1, 1))
    if len(pre) < 2:
        sigma_j = sigma_j * np.nan
    rows = pd.DataFrame(
        {"unit": pool_ok, "estimate": tau_j.to_numpy(), "pre_rmse": sigma_j.to_numpy()}
    )
    rows["z"] = rows["estimate"] / rows["pre_rmse"].clip(lower=sigma_floor)
    dist = rows
    z = tau / max(sigma, sigma_floor) if math.isfinite(sigma) else float("nan")
    abs_z = dist["z"].abs().to_numpy()
    # With one pre-period there is no pre-period fit to normalise by: no inference.
    n_as_extreme = int((abs_z >= abs(z) * (1 - 1e-12)).sum()) if math.isfinite(z) else 0
    p = (1 + n_as_extreme) / (1 + len(dist)) if math.isfinite(z) else float("nan")
    lo, hi = placebo_ci(tau, max(sigma, sigma_floor), abs_z, alpha)
    raw_interval = (lo, hi)
    if bounds is not None:
        post_vals = y.loc[treated, post]
        lo = max(lo, float(post_vals.max()) - bounds[1])
        hi = min(hi, float(post_vals.min()) - bounds[0])
    treated_row = pd.DataFrame([{"unit": treated, "estimate": tau, "pre_rmse": sigma, "z": z}])
    dist = pd.concat(
        [treated_row.assign(is_treated=True), dist.assign(is_treated=False)], ignore_index=True
    )
    slope = (
        float(
            np.polyfit(
                np.array(pre, dtype=float), (y.loc[treated] - comp)[pre].to_numpy(dtype=float), 1
            )[0]
        )
        if len(pre) > 1
        else float("nan")
    )
    conventions = {
        "estimand": "effect on the treated area, averaged over the post-period, additive "
        "(outcome units), relative to the change in the comparison pool",
        "comparison": (
            "pooled rate of the comparison pool (sum of numerators / sum of "
            "denominators), i.e. weighted by denominators"
            if weighting == "pooled"
            else "unweighted mean of the comparison units' rates"
        ),
        "statistic": "DiD divided by the pre-period RMSE of the treated-minus-comparison gap "
        "(divisor T_pre - 1)",
        "p_value": "two-sided placebo rank: (1 + #placebos with |z| >= |z_treated|) / (1 + J); "
        "no normal or t approximation",
        "interval": f"{round(100 * (1 - alpha))}% set of constant additive effects not "
        "rejected by the placebo test (test inversion); exact, no critical value "
        "from a distribution",
        "standard_error": "not reported: one treated unit, so a clustered or robust standard "
        "error is not valid",
        "bounds": (
            "interval intersected with the effects that keep the post-period "
            f"counterfactual within {bounds}"
            if bounds
            else "none"
        ),
        "placebo_pool": "each comparison unit in turn, against the pool without itself; pilot "
        "areas are never in a comparison pool",
    }
    return EstimationResult(
        method=METHOD,
        outcome=outcome_label or outcome,
        estimate=tau,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="placebo-in-space, rank of DiD / pre-period RMSE",
        alpha=alpha,
        n_treated=1,
        n_comparison_units=len(pool_ok),
        pre_periods=list(pre),
        post_periods=list(post),
        conventions=conventions,
        diagnostics={
            "pre_period_gap": pre_gap,
            "pre_period_gap_slope_per_period": slope,
            "pre_rmse": sigma,
            "interval_before_bounds": [raw_interval[0], raw_interval[1]],
            "z": z,
            "placebo_rank": n_as_extreme + 1,
            "n_placebos": len(pool_ok),
            "excluded_units": excluded,
            "comparison_series": {str(k): float(v) for k, v in comp.items()},
            "treated_series": {str(k): float(v) for k, v in y.loc[treated].items()},
        },
        distribution=dist,
    )
