"""Synthetic control (Abadie, Diamond and Hainmueller 2010) for one treated unit (or one block of
units adopting at the same time), with placebo-in-space inference.

Notation as in :mod:`evaluation.models.synthetic_common`.

Estimator
    Weights ``w`` on the simplex (non-negative, summing to one) minimise the pre-period squared
    error ``sum_{t<=T0} (y1_t - Y0_t' w)^2`` (no intercept; an optional ridge term
    ``T0 * zeta^2 * |w|^2``).  Solved exactly by an active-set method (Lawson-Hanson adapted to
    the simplex), which is deterministic and stops at the exact optimum.  Estimate = mean
    post-period gap ``y1_t - Y0_t' w``.  No standard error.

Inference: placebo-in-space.  Every donor in turn plays the treated unit against the other
    donors (the treated units never enter a placebo pool).  Two statistics: the post/pre RMSPE
    ratio (Abadie et al. 2010) and ``|mean post gap| / pre-RMSPE``.  p-value = (1 + #placebos
    at least as extreme) / (1 + J).  Interval: the set of constant additive effects ``delta`` not
    rejected when ``delta`` is subtracted from the treated post-period outcomes (Firpo and
    Possebom 2018).  The weights are fitted on the pre-period only, and the placebos never use
    the treated unit, so ``delta`` moves only the treated post-period gaps: for the mean-gap
    statistic the set is ``mean gap +/- a_(m) * pre-RMSPE`` (``a_(m)`` the m-th largest placebo
    statistic, ``m = floor(alpha (1 + J))``); for the RMSPE ratio it is
    ``mean gap +/- sqrt(c^2 pre^2 - var_post(gap))`` (possibly empty).  No refitting is needed.

The result carries ``extra["paths"]`` (time, treated, synthetic, gap) for charts, the weights in
``extra["weights"]`` and the placebo table in ``distribution``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evaluation.models.intervals import placebo_ci
from evaluation.models.results import EstimationResult
from evaluation.models.synthetic_common import (
    RMSPE_FLOOR,
    DonorPanel,
    digest,
    donor_panel,
    donor_weights_frame,
    noise_level,
    placebo_label,
    placebo_sets,
    rank_p_value,
    simplex_least_squares,
    synthetic_path,
    treated_block_text,
)

SC_METHOD = "Synthetic control, placebo-in-space inference"


def _sc_weights(y0pre: np.ndarray, target: np.ndarray, ridge_eta: float) -> np.ndarray:
    """Simplex least squares of ``target`` on the donors' pre paths, optional ridge."""
    a = y0pre.T
    b = target
    if ridge_eta > 0:
        a = np.vstack([a, math.sqrt(ridge_eta) * np.eye(a.shape[1])])
        b = np.concatenate([b, np.zeros(a.shape[1])])
    return simplex_least_squares(a, b)


class _SyntheticFit:
    """One donor panel with its ridge penalty and RMSPE floor: fits and summarises gaps."""

    def __init__(self, pn: DonorPanel, ridge: float, rmspe_floor: float | None):
        self.pn, self.t0 = pn, pn.t0
        self.y0pre = pn.y0[:, : pn.t0]
        self.noise = noise_level(self.y0pre)
        self.ridge_eta = pn.t0 * (ridge * self.noise) ** 2
        scale = float(np.abs(pn.y0).max()) or 1.0
        self.floor = RMSPE_FLOOR * scale if rmspe_floor is None else float(rmspe_floor)

    def fit(self, donor_idx: np.ndarray, target: np.ndarray):
        """Weights of the donors ``donor_idx`` for ``target``, and the gap path."""
        w = _sc_weights(self.y0pre[donor_idx], target[: self.t0], self.ridge_eta)
        gap = target - self.pn.y0[donor_idx].T @ w
        return w, gap

    def summarise(self, gap: np.ndarray) -> dict:
        """Estimate, pre/post RMSPE and the two test statistics of a gap path."""
        t0 = self.t0
        pre_rmspe = float(np.sqrt(np.mean(gap[:t0] ** 2)))
        post_rmspe = float(np.sqrt(np.mean(gap[t0:] ** 2)))
        est = float(gap[t0:].mean())
        d = max(pre_rmspe, self.floor)
        return {
            "estimate": est,
            "pre_rmspe": pre_rmspe,
            "post_rmspe": post_rmspe,
            "rmspe_ratio": post_rmspe / d,
            "abs_z": abs(est) / d,
        }


def _placebos(model: _SyntheticFit, n_reps, seed, placebo_cache):
    """Placebo-in-space: donors in turn (or random blocks) against the remaining donors.

    Returns the placebo rows (label and summary), their gap paths, and the placebo blocks
    (None when the fits came from ``placebo_cache``)."""
    pn = model.pn
    n0, n1 = len(pn.donors), len(pn.treated)
    rng = np.random.default_rng(seed)
    key = None
    if placebo_cache is not None and n1 == 1 and n_reps is None:
        # the donors' outcomes are part of the key (two outcomes can share donors)
        key = (
            "sc",
            tuple(pn.donors),
            tuple(pn.pre),
            tuple(pn.post),
            model.ridge_eta,
            model.floor,
            digest(pn.y0),
        )
    if key is not None and key in placebo_cache:
        rows, gaps_pl = placebo_cache[key]
        return rows, gaps_pl, None
    sets = placebo_sets(n0, n1, n_reps, rng)
    rows, gaps_pl = [], []
    for s in sets:
        rest = np.setdiff1d(np.arange(n0), s)
        _, g = model.fit(rest, pn.y0[s].mean(axis=0))
        gaps_pl.append(g)
        rows.append({"unit": placebo_label(pn.donors, s, n1 == 1), **model.summarise(g)})
    gaps_pl = np.array(gaps_pl)
    if key is not None:
        placebo_cache[key] = (rows, gaps_pl)
    return rows, gaps_pl, sets


def _rank_tests(main: dict, dist: pd.DataFrame, gap, t0: int, floor: float, alpha: float):
    """Both statistics' rank p-values and inverted intervals (module docstring)."""
    p_ratio, rank_ratio = rank_p_value(main["rmspe_ratio"], dist["rmspe_ratio"].to_numpy())
    p_mean, rank_mean = rank_p_value(main["abs_z"], dist["abs_z"].to_numpy())
    d_main = max(main["pre_rmspe"], floor)
    est = main["estimate"]
    m = math.floor(alpha * (1 + len(dist)) + 1e-12)
    lo_mean, hi_mean = placebo_ci(est, d_main, dist["abs_z"].to_numpy(), alpha)
    # RMSPE-ratio set: mean((gap - delta)^2) <= (c * pre)^2.
    if m >= 1:
        c = float(np.sort(dist["rmspe_ratio"].to_numpy())[::-1][m - 1])
        half_sq = (c * d_main) ** 2 - float(np.var(gap[t0:]))
        lo_ratio, hi_ratio = (
            (est - math.sqrt(half_sq), est + math.sqrt(half_sq))
            if half_sq >= 0
            else (float("nan"), float("nan"))
        )
    else:
        lo_ratio, hi_ratio = -math.inf, math.inf
    return {
        "mean_gap": (p_mean, lo_mean, hi_mean),
        "rmspe_ratio": (p_ratio, lo_ratio, hi_ratio),
        "rank_mean_gap": rank_mean,
        "rank_rmspe_ratio": rank_ratio,
        "d_main": d_main,
    }


def _period_terms(pn, gap, gaps_pl, pre_pl, d_main, alpha) -> pd.DataFrame:
    """Per-period gaps with their own placebo rank p-values and inverted intervals."""
    t0 = pn.t0
    terms = []
    for k, t in enumerate(pn.post):
        zt = np.abs(gaps_pl[:, t0 + k]) / pre_pl
        pt, _ = rank_p_value(abs(gap[t0 + k]) / d_main, zt)
        a, bnd = placebo_ci(float(gap[t0 + k]), d_main, zt, alpha)
        terms.append(
            {
                "term": f"gap_{t}",
                "estimate": float(gap[t0 + k]),
                "se": np.nan,
                "ci_low": a,
                "ci_high": bnd,
                "p_value": pt,
            }
        )
    return pd.DataFrame(terms).set_index("term")


def _conventions(statistic, ridge, n1, n_reps, sets, seed, alpha) -> dict[str, str]:
    level = round(100 * (1 - alpha))
    return {
        "estimand": "effect on the treated unit(s), averaged over the post-period, additive "
        "(outcome units): treated minus its synthetic control",
        "weights": "non-negative donor weights summing to one, minimising the pre-period squared "
        "error of the outcome path (no intercept, no predictors"
        + (f", ridge {ridge} x SD of donor first differences" if ridge else "")
        + "); exact active-set solution",
        "treated_block": treated_block_text(n1),
        "statistic": "|mean post gap| / pre-period RMSPE"
        if statistic == "mean_gap"
        else "post/pre RMSPE ratio (Abadie et al. 2010)",
        "p_value": "placebo-in-space rank: (1 + #placebos at least as extreme) / (1 + J); "
        "no normal or t approximation",
        "interval": f"{level}% set of constant additive effects not rejected by the placebo "
        "test (test inversion, Firpo and Possebom 2018), closed form: the weights use only "
        "pre-period data and placebos never use the treated unit",
        "standard_error": "not reported: one treated unit, no valid standard error",
        "placebos": "each donor in turn against the other donors"
        if n1 == 1 and n_reps is None
        else f"{len(sets)} random blocks of {n1} donors (seed {seed}) against the other donors",
        "pre_fit": "pre-period RMSPE is reported; a poor pre-fit makes the estimate unreliable",
    }


def _diagnostics(model: _SyntheticFit, main, tests, dist, w, y1) -> dict:
    pn, floor = model.pn, model.floor
    y1pre_sd = float(np.std(y1[: pn.t0], ddof=1))
    return {
        "pre_rmspe": main["pre_rmspe"],
        "post_rmspe": main["post_rmspe"],
        "rmspe_ratio": main["rmspe_ratio"],
        "pre_rmspe_over_pre_sd": main["pre_rmspe"] / y1pre_sd if y1pre_sd > 0 else None,
        "treated_pre_sd": y1pre_sd,
        "p_value_rmspe_ratio": tests["rmspe_ratio"][0],
        "p_value_mean_gap": tests["mean_gap"][0],
        "rank_rmspe_ratio": tests["rank_rmspe_ratio"],
        "rank_mean_gap": tests["rank_mean_gap"],
        "interval_mean_gap": list(tests["mean_gap"][1:]),
        "interval_rmspe_ratio": list(tests["rmspe_ratio"][1:]),
        "n_placebos": len(dist) - 1,
        "placebo_median_pre_rmspe": float(np.median(dist["pre_rmspe"][1:])),
        "n_perfect_prefit_placebos": int((dist["pre_rmspe"][1:] <= floor).sum()),
        "rmspe_floor": floor,
        "noise_level": model.noise,
        "n_nonzero_weights": int((w > 1e-8).sum()),
        "weights": {str(u): float(v) for u, v in zip(pn.donors, w, strict=True) if v > 1e-8},
        "excluded_units": pn.excluded,
    }


def synthetic_control(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated,
    pre,
    post,
    donors=None,
    alpha: float = 0.05,
    statistic: str = "mean_gap",
    ridge: float = 0.0,
    rmspe_floor: float | None = None,
    n_reps: int | None = None,
    seed: int = 0,
    outcome_label: str | None = None,
    unit_label: str = "outcome units",
    placebo_cache: dict | None = None,
) -> EstimationResult:
    """Synthetic control (Abadie, Diamond and Hainmueller 2010) with placebo-in-space inference.

    ``treated`` is one unit id (or a list: a block adopting together, whose outcomes are
    averaged).  ``donors`` restricts the donor pool (default: every other unit); donors lacking
    the outcome in a pre or post period are dropped and listed in
    ``diagnostics['excluded_units']``.  ``ridge`` adds ``T0 (ridge * sd)^2 |w|^2`` to the
    pre-period loss (``sd`` = SD of the donors' first differences, as synthdid; 0 = ADH).

    Estimate: mean post-period gap (treated - synthetic), additive, in outcome units.
    ``statistic`` picks the test behind ``p_value`` and the interval: ``"mean_gap"``
    (|mean post gap| / pre-RMSPE: its inverted set is always an interval centred on the
    estimate) or ``"rmspe_ratio"`` (post/pre RMSPE, ADH 2010: the inverted set may be empty).
    Both p-values are always in ``diagnostics``.  ``rmspe_floor`` (outcome units; default
    ``1e-9`` x the outcome's scale) floors every pre-RMSPE in the statistics: with fewer
    pre-periods than donors many placebos fit perfectly and their statistics explode (see
    ``diagnostics['n_perfect_prefit_placebos']``).  With a single treated unit every donor is a
    placebo (no randomness); with a block, ``n_reps`` (default 200) random placebo blocks of the
    same size are drawn with ``seed``.  ``placebo_cache`` (a dict the caller owns) shares the
    single-unit placebo fits between calls with the same donors: they never involve the treated
    unit, so every pilot evaluated against one donor pool has the same placebo distribution.
    """
    if statistic not in {"mean_gap", "rmspe_ratio"}:
        raise ValueError("statistic must be 'mean_gap' or 'rmspe_ratio'")
    pn = donor_panel(data, unit, time, outcome, treated, pre, post, donors)
    t0, n0, n1 = pn.t0, len(pn.donors), len(pn.treated)
    y1 = pn.y1.mean(axis=0)
    model = _SyntheticFit(pn, ridge, rmspe_floor)
    w, gap = model.fit(np.arange(n0), y1)
    main = model.summarise(gap)
    rows, gaps_pl, sets = _placebos(model, n_reps, seed, placebo_cache)
    dist = pd.DataFrame(rows)
    pre_pl = np.maximum(dist["pre_rmspe"].to_numpy(), model.floor)
    tests = _rank_tests(main, dist, gap, t0, model.floor, alpha)
    p, lo, hi = tests[statistic]
    terms = _period_terms(pn, gap, gaps_pl, pre_pl, tests["d_main"], alpha)
    dist = pd.concat(
        [
            pd.DataFrame([{"unit": "+".join(map(str, pn.treated)), **main, "is_treated": True}]),
            dist.assign(is_treated=False),
        ],
        ignore_index=True,
    )
    return EstimationResult(
        method=SC_METHOD,
        outcome=outcome_label or outcome,
        estimate=main["estimate"],
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="placebo-in-space, rank of "
        + ("|mean gap| / pre-RMSPE" if statistic == "mean_gap" else "post/pre RMSPE ratio"),
        alpha=alpha,
        n_treated=n1,
        n_comparison_units=n0,
        pre_periods=list(pn.pre),
        post_periods=list(pn.post),
        conventions=_conventions(statistic, ridge, n1, n_reps, sets, seed, alpha),
        se=None,
        unit=unit_label,
        diagnostics=_diagnostics(model, main, tests, dist, w, y1),
        distribution=dist,
        terms=terms,
        extra={
            "paths": synthetic_path(pn.pre + pn.post, y1, pn.y0, w),
            "weights": donor_weights_frame(pn.donors, w),
        },
    )
