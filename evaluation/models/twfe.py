"""Two-way fixed-effects difference-in-differences (the event studies built on it are in
:mod:`evaluation.models.event_study`).

Model (observation *i*, unit *u*, period *t*, optional weight *w*):

    y_ut = alpha_u + gamma_t + tau * D_ut + x_ut' beta + e_ut

estimated by weighted least squares after absorbing the fixed effects (alternating projections,
exact for balanced panels, iterated to 1e-12 otherwise; Frisch-Waugh-Lovell;
:func:`evaluation.models.fe.demean`).  ``D_ut`` is
``1{first_treated_u > 0 and t >= first_treated_u}`` (0 or missing ``first_treated`` = never
treated), or a 0/1 column the caller names.

Standard errors follow R ``fixest``'s defaults so numbers can be checked against it:

* clustered (``vcov="CR1"``): V = G/(G-1) * (N-1)/(N-K) * (X'WX)^-1 (sum_g s_g s_g') (X'WX)^-1
  with scores s_g = sum_{i in g} x_i w_i e_i; K counts the regressors plus the fixed-effect
  levels *not nested* in the clusters (a nested fixed effect counts as one parameter); t tests
  and intervals use the t distribution with G - 1 degrees of freedom;
* ``"hetero"``: HC1, N/(N-K), t with N - K df;  ``"iid"``: RSS/(N-K), t with N - K df.

A pilot area is one treated unit: a clustered standard error for a single treated unit is not
valid, so the per-area estimators (``did_one_treated``, ``event_study_one_treated``) use
placebo-in-space inference instead and report no SE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.models.fe import demean, indicator_matrix
from evaluation.models.results import EstimationResult, headline_from_term

# ---------------------------------------------------------------------------------------------
# Fixed-effect absorption and least squares


def _codes(values) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    if (codes < 0).any():
        raise ValueError("missing values in a fixed-effect or cluster column")
    return codes.astype(np.int64), len(uniques)


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
        S = np.asarray(indicator_matrix(cl, G).T @ scores)
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


def prepare_rows(data, unit, time, outcome, extra_cols):
    """The columns a fit needs (an error names any missing) and the rows with an outcome;
    returns (rows, number of rows dropped for a missing outcome)."""
    cols = [unit, time, outcome, *[c for c in extra_cols if c]]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"columns not in the data: {missing}")
    d = data[list(dict.fromkeys(cols))].copy()
    n_before = len(d)
    d = d.dropna(subset=[outcome])
    return d.reset_index(drop=True), n_before - len(d)


def fit_two_way(d, unit, time, outcome, columns, names, covariates, weights, cluster, vcov):
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


def ols_conventions(fit: OLSFit, weights: str | None, cluster: str | None) -> dict[str, str]:
    """Fixed effects, weights, standard error and critical value of a fit, in words."""
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


def _twfe_conventions(fit: OLSFit, weights, cluster, *, one_treated: bool) -> dict[str, str]:
    conv = ols_conventions(fit, weights, cluster)
    conv["estimand"] = (
        "average effect on treated unit-periods under parallel trends and no anticipation; "
        "with staggered timing and heterogeneous effects TWFE mixes comparisons (use the "
        "Callaway-Sant'Anna or imputation estimators)"
    )
    if one_treated:
        conv["warning"] = (
            "one treated unit: a clustered standard error is not valid here; use placebo "
            "inference (did_one_treated) instead"
        )
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
    d, dropped = prepare_rows(
        data, unit, time, outcome, [first_treated, treatment, weights, cluster, *covariates]
    )
    if treatment is not None:
        D = pd.to_numeric(d[treatment]).to_numpy(float)
    else:
        D = treatment_indicator(d[time], d[first_treated])
    fit = fit_two_way(
        d, unit, time, outcome, [D], ["treatment"], covariates, weights, cluster, vcov
    )
    table = fit.table(alpha)
    treated_units = d.loc[D > 0, unit].nunique()
    ever = (
        d.loc[pd.to_numeric(d[first_treated], errors="coerce").fillna(0) > 0, unit].nunique()
        if first_treated
        else treated_units
    )
    conv = _twfe_conventions(
        fit, weights, cluster, one_treated=cluster == unit and treated_units == 1
    )
    times = sorted(d[time].unique().tolist())
    return EstimationResult(
        method="Two-way fixed-effects DiD",
        outcome=outcome,
        **headline_from_term(table.loc["treatment"]),
        inference=f"cluster-robust ({fit.vcov_type})" if fit.vcov_type == "CR1" else fit.vcov_type,
        alpha=alpha,
        n_treated=int(ever),
        n_comparison_units=int(d[unit].nunique() - ever),
        pre_periods=times,
        post_periods=[],
        conventions=conv,
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
