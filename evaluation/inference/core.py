"""Inference for few clusters / few treated groups, reusable on any linear model.

Three procedures, each usable on its own:

``wild_cluster_bootstrap``
    Wild cluster restricted ("WCR") bootstrap-t for one coefficient of a (weighted) linear model
    ``y = X b + u`` with cluster ids (Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017;
    Roodman, MacKinnon, Nielsen & Webb 2019, "boottest").  Fixed effects are partialled out
    beforehand (Frisch-Waugh-Lovell): pass the demeaned ``y`` and ``X``.
``randomisation_inference``
    Fisher randomisation inference permuting the assignment at the level it was made (e.g.
    partnership), within strata, with exact enumeration when small.
``conley_taber``
    Conley & Taber (2011) interval for a DiD with few treated groups and many controls, built from
    the distribution of the control groups' residuals (optionally with the Ferman & Pinto 2019
    correction for heteroskedasticity driven by group size).

Wild bootstrap algebra (the boottest trick, here for one coefficient ``p``).  Let
``Q = (X'WX)^-1``, ``q = Q[p]``, ``z_i = w_i x_i'q`` and ``u_r`` the residuals of the model
estimated under H0: ``b_p = delta``.  A bootstrap sample ``y* = X b_r + u_r * v_g`` gives

    b*_p - delta           = sum_g a_g v_g,            a_g = sum_{i in g} z_i u_ri
    score of b*_p, cluster = (K v)_g,                  K   = diag(a) - M Q S   (G x G)

with ``S[:, g] = X_g' W_g u_rg`` (k x G) and ``M[g] = sum_{i in g} z_i x_i`` (G x k).  So a draw
costs O(G^2) (not O(N)) and all draws are one matrix product ``K @ V`` with ``V`` the G x B matrix
of cluster weights.  Because ``u_r`` is affine in ``delta``, so are ``a`` and ``K``; the squared
bootstrap standard errors are quadratics in ``delta`` whose coefficients are computed once, so the
p-value at any null value costs O(B) and the confidence interval is found by root-finding on
``p(delta) = alpha`` with the SAME draws ``V`` for every ``delta`` (as boottest does).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from evaluation.models.results import EstimationResult

# --------------------------------------------------------------------------------------------
# Wild cluster bootstrap
# --------------------------------------------------------------------------------------------

_WEBB = np.array(
    [-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)], dtype=float
)
_MAMMEN_LO = -(math.sqrt(5) - 1) / 2
_MAMMEN_HI = (math.sqrt(5) + 1) / 2
_MAMMEN_P_LO = (math.sqrt(5) + 1) / (2 * math.sqrt(5))


def _support(dist: str) -> tuple[np.ndarray, np.ndarray]:
    """Support points and probabilities of the auxiliary weight distribution."""
    if dist == "webb":
        return _WEBB, np.full(6, 1 / 6)
    if dist == "rademacher":
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    if dist == "mammen":
        return np.array([_MAMMEN_LO, _MAMMEN_HI]), np.array([_MAMMEN_P_LO, 1 - _MAMMEN_P_LO])
    raise ValueError("weights_dist must be 'webb', 'rademacher' or 'mammen'")


def bootstrap_weights(
    n_clusters: int, n_boot: int, weights_dist: str = "webb", seed: int = 0, enumerate: bool = True
) -> tuple[np.ndarray, bool]:
    """The G x B matrix of auxiliary cluster weights, and whether it is a full enumeration.

    When the distribution has ``m`` support points and ``m**G <= n_boot`` (e.g. Rademacher with
    G = 9: 512 sign vectors), every combination is used exactly once (with its probability as a
    weight only if the points are not equally likely: Mammen enumeration is therefore NOT
    used, only equal-probability Rademacher/Webb are enumerated), as boottest does.
    """
    pts, prob = _support(weights_dist)
    m = len(pts)
    equal = np.allclose(prob, prob[0])
    if enumerate and equal and m**n_clusters <= n_boot:
        idx = np.array(list(itertools.product(range(m), repeat=n_clusters)), dtype=np.int64)
        return pts[idx.T], True
    rng = np.random.default_rng(seed)
    if equal:
        idx = rng.integers(0, m, size=(n_clusters, n_boot))
    else:
        idx = (rng.random((n_clusters, n_boot)) >= prob[0]).astype(np.int64)
    return pts[idx], False


@dataclass
class WildBootstrapResult:
    """Output of :func:`wild_cluster_bootstrap`."""

    estimate: float
    se_cr1: float
    t: float
    p_value: float
    ci_low: float
    ci_high: float
    n_boot: int
    weights_dist: str
    null: float
    alpha: float
    p_type: str
    n_clusters: int
    n_obs: int
    enumerated: bool
    small_sample_factor: float
    t_draws: np.ndarray = field(repr=False)
    p_value_fn: Callable[[float], float] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "estimate",
                "se_cr1",
                "t",
                "p_value",
                "ci_low",
                "ci_high",
                "n_boot",
                "weights_dist",
                "null",
                "alpha",
                "p_type",
                "n_clusters",
                "n_obs",
                "enumerated",
                "small_sample_factor",
            )
        }


def _cluster_matrix(codes: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))


def _pvalue(t_star: np.ndarray, t_obs: np.ndarray | float, p_type: str) -> np.ndarray:
    """Bootstrap p-value(s); ``t_star`` is B or (n, B), ``t_obs`` scalar or (n,)."""
    t_obs = np.asarray(t_obs, dtype=float)[..., None]
    tol = 1e-10 * np.maximum(1.0, np.abs(t_obs))
    if p_type == "symmetric":
        return np.mean(np.abs(t_star) >= np.abs(t_obs) - tol, axis=-1)
    if p_type == "equal-tailed":
        lo = np.mean(t_star <= t_obs + tol, axis=-1)
        hi = np.mean(t_star >= t_obs - tol, axis=-1)
        return np.minimum(1.0, 2 * np.minimum(lo, hi))
    raise ValueError("p_type must be 'symmetric' or 'equal-tailed'")


def wild_cluster_bootstrap(
    y,
    X,
    cluster,
    *,
    param: int = 0,
    weights=None,
    null: float = 0.0,
    n_boot: int = 9999,
    weights_dist: str = "webb",
    restricted: bool = True,
    alpha: float = 0.05,
    seed: int = 0,
    ci: bool = True,
    p_type: str = "symmetric",
    small_sample: float | None = None,
    enumerate: bool = True,
    fe: list | None = None,
) -> WildBootstrapResult:
    """Wild cluster bootstrap-t test of ``b[param] = null`` and its inverted confidence interval.

    Parameters
    ----------
    y, X : outcome (N,) and regressors (N, k), fixed effects already partialled out (FWL).
    cluster : (N,) cluster ids.
    weights : (N,) analytic/probability weights (WLS); ``None`` = OLS.
    restricted : True (default, "WCR") imposes the null when building bootstrap samples;
        False ("WCU") uses the unrestricted residuals (draws then centred on the estimate).
    p_type : "symmetric" = share of |t*| >= |t| (default, as boottest); "equal-tailed" =
        2 min(share t* <= t, share t* >= t).
    small_sample : the CR1 factor; default ``G/(G-1) * (N-1)/(N-k)``.  It multiplies the
        original and every bootstrap variance alike, so it changes the reported ``se_cr1`` but
        cancels from the p-value and the interval (they compare t with t*).  With FWL-demeaned
        data, pass the factor of the full model (e.g. fixest's, with k counting the fixed
        effects not nested in clusters) if ``se_cr1`` must match it.
    fe : integer code arrays of fixed effects already partialled out of ``y`` and ``X``.  When
        given, each bootstrap sample is treated exactly as the full model would treat it: the
        re-estimated residuals have the fixed effects projected out of ``u * v`` too (this
        matters when the fixed effects are not nested in the clusters, e.g. year effects with
        clusters of areas); without it the bootstrap works in the partialled-out space only.
        The coefficient draws are the same either way; the bootstrap standard errors differ.
    enumerate : use every weight combination once when ``m**G <= n_boot`` (Rademacher G <= 13
        at 9,999 draws; Webb G <= 5).  The p-value is then exact given the data.

    The interval is ``{delta : p(delta) > alpha}`` found by bracketing and bisection from the
    estimate outwards, using the same draws for every ``delta``; an endpoint is infinite if no
    ``delta`` within 1,000 standard errors is rejected (possible with very few clusters).
    """
    y = np.asarray(y, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    codes, _ = pd.factorize(pd.Series(np.asarray(cluster)), sort=True)
    if (codes < 0).any():
        raise ValueError("cluster ids must not be missing")
    G = int(codes.max()) + 1
    if G < 2:
        raise ValueError("need at least two clusters")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if len(y) != n or len(w) != n or len(codes) != n:
        raise ValueError("y, X, cluster and weights must have the same length")
    if not 0 <= param < k:
        raise ValueError("param out of range")
    ssc = G / (G - 1) * (n - 1) / (n - k) if small_sample is None else float(small_sample)

    C = _cluster_matrix(codes, G)
    XtW = X.T * w
    Q = np.linalg.inv(XtW @ X)
    q = Q[param]
    beta = Q @ (XtW @ y)
    z = w * (X @ q)
    u_hat = y - X @ beta
    se = math.sqrt(ssc * float(np.sum((C @ (z * u_hat)) ** 2)))
    est = float(beta[param])
    M = C @ (z[:, None] * X)  # G x k
    MQ = M @ Q  # G x k

    # Residuals used to build bootstrap samples, affine in the null value delta:
    # u(delta) = u0 - delta * u1.
    if restricted:
        others = [j for j in range(k) if j != param]
        xp = X[:, param]
        if others:
            Xo = X[:, others]
            Qo = np.linalg.inv((Xo.T * w) @ Xo)
            u0 = y - Xo @ (Qo @ ((Xo.T * w) @ y))
            u1 = xp - Xo @ (Qo @ ((Xo.T * w) @ xp))
        else:
            u0, u1 = y.copy(), xp.copy()
    else:
        u0, u1 = u_hat, np.zeros(n)

    V, enumerated = bootstrap_weights(G, n_boot, weights_dist, seed, enumerate)
    B = V.shape[1]

    def _k_matrix(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = C @ (z * u)  # G
        S = (C @ (X * (w * u)[:, None])).T  # k x G
        K = np.diag(a) - MQ @ S
        if fe:
            # full-model residuals: minus the fixed-effect projection of u * v, linear in v
            from evaluation.models.twfe import demean

            U = np.zeros((n, G))
            U[np.arange(n), codes] = u
            PU = U - demean(U, fe, w)
            K = K - C @ (z[:, None] * PU)
        return a, K

    a0, K0 = _k_matrix(u0)
    a1, K1 = _k_matrix(u1)
    N0, N1 = a0 @ V, a1 @ V  # numerators: b*_p - b_r,p = N0 - delta * N1
    P0, P1 = K0 @ V, K1 @ V
    D00 = np.einsum("gb,gb->b", P0, P0)
    D01 = np.einsum("gb,gb->b", P0, P1)
    D11 = np.einsum("gb,gb->b", P1, P1)
    del P0, P1

    def t_star(delta: float) -> np.ndarray:
        var = ssc * np.maximum(D00 - 2 * delta * D01 + delta * delta * D11, 0.0)
        # WCR: b*_p - delta.  WCU (u1 = 0): b*_p - b_hat_p, the same for every delta.
        num = N0 - delta * N1
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(var)

    def t_obs(delta: float) -> float:
        return (est - delta) / se if se > 0 else math.copysign(math.inf, est - delta)

    def pval(delta: float) -> float:
        return float(_pvalue(t_star(delta), t_obs(delta), p_type))

    p_null = pval(null)
    lo = hi = float("nan")
    if ci:
        lo = _invert(pval, est, se, alpha, -1.0)
        hi = _invert(pval, est, se, alpha, +1.0)
    return WildBootstrapResult(
        estimate=est,
        se_cr1=se,
        t=t_obs(null),
        p_value=p_null,
        ci_low=lo,
        ci_high=hi,
        n_boot=B,
        weights_dist=weights_dist,
        null=float(null),
        alpha=alpha,
        p_type=p_type,
        n_clusters=G,
        n_obs=n,
        enumerated=enumerated,
        small_sample_factor=ssc,
        t_draws=t_star(null),
        p_value_fn=pval,
    )


def _invert(pval: Callable[[float], float], est: float, se: float, alpha: float, sign: float):
    """Outer crossing of p(delta) = alpha on one side of the estimate (bracket + bisection)."""
    scale = se if se > 0 and math.isfinite(se) else max(abs(est), 1.0)
    inside = est
    step = 2.0 * scale
    outside = None
    for _ in range(60):
        cand = est + sign * step
        if pval(cand) <= alpha:
            outside = cand
            break
        inside = cand
        step *= 1.6
        if step > 1000 * scale:
            break
    if outside is None:
        return sign * math.inf
    # p is a step function: bisection converges to a jump through alpha.
    for _ in range(200):
        mid = 0.5 * (inside + outside)
        if pval(mid) > alpha:
            inside = mid
        else:
            outside = mid
        if abs(outside - inside) <= 1e-12 * max(1.0, abs(est)) + 1e-10 * scale:
            break
    return 0.5 * (inside + outside)


def wild_result(
    boot: WildBootstrapResult,
    *,
    outcome: str,
    n_treated: int,
    n_comparison_units: int,
    pre_periods: list,
    post_periods: list,
    method: str = "Difference-in-differences (TWFE), wild cluster bootstrap",
    unit: str = "percentage points",
    conventions: dict[str, str] | None = None,
) -> EstimationResult:
    """Wrap a :class:`WildBootstrapResult` in an :class:`EstimationResult`."""
    level = round(100 * (1 - boot.alpha))
    conv = {
        "inference": (
            "wild cluster bootstrap-t, "
            f"{boot.weights_dist} weights, {boot.n_boot} draws"
            + (" (full enumeration)" if boot.enumerated else "")
            + f", {boot.n_clusters} clusters"
        ),
        "p_value": (
            "share of bootstrap |t*| at least |t| (symmetric)"
            if boot.p_type == "symmetric"
            else "2 x min(share t* <= t, share t* >= t) (equal-tailed)"
        ),
        "interval": f"{level}% interval by inverting the bootstrap test (same draws for every "
        "null value); not estimate +/- critical value x SE",
        "standard_error": "CR1 cluster-robust, small-sample factor "
        f"{boot.small_sample_factor:.4f}; shown for reference (the factor cancels in the test)",
    }
    conv.update(conventions or {})
    dist = pd.DataFrame({"t_star": boot.t_draws})
    return EstimationResult(
        method=method,
        outcome=outcome,
        estimate=boot.estimate,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        p_value=boot.p_value,
        inference="wild cluster bootstrap",
        alpha=boot.alpha,
        n_treated=n_treated,
        n_comparison_units=n_comparison_units,
        pre_periods=list(pre_periods),
        post_periods=list(post_periods),
        conventions=conv,
        se=boot.se_cr1,
        unit=unit,
        diagnostics={k: v for k, v in boot.as_dict().items() if k not in ("estimate",)},
        distribution=dist,
    )


# --------------------------------------------------------------------------------------------
# Randomisation inference
# --------------------------------------------------------------------------------------------


@dataclass
class RandomisationResult:
    """Output of :func:`randomisation_inference`."""

    statistic: float
    p_value: float
    n_assignments: int
    exact: bool
    distribution: pd.DataFrame = field(repr=False)
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    alpha: float = 0.05
    n_possible: int = 0


def _n_possible(groups: list[np.ndarray], n_treat: list[int]) -> int:
    return int(np.prod([math.comb(len(g), t) for g, t in zip(groups, n_treat, strict=True)]))


def _assignment_matrix(
    n_units: int,
    groups: list[np.ndarray],
    n_treat: list[int],
    n_perm: int,
    seed: int,
    enumerate_all: bool,
) -> np.ndarray:
    if enumerate_all:
        per = [
            [np.array(c, dtype=np.int64) for c in itertools.combinations(g, t)]
            for g, t in zip(groups, n_treat, strict=True)
        ]
        out = []
        for combo in itertools.product(*per):
            row = np.zeros(n_units, dtype=np.int8)
            for c in combo:
                row[c] = 1
            out.append(row)
        return np.array(out, dtype=np.int8)
    rng = np.random.default_rng(seed)
    D = np.zeros((n_perm, n_units), dtype=np.int8)
    for g, t in zip(groups, n_treat, strict=True):
        if t == 0:
            continue
        keys = rng.random((n_perm, len(g)))
        chosen = np.argsort(keys, axis=1)[:, :t]
        D[np.arange(n_perm)[:, None], g[chosen]] = 1
    return D


def randomisation_inference(
    stat_fn: Callable[[pd.Series], float] | None,
    assignment: pd.Series,
    *,
    strata: pd.Series | None = None,
    n_perm: int = 10000,
    seed: int = 0,
    enumerate_if_small: bool = True,
    stat_fn_many: Callable[[np.ndarray], np.ndarray] | None = None,
    effect_fn_many: Callable[[np.ndarray], np.ndarray] | None = None,
    alpha: float = 0.05,
) -> RandomisationResult:
    """Fisher randomisation test, permuting the assignment at the level it was made.

    ``assignment``: Series indexed by assignment unit (e.g. partnership) with 0/1 treated.
    ``strata``: Series on the same index; treatment is re-drawn within each stratum keeping
    its number of treated units (the design's restriction).  ``stat_fn(assign_series)`` returns
    the statistic for one assignment; ``stat_fn_many(D)`` (preferred, fast) takes a
    (n_assignments x n_units) 0/1 matrix whose columns follow ``assignment.index`` and returns
    one statistic per row.

    p-value (two-sided): exact share ``#{|T_b| >= |T_obs|} / n_all`` over all distinct
    assignments (the observed one included) when their number is at most ``n_perm`` and
    ``enumerate_if_small``; otherwise ``(1 + #{|T_b| >= |T_obs|}) / (1 + B)`` over ``B = n_perm``
    random re-assignments (the observed one may recur among them; it is counted like any other).

    Interval (optional): pass ``effect_fn_many(D)`` = the statistic computed, for each assignment
    row, on the pseudo-outcome "observed treatment exposure" (1 in treated post cells under the
    observed assignment, 0 elsewhere).  If the statistic is LINEAR in the outcome, then under the
    sharp null of a constant additive effect ``tau`` the statistic of assignment ``d`` on the
    untreated outcomes ``y - tau * exposure`` is ``T_d - tau * E_d``, so the p-value at any
    ``tau`` follows without recomputation; the interval is ``{tau : p(tau) > alpha}`` (outermost
    crossings, by bisection).  Not valid for non-linear statistics (ratios, t-statistics with
    outcome-dependent scale, rank statistics) or for heterogeneous effects.
    """
    assignment = pd.Series(assignment).astype(int)
    if not set(np.unique(assignment.to_numpy())) <= {0, 1}:
        raise ValueError("assignment must be 0/1")
    units = assignment.index
    n_units = len(units)
    d_obs = assignment.to_numpy().astype(np.int8)
    if strata is None:
        labels = np.zeros(n_units, dtype=np.int64)
    else:
        labels, _ = pd.factorize(pd.Series(strata).reindex(units), sort=True)
        if (labels < 0).any():
            raise ValueError("every assignment unit needs a stratum")
    groups = [np.flatnonzero(labels == s) for s in range(labels.max() + 1)]
    n_treat = [int(d_obs[g].sum()) for g in groups]
    n_all = _n_possible(groups, n_treat)
    exact = bool(enumerate_if_small and n_all <= n_perm)
    D = _assignment_matrix(n_units, groups, n_treat, n_perm, seed, exact)

    def _stats(mat: np.ndarray, fn_many, fn) -> np.ndarray:
        if fn_many is not None:
            return np.asarray(fn_many(mat), dtype=float).ravel()
        return np.array([fn(pd.Series(row, index=units)) for row in mat], dtype=float)

    if stat_fn is None and stat_fn_many is None:
        raise ValueError("give stat_fn or stat_fn_many")
    T_obs = float(_stats(d_obs[None, :], stat_fn_many, stat_fn)[0])
    T = _stats(D, stat_fn_many, stat_fn)

    def pval_vec(t_draws: np.ndarray, t0: float) -> float:
        tol = 1e-10 * max(1.0, abs(t0))
        count = int(np.sum(np.abs(t_draws) >= abs(t0) - tol))
        return count / len(t_draws) if exact else (1 + count) / (1 + len(t_draws))

    p = pval_vec(T, T_obs)
    dist = pd.DataFrame(D, columns=[str(u) for u in units])
    dist.insert(0, "statistic", T)
    dist.insert(1, "is_observed", (d_obs == D).all(axis=1))
    lo = hi = float("nan")
    if effect_fn_many is not None:
        E = np.asarray(effect_fn_many(D), dtype=float).ravel()
        E0 = float(np.asarray(effect_fn_many(d_obs[None, :]), dtype=float).ravel()[0])
        dist.insert(2, "effect_coefficient", E)
        if abs(E0) < 1e-12:
            raise ValueError("the statistic does not respond to the effect (E_obs = 0)")
        est = T_obs / E0

        def p_tau(tau: float) -> float:
            return pval_vec(T - tau * E, T_obs - tau * E0)

        spread = float(np.std(T)) / abs(E0) if np.std(T) > 0 else max(abs(est), 1.0)
        lo = _invert(p_tau, est, spread, alpha, -1.0)
        hi = _invert(p_tau, est, spread, alpha, +1.0)
    return RandomisationResult(
        statistic=T_obs,
        p_value=p,
        n_assignments=len(T),
        exact=exact,
        distribution=dist,
        ci_low=lo,
        ci_high=hi,
        alpha=alpha,
        n_possible=n_all,
    )


# --------------------------------------------------------------------------------------------
# Conley-Taber
# --------------------------------------------------------------------------------------------


def _unit_changes(
    data: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    pre: list,
    post: list,
    weights: str | None,
    group_size: str | None,
) -> tuple[pd.DataFrame, list]:
    periods = list(pre) + list(post)
    d = data[data[time].isin(periods)]
    y = d.pivot_table(index=unit, columns=time, values=outcome, aggfunc="mean")
    y = y.reindex(columns=periods)
    ok = y.notna().all(axis=1)
    dropped = [u for u in y.index[~ok]]
    y = y[ok]
    out = pd.DataFrame(
        {"change": y[list(post)].mean(axis=1) - y[list(pre)].mean(axis=1)}, index=y.index
    )
    out["weight"] = d.groupby(unit)[weights].mean().reindex(out.index) if weights else 1.0
    if group_size:
        out["group_size"] = d.groupby(unit)[group_size].mean().reindex(out.index)
    return out, dropped


def conley_taber(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated_units,
    pre: list,
    post: list,
    weights: str | None = None,
    alpha: float = 0.05,
    n_sim: int = 10000,
    seed: int = 0,
    group_size: str | None = None,
    enumerate_if_small: bool = True,
    unit_label: str = "percentage points",
    control_noise: bool = True,
) -> EstimationResult:
    """Conley & Taber (2011) inference for a DiD with few treated groups and many controls.

    Estimator (common adoption date, balanced over ``pre`` + ``post``): with
    ``D_j = mean_post y_jt - mean_pre y_jt``,

        alpha_hat = sum_{j in T} w_j D_j / sum_T w_j  -  sum_{j in C} w_j D_j / sum_C w_j,

    identical to the (weighted) TWFE coefficient on treated x post with unit and period fixed
    effects on these periods (unit weights = ``weights`` averaged over the unit's rows).

    Inference: ``alpha_hat - alpha = W + O_p(1/sqrt(N0))`` with ``W = sum_T w_j e_j / sum_T w_j``
    the treated groups' errors.  CT estimate the law of ``W`` from the control residuals
    ``e_hat_j = D_j - mean_C^w D`` (consistent as the number of controls grows, with the
    treated count fixed), drawing each treated group's error from them with replacement: all
    ``N0**N1`` combinations when that is at most ``n_sim`` (exact), else ``n_sim`` random draws.
    The interval is ``{a : P(W <= alpha_hat - a) > alpha/2 and P(W >= alpha_hat - a) > alpha/2}``
    = ``[alpha_hat - W_(B+1-m), alpha_hat - W_(m)]``, ``m = floor(B alpha/2) + 1``; the p-value
    for ``alpha = 0`` is ``min(1, 2 min(P(W <= alpha_hat), P(W >= alpha_hat)))``.

    Key assumption: the treated groups' errors have the same distribution as the controls'
    (in particular the same variance).  When groups differ in size (LAs with few cases have noisy
    rates) pass ``group_size`` (a column, e.g. the denominator): Ferman & Pinto (2019) model
    ``Var(e_j | M_j) = A + B / M_j``, estimate A, B by regressing ``e_hat_j^2`` on ``1/M_j``
    among controls, standardise each control residual by its fitted s.d. and rescale it to the
    fitted s.d. of the treated group it stands in for.
    No standard error is reported.
    """
    treated_units = list(treated_units)
    ch, dropped = _unit_changes(data, unit, time, outcome, pre, post, weights, group_size)
    is_t = ch.index.isin(treated_units)
    if is_t.sum() == 0:
        raise ValueError("no treated unit with complete pre/post data")
    if (~is_t).sum() < 2:
        raise ValueError("need at least two control units")
    tr, co = ch[is_t], ch[~is_t]
    wt, wc = tr["weight"].to_numpy(float), co["weight"].to_numpy(float)
    mean_c = float(np.average(co["change"], weights=wc))
    est = float(np.average(tr["change"], weights=wt)) - mean_c
    resid = co["change"].to_numpy(float) - mean_c
    n1, n0 = len(tr), len(co)

    # Per (treated slot j, control m) scaled residual: e_m * s_j / s_m (Ferman-Pinto) or e_m.
    fp = None
    if group_size:
        inv_c = 1.0 / co["group_size"].to_numpy(float)
        A = np.column_stack([np.ones(n0), inv_c])
        coef, *_ = np.linalg.lstsq(A, resid**2, rcond=None)
        floor = 1e-6 * float(np.mean(resid**2)) if np.mean(resid**2) > 0 else 1e-12
        h_c = np.maximum(A @ coef, floor)
        h_t = np.maximum(coef[0] + coef[1] / tr["group_size"].to_numpy(float), floor)
        scaled = resid[None, :] * np.sqrt(h_t[:, None] / h_c[None, :])  # n1 x n0
        fp = {"A": float(coef[0]), "B": float(coef[1])}
    else:
        scaled = np.broadcast_to(resid[None, :], (n1, n0))
    share = wt / wt.sum()

    exact = bool(enumerate_if_small and n0**n1 <= n_sim and not control_noise)
    rng = np.random.default_rng(seed)
    if exact:
        idx = np.array(np.unravel_index(np.arange(n0**n1), (n0,) * n1)).T  # (n0^n1, n1)
    else:
        idx = rng.integers(0, n0, size=(n_sim, n1))
    W = (scaled[np.arange(n1)[None, :], idx] * share[None, :]).sum(axis=1)
    if control_noise:
        # The control mean is estimated too.  CT's asymptotics (N0 -> infinity) drop its
        # noise; with 32 treated LAs against ~120 denominator-weighted controls it is not
        # negligible (a Monte Carlo of our design rejected a true null 9.5% of the time
        # without this term).  Each draw also resamples every control's error from the
        # residual pool (Ferman-Pinto-rescaled to that control's size) and subtracts their
        # weighted mean.
        if group_size:
            scaled_c = resid[None, :] * np.sqrt(h_c[:, None] / h_c[None, :])  # n0 x n0
        else:
            scaled_c = np.broadcast_to(resid[None, :], (n0, n0))
        share_c = wc / wc.sum()
        W_c = np.empty(len(W))
        step = max(1, 2_000_000 // max(n0 * n0, 1))
        for start in range(0, len(W), step):
            stop = min(start + step, len(W))
            jdx = rng.integers(0, n0, size=(stop - start, n0))
            W_c[start:stop] = (scaled_c[np.arange(n0)[None, :], jdx] * share_c[None, :]).sum(axis=1)
        W = W - W_c
    B = len(W)
    Ws = np.sort(W)
    m = math.floor(B * alpha / 2 + 1e-12) + 1
    if m > B // 2:
        lo, hi = -math.inf, math.inf
    else:
        lo, hi = est - Ws[B - m], est - Ws[m - 1]
    tol = 1e-12 * max(1.0, abs(est))
    p = min(1.0, 2 * min(np.mean(est + tol >= W), np.mean(est - tol <= W)))
    conventions = {
        "estimand": "average effect on the treated groups over the post-periods (additive), "
        "pooled DiD of post-minus-pre means, equal to TWFE with unit and period effects",
        "inference": "Conley-Taber (2011): law of the treated groups' average error estimated "
        "from the control groups' residuals"
        + (
            ", plus the noise of the estimated control mean (every control's error resampled "
            "from the same pool)"
            if control_noise
            else ""
        )
        + (" (exact enumeration)" if exact else f" ({B} simulated draws, seed {seed})"),
        "interval": f"{round(100 * (1 - alpha))}% Conley-Taber interval "
        "[a_hat - W_(1-alpha/2), a_hat - W_(alpha/2)] (order statistics of the simulated error)",
        "assumption": "treated and control groups' errors are identically distributed "
        "(homoskedastic across groups)"
        + ("; relaxed by the Ferman-Pinto group-size adjustment" if group_size else ""),
        "weights": f"unit weights from {weights!r}" if weights else "unweighted",
        "standard_error": "not reported: with few treated groups a standard error is not a "
        "valid basis for inference",
    }
    dist = pd.DataFrame({"error_draw": W})
    return EstimationResult(
        method="Difference-in-differences, Conley-Taber inference",
        outcome=outcome,
        estimate=est,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=float(p),
        inference="Conley-Taber",
        alpha=alpha,
        n_treated=int(n1),
        n_comparison_units=int(n0),
        pre_periods=list(pre),
        post_periods=list(post),
        conventions=conventions,
        se=None,
        unit=unit_label,
        diagnostics={
            "exact_enumeration": exact,
            "n_draws": int(B),
            "dropped_units": [str(u) for u in dropped],
            "ferman_pinto": fp,
            "control_residual_sd": float(np.std(resid, ddof=1)),
            "treated_change_sd": float(np.std(tr["change"], ddof=1)) if n1 > 1 else None,
        },
        distribution=dist,
        extra={"control_residuals": pd.Series(resid, index=co.index, name="residual")},
    )
