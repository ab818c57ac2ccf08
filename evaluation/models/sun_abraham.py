"""Sun & Abraham (2021) interaction-weighted event study, as fixest ``sunab()``.

TWFE regression of the outcome on cohort x relative-period dummies (never-treated units as the
control cohort, relative period -1 omitted), aggregated to event-time effects (cohort shares
within each relative period) and to an ATT (cell shares over all post-treatment cells) by the
delta method with the cluster-robust covariance under fixest's small-sample convention.  Shared
conventions on cohorts: :mod:`evaluation.models.staggered_common`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.linalg as sla

from evaluation.models.fe import FixedEffects, factorize
from evaluation.models.results import EstimationResult
from evaluation.models.staggered_common import (
    group_sum,
    never_treated_mask,
    periods_around,
    term_table,
    z_inference,
)


def _ols_cluster(X, y, w, cl, n_fe_params_not_nested):
    """OLS on (already within-transformed) X, y; CR1 vcov with fixest's default ssc."""
    XtW = (X * w[:, None]).T
    B = XtW @ X
    Binv = np.linalg.inv(B)
    beta = Binv @ (XtW @ y)
    e = y - X @ beta
    C = int(cl.max()) + 1
    S = group_sum(cl, X * (w * e)[:, None])
    n, k = X.shape
    K = k + n_fe_params_not_nested
    adj = (C / (C - 1)) * ((n - 1) / (n - K))
    V = adj * Binv @ (S.T @ S) @ Binv
    return beta, V, e, C, K


def _independent_columns(X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns (pivoted QR), in original order."""
    if X.shape[1] == 0:
        return np.arange(0)
    norms = np.linalg.norm(X, axis=0)
    nz = np.flatnonzero(norms > tol * max(1.0, norms.max()))
    if len(nz) == 0:
        return nz
    Xn = X[:, nz] / norms[nz]
    R0 = np.linalg.qr(Xn, mode="r")  # k x k; pivoting on R0 is much cheaper than on X
    _, R, piv = sla.qr(R0, pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int((diag > tol * diag[0]).sum())
    return np.sort(nz[piv[:rank]])


def _fe_params_not_nested(ucode: np.ndarray, tcode: np.ndarray, cl: np.ndarray) -> int:
    """Fixed-effect parameters not nested in the clusters (fixest ``fixef.K = "nested"``)."""
    n_fe = 0
    nested_any = False
    for codes in (ucode, tcode):
        nested = bool((pd.Series(cl).groupby(codes).nunique() == 1).all())
        nested_any |= nested
        if not nested:
            n_fe += int(codes.max()) + 1
    n_fe -= 0 if nested_any else 1  # one redundant level when both factors are counted
    return n_fe


def _cell_dummies(c, rel, never, refs):
    """Cohort x relative-period cells (sorted by period, then cohort; ``refs`` omitted) and
    their dummies."""
    cells = pd.DataFrame({"c": c[~never], "e": rel[~never]}).drop_duplicates()
    cells = cells[~cells["e"].isin(refs)].sort_values(["e", "c"]).to_numpy()
    Xcells = np.column_stack([(~never) & (c == cc) & (rel == ee) for cc, ee in cells]).astype(float)
    return cells, Xcells


def _aggregations(keep, n_cov, cells, Xcells, w, beta, V, alpha, df_t):
    """Event-time effects (``terms``) and the ATT with its SE, cell shares as fixed weights."""
    # cell bookkeeping for the aggregations (only kept cell columns)
    cell_idx = [j for j, i in enumerate(keep) if i >= n_cov]
    cell_ce = np.array([cells[keep[j] - n_cov] for j in cell_idx]) if cell_idx else np.zeros((0, 2))
    cell_n = np.array([(Xcells[:, keep[j] - n_cov] * w).sum() for j in cell_idx])

    def combine(mask):
        idx = np.asarray(cell_idx)[mask]
        a = np.zeros(len(beta))
        a[idx] = cell_n[mask] / cell_n[mask].sum()
        return float(a @ beta), float(math.sqrt(a @ V @ a))

    es = np.unique(cell_ce[:, 1]) if len(cell_ce) else np.array([])
    ev = [combine(cell_ce[:, 1] == ee) for ee in es]
    terms = term_table(
        [f"e={ee:g}" for ee in es], [x[0] for x in ev], [x[1] for x in ev], alpha, df_t
    )
    post = cell_ce[:, 1] >= 0 if len(cell_ce) else np.zeros(0, bool)
    if not post.any():
        raise ValueError("no post-treatment cohort x period cells")
    att, att_se = combine(post)
    return terms, att, att_se


def _conventions(unit, time, cluster, refs, K, df_t) -> dict[str, str]:
    return {
        "estimand": "ATT: cohort x relative-period effects (e >= 0) weighted by their share of post-treatment observations",
        "control cohort": "never-treated units",
        "reference period": f"relative period(s) {', '.join(f'{r:g}' for r in refs)} omitted for every cohort",
        "fixed effects": f"{unit} and {time}",
        "small-sample correction": f"G/(G-1) x (n-1)/(n-K), K = {K} (slopes + fixed effects not nested in the {cluster} clusters)",
        "critical values": f"Student t with G-1 = {df_t} df",
        "aggregation weights": "cell shares treated as fixed (delta method), as fixest aggregate()",
    }


def sun_abraham(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str,
    covariates: tuple[str, ...] | list[str] = (),
    cluster: str | None = None,
    never_value: float | None = None,
    ref_period: int | tuple[int, ...] = -1,
    weights: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Sun & Abraham (2021) interaction-weighted event study (fixest ``sunab``).

    Model: y_it = α_i + λ_t + x_it'γ + Σ_{c, e ∉ ref} δ_{c,e} 1{cohort_i = c, t - c = e} + ε_it,
    never-treated units (cohort NaN, 0, ``never_value`` or later than the last period) forming the
    control cohort with no dummies; relative period(s) ``ref_period`` omitted.  Estimated by OLS
    after exact two-way within transformation.

    Aggregation (fixest): event-time effect β_e = Σ_c s_{c|e} δ_{c,e} with s the share of
    observations of cohort c among those at relative period e; headline ATT = Σ_{c, e>=0} s_{c,e}
    δ_{c,e}, with s the cell's share of all post-treatment observations (fixest
    ``aggregate(., "att")``).  Weights are treated as fixed (delta method).

    Vcov: cluster-robust (default cluster: unit), CR1 times fixest's default small-sample factor
    G/(G-1) · (n-1)/(n-K), K = slope coefficients + fixed-effect parameters not nested in the
    clusters (fixest ``fixef.K = "nested"``).  p-values and intervals use Student t with G-1 df
    (fixest ``t.df = "min"``).
    """
    covariates = list(covariates)
    cluster = cluster or unit
    refs = np.atleast_1d(np.asarray(ref_period, dtype=float))
    cols = list(
        dict.fromkeys(
            [unit, time, outcome, cohort, cluster, *covariates] + ([weights] if weights else [])
        )
    )
    df = data[cols].dropna(subset=[outcome, *covariates]).reset_index(drop=True)
    t = df[time].to_numpy(dtype=float)
    c = df[cohort].to_numpy(dtype=float)
    never = never_treated_mask(c, t.max())
    if never_value is not None:
        never |= c == never_value
    if not never.any():
        raise ValueError("sun_abraham needs never-treated units as the control cohort")
    if (c[~never] <= t.min()).any():
        raise ValueError("cohorts treated in the first period have no pre-period; drop these units")
    y = df[outcome].to_numpy(dtype=float)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(dtype=float)
    rel = np.where(never, np.nan, t - c)
    cells, Xcells = _cell_dummies(c, rel, never, refs)
    X = np.column_stack([df[covariates].to_numpy(dtype=float), Xcells]) if covariates else Xcells
    names = list(covariates) + [f"g={cc:g},e={ee:g}" for cc, ee in cells]

    ucode, tcode = factorize(df[unit])[0], factorize(df[time])[0]
    fe = FixedEffects([ucode, tcode], w)
    Xd = fe.absorb(X)
    yd = fe.absorb(y)
    keep = _independent_columns(Xd * np.sqrt(w)[:, None])
    dropped = [names[i] for i in range(len(names)) if i not in set(keep)]
    cl = factorize(df[cluster])[0]
    n_fe = _fe_params_not_nested(ucode, tcode, cl)
    beta, V, e, n_clusters, K = _ols_cluster(Xd[:, keep], yd, w, cl, n_fe)
    names_k = [names[i] for i in keep]
    se = np.sqrt(np.diag(V))
    df_t = n_clusters - 1
    coef_table = term_table(names_k, beta, se, alpha, df_t)
    terms, att, att_se = _aggregations(
        keep, len(covariates), cells, Xcells, w, beta, V, alpha, df_t
    )
    lo, hi, p = z_inference(att, att_se, alpha, df_t)
    first = c[~never].min()
    return EstimationResult(
        method="Sun-Abraham interaction-weighted event study (ATT aggregation)",
        outcome=outcome,
        estimate=att,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference=f"cluster-robust (CR1, fixest small-sample convention), t with {df_t} df",
        alpha=alpha,
        n_treated=int(df.loc[~never, unit].nunique()),
        n_comparison_units=int(df.loc[never, unit].nunique()),
        **periods_around(np.unique(t), first),
        conventions=_conventions(unit, time, cluster, refs, K, df_t),
        se=att_se,
        unit="outcome units",
        diagnostics={
            "n_obs": int(len(df)),
            "n_clusters": n_clusters,
            "K": int(K),
            "dropped_collinear": dropped,
        },
        terms=terms,
        extra={"coefficients": coef_table, "vcov": pd.DataFrame(V, index=names_k, columns=names_k)},
    )
