"""Which units and periods one area's estimates use: the comparison pool, the area's pre- and
post-periods, and the rows every per-area estimator sees."""

from __future__ import annotations

import pandas as pd

from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome
from evaluation.panel.plan import Plan


def comparison_pool(panel: Panel, plan: Plan) -> list[str]:
    """All units that are not pilots and not excluded by the plan."""
    pilots = set(plan.pilot_codes)
    return sorted(
        u
        for u in panel.units["unit_id"].unique()
        if u not in pilots and u not in set(plan.comparison_exclude)
    )


def area_periods(
    panel: Panel, plan: Plan, code: str, outcome: Outcome, pre: list | None = None
) -> tuple[list[int], list[int], list[int]]:
    """The pre- and post-periods one area's estimate of an outcome uses, and the periods left
    out because the area has no rate there.

    ``pre`` defaults to the plan's pre-period (the caller passes the outcome's chosen one,
    :func:`evaluation.designs.pre_period.chosen_pre_period`).  A period where the area's rate
    is undefined (no plan issued, no request received, a missing row) is left out for that area
    and outcome and listed in the result, rather than dropping the area.  Comparison units
    lacking a period are left out of the pool as usual."""
    pre = list(plan.pre_years if pre is None else pre)
    post = list(plan.post_years)
    row = panel.units[panel.units["unit_id"] == code].set_index(panel.time)
    if row.empty:
        return pre, post, []
    den = row[outcome.denominator].astype("Float64")
    ok = row[outcome.name].notna() & den.notna() & (den > 0)
    have = set(ok[ok].index)
    return (
        [t for t in pre if t in have],
        [t for t in post if t in have],
        [t for t in pre + post if t not in have],
    )


def analysis_rows(panel: Panel, plan: Plan, pre: list | None = None) -> pd.DataFrame:
    """The panel's rows from the first pre-period (``pre``, default the plan's) to the last
    post-period, without the periods the plan leaves out (the data every per-area
    alternative estimator sees)."""
    first = (pre or plan.pre_years)[0]
    last = plan.post[1]
    keep = [t for t in range(first, last + 1) if t not in plan.excluded_periods]
    return panel.units[panel.units[panel.time].isin(keep)]


def synthetic_donors(
    units: pd.DataFrame, time: str, outcome: Outcome, pool: list[str], pre: list, floor: float
) -> list[str]:
    """The comparison units a synthetic control or synthetic DiD may weight: the pool without
    units whose mean pre-period denominator is below ``floor`` (the plan's
    ``comparison_pool.min_donor_denominator``; a tiny denominator gives a rate too noisy to
    stand for anyone, yet an exact pre-period fit can lean on it)."""
    if not floor:
        return list(pool)
    rows = units[units[time].isin(pre) & units["unit_id"].isin(pool)]
    mean_den = rows.groupby("unit_id")[outcome.denominator].mean()
    return [u for u in pool if not (u in mean_den.index and mean_den[u] < floor)]
