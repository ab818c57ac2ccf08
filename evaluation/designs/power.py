"""Power and minimum detectable effect (MDE) of an evaluation plan, by simulation from real data.

**Estimand.**  For each primary outcome and each design, the MDE is the smallest constant
additive effect delta (outcome units, e.g. percentage points) that the design's own test
(two-sided, the plan's alpha) rejects with probability 0.8.  Two designs:

* **per area** (:func:`evaluation.models.placebo.did_one_treated`): one treated LA, DiD against
  the pooled comparison rate, placebo-in-space rank test on z = DiD / pre-period RMSE;
* **programme** (:func:`evaluation.models.programme.programme_did`): all pilots combined, rank
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
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.contracts import MONTHS
from evaluation.designs.programme import placebo_programmes
from evaluation.models.results import json_safe
from evaluation.panel.outcomes import CATALOGUE

POWER_TARGET = 0.8
DEFAULT_YEARS = (1, 2, 3, 4, 5)
DEFAULT_MONTHS = (1, 2, 3, 6, 9, 12, 18, 24)
SIGMA_FLOOR = 1e-9


# ---- closed-form power of a rank test ----------------------------------------------------------
def power_at(delta, stat, crit, scale=1.0) -> np.ndarray:
    """Share of draws rejecting each effect in ``delta``: ``mean(|stat + delta/scale| > crit)``.

    ``stat``, ``crit``, ``scale`` broadcast to one array of draws (pseudo-treated units).  Exact
    for the placebo rank tests (see module docstring); ``crit = inf`` never rejects."""
    stat, crit, scale = np.broadcast_arrays(
        np.asarray(stat, float), np.asarray(crit, float), np.asarray(scale, float)
    )
    ok = np.isfinite(stat) & (scale > 0)
    stat, crit, scale = stat[ok], crit[ok], scale[ok]
    n = max(len(stat), 1)
    # rejected iff delta > scale*(crit - stat) or delta < scale*(-crit - stat)
    up = np.sort(scale * (crit - stat))
    down = np.sort(scale * (-crit - stat))
    d = np.atleast_1d(np.asarray(delta, float))
    hits = np.searchsorted(up, d, side="left") + (len(down) - np.searchsorted(down, d, "right"))
    return hits / n


@dataclass
class MDE:
    """Minimum detectable effect in one direction with its power curve (natural units)."""

    mde: float  # inf when the target power is never reached
    delta: np.ndarray
    power: np.ndarray
    power_at_zero: float

    def curve(self, points: int = 21) -> list[dict]:
        idx = np.unique(np.linspace(0, len(self.delta) - 1, points).round().astype(int))
        return [{"delta": float(self.delta[i]), "power": float(self.power[i])} for i in idx]


def find_mde(
    stat, crit, scale=1.0, *, direction: int = 1, target: float = POWER_TARGET, grid: int = 4001
) -> MDE:
    """Smallest effect in ``direction`` (+1 increase, -1 decrease) with power >= ``target``, by
    linear interpolation of the exact power curve on a fine grid of effects.  The grid runs from
    0 to an effect every draw but 5% rejects (so power there is at least 0.95)."""
    stat, crit, scale = np.broadcast_arrays(
        np.asarray(stat, float), np.asarray(crit, float), np.asarray(scale, float)
    )
    ok = np.isfinite(stat) & (scale > 0)
    s = direction * stat[ok]  # a decrease of size d for stat is an increase for -stat
    c, sc = crit[ok], scale[ok]
    p0 = float(power_at(0.0, s, c, sc)[0])
    thresholds = sc * (c - s)
    finite = np.isfinite(thresholds)
    if not len(s) or finite.mean() < target:
        return MDE(math.inf, np.array([0.0]), np.array([p0]), p0)
    hi = float(np.quantile(thresholds[finite], min(0.95 / finite.mean(), 1.0)))
    hi = max(hi, 1e-9) * 1.05
    delta = np.linspace(0.0, hi, grid)
    power = power_at(delta, s, c, sc)
    above = np.nonzero(power >= target)[0]
    if not len(above):
        return MDE(math.inf, delta * direction, power, p0)
    i = int(above[0])
    if i == 0:
        value = 0.0
    else:
        d0, d1, q0, q1 = delta[i - 1], delta[i], power[i - 1], power[i]
        value = float(d0 + (target - q0) / (q1 - q0) * (d1 - d0)) if q1 > q0 else float(d1)
    return MDE(value, delta * direction, power, p0)


def loo_critical(abs_stat: np.ndarray, m: int) -> np.ndarray:
    """For each draw along the last axis, the m-th largest value among the *other* draws."""
    n = abs_stat.shape[-1]
    if m < 1 or m > n - 1:
        return np.full(abs_stat.shape, math.inf)
    srt = -np.sort(-abs_stat, axis=-1)
    mth, next_ = srt[..., m - 1 : m], srt[..., m : m + 1]
    # draws among the top m are replaced by the (m+1)-th when they are left out
    return np.where(abs_stat >= mth, next_, mth)


# ---- per-area design ---------------------------------------------------------------------------
def _sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = x.shape[axis]
    if n < 2:
        return np.full(np.delete(x.shape, axis if axis >= 0 else x.ndim + axis), np.nan)
    return x.std(axis=axis, ddof=1)


@dataclass
class AreaEmulation:
    """Per-area design on one pool (units x periods), for every post length in ``ks``."""

    units: list
    ks: list[int]
    tau: np.ndarray  # (K, J) pseudo-pilot DiD vs pool without itself
    sigma: np.ndarray  # (J,) pre-period RMSE of the same gap
    crit: np.ndarray  # (K, J) leave-two-out placebo critical value for pseudo-pilot j
    z_single: np.ndarray  # (K, J) placebo z's of the full pool (what a pilot is ranked against)
    crit_single: np.ndarray  # (K,) a_(m) for a pilot against the full pool
    resid: np.ndarray  # standardised pre-period residuals (unit variance), pooled
    comp: np.ndarray  # (T,) pooled comparison series of the full pool


def emulate_area(num: np.ndarray, den: np.ndarray, n_pre: int, ks, alpha: float) -> AreaEmulation:
    """Exact emulation of :func:`did_one_treated` with every pool unit as pseudo-pilot.

    ``num``/``den``: (J, T) counts of the complete pool units; the first ``n_pre`` periods are
    the pre-period, post length k uses periods ``n_pre .. n_pre + k - 1``."""
    j, t = num.shape
    ks = [int(k) for k in ks if 1 <= k <= t - n_pre]
    y = num / den * 100.0
    s_num, s_den = num.sum(0), den.sum(0)
    comp = s_num / s_den * 100.0

    def stats(gap):  # gap (..., T) -> tau (K, ...), sigma (...)
        pre = gap[..., :n_pre]
        pre_mean = pre.mean(-1)
        sigma = _sd(pre)
        csum = np.cumsum(gap[..., n_pre:], axis=-1)
        tau = np.stack([csum[..., k - 1] / k - pre_mean for k in ks])
        return tau, sigma, pre - pre_mean[..., None]

    # pseudo-pilot j against the pool without j
    gap1 = y - (s_num - num) / (s_den - den) * 100.0
    tau, sigma, resid = stats(gap1)
    z_single = tau / np.maximum(sigma, SIGMA_FLOOR)
    # placebo k against the pool without k and without the pseudo-pilot j: (J, J, T)
    loo_num = s_num - num[:, None, :] - num[None, :, :]
    loo_den = s_den - den[:, None, :] - den[None, :, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap2 = y[None, :, :] - loo_num / loo_den * 100.0
    tau2, sigma2, _ = stats(gap2)
    z2 = np.abs(tau2 / np.maximum(sigma2, SIGMA_FLOOR))
    diag = np.arange(j)
    z2[:, diag, diag] = -np.inf  # the pseudo-pilot is not its own placebo
    m2 = math.floor(alpha * j + 1e-12)  # J - 1 placebos: m = floor(alpha * (1 + (J - 1)))
    if m2 >= 1 and n_pre >= 2:
        crit = -np.sort(-z2, axis=-1)[..., m2 - 1]
    else:
        crit = np.full((len(ks), j), math.inf)
    m1 = math.floor(alpha * (1 + j) + 1e-12)
    abs1 = -np.sort(-np.abs(z_single), axis=-1)
    crit_single = abs1[:, m1 - 1] if (m1 >= 1 and n_pre >= 2) else np.full(len(ks), math.inf)
    good = sigma > SIGMA_FLOOR
    std_resid = (resid[good] / sigma[good, None]) * math.sqrt(n_pre / max(n_pre - 1, 1))
    return AreaEmulation(
        units=list(range(j)),
        ks=ks,
        tau=tau,
        sigma=sigma,
        crit=crit,
        z_single=z_single,
        crit_single=np.asarray(crit_single, float),
        resid=std_resid.ravel(),
        comp=comp,
    )


def pilot_sigma(
    num_pilots: np.ndarray, den_pilots: np.ndarray, comp: np.ndarray, n_pre: int
) -> np.ndarray:
    """Each pilot's pre-period RMSE of its gap to the full pool's pooled rate (divisor T-1)."""
    gap = num_pilots[:, :n_pre] / den_pilots[:, :n_pre] * 100.0 - comp[None, :n_pre]
    return _sd(gap)


# ---- programme design --------------------------------------------------------------------------
def programme_gaps(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gap series of every placebo programme (combined rate minus the rest of the pool's pooled
    rate), (R, T); the same algebra as :func:`placebo_programme_did`."""
    s_num, s_den = num.sum(axis=0), den.sum(axis=0)
    f_num, f_den = num[idx].sum(axis=1), den[idx].sum(axis=1)
    return f_num / f_den * 100 - (s_num - f_num) / (s_den - f_den) * 100


def _programme_tau(gap: np.ndarray, n_pre: int, ks) -> np.ndarray:
    csum = np.cumsum(gap[:, n_pre:], axis=1)
    pre_mean = gap[:, :n_pre].mean(axis=1)
    return np.stack([csum[:, k - 1] / k - pre_mean for k in ks])


# ---- bootstrap projection (years) --------------------------------------------------------------
def _calibrate_gamma(base: np.ndarray, eta: np.ndarray, s: np.ndarray, target: float) -> float:
    """gamma >= 0 such that median(|(base + gamma * eta) / s|) = target (bisection); 0 when the
    target lies within the bootstrap's own sampling range (90th percentile over replicates of
    the median at gamma = 0), i.e. when the data show no excess over iid noise."""

    def med(g):
        return float(np.median(np.abs((base + g * eta) / s)))

    null_medians = np.median(np.abs(base / s).reshape(-1, base.shape[-1]), axis=-1)
    if not math.isfinite(target) or target <= np.quantile(null_medians, 0.9):
        return 0.0
    lo, hi = 0.0, 1.0
    while med(hi) < target and hi < 1e4:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if med(mid) < target else (lo, mid)
    return (lo + hi) / 2


@dataclass
class Projection:
    ks: list[int]
    stat: np.ndarray  # (K, B, N) simulated statistics
    crit: np.ndarray  # (K, B, N) leave-one-out critical values
    gamma: float
    normalised: bool


def project(
    resid_pool: np.ndarray,
    n_units: int,
    n_pre: int,
    n_post_observed: int,
    observed_abs_median: float,
    ks,
    alpha: float,
    *,
    normalised: bool,
    draws: int,
    rng: np.random.Generator,
) -> Projection:
    """Residual bootstrap of the statistic for k post periods (module docstring), in units of
    each unit's noise scale.  ``observed_abs_median``: median |statistic / scale| of the real
    placebo distribution with ``n_post_observed`` post periods (calibrates gamma)."""
    ks = [int(k) for k in ks]
    b = max(1, math.ceil(draws / n_units))
    kmax = max(ks + [n_post_observed])
    pick = rng.integers(0, len(resid_pool), size=(b, n_units, n_pre + kmax + 1))
    e = resid_pool[pick]
    pre, post, eta = e[..., :n_pre], e[..., n_pre:-1], e[..., -1]
    pre_mean = pre.mean(-1)
    s = _sd(pre) if normalised else np.ones(pre_mean.shape)
    s = np.maximum(s, SIGMA_FLOOR)
    csum = np.cumsum(post, axis=-1)
    base_obs = csum[..., n_post_observed - 1] / n_post_observed - pre_mean
    gamma = _calibrate_gamma(base_obs, eta, s, observed_abs_median)
    stat = np.stack([(csum[..., k - 1] / k - pre_mean + gamma * eta) / s for k in ks])
    m = math.floor(alpha * n_units + 1e-12)  # N - 1 others: m = floor(alpha * (1 + N - 1))
    crit = loo_critical(np.abs(stat), m)
    return Projection(ks, stat, crit, gamma, normalised)


# ---- data preparation --------------------------------------------------------------------------
def _wide(frame: pd.DataFrame, unit: str, time: str, cols: list[str], periods: list) -> dict:
    out = {}
    for c in cols:
        w = frame.pivot_table(index=unit, columns=time, values=c, aggfunc="first")
        out[c] = w.reindex(columns=periods).astype(float)
    return out


def _complete(num: pd.DataFrame, den: pd.DataFrame, periods: list, strict: bool) -> pd.Index:
    ok = num[periods].notna().all(axis=1) & den[periods].notna().all(axis=1)
    ok &= (den[periods] > 0).all(axis=1) if strict else (den[periods] >= 0).all(axis=1)
    return ok[ok].index


def monthly_panel(plan, path: Path | str | None = None) -> tuple[pd.DataFrame, str]:
    """The SYNTHETIC area x month panel (EES layout) used as the monthly noise model, and where
    it came from.  Reads ``data/synthetic/synthetic_panel_monthly.csv`` (``make demo-data``);
    if absent, generates the intended counts with the plan's seed (no effects)."""
    path = Path(path) if path else Path(plan.data_dir) / "synthetic" / "synthetic_panel_monthly.csv"
    if path.exists():
        frame = pd.read_csv(path, dtype={"old_la_code": str, "time_identifier": str})
        return frame, str(path)
    from evaluation.demo.synthetic_returns import generate_cases, la_baselines
    from evaluation.io.geography import load_geography

    geo = load_geography(plan.data_dir)
    res = generate_cases(la_baselines(plan.data_dir, geo), seed=int(plan.seed), geo=geo)
    return (
        res.intended,
        f"generated: synthetic_returns.generate_cases(seed={plan.seed}) intended counts",
    )


def _month_index(frame: pd.DataFrame) -> pd.Series:
    month = frame["time_identifier"].map({m: i for i, m in enumerate(MONTHS)})
    return frame["time_period"].astype(int) * 12 + month


# ---- the analysis ------------------------------------------------------------------------------
@dataclass
class PowerAnalysis:
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
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def write(self, out: Path | str) -> dict:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.to_json() + "\n", encoding="utf-8")
        csv = out.with_suffix(".csv")
        self.rows.to_csv(csv, index=False)
        pilots = out.with_name(out.stem + "_pilots.csv")
        self.pilots.to_csv(pilots, index=False)
        return {"json": out, "csv": csv, "pilots_csv": pilots}


def _headline_direction(outcome) -> int:
    return {"higher": 1, "lower": -1}.get(outcome.better, 0)


def _both(stat, crit, scale=1.0, target=POWER_TARGET) -> dict[str, MDE]:
    return {
        "increase": find_mde(stat, crit, scale, direction=1, target=target),
        "decrease": find_mde(stat, crit, scale, direction=-1, target=target),
    }


def _anchor(boot: dict[str, MDE], boot_ref: dict[str, MDE], obs: dict[str, MDE]) -> dict:
    """Bootstrap MDEs rescaled so that, with the plan's own post periods, they equal the
    observed design's: the bootstrap supplies how the MDE shrinks, the real data its level."""
    out = {}
    for key, m in boot.items():
        f = obs[key].mde / boot_ref[key].mde if boot_ref[key].mde > 0 else math.nan
        f = f if math.isfinite(f) else 1.0
        out[key] = MDE(m.mde * f, m.delta * f, m.power, m.power_at_zero)
    return out


def _headline(m: dict[str, MDE], direction: int) -> float:
    if direction > 0:
        return m["increase"].mde
    if direction < 0:
        return m["decrease"].mde
    return max(m["increase"].mde, m["decrease"].mde)


def _row(outcome, design, timescale, k, basis, m: dict[str, MDE], direction, **extra) -> dict:
    row = {
        "outcome": outcome.name,
        "design": design,
        "timescale": timescale,
        "post_periods": int(k),
        "basis": basis,
        "unit": outcome.unit,
        "mde": _headline(m, direction),
        "mde_increase": m["increase"].mde,
        "mde_decrease": m["decrease"].mde,
        "power_at_zero": m["increase"].power_at_zero,
    }
    row.update(extra)
    return row


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
    from evaluation.designs.area import comparison_pool

    t0 = time.perf_counter()
    seed = int(plan.seed if seed is None else seed)
    alpha = float(plan.alpha)
    if permutations is None:
        permutations = int(plan.inference.get("programme_permutations", 999))
    names = outcomes or [o.name for o in plan.outcomes if o.role == "primary"]
    mids = {o.name: o.minimum_important_difference for o in plan.outcomes}
    pool = comparison_pool(panel, plan)
    pre, post = list(plan.pre_years), list(plan.post_years)
    periods = pre + post
    n_pre = len(pre)
    pilots = [p for p in plan.pilots if p.la_code in set(panel.units["unit_id"])]
    treated: dict[str, list[str]] = {}
    for p in pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    regions = dict(panel.regions)
    ss = np.random.SeedSequence(seed)
    streams = dict(zip(["boot_area", "boot_prog", "month_prog"], ss.spawn(3), strict=True))

    monthly_frame, monthly_source = None, None
    if monthly is not False and months:
        try:
            if isinstance(monthly, pd.DataFrame):
                monthly_frame, monthly_source = monthly, "supplied"
            else:
                monthly_frame, monthly_source = monthly_panel(plan, monthly)
        except Exception as exc:  # noqa: BLE001 - the monthly projection is optional
            monthly_source = f"not available: {type(exc).__name__}: {exc}"

    rows, details, pilot_rows = [], {}, []
    for name in names:
        o = CATALOGUE[name]
        direction = _headline_direction(o)
        wide = _wide(panel.units, "unit_id", "year", [o.numerator, o.denominator], periods)
        num_w, den_w = wide[o.numerator], wide[o.denominator]
        pool_ok = [u for u in _complete(num_w, den_w, periods, True) if u in set(pool)]
        if len(pool_ok) < 3 or n_pre < 2:
            details[name] = {
                "available": False,
                "reason": f"{len(pool_ok)} comparison units with complete data in {periods} "
                f"and {n_pre} pre-period(s): need at least 3 and 2",
            }
            continue
        num, den = num_w.loc[pool_ok].to_numpy(), den_w.loc[pool_ok].to_numpy()
        detail: dict = {
            "label": o.label,
            "unit": o.unit,
            "better": o.better,
            "headline_direction": {1: "increase", -1: "decrease", 0: "larger of the two"}[
                direction
            ],
            "minimum_important_difference": mids.get(name),
            "pre_periods": pre,
            "post_periods": post,
        }

        # ---- per area: observed design (exact emulation) ----
        em = emulate_area(num, den, n_pre, [len(post)], alpha)
        design_mde = _both(em.z_single[0], em.crit[0], em.sigma, target)
        z_obs, a_obs = em.z_single[0], em.crit_single[0]
        std_mde = _both(z_obs, a_obs, 1.0, target)
        rows.append(
            _row(o, "per_area", "years", len(post), "observed", design_mde, direction)
            | {"n_units": len(pool_ok)}
        )
        # pilots: own pre-period noise x standardised MDE
        p_codes = [
            p.la_code
            for p in pilots
            if p.la_code in num_w.index
            and num_w.loc[p.la_code, pre].notna().all()
            and (den_w.loc[p.la_code, pre] > 0).all()
        ]
        sig_p = pilot_sigma(
            num_w.loc[p_codes, pre].to_numpy(), den_w.loc[p_codes, pre].to_numpy(), em.comp, n_pre
        )
        pre_rate = (
            num_w.loc[p_codes, pre].sum(axis=1) / den_w.loc[p_codes, pre].sum(axis=1) * 100
        ).to_numpy()
        pilot_mde = {}
        for code, s, r in zip(p_codes, sig_p, pre_rate, strict=True):
            inc, dec = s * std_mde["increase"].mde, s * std_mde["decrease"].mde
            head = {1: inc, -1: dec, 0: max(inc, dec)}[direction]
            room = (100 - r) if direction >= 0 else r
            pilot_mde[code] = head
            pilot_rows.append(
                {
                    "outcome": name,
                    "la_code": code,
                    "area": plan.pilot(code).la_name,
                    "partnership": plan.pilot(code).partnership,
                    "timescale": "years",
                    "post_periods": len(post),
                    "basis": "observed",
                    "pre_rmse": float(s),
                    "pre_period_rate": float(r),
                    "mde": float(head),
                    "mde_increase": float(inc),
                    "mde_decrease": float(dec),
                    "detectable_within_range": bool(head <= room),
                }
            )
        vals = np.array(list(pilot_mde.values()), float)
        pilots_summary = _summary(vals)
        rows[-1].update({f"pilots_{k}": v for k, v in pilots_summary.items()})
        detail["per_area"] = {
            "observed": {
                "post_periods": len(post),
                "n_comparison_units": len(pool_ok),
                "critical_z": float(a_obs),
                "power_at_zero": design_mde["increase"].power_at_zero,
                "mde": _headline(design_mde, direction),
                "mde_increase": design_mde["increase"].mde,
                "mde_decrease": design_mde["decrease"].mde,
                "standardised_mde_increase": std_mde["increase"].mde,
                "standardised_mde_decrease": std_mde["decrease"].mde,
                "curve_increase": design_mde["increase"].curve(),
                "curve_decrease": design_mde["decrease"].curve(),
                "what": "every comparison LA in turn as a pseudo-pilot with the effect added to "
                "its post-period outcomes; estimator and placebo test emulated exactly",
            },
            "pilots": {"summary": pilots_summary, "mde": pilot_mde},
        }

        # ---- per area: projection over post years ----
        proj = project(
            em.resid,
            len(pool_ok),
            n_pre,
            len(post),
            float(np.median(np.abs(z_obs))),
            sorted(set(years) | {len(post)}),
            alpha,
            normalised=True,
            draws=draws,
            rng=np.random.default_rng(streams["boot_area"]),
        )
        boot = {
            k: (
                _both(proj.stat[i], proj.crit[i], em.sigma[None, :], target),
                _both(proj.stat[i], proj.crit[i], 1.0, target),
            )
            for i, k in enumerate(proj.ks)
        }
        ref_d, ref_sd = boot[len(post)]
        proj_rows = []
        for k in years:
            d = _anchor(boot[k][0], ref_d, design_mde)
            sd = _anchor(boot[k][1], ref_sd, std_mde)
            pv = _pilot_values(sig_p, sd, direction)
            row = _row(o, "per_area", "years", k, "bootstrap", d, direction, n_units=len(pool_ok))
            row["mde_unanchored"] = _headline(boot[k][0], direction)
            row.update({f"pilots_{kk}": v for kk, v in _summary(pv).items()})
            rows.append(row)
            for code, v in zip(p_codes, pv, strict=True):
                pilot_rows.append(
                    {
                        "outcome": name,
                        "la_code": code,
                        "area": plan.pilot(code).la_name,
                        "partnership": plan.pilot(code).partnership,
                        "timescale": "years",
                        "post_periods": k,
                        "basis": "bootstrap",
                        "mde": float(v),
                    }
                )
            proj_rows.append(
                row | {"curve": d["increase" if direction >= 0 else "decrease"].curve()}
            )
        detail["per_area"]["projection_years"] = {"gamma": proj.gamma, "rows": proj_rows}

        # ---- programme: observed design ----
        prog = _programme_observed(
            num_w,
            den_w,
            pool,
            regions,
            treated,
            periods,
            n_pre,
            permutations,
            alpha,
            seed,
            o,
            direction,
            target,
            years,
            draws,
            np.random.default_rng(streams["boot_prog"]),
            len(post),
        )
        rows.extend(prog.pop("_rows"))
        detail["programme"] = prog

        # ---- months (synthetic monthly panel) ----
        if monthly_frame is not None:
            mrows, mdetail, mpilots = _monthly(
                monthly_frame,
                plan,
                o,
                direction,
                months,
                alpha,
                regions,
                treated,
                permutations,
                np.random.default_rng(streams["month_prog"]),
                target,
            )
            rows.extend(mrows)
            pilot_rows.extend(mpilots)
            detail["months"] = mdetail | {"source": monthly_source}
        else:
            detail["months"] = {"available": False, "source": monthly_source or "not requested"}
        details[name] = detail

    notes = {
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
    return PowerAnalysis(
        plan_name=plan.name,
        seed=seed,
        alpha=alpha,
        target=target,
        rows=pd.DataFrame(rows),
        outcomes=details,
        pilots=pd.DataFrame(pilot_rows),
        notes=notes,
        seconds=time.perf_counter() - t0,
    )


def _summary(vals: np.ndarray) -> dict:
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


def _pilot_values(sig: np.ndarray, std: dict[str, MDE], direction: int) -> np.ndarray:
    inc, dec = sig * std["increase"].mde, sig * std["decrease"].mde
    return {1: inc, -1: dec, 0: np.maximum(inc, dec)}[direction]


def _regions_need(treated, regions, by_region):
    need: dict[str, int] = {}
    for part, ms in treated.items():
        rs = {regions.get(m) for m in ms}
        if len(rs) != 1 or None in rs:
            raise ValueError(f"partnership {part} must lie in one known region")
        r = rs.pop()
        need[r] = need.get(r, 0) + len(ms)
    for r, k in need.items():
        if len(by_region.get(r, [])) < k:
            raise ValueError(f"region {r} has too few comparison units for its pilots")
    return need


def _programme_observed(
    num_w,
    den_w,
    pool,
    regions,
    treated,
    periods,
    n_pre,
    permutations,
    alpha,
    seed,
    o,
    direction,
    target,
    years,
    draws,
    rng_boot,
    n_post,
) -> dict:
    """Programme design: observed (placebo programmes as pseudo-programmes) and bootstrap."""
    good = _complete(num_w, den_w, periods, False)
    good = [u for u in pool if u in set(good) and not num_w.loc[u, periods].isna().any()]
    # programme_did's filter: outcome present in every period (so den > 0)
    good = [u for u in good if (den_w.loc[u, periods] > 0).all()]
    by_region: dict[str, list[str]] = {}
    for u in pool:
        if u in set(good) and u in regions:
            by_region.setdefault(regions[u], []).append(u)
    try:
        need = _regions_need(treated, regions, by_region)
    except ValueError as exc:
        return {"available": False, "reason": str(exc), "_rows": []}
    pool_ok = [u for r in by_region.values() for u in r]
    num = num_w.loc[pool_ok, periods].to_numpy()
    den = den_w.loc[pool_ok, periods].to_numpy()
    # the same placebo programmes programme_did draws with this seed
    idx = placebo_programmes(by_region, need, pool_ok, permutations, seed)
    gap = programme_gaps(num, den, idx)
    tau = _programme_tau(gap, n_pre, [n_post])[0]
    m = math.floor(alpha * permutations + 1e-12)
    crit = loo_critical(np.abs(tau), m)
    obs = _both(tau, crit, 1.0, target)
    rows = [_row(o, "programme", "years", n_post, "observed", obs, direction, n_units=len(pool_ok))]
    sigma = _sd(gap[:, :n_pre])
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
        sorted(set(years) | {n_post}),
        alpha,
        normalised=False,
        draws=draws,
        rng=rng_boot,
    )
    proj_rows = []
    boot = {}
    for i, k in enumerate(proj.ks):
        # statistic in natural units: sigma_r * standardised draw
        stat = proj.stat[i] * sigma[None, :]
        boot[k] = _both(stat, loo_critical(np.abs(stat), m), 1.0, target)
    for k in years:
        d = _anchor(boot[k], boot[n_post], obs)
        row = _row(o, "programme", "years", k, "bootstrap", d, direction, n_units=len(pool_ok))
        row["mde_unanchored"] = _headline(boot[k], direction)
        rows.append(row)
        proj_rows.append(row | {"curve": d["increase" if direction >= 0 else "decrease"].curve()})
    return {
        "observed": {
            "post_periods": n_post,
            "n_placebo_programmes": len(tau),
            "n_pool_units": len(pool_ok),
            "critical_abs_did": float(-np.sort(-np.abs(tau))[m - 1]) if m >= 1 else math.inf,
            "power_at_zero": obs["increase"].power_at_zero,
            "mde": _headline(obs, direction),
            "mde_increase": obs["increase"].mde,
            "mde_decrease": obs["decrease"].mde,
            "curve_increase": obs["increase"].curve(),
            "curve_decrease": obs["decrease"].curve(),
            "what": "each placebo programme (drawn within regions, as programme_did) in turn as "
            "the pseudo-programme with the effect added; rank test against the other placebos",
        },
        "projection_years": {"gamma": proj.gamma, "rows": proj_rows},
        "_rows": rows,
    }


def _monthly(
    frame, plan, o, direction, months, alpha, regions, treated, permutations, rng, target
) -> tuple[list, dict, list]:
    """Per-area and programme MDE for k months of post data on the synthetic monthly panel."""
    if o.numerator not in frame.columns or o.denominator not in frame.columns:
        return [], {"available": False, "reason": f"{o.name} is not in the monthly panel"}, []
    f = frame.copy()
    if "geographic_level" in f.columns:
        f = f[f["geographic_level"] == "Local authority"].copy()
    f["old_la_code"] = f["old_la_code"].astype(str).str.zfill(3)
    f["_m"] = _month_index(f)
    start = min(p.start_date for p in plan.pilots)
    m0 = start.year * 12 + start.month - 1
    all_m = sorted(f["_m"].unique())
    pre = [m for m in all_m if m < m0]
    post_all = [m for m in all_m if m >= m0]
    if len(pre) < 2 or not post_all:
        return [], {"available": False, "reason": "too few pre or post months"}, []
    ks = [k for k in months if k <= len(post_all)]
    periods = pre + post_all[: max(ks)]
    wide = _wide(f, "old_la_code", "_m", [o.numerator, o.denominator], periods)
    num_w, den_w = wide[o.numerator], wide[o.denominator]
    pilot_codes = {p.la_code for p in plan.pilots}
    units = [u for u in num_w.index if u not in pilot_codes and u not in plan.comparison_exclude]
    strict = [u for u in _complete(num_w, den_w, periods, True) if u in set(units)]
    n_pre = len(pre)
    rows, pilots_out = [], []
    em = emulate_area(num_w.loc[strict].to_numpy(), den_w.loc[strict].to_numpy(), n_pre, ks, alpha)
    p_codes = [
        c
        for c in sorted(pilot_codes)
        if c in num_w.index and (den_w.loc[c, pre] > 0).all() and num_w.loc[c, pre].notna().all()
    ]
    sig_p = pilot_sigma(
        num_w.loc[p_codes, pre].to_numpy(), den_w.loc[p_codes, pre].to_numpy(), em.comp, n_pre
    )
    for i, k in enumerate(em.ks):
        d = _both(em.z_single[i], em.crit[i], em.sigma, target)
        sd = _both(em.z_single[i], em.crit_single[i], 1.0, target)
        pv = _pilot_values(sig_p, sd, direction)
        row = _row(
            o, "per_area", "months", k, "synthetic monthly", d, direction, n_units=len(strict)
        )
        row.update({f"pilots_{kk}": v for kk, v in _summary(pv).items()})
        rows.append(row)
        for code, v in zip(p_codes, pv, strict=True):
            pilots_out.append(
                {
                    "outcome": o.name,
                    "la_code": code,
                    "area": plan.pilot(code).la_name,
                    "partnership": plan.pilot(code).partnership,
                    "timescale": "months",
                    "post_periods": k,
                    "basis": "synthetic monthly",
                    "mde": float(v),
                }
            )
    # programme: placebo programmes from complete (counts present) non-pilot units
    lenient = [u for u in _complete(num_w, den_w, periods, False) if u in set(units)]
    by_region: dict[str, list[str]] = {}
    for u in lenient:
        if u in regions:
            by_region.setdefault(regions[u], []).append(u)
    prog = {"available": True}
    try:
        need = _regions_need(treated, regions, by_region)
        pool_ok = [u for r in by_region.values() for u in r]
        idx = placebo_programmes(by_region, need, pool_ok, permutations, int(rng.integers(2**31)))
        gap = programme_gaps(num_w.loc[pool_ok].to_numpy(), den_w.loc[pool_ok].to_numpy(), idx)
        taus = _programme_tau(gap, n_pre, em.ks)
        m = math.floor(alpha * permutations + 1e-12)
        for i, k in enumerate(em.ks):
            d = _both(taus[i], loo_critical(np.abs(taus[i]), m), 1.0, target)
            rows.append(
                _row(
                    o,
                    "programme",
                    "months",
                    k,
                    "synthetic monthly",
                    d,
                    direction,
                    n_units=len(pool_ok),
                )
            )
    except ValueError as exc:
        prog = {"available": False, "reason": str(exc)}
    detail = {
        "available": True,
        "pre_months": n_pre,
        "first_post_month": f"{MONTHS[m0 % 12]} {m0 // 12}",
        "post_months_available": len(post_all),
        "n_comparison_units_per_area": len(strict),
        "programme": prog,
    }
    return rows, detail, pilots_out


# ---- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation power",
        description="Power and minimum detectable effect (80%% power) of an evaluation plan, by "
        "simulation from the real pre-period data (per-area and programme designs; more post "
        "years by bootstrap; more post months on the SYNTHETIC monthly panel).",
    )
    p.add_argument("--plan", default="plans/change_programme_2023.yaml")
    p.add_argument("--seed", type=int, default=None, help="default: the plan's seed")
    p.add_argument(
        "--out",
        default="reports/power/power.json",
        help="JSON path; the table goes beside it as .csv and _pilots.csv",
    )
    p.add_argument("--json", action="store_true", help="print the JSON to stdout")
    p.add_argument(
        "--outcomes",
        nargs="*",
        default=None,
        help="outcome names (default: the plan's primary outcomes)",
    )
    p.add_argument(
        "--monthly-panel",
        default=None,
        help="EES-layout monthly panel (default data/synthetic/synthetic_panel_monthly.csv)",
    )
    p.add_argument("--no-monthly", action="store_true", help="skip the monthly projection")
    return p


def main(argv: list[str] | None = None) -> int:
    from evaluation.panel.build import cached_panel
    from evaluation.panel.plan import load_plan

    args = build_parser().parse_args(argv)
    plan = load_plan(args.plan)
    panel = cached_panel(str(plan.data_dir), plan.boundary_policy)
    res = power_analysis(
        panel,
        plan,
        seed=args.seed,
        outcomes=args.outcomes,
        monthly=False if args.no_monthly else args.monthly_panel,
    )
    paths = res.write(args.out)
    if args.json:
        print(res.to_json())
    else:
        print(summary_text(res))
        print(f"wrote {paths['json']}, {paths['csv']} and {paths['pilots_csv']}")
    return 0


def summary_text(res: PowerAnalysis) -> str:
    lines = [
        f"Minimum detectable effect at {round(100 * res.target)}% power, two-sided alpha "
        f"{res.alpha} (plan {res.plan_name}, seed {res.seed})"
    ]
    for r in res.rows.itertuples(index=False):
        extra = (
            f"; pilots median {r.pilots_median:.1f} (range {r.pilots_min:.1f} to {r.pilots_max:.1f})"
            if "pilots_median" in res.rows.columns and pd.notna(getattr(r, "pilots_median", None))
            else ""
        )
        lines.append(
            f"  {r.outcome} | {r.design} | {r.post_periods} post {r.timescale} ({r.basis}): "
            f"MDE {r.mde:.2f} {r.unit}{extra}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
