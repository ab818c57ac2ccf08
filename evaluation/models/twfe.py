"""Two-way fixed-effects difference-in-differences and event studies.

Model (observation *i*, unit *u*, period *t*, optional weight *w*):

    y_ut = alpha_u + gamma_t + tau * D_ut + x_ut' beta + e_ut

estimated by weighted least squares after absorbing the fixed effects (alternating projections,
exact for balanced panels, iterated to 1e-12 otherwise; Frisch-Waugh-Lovell).  ``D_ut`` is
``1{first_treated_u > 0 and t >= first_treated_u}`` (0 or missing ``first_treated`` = never
treated), or a 0/1 column the caller names.

Standard errors follow R ``fixest``'s defaults so numbers can be checked against it:

* clustered (``vcov="CR1"``): V = G/(G-1) * (N-1)/(N-K) * (X'WX)^-1 (sum_g s_g s_g') (X'WX)^-1
  with scores s_g = sum_{i in g} x_i w_i e_i; K counts the regressors plus the fixed-effect
  levels *not nested* in the clusters (a nested fixed effect counts as one parameter); t tests
  and intervals use the t distribution with G - 1 degrees of freedom;
* ``"hetero"``: HC1, N/(N-K), t with N - K df;  ``"iid"``: RSS/(N-K), t with N - K df.

A pilot area is one treated unit: a clustered standard error for a single treated unit is not
valid, so the per-area functions here use placebo-in-space inference instead and report no SE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from evaluation.models.results import EstimationResult

# ---------------------------------------------------------------------------------------------
# Fixed-effect absorption and least squares


def _codes(values) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    if (codes < 0).any():
        raise ValueError("missing values in a fixed-effect or cluster column")
    return codes.astype(np.int64), len(uniques)


def _indicator(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_levels))


def demean(
    X: np.ndarray,
    fe: list[np.ndarray],
    weights: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Residuals of the columns of ``X`` after projecting out the fixed effects ``fe`` (list of
    integer code arrays), weighted by ``weights``; alternating projections to convergence."""
    X = np.array(X, dtype=float, copy=True)
    if X.ndim == 1:
        X = X[:, None]
    if not fe:
        return X
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)
    mats = []
    for codes in fe:
        D = _indicator(codes, int(codes.max()) + 1)
        wsum = np.asarray(D.T @ w).ravel()
        mats.append((D, np.where(wsum > 0, wsum, 1.0)))
    scale = max(float(np.abs(X).max()), 1.0)
    for _ in range(max_iter):
        change = 0.0
        for D, wsum in mats:
            means = (D.T @ (X * w[:, None])) / wsum[:, None]
            step = D @ means
            X -= step
            change = max(change, float(np.abs(step).max()))
        if len(mats) == 1 or change <= tol * scale:
            break
    return X


@dataclass
class OLSFit:
    """A fitted linear model after fixed-effect absorption."""

    names: list[str]
    beta: np.ndarray
    vcov: np.ndarray
    resid: np.ndarray
    X: np.ndarray  # demeaned regressors
    y: np.ndarray  # demeaned outcome
    weights: np.ndarray
    n_obs: int
    k: int  # parameters counted in the small-sample factor
    df_t: int  # degrees of freedom of the t distribution
    n_clusters: int | None
    vcov_type: str
    clusters: np.ndarray | None
    fe: list | None = None  # the absorbed fixed effects (integer codes), for bootstraps

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))

    @property
    def cr1_factor(self) -> float:
        """fixest's CR1 small-sample factor G/(G-1) (N-1)/(N-K) of this model."""
        g = self.n_clusters
        if g is None:
            raise ValueError("not a clustered fit")
        return g / (g - 1) * (self.n_obs - 1) / (self.n_obs - self.k)

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        se = self.se
        t = self.beta / se
        crit = stats.t.ppf(1 - alpha / 2, self.df_t)
        return pd.DataFrame(
            {
                "estimate": self.beta,
                "se": se,
                "t": t,
                "p_value": 2 * stats.t.sf(np.abs(t), self.df_t),
                "ci_low": self.beta - crit * se,
                "ci_high": self.beta + crit * se,
            },
            index=pd.Index(self.names, name="term"),
        )


def _nested(fe_codes: np.ndarray, clusters: np.ndarray) -> bool:
    """Is every level of the fixed effect inside a single cluster?"""
    frame = pd.DataFrame({"fe": fe_codes, "cl": clusters})
    return bool((frame.groupby("fe")["cl"].nunique() <= 1).all())


def fit_ols_fe(
    y: np.ndarray,
    X: np.ndarray,
    names: list[str],
    fe: list[np.ndarray],
    *,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
    vcov: str = "CR1",
) -> OLSFit:
    """WLS of ``y`` on ``X`` absorbing ``fe``; fixest-convention covariance (module docstring)."""
    n = len(y)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    Z = demean(np.column_stack([y, X]), fe, w)
    yd, Xd = Z[:, 0], Z[:, 1:]
    sw = np.sqrt(w)
    XtX = Xd.T @ (Xd * w[:, None])
    bread = np.linalg.pinv(XtX)
    beta = bread @ (Xd.T @ (w * yd))
    resid = yd - Xd @ beta
    k_x = Xd.shape[1]
    n_levels = [int(c.max()) + 1 for c in fe]
    if vcov == "CR1":
        if clusters is None:
            raise ValueError("vcov='CR1' needs a cluster column")
        cl, G = _codes(clusters)
        nested = [_nested(c, cl) for c in fe]
        # fixest "nested": fixed effects nested in the clusters count as one parameter each;
        # the others count their levels, less one per extra fixed effect (collinearity).
        k_fe = sum(1 if is_n else lv for lv, is_n in zip(n_levels, nested, strict=True))
        k = k_x + k_fe - max(len(fe) - 1, 0)
        scores = Xd * (w * resid)[:, None]
        S = np.asarray(_indicator(cl, G).T @ scores)
        meat = S.T @ S
        factor = G / (G - 1) * (n - 1) / (n - k)
        V = factor * bread @ meat @ bread
        df_t, n_cl = G - 1, G
    else:
        k = k_x + sum(n_levels) - max(len(fe) - 1, 0)
        cl, n_cl = None, None
        if vcov == "hetero":
            scores = Xd * (w * resid)[:, None]
            V = n / (n - k) * bread @ (scores.T @ scores) @ bread
        elif vcov == "iid":
            s2 = float(np.sum(w * resid**2) / (n - k))
            V = s2 * bread
        else:
            raise ValueError("vcov must be 'CR1', 'hetero' or 'iid'")
        df_t = n - k
    del sw
    return OLSFit(list(names), beta, V, resid, Xd, yd, w, n, k, df_t, n_cl, vcov, cl, list(fe))


# ---------------------------------------------------------------------------------------------
# Panel helpers


def treatment_indicator(time: pd.Series, first_treated: pd.Series) -> np.ndarray:
    """1 if the unit's treatment has started by this period; 0 or missing = never treated."""
    ft = pd.to_numeric(first_treated, errors="coerce").fillna(0).to_numpy(float)
    t = pd.to_numeric(time).to_numpy(float)
    return ((ft > 0) & (t >= ft)).astype(float)


def _prepare(data, unit, time, outcome, extra_cols):
    cols = [unit, time, outcome, *[c for c in extra_cols if c]]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"columns not in the data: {missing}")
    d = data[list(dict.fromkeys(cols))].copy()
    n_before = len(d)
    d = d.dropna(subset=[outcome])
    return d.reset_index(drop=True), n_before - len(d)


def _fit_two_way(d, unit, time, outcome, columns, names, covariates, weights, cluster, vcov):
    """Unit and period fixed effects absorbed; ``columns`` (arrays) then ``covariates``."""
    X = np.column_stack([*columns, *[pd.to_numeric(d[c]).to_numpy(float) for c in covariates]])
    return fit_ols_fe(
        d[outcome].to_numpy(float),
        X,
        [*names, *covariates],
        [_codes(d[unit])[0], _codes(d[time])[0]],
        weights=None if weights is None else pd.to_numeric(d[weights]).to_numpy(float),
        clusters=d[cluster].to_numpy() if vcov == "CR1" else None,
        vcov=vcov,
    )


def with_wild_bootstrap(
    res: EstimationResult,
    cluster: str,
    *,
    n_boot: int = 9999,
    seed: int = 0,
    weighted: bool = True,
    label: str | None = None,
) -> EstimationResult:
    """Replace a ``twfe`` result's inference by the restricted wild cluster bootstrap (Webb
    weights, test-inversion interval, fixed effects taken into account: METHODOLOGY 6.7)."""
    from evaluation.inference.core import wild_cluster_bootstrap

    fit = res.extra["fit"]
    boot = wild_cluster_bootstrap(
        fit.y,
        fit.X,
        res.extra["data"][cluster].to_numpy(),
        param=0,
        weights=fit.weights if weighted else None,
        n_boot=n_boot,
        weights_dist="webb",
        restricted=True,
        alpha=res.alpha,
        seed=seed,
        small_sample=fit.cr1_factor,
        fe=fit.fe,
    )
    res.ci_low, res.ci_high, res.p_value = boot.ci_low, boot.ci_high, boot.p_value
    label = label or cluster
    res.inference = f"wild cluster bootstrap by {label} (restricted, Webb, {boot.n_boot} draws)"
    res.conventions["inference"] = (
        f"restricted wild cluster bootstrap-t (WCR): residuals under the null, Webb six-point "
        f"weights by {label}, {boot.n_boot} draws (seed {seed}); symmetric p-value; interval "
        "by test inversion with the same draws"
    )
    res.conventions["critical_value"] = "bootstrap distribution of the t statistic"
    res.diagnostics["wild_bootstrap"] = boot.as_dict()
    res.distribution = pd.DataFrame({"t_star": boot.t_draws})
    return res


def _conventions(fit: OLSFit, weights: str | None, cluster: str | None) -> dict[str, str]:
    conv = {
        "fixed_effects": "unit and period fixed effects, absorbed (Frisch-Waugh-Lovell)",
        "weights": (
            f"weighted least squares, weights = {weights} (e.g. the rate's denominator)"
            if weights
            else "unweighted"
        ),
    }
    if fit.vcov_type == "CR1":
        conv["standard_error"] = (
            f"cluster-robust by {cluster} (CR1, the R fixest default): G/(G-1) x (N-1)/(N-K), "
            f"G = {fit.n_clusters}, N = {fit.n_obs}, K = {fit.k} (fixed effects nested in the "
            "clusters counted as one parameter)"
        )
        conv["critical_value"] = f"t distribution with G - 1 = {fit.df_t} degrees of freedom"
    elif fit.vcov_type == "hetero":
        conv["standard_error"] = f"heteroskedasticity-robust HC1, N/(N-K) with K = {fit.k}"
        conv["critical_value"] = f"t distribution with N - K = {fit.df_t} degrees of freedom"
    else:
        conv["standard_error"] = f"classical (iid), RSS/(N-K) with K = {fit.k}"
        conv["critical_value"] = f"t distribution with N - K = {fit.df_t} degrees of freedom"
    return conv


def twfe(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str | None = None,
    treatment: str | None = None,
    covariates: tuple[str, ...] | list[str] = (),
    weights: str | None = None,
    cluster: str | None = None,
    vcov: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Static two-way fixed-effects DiD (see the module docstring for the conventions).

    ``cluster`` defaults to ``unit``; ``vcov`` defaults to ``"CR1"``.  The result's ``extra``
    holds the :class:`OLSFit` (``extra["fit"]``) for bootstrap or permutation inference.
    With staggered adoption and heterogeneous effects the TWFE coefficient is a weighted average
    with possibly negative weights (Goodman-Bacon 2021): use ``callaway_santanna`` or
    ``imputation_did`` then, as the conventions say.
    """
    if (first_treated is None) == (treatment is None):
        raise ValueError("give exactly one of first_treated= or treatment=")
    cluster = cluster or unit
    vcov = vcov or "CR1"
    d, dropped = _prepare(
        data, unit, time, outcome, [first_treated, treatment, weights, cluster, *covariates]
    )
    if treatment is not None:
        D = pd.to_numeric(d[treatment]).to_numpy(float)
    else:
        D = treatment_indicator(d[time], d[first_treated])
    fit = _fit_two_way(
        d, unit, time, outcome, [D], ["treatment"], covariates, weights, cluster, vcov
    )
    table = fit.table(alpha)
    row = table.loc["treatment"]
    treated_units = d.loc[D > 0, unit].nunique()
    ever = (
        d.loc[pd.to_numeric(d[first_treated], errors="coerce").fillna(0) > 0, unit].nunique()
        if first_treated
        else treated_units
    )
    conv = _conventions(fit, weights, cluster)
    conv["estimand"] = (
        "average effect on treated unit-periods under parallel trends and no anticipation; "
        "with staggered timing and heterogeneous effects TWFE mixes comparisons (use the "
        "Callaway-Sant'Anna or imputation estimators)"
    )
    if cluster == unit and treated_units == 1:
        conv["warning"] = (
            "one treated unit: a clustered standard error is not valid here; use placebo "
            "inference (did_one_treated) instead"
        )
    times = sorted(d[time].unique().tolist())
    return EstimationResult(
        method="Two-way fixed-effects DiD",
        outcome=outcome,
        estimate=float(row["estimate"]),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        p_value=float(row["p_value"]),
        inference=f"cluster-robust ({fit.vcov_type})" if fit.vcov_type == "CR1" else fit.vcov_type,
        alpha=alpha,
        n_treated=int(ever),
        n_comparison_units=int(d[unit].nunique() - ever),
        pre_periods=times,
        post_periods=[],
        conventions=conv,
        se=float(row["se"]),
        unit="outcome units",
        diagnostics={
            "n_obs": fit.n_obs,
            "n_clusters": fit.n_clusters,
            "k": fit.k,
            "df_t": fit.df_t,
            "rows_dropped_missing_outcome": int(dropped),
        },
        terms=table,
        extra={"fit": fit, "data": d},
    )


# ---------------------------------------------------------------------------------------------
# Event study


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
    d, dropped = _prepare(data, unit, time, outcome, [first_treated, weights, cluster, *covariates])
    e = event_time(d[time], d[first_treated])
    if window is not None:
        e = e.clip(lower=window[0], upper=window[1])
    levels = sorted(int(v) for v in e.dropna().unique() if int(v) != ref)
    if ref not in set(e.dropna().astype(int)):
        raise ValueError(f"no treated observation at the reference event time {ref}")
    cols = [((e == k).fillna(False)).to_numpy(float) for k in levels]
    names = [f"e{k:+d}" for k in levels]
    fit = _fit_two_way(d, unit, time, outcome, cols, names, covariates, weights, cluster, vcov)
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
    # headline: average of the lag coefficients
    a = np.zeros(len(fit.beta))
    a[lag_idx] = 1.0 / max(len(lag_idx), 1)
    est = float(a @ fit.beta)
    se = float(math.sqrt(a @ fit.vcov @ a))
    crit = stats.t.ppf(1 - alpha / 2, fit.df_t)
    p = float(2 * stats.t.sf(abs(est / se), fit.df_t)) if se > 0 else float("nan")
    ever = d.loc[pd.to_numeric(d[first_treated], errors="coerce").fillna(0) > 0, unit].nunique()
    conv = _conventions(fit, weights, cluster)
    conv["reference_period"] = f"event time {ref} (the period before the start) is the reference"
    conv["pre_trend_test"] = (
        f"joint Wald test that all {len(lead_idx)} lead coefficients are zero: "
        + (
            f"F({pre['df'][0]}, {pre['df'][1]})"
            if pre.get("test") == "F"
            else f"chi-square({len(lead_idx)})"
        )
        + " using the same covariance"
    )
    conv["headline"] = "average of the lag coefficients (event time >= 0), delta method"
    if window is not None:
        conv["binning"] = f"event times outside {window} binned into the end points"
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
        conventions=conv,
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
    rows = []
    for t in periods:
        if t == ref:
            continue
        absp = np.sort(np.abs(pcoef[t].to_numpy()))[::-1]
        crit = float(absp[m - 1]) if m >= 1 else math.inf
        p = (1 + int((np.abs(pcoef[t].to_numpy()) >= abs(coef[t]) * (1 - 1e-12)).sum())) / (1 + J)
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
    terms = pd.DataFrame(rows).set_index("term")
    leads = [t for t in periods if t < start and t != ref]
    lags = [t for t in periods if t >= start]
    if leads:
        stat = float(np.sqrt((coef[leads] ** 2).mean()))
        pstat = np.sqrt((pcoef[leads] ** 2).mean(axis=1)).to_numpy()
        p_pre = (1 + int((pstat >= stat * (1 - 1e-12)).sum())) / (1 + J)
    else:
        stat, pstat, p_pre = float("nan"), np.array([]), float("nan")
    # headline: average post coefficient, placebo test inversion as in did_one_treated
    avg = float(coef[lags].mean())
    pavg = pcoef[lags].mean(axis=1).to_numpy()
    absp = np.sort(np.abs(pavg))[::-1]
    crit = float(absp[m - 1]) if m >= 1 else math.inf
    p_avg = (1 + int((np.abs(pavg) >= abs(avg) * (1 - 1e-12)).sum())) / (1 + J)
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
            "coefficients": "gap between the area and the pooled comparison rate in each period, "
            "minus the gap in the reference period",
            "intervals": "per period: coefficients not rejected by the placebo rank test "
            "(each comparison unit in turn as the pilot); no standard error, no normal "
            "approximation",
            "pre_trend_test": "root mean square of the lead coefficients, ranked among the "
            "placebos' (a joint test of no pre-period divergence)",
            "standard_error": "not reported: one treated unit",
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
