"""Programme-level estimates: several pilot areas combined into one treated unit.

The combined unit's rate is the pooled rate of its member units (summed counts), so the
estimator is :func:`did_one_treated` on a panel with one extra row per year.  Inference for the
whole programme permutes the assignment at the level it was made: for each region, a placebo
"partnership" of the same size is drawn from that region's non-pilot units (seeded), the draws
are combined into a placebo programme, and its DiD is computed.  The two-sided p-value is the
rank of |DiD| among the placebo |DiD|s; the interval inverts that test under a constant
additive effect (pilots never enter a placebo draw, so only the observed statistic moves).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .placebo import did_one_treated
from .results import EstimationResult


def combine_units(
    units: pd.DataFrame,
    members: list[str],
    unit_id: str,
    *,
    numerator: str,
    denominator: str,
    outcome: str,
) -> pd.DataFrame:
    """One row per year for the combined unit (summed counts, recomputed rate)."""
    sub = units[units["unit_id"].isin(members)]
    counts = sub.groupby("year")[[numerator, denominator]].sum(min_count=len(members))
    complete = sub.groupby("year")[denominator].count() == len(members)
    counts = counts.where(complete, axis=0)
    rate = counts[numerator].astype(float) / counts[denominator].astype(float) * 100
    return pd.DataFrame(
        {
            "unit_id": unit_id,
            "year": counts.index,
            numerator: counts[numerator],
            denominator: counts[denominator],
            outcome: rate,
        }
    ).reset_index(drop=True)


def _with_combined(units, members, pool, unit_id, numerator, denominator, outcome):
    """The pool's rows plus one combined row per year for ``members``."""
    combined = combine_units(
        units, members, unit_id, numerator=numerator, denominator=denominator, outcome=outcome
    )
    cols = ["unit_id", "year", numerator, denominator, outcome]
    return pd.concat(
        [units.loc[units["unit_id"].isin(pool), cols], combined[cols]], ignore_index=True
    )


def _did_combined(units, members, pool, *, outcome, numerator, denominator, pre, post):
    data = _with_combined(units, members, pool, "__combined__", numerator, denominator, outcome)
    y = data.pivot(index="unit_id", columns="year", values=outcome).astype(float)
    num = data.pivot(index="unit_id", columns="year", values=numerator).astype(float)
    den = data.pivot(index="unit_id", columns="year", values=denominator).astype(float)
    years = list(pre) + list(post)
    ok = y[years].notna().all(axis=1) & (den[years] > 0).all(axis=1)
    comp_units = [u for u in pool if u in ok.index and ok[u]]
    comp = num.loc[comp_units, years].sum() / den.loc[comp_units, years].sum() * 100
    gap = y.loc["__combined__", years] - comp
    return float(gap[post].mean() - gap[pre].mean()), len(comp_units)


def programme_did(
    units: pd.DataFrame,
    *,
    treated: dict[str, list[str]],
    pool: list[str],
    region_of: dict[str, str],
    outcome: str,
    numerator: str,
    denominator: str,
    pre: list,
    post: list,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
) -> EstimationResult:
    """Pooled DiD for all pilots combined, with randomisation inference over placebo
    partnerships drawn within regions.  ``treated`` maps each partnership (assignment cluster)
    to its member units; ``region_of`` maps units to regions (each partnership is in one)."""
    members = [u for ms in treated.values() for u in ms]
    tau, n_comp = _did_combined(
        units,
        members,
        pool,
        outcome=outcome,
        numerator=numerator,
        denominator=denominator,
        pre=pre,
        post=post,
    )
    years = list(pre) + list(post)
    usable = units[units["unit_id"].isin(pool) & units["year"].isin(years)]
    good = usable.groupby("unit_id").apply(
        lambda g: bool(g[outcome].notna().all() and len(g) == len(years))
    )
    by_region: dict[str, list[str]] = {}
    for u in pool:
        if good.get(u, False) and u in region_of:
            by_region.setdefault(region_of[u], []).append(u)
    draws_spec = []
    for part, ms in treated.items():
        regions = {region_of.get(m) for m in ms}
        if len(regions) != 1 or None in regions:
            raise ValueError(f"partnership {part} must lie in one known region")
        region = regions.pop()
        if len(by_region.get(region, [])) < len(ms):
            raise ValueError(f"region {region} has too few comparison units for {part}")
        draws_spec.append((region, len(ms)))
    rng = np.random.default_rng(seed)
    # matrices of counts over the usable pool (units x years) for fast placebo programmes
    pool_ok = [u for r in by_region.values() for u in r]
    wide_num = usable.pivot(index="unit_id", columns="year", values=numerator).astype(float)
    wide_den = usable.pivot(index="unit_id", columns="year", values=denominator).astype(float)
    num = wide_num.loc[pool_ok, years].to_numpy()
    den = wide_den.loc[pool_ok, years].to_numpy()
    pos = {u: i for i, u in enumerate(pool_ok)}
    s_num, s_den = num.sum(axis=0), den.sum(axis=0)
    n_pre = len(pre)
    placebo = []
    for _ in range(permutations):
        idx = np.concatenate(
            [
                [pos[u] for u in rng.choice(by_region[region], size=k, replace=False)]
                for region, k in draws_spec
            ]
        )
        f_num, f_den = num[idx].sum(axis=0), den[idx].sum(axis=0)
        gap = f_num / f_den * 100 - (s_num - f_num) / (s_den - f_den) * 100
        placebo.append(float(gap[n_pre:].mean() - gap[:n_pre].mean()))
    placebo = np.array(placebo)
    abs_p = np.abs(placebo)
    p = (1 + int((abs_p >= abs(tau) * (1 - 1e-12)).sum())) / (1 + len(placebo))
    m = math.floor(alpha * (1 + len(placebo)) + 1e-12)
    if m >= 1:
        crit = float(np.sort(abs_p)[::-1][m - 1])
        lo, hi = tau - crit, tau + crit
    else:
        lo, hi = -math.inf, math.inf
    return EstimationResult(
        method="Difference-in-differences, all pilots combined; randomisation inference over "
        "placebo partnerships drawn within regions",
        outcome=outcome,
        estimate=tau,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference=f"randomisation inference, {len(placebo)} placebo programmes (seed {seed})",
        alpha=alpha,
        n_treated=len(members),
        n_comparison_units=n_comp,
        pre_periods=list(pre),
        post_periods=list(post),
        conventions={
            "estimand": "change in the pilots' combined (pooled) rate minus the change in the "
            "comparison pool's pooled rate",
            "assignment": "placebo programmes redraw each partnership as the same number of "
            "non-pilot units from its region (the level at which pilots were "
            "chosen)",
            "p_value": "two-sided rank of |DiD| among placebo |DiD|s: (1 + #) / (1 + R)",
            "interval": "test inversion under a constant additive effect",
            "standard_error": "not reported; inference is by randomisation",
            "seed": str(seed),
        },
        distribution=pd.DataFrame({"estimate": placebo}),
    )


def partnership_did(
    units, members, pool, *, outcome, numerator, denominator, pre, post, alpha=0.05, label=""
) -> EstimationResult:
    """One partnership combined into one unit, against the pool, with placebo-in-space
    inference over single comparison units (normalised by pre-period fit)."""
    data = _with_combined(units, members, pool, "__partnership__", numerator, denominator, outcome)
    return did_one_treated(
        data,
        unit="unit_id",
        time="year",
        outcome=outcome,
        treated="__partnership__",
        pre=pre,
        post=post,
        pool=pool,
        numerator=numerator,
        denominator=denominator,
        alpha=alpha,
        outcome_label=label or outcome,
        bounds=(0.0, 100.0),
    )
