"""What the per-area, programme and monthly power computations share.

The settings of one power analysis (:class:`PowerSettings`) and the plan's layout
(:class:`PlanLayout`), each resolved once and passed down; the wide unit x period count matrices
the designs are emulated on; and the shaping of MDEs into the flat table rows, per-pilot rows and
anchored bootstrap projections of :class:`evaluation.designs.power_analysis.PowerAnalysis`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.designs.power_simulate import MDE, POWER_TARGET, find_mde


# ---- settings ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerSettings:
    """The numbers every step of one power analysis uses (the plan's, or the caller's)."""

    seed: int
    alpha: float
    target: float  # power at which the MDE is read
    permutations: int  # placebo programmes
    years: Sequence[int]  # post years projected by the bootstrap
    months: Sequence[int]  # post months emulated on the synthetic monthly panel
    draws: int  # bootstrap draws of the statistic


@dataclass(frozen=True)
class PlanLayout:
    """The plan's periods, comparison pool, regions and pilots as found in the panel."""

    pre: list
    post: list
    pool: list  # comparison pool (:func:`evaluation.designs.area.comparison_pool`)
    regions: dict  # unit -> region
    treated: dict  # partnership -> its pilot LA codes
    pilots: list  # the plan's pilots present in the panel

    @property
    def periods(self) -> list:
        return self.pre + self.post

    @property
    def n_pre(self) -> int:
        return len(self.pre)

    @property
    def n_post(self) -> int:
        return len(self.post)


# ---- data preparation --------------------------------------------------------------------------
def wide_counts(frame: pd.DataFrame, unit: str, time: str, cols: list[str], periods: list) -> dict:
    """``{column: unit x period frame}`` of each of ``cols`` over ``periods`` (float)."""
    out = {}
    for c in cols:
        w = frame.pivot_table(index=unit, columns=time, values=c, aggfunc="first")
        out[c] = w.reindex(columns=periods).astype(float)
    return out


def complete_units(num: pd.DataFrame, den: pd.DataFrame, periods: list, strict: bool) -> pd.Index:
    """Units with both counts in every period and a denominator > 0 (``strict``) or >= 0."""
    ok = num[periods].notna().all(axis=1) & den[periods].notna().all(axis=1)
    ok &= (den[periods] > 0).all(axis=1) if strict else (den[periods] >= 0).all(axis=1)
    return ok[ok].index


# ---- MDEs in both directions -------------------------------------------------------------------
def headline_direction(outcome) -> int:
    """+1 if higher is better (the headline MDE is an increase), -1 if lower, 0 if neither."""
    return {"higher": 1, "lower": -1}.get(outcome.better, 0)


def both_directions(stat, crit, scale=1.0, target=POWER_TARGET) -> dict[str, MDE]:
    """The MDE of an increase and of a decrease."""
    return {
        "increase": find_mde(stat, crit, scale, direction=1, target=target),
        "decrease": find_mde(stat, crit, scale, direction=-1, target=target),
    }


def anchor(boot: dict[str, MDE], boot_ref: dict[str, MDE], obs: dict[str, MDE]) -> dict:
    """Bootstrap MDEs rescaled so that, with the plan's own post periods, they equal the
    observed design's: the bootstrap supplies how the MDE shrinks, the real data its level."""
    out = {}
    for key, m in boot.items():
        f = obs[key].mde / boot_ref[key].mde if boot_ref[key].mde > 0 else math.nan
        f = f if math.isfinite(f) else 1.0
        out[key] = MDE(m.mde * f, m.delta * f, m.power, m.power_at_zero)
    return out


def headline(m: dict[str, MDE], direction: int) -> float:
    """The MDE in the headline direction (the larger of the two when there is none)."""
    if direction > 0:
        return m["increase"].mde
    if direction < 0:
        return m["decrease"].mde
    return max(m["increase"].mde, m["decrease"].mde)


def headline_curve(m: dict[str, MDE], direction: int) -> list[dict]:
    """The power curve in the headline direction (an increase when there is none)."""
    return m["increase" if direction >= 0 else "decrease"].curve()


def pilot_values(sig: np.ndarray, std: dict[str, MDE], direction: int) -> np.ndarray:
    """Each pilot's headline MDE: its pre-period noise times the standardised MDE."""
    inc, dec = sig * std["increase"].mde, sig * std["decrease"].mde
    return {1: inc, -1: dec, 0: np.maximum(inc, dec)}[direction]


def summarise(vals: np.ndarray) -> dict:
    """Count, median, min and max of the non-missing values."""
    vals = np.asarray(vals, float)
    vals = vals[~np.isnan(vals)]
    if not len(vals):
        return {"n": 0, "median": math.nan, "min": math.nan, "max": math.nan}
    return {
        "n": int(len(vals)),
        "median": float(np.median(vals)),
        "min": float(vals.min()),
        "max": float(vals.max()),
    }


# ---- table rows --------------------------------------------------------------------------------
def table_row(outcome, design, timescale, k, basis, m: dict[str, MDE], direction, **extra) -> dict:
    """One row of the flat power table."""
    row = {
        "outcome": outcome.name,
        "design": design,
        "timescale": timescale,
        "post_periods": int(k),
        "basis": basis,
        "unit": outcome.unit,
        "mde": headline(m, direction),
        "mde_increase": m["increase"].mde,
        "mde_decrease": m["decrease"].mde,
        "power_at_zero": m["increase"].power_at_zero,
    }
    row.update(extra)
    return row


def bootstrap_row(outcome, design, k, anchored, unanchored, direction, n_units: int) -> dict:
    """Table row of a bootstrap projection to ``k`` post years (anchored, with the raw MDE)."""
    row = table_row(outcome, design, "years", k, "bootstrap", anchored, direction, n_units=n_units)
    row["mde_unanchored"] = headline(unanchored, direction)
    return row


def add_pilot_summary(row: dict, summary: dict) -> dict:
    """``row`` with the pilots' :func:`summarise` as ``pilots_n``, ``pilots_median``, ..."""
    row.update({f"pilots_{k}": v for k, v in summary.items()})
    return row


def pilot_row(outcome_name, plan, code, timescale, k, basis, **values) -> dict:
    """One row of the per-pilot table (the pilot's area and partnership from the plan)."""
    return {
        "outcome": outcome_name,
        "la_code": code,
        "area": plan.pilot(code).la_name,
        "partnership": plan.pilot(code).partnership,
        "timescale": timescale,
        "post_periods": k,
        "basis": basis,
    } | values
