"""Synthetic control and synthetic difference-in-differences for one treated unit (or one block
of units adopting at the same time), with placebo inference.

Notation: ``N0`` donor (control) units, ``N1`` treated units (their outcomes are averaged),
``T0`` pre-periods, ``T1`` post-periods; ``Y0`` is the donors' outcome matrix, ``y1`` the treated
(average) path.

Synthetic control (Abadie, Diamond and Hainmueller 2010), :func:`synthetic_control`
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

Synthetic difference-in-differences (Arkhangelsky et al. 2021), :func:`synthetic_did`
    As the R package ``synthdid`` (0.0.9): unit weights ``omega`` with an intercept and ridge
    penalty ``zeta = (N1 T1)^(1/4) * sd(first differences of the donors' pre-period outcomes)``;
    time weights ``lambda`` with an intercept and penalty ``1e-6 * sd``; both by Frank-Wolfe with
    exact line search, 100 iterations, sparsification (weights <= max/4 set to zero, then
    renormalised), then up to 1e4 iterations, stopping when the objective falls by less than
    ``(1e-5 sd)^2``.  Estimate = ``(y1_post - omega'Y0_post) - lambda'(y1_pre - omega'Y0_pre)``
    (post means).  ``method="sc"`` is ``synthdid::sc_estimate`` (omega without intercept, penalty
    ``1e-6 sd``, no time weights) and ``method="did"`` uses uniform weights.

    Inference: the package's placebo variance (Algorithm 4 of the paper): donors play the treated
    block, weights re-estimated (warm-started from the fitted ones, tuning kept fixed), SE = the
    standard deviation of the placebo estimates, normal interval.  Plus the placebo-in-space rank
    p-value of ``|tau| / pre-RMSPE`` and its test-inversion interval (``inference="rank"``).

Both results carry ``extra["paths"]`` (time, treated, synthetic, gap) for charts, the weights in
``extra["weights"]`` and the placebo table in ``distribution``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.models.did_one_treated import placebo_ci
from evaluation.models.results import EstimationResult

SC_METHOD = "Synthetic control, placebo-in-space inference"
SDID_METHODS = {
    "sdid": "Synthetic difference-in-differences (Arkhangelsky et al. 2021)",
    "sc": "Synthetic control (synthdid::sc_estimate)",
    "did": "Difference-in-differences (uniform weights, synthdid::did_estimate)",
}
RMSPE_FLOOR = 1e-9  # relative to the outcome's scale: a perfect pre-fit is treated as this


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class _Panel:
    y0: np.ndarray  # (N0, T) donors' outcomes, columns = pre then post
    y1: np.ndarray  # (N1, T) treated units' outcomes
    donors: list
    treated: list
    pre: list
    post: list
    excluded: dict

    @property
    def t0(self) -> int:
        return len(self.pre)


def _as_list(x) -> list:
    if isinstance(x, (list, tuple, set, np.ndarray, pd.Index, pd.Series)):
        return list(x)
    return [x]


def _panel(data, unit, time, outcome, treated, pre, post, donors) -> _Panel:
    pre, post = sorted(_as_list(pre)), sorted(_as_list(post))
    if len(pre) < 2 or len(post) < 1:
        raise ValueError("need at least two pre-periods and one post-period")
    if set(pre) & set(post):
        raise ValueError("pre and post periods overlap")
    treated = _as_list(treated)
    if data.duplicated([unit, time]).any():
        raise ValueError(f"duplicate ({unit}, {time}) rows")
    y = data.pivot(index=unit, columns=time, values=outcome).astype(float)
    missing = [t for t in pre + post if t not in y.columns]
    if missing:
        raise ValueError(f"periods {missing} are not in the data")
    y = y[pre + post]
    for u in treated:
        if u not in y.index:
            raise ValueError(f"treated unit {u!r} is not in the data")
        if y.loc[u].isna().any():
            raise ValueError(f"treated unit {u!r} lacks {outcome} in some periods")
    candidates = _as_list(donors) if donors is not None else list(y.index)
    candidates = [u for u in candidates if u not in set(treated)]
    excluded = {u: "not in the data" for u in candidates if u not in y.index}
    ok = y.notna().all(axis=1)
    excluded.update(
        {
            u: "missing outcome in a pre or post period"
            for u in candidates
            if u in y.index and not ok[u]
        }
    )
    pool = sorted(u for u in candidates if u in y.index and ok[u])
    if len(pool) < 2:
        raise ValueError("fewer than two usable donor units")
    return _Panel(
        y0=y.loc[pool].to_numpy(float),
        y1=y.loc[treated].to_numpy(float),
        donors=pool,
        treated=treated,
        pre=pre,
        post=post,
        excluded=excluded,
    )


def _placebo_sets(n0: int, n1: int, n_reps: int | None, rng) -> list[np.ndarray]:
    """Placebo treated blocks: every donor singly when ``n_reps`` is None and ``n1 == 1``;
    otherwise ``n_reps`` random blocks of ``n1`` donors (as ``sample(1:N0)`` in synthdid)."""
    if n1 >= n0:
        raise ValueError("need more donors than treated units for placebo inference")
    if n_reps is None:
        if n1 == 1:
            return [np.array([j]) for j in range(n0)]
        n_reps = 200
    return [rng.permutation(n0)[n0 - n1 :] for _ in range(n_reps)]


def _rank_p(stat: float, placebo: np.ndarray) -> tuple[float, int]:
    """(1 + #{placebo >= stat}) / (1 + J) with a relative tolerance for ties."""
    if not math.isfinite(stat):
        return float("nan"), 0
    n = int((placebo >= stat * (1 - 1e-10)).sum())
    return (1 + n) / (1 + len(placebo)), n + 1


def synthetic_path(
    times, treated_path, donor_paths, weights, *, offset: float = 0.0
) -> pd.DataFrame:
    """Chart frame: ``time``, ``treated``, ``synthetic = donors' weighted path + offset`` and
    ``gap = treated - synthetic``.  ``offset`` is SDID's intercept
    ``lambda'(y1_pre - omega'Y0_pre)`` (zero for a synthetic control)."""
    synth = np.asarray(donor_paths, float).T @ np.asarray(weights, float) + offset
    treated_path = np.asarray(treated_path, float)
    return pd.DataFrame(
        {
            "time": list(times),
            "treated": treated_path,
            "synthetic": synth,
            "gap": treated_path - synth,
        }
    )


# --------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------


def simplex_least_squares(
    a: np.ndarray, b: np.ndarray, *, tol: float = 1e-10, max_iter: int | None = None
) -> np.ndarray:
    """Exact minimiser of ``|b - a w|^2`` over the simplex (``w >= 0``, ``sum w = 1``).

    Active-set method in the style of Lawson and Hanson's NNLS: start from the best single
    column, add the column with the most negative reduced gradient, solve the equality-constrained
    least squares on the active columns (eliminating the sum-to-one constraint against a reference
    column, with ``lstsq`` so rank deficiency is harmless), and step back to feasibility when a
    weight would turn negative.  Deterministic; terminates at a KKT point (the global optimum, the
    problem being convex).  When the optimum is not unique (the target is inside the donors'
    convex hull, typical with fewer periods than donors) one optimal solution is returned.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    n, p = a.shape
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-300)
    a, b = a / scale, b / scale
    max_iter = max_iter or 10 * p + 100
    w = np.zeros(p)
    k0 = int(np.argmin(((a - b[:, None]) ** 2).sum(axis=0)))
    w[k0] = 1.0
    active = np.zeros(p, bool)
    active[k0] = True

    def solve(mask: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask)
        s = np.zeros(p)
        if idx.size == 1:
            s[idx[0]] = 1.0
            return s
        ref, rest = idx[0], idx[1:]
        m = a[:, rest] - a[:, [ref]]
        z = np.linalg.lstsq(m, b - a[:, ref], rcond=None)[0]
        s[rest] = z
        s[ref] = 1.0 - z.sum()
        return s

    for _ in range(max_iter):
        g = a.T @ (a @ w - b)  # half gradient
        nu = float(w @ g)  # = g_i on the support at a subproblem optimum
        reduced = np.where(active, np.inf, g - nu)
        j = int(np.argmin(reduced))
        if not reduced[j] < -tol:
            return w
        active[j] = True
        for _inner in range(p + 1):
            s = solve(active)
            bad = active & (s <= 0)
            if not bad.any():
                w = s
                break
            ratio = w[bad] / np.where(w[bad] - s[bad] > 0, w[bad] - s[bad], np.inf)
            step = float(ratio.min())
            w = w + step * (s - w)
            w[~active] = 0.0
            active &= w > 1e-14
            if not active.any():  # pragma: no cover - numerical safety
                active[k0] = True
            w[~active] = 0.0
            w = np.clip(w, 0, None)
            w /= w.sum()
    warnings.warn("simplex_least_squares: iteration limit reached", stacklevel=2)
    return w


def _sparsify(v: np.ndarray) -> np.ndarray:
    """synthdid's default: zero the weights <= max/4 (row-wise), renormalise."""
    v = np.where(v <= v.max(axis=1, keepdims=True) / 4, 0.0, v)
    return v / v.sum(axis=1, keepdims=True)


def _frank_wolfe(a, mu, rows, b, allowed, x0, zeta2, min_decrease, max_iter):
    """Batched version of synthdid's ``sc.weight.fw`` (K independent problems at once).

    Problem k: minimise ``zeta2_k |x|^2 + |A_k x - b_k|^2 / n_k`` over the simplex restricted to
    ``allowed[k]``, with ``A_k = rows[k] * (a - mu[k])``: a shared matrix ``a`` (n, p), a
    per-problem column offset ``mu`` (K, p) -- the intercept's centring -- and a per-problem row
    mask ``rows`` (K, n) (``mu``/``rows`` None: zero / all rows); ``b`` (K, n) already centred
    and masked; ``n_k = rows[k].sum()``.  Each iteration takes the vertex minimising the half
    gradient ``(A x - b)'A + eta x`` (``eta = n_k zeta2_k``; first index on ties, as
    ``which.min``) with exact line search; problem k stops once its objective decreases by no
    more than ``min_decrease_k^2``, or after ``max_iter`` iterations, exactly as the R loop, so
    each problem's iterates are those of a separate run.  Speed: the residual ``A x - b`` and
    ``|x|^2`` are updated incrementally (the step moves ``x`` towards one vertex), and finished
    problems are dropped from the working arrays in batches.
    """
    n_all, p = x0.shape
    n = a.shape[0]
    rows_f = np.ones((n_all, n)) if rows is None else rows.astype(float)
    n_rows = rows_f.sum(axis=1)
    eta = n_rows * zeta2
    md2 = min_decrease**2
    out = x0.copy()
    iters = np.full(n_all, max_iter)
    # Working arrays (compacted as problems finish).
    wk = np.arange(n_all)
    x = x0.copy()
    mu_w = None if mu is None else mu.copy()
    rw, bw = rows_f.copy(), b.copy()
    pen = np.where(allowed, 0.0, np.inf)
    ax = x @ a.T if mu is None else rw * (x @ a.T - (mu_w * x).sum(axis=1, keepdims=True))
    r = ax - bw
    xx = (x**2).sum(axis=1)
    etw, z2w, nw, mdw = eta.copy(), zeta2.copy(), n_rows.copy(), md2.copy()
    prev = np.full(n_all, np.nan)
    done = np.zeros(n_all, bool)
    for t in range(1, max_iter + 1):
        kk = np.arange(wk.size)
        hg = r @ a + etw[:, None] * x + pen
        if mu_w is not None:
            hg -= r.sum(axis=1, keepdims=True) * mu_w
        i = np.argmin(hg, axis=1)
        xi = x[kk, i]
        col = a[:, i].T if mu_w is None else rw * (a[:, i].T - mu_w[kk, i][:, None])
        derr = col - (r + bw)
        # d.x = e_i - x: x.d.x = x_i - |x|^2, |d.x|^2 = |x|^2 - 2 x_i + 1.
        xdx = xi - xx
        dxdx = xx - 2 * xi + 1
        num = -((r * derr).sum(axis=1) + etw * xdx)
        den = (derr**2).sum(axis=1) + etw * dxdx
        step = np.clip(np.divide(num, den, out=np.zeros_like(num), where=den > 0), 0.0, 1.0)
        step[dxdx <= 0] = 0.0  # x is already the vertex e_i
        x *= (1 - step)[:, None]
        x[kk, i] += step
        r += step[:, None] * derr
        xx = xx + 2 * step * xdx + step**2 * dxdx
        val = z2w * xx + (r**2).sum(axis=1) / nw
        pv = prev[wk]
        stop = ~done[wk] & (t >= 2) & ~(pv - val > mdw)
        prev[wk] = val
        if stop.any():
            out[wk[stop]] = x[stop]
            iters[wk[stop]] = t
            done[wk[stop]] = True
        keep = ~done[wk]
        if not keep.any():
            return out, iters
        if keep.sum() <= 0.8 * wk.size:
            wk, x, r, bw, rw, pen, xx = (
                wk[keep],
                x[keep],
                r[keep],
                bw[keep],
                rw[keep],
                pen[keep],
                xx[keep],
            )
            etw, z2w, nw, mdw = etw[keep], z2w[keep], nw[keep], mdw[keep]
            if mu_w is not None:
                mu_w = mu_w[keep]
    live = ~done[wk]
    out[wk[live]] = x[live]
    return out, iters


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
        lam, _ = _frank_wolfe(*args, lam, z2, md, max_iter_pre_sparsify)
        if sparsify:
            lam, _ = _frank_wolfe(*args, _sparsify(lam), z2, md, max_iter)
    if update_omega:
        # Rows = pre-periods, columns = donors; target = the treated pre path.
        a = y0pre.T
        b = target_pre
        if omega_intercept:
            a = a - a.mean(axis=0, keepdims=True)
            b = b - b.mean(axis=1, keepdims=True)
        args = (a, None, None, b, donor_mask)
        z2 = zeta_omega**2 * ones
        omg, _ = _frank_wolfe(*args, omg, z2, md, max_iter_pre_sparsify)
        if sparsify:
            omg, _ = _frank_wolfe(*args, _sparsify(omg), z2, md, max_iter)
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


# --------------------------------------------------------------------------------------------
# Synthetic control
# --------------------------------------------------------------------------------------------


def _sc_weights(y0pre: np.ndarray, target: np.ndarray, ridge_eta: float) -> np.ndarray:
    """Simplex least squares of ``target`` on the donors' pre paths, optional ridge."""
    a = y0pre.T
    b = target
    if ridge_eta > 0:
        a = np.vstack([a, math.sqrt(ridge_eta) * np.eye(a.shape[1])])
        b = np.concatenate([b, np.zeros(a.shape[1])])
    return simplex_least_squares(a, b)


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
    pn = _panel(data, unit, time, outcome, treated, pre, post, donors)
    t0, n0, n1 = pn.t0, len(pn.donors), len(pn.treated)
    y0pre = pn.y0[:, :t0]
    y1 = pn.y1.mean(axis=0)
    noise = float(np.std(np.diff(y0pre, axis=1), ddof=1))
    ridge_eta = t0 * (ridge * noise) ** 2
    scale = float(np.abs(pn.y0).max()) or 1.0
    floor = RMSPE_FLOOR * scale if rmspe_floor is None else float(rmspe_floor)

    def fit(donor_idx: np.ndarray, target: np.ndarray):
        w = _sc_weights(y0pre[donor_idx], target[:t0], ridge_eta)
        gap = target - pn.y0[donor_idx].T @ w
        return w, gap

    def summarise(gap: np.ndarray) -> dict:
        pre_rmspe = float(np.sqrt(np.mean(gap[:t0] ** 2)))
        post_rmspe = float(np.sqrt(np.mean(gap[t0:] ** 2)))
        est = float(gap[t0:].mean())
        d = max(pre_rmspe, floor)
        return {
            "estimate": est,
            "pre_rmspe": pre_rmspe,
            "post_rmspe": post_rmspe,
            "rmspe_ratio": post_rmspe / d,
            "abs_z": abs(est) / d,
        }

    w, gap = fit(np.arange(n0), y1)
    main = summarise(gap)

    # Placebo-in-space: donors in turn (or random blocks) against the remaining donors.
    rng = np.random.default_rng(seed)
    key = None
    if placebo_cache is not None and n1 == 1 and n_reps is None:
        # the donors' outcomes are part of the key (two outcomes can share donors)
        key = (
            "sc",
            tuple(pn.donors),
            tuple(pn.pre),
            tuple(pn.post),
            ridge_eta,
            floor,
            _digest(pn.y0),
        )
    if key is not None and key in placebo_cache:
        rows, gaps_pl = placebo_cache[key]
    else:
        sets = _placebo_sets(n0, n1, n_reps, rng)
        rows, gaps_pl = [], []
        for s in sets:
            rest = np.setdiff1d(np.arange(n0), s)
            _, g = fit(rest, pn.y0[s].mean(axis=0))
            gaps_pl.append(g)
            label = pn.donors[s[0]] if n1 == 1 else "+".join(str(pn.donors[i]) for i in s)
            rows.append({"unit": label, **summarise(g)})
        gaps_pl = np.array(gaps_pl)
        if key is not None:
            placebo_cache[key] = (rows, gaps_pl)
    dist = pd.DataFrame(rows)
    pre_pl = np.maximum(dist["pre_rmspe"].to_numpy(), floor)

    p_ratio, rank_ratio = _rank_p(main["rmspe_ratio"], dist["rmspe_ratio"].to_numpy())
    p_mean, rank_mean = _rank_p(main["abs_z"], dist["abs_z"].to_numpy())
    d_main = max(main["pre_rmspe"], floor)
    est = main["estimate"]
    j = len(dist)
    m = math.floor(alpha * (1 + j) + 1e-12)
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
    if statistic == "mean_gap":
        p, lo, hi = p_mean, lo_mean, hi_mean
    else:
        p, lo, hi = p_ratio, lo_ratio, hi_ratio

    # Per-period gaps with their own placebo rank p-values and inverted intervals.
    terms = []
    for k, t in enumerate(pn.post):
        zt = np.abs(gaps_pl[:, t0 + k]) / pre_pl
        pt, _ = _rank_p(abs(gap[t0 + k]) / d_main, zt)
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
    terms = pd.DataFrame(terms).set_index("term")

    weights = pd.DataFrame({"unit": pn.donors, "weight": w}).sort_values(
        "weight", ascending=False, ignore_index=True
    )
    paths = synthetic_path(pn.pre + pn.post, y1, pn.y0, w)
    dist = pd.concat(
        [
            pd.DataFrame([{"unit": "+".join(map(str, pn.treated)), **main, "is_treated": True}]),
            dist.assign(is_treated=False),
        ],
        ignore_index=True,
    )
    y1pre_sd = float(np.std(y1[:t0], ddof=1))
    level = round(100 * (1 - alpha))
    conventions = {
        "estimand": "effect on the treated unit(s), averaged over the post-period, additive "
        "(outcome units): treated minus its synthetic control",
        "weights": "non-negative donor weights summing to one, minimising the pre-period squared "
        "error of the outcome path (no intercept, no predictors"
        + (f", ridge {ridge} x SD of donor first differences" if ridge else "")
        + "); exact active-set solution",
        "treated_block": "one treated unit"
        if n1 == 1
        else f"{n1} treated units adopting together, outcomes averaged (unweighted)",
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
    return EstimationResult(
        method=SC_METHOD,
        outcome=outcome_label or outcome,
        estimate=est,
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
        conventions=conventions,
        se=None,
        unit=unit_label,
        diagnostics={
            "pre_rmspe": main["pre_rmspe"],
            "post_rmspe": main["post_rmspe"],
            "rmspe_ratio": main["rmspe_ratio"],
            "pre_rmspe_over_pre_sd": main["pre_rmspe"] / y1pre_sd if y1pre_sd > 0 else None,
            "treated_pre_sd": y1pre_sd,
            "p_value_rmspe_ratio": p_ratio,
            "p_value_mean_gap": p_mean,
            "rank_rmspe_ratio": rank_ratio,
            "rank_mean_gap": rank_mean,
            "interval_mean_gap": [lo_mean, hi_mean],
            "interval_rmspe_ratio": [lo_ratio, hi_ratio],
            "n_placebos": j,
            "placebo_median_pre_rmspe": float(np.median(dist["pre_rmspe"][1:])),
            "n_perfect_prefit_placebos": int((dist["pre_rmspe"][1:] <= floor).sum()),
            "rmspe_floor": floor,
            "noise_level": noise,
            "n_nonzero_weights": int((w > 1e-8).sum()),
            "weights": {str(u): float(v) for u, v in zip(pn.donors, w, strict=True) if v > 1e-8},
            "excluded_units": pn.excluded,
        },
        distribution=dist,
        terms=terms,
        extra={"paths": paths, "weights": weights},
    )


# --------------------------------------------------------------------------------------------
# Synthetic difference-in-differences
# --------------------------------------------------------------------------------------------


def _sdid_options(method: str, y0pre: np.ndarray, n1: int, t1: int, max_iter: int):
    """synthdid's tuning: penalties from the donors' pre-period first differences."""
    noise = float(np.std(np.diff(y0pre, axis=1), ddof=1))
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


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=float).tobytes()).hexdigest()


def _treated_key(method: str, pn: _Panel, max_iter: int) -> tuple:
    """Cache key of a treated fit: everything it depends on, data included."""
    return (
        "treated",
        method,
        tuple(pn.donors),
        tuple(pn.pre),
        tuple(pn.post),
        max_iter,
        _digest(pn.y0),
        _digest(pn.y1),
    )


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
            pn = _panel(data, unit, time, outcome, u, pre, post, donors)
        except ValueError:
            continue
        key = _treated_key(method, pn, max_iter)
        if key not in cache:
            groups.setdefault(_digest(pn.y0) + repr(pn.donors), []).append((pn, key))
    stored = 0
    for members in groups.values():
        pn0 = members[0][0]
        t0, n0, t1 = pn0.t0, len(pn0.donors), len(pn0.post)
        y0pre, y0post = pn0.y0[:, :t0], pn0.y0[:, t0:].mean(axis=1)
        opts, lambda_init = _sdid_options(method, y0pre, 1, t1, max_iter)
        targets = np.array([pn.y1.mean(axis=0) for pn, _ in members])
        k = len(members)
        tau, omg, lam = _sdid_fit(
            y0pre,
            y0post,
            targets[:, :t0],
            targets[:, t0:].mean(axis=1),
            np.ones((k, n0), bool),
            omega0=np.full((k, n0), 1.0 / n0),
            lambda0=np.repeat(lambda_init[None, :], k, axis=0),
            **opts,
        )
        for i, (_, key) in enumerate(members):
            cache[key] = (float(tau[i]), omg[i], lam[i])
            stored += 1
    return stored


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
    """
    if method not in SDID_METHODS:
        raise ValueError(f"method must be one of {sorted(SDID_METHODS)}")
    if inference not in {"placebo", "rank"}:
        raise ValueError("inference must be 'placebo' or 'rank'")
    pn = _panel(data, unit, time, outcome, treated, pre, post, donors)
    t0, n0, n1 = pn.t0, len(pn.donors), len(pn.treated)
    t1 = len(pn.post)
    y0pre, y0post = pn.y0[:, :t0], pn.y0[:, t0:].mean(axis=1)
    y1 = pn.y1.mean(axis=0)
    opts, lambda_init = _sdid_options(method, y0pre, n1, t1, max_iter)
    key = _treated_key(method, pn, max_iter) if treated_cache is not None else None
    if key is not None and key in treated_cache:
        tau, omega, lam = treated_cache[key]
    else:
        tau, omg, lam = _sdid_fit(
            y0pre,
            y0post,
            y1[None, :t0],
            np.array([y1[t0:].mean()]),
            np.ones((1, n0), bool),
            omega0=np.full((1, n0), 1.0 / n0),
            lambda0=lambda_init[None, :],
            **opts,
        )
        tau, omega, lam = float(tau[0]), omg[0], lam[0]
        if key is not None:
            treated_cache[key] = (tau, omega, lam)

    # Placebos: warm start from the fitted weights (omega restricted and renormalised).
    rng = np.random.default_rng(seed)

    def run(sets: list[np.ndarray]):
        mask = np.ones((len(sets), n0), bool)
        for k, s in enumerate(sets):
            mask[k, s] = False
        tpre = np.array([y0pre[s].mean(axis=0) for s in sets])
        tpost = np.array([y0post[s].mean() for s in sets])
        om0 = _sum_normalize(np.where(mask, omega[None, :], 0.0))
        t_, o_, l_ = _sdid_fit(
            y0pre,
            y0post,
            tpre,
            tpost,
            mask,
            omega0=om0,
            lambda0=np.repeat(lam[None, :], len(sets), axis=0),
            **opts,
        )
        return t_, o_, l_

    singles = n1 == 1
    rank_sets = _placebo_sets(n0, n1, None if singles else n_reps, rng)
    # One treated unit, every donor as a placebo: the placebo fits do not involve the treated
    # unit, so callers evaluating many pilots against the same donors can share them through
    # ``placebo_cache`` (a dict they own).  Shared fits start Frank-Wolfe from uniform weights
    # instead of the treated fit's (synthdid's warm start); see METHODOLOGY.md.
    key = None
    if placebo_cache is not None and singles and n_reps is None:
        # the donors' outcomes themselves are part of the key (two outcomes can share donors)
        key = (method, tuple(pn.donors), tuple(pn.pre), tuple(pn.post), max_iter, _digest(pn.y0))
    if key is not None and key in placebo_cache:
        tau_pl, om_pl, lam_pl = placebo_cache[key]
    else:
        if key is not None:
            saved = omega, lam
            omega, lam = np.full(n0, 1.0 / n0), np.asarray(lambda_init, dtype=float)
        tau_pl, om_pl, lam_pl = run(rank_sets)
        if key is not None:
            omega, lam = saved
            placebo_cache[key] = (tau_pl, om_pl, lam_pl)
    if singles and n_reps is not None:
        draws = rng.integers(0, n0, size=n_reps)  # = the last element of sample(1:N0)
        se_draws = tau_pl[draws]
    else:
        se_draws = tau_pl
    se = float(np.std(se_draws, ddof=0))  # sqrt((R-1)/R) * sd, as synthdid::placebo_se
    se_all = float(np.std(tau_pl, ddof=0)) if singles else None

    # Paths and pre-fit (SDID's intercept makes the lambda-weighted pre gap zero).
    def path_gap(target_full, w, lw, donor_full):
        synth = donor_full.T @ w
        offset = float(lw @ (target_full[:t0] - synth[:t0]))
        return target_full - synth - offset, offset

    gap, offset = path_gap(y1, omega, lam, pn.y0)
    pre_rmspe = float(np.sqrt(np.mean(gap[:t0] ** 2)))
    floor = RMSPE_FLOOR * (float(np.abs(pn.y0).max()) or 1.0)
    pl_pre = np.empty(len(rank_sets))
    for k, s in enumerate(rank_sets):
        target = pn.y0[s].mean(axis=0)
        g, _ = path_gap(target, om_pl[k], lam_pl[k], pn.y0)
        pl_pre[k] = float(np.sqrt(np.mean(g[:t0] ** 2)))
    z = abs(tau) / max(pre_rmspe, floor)
    z_pl = np.abs(tau_pl) / np.maximum(pl_pre, floor)
    p_rank, rank = _rank_p(z, z_pl)
    lo_rank, hi_rank = placebo_ci(tau, max(pre_rmspe, floor), z_pl, alpha)
    p_abs, _ = _rank_p(abs(tau), np.abs(tau_pl))
    zc = float(stats.norm.ppf(1 - alpha / 2))
    if inference == "placebo":
        lo, hi = tau - zc * se, tau + zc * se
        p = float(2 * stats.norm.sf(abs(tau) / se)) if se > 0 else float("nan")
        se_out: float | None = se
    else:
        lo, hi, p, se_out = lo_rank, hi_rank, p_rank, None

    labels = [
        pn.donors[s[0]] if singles else "+".join(str(pn.donors[i]) for i in s) for s in rank_sets
    ]
    dist = pd.DataFrame(
        {
            "unit": ["+".join(map(str, pn.treated))] + labels,
            "estimate": np.concatenate([[tau], tau_pl]),
            "pre_rmspe": np.concatenate([[pre_rmspe], pl_pre]),
            "abs_z": np.concatenate([[z], z_pl]),
            "is_treated": [True] + [False] * len(rank_sets),
        }
    )
    terms = pd.DataFrame(
        [
            {
                "term": f"gap_{t}",
                "estimate": float(gap[t0 + k]),
                "se": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
            }
            for k, t in enumerate(pn.post)
        ]
    ).set_index("term")
    weights = pd.DataFrame({"unit": pn.donors, "weight": omega}).sort_values(
        "weight", ascending=False, ignore_index=True
    )
    time_weights = pd.DataFrame({"time": pn.pre, "weight": lam})
    paths = synthetic_path(pn.pre + pn.post, y1, pn.y0, omega, offset=offset)
    y1pre_sd = float(np.std(y1[:t0], ddof=1))
    level = round(100 * (1 - alpha))
    conventions = {
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
        "treated_block": "one treated unit"
        if n1 == 1
        else f"{n1} treated units adopting together, outcomes averaged (unweighted)",
        "standard_error": (
            "placebo variance (synthdid 'placebo'): SD of estimates with donors as fake treated "
            + (
                "units, every donor once (limit of the package's random draws)"
                if singles and n_reps is None
                else f"blocks, {len(se_draws)} draws (seed {seed})"
            )
            + "; assumes homoskedastic noise across units"
        )
        if inference == "placebo"
        else "not reported (rank inference); the placebo SE is in diagnostics",
        "interval": f"{level}% normal interval estimate +/- z x placebo SE"
        if inference == "placebo"
        else f"{level}% set of constant additive effects not rejected by the placebo rank test "
        "(test inversion)",
        "p_value": "two-sided normal p-value from the placebo SE"
        if inference == "placebo"
        else "placebo-in-space rank of |tau| / pre-RMSPE: (1 + #) / (1 + J)",
        "placebo_tuning": "placebo fits keep the fitted penalties and stopping rule and start "
        "from the fitted weights (as synthdid::placebo_se)",
    }
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
        conventions=conventions,
        se=se_out,
        unit=unit_label,
        diagnostics={
            "placebo_se": se,
            "placebo_se_all_donors": se_all,
            "n_placebo_draws": int(len(se_draws)),
            "p_value_rank": p_rank,
            "p_value_rank_abs_tau": p_abs,
            "rank": rank,
            "interval_rank": [lo_rank, hi_rank],
            "pre_rmspe": pre_rmspe,
            "pre_rmspe_over_pre_sd": pre_rmspe / y1pre_sd if y1pre_sd > 0 else None,
            "treated_pre_sd": y1pre_sd,
            "placebo_median_pre_rmspe": float(np.median(pl_pre)),
            "intercept": offset,
            "noise_level": float(np.std(np.diff(y0pre, axis=1), ddof=1)),
            "zeta_omega": opts["zeta_omega"],
            "zeta_lambda": opts["zeta_lambda"],
            "effective_n0": float(1 / np.sum(omega**2)),
            "effective_t0": float(1 / np.sum(lam**2)) if lam.sum() > 0 else None,
            "weights": {str(u): float(v) for u, v in zip(pn.donors, omega, strict=True) if v > 0},
            "time_weights": {str(t): float(v) for t, v in zip(pn.pre, lam, strict=True)},
            "excluded_units": pn.excluded,
        },
        distribution=dist,
        terms=terms,
        extra={"paths": paths, "weights": weights, "time_weights": time_weights},
    )
