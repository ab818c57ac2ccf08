"""Event studies: dynamic two-way fixed effects (:func:`event_study`) and, for ONE treated area,
period-by-period gaps with placebo-in-space inference (:func:`event_study_one_treated`).

The two-way fixed-effects machinery and its conventions (fixest's CR1 covariance, t with G - 1
degrees of freedom) are those of :mod:`evaluation.models.twfe`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.models.results import EstimationResult
from evaluation.models.twfe import OLSFit, fit_two_way, ols_conventions, prepare_rows

# ---------------------------------------------------------------------------------------------
# Event study (two-way fixed effects)


def event_time(time: pd.Series, first_treated: pd.Series) -> pd.Series:
    """Periods since the start (time - first_treated); missing for never-treated units."""
    ft = pd.to_numeric(first_treated, errors="coerce")
    ft = ft.where(ft > 0)
    return pd.to_numeric(time) - ft


def wald_test(beta: np.ndarray, V: np.ndarray, df_denom: float | None) -> dict:
    """Joint test that ``beta = 0``: F = b' V^-1 b / q with (q, df_denom) degrees of freedom
    (chi-square when ``df_denom`` is None)."""
    q = len(beta)
    if q == 0:
        return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
    W = float(beta @ np.linalg.pinv(V) @ beta)
    if df_denom is None:
        return {"statistic": W, "df": q, "p_value": float(stats.chi2.sf(W, q)), "test": "chi2"}
    F = W / q
    return {
        "statistic": F,
        "df": [q, int(df_denom)],
        "p_value": float(stats.f.sf(F, q, df_denom)),
        "test": "F",
    }


def _event_dummies(d: pd.DataFrame, time, first_treated, ref: int, window):
    """Event times other than ``ref`` (binned into ``window``) and their dummy columns."""
    e = event_time(d[time], d[first_treated])
    if window is not None:
        e = e.clip(lower=window[0], upper=window[1])
    levels = sorted(int(v) for v in e.dropna().unique() if int(v) != ref)
    if ref not in set(e.dropna().astype(int)):
        raise ValueError(f"no treated observation at the reference event time {ref}")
    cols = [((e == k).fillna(False)).to_numpy(float) for k in levels]
    return levels, cols


def _lag_average(fit: OLSFit, lag_idx: list[int], alpha: float):
    """Average of the lag coefficients with its delta-method SE: (estimate, se, crit, p)."""
    a = np.zeros(len(fit.beta))
    a[lag_idx] = 1.0 / max(len(lag_idx), 1)
    est = float(a @ fit.beta)
    se = float(math.sqrt(a @ fit.vcov @ a))
    crit = stats.t.ppf(1 - alpha / 2, fit.df_t)
    p = float(2 * stats.t.sf(abs(est / se), fit.df_t)) if se > 0 else float("nan")
    return est, se, crit, p


def _event_study_conventions(fit, weights, cluster, ref, n_leads, pre, window) -> dict:
    conv = ols_conventions(fit, weights, cluster)
    conv["reference_period"] = f"event time {ref} (the period before the start) is the reference"
    conv["pre_trend_test"] = (
        f"joint Wald test that all {n_leads} lead coefficients are zero: "
        + (
            f"F({pre['df'][0]}, {pre['df'][1]})"
            if pre.get("test") == "F"
            else f"chi-square({n_leads})"
        )
        + " using the same covariance"
    )
    conv["headline"] = "average of the lag coefficients (event time >= 0), delta method"
    if window is not None:
        conv["binning"] = f"event times outside {window} binned into the end points"
    return conv


def event_study(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    ref: int = -1,
    window: tuple[int, int] | None = None,
    covariates: tuple[str, ...] | list[str] = (),
    weights: str | None = None,
    cluster: str | None = None,
    vcov: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Dynamic TWFE: one coefficient per event time (periods since the start) except ``ref``.

    ``window=(lo, hi)`` bins event times beyond the window into the end points.  Never-treated
    units have no event-time dummies (they are the comparison).  The joint Wald pre-trend test
    covers every lead other than the reference period.  The headline estimate is the average
    of the lag coefficients (event time >= 0), with its delta-method standard error.

    With staggered adoption and heterogeneous effects, TWFE lead/lag coefficients can be
    contaminated by other periods' effects (Sun and Abraham 2021); use ``sun_abraham`` or
    ``callaway_santanna`` then.  With a single adoption date (as in the Change Programme) the
    TWFE event study is the interaction-weighted one.
    """
    cluster = cluster or unit
    vcov = vcov or "CR1"
    d, dropped = prepare_rows(
        data, unit, time, outcome, [first_treated, weights, cluster, *covariates]
    )
    levels, cols = _event_dummies(d, time, first_treated, ref, window)
    names = [f"e{k:+d}" for k in levels]
    fit = fit_two_way(d, unit, time, outcome, cols, names, covariates, weights, cluster, vcov)
    table = fit.table(alpha)
    table.insert(0, "event_time", [*levels, *[np.nan] * len(covariates)])
    es = table.iloc[: len(levels)].copy()
    lead_idx = [i for i, k in enumerate(levels) if k < 0]
    lag_idx = [i for i, k in enumerate(levels) if k >= 0]
    pre = wald_test(
        fit.beta[lead_idx],
        fit.vcov[np.ix_(lead_idx, lead_idx)],
        fit.df_t,
    )
    est, se, crit, p = _lag_average(fit, lag_idx, alpha)
    ever = d.loc[pd.to_numeric(d[first_treated], errors="coerce").fillna(0) > 0, unit].nunique()
    return EstimationResult(
        method="Event study (two-way fixed effects)",
        outcome=outcome,
        estimate=est,
        ci_low=est - crit * se,
        ci_high=est + crit * se,
        p_value=p,
        inference=f"cluster-robust ({fit.vcov_type})" if fit.vcov_type == "CR1" else fit.vcov_type,
        alpha=alpha,
        n_treated=int(ever),
        n_comparison_units=int(d[unit].nunique() - ever),
        pre_periods=[k for k in levels if k < 0],
        post_periods=[k for k in levels if k >= 0],
        conventions=_event_study_conventions(
            fit, weights, cluster, ref, len(lead_idx), pre, window
        ),
        se=se,
        unit="outcome units",
        diagnostics={
            "pre_trend_test": pre,
            "n_obs": fit.n_obs,
            "n_clusters": fit.n_clusters,
            "rows_dropped_missing_outcome": int(dropped),
        },
        terms=es,
        extra={"fit": fit, "covariates": table.iloc[len(levels) :]},
    )


# ---------------------------------------------------------------------------------------------
# One treated area: event study with placebo-in-space inference


def _loo_gaps(y, num, den, treated, pool, weighting):
    """Gap series (unit minus comparison) for the treated unit and every leave-one-out placebo."""
    if weighting == "pooled":
        s_num, s_den = num.loc[pool].sum(), den.loc[pool].sum()
        comp = s_num / s_den * 100.0
        loo = (s_num - num.loc[pool]) / (s_den - den.loc[pool]) * 100.0
    else:
        comp = y.loc[pool].mean()
        loo = (y.loc[pool].sum() - y.loc[pool]) / (len(pool) - 1)
    return y.loc[treated] - comp, y.loc[pool] - loo, comp


def _wide_series(data, unit, time, outcome, numerator, denominator, weighting, exclude, start, ref):
    """Units x periods frames of the outcome (and, pooled, the numerator and denominator)
    without the ``exclude`` periods, the reference period (default: the last before
    ``start``), and which units have every value."""
    y = data.pivot(index=unit, columns=time, values=outcome).astype(float)
    periods = [t for t in sorted(y.columns) if t not in exclude]
    y = y[periods]
    if ref is None:
        before = [t for t in periods if t < start]
        if not before:
            raise ValueError("no period before the start")
        ref = before[-1]
    num = den = None
    ok = y.notna().all(axis=1)
    if weighting == "pooled":
        num = data.pivot(index=unit, columns=time, values=numerator).astype(float)[periods]
        den = data.pivot(index=unit, columns=time, values=denominator).astype(float)[periods]
        ok &= num.notna().all(axis=1) & (den > 0).all(axis=1)
    return y, num, den, periods, ref, ok


def _placebo_rank(placebo: np.ndarray, value: float, m: int) -> tuple[float, float]:
    """Test-inversion half-width (the m-th largest |placebo|, infinite if m = 0) and the rank
    p-value (1 + #placebos with |placebo| >= |value|) / (1 + J)."""
    absp = np.sort(np.abs(placebo))[::-1]
    crit = float(absp[m - 1]) if m >= 1 else math.inf
    p = (1 + int((np.abs(placebo) >= abs(value) * (1 - 1e-12)).sum())) / (1 + len(placebo))
    return crit, p


def _period_terms(coef, pcoef, periods, ref, start, m: int) -> pd.DataFrame:
    """One row per period but ``ref``: coefficient, placebo interval and rank p-value."""
    rows = []
    for t in periods:
        if t == ref:
            continue
        crit, p = _placebo_rank(pcoef[t].to_numpy(), coef[t], m)
        rows.append(
            {
                "term": f"{t}",
                "period": t,
                "event_time": t - start,
                "estimate": float(coef[t]),
                "ci_low": float(coef[t] - crit),
                "ci_high": float(coef[t] + crit),
                "p_value": p,
            }
        )
    return pd.DataFrame(rows).set_index("term")


def _pre_trend_rank(coef, pcoef, leads: list, n_placebos: int):
    """Root mean square of the lead coefficients, the placebos' and its rank p-value."""
    if not leads:
        return float("nan"), np.array([]), float("nan")
    stat = float(np.sqrt((coef[leads] ** 2).mean()))
    pstat = np.sqrt((pcoef[leads] ** 2).mean(axis=1)).to_numpy()
    p_pre = (1 + int((pstat >= stat * (1 - 1e-12)).sum())) / (1 + n_placebos)
    return stat, pstat, p_pre


_ONE_TREATED_CONVENTIONS = {
    "coefficients": "gap between the area and the pooled comparison rate in each period, "
    "minus the gap in the reference period",
    "intervals": "per period: coefficients not rejected by the placebo rank test "
    "(each comparison unit in turn as the pilot); no standard error, no normal "
    "approximation",
    "pre_trend_test": "root mean square of the lead coefficients, ranked among the "
    "placebos' (a joint test of no pre-period divergence)",
    "standard_error": "not reported: one treated unit",
}


def event_study_one_treated(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated,
    start,
    pool: list | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    weighting: str = "pooled",
    ref=None,
    exclude: list | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Event study for ONE treated unit against a comparison pool.

    Coefficient for period t: (gap_t - gap_ref), gap = unit minus pooled comparison rate (the
    same comparison as ``did_one_treated``); ``ref`` defaults to the last period before
    ``start``.  Each comparison unit in turn plays the pilot (against the pool without itself).
    Per-period intervals invert the placebo rank test of |coefficient| (exact under
    exchangeability of units, no standard error).  Pre-trend test: the root mean square of the
    lead coefficients, ranked among the placebos' (p = (1 + #placebos as large) / (1 + J)).
    ``exclude`` lists periods left out (e.g. a partially treated year).
    """
    exclude = list(exclude or [])
    y, num, den, periods, ref, ok = _wide_series(
        data, unit, time, outcome, numerator, denominator, weighting, exclude, start, ref
    )
    if treated not in ok.index or not ok[treated]:
        raise ValueError(f"the treated unit {treated!r} lacks {outcome} in some periods")
    candidates = [u for u in (pool if pool is not None else y.index) if u != treated]
    pool_ok = [u for u in candidates if u in ok.index and ok[u]]
    if len(pool_ok) < 2:
        raise ValueError("fewer than two usable comparison units")
    gap, placebo_gaps, comp = _loo_gaps(y, num, den, treated, pool_ok, weighting)
    coef = gap - gap[ref]
    pcoef = placebo_gaps.sub(placebo_gaps[ref], axis=0)
    J = len(pool_ok)
    m = math.floor(alpha * (1 + J) + 1e-12)
    terms = _period_terms(coef, pcoef, periods, ref, start, m)
    leads = [t for t in periods if t < start and t != ref]
    lags = [t for t in periods if t >= start]
    stat, pstat, p_pre = _pre_trend_rank(coef, pcoef, leads, J)
    # headline: average post coefficient, placebo test inversion as in did_one_treated
    avg = float(coef[lags].mean())
    pavg = pcoef[lags].mean(axis=1).to_numpy()
    crit, p_avg = _placebo_rank(pavg, avg, m)
    dist = pd.DataFrame(
        {"unit": pool_ok, "pre_trend_rms": pstat if leads else np.nan, "average_post": pavg}
    )
    return EstimationResult(
        method="Event study, one treated area, placebo-in-space inference",
        outcome=outcome,
        estimate=avg,
        ci_low=avg - crit,
        ci_high=avg + crit,
        p_value=p_avg,
        inference="placebo-in-space, per-period rank test inversion",
        alpha=alpha,
        n_treated=1,
        n_comparison_units=J,
        pre_periods=[t for t in periods if t < start],
        post_periods=lags,
        conventions={
            "reference_period": f"{ref} (the last period before the start) is the reference",
            **_ONE_TREATED_CONVENTIONS,
            "excluded_periods": ", ".join(map(str, exclude)) or "none",
        },
        diagnostics={
            "pre_trend_test": {
                "statistic": stat,
                "p_value": p_pre,
                "test": "placebo rank of RMS of leads",
            },
            "reference_period": ref,
            "comparison_series": {str(k): float(v) for k, v in comp.items()},
        },
        distribution=dist,
        terms=terms,
    )
