"""Wild cluster restricted ("WCR") bootstrap-t for one coefficient of a (weighted) linear model.

``y = X b + u`` with cluster ids (Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017;
Roodman, MacKinnon, Nielsen & Webb 2019, "boottest").  Fixed effects are partialled out
beforehand (Frisch-Waugh-Lovell): pass the demeaned ``y`` and ``X``.

Algebra (the boottest trick, here for one coefficient ``p``).  Let ``Q = (X'WX)^-1``,
``q = Q[p]``, ``z_i = w_i x_i'q`` and ``u_r`` the residuals of the model estimated under H0:
``b_p = delta``.  A bootstrap sample ``y* = X b_r + u_r * v_g`` gives

    b*_p - delta           = sum_g a_g v_g,            a_g = sum_{i in g} z_i u_ri
    score of b*_p, cluster = (K v)_g,                  K   = diag(a) - M Q S   (G x G)

with ``S[:, g] = X_g' W_g u_rg`` (k x G) and ``M[g] = sum_{i in g} z_i x_i`` (G x k).  So a draw
costs O(G^2) (not O(N)) and all draws are one matrix product ``K @ V`` with ``V`` the G x B matrix
of cluster weights.  Because ``u_r`` is affine in ``delta``, so are ``a`` and ``K``; the squared
bootstrap standard errors are quadratics in ``delta`` whose coefficients are computed once, so the
p-value at any null value costs O(B) and the confidence interval is found by root-finding on
``p(delta) = alpha`` with the SAME draws ``V`` for every ``delta`` (as boottest does).

``wild_cluster_bootstrap`` works on arrays; ``wild_result`` labels its result for a design and
``with_wild_bootstrap`` replaces a ``twfe`` result's inference by it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from evaluation.inference.inversion import invert_test
from evaluation.models.fe import demean
from evaluation.models.results import EstimationResult

# --------------------------------------------------------------------------------------------
# Auxiliary cluster weights
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


# --------------------------------------------------------------------------------------------
# The bootstrap test
# --------------------------------------------------------------------------------------------


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


def _check_inputs(y, X, cluster, weights, param: int):
    """``y`` (N,), ``X`` (N, k), cluster codes 0..G-1, G and the weights, validated."""
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
    return y, X, codes, G, w


@dataclass
class _ClusterScores:
    """The fitted model's pieces that map residuals ``u`` to the draws' numerators and scores."""

    X: np.ndarray
    w: np.ndarray
    codes: np.ndarray
    C: sparse.csr_matrix  # G x N cluster sums
    z: np.ndarray  # w_i x_i'q
    MQ: np.ndarray  # G x k
    fe: list | None

    def k_matrix(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``a`` (G) and ``K`` (G x G) for residuals ``u`` (see the module docstring)."""
        C, z, X, w = self.C, self.z, self.X, self.w
        a = C @ (z * u)  # G
        S = (C @ (X * (w * u)[:, None])).T  # k x G
        K = np.diag(a) - self.MQ @ S
        if self.fe:
            # full-model residuals: minus the fixed-effect projection of u * v, linear in v
            n, G = len(u), C.shape[0]
            U = np.zeros((n, G))
            U[np.arange(n), self.codes] = u
            PU = U - demean(U, self.fe, w)
            K = K - C @ (z[:, None] * PU)
        return a, K


def _fit(y, X, w, codes, G, param, ssc, fe):
    """WLS fit: the estimate, its CR1 standard error, the residuals and the score pieces."""
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
    return est, se, u_hat, _ClusterScores(X, w, codes, C, z, MQ, fe)


def _restricted_residuals(y, X, w, param) -> tuple[np.ndarray, np.ndarray]:
    """Residuals under H0 ``b_param = delta``, affine in delta: ``u(delta) = u0 - delta * u1``."""
    k = X.shape[1]
    others = [j for j in range(k) if j != param]
    xp = X[:, param]
    if not others:
        return y.copy(), xp.copy()
    Xo = X[:, others]
    Qo = np.linalg.inv((Xo.T * w) @ Xo)
    u0 = y - Xo @ (Qo @ ((Xo.T * w) @ y))
    u1 = xp - Xo @ (Qo @ ((Xo.T * w) @ xp))
    return u0, u1


class _BootstrapT:
    """The bootstrap t draws and p-value at any null value ``delta``, from one set of draws."""

    def __init__(self, scores: _ClusterScores, u0, u1, V, ssc, est, se, p_type):
        a0, K0 = scores.k_matrix(u0)
        a1, K1 = scores.k_matrix(u1)
        self.N0, self.N1 = a0 @ V, a1 @ V  # numerators: b*_p - b_r,p = N0 - delta * N1
        P0, P1 = K0 @ V, K1 @ V
        self.D00 = np.einsum("gb,gb->b", P0, P0)
        self.D01 = np.einsum("gb,gb->b", P0, P1)
        self.D11 = np.einsum("gb,gb->b", P1, P1)
        self.ssc, self.est, self.se, self.p_type = ssc, est, se, p_type

    def t_star(self, delta: float) -> np.ndarray:
        var = self.ssc * np.maximum(self.D00 - 2 * delta * self.D01 + delta * delta * self.D11, 0.0)
        # WCR: b*_p - delta.  WCU (u1 = 0): b*_p - b_hat_p, the same for every delta.
        num = self.N0 - delta * self.N1
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(var)

    def t_obs(self, delta: float) -> float:
        est, se = self.est, self.se
        return (est - delta) / se if se > 0 else math.copysign(math.inf, est - delta)

    def p_value(self, delta: float) -> float:
        return float(_pvalue(self.t_star(delta), self.t_obs(delta), self.p_type))


def _wild_conventions(summary: dict) -> dict[str, str]:
    """The conventions of a bootstrap whose numbers are ``summary`` (see ``as_dict()``)."""
    level = round(100 * (1 - summary["alpha"]))
    return {
        "inference": (
            "wild cluster bootstrap-t, "
            f"{summary['weights_dist']} weights, {summary['n_boot']} draws"
            + (" (full enumeration)" if summary["enumerated"] else "")
            + f", {summary['n_clusters']} clusters"
        ),
        "p_value": (
            "share of bootstrap |t*| at least |t| (symmetric)"
            if summary["p_type"] == "symmetric"
            else "2 x min(share t* <= t, share t* >= t) (equal-tailed)"
        ),
        "interval": f"{level}% interval by inverting the bootstrap test (same draws for every "
        "null value); not estimate +/- critical value x SE",
        "standard_error": "CR1 cluster-robust, small-sample factor "
        f"{summary['small_sample_factor']:.4f}; shown for reference (the factor cancels in the "
        "test)",
    }


def _bootstrap_result(est: float, summary: dict, t_draws, p_value_fn) -> EstimationResult:
    """The :class:`EstimationResult` of one bootstrap test (no design labels: see wild_result)."""
    return EstimationResult(
        method="Wild cluster bootstrap-t test of one coefficient",
        outcome="y",
        estimate=est,
        ci_low=summary["ci_low"],
        ci_high=summary["ci_high"],
        p_value=summary["p_value"],
        inference="wild cluster bootstrap",
        alpha=summary["alpha"],
        n_treated=0,
        n_comparison_units=0,
        pre_periods=[],
        post_periods=[],
        conventions=_wild_conventions(summary),
        se=summary["se_cr1"],
        unit="units of y",
        diagnostics=summary,
        distribution=pd.DataFrame({"t_star": t_draws}),
        extra={"t_draws": t_draws, "p_value_fn": p_value_fn},
    )


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
) -> EstimationResult:
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

    Returns an :class:`EstimationResult` (``se`` = the CR1 standard error, ``distribution`` =
    the t draws at ``null``) with ``diagnostics`` ``se_cr1``, ``t``, ``n_boot``,
    ``weights_dist``, ``null``, ``p_type``, ``n_clusters``, ``n_obs``, ``enumerated``,
    ``small_sample_factor`` (and the headline numbers again, so ``as_dict()`` is the whole
    summary) and ``extra`` ``t_draws`` and ``p_value_fn`` (the p-value at any null value), all
    readable as attributes.  Outcome, counts and periods are unknown here: see
    :func:`wild_result`.
    """
    y, X, codes, G, w = _check_inputs(y, X, cluster, weights, param)
    n, k = X.shape
    ssc = G / (G - 1) * (n - 1) / (n - k) if small_sample is None else float(small_sample)
    est, se, u_hat, scores = _fit(y, X, w, codes, G, param, ssc, fe)
    if restricted:
        u0, u1 = _restricted_residuals(y, X, w, param)
    else:
        u0, u1 = u_hat, np.zeros(n)
    V, enumerated = bootstrap_weights(G, n_boot, weights_dist, seed, enumerate)
    test = _BootstrapT(scores, u0, u1, V, ssc, est, se, p_type)
    p_null = test.p_value(null)
    lo = hi = float("nan")
    if ci:
        lo, hi = invert_test(test.p_value, est, se, alpha)
    summary = {
        "se_cr1": se,
        "t": test.t_obs(null),
        "p_value": p_null,
        "ci_low": lo,
        "ci_high": hi,
        "n_boot": V.shape[1],
        "weights_dist": weights_dist,
        "null": float(null),
        "alpha": alpha,
        "p_type": p_type,
        "n_clusters": G,
        "n_obs": n,
        "enumerated": enumerated,
        "small_sample_factor": ssc,
    }
    return _bootstrap_result(est, summary, test.t_star(null), test.p_value)


# --------------------------------------------------------------------------------------------
# Labelled results
# --------------------------------------------------------------------------------------------


def wild_result(
    boot: EstimationResult,
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
    """A :func:`wild_cluster_bootstrap` result labelled for a design: its outcome, counts,
    periods, method and unit; ``conventions`` are added to (or replace) the bootstrap's."""
    conv = dict(boot.conventions)
    conv.update(conventions or {})
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
        diagnostics=dict(boot.diagnostics),
        distribution=pd.DataFrame({"t_star": boot.t_draws}),
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
