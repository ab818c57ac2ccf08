"""What synthetic control and synthetic DiD share: the donor panel, the weight solvers, the
placebo blocks, the placebo rank p-value and the chart path.

Notation: ``N0`` donor (control) units, ``N1`` treated units (their outcomes are averaged),
``T0`` pre-periods, ``T1`` post-periods; ``Y0`` is the donors' outcome matrix, ``y1`` the treated
(average) path.

Solvers:

* :func:`simplex_least_squares` (synthetic control): the exact minimiser of a least-squares loss
  over the simplex, by an active-set method;
* :func:`frank_wolfe` (synthetic DiD): a batched version of synthdid's Frank-Wolfe iterations,
  with :func:`sparsify_weights`, synthdid's thresholding of small weights.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

RMSPE_FLOOR = 1e-9  # relative to the outcome's scale: a perfect pre-fit is treated as this


# --------------------------------------------------------------------------------------------
# Data and placebos
# --------------------------------------------------------------------------------------------


@dataclass
class DonorPanel:
    """The outcome matrices of one synthetic comparison (see :func:`donor_panel`)."""

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


def as_list(x) -> list:
    if isinstance(x, (list, tuple, set, np.ndarray, pd.Index, pd.Series)):
        return list(x)
    return [x]


def donor_panel(data, unit, time, outcome, treated, pre, post, donors) -> DonorPanel:
    """Donors' and treated units' outcomes over the pre then post periods, from long ``data``.

    Donors lacking the outcome in a pre or post period are dropped (listed in ``excluded``);
    the treated units must have it in every period."""
    pre, post = sorted(as_list(pre)), sorted(as_list(post))
    if len(pre) < 2 or len(post) < 1:
        raise ValueError("need at least two pre-periods and one post-period")
    if set(pre) & set(post):
        raise ValueError("pre and post periods overlap")
    treated = as_list(treated)
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
    candidates = as_list(donors) if donors is not None else list(y.index)
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
    return DonorPanel(
        y0=y.loc[pool].to_numpy(float),
        y1=y.loc[treated].to_numpy(float),
        donors=pool,
        treated=treated,
        pre=pre,
        post=post,
        excluded=excluded,
    )


def placebo_sets(n0: int, n1: int, n_reps: int | None, rng) -> list[np.ndarray]:
    """Placebo treated blocks: every donor singly when ``n_reps`` is None and ``n1 == 1``;
    otherwise ``n_reps`` random blocks of ``n1`` donors (as ``sample(1:N0)`` in synthdid)."""
    if n1 >= n0:
        raise ValueError("need more donors than treated units for placebo inference")
    if n_reps is None:
        if n1 == 1:
            return [np.array([j]) for j in range(n0)]
        n_reps = 200
    return [rng.permutation(n0)[n0 - n1 :] for _ in range(n_reps)]


def rank_p_value(stat: float, placebo: np.ndarray) -> tuple[float, int]:
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


def noise_level(y0pre: np.ndarray) -> float:
    """SD of the donors' pre-period first differences (synthdid's noise level)."""
    return float(np.std(np.diff(y0pre, axis=1), ddof=1))


def placebo_label(donors: list, block: np.ndarray, single: bool):
    """Name of a placebo: the donor itself, or its block's donors joined by ``+``."""
    return donors[block[0]] if single else "+".join(str(donors[i]) for i in block)


def donor_weights_frame(donors: list, weights: np.ndarray) -> pd.DataFrame:
    """Donors and their weights, largest first."""
    return pd.DataFrame({"unit": donors, "weight": weights}).sort_values(
        "weight", ascending=False, ignore_index=True
    )


def treated_block_text(n1: int) -> str:
    """The ``treated_block`` convention: one unit, or a block whose outcomes are averaged."""
    return (
        "one treated unit"
        if n1 == 1
        else f"{n1} treated units adopting together, outcomes averaged (unweighted)"
    )


def digest(a: np.ndarray) -> str:
    """SHA-256 of an array's values (cache keys include the data they were computed from)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=float).tobytes()).hexdigest()


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


def sparsify_weights(v: np.ndarray) -> np.ndarray:
    """synthdid's default: zero the weights <= max/4 (row-wise), renormalise."""
    v = np.where(v <= v.max(axis=1, keepdims=True) / 4, 0.0, v)
    return v / v.sum(axis=1, keepdims=True)


def frank_wolfe(a, mu, rows, b, allowed, x0, zeta2, min_decrease, max_iter):
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
            working = (wk, x, r, bw, rw, pen, xx, etw, z2w, nw, mdw)
            wk, x, r, bw, rw, pen, xx, etw, z2w, nw, mdw = (v[keep] for v in working)
            if mu_w is not None:
                mu_w = mu_w[keep]
    live = ~done[wk]
    out[wk[live]] = x[live]
    return out, iters
