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

from evaluation.models.intervals import placebo_ci, within_bounds
from evaluation.models.results import EstimationResult

METHOD = "Difference-in-differences, one treated area, placebo-in-space inference"


def _wide_frames(
    data, unit, time, outcome, treated, pool, years, weighting, numerator, denominator
):
    """Units x periods frames (analysis years only; the pilot and the candidate pool) of the
    outcome and, pooled, the numerator and denominator, and which units have every value.

    Scattered from the long data (a pivot, without pandas' overhead)."""
    rows = data[data[time].isin(years)]
    if pool is not None:
        rows = rows[rows[unit].isin(set(pool) | {treated})]
    ucodes, units_in = pd.factorize(rows[unit])
    tpos = {t: i for i, t in enumerate(years)}
    tcodes = rows[time].map(tpos).to_numpy()
    cells = ucodes.astype(np.int64) * len(years) + tcodes
    if len(np.unique(cells)) != len(cells):
        raise ValueError(f"more than one row per ({unit}, {time}) in the data")

    def wide(col: str) -> pd.DataFrame:
        out = np.full((len(units_in), len(years)), np.nan)
        out[ucodes, tcodes] = pd.array(rows[col]).to_numpy(dtype=float, na_value=np.nan)
        return pd.DataFrame(out, index=units_in, columns=years)

    if treated not in set(units_in):
        raise ValueError(f"treated unit {treated!r} is not in the data")
    present = set(rows[time].unique())
    missing_years = [t for t in years if t not in present]
    if missing_years:
        raise ValueError(f"periods {missing_years} are not in the data")
    y = wide(outcome)
    num = den = None
    ok = y.notna().all(axis=1)
    if weighting == "pooled":
        num, den = wide(numerator), wide(denominator)
        ok &= num.notna().all(axis=1) & (den > 0).all(axis=1)
    return y, num, den, ok


def _usable_pool(y: pd.DataFrame, ok: pd.Series, treated, pool, outcome, years):
    """The comparison units with every value, and why the others were left out."""
    if not ok[treated]:
        raise ValueError(
            f"the treated unit {treated!r} lacks {outcome} in some of the periods {years}"
        )
    candidates = [u for u in (pool if pool is not None else y.index) if u != treated]
    in_data = set(y.index)
    excluded = {
        u: "missing outcome or zero denominator in a pre/post period"
        for u in candidates
        if u in in_data and not ok[u]
    }
    excluded.update({u: "not in the data" for u in candidates if u not in in_data})
    pool_ok = [u for u in candidates if u in in_data and ok[u]]
    if len(pool_ok) < 2:
        raise ValueError("fewer than two usable comparison units")
    return pool_ok, excluded


def _comparison_series(Y, num, den, pool_ok, weighting):
    """The pool's comparison series and, for every placebo at once, the leave-one-out series
    (numpy: one row per pool unit, columns = pre then post periods)."""
    if weighting == "pooled":
        N, D = num.loc[pool_ok].to_numpy(), den.loc[pool_ok].to_numpy()
        s_num, s_den = N.sum(axis=0), D.sum(axis=0)
        comp = s_num / s_den * 100.0
        # leave-one-out comparison series for every placebo at once: subtract unit j
        loo = (s_num - N) / (s_den - D) * 100.0
    else:
        s_y = Y.sum(axis=0)
        comp = s_y / len(pool_ok)
        loo = (s_y - Y) / (len(pool_ok) - 1)
    return comp, loo


def _treated_statistics(gap_t: np.ndarray, n_pre: int):
    """Mean pre-period gap, DiD and pre-period RMSE of the treated unit's gap series."""
    pre_gap = float(gap_t[:n_pre].mean())
    tau = float(gap_t[n_pre:].mean() - pre_gap)
    sigma = (
        float(math.sqrt(((gap_t[:n_pre] - pre_gap) ** 2).sum() / (n_pre - 1)))
        if n_pre > 1
        else float("nan")
    )
    return pre_gap, tau, sigma


def _placebo_statistics(gaps: np.ndarray, n_pre: int, sigma_floor: float):
    """DiD, pre-period RMSE and z of every placebo's gap series (one row each)."""
    pre_mean = gaps[:, :n_pre].mean(axis=1)
    tau_j = gaps[:, n_pre:].mean(axis=1) - pre_mean
    sigma_j = np.sqrt(((gaps[:, :n_pre] - pre_mean[:, None]) ** 2).sum(axis=1) / max(n_pre - 1, 1))
    if n_pre < 2:
        sigma_j = sigma_j * np.nan
    return tau_j, sigma_j, tau_j / np.maximum(sigma_j, sigma_floor)


def _conventions(weighting: str, alpha: float, bounds) -> dict[str, str]:
    return {
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
    y, num, den, ok = _wide_frames(
        data, unit, time, outcome, treated, pool, years, weighting, numerator, denominator
    )
    pool_ok, excluded = _usable_pool(y, ok, treated, pool, outcome, years)
    n_pre = len(pre)
    Y = y.loc[pool_ok].to_numpy()
    yt = y.loc[treated].to_numpy()
    comp, loo = _comparison_series(Y, num, den, pool_ok, weighting)
    gap_t = yt - comp
    pre_gap, tau, sigma = _treated_statistics(gap_t, n_pre)
    tau_j, sigma_j, z_j = _placebo_statistics(Y - loo, n_pre, sigma_floor)
    z = tau / max(sigma, sigma_floor) if math.isfinite(sigma) else float("nan")
    abs_z = np.abs(z_j)
    # With one pre-period there is no pre-period fit to normalise by: no inference.
    n_as_extreme = int((abs_z >= abs(z) * (1 - 1e-12)).sum()) if math.isfinite(z) else 0
    p = (1 + n_as_extreme) / (1 + len(pool_ok)) if math.isfinite(z) else float("nan")
    lo, hi = placebo_ci(tau, max(sigma, sigma_floor), abs_z, alpha)
    raw_interval = (lo, hi)
    if bounds is not None:
        lo, hi = within_bounds(lo, hi, yt[n_pre:], bounds)
    dist = pd.DataFrame(
        {
            "unit": [treated, *pool_ok],
            "estimate": np.concatenate([[tau], tau_j]),
            "pre_rmse": np.concatenate([[sigma], sigma_j]),
            "z": np.concatenate([[z], z_j]),
            "is_treated": [True] + [False] * len(pool_ok),
        }
    )
    slope = (
        float(np.polyfit(np.array(pre, dtype=float), gap_t[:n_pre], 1)[0])
        if n_pre > 1
        else float("nan")
    )
    comp = pd.Series(comp, index=years)
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
        conventions=_conventions(weighting, alpha, bounds),
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
