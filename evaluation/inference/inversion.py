"""Confidence intervals by test inversion, shared by the wild bootstrap and randomisation inference.

Both procedures give a p-value at any null value from the SAME draws (bootstrap weights or
re-assignments), so the interval ``{delta : p(delta) > alpha}`` is found by walking out from the
estimate until the test rejects, then bisecting to the jump of the (step-function) p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def invert_test(
    p_value: Callable[[float], float], estimate: float, scale: float, alpha: float
) -> tuple[float, float]:
    """``(low, high)``: the outer crossings of ``p_value(delta) = alpha`` on each side of the
    estimate; ``scale`` (a standard error or spread) sets the search steps.  An end is infinite
    if no ``delta`` within 1,000 scales of the estimate is rejected."""
    low = outer_crossing(p_value, estimate, scale, alpha, -1.0)
    high = outer_crossing(p_value, estimate, scale, alpha, +1.0)
    return low, high


def outer_crossing(
    p_value: Callable[[float], float], est: float, se: float, alpha: float, sign: float
) -> float:
    """Outer crossing of p(delta) = alpha on one side of the estimate (bracket + bisection)."""
    scale = se if se > 0 and math.isfinite(se) else max(abs(est), 1.0)
    inside = est
    step = 2.0 * scale
    outside = None
    for _ in range(60):
        cand = est + sign * step
        if p_value(cand) <= alpha:
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
        if p_value(mid) > alpha:
            inside = mid
        else:
            outside = mid
        if abs(outside - inside) <= 1e-12 * max(1.0, abs(est)) + 1e-10 * scale:
            break
    return 0.5 * (inside + outside)
