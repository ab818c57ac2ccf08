"""Gardner (2021) two-stage difference-in-differences (R ``did2s``), which with unit and period
fixed effects equals the Borusyak, Jaravel & Spiess (2024) imputation estimator.

Fixed effects are fitted on untreated observations only, the outcome residualised, and the
residual regressed on the treatment indicator (or event-time dummies).  SEs: the GMM sandwich of
Gardner / did2s, clustered, accounting for the estimated first stage; no small-sample factor
(as did2s).  Shared conventions on cohorts: :mod:`evaluation.models.staggered_common`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evaluation.models.fe import FixedEffects, factorize
from evaluation.models.results import EstimationResult
from evaluation.models.staggered_common import (
    group_sum,
    never_treated_mask,
    periods_around,
    term_table,
    z_inference,
)


def _first_stage(df: pd.DataFrame, fe_cols, y: np.ndarray, w0: np.ndarray):
    """Fixed effects fitted on the untreated observations (weights ``w0``, zero when treated),
    and the residualised outcome of every observation."""
    codes = [factorize(df[c])[0] for c in fe_cols]
    fe = FixedEffects(codes, w0)
    for name, empty in zip(fe_cols, fe.empty_levels, strict=True):
        if len(empty):
            raise ValueError(
                f"cannot impute: {len(empty)} level(s) of fixed effect '{name}' have no untreated "
                "observations (e.g. always-treated units); drop them"
            )
    coef1 = fe.fit(y)
    return fe, y - fe.predict(coef1)[:, 0]


def _second_stage(X2, fe: FixedEffects, w, w0, y_tilde, cl: np.ndarray):
    """Regression of the residualised outcome on ``X2`` with the GMM sandwich covariance
    (clusters ``cl``); returns (beta, V, number of clusters)."""
    XtW = (X2 * w[:, None]).T
    B = XtW @ X2
    beta = np.linalg.solve(B, XtW @ y_tilde)
    e2 = y_tilde - X2 @ beta
    # Γ = (X10'W X10)^-1 X1'W X2: FE coefficients of each X2 column, full-sample weights
    gamma = fe.solve([np.asarray(d.T @ (X2 * w[:, None])) for d in fe.dummies])
    h = fe.predict(gamma)  # n x k: X1 Γ
    score = X2 * (w * e2)[:, None] - h * (w0 * y_tilde)[:, None]
    S = group_sum(cl, score)
    Binv = np.linalg.inv(B)
    V = Binv @ (S.T @ S) @ Binv
    return beta, V, int(cl.max()) + 1


def _event_time_dummies(t, g, never, ref_periods):
    """Event-time dummies 1{t - g = e} of ever-treated units (``ref_periods`` and empty
    columns left out) and their event times."""
    rel = t - g
    levels = np.sort(np.unique(rel[~never]))
    levels = levels[~np.isin(levels, np.asarray(ref_periods, dtype=float))]
    X2 = np.column_stack([(rel == e) & ~never for e in levels]).astype(float)
    present = X2.sum(0) > 0
    return X2[:, present], levels[present]


def _conventions(fe_cols, event_study, ref_periods, cluster, n_clusters, weights) -> dict:
    return {
        "estimand": "ATT averaged over all treated observations (each treated unit-period weighted equally, or by weights)",
        "first stage": f"fixed effects {' + '.join(fe_cols)} fitted on untreated observations only (not-yet- and never-treated)",
        "second stage": "residualised outcome on the treatment indicator, no intercept"
        + (
            "; event-time dummies for the terms, reference "
            + ", ".join(str(r) for r in ref_periods)
            if event_study
            else ""
        ),
        "standard errors": f"Gardner/did2s GMM correction for the estimated first stage, clustered by {cluster} ({n_clusters} clusters), no small-sample factor",
        "critical values": "standard normal",
        "weights": "observation weights in both stages" if weights else "equal observation weights",
        "anticipation": "none: periods before first_treated are assumed untreated",
    }


def imputation_did(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    event_study: bool = False,
    first_stage_fe: tuple[str, ...] | None = None,
    ref_periods: tuple[int, ...] = (-1,),
) -> EstimationResult:
    """Gardner (2021) two-stage DiD (R ``did2s``) = Borusyak-Jaravel-Spiess imputation.

    Treatment: D_it = 1 when first_treated > 0 and t >= first_treated (0 / NaN / later than the
    last period = never treated).  Stage 1: regress the outcome on the fixed effects
    ``first_stage_fe`` (default unit + time) using untreated observations (D = 0) only, and
    residualise every observation, ỹ = y - FE-hat.  Stage 2: regress ỹ (no intercept) on D
    (headline ATT: the mean of ỹ over treated observations, i.e. the average of imputed effects
    Y - Ŷ(0)); with ``event_study`` also on event-time dummies 1{t - g = e} for ever-treated units
    (``ref_periods`` omitted), reported in ``terms``.

    SEs: GMM sandwich accounting for stage 1 (Gardner 2021; did2s), clustered by ``cluster``
    (default: unit):  V = B⁻¹ [Σ_c s_c s_c'] B⁻¹, B = X2'WX2,
    s_c = Σ_{i∈c} w_i x2_i e2_i − Γ' Σ_{i∈c, untreated} w_i x1_i e1_i, Γ = (X10'WX10)⁻¹ X1'WX2,
    with no small-sample factor (as did2s); normal critical values.
    ``weights``: observation weights used in both stages.
    """
    fe_cols = tuple(first_stage_fe) if first_stage_fe is not None else (unit, time)
    cluster = cluster or unit
    cols = list(
        dict.fromkeys(
            [unit, time, outcome, first_treated, cluster, *fe_cols] + ([weights] if weights else [])
        )
    )
    df = data[cols].reset_index(drop=True)
    if df[outcome].isna().any():
        raise ValueError(f"missing values in outcome '{outcome}'")
    t = df[time].to_numpy(dtype=float)
    g = df[first_treated].to_numpy(dtype=float)
    never = never_treated_mask(g, t.max())
    g = np.where(never, np.nan, g)
    D = (~never) & (t >= g)
    y = df[outcome].to_numpy(dtype=float)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(dtype=float)
    w0 = w * (~D)
    fe, y_tilde = _first_stage(df, fe_cols, y, w0)
    cl = factorize(df[cluster])[0]
    beta, V, n_clusters = _second_stage(D[:, None].astype(float), fe, w, w0, y_tilde, cl)
    att, se = float(beta[0]), float(math.sqrt(V[0, 0]))
    terms = None
    extra: dict = {"first_stage_fe": fe_cols, "first_stage_solver": fe.method}
    if event_study:
        X2, levels = _event_time_dummies(t, g, never, ref_periods)
        b_es, V_es, _ = _second_stage(X2, fe, w, w0, y_tilde, cl)
        terms = term_table([f"e={e:g}" for e in levels], b_es, np.sqrt(np.diag(V_es)), alpha)
        extra["event_vcov"] = V_es
        extra["event_n_obs"] = dict(zip(terms.index, X2.sum(0).astype(int).tolist(), strict=True))
    lo, hi, p = z_inference(att, se, alpha)
    first = np.nanmin(g)
    return EstimationResult(
        method="Two-stage DiD (Gardner) / imputation (Borusyak-Jaravel-Spiess)",
        outcome=outcome,
        estimate=att,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="GMM sandwich (two-stage corrected), cluster-robust",
        alpha=alpha,
        n_treated=int(df.loc[D, unit].nunique()),
        n_comparison_units=int(df.loc[never, unit].nunique()),
        **periods_around(np.unique(t), first),
        conventions=_conventions(fe_cols, event_study, ref_periods, cluster, n_clusters, weights),
        se=se,
        unit="outcome units",
        diagnostics={
            "n_obs": int(len(df)),
            "n_treated_obs": int(D.sum()),
            "n_clusters": n_clusters,
        },
        terms=terms,
        extra=extra,
    )
