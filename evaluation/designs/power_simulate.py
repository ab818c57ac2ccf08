"""Closed-form power of the placebo rank tests, and the simulations behind the MDEs.

The building blocks of :mod:`evaluation.designs.power_analysis` (whose docstring states the
estimand and the method): the exact power curve of a rank test (:func:`power_at`), the MDE read
off it (:func:`find_mde`), leave-one-out critical values, the exact emulation of the per-area
design with every comparison unit as pseudo-pilot (:func:`emulate_area`), the gap series of
placebo programmes (:func:`programme_gaps`) and the residual bootstrap over more post periods
(:func:`project`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POWER_TARGET = 0.8
SIGMA_FLOOR = 1e-9


# ---- closed-form power of a rank test ----------------------------------------------------------
def power_at(delta, stat, crit, scale=1.0) -> np.ndarray:
    """Share of draws rejecting each effect in ``delta``: ``mean(|stat + delta/scale| > crit)``.

    ``stat``, ``crit``, ``scale`` broadcast to one array of draws (pseudo-treated units).  Exact
    for the placebo rank tests (see :mod:`evaluation.designs.power_analysis`); ``crit = inf`` never rejects."""
    stat, crit, scale = np.broadcast_arrays(
        np.asarray(stat, float), np.asarray(crit, float), np.asarray(scale, float)
    )
    ok = np.isfinite(stat) & (scale > 0)
    stat, crit, scale = stat[ok], crit[ok], scale[ok]
    n = max(len(stat), 1)
    # rejected iff delta > scale*(crit - stat) or delta < scale*(-crit - stat)
    up = np.sort(scale * (crit - stat))
    down = np.sort(scale * (-crit - stat))
    d = np.atleast_1d(np.asarray(delta, float))
    hits = np.searchsorted(up, d, side="left") + (len(down) - np.searchsorted(down, d, "right"))
    return hits / n


@dataclass
class MDE:
    """Minimum detectable effect in one direction with its power curve (natural units)."""

    mde: float  # inf when the target power is never reached
    delta: np.ndarray
    power: np.ndarray
    power_at_zero: float

    def curve(self, points: int = 21) -> list[dict]:
        """About ``points`` evenly spaced (delta, power) points of the power curve."""
        idx = np.unique(np.linspace(0, len(self.delta) - 1, points).round().astype(int))
        return [{"delta": float(self.delta[i]), "power": float(self.power[i])} for i in idx]


def find_mde(
    stat, crit, scale=1.0, *, direction: int = 1, target: float = POWER_TARGET, grid: int = 4001
) -> MDE:
    """Smallest effect in ``direction`` (+1 increase, -1 decrease) with power >= ``target``, by
    linear interpolation of the exact power curve on a fine grid of effects.  The grid runs from
    0 to an effect every draw but 5% rejects (so power there is at least 0.95)."""
    stat, crit, scale = np.broadcast_arrays(
        np.asarray(stat, float), np.asarray(crit, float), np.asarray(scale, float)
    )
    ok = np.isfinite(stat) & (scale > 0)
    s = direction * stat[ok]  # a decrease of size d for stat is an increase for -stat
    c, sc = crit[ok], scale[ok]
    p0 = float(power_at(0.0, s, c, sc)[0])
    thresholds = sc * (c - s)
    finite = np.isfinite(thresholds)
    if not len(s) or finite.mean() < target:
        return MDE(math.inf, np.array([0.0]), np.array([p0]), p0)
    hi = float(np.quantile(thresholds[finite], min(0.95 / finite.mean(), 1.0)))
    hi = max(hi, 1e-9) * 1.05
    delta = np.linspace(0.0, hi, grid)
    power = power_at(delta, s, c, sc)
    above = np.nonzero(power >= target)[0]
    if not len(above):
        return MDE(math.inf, delta * direction, power, p0)
    i = int(above[0])
    if i == 0:
        value = 0.0
    else:
        d0, d1, q0, q1 = delta[i - 1], delta[i], power[i - 1], power[i]
        value = float(d0 + (target - q0) / (q1 - q0) * (d1 - d0)) if q1 > q0 else float(d1)
    return MDE(value, delta * direction, power, p0)


def loo_critical(abs_stat: np.ndarray, m: int) -> np.ndarray:
    """For each draw along the last axis, the m-th largest value among the *other* draws."""
    n = abs_stat.shape[-1]
    if m < 1 or m > n - 1:
        return np.full(abs_stat.shape, math.inf)
    srt = -np.sort(-abs_stat, axis=-1)
    mth, next_ = srt[..., m - 1 : m], srt[..., m : m + 1]
    # draws among the top m are replaced by the (m+1)-th when they are left out
    return np.where(abs_stat >= mth, next_, mth)


# ---- per-area design ---------------------------------------------------------------------------
def sample_sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Standard deviation (divisor n - 1) along ``axis``; NaN when fewer than two values."""
    n = x.shape[axis]
    if n < 2:
        return np.full(np.delete(x.shape, axis if axis >= 0 else x.ndim + axis), np.nan)
    return x.std(axis=axis, ddof=1)


@dataclass
class AreaEmulation:
    """Per-area design on one pool (units x periods), for every post length in ``ks``."""

    units: list
    ks: list[int]
    tau: np.ndarray  # (K, J) pseudo-pilot DiD vs pool without itself
    sigma: np.ndarray  # (J,) pre-period RMSE of the same gap
    crit: np.ndarray  # (K, J) leave-two-out placebo critical value for pseudo-pilot j
    z_single: np.ndarray  # (K, J) placebo z's of the full pool (what a pilot is ranked against)
    crit_single: np.ndarray  # (K,) a_(m) for a pilot against the full pool
    resid: np.ndarray  # standardised pre-period residuals (unit variance), pooled
    comp: np.ndarray  # (T,) pooled comparison series of the full pool


def emulate_area(num: np.ndarray, den: np.ndarray, n_pre: int, ks, alpha: float) -> AreaEmulation:
    """Exact emulation of :func:`did_one_treated` with every pool unit as pseudo-pilot.

    ``num``/``den``: (J, T) counts of the complete pool units; the first ``n_pre`` periods are
    the pre-period, post length k uses periods ``n_pre .. n_pre + k - 1``."""
    j, t = num.shape
    ks = [int(k) for k in ks if 1 <= k <= t - n_pre]
    y = num / den * 100.0
    s_num, s_den = num.sum(0), den.sum(0)
    comp = s_num / s_den * 100.0

    def stats(gap):  # gap (..., T) -> tau (K, ...), sigma (...)
        pre = gap[..., :n_pre]
        pre_mean = pre.mean(-1)
        sigma = sample_sd(pre)
        csum = np.cumsum(gap[..., n_pre:], axis=-1)
        tau = np.stack([csum[..., k - 1] / k - pre_mean for k in ks])
        return tau, sigma, pre - pre_mean[..., None]

    # pseudo-pilot j against the pool without j
    gap1 = y - (s_num - num) / (s_den - den) * 100.0
    tau, sigma, resid = stats(gap1)
    z_single = tau / np.maximum(sigma, SIGMA_FLOOR)
    # placebo k against the pool without k and without the pseudo-pilot j: (J, J, T)
    loo_num = s_num - num[:, None, :] - num[None, :, :]
    loo_den = s_den - den[:, None, :] - den[None, :, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap2 = y[None, :, :] - loo_num / loo_den * 100.0
    tau2, sigma2, _ = stats(gap2)
    z2 = np.abs(tau2 / np.maximum(sigma2, SIGMA_FLOOR))
    diag = np.arange(j)
    z2[:, diag, diag] = -np.inf  # the pseudo-pilot is not its own placebo
    m2 = math.floor(alpha * j + 1e-12)  # J - 1 placebos: m = floor(alpha * (1 + (J - 1)))
    if m2 >= 1 and n_pre >= 2:
        crit = -np.sort(-z2, axis=-1)[..., m2 - 1]
    else:
        crit = np.full((len(ks), j), math.inf)
    m1 = math.floor(alpha * (1 + j) + 1e-12)
    abs1 = -np.sort(-np.abs(z_single), axis=-1)
    crit_single = abs1[:, m1 - 1] if (m1 >= 1 and n_pre >= 2) else np.full(len(ks), math.inf)
    good = sigma > SIGMA_FLOOR
    std_resid = (resid[good] / sigma[good, None]) * math.sqrt(n_pre / max(n_pre - 1, 1))
    return AreaEmulation(
        units=list(range(j)),
        ks=ks,
        tau=tau,
        sigma=sigma,
        crit=crit,
        z_single=z_single,
        crit_single=np.asarray(crit_single, float),
        resid=std_resid.ravel(),
        comp=comp,
    )


def pilot_sigma(
    num_pilots: np.ndarray, den_pilots: np.ndarray, comp: np.ndarray, n_pre: int
) -> np.ndarray:
    """Each pilot's pre-period RMSE of its gap to the full pool's pooled rate (divisor T-1)."""
    gap = num_pilots[:, :n_pre] / den_pilots[:, :n_pre] * 100.0 - comp[None, :n_pre]
    return sample_sd(gap)


# ---- programme design --------------------------------------------------------------------------
def programme_gaps(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gap series of every placebo programme (combined rate minus the rest of the pool's pooled
    rate), (R, T); the same algebra as
    :func:`evaluation.designs.programme.placebo_programme_did`."""
    s_num, s_den = num.sum(axis=0), den.sum(axis=0)
    f_num, f_den = num[idx].sum(axis=1), den[idx].sum(axis=1)
    return f_num / f_den * 100 - (s_num - f_num) / (s_den - f_den) * 100


def programme_tau(gap: np.ndarray, n_pre: int, ks) -> np.ndarray:
    """(K, R) DiD of every placebo programme's gap series for each post length k in ``ks``."""
    csum = np.cumsum(gap[:, n_pre:], axis=1)
    pre_mean = gap[:, :n_pre].mean(axis=1)
    return np.stack([csum[:, k - 1] / k - pre_mean for k in ks])


# ---- bootstrap projection (years) --------------------------------------------------------------
def calibrate_gamma(base: np.ndarray, eta: np.ndarray, s: np.ndarray, target: float) -> float:
    """gamma >= 0 such that median(|(base + gamma * eta) / s|) = target (bisection); 0 when the
    target lies within the bootstrap's own sampling range (90th percentile over replicates of
    the median at gamma = 0), i.e. when the data show no excess over iid noise."""

    def med(g):
        return float(np.median(np.abs((base + g * eta) / s)))

    null_medians = np.median(np.abs(base / s).reshape(-1, base.shape[-1]), axis=-1)
    if not math.isfinite(target) or target <= np.quantile(null_medians, 0.9):
        return 0.0
    lo, hi = 0.0, 1.0
    while med(hi) < target and hi < 1e4:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if med(mid) < target else (lo, mid)
    return (lo + hi) / 2


@dataclass
class Projection:
    """Bootstrap statistics and their leave-one-out critical values for every post length."""

    ks: list[int]
    stat: np.ndarray  # (K, B, N) simulated statistics
    crit: np.ndarray  # (K, B, N) leave-one-out critical values
    gamma: float
    normalised: bool


def project(
    resid_pool: np.ndarray,
    n_units: int,
    n_pre: int,
    n_post_observed: int,
    observed_abs_median: float,
    ks,
    alpha: float,
    *,
    normalised: bool,
    draws: int,
    rng: np.random.Generator,
) -> Projection:
    """Residual bootstrap of the statistic for k post periods (see
    :mod:`evaluation.designs.power_analysis`), in units of each unit's noise scale.  ``observed_abs_median``: median |statistic / scale| of the real
    placebo distribution with ``n_post_observed`` post periods (calibrates gamma)."""
    ks = [int(k) for k in ks]
    b = max(1, math.ceil(draws / n_units))
    kmax = max(ks + [n_post_observed])
    pick = rng.integers(0, len(resid_pool), size=(b, n_units, n_pre + kmax + 1))
    e = resid_pool[pick]
    pre, post, eta = e[..., :n_pre], e[..., n_pre:-1], e[..., -1]
    pre_mean = pre.mean(-1)
    s = sample_sd(pre) if normalised else np.ones(pre_mean.shape)
    s = np.maximum(s, SIGMA_FLOOR)
    csum = np.cumsum(post, axis=-1)
    base_obs = csum[..., n_post_observed - 1] / n_post_observed - pre_mean
    gamma = calibrate_gamma(base_obs, eta, s, observed_abs_median)
    stat = np.stack([(csum[..., k - 1] / k - pre_mean + gamma * eta) / s for k in ks])
    m = math.floor(alpha * n_units + 1e-12)  # N - 1 others: m = floor(alpha * (1 + N - 1))
    crit = loo_critical(np.abs(stat), m)
    return Projection(ks, stat, crit, gamma, normalised)
