"""Similar-area comparators (METHODOLOGY.md section 2g).

Instead of every other LA, each pilot is compared with the ``k`` LAs most like it before the
programme, on three features of the outcome over its pre-period: the level (mean rate), the
trend (OLS slope of the rate on the year) and the size (log of the mean denominator).  Each
feature is standardised over the eligible comparison LAs and the distance is Euclidean with
equal weights; with ``region: true`` only LAs of the pilot's region are candidates.  LAs whose
mean pre-period denominator is below ``comparison_pool.min_donor_denominator`` are not
eligible (their rates are too noisy to stand for anyone).

The placebo inference follows the **same pool rule**: every eligible comparison LA in turn
plays the pilot and is compared with its own ``k`` nearest eligible LAs (itself and the pilots
excluded), and the pilot's DiD / pre-period RMSE is ranked among theirs, as for the headline
(:func:`evaluation.models.did_one_treated.did_one_treated`).  The interval inverts that rank
test; it is then kept to the effects a rate can have.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evaluation.models.intervals import placebo_ci, within_bounds
from evaluation.models.results import EstimationResult
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import Outcome
from evaluation.panel.plan import Plan

_PLACEBOS: dict = {}  # the placebo statistics do not involve the pilot: shared, this process

METHOD = "Difference-in-differences against the most similar areas, placebo-in-space inference"


def _wide(units: pd.DataFrame, time: str, col: str, periods: list) -> pd.DataFrame:
    w = units.pivot(index="unit_id", columns=time, values=col)
    return w.reindex(columns=periods).astype(float)


def eligible_units(
    units: pd.DataFrame, time: str, outcome: Outcome, pool: list, periods: list, floor: float
) -> list[str]:
    """Pool units with the rate in every period and a mean pre-period denominator >= floor."""
    y = _wide(units, time, outcome.name, periods)
    den = _wide(units, time, outcome.denominator, periods)
    ok = y.notna().all(axis=1) & (den > 0).all(axis=1) & (den.mean(axis=1) >= floor)
    return [u for u in pool if u in ok.index and ok[u]]


def match_features(units: pd.DataFrame, time: str, outcome: Outcome, pre: list) -> pd.DataFrame:
    """Level, trend and log size of each unit's rate over ``pre`` (one row per unit)."""
    y = _wide(units, time, outcome.name, pre)
    den = _wide(units, time, outcome.denominator, pre)
    t = np.asarray(pre, dtype=float)
    tc = t - t.mean()
    slope = (y.to_numpy() - y.to_numpy().mean(axis=1, keepdims=True)) @ tc / max((tc**2).sum(), 1)
    return pd.DataFrame(
        {
            "level": y.mean(axis=1),
            "trend": slope if len(pre) > 1 else 0.0,
            "log_size": np.log(den.mean(axis=1).clip(lower=1e-9)),
        },
        index=y.index,
    )


def standardised(features: pd.DataFrame, eligible: list[str]) -> pd.DataFrame:
    """Features in standard deviations of the eligible comparison LAs (centred on their mean)."""
    f = features.loc[eligible]
    sd = f.std(ddof=0).replace(0, 1.0)
    return (features - f.mean()) / sd


def nearest(z: pd.DataFrame, target: str, candidates: list[str], k: int, regions=None) -> list:
    """The ``k`` candidates nearest ``target`` in the standardised features ``z`` (ties
    broken by unit code, so the choice is reproducible)."""
    cand = [c for c in candidates if c != target]
    if regions is not None:
        cand = [c for c in cand if regions.get(c) == regions.get(target)]
    diff = z.loc[cand].to_numpy() - z.loc[target].to_numpy()
    dist = np.round(np.sqrt((diff**2).sum(axis=1)), 12)
    order = np.lexsort((np.array(cand), dist))
    return [cand[i] for i in order[:k]]


def _statistic(y, num, den, unit: str, comparators: list[str], n_pre: int):
    """(tau, sigma) of ``unit`` against ``comparators`` (pooled comparison rate)."""
    comp = num.loc[comparators].sum() / den.loc[comparators].sum() * 100.0
    gap = (y.loc[unit] - comp).to_numpy()
    pre_gap = gap[:n_pre].mean()
    tau = float(gap[n_pre:].mean() - pre_gap)
    sigma = math.sqrt(((gap[:n_pre] - pre_gap) ** 2).sum() / (n_pre - 1)) if n_pre > 1 else math.nan
    return tau, sigma


def similar_area_did(
    panel: Panel, plan: Plan, code: str, pool: list[str], outcome: Outcome, pre: list
) -> EstimationResult:
    """The area's DiD against its ``k`` most similar comparison LAs (module docstring)."""
    opts = plan.similar_areas or {"k": 20, "region": False}
    k, time, post = int(opts["k"]), panel.time, list(plan.post_years)
    periods = list(pre) + post
    units = panel.units[panel.units[time].isin(periods)]
    floor = plan.min_donor_denominator
    eligible = eligible_units(units, time, outcome, pool, periods, floor)
    if code not in set(units["unit_id"]) or len(eligible) < k + 2:
        raise ValueError(f"fewer than {k + 2} eligible comparison units with every period")
    y = _wide(units, time, outcome.name, periods)
    if y.loc[code].isna().any():
        raise ValueError(f"{code} lacks {outcome.name} in some of the periods {periods}")
    num = _wide(units, time, outcome.numerator, periods)
    den = _wide(units, time, outcome.denominator, periods)
    z_feat = standardised(match_features(units, time, outcome, list(pre)), eligible)
    regions = panel.regions if opts.get("region") else None
    mine = nearest(z_feat, code, eligible, k, regions)
    tau, sigma = _statistic(y, num, den, code, mine, len(pre))
    key = (id(panel), outcome.name, tuple(pre), tuple(eligible), k, regions is not None)
    cached = _PLACEBOS.get(key)
    if cached is None or cached[0] is not panel:  # holding the panel keeps its id unique
        stats = [
            _statistic(y, num, den, j, nearest(z_feat, j, eligible, k, regions), len(pre))
            for j in eligible
        ]
        cached = _PLACEBOS[key] = (panel, np.array(stats, dtype=float).reshape(-1, 2))
    tau_j, sig_j = cached[1][:, 0], cached[1][:, 1]
    z_j = tau_j / np.maximum(sig_j, 1e-9)
    z = tau / max(sigma, 1e-9) if math.isfinite(sigma) else math.nan
    p = (1 + int((np.abs(z_j) >= abs(z) * (1 - 1e-12)).sum())) / (1 + len(z_j))
    lo, hi = placebo_ci(tau, max(sigma, 1e-9), np.abs(z_j), plan.alpha)
    raw = [lo, hi]
    lo, hi = within_bounds(lo, hi, y.loc[code, post].to_numpy(), (0.0, 100.0))
    names = panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
    return EstimationResult(
        method=METHOD,
        outcome=outcome.name,
        estimate=tau,
        ci_low=lo,
        ci_high=hi,
        p_value=p if math.isfinite(z) else math.nan,
        inference=f"placebo-in-space: each of {len(z_j)} comparison LAs against its own "
        f"{k} most similar",
        alpha=plan.alpha,
        n_treated=1,
        n_comparison_units=len(mine),
        pre_periods=list(pre),
        post_periods=post,
        conventions={
            "comparators": f"the {k} LAs nearest the area on pre-period level, trend and log "
            "size of the outcome (standardised, Euclidean, equal weights)"
            + ("; same region only" if regions is not None else "")
            + (f"; mean pre-period denominator >= {floor:g}" if floor else ""),
            "placebo": "the same pool rule for every placebo LA (pilots never used)",
            "bounds": "interval kept to effects that leave the post-period rate in 0-100",
        },
        diagnostics={
            "comparators": {u: str(names.get(u, u)) for u in mine},
            "interval_before_bounds": raw,
            "pre_rmse": sigma,
            "n_placebos": len(z_j),
            "n_eligible": len(eligible),
        },
        unit=outcome.unit,
    )


def area_similar_areas(units: pd.DataFrame, spec) -> EstimationResult:
    """Registry runner (design ``area``): :func:`similar_area_did` on the area's spec."""
    if spec.panel is None:
        raise ValueError("the similar-area comparison needs the panel")
    pre = list(spec.pre) or spec.plan.pre_years
    return similar_area_did(spec.panel, spec.plan, spec.code, spec.pool, spec.outcome, pre)
