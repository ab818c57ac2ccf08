"""Data-quality flags: results that should send an analyst to the data before anyone reads
them as evidence (METHODOLOGY.md section 2a).  A flagged outcome is labelled "Check the data"
instead of an evidence grade.

1. **Effect beyond the comparison areas' range**: the area's DiD is larger than every
   comparison LA's placebo DiD, or smaller than every one.  Changes that no other LA showed
   over the same years are more often a recording or collection change than a programme effect.
2. **Denominator change of more than half**: the area's mean denominator over the post-period
   differs from its mean over the pre-period by more than half (|ratio - 1| > 0.5), *relative to the comparison pool's own change* over the same
   years.  Deviation from the literal rule "between years": year-on-year changes of more than
   half are routine for small LAs (28 of 32 pilots on the primary outcome over 2015-2024), so
   that rule would flag nearly everyone and tell the reader nothing; the rule here compares the
   two periods the estimate compares and nets out the national growth in plans.
"""

from __future__ import annotations

import math

import pandas as pd

from evaluation.models.results import EstimationResult
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome

DENOMINATOR_CHANGE = 0.5


def data_quality_flags(
    result: EstimationResult, panel: Panel, code: str, pool: list[str], outcome: Outcome
) -> list[str]:
    """Plain-English flags (empty when none applies) for one area's headline result."""
    flags = []
    dist = result.distribution
    if dist is not None and "is_treated" in dist and math.isfinite(result.estimate):
        placebo = dist.loc[~dist["is_treated"], "estimate"].astype(float)
        if len(placebo) and (result.estimate > placebo.max() or result.estimate < placebo.min()):
            flags.append(
                f"the estimate is outside the range of every comparison area's change "
                f"({placebo.min():.1f} to {placebo.max():.1f})"
            )
    ratio = denominator_change(panel, code, pool, outcome, result.pre_periods, result.post_periods)
    if ratio is not None and abs(ratio - 1) > DENOMINATOR_CHANGE:
        flags.append(
            f"the number of {outcome.denominator.replace('_', ' ')} changed by "
            f"{(ratio - 1) * 100:+.0f}% from the pre-period to the post-period, relative to "
            "the comparison areas"
        )
    return flags


def denominator_change(panel: Panel, code: str, pool: list[str], outcome: Outcome, pre, post):
    """(area's post/pre mean denominator) / (pool's post/pre summed denominator), or None."""
    if not pre or not post:
        return None
    u = panel.units
    den = pd.to_numeric(u[outcome.denominator], errors="coerce")
    t = u[panel.time]
    area = den[(u["unit_id"] == code)]
    a_pre, a_post = area[t.isin(pre)].mean(), area[t.isin(post)].mean()
    in_pool = u["unit_id"].isin(pool)
    p_pre = den[in_pool & t.isin(pre)].sum() / max(len(pre), 1)
    p_post = den[in_pool & t.isin(post)].sum() / max(len(post), 1)
    values = [a_pre, a_post, p_pre, p_post]
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return float((a_post / a_pre) / (p_post / p_pre))
