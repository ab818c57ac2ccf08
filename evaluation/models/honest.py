"""Sensitivity of event-study DiD to violations of parallel trends (Rambachan & Roth 2023).

Setup.  ``betas = (beta_pre, beta_post)`` are event-study coefficients relative to an omitted
reference period (the last pre-period, normalised to 0), with covariance ``sigma``; pre
coefficients are ordered from the earliest to the latest, post from the first treated period.
``beta = tau + delta`` with ``tau_pre = 0``: ``delta`` is the difference in trends.  The target
is ``theta = l' tau_post`` (``target="average"``: ``l = 1/n_post``; ``"first"``; an integer
index; or a vector).

Restrictions on ``delta`` (``delta_0 = 0`` at the reference period):

* relative magnitudes ``Delta^RM(Mbar)``: every post-period change ``|delta_{t+1} - delta_t|``
  is at most ``Mbar`` times the largest pre-period change ``max_s |delta_{s+1} - delta_s|``;
* smoothness ``Delta^SD(M)``: every second difference of ``delta`` is at most ``M`` in absolute
  value (``M = 0``: the pre-trend extrapolates linearly).

Identified set: ``{l'(beta_post - delta_post) : delta in Delta, delta_pre = beta_pre}``, two LPs
(``scipy.optimize.linprog``) at the estimated betas.

Confidence sets: the moment-inequality tests of Andrews, Roth & Pakes (2023, "ARP") inverted over
a grid of theta, as HonestDiD does.  ``Delta^RM`` is the union over (s, sign) of polyhedral cones
(s = the pre-period change that attains the maximum, sign = its sign); the confidence set is the
union of the per-polyhedron sets.  For a polyhedron ``{delta : A delta <= d}`` and a null value
``theta_bar``, with ``Y = A beta_hat - d`` and ``tau = theta_bar e + Gamma tau_tilde``
(``l'e = 1``, ``l'Gamma = 0``), the statistic is

    eta = min_{eta, tau_tilde} eta  s.t.  Y - theta_bar A_post e - A_post Gamma tau_tilde
                                          <= eta * sigma_tilde,  sigma_tilde = sd(A beta_hat)

whose LP dual is ``max gamma'(Y - theta_bar A_post e)`` over the polytope
``{gamma >= 0, gamma' A_post Gamma = 0, gamma' sigma_tilde = 1}``.  Here the polytope's vertices
are ENUMERATED once per polyhedron (exact basic solutions), so the statistic, its optimal dual
vertex and the ARP conditioning bounds are exact and vectorised over the whole theta grid:

* ``method="LF"`` least-favourable test: reject if ``eta > c_LF(alpha)``, the 1-alpha quantile of
  ``max_v v'Z``, ``Z ~ N(0, A Sigma A')`` (simulated, seeded);
* ``method="conditional"``: conditional on the optimal vertex ``gamma*`` (and on the part of Y
  independent of ``gamma*'Y``), ``eta`` is N(<=0, gamma*' A Sigma A' gamma*) truncated to
  [V_lo, V_up] from the other vertices (polyhedral lemma); reject at the 1-alpha quantile under
  mean 0;
* ``method="hybrid"`` (default; HonestDiD's "C-LF" for Delta^RM): LF first stage at
  ``kappa = alpha/10``, then the conditional test at ``(alpha - kappa)/(1 - kappa)`` with
  ``V_up`` capped at ``c_LF(kappa)``.

Deviations from HonestDiD (R) are listed in ``DEVIATIONS`` and the methodology note.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import optimize, special

from evaluation.models.honest_flci import DEVIATIONS as FLCI_DEVIATIONS
from evaluation.models.honest_flci import FLCI_LABEL, _l_vector, _second_diff_rows, flci
from evaluation.models.results import EstimationResult

DEVIATIONS = (
    "Dual vertices enumerated exactly instead of solving one LP per grid point (same test). "
    "Least-favourable critical values simulated with our own seeded normal draws "
    "(HonestDiD: its own draws), so results can differ in the third digit. "
    "Theta grid chosen automatically around the identified set and refined by bisection at the "
    "edges (HonestDiD: fixed grid, default 1,000 points). "
    "Delta^SD uses the same ARP hybrid test by default; HonestDiD's default for Delta^SD, the "
    "Armstrong-Kolesar FLCI, is method='FLCI' (evaluation.models.honest_flci)."
)


# --------------------------------------------------------------------------------------------
# Restriction matrices
# --------------------------------------------------------------------------------------------


def _diff_rows(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """First differences of delta as linear maps of (delta_pre, delta_post).

    Pre changes: ``delta_{s+1} - delta_s`` for s = -n_pre..-1 (the last one is ``0 - delta_-1``);
    post changes: ``delta_1 - 0`` and ``delta_{t+1} - delta_t``.
    """
    k = n_pre + n_post
    pre = np.zeros((n_pre, k))
    for i in range(n_pre):
        pre[i, i] = -1.0
        if i + 1 < n_pre:
            pre[i, i + 1] = 1.0
    post = np.zeros((n_post, k))
    for t in range(n_post):
        post[t, n_pre + t] = 1.0
        if t > 0:
            post[t, n_pre + t - 1] = -1.0
    return pre, post


def _rm_polyhedra(n_pre: int, n_post: int, mbar: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Delta^RM(Mbar) as a union of cones {A delta <= 0}, one per (s, sign)."""
    pre, post = _diff_rows(n_pre, n_post)
    out = []
    for s in range(n_pre):
        for sign in (1.0, -1.0):
            ds = sign * pre[s]
            rows = [pre[r] - ds for r in range(n_pre)] + [-pre[r] - ds for r in range(n_pre)]
            rows += [post[t] - mbar * ds for t in range(n_post)]
            rows += [-post[t] - mbar * ds for t in range(n_post)]
            A = np.array(rows)
            A = A[np.abs(A).sum(axis=1) > 1e-12]
            out.append((A, np.zeros(len(A))))
    return out


def _sd_polyhedron(n_pre: int, n_post: int, m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    D2 = _second_diff_rows(n_pre, n_post)
    A = np.vstack([D2, -D2])
    return [(A, np.full(len(A), float(m)))]


# --------------------------------------------------------------------------------------------
# Identified set
# --------------------------------------------------------------------------------------------


def identified_set(
    betas, *, n_pre: int, n_post: int, target="average", restriction: str = "RM", m: float = 1.0
) -> tuple[float, float]:
    """Identified set for ``theta = l' tau_post`` at true coefficients ``betas`` (two LPs).

    ``(nan, nan)`` if ``betas``' pre-period part is itself incompatible with the restriction.
    """
    b = np.asarray(betas, dtype=float).ravel()
    lv = _l_vector(target, n_post)
    bpre, bpost = b[:n_pre], b[n_pre:]
    if restriction == "RM":
        pre, post = _diff_rows(n_pre, n_post)
        m0 = float(np.max(np.abs(pre[:, :n_pre] @ bpre))) if n_pre else 0.0
        P = post[:, n_pre:]  # post changes as a map of delta_post (pre part is zero)
        A = np.vstack([P, -P])
        rhs = np.full(2 * n_post, m * m0)
    elif restriction == "SD":
        D2 = _second_diff_rows(n_pre, n_post)
        A_full = np.vstack([D2, -D2])
        A = A_full[:, n_pre:]
        rhs = m - A_full[:, :n_pre] @ bpre
    else:
        raise ValueError("restriction must be 'RM' or 'SD'")
    bounds = [(None, None)] * n_post
    hi = optimize.linprog(-lv, A_ub=A, b_ub=rhs, bounds=bounds, method="highs")
    lo = optimize.linprog(lv, A_ub=A, b_ub=rhs, bounds=bounds, method="highs")
    if hi.status == 2 or lo.status == 2:
        # The estimated pre-period coefficients themselves violate the restriction (possible
        # for Delta^SD): no delta in Delta matches them, so the identified set at the
        # estimates is empty.  Confidence sets still exist (they allow for sampling noise).
        return math.nan, math.nan
    if hi.status != 0 or lo.status != 0:
        raise RuntimeError(f"identified-set LP failed: {hi.message} / {lo.message}")
    max_bias, min_bias = -hi.fun, lo.fun
    theta = float(lv @ bpost)
    return theta - max_bias, theta - min_bias


# --------------------------------------------------------------------------------------------
# ARP tests by dual-vertex enumeration
# --------------------------------------------------------------------------------------------

MAX_SUBSETS = 400_000


def _dual_vertices(Xt: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Vertices of {g >= 0, Xt' g = 0, sig' g = 1} (rows), by enumerating basic solutions."""
    m = len(sig)
    E = np.vstack([Xt.T, sig[None, :]]) if Xt.size else sig[None, :]
    bvec = np.zeros(E.shape[0])
    bvec[-1] = 1.0
    # Reduce to independent equality rows.
    U, s, _ = np.linalg.svd(E, full_matrices=False)
    r = int(np.sum(s > 1e-10 * s[0]))
    Er, br = U[:, :r].T @ E, U[:, :r].T @ bvec
    if math.comb(m, r) > MAX_SUBSETS:
        raise ValueError(
            f"too many candidate dual vertices ({math.comb(m, r)}); use a target with fewer "
            "post-periods or fewer pre-periods"
        )
    subsets = np.array(list(itertools.combinations(range(m), r)), dtype=np.int64)
    Bm = Er[:, subsets].transpose(1, 0, 2)  # (n_sub, r, r)
    det = np.linalg.det(Bm)
    ok = np.abs(det) > 1e-12
    subsets, Bm = subsets[ok], Bm[ok]
    sol = np.linalg.solve(Bm, np.broadcast_to(br, (len(Bm), r))[..., None])[..., 0]
    feas = (sol >= -1e-10).all(axis=1)
    verts = np.zeros((int(feas.sum()), m))
    rows = np.arange(len(verts))[:, None]
    verts[rows, subsets[feas]] = np.clip(sol[feas], 0.0, None)
    if len(verts) == 0:
        return verts
    # Keep only vertices that satisfy all equalities (numerical check) and de-duplicate.
    resid = np.abs(verts @ E.T - bvec).max(axis=1)
    verts = verts[resid < 1e-8]
    return np.unique(np.round(verts, 12), axis=0)


class _ARP:
    """ARP tests for one polyhedron {A delta <= d}, vectorised over theta values."""

    def __init__(self, A, d, betas, sigma, n_pre, lv, n_sim, seed):
        A_post = A[:, n_pre:]
        sy = A @ sigma @ A.T
        sd = np.sqrt(np.clip(np.diag(sy), 0.0, None))
        keep = sd > 1e-12 * max(1.0, sd.max(initial=0.0))
        # Rows with no sampling variance are deterministic: A delta <= d must hold for the
        # data-implied delta; with d >= 0 and zero rows they hold trivially and are dropped.
        A, d, A_post, sd = A[keep], d[keep], A_post[keep], sd[keep]
        self.sy = sy[np.ix_(keep, keep)]
        e = lv / (lv @ lv)
        n_post = len(lv)
        if n_post > 1:
            # Orthonormal basis of the null space of l'.
            _, _, vt = np.linalg.svd(lv[None, :])
            gam = vt[1:].T
        else:
            gam = np.zeros((1, 0))
        Xt = A_post @ gam
        self.V = _dual_vertices(Xt, sd)
        Y = A @ betas - d
        self.a = self.V @ Y  # v'Y
        self.b = self.V @ (A_post @ e)  # v' A_post e
        rng = np.random.default_rng(seed)
        if len(self.V):
            L = np.linalg.cholesky(self.sy + 1e-12 * np.eye(len(sd)) * max(1.0, sd.max()))
            Z = rng.standard_normal((n_sim, len(sd))) @ L.T
            self.lf_draws = (Z @ self.V.T).max(axis=1)
            self.VS = self.V @ self.sy  # (n_v, m)
            self.vsv = np.einsum("vm,vm->v", self.VS, self.V)
        else:
            self.lf_draws = np.full(n_sim, -np.inf)

    def c_lf(self, level: float) -> float:
        return float(np.quantile(self.lf_draws, 1 - level))

    def accept(self, thetas: np.ndarray, alpha: float, method: str) -> np.ndarray:
        thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
        if len(self.V) == 0:
            return np.ones(len(thetas), dtype=bool)
        vals = self.a[None, :] - thetas[:, None] * self.b[None, :]  # (n_theta, n_v) = v'Y~
        j = np.argmax(vals, axis=1)
        eta = vals[np.arange(len(thetas)), j]
        if method == "LF":
            return eta <= self.c_lf(alpha)
        kappa = alpha / 10 if method == "hybrid" else 0.0
        c_k = self.c_lf(kappa) if kappa > 0 else np.inf
        if kappa > 0:
            pass_lf = eta <= c_k
            level = (alpha - kappa) / (1 - kappa)
        else:
            pass_lf = np.ones(len(thetas), dtype=bool)
            level = alpha
        s2 = self.vsv[j]  # gamma*' Sigma_Y gamma*
        # A vertex with no sampling variance gives a deterministic statistic: under H0 it is
        # <= 0, so reject exactly when it is positive.
        degenerate = s2 <= 1e-14 * max(1.0, float(self.vsv.max()))
        s2 = np.where(degenerate, 1.0, s2)
        # rho_v = 1 - v' Sigma_Y gamma* / s2 for every vertex v (polyhedral lemma).
        cross = np.einsum("tm,vm->tv", self.VS[j], self.V)  # gamma*' Sigma_Y v
        rho = 1.0 - cross / s2[:, None]
        gap = eta[:, None] - vals  # >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = eta[:, None] - gap / rho
        tol = 1e-10
        lo = np.where(rho > tol, bound, -np.inf).max(axis=1)
        up = np.where(rho < -tol, bound, np.inf).min(axis=1)
        up = np.minimum(up, c_k)
        sd = np.sqrt(s2)
        cdf = _truncnorm_cdf(eta / sd, lo / sd, up / sd)
        ok = np.where(degenerate, eta <= 1e-10, cdf <= 1 - level)
        return pass_lf & ok


def _truncnorm_cdf(x, lo, up):
    """P(Z <= x | lo <= Z <= up) for standard normal Z, stable in both tails."""
    x, lo, up = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, lo, up)))
    x = np.clip(x, lo, up)
    out = np.empty_like(x)
    right = lo > 0  # work with upper-tail probabilities
    with np.errstate(divide="ignore", invalid="ignore"):
        num = special.ndtr(x) - special.ndtr(lo)
        den = special.ndtr(up) - special.ndtr(lo)
        out_left = num / den
        num_r = special.ndtr(-lo) - special.ndtr(-x)
        den_r = special.ndtr(-lo) - special.ndtr(-up)
        out_right = num_r / den_r
    out = np.where(right, out_right, out_left)
    # Degenerate truncation (numerically empty): fall back to the untruncated cdf.
    bad = ~np.isfinite(out)
    out[bad] = special.ndtr(x[bad])
    return np.clip(out, 0.0, 1.0)


def _polyhedra(restriction: str, n_pre: int, n_post: int, m: float):
    if restriction == "RM":
        return _rm_polyhedra(n_pre, n_post, m)
    if restriction == "SD":
        return _sd_polyhedron(n_pre, n_post, m)
    raise ValueError("restriction must be 'RM' or 'SD'")


def _arp_tests(b, S, n_pre, n_post, lv, restriction, m, n_sim, seed, post_moments_only):
    """One ARP test per polyhedron of the restriction (seeds ``seed``, ``seed + 1``, ...)."""
    tests = []
    for i, (A, d) in enumerate(_polyhedra(restriction, n_pre, n_post, m)):
        if post_moments_only and n_post > 1:
            rows = np.abs(A[:, n_pre:]).sum(axis=1) > 0
            A, d = A[rows], d[rows]
        tests.append(_ARP(A, d, b, S, n_pre, lv, n_sim, seed + i))
    return tests


def _accepted_hull(accept_any, id_lo: float, id_hi: float, sd_theta: float, grid_points: int):
    """Convex hull of the accepted theta values: a grid around the identified set, widened
    while an end is accepted (up to 100 standard errors), then each edge bisected."""
    pad = 8 * sd_theta
    limit = 100 * sd_theta + (id_hi - id_lo)
    while True:
        grid = np.linspace(id_lo - pad, id_hi + pad, grid_points)
        acc = accept_any(grid)
        if not acc.any():
            return math.nan, math.nan  # empty set: the data reject the restriction itself
        if (acc[0] or acc[-1]) and pad < limit:
            pad *= 2
            continue
        break
    idx = np.flatnonzero(acc)
    lo = -math.inf if acc[0] else _refine(accept_any, grid[idx[0] - 1], grid[idx[0]])
    hi = math.inf if acc[-1] else _refine(accept_any, grid[idx[-1] + 1], grid[idx[-1]])
    return lo, hi


def robust_ci(
    betas,
    sigma,
    *,
    n_pre: int,
    n_post: int,
    target="average",
    restriction: str = "RM",
    m: float = 1.0,
    alpha: float = 0.05,
    method: str = "hybrid",
    n_sim: int = 5000,
    seed: int = 0,
    grid_points: int = 1000,
    post_moments_only: bool = True,
) -> tuple[float, float]:
    """Robust (1 - alpha) confidence interval for ``theta`` under ``Delta^{RM}(m)`` or
    ``Delta^{SD}(m)``: the convex hull of the theta values accepted by the ARP test for at least
    one polyhedron of the restriction (as HonestDiD reports).  Endpoints are located on an
    automatic grid and refined by bisection; an endpoint is infinite if the accepted set reaches
    beyond 100 standard errors of the target.

    ``post_moments_only`` (default True, as HonestDiD's ``postPeriodMomentsOnly``): when there is
    more than one post-period, the test uses only the restriction rows that involve a
    post-period coefficient; rows on pre-period coefficients alone (e.g. "change s is the largest
    pre-period change") are dropped.  Dropping inequalities enlarges the set tested, so the
    interval stays valid; keeping them (False) makes the conditional test lose power when
    pre-trends are small (its truncation points then sit close to the statistic).
    ``method="FLCI"`` (Delta^SD only): the optimal fixed-length interval (``honest_flci``)."""
    if method == "FLCI":  # fixed-length interval, not a test inversion
        if restriction != "SD":
            raise ValueError("method='FLCI' needs restriction='SD'")
        return flci(betas, sigma, n_pre=n_pre, n_post=n_post, m=m, target=target, alpha=alpha)
    if method not in {"hybrid", "conditional", "LF"}:
        raise ValueError("method must be 'hybrid', 'conditional', 'LF' or 'FLCI'")
    b = np.asarray(betas, dtype=float).ravel()
    S = np.asarray(sigma, dtype=float)
    if len(b) != n_pre + n_post or S.shape != (len(b), len(b)):
        raise ValueError("betas / sigma do not match n_pre + n_post")
    lv = _l_vector(target, n_post)
    tests = _arp_tests(b, S, n_pre, n_post, lv, restriction, m, n_sim, seed, post_moments_only)

    def accept_any(th: np.ndarray) -> np.ndarray:
        acc = np.zeros(len(np.atleast_1d(th)), dtype=bool)
        for t in tests:
            acc |= t.accept(th, alpha, method)
        return acc

    id_lo, id_hi = identified_set(
        b, n_pre=n_pre, n_post=n_post, target=lv, restriction=restriction, m=m
    )
    sd_theta = float(np.sqrt(lv @ S[n_pre:, n_pre:] @ lv))
    if math.isnan(id_lo):
        id_lo = id_hi = float(lv @ b[n_pre:])
    return _accepted_hull(accept_any, id_lo, id_hi, sd_theta, grid_points)


def _refine(accept_any, rejected: float, accepted: float, iters: int = 40) -> float:
    for _ in range(iters):
        mid = 0.5 * (rejected + accepted)
        if accept_any(np.array([mid]))[0]:
            accepted = mid
        else:
            rejected = mid
    return float(accepted)


def _target_estimate(betas, sigma, *, n_pre: int, n_post: int, target) -> tuple[float, float]:
    """``theta_hat = l' beta_post`` and its standard error."""
    b = np.asarray(betas, dtype=float).ravel()
    lv = _l_vector(target, n_post)
    est = float(lv @ b[n_pre:])
    se = float(np.sqrt(lv @ np.asarray(sigma)[n_pre:, n_pre:] @ lv))
    return est, se


def original_ci(betas, sigma, *, n_pre: int, n_post: int, target="average", alpha=0.05):
    """Conventional interval for ``theta`` assuming exact parallel trends (z critical value)."""
    est, se = _target_estimate(betas, sigma, n_pre=n_pre, n_post=n_post, target=target)
    z = float(special.ndtri(1 - alpha / 2))
    return est - z * se, est + z * se


_TEST_LABELS = {
    "hybrid": "C-LF (ARP hybrid)",
    "conditional": "C (ARP conditional)",
    "LF": "LF (ARP least favourable)",
    "FLCI": FLCI_LABEL,
}


def _sensitivity_table(betas, sigma, mbar, o_lo: float, o_hi: float, kw: dict) -> pd.DataFrame:
    """The conventional row, then one row of robust interval and identified set per value."""
    n_pre, n_post, target = kw["n_pre"], kw["n_post"], kw["target"]
    restriction = kw["restriction"]
    rows = [
        {
            "mbar": math.nan,
            "lb": o_lo,
            "ub": o_hi,
            "id_lb": math.nan,
            "id_ub": math.nan,
            "method": "original",
            "restriction": "none (exact parallel trends)",
        }
    ]
    for mv in mbar:
        lo, hi = robust_ci(betas, sigma, m=float(mv), **kw)
        ilo, ihi = identified_set(
            betas, n_pre=n_pre, n_post=n_post, target=target, restriction=restriction, m=float(mv)
        )
        rows.append(
            {
                "mbar": float(mv),
                "lb": lo,
                "ub": hi,
                "id_lb": ilo,
                "id_ub": ihi,
                "method": _TEST_LABELS[kw["method"]],
                "restriction": f"Delta^{restriction}",
            }
        )
    return pd.DataFrame(rows)


def _honest_conventions(target, restriction: str, method: str, breakdown_max: float):
    bound = (
        "every post-period change in the trend difference is at most Mbar times the largest "
        "pre-period change"
        if restriction == "RM"
        else "every second difference of the trend difference is at most M"
    )
    return {
        "estimand": f"theta = l' tau_post (target {target!r}) from event-study coefficients "
        "relative to the omitted reference period",
        "interval": "conventional z interval assuming exact parallel trends; the robust "
        "interval for each restriction value is in the sensitivity table",
        "sensitivity": f"Delta^{restriction}: {bound}; {_TEST_LABELS[method]}"
        + ("" if method == "FLCI" else " test inverted"),
        "breakdown": "smallest restriction value whose robust interval contains 0 (bisection "
        f"to 1e-3 up to {breakdown_max})",
        "deviations": DEVIATIONS + (" FLCI: " + FLCI_DEVIATIONS if method == "FLCI" else ""),
    }


def honest_did(
    betas,
    sigma,
    *,
    n_pre: int,
    n_post: int,
    target="average",
    mbar=(0.0, 0.5, 1.0, 1.5, 2.0),
    alpha: float = 0.05,
    restriction: str = "RM",
    method: str = "hybrid",
    n_sim: int = 5000,
    seed: int = 0,
    breakdown: bool = True,
    breakdown_max: float = 10.0,
    post_moments_only: bool = True,
) -> EstimationResult:
    """Sensitivity table over ``mbar`` (Mbar for RM, M for SD) and the breakdown value.

    Returns an :class:`EstimationResult` whose headline is the conventional analysis (``estimate``
    = ``theta_hat``, ``se``, z interval and p-value, exact parallel trends assumed), with
    ``res.table`` (``extra["table"]``) and ``res.breakdown`` (``diagnostics["breakdown"]``).
    ``table`` has one row per value: ``mbar``, ``lb``, ``ub`` (robust confidence interval),
    ``id_lb``, ``id_ub`` (identified set at the estimates), ``method``, ``restriction``, plus a
    first row ``mbar = NaN, method = "original"`` with the conventional interval.  ``breakdown``
    is the smallest value at which the robust interval contains 0 (bisection to 1e-3 between 0
    and ``breakdown_max``; 0.0 if it already contains 0 at value 0; ``inf`` if it never does up
    to ``breakdown_max``; NaN when ``breakdown=False``).  The interval's width is monotone in the
    restriction parameter only up to simulation noise in the critical values, so the breakdown
    value is the first crossing found by bisection.
    """
    kw = dict(
        n_pre=n_pre,
        n_post=n_post,
        target=target,
        restriction=restriction,
        alpha=alpha,
        method=method,
        n_sim=n_sim,
        seed=seed,
        post_moments_only=post_moments_only,
    )
    o_lo, o_hi = original_ci(betas, sigma, n_pre=n_pre, n_post=n_post, target=target, alpha=alpha)
    table = _sensitivity_table(betas, sigma, mbar, o_lo, o_hi, kw)
    bd = math.nan
    if breakdown:
        bd = breakdown_value(betas, sigma, upper=breakdown_max, **kw)
    est, se = _target_estimate(betas, sigma, n_pre=n_pre, n_post=n_post, target=target)
    return EstimationResult(
        method="Rambachan-Roth sensitivity of an event-study target to pre-trends",
        outcome="event-study target",
        estimate=est,
        ci_low=o_lo,
        ci_high=o_hi,
        p_value=float(2 * special.ndtr(-abs(est / se))) if se > 0 else math.nan,
        inference=f"HonestDiD sensitivity ({_TEST_LABELS[method]}, Delta^{restriction})",
        alpha=alpha,
        n_treated=0,
        n_comparison_units=0,
        pre_periods=[],
        post_periods=[],
        conventions=_honest_conventions(target, restriction, method, breakdown_max),
        se=se,
        unit="units of the coefficients",
        diagnostics={"breakdown": bd, "restriction": restriction, "n_pre": n_pre, "n_post": n_post},
        extra={"table": table},
    )


def breakdown_value(betas, sigma, *, upper: float = 10.0, tol: float = 1e-3, **kw) -> float:
    """Smallest restriction parameter at which the robust interval contains 0 (bisection)."""

    def covers(mv: float) -> bool:
        lo, hi = robust_ci(betas, sigma, m=mv, **kw)
        if math.isnan(lo):
            return False
        return lo <= 0 <= hi

    if covers(0.0):
        return 0.0
    if not covers(upper):
        return math.inf
    a, b = 0.0, upper
    while b - a > tol:
        mid = 0.5 * (a + b)
        if covers(mid):
            b = mid
        else:
            a = mid
    return b


def flci_table(betas, sigma, *, n_pre, n_post, m_grid, target="first", alpha=0.05) -> pd.DataFrame:
    """Delta^SD FLCI (``honest_flci``) over ``m_grid``: ``honest_did``'s table without the
    conventional row (``mbar`` is M; ``id_lb``/``id_ub`` the identified set at the estimates)."""
    kw = dict(n_pre=n_pre, n_post=n_post, target=target, restriction="SD", alpha=alpha)
    table = _sensitivity_table(betas, sigma, m_grid, math.nan, math.nan, {**kw, "method": "FLCI"})
    return table.iloc[1:].reset_index(drop=True)
