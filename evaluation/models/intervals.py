"""Confidence intervals from inverting a placebo-in-space rank test.

With one treated unit, each comparison unit *j* in turn plays the treated one and gives a
placebo statistic ``|z_j| = |tau_j| / sigma_j``.  Under a constant additive effect ``delta``,
subtracting ``delta`` from the treated unit's post-period outcomes moves only its estimate
``tau`` (not its scale ``sigma`` and not the placebos, which never use the treated unit), so
the set of ``delta`` not rejected at level ``alpha`` is exactly

    tau +/- a_(m) * sigma,   a_(m) = the m-th largest placebo |z_j|,  m = floor(alpha (1 + J)).

If ``m = 0`` (too few comparison units for the level) the interval is unbounded.  Used by
:func:`~evaluation.models.did_one_treated.did_one_treated` and the synthetic control and
synthetic DiD estimators.
"""

from __future__ import annotations

import math

import numpy as np


def placebo_ci(
    tau: float, sigma: float, placebo_abs_z: np.ndarray, alpha: float
) -> tuple[float, float]:
    """Interval from inverting the placebo rank test (see module docstring)."""
    j = len(placebo_abs_z)
    m = math.floor(alpha * (1 + j) + 1e-12)
    if m < 1 or not math.isfinite(sigma):
        return -math.inf, math.inf
    crit = float(np.sort(placebo_abs_z)[::-1][m - 1])
    return tau - crit * sigma, tau + crit * sigma


def within_bounds(lo: float, hi: float, post_values, bounds: tuple) -> tuple[float, float]:
    """``(lo, hi)`` intersected with the additive effects that keep every post-period value
    of the treated unit's rate within ``bounds`` once the effect is taken away (a confidence
    set restricted to the parameter space keeps its coverage)."""
    post = np.asarray(post_values, dtype=float)
    return max(lo, float(post.max()) - bounds[1]), min(hi, float(post.min()) - bounds[0])
