"""Robust EBCI critical values (Armstrong, Kolesar & Plagborg-Moller 2022), the ``cva()`` and
``rho()`` of the R package ``ebci`` 1.0.0.

``cva(m2, kappa, alpha)`` is the smallest ``chi`` for which the largest non-coverage of
``[-chi, chi]`` for ``Z + b`` (``Z`` standard normal, ``b`` the normalized bias), over every
distribution of ``b`` with ``E[b^2] = m2`` and ``E[b^4] <= kappa m2^2``, is ``alpha``.  Used by
:func:`evaluation.models.ebci.robust_ebci`.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

TOL = 1e-12  # the R package's numerical tolerance
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_EPS = math.sqrt(2.220446049250313e-16)


# --- r(t, chi): non-coverage of [-chi, chi] for Z + b when b^2 = t, and derivatives in t -----


def _pnorm(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def _dnorm(x: float) -> float:
    return math.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _r(t: float, chi: float) -> float:
    s = math.sqrt(t)
    if s - chi > 5:  # as in R: taken as 1 far out (the normal cdf there is 1 - 3e-7)
        return 1.0
    return _pnorm(-s - chi) + _pnorm(s - chi)


def _r1(t: float, chi: float) -> float:
    if t < 1e-8:  # limit at t -> 0 (L'Hospital)
        return chi * _dnorm(chi)
    s = math.sqrt(t)
    return (_dnorm(s - chi) - _dnorm(s + chi)) / (2 * s)


def _r2(t: float, chi: float) -> float:
    if t < 2e-6:
        return _dnorm(chi) * chi * (chi * chi - 3) / 6
    s = math.sqrt(t)
    num = _dnorm(s + chi) * (chi * s + t + 1) + _dnorm(s - chi) * (chi * s - t - 1)
    return num / (4 * t**1.5)


def _r3(t: float, chi: float) -> float:
    if t < 2e-4:
        return _dnorm(chi) * (chi**5 - 10 * chi**3 + 15 * chi) / 60
    s, c2 = math.sqrt(t), chi * chi
    plus = t * t + 2 * chi * t * s + (2 + c2) * t + 3 * chi * s + 3
    minus = t * t - 2 * chi * t * s + (2 + c2) * t - 3 * chi * s + 3
    return (_dnorm(chi - s) * minus - _dnorm(chi + s) * plus) / (8 * t**2.5)


def _root(f, lo: float, hi: float) -> float:
    """Brent root on [lo, hi] with the package's tolerance (R ``uniroot``)."""
    return optimize.brentq(f, lo, hi, xtol=TOL, maxiter=1000)


def _minimize(f, lo: float, hi: float, tol: float) -> tuple[float, float]:
    """Minimum of f on [lo, hi] by Brent's golden-section and parabolic method (R ``optimize``).

    Same stopping rule as R: ``|x - mid| <= 2 tol1 - (hi - lo)/2`` with ``tol1 = sqrt(eps)|x| +
    tol/3``.  Written out (not scipy's) because it runs in the innermost loop of ``cva``.
    """
    golden = 0.5 * (3.0 - math.sqrt(5.0))
    a, b = lo, hi
    x = w = v = a + golden * (b - a)
    fx = fw = fv = f(x)
    step = prev_step = 0.0
    while True:
        mid = 0.5 * (a + b)
        tol1 = _SQRT_EPS * abs(x) + tol / 3
        if abs(x - mid) <= 2 * tol1 - 0.5 * (b - a):
            return x, fx
        p = q = r = 0.0
        if abs(prev_step) > tol1:  # try a parabola through x, w, v
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            p, q = (-p, q) if q > 0 else (p, -q)
            r, prev_step = prev_step, step
        if abs(p) >= abs(0.5 * q * r) or p <= q * (a - x) or p >= q * (b - x):
            prev_step = (b - x) if x < mid else (a - x)
            step = golden * prev_step
        else:
            step = p / q
            if (x + step) - a < 2 * tol1 or b - (x + step) < 2 * tol1:
                step = tol1 if x < mid else -tol1
        u = x + (step if abs(step) >= tol1 else math.copysign(tol1, step))
        fu = f(u)
        if fu <= fx:
            a, b = (a, x) if u < x else (x, b)
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            a, b = (u, b) if u < x else (a, u)
            if fu <= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu <= fv or v in (x, w):
                v, fv = u, fu


@functools.lru_cache(maxsize=100_000)
def _rt0(chi: float) -> tuple[float, float]:
    """(t0, t1): where the tangent to r(., chi) passes through (0, r(0)), and r's inflection."""
    c2 = chi * chi
    if c2 < 3:
        return 0.0, 0.0
    if abs(_r2(c2 - 1.5, chi)) < TOL or (c2 - 3) - c2 == 0:
        ip = c2 - 1.5  # chi numerically huge
    else:
        ip = _root(lambda t: _r2(t, chi), c2 - 3, c2)
    r_zero = _r(0.0, chi)

    def gap(t):
        return _r(t, chi) - t * _r1(t, chi) - r_zero

    lo, up = ip, 2 * c2
    while gap(up) < 0:
        lo, up = up, 2 * up
    t0, gap_lo = lo, gap(lo)
    if gap_lo < 0:
        t0 = _root(gap, lo, up)
    elif gap_lo > TOL:
        warnings.warn(f"Failed to solve for t0 at chi={chi}", RuntimeWarning, stacklevel=2)
    return t0, ip


def _rho0(t: float, chi: float) -> float:
    """Largest non-coverage under E[b^2] = t alone: r's concave envelope."""
    t0 = _rt0(chi)[0]
    if t >= t0:
        return _r(t, chi)
    return _r(t0, chi) + (t - t0) * _r1(t0, chi)


def _delta(x: float, x0: float, chi: float) -> float:
    if abs(x - x0) < 1e-4:
        return _r2(x0, chi) / 2
    return (_r(x, chi) - _r(x0, chi) - _r1(x0, chi) * (x - x0)) / (x - x0) ** 2


def _delta1(x: float, x0: float, chi: float) -> float:
    if abs(x - x0) < 1e-3:
        return _r3(x0, chi) / 6
    d = x - x0
    return ((_r1(x, chi) + _r1(x0, chi)) - 2 * (_r(x, chi) - _r(x0, chi)) / d) / d**2


def _lam_bracket(xs: list[float], der: list[float], val: list[float], x0, chi):
    """Interval holding the single interior maximum of delta(., x0), or None if it is at 0."""
    if all(d <= 0 for d in der) and int(np.argmax(val)) == 0:
        return None
    positive = [d >= 0 for d in der]
    if all(a >= b for a, b in zip(positive, positive[1:], strict=False)) and der[-1] <= 0:
        first_negative = positive.index(False) if False in positive else 0
        idx = max(first_negative, 1)
        return xs[idx - 1], xs[idx]
    if min(abs(d) for d in der) < 1e-6:
        k = int(np.argmax(val))
        return xs[max(k - 1, 0)], xs[min(k + 1, len(xs) - 1)]
    raise RuntimeError(f"multiple optima in delta(x, x0={x0}, chi={chi})")


def _lam(x0: float, chi: float) -> tuple[float, float]:
    """(max over x of delta(x, x0), the maximiser)."""
    t0, ip = _rt0(chi)
    first, second = sorted((t0, ip))
    if x0 >= first:
        xs = [0.0, first]
    else:
        xs = list(dict.fromkeys([0.0, x0, first, second]))
    der = [_delta1(x, x0, chi) for x in xs]
    val = [_delta(x, x0, chi) for x in xs]
    at_zero = (val[0], 0.0)
    bracket = _lam_bracket(xs, der, val, x0, chi)
    if bracket is None:
        return at_zero
    r_x0, r1_x0, near = _r(x0, chi), _r1(x0, chi), _r2(x0, chi) / 2

    def minus_delta(x):  # _delta(x, x0, chi) with the x0 terms computed once
        d = x - x0
        return -near if abs(d) < 1e-4 else -(_r(x, chi) - r_x0 - r1_x0 * d) / (d * d)

    xmax, neg = _minimize(minus_delta, bracket[0], bracket[1], TOL)
    if -neg > at_zero[0]:
        return -neg, xmax
    if -neg <= at_zero[0] - 1e3 * TOL:
        warnings.warn(f"optimum may be wrong for lam(x0={x0}, chi={chi})", RuntimeWarning, 2)
    return at_zero


def _rho_kurtosis_binds(m2: float, kappa: float, chi: float, t0: float):
    """Dual solution when the kurtosis bound binds: (non-coverage, support, probabilities)."""
    tbar = _lam(0.0, chi)[1]

    def lammax(x0):
        return _delta(0.0, x0, chi) if x0 >= tbar else max(_lam(x0, chi)[0], 0.0)

    def objective(x0):
        curvature = kappa * m2 * m2 - 2 * x0 * m2 + x0 * x0
        return _r(x0, chi) + _r1(x0, chi) * (m2 - x0) + lammax(x0) * curvature

    # optimise below and above tbar separately: there are typically several local minima
    below = _minimize(objective, 0.0, tbar, 1e3 * TOL) if tbar > 0 else (0.0, objective(0.0))
    above = _minimize(objective, tbar, t0, 1e3 * TOL)
    best = below if below[1] < above[1] else above
    support = sorted((best[0], _lam(best[0], chi)[1]))
    p = (m2 - support[1]) / (support[0] - support[1])
    return best[1], support, [p, 1 - p]


def _lp_noncoverage(m2: float, kappa: float, chi: float, t0: float, support, n_grid=5000):
    """Primal check: the largest non-coverage over distributions on a grid of b^2 in [0, t0]."""
    grid = np.unique(np.concatenate([[m2], support, np.linspace(0.0, t0, n_grid)]))
    gain = np.array([_r(float(x), chi) for x in grid])
    res = optimize.linprog(
        -gain,
        A_eq=np.vstack([np.ones_like(grid), grid]),
        b_eq=[1.0, m2],
        A_ub=(grid**2)[None, :],
        b_ub=[m2 * m2 * kappa],
        bounds=(0, None),
        method="highs",
    )
    return -res.fun if res.status == 0 else math.nan


@dataclass(frozen=True)
class CriticalValue:
    """``cv`` with the least favourable distribution of b^2 (``support`` with ``prob``)."""

    cv: float
    noncoverage: float
    support: tuple[float, ...]
    prob: tuple[float, ...]


def rho(m2: float, kappa: float, chi: float, check: bool = True) -> CriticalValue:
    """Largest non-coverage of ``[-chi, chi]`` for Z + b with E[b^2]=m2, E[b^4]<=kappa m2^2.

    With ``check`` the dual solution is verified (its least favourable distribution must meet
    the constraints and give the same non-coverage) and otherwise compared with a grid linear
    program; a disagreement over 1e-4 gives NaN with a warning, as in R.
    """
    r0 = _rho0(m2, chi)
    t0 = _rt0(chi)[0]
    if kappa == 1:
        return CriticalValue(chi, _r(m2, chi), (0.0, m2), (0.0, 1.0))
    if m2 >= t0:  # concave part: the constraint on the second moment alone binds
        return CriticalValue(chi, r0, (0.0, m2), (0.0, 1.0))
    if math.isinf(kappa) or m2 * kappa >= t0:  # mass on {0, t0}: kurtosis does not bind
        return CriticalValue(chi, r0, (0.0, t0), (1 - m2 / t0, m2 / t0))
    value, support, prob = _rho_kurtosis_binds(m2, kappa, chi, t0)
    mean = support[0] * prob[0] + support[1] * prob[1]
    primal = (
        _r(support[0], chi) * prob[0] + _r(support[1], chi) * prob[1],
        mean,
        (support[0] ** 2 * prob[0] + support[1] ** 2 * prob[1]) / mean**2,
    )
    gap = max(abs(a - b) for a, b in zip(primal, (value, m2, kappa), strict=True))
    if check and gap > 1e-4:
        lp_value = _lp_noncoverage(m2, kappa, chi, t0, support)
        if not abs(value - lp_value) < 1e-4:
            warnings.warn(
                f"linear program finds non-coverage {lp_value}, the dual {value} "
                f"(chi={chi}, m2={m2}, kappa={kappa})",
                RuntimeWarning,
                stacklevel=2,
            )
            return CriticalValue(chi, math.nan, (math.nan,), (math.nan,))
    return CriticalValue(chi, value, tuple(support), tuple(prob))


def critical_value_known_bias(bias: float, alpha: float = 0.05) -> float:
    """The chi with P(|Z + bias| > chi) = alpha (R's ``CVb``: sqrt of a non-central chi^2)."""
    if bias == 0:
        return float(special.ndtri(1 - alpha / 2))
    if bias >= 10:
        return float(bias + special.ndtri(1 - alpha))
    # the root lies in [bias + z_{1-alpha}, bias + z_{1-alpha/2}]; widened for rounding
    lo, hi = bias + special.ndtri(1 - alpha) - 0.1, bias + special.ndtri(1 - alpha / 2) + 0.1
    return _root(lambda c: _r(bias * bias, c) - alpha, float(lo), float(hi))


def cva(m2: float, kappa: float = math.inf, alpha: float = 0.05, check: bool = True):
    """Robust critical value ``cva_alpha(m2, kappa)`` of AKP (2022) (R ``ebci::cva``).

    The smallest ``chi`` whose largest non-coverage ``rho(m2, kappa, chi)`` is ``alpha``: the
    bound on the normalized bias is its second moment ``m2`` and its kurtosis ``kappa`` (``inf``
    for none).  Returns a :class:`CriticalValue`; ``cv`` is NaN for an infinite ``m2``.
    """
    m2, kappa = float(m2), float(kappa)
    if math.isinf(m2):
        return CriticalValue(math.nan, alpha, (0.0, m2), (0.0, 1.0))
    if kappa == 1 or m2 == 0:
        return CriticalValue(
            critical_value_known_bias(math.sqrt(m2), alpha), alpha, (0, m2), (0, 1)
        )
    if 1 / m2 < TOL and not math.isinf(kappa):  # m2 huge: take kappa as not binding
        res = cva(m2, math.inf, alpha, check=False)
        if kappa < sum(x * x * p for x, p in zip(res.support, res.prob, strict=True)) / m2**2:
            warnings.warn(f"m2={m2} too large: kappa bound assumed not binding", RuntimeWarning, 2)
        return res
    lo = critical_value_known_bias(math.sqrt(m2), alpha) - 0.01
    up = math.sqrt((1 + m2) / alpha)  # Chebyshev
    if abs(_rho0(m2, up) - alpha) < 9e-6:
        hi = up
    else:
        hi = _root(lambda chi: _rho0(m2, chi) - alpha, lo, up)
    if rho(m2, kappa, hi).noncoverage - alpha < -1e-5:
        cv = _root(lambda chi: rho(m2, kappa, chi, check=False).noncoverage - alpha, lo, hi)
    else:
        cv = hi
    res = rho(m2, kappa, cv, check=check)
    return CriticalValue(cv, res.noncoverage, res.support, res.prob)


@functools.lru_cache(maxsize=100_000)
def cached_cv(m2: float, kappa: float, alpha: float) -> float:
    """``cva(m2, kappa, alpha).cv``, remembered (many units share a critical value)."""
    return cva(m2, kappa, alpha, check=True).cv
