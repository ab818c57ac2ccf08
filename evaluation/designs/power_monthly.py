"""Power with k months of post data, emulated on the SYNTHETIC monthly panel.

No real monthly returns exist yet, so the monthly noise model is the synthetic area x month panel
(:mod:`evaluation.demo.synthetic_returns`): the per-area and programme designs are emulated on
it exactly as on the annual data, with pre-period = months before the earliest pilot start and
post = the first k months from it.  The synthetic noise is sampling noise around stable LA rates,
so these MDEs are a lower bound for real monthly returns.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.contracts import MONTHS
from evaluation.designs.power_common import (
    PlanLayout,
    PowerSettings,
    add_pilot_summary,
    both_directions,
    complete_units,
    pilot_row,
    pilot_values,
    summarise,
    table_row,
    wide_counts,
)
from evaluation.designs.power_simulate import (
    emulate_area,
    loo_critical,
    pilot_sigma,
    programme_gaps,
    programme_tau,
)
from evaluation.designs.programme import group_by_region, placebo_draw_sizes, placebo_programmes

BASIS = "synthetic monthly"


# ---- the monthly panel -------------------------------------------------------------------------
def monthly_panel(plan, path: Path | str | None = None) -> tuple[pd.DataFrame, str]:
    """The SYNTHETIC area x month panel (EES layout) used as the monthly noise model, and where
    it came from.  Reads ``data/synthetic/synthetic_panel_monthly.csv`` (``make demo-data``);
    if absent, generates the intended counts with the plan's seed (no effects)."""
    path = Path(path) if path else Path(plan.data_dir) / "synthetic" / "synthetic_panel_monthly.csv"
    if path.exists():
        frame = pd.read_csv(path, dtype={"old_la_code": str, "time_identifier": str})
        return frame, str(path)
    return generated_monthly_panel(plan)


def generated_monthly_panel(plan) -> tuple[pd.DataFrame, str]:
    """The synthetic monthly panel made on the fly by the demo-data generator, and its source.

    Why power needs the demo generator: the monthly projection needs *some* area x month panel
    as its noise model and no real monthly returns exist; when ``make demo-data`` has not
    written one, the generator's intended area x month counts (which the case-level ingest
    reproduces exactly) are made here with the plan's seed and no effects.  This is the only
    place the designs layer uses :mod:`evaluation.demo`.  The counts are kept in the cache,
    keyed by the data files, the seed and the generator's and validator's code (about 5 s to
    make; the overview needs them on every render)."""
    from evaluation.panel.cache import cached, files_digest

    data = sorted(p for p in Path(plan.data_dir).rglob("*") if p.is_file() and "synthetic" not in p.parts)  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    code = [*(root / "demo").glob("*.py"), *(root / "io").glob("*.py")]
    code += [*(root / "contracts").rglob("*.py"), *(root.parent / "data_contracts").rglob("*")]
    intended = cached(
        "monthly-noise-model",
        (files_digest(data), int(plan.seed)),
        lambda: _generate_intended(plan),
        sources=sorted(p for p in code if p.is_file()),
    )
    return (
        intended,
        f"generated: synthetic_returns.generate_cases(seed={plan.seed}) intended counts",
    )


def _generate_intended(plan) -> pd.DataFrame:
    from evaluation.demo.synthetic_returns import generate_cases, la_baselines
    from evaluation.io.geography import load_geography

    geo = load_geography(plan.data_dir)
    return generate_cases(la_baselines(plan.data_dir, geo), seed=int(plan.seed), geo=geo).intended


def _month_index(frame: pd.DataFrame) -> pd.Series:
    """Months since year 0 (year * 12 + month - 1) of each row's time_period/time_identifier."""
    month = frame["time_identifier"].map({m: i for i, m in enumerate(MONTHS)})
    return frame["time_period"].astype(int) * 12 + month


def _local_authority_months(frame: pd.DataFrame) -> pd.DataFrame:
    """LA rows of the panel, with 3-digit ``old_la_code`` and the month index ``_m``."""
    f = frame.copy()
    if "geographic_level" in f.columns:
        f = f[f["geographic_level"] == "Local authority"].copy()
    f["old_la_code"] = f["old_la_code"].astype(str).str.zfill(3)
    f["_m"] = _month_index(f)
    return f


# ---- the emulation -----------------------------------------------------------------------------
def monthly_mdes(
    frame: pd.DataFrame,
    plan,
    outcome,
    direction: int,
    settings: PowerSettings,
    layout: PlanLayout,
    rng: np.random.Generator,
) -> tuple[list, dict, list]:
    """Per-area and programme MDE for k months of post data on the synthetic monthly panel:
    table rows, detail and per-pilot rows (``rng`` seeds the placebo programmes)."""
    o = outcome
    if o.numerator not in frame.columns or o.denominator not in frame.columns:
        return [], {"available": False, "reason": f"{o.name} is not in the monthly panel"}, []
    f = _local_authority_months(frame)
    start = min(p.start_date for p in plan.pilots)
    m0 = start.year * 12 + start.month - 1
    all_m = sorted(f["_m"].unique())
    pre = [m for m in all_m if m < m0]
    post_all = [m for m in all_m if m >= m0]
    if len(pre) < 2 or not post_all:
        return [], {"available": False, "reason": "too few pre or post months"}, []
    ks = [k for k in settings.months if k <= len(post_all)]
    periods = pre + post_all[: max(ks)]
    wide = wide_counts(f, "old_la_code", "_m", [o.numerator, o.denominator], periods)
    num_w, den_w = wide[o.numerator], wide[o.denominator]
    pilot_codes = {p.la_code for p in plan.pilots}
    units = [u for u in num_w.index if u not in pilot_codes and u not in plan.comparison_exclude]
    strict = [u for u in complete_units(num_w, den_w, periods, True) if u in set(units)]
    rows, pilots_out, em = _monthly_per_area(
        num_w, den_w, strict, pre, ks, sorted(pilot_codes), plan, o, direction, settings
    )
    # programme: placebo programmes from complete (counts present) non-pilot units
    lenient = [u for u in complete_units(num_w, den_w, periods, False) if u in set(units)]
    prog = _monthly_programme(
        num_w, den_w, lenient, len(pre), em.ks, o, direction, settings, layout, rng, rows
    )
    detail = {
        "available": True,
        "pre_months": len(pre),
        "first_post_month": f"{MONTHS[m0 % 12]} {m0 // 12}",
        "post_months_available": len(post_all),
        "n_comparison_units_per_area": len(strict),
        "programme": prog,
    }
    return rows, detail, pilots_out


def _monthly_per_area(
    num_w, den_w, strict, pre, ks, pilot_codes, plan, o, direction, settings: PowerSettings
):
    """Per-area rows and per-pilot rows for every post length in ``ks``, and the emulation."""
    n_pre = len(pre)
    em = emulate_area(
        num_w.loc[strict].to_numpy(), den_w.loc[strict].to_numpy(), n_pre, ks, settings.alpha
    )
    p_codes = [
        c
        for c in pilot_codes
        if c in num_w.index and (den_w.loc[c, pre] > 0).all() and num_w.loc[c, pre].notna().all()
    ]
    sig_p = pilot_sigma(
        num_w.loc[p_codes, pre].to_numpy(), den_w.loc[p_codes, pre].to_numpy(), em.comp, n_pre
    )
    rows, pilots_out = [], []
    for i, k in enumerate(em.ks):
        d = both_directions(em.z_single[i], em.crit[i], em.sigma, settings.target)
        sd = both_directions(em.z_single[i], em.crit_single[i], 1.0, settings.target)
        pv = pilot_values(sig_p, sd, direction)
        row = table_row(o, "per_area", "months", k, BASIS, d, direction, n_units=len(strict))
        rows.append(add_pilot_summary(row, summarise(pv)))
        for code, v in zip(p_codes, pv, strict=True):
            pilots_out.append(pilot_row(o.name, plan, code, "months", k, BASIS, mde=float(v)))
    return rows, pilots_out, em


def _monthly_programme(
    num_w, den_w, lenient, n_pre, ks, o, direction, settings, layout, rng, rows
) -> dict:
    """Append the programme rows for every post length in ``ks`` to ``rows``; the detail."""
    by_region = group_by_region(lenient, layout.regions)
    try:
        need = placebo_draw_sizes(layout.treated, layout.regions, by_region)
        pool_ok = [u for r in by_region.values() for u in r]
        seed = int(rng.integers(2**31))
        idx = placebo_programmes(by_region, need, pool_ok, settings.permutations, seed)
        gap = programme_gaps(num_w.loc[pool_ok].to_numpy(), den_w.loc[pool_ok].to_numpy(), idx)
        taus = programme_tau(gap, n_pre, ks)
        m = math.floor(settings.alpha * settings.permutations + 1e-12)
        for i, k in enumerate(ks):
            d = both_directions(taus[i], loo_critical(np.abs(taus[i]), m), 1.0, settings.target)
            rows.append(
                table_row(o, "programme", "months", k, BASIS, d, direction, n_units=len(pool_ok))
            )
    except ValueError as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": True}
