"""Callaway & Sant'Anna (2021) group-time effects for staggered adoption, and their aggregations.

ATT(g,t) (g = first treated period) is a 2x2 DiD between cohort g and a clean comparison group
(never-treated units, or not-yet-treated units), balanced panel: a difference of means, or with
covariates a 2x2 estimator of :mod:`evaluation.models.drdid` (doubly robust, IPW, regression).
Aggregated as in R ``did::aggte`` (simple, group, dynamic = event time, calendar) by
:func:`aggregate`, with influence functions that include the estimation of the cohort-share
weights, analytic and multiplier-bootstrap SEs.  Mirrors R ``did`` 2.x defaults (varying base
period, Mammen multipliers, IQR-based bootstrap SE).  Headline: the simple aggregation.  Shared
conventions on cohorts: :mod:`evaluation.models.staggered_common`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.models.drdid import (
    EST_METHODS,
    CovariateError,
    check_covariate_columns,
    covariate_cell,
    covariates_text,
)
from evaluation.models.fe import factorize
from evaluation.models.results import EstimationResult
from evaluation.models.staggered_common import group_sum, periods_around, z_inference

_Z75 = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


# ============================================================================================
# Influence-function inference and aggregation
# ============================================================================================
@dataclass
class _CSState:
    """Everything ``aggregate`` needs (kept in ``result.extra['cs_state']``)."""

    cells: pd.DataFrame  # g, t, att, post, base
    psi: np.ndarray  # n_units x n_cells influence functions (scale: se = sqrt(sum psi^2)/n)
    G: np.ndarray  # cohort per unit (0 = never)
    w: np.ndarray  # unit weights, mean 1
    cluster: np.ndarray | None  # cluster codes per unit (None = unit level)
    glist: np.ndarray
    tlist: np.ndarray
    alpha: float
    n_boot: int
    seed: int
    multipliers: str
    inference: str
    cband: bool


def _multipliers(rng: np.random.Generator, size, kind: str) -> np.ndarray:
    if kind == "mammen":
        kappa = (math.sqrt(5) + 1) / 2
        p = kappa / math.sqrt(5)
        return np.where(rng.random(size) < p, 1 - kappa, kappa)
    if kind == "rademacher":
        return np.where(rng.random(size) < 0.5, -1.0, 1.0)
    raise ValueError("multipliers must be 'mammen' or 'rademacher'")


def _cs_inference(state: _CSState, IF: np.ndarray) -> dict[str, np.ndarray | float]:
    """Analytic and multiplier-bootstrap SEs (and the uniform critical value) for IF columns.

    Analytic: se_j = sqrt(sum_c (sum_{i in c} psi_ij)^2) / n.  Bootstrap (R ``did::mboot``): with
    clusters the influence function is averaged within cluster; draws
    b = sqrt(C) * mean_c(v_c psi_c), se = IQR(b) / (z_.75 - z_.25) / sqrt(C); the uniform band
    critical value is the 1-alpha quantile of max_j |b_j / IQR-sd_j|.  The multipliers are
    regenerated from ``seed`` so that every call sees the same draws.
    """
    IF = np.asarray(IF, dtype=float).reshape(IF.shape[0], -1)
    n = IF.shape[0]
    if state.cluster is None:
        sums, means, C = IF, IF, n
    else:
        C = int(state.cluster.max()) + 1
        sums = group_sum(state.cluster, IF)
        means = sums / np.bincount(state.cluster, minlength=C)[:, None]
    se_a = np.sqrt((sums**2).sum(0)) / n
    out: dict = {"se_analytic": se_a, "se_bootstrap": np.full(IF.shape[1], np.nan), "crit": np.nan}
    if state.n_boot > 0:
        rng = np.random.default_rng(state.seed)
        draws = np.empty((state.n_boot, IF.shape[1]))
        chunk = max(1, min(state.n_boot, 2_000_000 // max(C, 1)))
        for start in range(0, state.n_boot, chunk):
            m = min(chunk, state.n_boot - start)
            v = _multipliers(rng, (m, C), state.multipliers)
            draws[start : start + m] = (v @ means) / math.sqrt(C)
        q75 = np.quantile(draws, 0.75, axis=0, method="inverted_cdf")
        q25 = np.quantile(draws, 0.25, axis=0, method="inverted_cdf")
        bsig = (q75 - q25) / _Z75
        ok = np.isfinite(bsig) & ((draws**2).sum(0) > math.sqrt(np.finfo(float).eps) * 10)
        se_b = np.where(ok, bsig / math.sqrt(C), np.nan)
        out["se_bootstrap"] = se_b
        if ok.any():
            tmax = np.max(np.abs(draws[:, ok] / bsig[ok]), axis=1)
            out["crit"] = float(np.quantile(tmax, 1 - state.alpha, method="inverted_cdf"))
    tiny = math.sqrt(np.finfo(float).eps) * 10
    for key in ("se_analytic", "se_bootstrap"):
        out[key] = np.where(out[key] <= tiny, np.nan, out[key])
    use_boot = state.inference == "bootstrap" and state.n_boot > 0
    out["se"] = out["se_bootstrap"] if use_boot else out["se_analytic"]
    return out


def _band_crit(crit: float, alpha: float) -> float:
    """Uniform-band critical value; falls back to the pointwise one when the bootstrap gives NA
    or a smaller value (as R did)."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    return crit if math.isfinite(crit) and crit >= z else z


def _wif_groups(state: _CSState, groups: np.ndarray, pg: np.ndarray) -> np.ndarray:
    ind = state.w[:, None] * (state.G[:, None] == groups[None, :])
    dev = ind - pg[None, :]
    s = pg.sum()
    return dev / s - dev.sum(1, keepdims=True) * (pg / s**2)[None, :]


def _agg_components(state: _CSState, kind: str, balance_e=None, min_e=-np.inf, max_e=np.inf):
    """(labels, levels, estimates, IF matrix, overall estimate, overall IF) of one aggregation."""
    c = state.cells
    g, t, att = c["g"].to_numpy(), c["t"].to_numpy(), c["att"].to_numpy()
    valid = np.isfinite(att)
    pg_group = {gg: float(np.mean(state.w * (gg == state.G))) for gg in state.glist}
    pg = np.array([pg_group[x] for x in g])
    post = (g <= t) & (t <= g + max_e) & valid
    psi = state.psi

    def combine(which: np.ndarray, with_wif: bool = True):
        which = np.flatnonzero(which)
        if len(which) == 0:
            return float("nan"), np.zeros(psi.shape[0])
        wts = pg[which] / pg[which].sum()
        est = float(wts @ att[which])
        IF = psi[:, which] @ wts
        if with_wif:
            IF = IF + _wif_groups(state, g[which], pg[which]) @ att[which]
        return est, IF

    def components(prefix: str, keys, cell_key: np.ndarray, cells: np.ndarray, with_wif=True):
        """One aggregate per key, over the ``cells`` whose ``cell_key`` equals it."""
        pairs = [combine(cells & (cell_key == k), with_wif) for k in keys]
        labels = [f"{prefix}={k:g}" for k in keys]
        ests = np.array([est for est, _ in pairs])
        return labels, list(keys), ests, np.column_stack([IF for _, IF in pairs])

    if kind == "simple":
        est, IF = combine(post)
        return [], [], np.array([]), np.zeros((psi.shape[0], 0)), est, IF

    if kind == "group":
        # equal pg within a group: no weight-estimation term per group
        labels, levels, ests, IFs = components("g", state.glist, g, post, with_wif=False)
        ok = np.isfinite(ests)
        pgg = np.array([pg_group[x] for x in state.glist])[ok]
        wts = pgg / pgg.sum()
        overall = float(wts @ ests[ok])
        IF = IFs[:, ok] @ wts + _wif_groups(state, np.asarray(state.glist)[ok], pgg) @ ests[ok]
        return labels, levels, ests, IFs, overall, IF

    if kind == "dynamic":
        e_cell = t - g
        include = valid.copy()
        tmin, tmax = state.tlist.min(), state.tlist.max()
        eseq = np.unique(e_cell[include])
        if balance_e is not None:
            include &= (tmax - g) >= balance_e
            eseq = np.unique(e_cell[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - tmax + tmin)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        labels, levels, ests, IFs = components("e", eseq, e_cell, include)
        pos = (eseq >= 0) & np.isfinite(ests)
        overall = float(ests[pos].mean()) if pos.any() else float("nan")
        IF = IFs[:, pos].mean(1) if pos.any() else np.zeros(psi.shape[0])
        return labels, levels, ests, IFs, overall, IF

    if kind == "calendar":
        periods = state.tlist[state.tlist >= min(state.glist)]
        labels, levels, ests, IFs = components("t", periods, t, post)
        ok = np.isfinite(ests)
        overall = float(ests[ok].mean())
        return labels, levels, ests, IFs, overall, IFs[:, ok].mean(1)

    raise ValueError("kind must be 'simple', 'group', 'dynamic' or 'calendar'")


def _agg_frame(state: _CSState, kind: str, **kw) -> pd.DataFrame:
    labels, levels, ests, IFs, overall, IF = _agg_components(state, kind, **kw)
    allIF = np.column_stack([IFs, IF]) if IFs.shape[1] else IF[:, None]
    inf = _cs_inference(state, allIF)
    frame = _inference_frame(
        state,
        list(labels) + ["overall"],
        np.r_[levels, np.nan],
        np.r_[ests, overall],
        inf,
    )
    if state.cband and len(labels):
        # uniform band over the components only (as aggte), critical value from their bootstrap
        comp = _cs_inference(state, IFs)
        crit = _band_crit(comp["crit"], state.alpha)
        se = frame["se"].to_numpy()[:-1]
        frame["cband_low"] = np.r_[ests - crit * se, np.nan]
        frame["cband_high"] = np.r_[ests + crit * se, np.nan]
    return frame


def _inference_frame(state, labels, levels, ests, inf) -> pd.DataFrame:
    z = stats.norm.ppf(1 - state.alpha / 2)
    se = inf["se"]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.norm.sf(np.abs(ests / se))
    frame = pd.DataFrame(
        {
            "level": levels,
            "estimate": ests,
            "se": se,
            "se_analytic": inf["se_analytic"],
            "se_bootstrap": inf["se_bootstrap"],
            "ci_low": ests - z * se,
            "ci_high": ests + z * se,
            "p_value": p,
        },
        index=pd.Index(labels, name="term"),
    )
    return frame


def aggregate(
    result: EstimationResult,
    kind: str,
    *,
    balance_e: int | None = None,
    min_e: float = -np.inf,
    max_e: float = np.inf,
) -> pd.DataFrame:
    """Aggregate the ATT(g,t) of a :func:`callaway_santanna` result (R ``did::aggte``).

    ``kind``: ``"simple"`` (post-treatment cells weighted by cohort size), ``"group"`` (per
    cohort, then cohort-size weighted), ``"dynamic"`` (event time e = t - g, cohort-size weights;
    overall = mean of e >= 0), ``"calendar"`` (per period, then mean).  ``balance_e``, ``min_e``,
    ``max_e`` as in aggte.  Returns one row per component plus a row ``"overall"`` with columns
    level, estimate, se, se_analytic, se_bootstrap, ci_low, ci_high, p_value (and uniform-band
    columns cband_low / cband_high when the result was fitted with ``cband=True``).
    """
    state = result.extra.get("cs_state")
    if state is None:
        raise ValueError("aggregate() needs a result from callaway_santanna()")
    return _agg_frame(state, kind, balance_e=balance_e, min_e=min_e, max_e=max_e)


def _wide_panel(df, unit, time, cols):
    if df[[unit, time]].duplicated().any():
        raise ValueError(
            "duplicate (unit, time) rows: panel data with one row per unit and period required"
        )
    units = np.sort(df[unit].unique())
    times = np.sort(df[time].unique())
    if len(df) != len(units) * len(times):
        raise ValueError(
            f"unbalanced panel: {len(df)} rows for {len(units)} units x {len(times)} periods; "
            "callaway_santanna requires a balanced panel (drop incomplete units first)"
        )
    d = df.sort_values([unit, time])
    return units, times, {c: d[c].to_numpy().reshape(len(units), len(times)) for c in cols}


@dataclass
class _Panel:
    """The balanced panel as unit x period arrays, after the cohort recodings."""

    Y: np.ndarray  # n_units x n_periods outcomes
    G: np.ndarray  # cohort per unit (0 = never)
    w: np.ndarray  # unit weights, mean 1
    cluster: np.ndarray | None  # cluster codes per unit
    tlist: np.ndarray
    glist: np.ndarray
    notes: list
    units: np.ndarray | None = None  # unit identifiers
    X: np.ndarray | None = None  # n_units x n_periods x n_covariates (None: no covariates)
    covariates: tuple = ()


def _cs_panel(data, unit, time, outcome, first_treated, weights, cluster, control, anticipation,
              covariates=()):  # fmt: skip
    """Wide arrays of the panel; late cohorts recoded as never treated, units treated in the
    first period dropped, and (``notyet`` without never-treated units) the last cohort made the
    comparison group, as R ``did``."""
    covariates = list(covariates or ())
    check_covariate_columns(data, covariates)
    cols = [unit, time, outcome, first_treated] + [c for c in (weights, cluster) if c]
    df = data[list(dict.fromkeys(cols + covariates))].copy()
    if df[outcome].isna().any():
        raise ValueError(f"missing values in outcome '{outcome}'")
    df[first_treated] = df[first_treated].astype(float).fillna(0.0)
    notes: list[str] = []

    units, tlist, wide = _wide_panel(df, unit, time, list(dict.fromkeys(cols[2:] + covariates)))
    X = np.stack([wide[c].astype(float) for c in covariates], -1) if covariates else None
    tlist = tlist.astype(float)
    Y = wide[outcome].astype(float)
    for c in [first_treated] + [x for x in (weights, cluster) if x]:
        if not (wide[c] == wide[c][:, [0]]).all():
            raise ValueError(f"column '{c}' must be constant within unit")
    G = wide[first_treated][:, 0].astype(float)
    w = np.ones(len(units)) if weights is None else wide[weights][:, 0].astype(float)
    clus = None if cluster is None else wide[cluster][:, 0]

    late = tlist.max() < G
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period are treated as never treated"
        )
        G = np.where(late, 0.0, G)
    early = (G > 0) & (tlist.min() + anticipation >= G)
    if early.any():
        notes.append(
            f"{int(early.sum())} units treated in the first period (no pre-period) were dropped"
        )
    keep_units = ~early
    if control == "notyet" and not (G[keep_units] == 0).any():
        glast = G[keep_units].max()
        notes.append(
            f"no never-treated units: cohort {glast:g} used as comparison; periods >= {glast - anticipation:g} dropped"
        )
        keep_t = tlist < glast - anticipation
        Y, tlist = Y[:, keep_t], tlist[keep_t]
        X = None if X is None else X[:, keep_t]
        G = np.where(glast == G, 0.0, G)
    Y, G, w, units = Y[keep_units], G[keep_units], w[keep_units], units[keep_units]
    X = None if X is None else X[keep_units]
    if clus is not None:
        clus = factorize(clus[keep_units])[0]
    w = w / w.mean()
    if control == "never" and not (G == 0).any():
        raise ValueError("no never-treated units: use control='notyet'")
    glist = np.sort(np.unique(G[G > 0]))
    if len(glist) == 0:
        raise ValueError("no treated cohorts")
    return _Panel(Y, G, w, clus, tlist, glist, notes, units, X, tuple(covariates))


def _group_time_cells(p: _Panel, control: str, anticipation: int, base_period: str, est_method):
    """ATT(g,t) cells (g, t, att, post, base, n_treated, n_control) and their influence
    functions (n_units x n_cells); with covariates each cell is ``drdid.covariate_cell``."""
    Y, G, w, tlist = p.Y, p.G, p.w, p.tlist
    n = len(G)
    rows, psis = [], []
    T = len(tlist)
    for g in p.glist:
        universal_base = np.flatnonzero(tlist + anticipation < g)
        if len(universal_base) == 0:
            continue
        ub = int(universal_base[-1])
        for j in range(1 if base_period == "varying" else 0, T):
            tt = tlist[j]
            post = g <= tt
            b = ub if (post or base_period == "universal") else j - 1
            if j == b:  # universal base period itself: normalised to zero
                rows.append((g, tt, 0.0, post, tlist[b], 0, 0))
                psis.append(np.zeros(n))
                continue
            treat = g == G
            if control == "never":
                ctrl = G == 0
            else:
                ctrl = (G == 0) | ((max(tt, tlist[b]) + anticipation < G) & (g != G))
            dy = Y[:, j] - Y[:, b]
            n1, n0 = (w * treat).sum(), (w * ctrl).sum()
            if n1 == 0 or n0 == 0:
                rows.append((g, tt, np.nan, post, tlist[b], int(treat.sum()), int(ctrl.sum())))
                psis.append(np.zeros(n))
                continue
            if p.X is not None:
                att, psi = covariate_cell(p, est_method, treat, ctrl, j, b, g, p.notes)
            else:
                m1 = (w * treat * dy).sum() / n1
                m0 = (w * ctrl * dy).sum() / n0
                att = m1 - m0
                psi = n * (w * treat * (dy - m1) / n1 - w * ctrl * (dy - m0) / n0)
            rows.append((g, tt, att, post, tlist[b], int(treat.sum()), int(ctrl.sum())))
            psis.append(psi)
    cells = pd.DataFrame(rows, columns=["g", "t", "att", "post", "base", "n_treated", "n_control"])
    return cells, np.column_stack(psis)


def _att_gt_table(state: _CSState) -> pd.DataFrame:
    """The ATT(g,t) cells with their inference (and uniform band with ``cband``)."""
    cells = state.cells
    inf = _cs_inference(state, state.psi)
    att_tab = _inference_frame(
        state,
        [f"g={a:g},t={b:g}" for a, b in zip(cells.g, cells.t, strict=True)],
        np.full(len(cells), np.nan),
        cells["att"].to_numpy(),
        inf,
    )
    att_gt = pd.concat(
        [
            cells.reset_index(drop=True),
            att_tab.drop(columns=["level", "estimate"]).reset_index(drop=True),
        ],
        axis=1,
    )
    if state.cband:
        crit = _band_crit(inf["crit"], state.alpha)
        att_gt["cband_low"] = att_gt["att"] - crit * att_gt["se"]
        att_gt["cband_high"] = att_gt["att"] + crit * att_gt["se"]
        att_gt.attrs["cband_crit"] = crit
    return att_gt


def _pre_test(state: _CSState, notes: list) -> dict:
    """Wald pre-test of parallel trends on the pre-period ATT(g,t) (analytic covariance)."""
    cells, psi, clus = state.cells, state.psi, state.cluster
    n = psi.shape[0]
    pre = np.flatnonzero(
        (~cells["post"].to_numpy())
        & np.isfinite(cells["att"].to_numpy())
        & (cells["t"] != cells["base"]).to_numpy()
    )
    pre_test = {"statistic": float("nan"), "df": int(len(pre)), "p_value": float("nan")}
    if len(pre):
        P = psi[:, pre]
        if clus is not None:
            S = group_sum(clus, P)
        else:
            S = P
        V = S.T @ S / n**2
        a = cells["att"].to_numpy()[pre]
        try:
            W = float(a @ np.linalg.solve(V, a))
            pre_test = {
                "statistic": W,
                "df": int(len(pre)),
                "p_value": float(stats.chi2.sf(W, len(pre))),
            }
        except np.linalg.LinAlgError:
            notes.append("pre-test covariance singular: no Wald pre-test")
    return pre_test


def _diagnostics(G, glist, pre_test: dict, notes: list, head: pd.Series) -> dict:
    return {
        "n_units": int(len(G)),
        "cohorts": {f"{g:g}": int((g == G).sum()) for g in glist},
        "pre_test": pre_test,
        "notes": notes,
        "se_analytic": float(head["se_analytic"]),
        "se_bootstrap": float(head["se_bootstrap"])
        if math.isfinite(head["se_bootstrap"])
        else None,
    }


def _standard_errors_text(inference, n_boot, multipliers, seed, cluster) -> str:
    return (
        f"multiplier bootstrap ({multipliers} weights, {n_boot} draws, seed {seed}), IQR-based as R did"
        if inference == "bootstrap" and n_boot > 0
        else "analytic, from the influence functions"
    ) + (f", clustered by {cluster}" if cluster else ", clustered by unit")


def _conventions(control, base_period, anticipation, weights, se_text, cband, cov_text) -> dict:
    return {
        "estimand": "ATT(g,t) per cohort g and period t; headline = simple aggregation (post-treatment ATT(g,t) weighted by cohort size)",
        "comparison group": "never-treated units"
        if control == "never"
        else "not-yet-treated units (first treated after max(t, base) + anticipation, never-treated included, own cohort excluded)",
        "base period": f"{base_period}: post periods compare with g-1-anticipation; pre periods with "
        + ("the previous period" if base_period == "varying" else "the same universal base"),
        "anticipation": f"{anticipation} periods",
        "covariates": cov_text,
        "weights": "unit weights (normalised to mean 1)" if weights else "equal unit weights",
        "standard errors": se_text,
        "aggregation influence functions": "include the estimation of cohort-share weights (as did::aggte)",
        "critical values": "standard normal, pointwise"
        + ("; uniform bands from the bootstrap sup-t" if cband else ""),
    }


def callaway_santanna(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    control: str = "never",
    anticipation: int = 0,
    weights: str | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    n_boot: int = 999,
    seed: int = 0,
    base_period: str = "varying",
    multipliers: str = "mammen",
    inference: str = "bootstrap",
    cband: bool = False,
    covariates: list[str] | None = None,
    est_method: str = "dr",
) -> EstimationResult:
    """Callaway & Sant'Anna (2021) group-time ATTs and their aggregations (balanced panel).

    Estimand: ATT(g,t) = E[Y_t(g) - Y_t(0) | G = g], identified by parallel trends between cohort
    g and the comparison group from base period b to t:
    ATT(g,t) = [mean_g(Y_t - Y_b)] - [mean_C(Y_t - Y_b)].

    * Base period b: for post periods (t >= g) the universal base g - 1 - anticipation; for
      pre periods the previous period (``base_period="varying"``, R default) or the same universal
      base (``"universal"``: then ATT(g, b) = 0 is reported).
    * Comparison group C: ``"never"`` = never-treated units (first_treated 0 / NaN); ``"notyet"``
      = never-treated plus units first treated after max(t, b) + anticipation, excluding cohort g
      (R ``did`` "notyettreated").  With ``"notyet"`` and no never-treated units the latest cohort
      becomes the comparison group and periods from its start (minus anticipation) are dropped,
      as in R.
    * Units treated in the first period (plus anticipation) have no pre-period and are dropped;
      cohorts after the last period are recoded as never treated.
    * ``weights``: time-invariant unit sampling weights (normalised to mean 1).
    * Inference: unit-level influence functions; SE analytic or multiplier bootstrap (``inference``
      selects the headline; both are reported).  ``cluster``: a time-invariant column; the
      bootstrap then draws one multiplier per cluster (R ``clustervars``).
    * ``covariates``: columns for conditional parallel trends (R ``xformla``: an intercept plus
      the columns), each unit's values at the earlier period of the cell's 2x2 (its base period,
      or t for pre periods before a universal base), as R ``did`` on panel data.  ``est_method``
      (used only with covariates): ``"dr"`` doubly robust (``DRDID::drdid_panel``, R default),
      ``"ipw"``, ``"reg"`` or ``"dr_improved"`` (``DRDID::drdid_imp_panel``); see
      :mod:`evaluation.models.drdid`.  Unusable covariates raise ``drdid.CovariateError``.
    * Aggregations (``extra["aggregations"]``): simple, group, dynamic, calendar as ``did::aggte``
      with the weight-estimation term in the influence function.  ``terms`` = dynamic estimates.

    Returns an :class:`EstimationResult` whose headline is the simple aggregation.
    """
    if control not in ("never", "notyet"):
        raise ValueError("control must be 'never' or 'notyet'")
    if base_period not in ("varying", "universal"):
        raise ValueError("base_period must be 'varying' or 'universal'")
    if inference not in ("bootstrap", "analytic"):
        raise ValueError("inference must be 'bootstrap' or 'analytic'")
    if est_method not in EST_METHODS:
        raise ValueError(f"est_method must be one of {', '.join(EST_METHODS)}")
    p = _cs_panel(data, unit, time, outcome, first_treated, weights, cluster, control,
                  anticipation, covariates)  # fmt: skip
    G, tlist, glist, notes = p.G, p.tlist, p.glist, p.notes
    cells, psi = _group_time_cells(p, control, anticipation, base_period, est_method)
    if p.covariates and not np.isfinite(cells["att"]).any():
        raise CovariateError(f"no ATT(g,t) can be estimated with these covariates: {notes[0]}")
    state = _CSState(cells, psi, G, p.w, p.cluster, glist, tlist, alpha, int(n_boot), int(seed),
                     multipliers, inference, cband)  # fmt: skip
    att_gt = _att_gt_table(state)
    pre_test = _pre_test(state, notes)
    aggs = {k: _agg_frame(state, k) for k in ("simple", "group", "dynamic", "calendar")}
    head = aggs["simple"].loc["overall"]
    se = float(head["se"]) if math.isfinite(head["se"]) else None
    terms = aggs["dynamic"].drop(index="overall")[
        ["estimate", "se", "ci_low", "ci_high", "p_value"]
    ]
    lo, hi, pval = z_inference(float(head["estimate"]), se, alpha)
    how = f", {est_method} with covariates {', '.join(p.covariates)}" if p.covariates else ""
    return EstimationResult(
        method=f"Callaway-Sant'Anna staggered DiD{how} (simple aggregation)",
        outcome=outcome,
        estimate=float(head["estimate"]),
        ci_low=lo,
        ci_high=hi,
        p_value=pval,
        inference="multiplier bootstrap"
        if inference == "bootstrap" and n_boot > 0
        else "analytic influence function",
        alpha=alpha,
        n_treated=int((G > 0).sum()),
        n_comparison_units=int((G == 0).sum()),
        **periods_around(tlist, glist.min()),
        conventions=_conventions(
            control,
            base_period,
            anticipation,
            weights,
            _standard_errors_text(inference, n_boot, multipliers, seed, cluster),
            cband,
            covariates_text(p.covariates, est_method),
        ),
        se=se,
        unit="outcome units",
        diagnostics=_diagnostics(G, glist, pre_test, notes, head),
        terms=terms,
        extra={"att_gt": att_gt, "aggregations": aggs, "cs_state": state},
    )
