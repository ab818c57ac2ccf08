"""Synthetic difference-in-differences (Arkhangelsky et al. 2021) for one treated unit (or one
block of units adopting at the same time), reproducing the R package ``synthdid`` 0.0.9.

Notation as in :mod:`evaluation.models.synthetic_common`.

Estimator
    Unit weights ``omega`` with an intercept and ridge penalty
    ``zeta = (N1 T1)^(1/4) * sd(first differences of the donors' pre-period outcomes)``; time
    weights ``lambda`` with an intercept and penalty ``1e-6 * sd``; both by Frank-Wolfe with
    exact line search, 100 iterations, sparsification (weights <= max/4 set to zero, then
    renormalised), then up to 1e4 iterations, stopping when the objective falls by less than
    ``(1e-5 sd)^2``.  Estimate = ``(y1_post - omega'Y0_post) - lambda'(y1_pre - omega'Y0_pre)``
    (post means).  ``method="sc"`` is ``synthdid::sc_estimate`` (omega without intercept, penalty
    ``1e-6 sd``, no time weights) and ``method="did"`` uses uniform weights.

Inference: the package's placebo variance (Algorithm 4 of the paper): donors play the treated
    block, weights re-estimated (warm-started from the fitted ones, tuning kept fixed), SE = the
    standard deviation of the placebo estimates, normal interval.  Plus the placebo-in-space rank
    p-value of ``|tau| / pre-RMSPE`` and its test-inversion interval (``inference="rank"``).

The result carries ``extra["paths"]`` (time, treated, synthetic, gap) for charts, the weights in
``extra["weights"]`` (and ``extra["time_weights"]``) and the placebo table in ``distribution``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.models.intervals import placebo_ci
from evaluation.models.results import EstimationResult
from evaluation.models.synthetic_common import (
    RMSPE_FLOOR,
    DonorPanel,
    digest,
    donor_panel,
    donor_weights_frame,
    frank_wolfe,
    noise_level,
    placebo_label,
    placebo_sets,
    rank_p_value,
    sparsify_weights,
    synthetic_path,
    treated_block_text,
)

SDID_METHODS = {
    "sdid": "Synthetic difference-in-differences (Arkhangelsky et al. 2021)",
    "sc": "Synthetic control (synthdid::sc_estimate)",
    "did": "Difference-in-differences (uniform weights, synthdid::did_estimate)",
}


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------


def _sdid_fit(
    y0pre,
    y0post,
    target_pre,
    target_post,
    donor_mask,
    *,
    zeta_omega,
    zeta_lambda,
    omega_intercept,
    lambda_intercept,
    omega0,
    lambda0,
    update_omega,
    update_lambda,
    min_decrease,
    max_iter,
    max_iter_pre_sparsify=100,
    sparsify=True,
):
    """K synthdid fits at once.  ``y0pre`` (N0, T0) and ``y0post`` (N0,) (post mean) for all
    donors; problem k uses donors ``donor_mask[k]`` and the treated pre path ``target_pre[k]``
    and post mean ``target_post[k]``.  Returns tau (K,), omega (K, N0), lambda (K, T0)."""
    n_prob, n0 = donor_mask.shape
    t0 = y0pre.shape[1]
    ones = np.ones(n_prob)
    md = min_decrease * ones
    lam, omg = lambda0.copy(), omega0.copy()
    if update_lambda:
        # Rows = donors (masked), columns = pre-periods; target = donors' post means.
        cnt = donor_mask.sum(axis=1, keepdims=True)
        if lambda_intercept:
            mu = (donor_mask @ y0pre) / cnt
            bmean = (donor_mask @ y0post)[:, None] / cnt
        else:
            mu, bmean = np.zeros((n_prob, t0)), np.zeros((n_prob, 1))
        b = donor_mask * (y0post[None, :] - bmean)
        args = (y0pre, mu, donor_mask.astype(float), b, np.ones((n_prob, t0), bool))
        z2 = zeta_lambda**2 * ones
        lam, _ = frank_wolfe(*args, lam, z2, md, max_iter_pre_sparsify)
        if sparsify:
            lam, _ = frank_wolfe(*args, sparsify_weights(lam), z2, md, max_iter)
    if update_omega:
        # Rows = pre-periods, columns = donors; target = the treated pre path.
        a = y0pre.T
        b = target_pre
        if omega_intercept:
            a = a - a.mean(axis=0, keepdims=True)
            b = b - b.mean(axis=1, keepdims=True)
        args = (a, None, None, b, donor_mask)
        z2 = zeta_omega**2 * ones
        omg, _ = frank_wolfe(*args, omg, z2, md, max_iter_pre_sparsify)
        if sparsify:
            omg, _ = frank_wolfe(*args, sparsify_weights(omg), z2, md, max_iter)
    tau = (
        target_post
        - (target_pre * lam).sum(axis=1)
        - omg @ y0post
        + ((omg @ y0pre) * lam).sum(axis=1)
    )
    return tau, omg, lam


def _sum_normalize(v: np.ndarray) -> np.ndarray:
    s = v.sum(axis=1, keepdims=True)
    return np.where(s != 0, v / np.where(s != 0, s, 1.0), 1.0 / v.shape[1])


def _sdid_options(method: str, y0pre: np.ndarray, n1: int, t1: int, max_iter: int):
    """synthdid's tuning: penalties from the donors' pre-period first differences."""
    noise = noise_level(y0pre)
    if method == "sdid":
        eta_omega = (n1 * t1) ** 0.25
        omega_intercept, update_omega, update_lambda = True, True, True
    elif method == "sc":
        eta_omega = 1e-6
        omega_intercept, update_omega, update_lambda = False, True, False
    else:
        eta_omega = 0.0
        omega_intercept, update_omega, update_lambda = True, False, False
    opts = {
        "zeta_omega": eta_omega * noise,
        "zeta_lambda": 1e-6 * noise,
        "omega_intercept": omega_intercept,
        "lambda_intercept": True,
        "update_omega": update_omega,
        "update_lambda": update_lambda,
        "min_decrease": 1e-5 * noise,
        "max_iter": max_iter,
    }
    t0 = y0pre.shape[1]
    lambda_init = np.zeros(t0) if method == "sc" else np.full(t0, 1.0 / t0)
    return opts, lambda_init


def _treated_key(method: str, pn: DonorPanel, max_iter: int) -> tuple:
    """Cache key of a treated fit: everything it depends on, data included."""
    return (
        "treated",
        method,
        tuple(pn.donors),
        tuple(pn.pre),
        tuple(pn.post),
        max_iter,
        digest(pn.y0),
        digest(pn.y1),
    )


@dataclass
class _Setup:
    """One donor panel with synthdid's tuning for ``method`` (shared by every fit on it)."""

    pn: DonorPanel
    method: str
    max_iter: int
    y0pre: np.ndarray  # (N0, T0)
    y0post: np.ndarray  # (N0,) post-period means
    opts: dict
    lambda_init: np.ndarray


def _setup(pn: DonorPanel, method: str, max_iter: int, n1: int) -> _Setup:
    t0 = pn.t0
    y0pre, y0post = pn.y0[:, :t0], pn.y0[:, t0:].mean(axis=1)
    opts, lambda_init = _sdid_options(method, y0pre, n1, len(pn.post), max_iter)
    return _Setup(pn, method, max_iter, y0pre, y0post, opts, lambda_init)


# --------------------------------------------------------------------------------------------
# Treated and placebo fits
# --------------------------------------------------------------------------------------------


def _treated_fit(s: _Setup, y1: np.ndarray, treated_cache: dict | None):
    """(tau, omega, lambda) of the treated (average) path, through ``treated_cache``."""
    key = _treated_key(s.method, s.pn, s.max_iter) if treated_cache is not None else None
    if key is not None and key in treated_cache:
        return treated_cache[key]
    t0, n0 = s.pn.t0, len(s.pn.donors)
    tau, omg, lam = _sdid_fit(
        s.y0pre,
        s.y0post,
        y1[None, :t0],
        np.array([y1[t0:].mean()]),
        np.ones((1, n0), bool),
        omega0=np.full((1, n0), 1.0 / n0),
        lambda0=s.lambda_init[None, :],
        **s.opts,
    )
    fit = float(tau[0]), omg[0], lam[0]
    if key is not None:
        treated_cache[key] = fit
    return fit


def _fit_placebos(s: _Setup, sets: list[np.ndarray], omega: np.ndarray, lam: np.ndarray):
    """Every placebo block against the other donors, Frank-Wolfe started from ``omega``
    (restricted to the block's comparison donors and renormalised) and ``lam``."""
    n0 = len(s.pn.donors)
    mask = np.ones((len(sets), n0), bool)
    for k, block in enumerate(sets):
        mask[k, block] = False
    tpre = np.array([s.y0pre[block].mean(axis=0) for block in sets])
    tpost = np.array([s.y0post[block].mean() for block in sets])
    om0 = _sum_normalize(np.where(mask, omega[None, :], 0.0))
    return _sdid_fit(
        s.y0pre,
        s.y0post,
        tpre,
        tpost,
        mask,
        omega0=om0,
        lambda0=np.repeat(lam[None, :], len(sets), axis=0),
        **s.opts,
    )


def _placebo_fits(s: _Setup, sets, omega, lam, placebo_cache: dict | None, shareable: bool):
    """(tau, omega, lambda) of every placebo block: warm-started from the treated fit's weights
    (as synthdid), or, when the fits are shared through ``placebo_cache`` (one treated unit,
    every donor as a placebo: the fits do not involve the treated unit), from uniform weights
    so that they do not depend on which pilot asked first (see METHODOLOGY.md)."""
    pn = s.pn
    if placebo_cache is None or not shareable:
        return _fit_placebos(s, sets, omega, lam)
    # the donors' outcomes themselves are part of the key (two outcomes can share donors)
    key = (s.method, tuple(pn.donors), tuple(pn.pre), tuple(pn.post), s.max_iter, digest(pn.y0))
    if key not in placebo_cache:
        n0 = len(pn.donors)
        uniform = np.full(n0, 1.0 / n0), np.asarray(s.lambda_init, dtype=float)
        placebo_cache[key] = _fit_placebos(s, sets, *uniform)
    return placebo_cache[key]


def synthetic_did_prefit(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated_units: list,
    pre,
    post,
    donors=None,
    method: str = "sdid",
    max_iter: int = 10_000,
    cache: dict,
) -> int:
    """Fit many single treated units against the same donors in one batched Frank-Wolfe run and
    store the fits in ``cache`` (pass the same dict as ``treated_cache=`` to
    :func:`synthetic_did`).  The batch gives exactly the fits of separate runs (each problem
    keeps its own stopping rule; tested), so this is only faster.  Units whose data do not
    allow a fit are skipped (``synthetic_did`` then fits or fails as usual).  Returns the
    number of fits stored."""
    groups: dict[str, list] = {}
    for u in treated_units:
        try:
            pn = donor_panel(data, unit, time, outcome, u, pre, post, donors)
        except ValueError:
            continue
        key = _treated_key(method, pn, max_iter)
        if key not in cache:
            groups.setdefault(digest(pn.y0) + repr(pn.donors), []).append((pn, key))
    stored = 0
    for members in groups.values():
        s = _setup(members[0][0], method, max_iter, 1)
        t0, n0 = s.pn.t0, len(s.pn.donors)
        targets = np.array([pn.y1.mean(axis=0) for pn, _ in members])
        k = len(members)
        tau, omg, lam = _sdid_fit(
            s.y0pre,
            s.y0post,
            targets[:, :t0],
            targets[:, t0:].mean(axis=1),
            np.ones((k, n0), bool),
            omega0=np.full((k, n0), 1.0 / n0),
            lambda0=np.repeat(s.lambda_init[None, :], k, axis=0),
            **s.opts,
        )
        for i, (_, key) in enumerate(members):
            cache[key] = (float(tau[i]), omg[i], lam[i])
            stored += 1
    return stored


# --------------------------------------------------------------------------------------------
# Inference and the result
# --------------------------------------------------------------------------------------------


def _path_gap(t0: int, target_full, w, lw, donor_full):
    """Gap path and SDID's intercept (which makes the lambda-weighted pre gap zero)."""
    synth = donor_full.T @ w
    offset = float(lw @ (target_full[:t0] - synth[:t0]))
    return target_full - synth - offset, offset


def _rank_inference(pn: DonorPanel, y1, fit, placebos, sets, alpha: float) -> dict:
    """Pre-fit, and the placebo rank test of ``|tau| / pre-RMSPE`` with its inverted interval."""
    tau, omega, lam = fit
    tau_pl, om_pl, lam_pl = placebos
    t0 = pn.t0
    gap, offset = _path_gap(t0, y1, omega, lam, pn.y0)
    pre_rmspe = float(np.sqrt(np.mean(gap[:t0] ** 2)))
    floor = RMSPE_FLOOR * (float(np.abs(pn.y0).max()) or 1.0)
    pl_pre = np.empty(len(sets))
    for k, block in enumerate(sets):
        target = pn.y0[block].mean(axis=0)
        g, _ = _path_gap(t0, target, om_pl[k], lam_pl[k], pn.y0)
        pl_pre[k] = float(np.sqrt(np.mean(g[:t0] ** 2)))
    z = abs(tau) / max(pre_rmspe, floor)
    z_pl = np.abs(tau_pl) / np.maximum(pl_pre, floor)
    p_rank, rank = rank_p_value(z, z_pl)
    lo_rank, hi_rank = placebo_ci(tau, max(pre_rmspe, floor), z_pl, alpha)
    p_abs, _ = rank_p_value(abs(tau), np.abs(tau_pl))
    return {
        "gap": gap,
        "offset": offset,
        "pre_rmspe": pre_rmspe,
        "placebo_pre_rmspe": pl_pre,
        "z": z,
        "placebo_z": z_pl,
        "p_value": p_rank,
        "rank": rank,
        "interval": (lo_rank, hi_rank),
        "p_value_abs_tau": p_abs,
    }


def _placebo_se(tau_pl, singles: bool, n_reps, rng, n0: int):
    """synthdid's placebo SE (``sqrt((R-1)/R) * sd``) and the placebo estimates behind it."""
    if singles and n_reps is not None:
        draws = rng.integers(0, n0, size=n_reps)  # = the last element of sample(1:N0)
        se_draws = tau_pl[draws]
    else:
        se_draws = tau_pl
    return float(np.std(se_draws, ddof=0)), se_draws


def _distribution(pn: DonorPanel, tau, tau_pl, rk: dict, sets, singles: bool) -> pd.DataFrame:
    labels = [placebo_label(pn.donors, block, singles) for block in sets]
    return pd.DataFrame(
        {
            "unit": ["+".join(map(str, pn.treated))] + labels,
            "estimate": np.concatenate([[tau], tau_pl]),
            "pre_rmspe": np.concatenate([[rk["pre_rmspe"]], rk["placebo_pre_rmspe"]]),
            "abs_z": np.concatenate([[rk["z"]], rk["placebo_z"]]),
            "is_treated": [True] + [False] * len(sets),
        }
    )


def _gap_terms(pn: DonorPanel, gap) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "term": f"gap_{t}",
                "estimate": float(gap[pn.t0 + k]),
                "se": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
            }
            for k, t in enumerate(pn.post)
        ]
    ).set_index("term")


def _conventions(method, inference, n1, singles, n_reps, n_draws, seed, alpha) -> dict:
    level = round(100 * (1 - alpha))
    placebo = inference == "placebo"
    return {
        "estimand": "average effect on the treated unit(s) over the post-period, additive "
        "(outcome units)",
        "weights": {
            "sdid": "unit weights with intercept and ridge zeta = (N1 T1)^(1/4) x SD of the "
            "donors' pre-period first differences; time weights with intercept and penalty "
            "1e-6 x SD; Frank-Wolfe with sparsification, as R synthdid 0.0.9",
            "sc": "unit weights without intercept, penalty 1e-6 x SD, no time weights "
            "(synthdid::sc_estimate)",
            "did": "uniform unit and time weights (synthdid::did_estimate)",
        }[method],
        "treated_block": treated_block_text(n1),
        "standard_error": (
            "placebo variance (synthdid 'placebo'): SD of estimates with donors as fake treated "
            + (
                "units, every donor once (limit of the package's random draws)"
                if singles and n_reps is None
                else f"blocks, {n_draws} draws (seed {seed})"
            )
            + "; assumes homoskedastic noise across units"
        )
        if placebo
        else "not reported (rank inference); the placebo SE is in diagnostics",
        "interval": f"{level}% normal interval estimate +/- z x placebo SE"
        if placebo
        else f"{level}% set of constant additive effects not rejected by the placebo rank test "
        "(test inversion)",
        "p_value": "two-sided normal p-value from the placebo SE"
        if placebo
        else "placebo-in-space rank of |tau| / pre-RMSPE: (1 + #) / (1 + J)",
        "placebo_tuning": "placebo fits keep the fitted penalties and stopping rule and start "
        "from the fitted weights (as synthdid::placebo_se)",
    }


def _diagnostics(s: _Setup, y1, fit, rk: dict, se: float, se_all, n_draws: int) -> dict:
    pn, (_, omega, lam) = s.pn, fit
    y1pre_sd = float(np.std(y1[: pn.t0], ddof=1))
    pre_rmspe = rk["pre_rmspe"]
    return {
        "placebo_se": se,
        "placebo_se_all_donors": se_all,
        "n_placebo_draws": int(n_draws),
        "p_value_rank": rk["p_value"],
        "p_value_rank_abs_tau": rk["p_value_abs_tau"],
        "rank": rk["rank"],
        "interval_rank": list(rk["interval"]),
        "pre_rmspe": pre_rmspe,
        "pre_rmspe_over_pre_sd": pre_rmspe / y1pre_sd if y1pre_sd > 0 else None,
        "treated_pre_sd": y1pre_sd,
        "placebo_median_pre_rmspe": float(np.median(rk["placebo_pre_rmspe"])),
        "intercept": rk["offset"],
        "noise_level": noise_level(s.y0pre),
        "zeta_omega": s.opts["zeta_omega"],
        "zeta_lambda": s.opts["zeta_lambda"],
        "effective_n0": float(1 / np.sum(omega**2)),
        "effective_t0": float(1 / np.sum(lam**2)) if lam.sum() > 0 else None,
        "weights": {str(u): float(v) for u, v in zip(pn.donors, omega, strict=True) if v > 0},
        "time_weights": {str(t): float(v) for t, v in zip(pn.pre, lam, strict=True)},
        "excluded_units": pn.excluded,
    }


def synthetic_did(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated,
    pre,
    post,
    donors=None,
    method: str = "sdid",
    alpha: float = 0.05,
    inference: str = "placebo",
    seed: int = 0,
    n_reps: int | None = None,
    max_iter: int = 10_000,
    outcome_label: str | None = None,
    unit_label: str = "outcome units",
    placebo_cache: dict | None = None,
    treated_cache: dict | None = None,
) -> EstimationResult:
    """Synthetic DiD (``method="sdid"``), ``synthdid::sc_estimate`` (``"sc"``) or DiD (``"did"``),
    reproducing the R package synthdid 0.0.9 (defaults, Frank-Wolfe, sparsification).

    ``treated`` is one unit or a list (a block adopting at the first post-period; the estimate is
    the effect on the block's average).  Inference:

    * ``"placebo"`` (default; synthdid's ``vcov(method="placebo")``): donors play the treated
      block, weights re-estimated with the fitted tuning (warm-started), SE = sd of the placebo
      estimates (``sqrt((R-1)/R) * sd``), normal interval and p-value.  With ONE treated unit
      and ``n_reps=None`` every donor is used once, which is the limit of the package's random
      draws as ``R -> infinity`` (no Monte Carlo noise); an integer ``n_reps`` draws that many
      placebos with ``seed`` as the package does.  The paper recommends this method when there
      is one treated unit (the bootstrap and jackknife are not defined then); it assumes the
      noise is homoskedastic across units (a donor's placebo error has the same distribution as
      the treated unit's).
    * ``"rank"``: placebo-in-space rank p-value of ``|tau| / pre-RMSPE`` and its test-inversion
      interval (as :func:`synthetic_control`); no SE.  Always computed, and in ``diagnostics``.

    ``placebo_cache`` and ``treated_cache`` (dicts the caller owns) share fits between calls:
    the single-unit placebo fits (which never involve the treated unit) and the treated fits
    (see :func:`synthetic_did_prefit`).
    """
    if method not in SDID_METHODS:
        raise ValueError(f"method must be one of {sorted(SDID_METHODS)}")
    if inference not in {"placebo", "rank"}:
        raise ValueError("inference must be 'placebo' or 'rank'")
    pn = donor_panel(data, unit, time, outcome, treated, pre, post, donors)
    n0, n1 = len(pn.donors), len(pn.treated)
    singles = n1 == 1
    s = _setup(pn, method, max_iter, n1)
    y1 = pn.y1.mean(axis=0)
    fit = _treated_fit(s, y1, treated_cache)
    tau, omega, lam = fit
    rng = np.random.default_rng(seed)
    sets = placebo_sets(n0, n1, None if singles else n_reps, rng)
    placebos = _placebo_fits(s, sets, omega, lam, placebo_cache, singles and n_reps is None)
    tau_pl = placebos[0]
    se, se_draws = _placebo_se(tau_pl, singles, n_reps, rng, n0)
    se_all = float(np.std(tau_pl, ddof=0)) if singles else None
    rk = _rank_inference(pn, y1, fit, placebos, sets, alpha)
    if inference == "placebo":
        zc = float(stats.norm.ppf(1 - alpha / 2))
        lo, hi = tau - zc * se, tau + zc * se
        p = float(2 * stats.norm.sf(abs(tau) / se)) if se > 0 else float("nan")
        se_out: float | None = se
    else:
        (lo, hi), p, se_out = rk["interval"], rk["p_value"], None
    return EstimationResult(
        method=SDID_METHODS[method],
        outcome=outcome_label or outcome,
        estimate=tau,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="placebo variance (synthdid), normal interval"
        if inference == "placebo"
        else "placebo-in-space, rank of |tau| / pre-RMSPE",
        alpha=alpha,
        n_treated=n1,
        n_comparison_units=n0,
        pre_periods=list(pn.pre),
        post_periods=list(pn.post),
        conventions=_conventions(
            method, inference, n1, singles, n_reps, len(se_draws), seed, alpha
        ),
        se=se_out,
        unit=unit_label,
        diagnostics=_diagnostics(s, y1, fit, rk, se, se_all, len(se_draws)),
        distribution=_distribution(pn, tau, tau_pl, rk, sets, singles),
        terms=_gap_terms(pn, rk["gap"]),
        extra={
            "paths": synthetic_path(pn.pre + pn.post, y1, pn.y0, omega, offset=rk["offset"]),
            "weights": donor_weights_frame(pn.donors, omega),
            "time_weights": pd.DataFrame({"time": pn.pre, "weight": lam}),
        },
    )
