"""Power and minimum detectable effect (MDE) of an evaluation plan, by simulation from real data.

**Estimand.**  For each primary outcome and each design, the MDE is the smallest constant
additive effect delta (outcome units, e.g. percentage points) that the design's own test
(two-sided, the plan's alpha) rejects with probability 0.8.  Two designs:

* **per area** (:func:`evaluation.models.did_one_treated.did_one_treated`): one treated LA, DiD
  against the pooled comparison rate, placebo-in-space rank test on z = DiD / pre-period RMSE;
* **programme** (:func:`evaluation.designs.programme.programme_did`): all pilots combined, rank
  test of |DiD| among placebo programmes drawn within regions.

**Method (no distributional assumption).**  Both tests reject an effect delta added to the
treated unit's post-period outcomes exactly when ``|statistic + delta / scale| > critical``
(the placebos do not move with delta because treated units never enter a comparison pool), so
power needs no re-estimation: for every pseudo-treated unit (statistic s_j, critical c_j, scale
sigma_j) the set of delta it rejects is known in closed form, and
``power(delta) = share of pseudo-treated units rejecting delta``.

* *Per area, observed design*: every comparison LA j in turn is a pseudo-pilot with the effect
  injected; its pool is the comparison pool without j and its placebos are the other units, each
  against the pool without itself and j (leave-two-out sums), i.e. the estimator and its test
  exactly as they would run.  Size at delta = 0 is floor(alpha J) / J <= alpha.
* *Per pilot*: the rejection threshold of pilot i is a_(m) * sigma_i with sigma_i its own
  pre-period RMSE (known before any post data) and a_(m) its placebo critical value; its
  post-period noise is taken to be sigma_i times a draw from the placebo z distribution (the
  exchangeability the placebo test itself assumes).  So MDE_i = sigma_i * d*, with d* the
  standardised MDE solving mean_j 1{|z_j + d| > a_(m)} = 0.8.
* *Programme, observed design*: each placebo programme in turn is the pseudo-programme; the
  other placebos give its critical value (leave-one-out); size = floor(alpha R) / R.

**More post periods.**

* *Years* (annual public data): a residual bootstrap of the pre-period noise of the gap.  Each
  unit's pre-period gap residuals are standardised by its pre-period RMSE and rescaled by
  sqrt(T_pre / (T_pre - 1)) to unit variance; the pooled standardised residuals are resampled
  (iid, with replacement) to make a new pre-period and k post periods for every unit, plus one
  persistent post-period shift gamma * eta (eta from the same pool).  gamma is calibrated so
  the median |statistic| with the plan's post periods matches the observed placebo
  distribution: the one observed post year deviates from the pre-period more than iid year
  noise predicts (drift, the 2023 series break), and that excess is assumed to persist rather
  than average away, the conservative choice.  gamma = 0 reduces to iid year noise (used when
  the observed median is within the 90th percentile of the iid bootstrap's own medians).  The
  projected MDEs are then *anchored*: multiplied by observed MDE / bootstrap MDE at the plan's
  post periods, so the projection equals the observed design where data exist and the bootstrap
  supplies only how fast the MDE shrinks (``mde_unanchored`` keeps the raw value).
* *Months* (if monthly returns arrive): the estimators are emulated exactly, as for the
  observed design, on the SYNTHETIC monthly panel written by ``make demo-data``
  (``data/synthetic/synthetic_panel_monthly.csv``), pre-period = months before the earliest
  pilot start, post = the first k months from it.  If that file is absent the generator's
  intended area x month counts (which the case-level ingest reproduces exactly) are made with
  the plan's seed.  The synthetic noise is sampling noise around stable LA rates, so monthly
  MDEs are a lower bound for real returns.

Deterministic given the seed: placebo programmes and bootstrap draws come from
``numpy.random.default_rng`` streams derived from ``seed``.

The pieces: :mod:`evaluation.designs.power_simulate` (closed-form power, emulation, bootstrap),
:mod:`evaluation.designs.power_programme` (programme design),
:mod:`evaluation.designs.power_monthly` (months) and :mod:`evaluation.designs.power_common`
(settings and table rows); this module runs them for a plan (:func:`power_analysis`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.designs.power_common import (
    PlanLayout,
    PowerSettings,
    add_pilot_summary,
    anchor,
    bootstrap_row,
    both_directions,
    complete_units,
    headline,
    headline_curve,
    headline_direction,
    pilot_row,
    pilot_values,
    summarise,
    table_row,
    wide_counts,
)
from evaluation.designs.power_monthly import monthly_mdes, monthly_panel
from evaluation.designs.power_programme import programme_mde
from evaluation.designs.power_simulate import (
    POWER_TARGET,
    AreaEmulation,
    emulate_area,
    pilot_sigma,
    project,
)
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.models.results import json_safe
from evaluation.panel.outcomes import CATALOGUE

DEFAULT_YEARS = (1, 2, 3, 4, 5)
DEFAULT_MONTHS = (1, 2, 3, 6, 9, 12, 18, 24)


@dataclass
class PowerAnalysis:
    """The MDEs of a plan's designs: flat table, per-outcome detail and per-pilot MDEs."""

    plan_name: str
    seed: int
    alpha: float
    target: float
    rows: pd.DataFrame  # the flat table (one row per outcome x design x timescale x periods)
    outcomes: dict  # outcome -> nested JSON-able detail
    pilots: pd.DataFrame  # per-pilot MDEs
    notes: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The JSON-able result (non-finite numbers as None)."""
        return json_safe(
            {
                "plan": self.plan_name,
                "seed": self.seed,
                "alpha": self.alpha,
                "power_target": self.target,
                "test": "two-sided",
                "mde_definition": "smallest constant additive effect (outcome units) that the "
                "design's own test rejects with probability power_target",
                "notes": self.notes,
                "outcomes": self.outcomes,
                "table": self.rows.to_dict(orient="records"),
                "pilots": self.pilots.to_dict(orient="records"),
            }
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def write(self, out: Path | str) -> dict:
        """Write the JSON to ``out``, the table beside it as .csv and the pilots as _pilots.csv."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.to_json() + "\n", encoding="utf-8")
        csv = out.with_suffix(".csv")
        self.rows.to_csv(csv, index=False)
        pilots = out.with_name(out.stem + "_pilots.csv")
        self.pilots.to_csv(pilots, index=False)
        return {"json": out, "csv": csv, "pilots_csv": pilots}


def power_analysis(
    panel,
    plan,
    *,
    seed: int | None = None,
    outcomes: list[str] | None = None,
    permutations: int | None = None,
    years=DEFAULT_YEARS,
    months=DEFAULT_MONTHS,
    monthly: pd.DataFrame | str | Path | bool | None = None,
    draws: int = 20000,
    target: float = POWER_TARGET,
) -> PowerAnalysis:
    """MDE at ``target`` power for each outcome (default: the plan's primary outcomes), for the
    per-area and programme designs: observed design (the plan's periods, real data), projected
    for ``years`` post years (bootstrap) and ``months`` post months (synthetic monthly panel;
    ``monthly=False`` skips it, a DataFrame or path supplies the panel)."""
    t0 = time.perf_counter()
    if permutations is None:
        permutations = int(plan.inference.get("programme_permutations", 999))
    settings = PowerSettings(
        seed=int(plan.seed if seed is None else seed),
        alpha=float(plan.alpha),
        target=target,
        permutations=permutations,
        years=years,
        months=months,
        draws=draws,
    )
    names = outcomes or [o.name for o in plan.outcomes if o.role == "primary"]
    mids = {o.name: o.minimum_important_difference for o in plan.outcomes}
    layout = _plan_layout(panel, plan)
    ss = np.random.SeedSequence(settings.seed)
    streams = dict(zip(["boot_area", "boot_prog", "month_prog"], ss.spawn(3), strict=True))
    monthly_data = _load_monthly(plan, monthly, months)

    rows, details, pilot_rows = [], {}, []
    for name in names:
        o_rows, o_pilots, details[name] = _outcome_power(
            panel, plan, CATALOGUE[name], mids.get(name), settings, layout, streams, monthly_data
        )
        rows.extend(o_rows)
        pilot_rows.extend(o_pilots)

    return PowerAnalysis(
        plan_name=plan.name,
        seed=settings.seed,
        alpha=settings.alpha,
        target=target,
        rows=pd.DataFrame(rows),
        outcomes=details,
        pilots=pd.DataFrame(pilot_rows),
        notes=_notes(monthly_data[1]),
        seconds=time.perf_counter() - t0,
    )


# ---- steps of power_analysis -------------------------------------------------------------------
def _outcome_power(panel, plan, o, mid, settings, layout, streams, monthly_data):
    """Table rows, per-pilot rows and detail of one outcome: per area, programme and months
    (``streams``: the seed sequences of the bootstraps and monthly placebo draws;
    ``monthly_data``: the monthly panel, or None, and its source).  The per-area and programme
    designs use the outcome's chosen pre-period (designs/pre_period.py)."""
    layout = replace(layout, pre=list(chosen_pre_period(panel, plan, o.name).years))
    direction = headline_direction(o)
    wide = wide_counts(panel.units, "unit_id", "year", [o.numerator, o.denominator], layout.periods)
    num_w, den_w = wide[o.numerator], wide[o.denominator]
    pool_ok = [
        u for u in complete_units(num_w, den_w, layout.periods, True) if u in set(layout.pool)
    ]
    if len(pool_ok) < 3 or layout.n_pre < 2:
        reason = (
            f"{len(pool_ok)} comparison units with complete data in {layout.periods} "
            f"and {layout.n_pre} pre-period(s): need at least 3 and 2"
        )
        return [], [], {"available": False, "reason": reason}
    detail = _outcome_header(o, direction, mid, layout)
    rows, pilot_rows, detail["per_area"] = _per_area(
        num_w, den_w, pool_ok, o, direction, plan, settings, layout, streams["boot_area"]
    )
    rng_prog = np.random.default_rng(streams["boot_prog"])
    prog_rows, detail["programme"] = programme_mde(
        num_w, den_w, o, direction, settings, layout, rng_prog
    )
    rows.extend(prog_rows)
    monthly_frame, monthly_source = monthly_data
    if monthly_frame is not None:
        rng_month = np.random.default_rng(streams["month_prog"])
        mrows, mdetail, mpilots = monthly_mdes(
            monthly_frame, plan, o, direction, settings, layout, rng_month
        )
        rows.extend(mrows)
        pilot_rows.extend(mpilots)
        detail["months"] = mdetail | {"source": monthly_source}
    else:
        detail["months"] = {"available": False, "source": monthly_source or "not requested"}
    return rows, pilot_rows, detail


def _plan_layout(panel, plan) -> PlanLayout:
    """The plan's periods, comparison pool, regions and treated partnerships in ``panel``."""
    from evaluation.designs.area_sample import comparison_pool

    pilots = [p for p in plan.pilots if p.la_code in set(panel.units["unit_id"])]
    treated: dict[str, list[str]] = {}
    for p in pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    return PlanLayout(
        pre=list(plan.pre_years),
        post=list(plan.post_years),
        pool=comparison_pool(panel, plan),
        regions=dict(panel.regions),
        treated=treated,
        pilots=pilots,
    )


def _load_monthly(plan, monthly, months) -> tuple[pd.DataFrame | None, str | None]:
    """The monthly panel to emulate on (None if skipped or unavailable) and its source."""
    monthly_frame, monthly_source = None, None
    if monthly is not False and months:
        try:
            if isinstance(monthly, pd.DataFrame):
                monthly_frame, monthly_source = monthly, "supplied"
            else:
                monthly_frame, monthly_source = monthly_panel(plan, monthly)
        except Exception as exc:  # noqa: BLE001 - the monthly projection is optional
            monthly_source = f"not available: {type(exc).__name__}: {exc}"
    return monthly_frame, monthly_source


def _outcome_header(o, direction: int, mid, layout: PlanLayout) -> dict:
    """The first keys of an outcome's detail: what it is and the plan's periods."""
    return {
        "label": o.label,
        "unit": o.unit,
        "better": o.better,
        "headline_direction": {1: "increase", -1: "decrease", 0: "larger of the two"}[direction],
        "minimum_important_difference": mid,
        "pre_periods": layout.pre,
        "post_periods": layout.post,
    }


@dataclass(frozen=True)
class _AreaObserved:
    """The per-area observed design of one outcome, and what its projection builds on."""

    emulation: AreaEmulation
    design_mde: dict  # MDEs of a typical comparison LA as pseudo-pilot (natural units)
    std_mde: dict  # standardised MDEs (placebo z distribution against a_(m))
    pilot_codes: list  # pilots with complete pre-period data
    pilot_sigma: np.ndarray  # each of those pilots' pre-period RMSE
    n_units: int  # comparison units


def _per_area(num_w, den_w, pool_ok, o, direction, plan, settings, layout, boot_stream):
    """Per-area design: table rows, per-pilot rows and detail (observed, then the bootstrap
    projection over ``settings.years`` post years seeded by ``boot_stream``)."""
    obs = _area_observed(num_w, den_w, pool_ok, settings, layout)
    row = table_row(
        o,
        "per_area",
        "years",
        layout.n_post,
        "observed",
        obs.design_mde,
        direction,
        n_units=obs.n_units,
    )
    pilot_rows, pilot_mde = _observed_pilot_rows(num_w, den_w, obs, o, direction, plan, layout)
    pilots_summary = summarise(np.array(list(pilot_mde.values()), float))
    rows = [add_pilot_summary(row, pilots_summary)]
    detail = {
        "observed": _area_observed_detail(obs, direction, layout.n_post),
        "pilots": {"summary": pilots_summary, "mde": pilot_mde},
    }
    proj_rows, proj_pilot_rows, detail["projection_years"] = _area_projection(
        obs, o, direction, plan, settings, layout, np.random.default_rng(boot_stream)
    )
    return rows + proj_rows, pilot_rows + proj_pilot_rows, detail


def _area_observed(num_w, den_w, pool_ok, settings: PowerSettings, layout: PlanLayout):
    """Exact emulation with the plan's post periods, and the pilots' own pre-period noise."""
    num, den = num_w.loc[pool_ok].to_numpy(), den_w.loc[pool_ok].to_numpy()
    em = emulate_area(num, den, layout.n_pre, [layout.n_post], settings.alpha)
    design_mde = both_directions(em.z_single[0], em.crit[0], em.sigma, settings.target)
    std_mde = both_directions(em.z_single[0], em.crit_single[0], 1.0, settings.target)
    pre = layout.pre
    p_codes = [
        p.la_code
        for p in layout.pilots
        if p.la_code in num_w.index
        and num_w.loc[p.la_code, pre].notna().all()
        and (den_w.loc[p.la_code, pre] > 0).all()
    ]
    sig_p = pilot_sigma(
        num_w.loc[p_codes, pre].to_numpy(),
        den_w.loc[p_codes, pre].to_numpy(),
        em.comp,
        layout.n_pre,
    )
    return _AreaObserved(em, design_mde, std_mde, p_codes, sig_p, len(pool_ok))


def _observed_pilot_rows(num_w, den_w, obs: _AreaObserved, o, direction, plan, layout):
    """Per-pilot rows of the observed design (own pre-period noise x standardised MDE) and
    ``{la_code: headline MDE}``."""
    p_codes, pre = obs.pilot_codes, layout.pre
    pre_rate = (
        num_w.loc[p_codes, pre].sum(axis=1) / den_w.loc[p_codes, pre].sum(axis=1) * 100
    ).to_numpy()
    rows, pilot_mde = [], {}
    for code, s, r in zip(p_codes, obs.pilot_sigma, pre_rate, strict=True):
        inc, dec = s * obs.std_mde["increase"].mde, s * obs.std_mde["decrease"].mde
        head = {1: inc, -1: dec, 0: max(inc, dec)}[direction]
        room = (100 - r) if direction >= 0 else r
        pilot_mde[code] = head
        rows.append(
            pilot_row(
                o.name,
                plan,
                code,
                "years",
                layout.n_post,
                "observed",
                pre_rmse=float(s),
                pre_period_rate=float(r),
                mde=float(head),
                mde_increase=float(inc),
                mde_decrease=float(dec),
                detectable_within_range=bool(head <= room),
            )
        )
    return rows, pilot_mde


def _area_observed_detail(obs: _AreaObserved, direction: int, n_post: int) -> dict:
    """The ``per_area.observed`` detail of an outcome."""
    d, sd = obs.design_mde, obs.std_mde
    return {
        "post_periods": n_post,
        "n_comparison_units": obs.n_units,
        "critical_z": float(obs.emulation.crit_single[0]),
        "power_at_zero": d["increase"].power_at_zero,
        "mde": headline(d, direction),
        "mde_increase": d["increase"].mde,
        "mde_decrease": d["decrease"].mde,
        "standardised_mde_increase": sd["increase"].mde,
        "standardised_mde_decrease": sd["decrease"].mde,
        "curve_increase": d["increase"].curve(),
        "curve_decrease": d["decrease"].curve(),
        "what": "every comparison LA in turn as a pseudo-pilot with the effect added to "
        "its post-period outcomes; estimator and placebo test emulated exactly",
    }


def _area_projection(obs: _AreaObserved, o, direction, plan, settings, layout, rng):
    """Bootstrap projection of the per-area design to ``settings.years`` post years, anchored to
    the observed design: table rows, per-pilot rows and the ``projection_years`` detail."""
    em, n_post = obs.emulation, layout.n_post
    proj = project(
        em.resid,
        obs.n_units,
        layout.n_pre,
        n_post,
        float(np.median(np.abs(em.z_single[0]))),
        sorted(set(settings.years) | {n_post}),
        settings.alpha,
        normalised=True,
        draws=settings.draws,
        rng=rng,
    )
    boot = {
        k: (
            both_directions(proj.stat[i], proj.crit[i], em.sigma[None, :], settings.target),
            both_directions(proj.stat[i], proj.crit[i], 1.0, settings.target),
        )
        for i, k in enumerate(proj.ks)
    }
    ref_d, ref_sd = boot[n_post]
    rows, pilot_rows, proj_rows = [], [], []
    for k in settings.years:
        d = anchor(boot[k][0], ref_d, obs.design_mde)
        sd = anchor(boot[k][1], ref_sd, obs.std_mde)
        pv = pilot_values(obs.pilot_sigma, sd, direction)
        row = bootstrap_row(o, "per_area", k, d, boot[k][0], direction, obs.n_units)
        rows.append(add_pilot_summary(row, summarise(pv)))
        for code, v in zip(obs.pilot_codes, pv, strict=True):
            pilot_rows.append(pilot_row(o.name, plan, code, "years", k, "bootstrap", mde=float(v)))
        proj_rows.append(row | {"curve": headline_curve(d, direction)})
    return rows, pilot_rows, {"gamma": proj.gamma, "rows": proj_rows}


def _notes(monthly_source) -> dict:
    """What each part of the analysis means (the JSON's ``notes``)."""
    return {
        "per_area": "MDE for a typical comparison LA as pseudo-pilot (share of pseudo-pilots "
        "rejecting = power); pilots_* give the median and range over the plan's pilots, each "
        "the pilot's pre-period RMSE times the standardised MDE from the placebo z distribution",
        "programme": "each placebo programme (same size and regions as the pilots) in turn as "
        "the pseudo-programme; the other placebo programmes give its critical value",
        "years": "basis 'observed' uses the plan's real post periods; 'bootstrap' resamples "
        "standardised pre-period residuals of the gap, with a persistent post-period shift "
        "(gamma) calibrated to the observed placebo distribution",
        "months": "exact emulation on the SYNTHETIC monthly panel (sampling noise only, so a "
        "lower bound for real monthly returns); pre-period = months before the earliest pilot "
        "start",
        "monthly_source": monthly_source,
    }
