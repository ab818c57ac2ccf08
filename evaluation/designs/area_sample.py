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
    panel: Panel, plan: Plan, code: str, outcome: Outcome
) -> tuple[list[int], list[int], list[int]]:
    """The plan's pre- and post-periods for one area and outcome, and the periods left out.

    Yearly plans use the plan's periods as they are.  In monthly returns a small area can have
    months with no plan issued (or no request received), where its rate is undefined: those
    months are left out for that area and outcome (listed in the result), rather than dropping
    the area.  Comparison units lacking a month are left out of the pool as usual."""
    pre, post = plan.pre_years, plan.post_years
    if not plan.monthly:
        return pre, post, []
    row = panel.units[panel.units["unit_id"] == code].set_index(panel.time)
    den = row[outcome.denominator].astype("Float64")
    ok = row[outcome.name].notna() & den.notna() & (den > 0)
    have = set(ok[ok].index)
    return (
        [t for t in pre if t in have],
        [t for t in post if t in have],
        [t for t in pre + post if t not in have],
    )


def analysis_rows(panel: Panel, plan: Plan) -> pd.DataFrame:
    """The panel's rows from the first pre-period to the last post-period, without the
    periods the plan leaves out (the data every per-area alternative estimator sees)."""
    first, last = plan.pre[0], plan.post[1]
    keep = [t for t in range(first, last + 1) if t not in plan.excluded_periods]
    return panel.units[panel.units[panel.time].isin(keep)]
