"""What the staggered-adoption estimators share (:mod:`~evaluation.models.callaway_santanna`,
:mod:`~evaluation.models.imputation_did`, :mod:`~evaluation.models.sun_abraham`): the coding of
never-treated units, cluster sums of scores, and intervals and term tables from estimates and
standard errors.

Shared conventions: ``first_treated`` / ``cohort`` hold the first treated period; 0, NaN or
(for ``sun_abraham``) ``never_value`` mark never-treated units, and cohorts later than the last
observed period are treated as never treated within the sample window.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats


def z_inference(est: float, se: float | None, alpha: float, df: float | None = None):
    """(ci_low, ci_high, p_value) from a normal (df None) or Student-t reference."""
    if se is None or not math.isfinite(se) or se <= 0 or not math.isfinite(est):
        return float("nan"), float("nan"), float("nan")
    if df is None:
        crit, p = stats.norm.ppf(1 - alpha / 2), 2 * stats.norm.sf(abs(est / se))
    else:
        crit, p = stats.t.ppf(1 - alpha / 2, df), 2 * stats.t.sf(abs(est / se), df)
    crit, p = float(crit), float(p)
    return est - crit * se, est + crit * se, p


def term_table(names, est, se, alpha, df=None) -> pd.DataFrame:
    """One row per term: estimate, se, ci_low, ci_high, p_value (:func:`z_inference`)."""
    rows = []
    for e, s in zip(est, se, strict=True):
        lo, hi, p = z_inference(float(e), float(s), alpha, df)
        rows.append((float(e), float(s), lo, hi, p))
    out = pd.DataFrame(
        rows, columns=["estimate", "se", "ci_low", "ci_high", "p_value"], index=list(names)
    )
    out.index.name = "term"
    return out


def group_sum(codes: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Row sums of M within groups 0..max(codes) (sparse product; faster than np.add.at)."""
    n = len(codes)
    S = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(int(codes.max()) + 1, n))
    return np.asarray(S @ M)


def never_treated_mask(g: np.ndarray, tmax) -> np.ndarray:
    """Never treated within the window: first treated period NaN, 0 or after ``tmax``."""
    return np.isnan(g) | (g == 0) | (g > tmax)


def periods_around(periods: np.ndarray, first) -> dict[str, list[float]]:
    """``pre_periods`` (before the first cohort's start) and ``post_periods`` (from it on) of a
    result, as floats."""
    return {
        "pre_periods": [float(x) for x in periods[periods < first]],
        "post_periods": [float(x) for x in periods[periods >= first]],
    }
