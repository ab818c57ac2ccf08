"""Interrupted time series for one area: the area's own series and the controlled series (area
minus the pooled comparison rate), on the plan's ITS periods."""

from __future__ import annotations

import pandas as pd

from evaluation.models.its import its
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome
from evaluation.panel.plan import Plan


def area_its(
    panel: Panel,
    plan: Plan,
    code: str,
    pool: list[str],
    outcomes: list[Outcome],
    start_year: int,
    seed: int,
) -> list[dict]:
    """Single-series ITS for the area and controlled ITS (area minus pooled comparison rate)
    for each outcome, on the plan's ITS years.  Partially treated years are washout periods."""
    cfg = plan.its
    time = panel.time
    last = plan.post[1]
    washout_years = [t for t in plan.excluded_periods if t >= start_year]
    interruption = min(washout_years) if washout_years else plan.post[0]
    washout = len(washout_years)
    units = panel.units[panel.units[time].between(cfg["first_period"], last)]
    season = {}
    if plan.monthly and cfg.get("harmonics"):
        # school-holiday seasonality: Fourier pairs in the calendar month (period 12)
        season = dict(
            harmonics=int(cfg["harmonics"]),
            season_col="month",
            season_period=float(cfg.get("season_period", 12)),
        )
    out = []
    for outcome in outcomes:
        num, den = outcome.numerator, outcome.denominator
        area = units[units["unit_id"] == code].set_index(time)[outcome.name].astype(float)
        comp_units = units[units["unit_id"].isin(pool)]
        # the same comparison units in every year: those with positive counts in all years
        good_row = comp_units[num].notna() & comp_units[den].notna() & (comp_units[den] > 0)
        ok = good_row.groupby(comp_units["unit_id"]).all()
        members = ok[ok].index
        sums = comp_units[comp_units["unit_id"].isin(members)].groupby(time)[[num, den]].sum()
        comp = sums[num].astype(float) / sums[den].astype(float) * 100
        frame = pd.DataFrame(
            {time: area.index, "area": area.values, "comparison": comp.reindex(area.index).values}
        )
        if plan.monthly:
            frame["month"] = frame[time] % 12 + 1
        frame["gap"] = frame["area"] - frame["comparison"]
        for design, col in [("single", "area"), ("controlled", "gap")]:
            if frame[col].isna().any():
                continue  # a gap in the series: ITS needs complete, equally spaced years
            try:
                res = its(
                    frame,
                    time=time,
                    outcome=col,
                    interruption=interruption,
                    washout=washout,
                    effects=cfg["effects"],
                    method=cfg["method"],
                    alpha=plan.alpha,
                    label=outcome.name,
                    seed=seed,
                    **season,
                )
            except ValueError:
                continue
            out.append(
                {
                    "outcome": outcome.name,
                    "design": design,
                    "result": res,
                    "data": frame,
                    "n_points": int(len(frame)),
                    "n_comparison_units": int(len(members)),
                }
            )
    return out
