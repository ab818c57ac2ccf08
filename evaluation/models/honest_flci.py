"""Fixed-length confidence intervals (FLCI) for an event-study target under ``Delta^SD(M)``.

The interval HonestDiD (Rambachan & Roth 2023, section 4.1) reports by default for the
smoothness restriction; it is the optimal affine FLCI of Armstrong & Kolesar (2018).

Conventions (those of :mod:`evaluation.models.honest`).  ``betas = (beta_pre, beta_post)``
relative to the omitted reference period 0, pre from the earliest (``t = -n_pre``) to the latest
(``t = -1``), post ``t = 1..n_post``; covariance ``sigma``; ``beta = tau + delta`` with
``tau_pre = 0``; target ``theta = l' tau_post`` (``target``: ``"first"``, ``"average"``, an
index or a vector).  ``Delta^SD(M)``: every second difference of ``(delta_pre, 0, delta_post)``
is at most ``M`` in absolute value.

Estimator.  ``theta_hat = v' beta_hat`` with ``v = (w, l)``: the post weights are ``l`` and the
pre-period weights ``w`` are chosen.  Its worst-case bias over ``Delta^SD(M)`` is finite only if
``v' t = 0`` (``t = (-n_pre..-1, 1..n_post)``; linear trends are in ``Delta^SD(0)``), and then it
equals ``M ||P' v||_1`` where ``P`` maps the ``n_pre + n_post - 1`` second differences to
``delta`` (with ``delta_{-1} = 0``; any right inverse of the second-difference map gives the same
value once ``v' t = 0``).  With ``h = sd(v' beta_hat)`` and bias ``b``, the shortest interval
``v' beta_hat +- chi`` that covers ``theta`` with probability ``1 - alpha`` for every bias in
``[-b, b]`` has ``chi = h cv_alpha(b / h)``, where ``cv_alpha(t)`` is the ``1 - alpha`` quantile of
``|N(t, 1)|`` (folded normal; computed exactly by root finding).  The FLCI minimises ``chi`` over
``w``.  In the coordinates ``W`` (the pre-period entries of ``P' v``; ``w`` is affine in ``W``)
the bias is ``M (b0 + ||W||_1)`` with ``b0`` fixed by ``l``.  ``chi`` increases in both bias and
variance, so the optimum lies on the bias-variance frontier, which is the exact solution path
(lasso homotopy, piecewise linear) of ``min var(v' beta_hat)/2 + mu ||W||_1`` over ``mu >= 0``:
from the minimum-bias weights (``W = 0``: all pre weight on ``t = -1``) to the minimum-variance
ones (``mu = 0``).  Along the path ``chi`` is unimodal (``(b, h) -> h cv_alpha(b/h)`` is convex),
so it is minimised exactly: every breakpoint and every zero of its analytic derivative within a
segment (``brentq``) is a candidate.  ``M = 0`` gives the minimum-variance end.

HonestDiD (``findOptimalFLCI``) instead bisects over ``h`` using numerical derivatives of its
objective, solving a second-order cone problem (CVXR/ECOS) for the minimum bias given ``h`` at
each step, with the folded-normal quantile taken from 10^6 simulated draws; see ``DEVIATIONS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

DEVIATIONS = (
    "Folded-normal critical value computed exactly (HonestDiD: quantile of 10^6 simulated draws, "
    "relative error about 1e-3). Optimum found exactly on the bias-variance frontier "
    "(HonestDiD: bisection over the estimator's standard deviation with numerical derivatives "
    "of its simulated objective, which can stop at a sub-optimal sd when the optimum is "
    "interior, moving the interval's centre). Worst-case bias M ||P'v||_1 exactly; "
    "HonestDiD's objective adds 2 M |sum_t t l_t| when sum_t t l_t < 0 (e.g. a negative "
    "target vector), which only widens its interval."
)
FLCI_LABEL = "FLCI (Armstrong-Kolesar fixed length)"


# --------------------------------------------------------------------------------------------
# Restriction primitives (evaluation.models.honest imports them from here)
# --------------------------------------------------------------------------------------------


def _second_diff_rows(n_pre: int, n_post: int) -> np.ndarray:
    """Second differences of the full delta path with delta_0 = 0 inserted."""
    k = n_pre + n_post
    # Full path index: positions 0..n_pre-1 pre, n_pre = reference (zero), then post.
    full = np.zeros((k + 1, k))
    for i in range(n_pre):
        full[i, i] = 1.0
    for t in range(n_post):
        full[n_pre + 1 + t, n_pre + t] = 1.0
    rows = [full[j + 2] - 2 * full[j + 1] + full[j] for j in range(k - 1)]
    return np.array(rows)


def _l_vector(target, n_post: int) -> np.ndarray:
    """Target weights ``l``: "average", "first", a post-period index or a vector."""
    if isinstance(target, str):
        if target == "average":
            return np.full(n_post, 1.0 / n_post)
        if target == "first":
            return np.eye(n_post)[0]
        raise ValueError("target must be 'average', 'first', an index or a vector")
    if np.ndim(target) == 0:
        return np.eye(n_post)[int(target)]
    lv = np.asarray(target, dtype=float).ravel()
    if len(lv) != n_post:
        raise ValueError("target vector must have n_post entries")
    return lv


# --------------------------------------------------------------------------------------------
# FLCI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FLCIResult:
    """Optimal FLCI ``center -+ half_length`` with its weights ``(pre..., post...)``."""

    lb: float
    ub: float
    center: float
    half_length: float
    weights: np.ndarray
    sd: float
    max_bias: float
    m: float


def folded_normal_quantile(t: float, alpha: float = 0.05) -> float:
    """``cv_alpha(t)``: the ``1 - alpha`` quantile of ``|N(t, 1)|`` (``t >= 0``)."""
    t = abs(float(t))
    if not math.isfinite(t):
        return math.inf
    z1, z2 = special.ndtri(1 - alpha), special.ndtri(1 - alpha / 2)

    def g(c: float) -> float:
        return special.ndtr(c - t) - special.ndtr(-c - t) - (1 - alpha)

    lo, hi = t + z1, t + z2  # g(lo) <= 0 <= g(hi)
    if g(lo) >= 0:
        return float(lo)
    if g(hi) <= 0:  # t = 0: the upper end is the root (up to rounding)
        return float(hi)
    return float(optimize.brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def _cv_slope(t: float, c: float) -> float:
    """``d cv_alpha / dt`` at ``c = cv_alpha(t)`` (implicit differentiation)."""
    a, b = math.exp(-0.5 * (c - t) ** 2), math.exp(-0.5 * (c + t) ** 2)
    return (a - b) / (a + b)


def _bias_map(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """``(R, t)``: worst-case bias of ``v' beta`` is ``M ||R v||_1`` when ``t' v = 0``."""
    D2 = _second_diff_rows(n_pre, n_post)
    anchor = np.zeros((1, n_pre + n_post))
    anchor[0, n_pre - 1] = 1.0  # delta_{-1} = 0 fixes the free linear trend
    P = np.linalg.inv(np.vstack([D2, anchor]))[:, :-1]
    times = np.r_[np.arange(-n_pre, 0), np.arange(1, n_post + 1)].astype(float)
    return P.T, times


def worst_case_bias(weights, *, n_pre: int, n_post: int, m: float) -> float:
    """``sup |v' delta|`` over ``Delta^SD(m)`` (``inf`` if ``v`` is not trend-unbiased)."""
    v = np.asarray(weights, dtype=float).ravel()
    R, times = _bias_map(n_pre, n_post)
    if abs(times @ v) > 1e-9 * max(1.0, np.abs(v).sum()):
        return math.inf
    return float(m * np.abs(R @ v).sum())


def _w_coordinates(n_pre: int, n_post: int, lv: np.ndarray):
    """``v = a + F W`` over the trend-unbiased weights with post part ``lv``; the worst-case bias
    is ``m (b0 + ||W||_1)``: ``W`` are the pre-period rows of ``R v`` (they involve only the pre
    weights), ``b0`` the L1 norm of the post rows (fixed by ``lv``)."""
    R, times = _bias_map(n_pre, n_post)
    pre_rows = R[: n_pre - 1]  # second differences centred on t = -n_pre+1..-1
    if np.abs(pre_rows[:, n_pre:]).max(initial=0.0) > 1e-12:
        raise AssertionError("pre-period bias rows depend on post weights")
    # (W, t_pre' w) -> w is a bijection; t' v = 0 fixes t_pre' w = -t_post' lv.
    inv = np.linalg.inv(np.vstack([pre_rows[:, :n_pre], times[None, :n_pre]]))
    a = np.r_[inv[:, -1] * -(times[n_pre:] @ lv), lv]
    F = np.vstack([inv[:, :-1], np.zeros((n_post, n_pre - 1))])
    return a, F, float(np.abs(R[n_pre - 1 :] @ a).sum())


def _lasso_path(Q: np.ndarray, c: np.ndarray) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """Exact solution path of ``min_W W'QW/2 + c'W + mu ||W||_1`` (``Q`` positive definite) as
    segments ``(mu_hi, mu_lo, p, r)`` with ``W(mu) = p + mu r`` on ``[mu_lo, mu_hi]``, from
    ``W = 0`` (``mu >= max|c|``) down to ``mu = 0`` (homotopy / LARS-lasso)."""
    n = len(c)
    mu = float(np.abs(c).max(initial=0.0))
    sign = np.zeros(n)
    if mu == 0.0:
        return [(0.0, 0.0, np.zeros(n), np.zeros(n))]
    top = np.abs(c) >= mu * (1 - 1e-12)  # (tied) largest gradients enter first
    sign[top] = -np.sign(c[top])
    segments = []
    while mu > 0.0:
        act = np.flatnonzero(sign)
        p, r = np.zeros(n), np.zeros(n)
        sol = np.linalg.solve(Q[np.ix_(act, act)], np.c_[-c[act], -sign[act]])
        p[act], r[act] = sol[:, 0], sol[:, 1]
        g0, g1 = Q @ p + c, Q @ r  # gradient of the smooth part, g0 + mu g1
        events = []  # (mu, index, new sign); events at mu < current mu only
        with np.errstate(divide="ignore", invalid="ignore"):
            for k in np.flatnonzero(sign == 0):
                for s_new in (-1.0, 1.0):  # joins when g = -s_new mu
                    events.append((-g0[k] / (g1[k] + s_new), k, s_new))
            for k in act:
                events.append((-p[k] / r[k], k, 0.0))
        events = [e for e in events if np.isfinite(e[0]) and 0 <= e[0] < mu * (1 - 1e-12)]
        nxt = max(events, default=(0.0, -1, 0.0))
        segments.append((mu, max(nxt[0], 0.0), p, r))
        mu = nxt[0]
        if nxt[1] >= 0:
            sign[nxt[1]] = nxt[2]
    return segments


def _optimal_w(S: np.ndarray, m: float, a, F, b0: float, alpha: float) -> np.ndarray:
    """``W`` minimising ``chi = h cv_alpha(m (b0 + ||W||_1) / h)``, ``h = sd(v' beta_hat)``.

    The optimum is efficient in (bias, variance), i.e. on the lasso path of
    ``min var/2 + mu ||W||_1``; along it ``chi`` is unimodal, so it is minimised over the path's
    breakpoints and the zeros of its derivative inside each linear segment."""
    if F.shape[1] == 0:
        return np.zeros(0)
    Q, c = F.T @ S @ F, F.T @ S @ a
    best = (math.inf, None)
    for mu_hi, mu_lo, p, r in _lasso_path(Q, c):
        sgn = np.sign(p + 0.5 * (mu_hi + mu_lo) * r)  # constant on the segment

        def f(mu, p=p, r=r, sgn=sgn):
            W = p + mu * r
            v = a + F @ W
            h = math.sqrt(float(v @ S @ v))
            t = m * (b0 + float(sgn @ W)) / h
            cv = folded_normal_quantile(t, alpha)
            dh = float(v @ S @ (F @ r)) / h
            slope = _cv_slope(t, cv)
            return h * cv, slope * m * float(sgn @ r) + (cv - t * slope) * dh

        cands = [mu_lo, mu_hi]
        if mu_hi > mu_lo and f(mu_lo)[1] < 0 < f(mu_hi)[1]:
            cands.append(optimize.brentq(lambda x: f(x)[1], mu_lo, mu_hi, xtol=1e-15 * mu_hi))
        for mu in cands:
            val = f(mu)[0]
            if val < best[0]:
                best = (val, p + mu * r)
    return best[1]


def optimal_flci(
    betas, sigma, *, n_pre: int, n_post: int, m: float, target="first", alpha: float = 0.05
) -> FLCIResult:
    """Optimal ``1 - alpha`` FLCI for ``theta = l' tau_post`` under ``Delta^SD(m)``.

    ``target`` defaults to ``"first"`` as HonestDiD's ``l_vec``.  Needs ``n_pre >= 1`` and a
    positive definite pre-period covariance.
    """
    b = np.asarray(betas, dtype=float).ravel()
    S = np.asarray(sigma, dtype=float)
    k = n_pre + n_post
    if n_pre < 1 or len(b) != k or S.shape != (k, k):
        raise ValueError("betas / sigma do not match n_pre + n_post (n_pre >= 1)")
    if not (m >= 0 and math.isfinite(m)) or not 0 < alpha < 1:
        raise ValueError("m must be finite and >= 0, alpha in (0, 1)")
    a, F, b0 = _w_coordinates(n_pre, n_post, _l_vector(target, n_post))
    W = _optimal_w(S, float(m), a, F, b0, alpha)
    v = a + F @ W
    sd = math.sqrt(max(float(v @ S @ v), 0.0))
    bias = float(m) * (b0 + float(np.abs(W).sum()))
    half = sd * folded_normal_quantile(bias / sd, alpha) if sd > 0 else bias
    center = float(v @ b)
    return FLCIResult(center - half, center + half, center, half, v, sd, bias, float(m))


def flci(
    betas, sigma, *, n_pre: int, n_post: int, m: float, target="first", alpha: float = 0.05
) -> tuple[float, float]:
    """``(lb, ub)`` of the optimal FLCI (see :func:`optimal_flci`)."""
    r = optimal_flci(betas, sigma, n_pre=n_pre, n_post=n_post, m=m, target=target, alpha=alpha)
    return r.lb, r.ub


def default_m_grid(betas, sigma, *, n_pre: int, alpha: float = 0.05, points: int = 10):
    """HonestDiD's default grid of M for Delta^SD (``createSensitivityResults`` with
    ``Mvec = NULL``): ``points`` values from 0 to the largest one-sided 1 - alpha upper bound of
    the pre-period second differences (``DeltaSD_upperBound_Mpre``: second differences of the
    pre coefficients with the reference period's 0 appended, of either sign, estimate +
    z_(1-alpha) se); with
    one pre-period, from 0 to that coefficient's standard error."""
    b = np.asarray(betas, dtype=float).ravel()[:n_pre]
    S = np.asarray(sigma, dtype=float)[:n_pre, :n_pre]
    if n_pre == 1:
        top = math.sqrt(S[0, 0])
    else:
        A = _second_diff_rows(n_pre, 0)
        A = np.vstack([A, -A])  # HonestDiD's A = [Atilde; -Atilde]
        se = np.sqrt(np.einsum("ij,jk,ik->i", A, S, A))
        top = float(np.max(A @ b + special.ndtri(1 - alpha) * se))
    return np.linspace(0.0, top, points) if top > 0 else np.zeros(1)  # R: an error
