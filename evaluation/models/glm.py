"""Grouped-binomial fixed-effects GLM: a robustness check for proportion outcomes.

A rate such as "plans issued within 20 weeks" is ``successes / trials`` per area and period.
The linear DiD weights each area by its denominator; this check models the counts directly:

    successes_ut ~ Binomial(trials_ut, p_ut),   logit p_ut = alpha_u + gamma_t + tau * D_ut

fitted by maximum likelihood (IRLS, statsmodels) with unit and period dummies (about 160
parameters for our panels; the incidental-parameter bias of a logit with unit effects vanishes
as the trials per cell grow, and our cells hold hundreds of trials).  Reported:

* ``tau`` as an odds ratio, and
* the average effect on the treated in percentage points: the trial-weighted mean over treated
  cells of p_hat - p_hat(D = 0).  This is on the scale of the linear DiD, so the two can be
  compared.

Inference here is cluster-robust (CR1: G/(G-1)(N-1)/(N-K) as statsmodels' ``use_correction``;
t with G - 1 df), with a delta-method SE for the percentage-point effect.  It is valid only
with many treated and many untreated clusters: with fewer than ``FEW_CLUSTERS`` = 42 of either
the result says so (``diagnostics["few_cluster_valid"]`` False, a convention) and
:func:`evaluation.inference.score_bootstrap.binomial_fe_inference` replaces it by the
restricted score cluster bootstrap (the programme always does; METHODOLOGY 6.4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

# the modules we use, not statsmodels.api (which also loads datasets, graphics and tsa: ~1 s)
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM

from evaluation.models.results import EstimationResult, headline_from_term
from evaluation.models.twfe import treatment_indicator

FEW_CLUSTERS = 42  # below this many treated or untreated clusters, CR1 is not trusted


def _cells(data, unit, time, successes, trials, cluster, first_treated, treatment):
    """The cells with trials (counts numeric; an error if successes exceed trials), how many
    were dropped, and the treatment indicator."""
    cols = list(dict.fromkeys([unit, time, successes, trials, cluster, first_treated or treatment]))
    d = data[cols].copy()
    d[successes] = pd.to_numeric(d[successes], errors="coerce")
    d[trials] = pd.to_numeric(d[trials], errors="coerce")
    keep = d[successes].notna() & d[trials].notna() & (d[trials] > 0)
    dropped = int((~keep).sum())
    d = d[keep].reset_index(drop=True)
    if ((d[successes] < 0) | (d[successes] > d[trials])).any():
        raise ValueError(f"{successes} must lie between 0 and {trials}")
    D = (
        pd.to_numeric(d[treatment]).to_numpy(float)
        if treatment
        else treatment_indicator(d[time], d[first_treated])
    )
    return d, dropped, D


def _effect_pp(X: np.ndarray, b: np.ndarray, V: np.ndarray, treated: np.ndarray, n_tr):
    """Average effect on the treated cells in percentage points (trial-weighted mean of p_hat
    minus p_hat without the treatment term) and its delta-method SE."""
    tau = float(b[1])
    eta = X[treated] @ b
    p1, p0 = expit(eta), expit(eta - tau)
    ame = float(np.sum(n_tr * (p1 - p0)) / n_tr.sum() * 100)
    # gradient of the AME wrt beta: d p/d eta = p(1-p)
    g1 = (n_tr * p1 * (1 - p1))[:, None] * X[treated]
    X0 = X[treated].copy()
    X0[:, 1] = 0.0
    g0 = (n_tr * p0 * (1 - p0))[:, None] * X0
    grad = (g1 - g0).sum(axis=0) / n_tr.sum() * 100
    return ame, float(np.sqrt(grad @ V @ grad))


def _terms(tau, se_tau, ame, se_ame, crit, df_t) -> pd.DataFrame:
    t_ame = ame / se_ame if se_ame > 0 else float("nan")
    return pd.DataFrame(
        {
            "estimate": [tau, float(np.exp(tau)), ame],
            "se": [se_tau, np.nan, se_ame],
            "ci_low": [
                tau - crit * se_tau,
                float(np.exp(tau - crit * se_tau)),
                ame - crit * se_ame,
            ],
            "ci_high": [
                tau + crit * se_tau,
                float(np.exp(tau + crit * se_tau)),
                ame + crit * se_ame,
            ],
            "p_value": [float(2 * stats.t.sf(abs(tau / se_tau), df_t))] * 2
            + [float(2 * stats.t.sf(abs(t_ame), df_t))],
        },
        index=pd.Index(["log_odds_ratio", "odds_ratio", "effect_pp"], name="term"),
    )


def _conventions(cluster, G: int, G1: int, df_t: int, ever: int) -> dict[str, str]:
    conventions = {
        "model": "grouped binomial (successes out of trials) logit with unit and period "
        "dummies, maximum likelihood (IRLS)",
        "estimand": "average effect on the treated cells in percentage points: trial-weighted "
        "mean of p_hat minus p_hat with the treatment term removed",
        "standard_error": f"cluster-robust by {cluster}, CR1 G/(G-1) x (N-1)/(N-K) "
        f"(G = {G}), delta method for the percentage-point effect",
        "critical_value": f"t distribution with G - 1 = {df_t} degrees of freedom",
        "weights": "each cell weighted by its trials through the binomial likelihood",
    }
    if min(G1, G - G1) < FEW_CLUSTERS:
        conventions["few_clusters"] = (
            f"{G1} of {G} clusters treated: with fewer than {FEW_CLUSTERS} treated or untreated "
            "clusters CR1 p-values are too small; use "
            "evaluation.inference.score_bootstrap.binomial_fe_inference"
        )
    if ever == 1 or G1 == 1:
        what = "unit" if ever == 1 else "cluster"
        conventions["warning"] = (
            f"one treated {what}: neither the clustered standard error nor a cluster "
            "bootstrap is valid; read this as a point estimate only"
        )
    return conventions


def binomial_fe(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    successes: str,
    trials: str,
    first_treated: str | None = None,
    treatment: str | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    outcome_label: str | None = None,
) -> EstimationResult:
    """Grouped-binomial logit with unit and period fixed effects (module docstring).

    ``extra["cells"]`` holds what a bootstrap needs: successes, trials, treatment, unit,
    period and cluster codes of the cells fitted."""
    if (first_treated is None) == (treatment is None):
        raise ValueError("give exactly one of first_treated= or treatment=")
    cluster = cluster or unit
    d, dropped, D = _cells(data, unit, time, successes, trials, cluster, first_treated, treatment)
    dummies = pd.get_dummies(
        d[[unit, time]].astype(str), drop_first=True, dtype=float, prefix=["u", "t"]
    )
    X = np.column_stack([np.ones(len(d)), D, dummies.to_numpy()])
    endog = np.column_stack([d[successes], d[trials] - d[successes]]).astype(float)
    groups = pd.factorize(d[cluster])[0]
    model = GLM(endog, X, family=families.Binomial())
    res = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    G = int(groups.max()) + 1
    df_t = G - 1
    b, V = np.asarray(res.params), np.asarray(res.cov_params())
    tau, se_tau = float(b[1]), float(np.sqrt(V[1, 1]))
    crit = stats.t.ppf(1 - alpha / 2, df_t)
    # average effect on the treated, percentage points (trial-weighted over treated cells)
    tr = D > 0
    ame, se_ame = _effect_pp(X, b, V, tr, d.loc[tr, trials].to_numpy(float))
    terms = _terms(tau, se_tau, ame, se_ame, crit, df_t)
    ever = d.loc[tr, unit].nunique()
    G1 = int(np.unique(groups[tr]).size)  # treated clusters
    cells = {
        "successes": d[successes].to_numpy(float),
        "trials": d[trials].to_numpy(float),
        "D": D,
        "units": pd.factorize(d[unit])[0],
        "times": pd.factorize(d[time])[0],
        "clusters": groups,
    }
    return EstimationResult(
        method="Grouped-binomial fixed-effects logit",
        outcome=outcome_label or successes,
        inference="cluster-robust (CR1)",
        alpha=alpha,
        n_treated=int(ever),
        n_comparison_units=int(d[unit].nunique() - ever),
        pre_periods=sorted(set(d[time]) - set(d.loc[tr, time])),
        post_periods=sorted(set(d.loc[tr, time])),
        conventions=_conventions(cluster, G, G1, df_t, ever),
        unit="percentage points",
        diagnostics={
            "odds_ratio": float(np.exp(tau)),
            "n_cells": len(d),
            "cells_dropped_no_trials": dropped,
            "n_clusters": G,
            "n_treated_clusters": G1,
            "converged": bool(res.converged),
            "se_cr1": se_ame,
            "p_value_cr1": float(terms.loc["effect_pp", "p_value"]),
            # False: a CR1 p-value with few clusters is too small (METHODOLOGY 6.10)
            "few_cluster_valid": min(G1, G - G1) >= FEW_CLUSTERS,
        },
        terms=terms,
        extra={"cells": cells, "cluster": cluster},
        **headline_from_term(terms.loc["effect_pp"]),
    )
