"""Power of the programme design (all pilots combined) on the plan's annual data.

Observed design: each placebo programme that :func:`evaluation.designs.programme.programme_did`
draws (same seed, same draws) in turn is the pseudo-programme with the effect added, ranked
against the other placebos.  More post years: the residual bootstrap of
:func:`evaluation.designs.power_simulate.project` on the placebo programmes' gap series,
anchored to the observed design (method: :mod:`evaluation.designs.power_analysis`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evaluation.designs.power_common import (
    PlanLayout,
    PowerSettings,
    anchor,
    bootstrap_row,
    both_directions,
    complete_units,
    headline,
    headline_curve,
    table_row,
)
from evaluation.designs.power_simulate import (
    SIGMA_FLOOR,
    loo_critical,
    programme_gaps,
    programme_tau,
    project,
    sample_sd,
)
from evaluation.designs.programme import group_by_region, placebo_draw_sizes, placebo_programmes


def programme_mde(
    num_w: pd.DataFrame,
    den_w: pd.DataFrame,
    outcome,
    direction: int,
    settings: PowerSettings,
    layout: PlanLayout,
    rng_boot: np.random.Generator,
) -> tuple[list[dict], dict]:
    """Table rows and detail of the programme design: observed and bootstrap over post years.

    ``num_w``/``den_w``: unit x year counts of ``outcome``; ``rng_boot`` draws the bootstrap."""
    periods, n_post = layout.periods, layout.n_post
    by_region = group_by_region(_programme_candidates(num_w, den_w, layout), layout.regions)
    try:
        need = placebo_draw_sizes(layout.treated, layout.regions, by_region)
    except ValueError as exc:
        return [], {"available": False, "reason": str(exc)}
    pool_ok = [u for r in by_region.values() for u in r]
    num = num_w.loc[pool_ok, periods].to_numpy()
    den = den_w.loc[pool_ok, periods].to_numpy()
    # the same placebo programmes programme_did draws with this seed
    idx = placebo_programmes(by_region, need, pool_ok, settings.permutations, settings.seed)
    gap = programme_gaps(num, den, idx)
    tau = programme_tau(gap, layout.n_pre, [n_post])[0]
    m = math.floor(settings.alpha * settings.permutations + 1e-12)
    obs = both_directions(tau, loo_critical(np.abs(tau), m), 1.0, settings.target)
    n_units = len(pool_ok)
    rows = [
        table_row(
            outcome, "programme", "years", n_post, "observed", obs, direction, n_units=n_units
        )
    ]
    boot_rows, projection = _programme_bootstrap(
        gap, tau, m, obs, outcome, direction, settings, layout, n_units, rng_boot
    )
    rows.extend(boot_rows)
    detail = {
        "observed": {
            "post_periods": n_post,
            "n_placebo_programmes": len(tau),
            "n_pool_units": n_units,
            "critical_abs_did": float(-np.sort(-np.abs(tau))[m - 1]) if m >= 1 else math.inf,
            "power_at_zero": obs["increase"].power_at_zero,
            "mde": headline(obs, direction),
            "mde_increase": obs["increase"].mde,
            "mde_decrease": obs["decrease"].mde,
            "curve_increase": obs["increase"].curve(),
            "curve_decrease": obs["decrease"].curve(),
            "what": "each placebo programme (drawn within regions, as programme_did) in turn as "
            "the pseudo-programme with the effect added; rank test against the other placebos",
        },
        "projection_years": projection,
    }
    return rows, detail


def _programme_candidates(num_w: pd.DataFrame, den_w: pd.DataFrame, layout: PlanLayout) -> list:
    """Comparison-pool units a placebo programme may draw: ``programme_did``'s filter, the
    outcome present in every period (so the denominator is > 0), in pool order."""
    periods = layout.periods
    good = complete_units(num_w, den_w, periods, False)
    good = [u for u in layout.pool if u in set(good) and not num_w.loc[u, periods].isna().any()]
    return [u for u in good if (den_w.loc[u, periods] > 0).all()]


def _programme_bootstrap(
    gap: np.ndarray,
    tau: np.ndarray,
    m: int,
    obs: dict,
    outcome,
    direction: int,
    settings: PowerSettings,
    layout: PlanLayout,
    n_units: int,
    rng: np.random.Generator,
) -> tuple[list[dict], dict]:
    """Bootstrap rows for ``settings.years`` post years, anchored to the observed MDEs ``obs``
    (``gap``/``tau``: the placebo programmes' gap series and observed DiDs; ``m``: the rank of
    the critical value)."""
    n_pre, n_post = layout.n_pre, layout.n_post
    sigma = sample_sd(gap[:, :n_pre])
    resid = (gap[:, :n_pre] - gap[:, :n_pre].mean(1, keepdims=True)) / np.maximum(
        sigma, SIGMA_FLOOR
    )[:, None]
    resid = resid[sigma > SIGMA_FLOOR].ravel() * math.sqrt(n_pre / max(n_pre - 1, 1))
    proj = project(
        resid,
        len(tau),
        n_pre,
        n_post,
        float(np.median(np.abs(tau / np.maximum(sigma, SIGMA_FLOOR)))),
        sorted(set(settings.years) | {n_post}),
        settings.alpha,
        normalised=False,
        draws=settings.draws,
        rng=rng,
    )
    boot = {}
    for i, k in enumerate(proj.ks):
        # statistic in natural units: sigma_r * standardised draw
        stat = proj.stat[i] * sigma[None, :]
        boot[k] = both_directions(stat, loo_critical(np.abs(stat), m), 1.0, settings.target)
    rows, proj_rows = [], []
    for k in settings.years:
        d = anchor(boot[k], boot[n_post], obs)
        row = bootstrap_row(outcome, "programme", k, d, boot[k], direction, n_units)
        rows.append(row)
        proj_rows.append(row | {"curve": headline_curve(d, direction)})
    return rows, {"gamma": proj.gamma, "rows": proj_rows}
