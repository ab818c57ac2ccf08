"""Multiplicity: many tests, some "significant" by chance alone (METHODOLOGY.md section 2e).

* Within an area, over the plan's outcomes: :func:`romano_wolf`, step-down adjusted p-values
  (Romano and Wolf 2005) from the joint placebo distribution: every comparison area is a placebo
  for every outcome at once, so the dependence between the outcomes' statistics is kept.
  Controls the family-wise error rate (the chance of any false "significant" outcome).
* Across areas, for one outcome: :func:`benjamini_hochberg` q-values (Benjamini and Hochberg
  1995), controlling the false discovery rate (the expected share of false discoveries among
  the areas called significant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def romano_wolf(observed: dict[str, float], placebo: pd.DataFrame) -> dict[str, float]:
    """Step-down adjusted p-values for the outcomes in ``observed``.

    ``observed``: outcome -> the area's studentised statistic (its |z|, larger is more
    extreme); ``placebo``: one row per placebo unit, one column per outcome, the placebo |z|
    (units lacking an outcome dropped beforehand).  With ``J`` placebo units and the outcomes
    ordered by decreasing statistic ``s_1 >= ... >= s_K``, step ``i`` uses the largest placebo
    statistic over the outcomes not yet stepped past,
    ``p*_i = (1 + #{j : max_{k >= i} |z_jk| >= s_i}) / (1 + J)``, and the adjusted p-value is
    the running maximum of the ``p*``, so no adjusted p-value is below an earlier one."""
    names = sorted(observed, key=lambda k: -observed[k])
    if not names:
        return {}
    z = placebo[names].to_numpy(dtype=float)
    n = z.shape[0]
    out, running = {}, 0.0
    for i, name in enumerate(names):
        worst = z[:, i:].max(axis=1)
        tie = observed[name] * (1 - 1e-12)  # the same tolerance as the per-outcome rank test
        p = (1 + int((worst >= tie).sum())) / (1 + n)
        running = max(running, p)
        out[name] = running
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up; missing p-values stay missing and are not
    counted among the tests)."""
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    values = np.empty(m)
    values[order] = ranked
    q[ok] = values
    return q


def area_romano_wolf(results: dict) -> dict[str, float]:
    """Romano-Wolf p-values over one area's outcomes from their placebo distributions
    (``results``: outcome -> ``EstimationResult`` of ``did_one_treated``).  Placebo units are
    those with a finite statistic for every outcome that has one."""
    observed, columns = {}, {}
    for name, res in results.items():
        dist = getattr(res, "distribution", None)
        z = res.diagnostics.get("z")
        if dist is None or z is None or not np.isfinite(z):
            continue
        observed[name] = abs(float(z))
        placebo = dist.loc[~dist["is_treated"]].set_index("unit")["z"].abs()
        columns[name] = placebo
    if not observed:
        return {}
    frame = pd.DataFrame(columns).dropna()
    frame = frame[np.isfinite(frame).all(axis=1)]
    return romano_wolf(observed, frame)
