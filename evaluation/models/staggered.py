"""Heterogeneity-robust difference-in-differences for staggered adoption.

Three estimators, each returning an :class:`EstimationResult`:

``callaway_santanna``
    Callaway & Sant'Anna (2021) group-time effects ATT(g,t) (g = first treated period), each a
    2x2 difference of means between cohort g and a clean comparison group (never-treated units, or
    not-yet-treated units), unconditional (no covariates), balanced panel.  Aggregated as in R
    ``did::aggte`` (simple, group, dynamic = event time, calendar), with influence functions that
    include the estimation of the cohort-share weights, analytic and multiplier-bootstrap SEs.
    Mirrors R ``did`` 2.x defaults (varying base period, Mammen multipliers, IQR-based bootstrap
    SE).  Headline: the simple aggregation.

``imputation_did``
    Gardner (2021) two-stage DiD (R ``did2s``): fixed effects fitted on untreated observations
    only, outcome residualised, residual regressed on the treatment indicator (or event-time
    dummies).  With unit + period fixed effects the point estimates equal the Borusyak, Jaravel &
    Spiess (2024) imputation estimator.  SEs: the GMM sandwich of Gardner / did2s, clustered,
    accounting for the estimated first stage; no small-sample factor (as did2s).

``sun_abraham``
    Sun & Abraham (2021) interaction-weighted event study as fixest ``sunab()``: TWFE regression
    of the outcome on cohort x relative-period dummies (never-treated units as the control cohort,
    relative period -1 omitted), aggregated to event-time effects (cohort shares within each
    relative period) and to an ATT (cell shares over all post-treatment cells) by the delta method
    with the cluster-robust covariance under fixest's small-sample convention.

Shared conventions: ``first_treated`` / ``cohort`` hold the first treated period; 0, NaN or
(for ``sun_abraham``) ``never_value`` mark never-treated units, and cohorts later than the last
observed period are treated as never treated within the sample window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy import stats

from evaluation.models.fe import FixedEffects, factorize
from evaluation.models.results import EstimationResult

_Z75 = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


# ============================================================================================
# shared helpers
# ============================================================================================
def _z_inference(est: float, se: float | None, alpha: float, df: float | None = None):
    """(ci_low, ci_high, p_value) from a normal (df None) or Student-t reference."""
    if se is None or not math.isfinite(se) or se <= 0 or not math.isfinite(est):
        return float("nan"), float("nan"), float("nan")
    if df is None:
        crit, p = stats.norm.ppf(1 - alpha / 2), 2 * stats.norm.sf(abs(est / se))
    else:
        crit, p = stats.t.ppf(1 - alpha / 2, df), 2 * stats.t.sf(abs(est / se), df)
    crit, p = float(crit), float(p)
    return est - crit * se, est + crit * se, p


def _term_table(names, est, se, alpha, df=None) -> pd.DataFrame:
    rows = []
    for e, s in zip(est, se, strict=True):
        lo, hi, p = _z_inference(float(e), float(s), alpha, df)
        rows.append((float(e), float(s), lo, hi, p))
    out = pd.DataFrame(
        rows, columns=["estimate", "se", "ci_low", "ci_high", "p_value"], index=list(names)
    )
    out.index.name = "term"
    return out


def _group_sum(codes: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Row sums of M within groups 0..max(codes) (sparse product; faster than np.add.at)."""
    n = len(codes)
    S = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(int(codes.max()) + 1, n))
    return np.asarray(S @ M)


def _never_mask(g: np.ndarray, tmax) -> np.ndarray:
    return np.isnan(g) | (g == 0) | (g > tmax)


# ============================================================================================
# Callaway & Sant'Anna
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
        sums = _group_sum(state.cluster, IF)
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

    if kind == "simple":
        est, IF = combine(post)
        return [], [], np.array([]), np.zeros((psi.shape[0], 0)), est, IF

    if kind == "group":
        labels, levels, ests, IFs = [], [], [], []
        for gg in state.glist:
            est, IF = combine(post & (g == gg), with_wif=False)  # equal pg within a group
            labels.append(f"g={gg:g}")
            levels.append(gg)
            ests.append(est)
            IFs.append(IF)
        ests, IFs = np.array(ests), np.column_stack(IFs)
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
        labels, levels, ests, IFs = [], [], [], []
        for e in eseq:
            est, IF = combine(include & (e_cell == e))
            labels.append(f"e={e:g}")
            levels.append(e)
            ests.append(est)
            IFs.append(IF)
        ests, IFs = np.array(ests), np.column_stack(IFs)
        pos = (eseq >= 0) & np.isfinite(ests)
        overall = float(ests[pos].mean()) if pos.any() else float("nan")
        IF = IFs[:, pos].mean(1) if pos.any() else np.zeros(psi.shape[0])
        return labels, levels, ests, IFs, overall, IF

    if kind == "calendar":
        labels, levels, ests, IFs = [], [], [], []
        for tt in state.tlist[state.tlist >= min(state.glist)]:
            est, IF = combine(post & (t == tt))
            labels.append(f"t={tt:g}")
            levels.append(tt)
            ests.append(est)
            IFs.append(IF)
        ests, IFs = np.array(ests), np.column_stack(IFs)
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
) -> EstimationResult:
    """Callaway & Sant'Anna (2021) group-time ATTs and their aggregations (unconditional, panel).

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
    cols = [unit, time, outcome, first_treated] + [c for c in (weights, cluster) if c]
    df = data[list(dict.fromkeys(cols))].copy()
    if df[outcome].isna().any():
        raise ValueError(f"missing values in outcome '{outcome}'")
    df[first_treated] = df[first_treated].astype(float).fillna(0.0)
    notes: list[str] = []

    units, tlist, wide = _wide_panel(
        df, unit, time, [outcome, first_treated] + [c for c in (weights, cluster) if c]
    )
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
        G = np.where(glast == G, 0.0, G)
    Y, G, w = Y[keep_units], G[keep_units], w[keep_units]
    if clus is not None:
        clus = factorize(clus[keep_units])[0]
    w = w / w.mean()
    n = len(G)
    if control == "never" and not (G == 0).any():
        raise ValueError("no never-treated units: use control='notyet'")
    glist = np.sort(np.unique(G[G > 0]))
    if len(glist) == 0:
        raise ValueError("no treated cohorts")

    rows, psis = [], []
    T = len(tlist)
    for g in glist:
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
            m1 = (w * treat * dy).sum() / n1
            m0 = (w * ctrl * dy).sum() / n0
            psi = n * (w * treat * (dy - m1) / n1 - w * ctrl * (dy - m0) / n0)
            rows.append((g, tt, m1 - m0, post, tlist[b], int(treat.sum()), int(ctrl.sum())))
            psis.append(psi)
    cells = pd.DataFrame(rows, columns=["g", "t", "att", "post", "base", "n_treated", "n_control"])
    psi = np.column_stack(psis)
    state = _CSState(
        cells,
        psi,
        G,
        w,
        clus,
        glist,
        tlist,
        alpha,
        int(n_boot),
        int(seed),
        multipliers,
        inference,
        cband,
    )

    # ATT(g,t) table with inference
    inf = _cs_inference(state, psi)
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
    if cband:
        crit = _band_crit(inf["crit"], alpha)
        att_gt["cband_low"] = att_gt["att"] - crit * att_gt["se"]
        att_gt["cband_high"] = att_gt["att"] + crit * att_gt["se"]
        att_gt.attrs["cband_crit"] = crit

    # Wald pre-test of parallel trends on the pre-period ATT(g,t) (analytic covariance)
    pre = np.flatnonzero(
        (~cells["post"].to_numpy())
        & np.isfinite(cells["att"].to_numpy())
        & (cells["t"] != cells["base"]).to_numpy()
    )
    pre_test = {"statistic": float("nan"), "df": int(len(pre)), "p_value": float("nan")}
    if len(pre):
        P = psi[:, pre]
        if clus is not None:
            S = _group_sum(clus, P)
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

    aggs = {k: _agg_frame(state, k) for k in ("simple", "group", "dynamic", "calendar")}
    head = aggs["simple"].loc["overall"]
    se = float(head["se"]) if math.isfinite(head["se"]) else None
    terms = aggs["dynamic"].drop(index="overall")[
        ["estimate", "se", "ci_low", "ci_high", "p_value"]
    ]

    conventions = {
        "estimand": "ATT(g,t) per cohort g and period t; headline = simple aggregation (post-treatment ATT(g,t) weighted by cohort size)",
        "comparison group": "never-treated units"
        if control == "never"
        else "not-yet-treated units (first treated after max(t, base) + anticipation, never-treated included, own cohort excluded)",
        "base period": f"{base_period}: post periods compare with g-1-anticipation; pre periods with "
        + ("the previous period" if base_period == "varying" else "the same universal base"),
        "anticipation": f"{anticipation} periods",
        "covariates": "none (unconditional parallel trends)",
        "weights": "unit weights (normalised to mean 1)" if weights else "equal unit weights",
        "standard errors": (
            f"multiplier bootstrap ({multipliers} weights, {n_boot} draws, seed {seed}), IQR-based as R did"
            if inference == "bootstrap" and n_boot > 0
            else "analytic, from the influence functions"
        )
        + (f", clustered by {cluster}" if cluster else ", clustered by unit"),
        "aggregation influence functions": "include the estimation of cohort-share weights (as did::aggte)",
        "critical values": "standard normal, pointwise"
        + ("; uniform bands from the bootstrap sup-t" if cband else ""),
    }
    lo, hi, p = _z_inference(float(head["estimate"]), se, alpha)
    return EstimationResult(
        method="Callaway-Sant'Anna staggered DiD (simple aggregation)",
        outcome=outcome,
        estimate=float(head["estimate"]),
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="multiplier bootstrap"
        if inference == "bootstrap" and n_boot > 0
        else "analytic influence function",
        alpha=alpha,
        n_treated=int((G > 0).sum()),
        n_comparison_units=int((G == 0).sum()),
        pre_periods=[float(x) for x in tlist[tlist < glist.min()]],
        post_periods=[float(x) for x in tlist[tlist >= glist.min()]],
        conventions=conventions,
        se=se,
        unit="outcome units",
        diagnostics={
            "n_units": int(n),
            "cohorts": {f"{g:g}": int((g == G).sum()) for g in glist},
            "pre_test": pre_test,
            "notes": notes,
            "se_analytic": float(head["se_analytic"]),
            "se_bootstrap": float(head["se_bootstrap"])
            if math.isfinite(head["se_bootstrap"])
            else None,
        },
        terms=terms,
        extra={"att_gt": att_gt, "aggregations": aggs, "cs_state": state},
    )


# ============================================================================================
# Gardner two-stage / BJS imputation
# ============================================================================================
def imputation_did(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    event_study: bool = False,
    first_stage_fe: tuple[str, ...] | None = None,
    ref_periods: tuple[int, ...] = (-1,),
) -> EstimationResult:
    """Gardner (2021) two-stage DiD (R ``did2s``) = Borusyak-Jaravel-Spiess imputation.

    Treatment: D_it = 1 when first_treated > 0 and t >= first_treated (0 / NaN / later than the
    last period = never treated).  Stage 1: regress the outcome on the fixed effects
    ``first_stage_fe`` (default unit + time) using untreated observations (D = 0) only, and
    residualise every observation, ỹ = y - FE-hat.  Stage 2: regress ỹ (no intercept) on D
    (headline ATT: the mean of ỹ over treated observations, i.e. the average of imputed effects
    Y - Ŷ(0)); with ``event_study`` also on event-time dummies 1{t - g = e} for ever-treated units
    (``ref_periods`` omitted), reported in ``terms``.

    SEs: GMM sandwich accounting for stage 1 (Gardner 2021; did2s), clustered by ``cluster``
    (default: unit):  V = B⁻¹ [Σ_c s_c s_c'] B⁻¹, B = X2'WX2,
    s_c = Σ_{i∈c} w_i x2_i e2_i − Γ' Σ_{i∈c, untreated} w_i x1_i e1_i, Γ = (X10'WX10)⁻¹ X1'WX2,
    with no small-sample factor (as did2s); normal critical values.
    ``weights``: observation weights used in both stages.
    """
    fe_cols = tuple(first_stage_fe) if first_stage_fe is not None else (unit, time)
    cluster = cluster or unit
    cols = list(
        dict.fromkeys(
            [unit, time, outcome, first_treated, cluster, *fe_cols] + ([weights] if weights else [])
        )
    )
    df = data[cols].reset_index(drop=True)
    if df[outcome].isna().any():
        raise ValueError(f"missing values in outcome '{outcome}'")
    t = df[time].to_numpy(dtype=float)
    g = df[first_treated].to_numpy(dtype=float)
    never = _never_mask(g, t.max())
    g = np.where(never, np.nan, g)
    D = (~never) & (t >= g)
    y = df[outcome].to_numpy(dtype=float)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(dtype=float)
    w0 = w * (~D)

    codes = [factorize(df[c])[0] for c in fe_cols]
    fe = FixedEffects(codes, w0)
    for name, empty in zip(fe_cols, fe.empty_levels, strict=True):
        if len(empty):
            raise ValueError(
                f"cannot impute: {len(empty)} level(s) of fixed effect '{name}' have no untreated "
                "observations (e.g. always-treated units); drop them"
            )
    coef1 = fe.fit(y)
    y_tilde = y - fe.predict(coef1)[:, 0]

    def second_stage(X2: np.ndarray):
        XtW = (X2 * w[:, None]).T
        B = XtW @ X2
        beta = np.linalg.solve(B, XtW @ y_tilde)
        e2 = y_tilde - X2 @ beta
        # Γ = (X10'W X10)^-1 X1'W X2: FE coefficients of each X2 column, full-sample weights
        gamma = fe.solve([np.asarray(d.T @ (X2 * w[:, None])) for d in fe.dummies])
        h = fe.predict(gamma)  # n x k: X1 Γ
        score = X2 * (w * e2)[:, None] - h * (w0 * y_tilde)[:, None]
        cl = factorize(df[cluster])[0]
        S = _group_sum(cl, score)
        Binv = np.linalg.inv(B)
        V = Binv @ (S.T @ S) @ Binv
        return beta, V, int(cl.max()) + 1

    beta, V, n_clusters = second_stage(D[:, None].astype(float))
    att, se = float(beta[0]), float(math.sqrt(V[0, 0]))
    terms = None
    extra: dict = {"first_stage_fe": fe_cols, "first_stage_solver": fe.method}
    if event_study:
        rel = t - g
        levels = np.sort(np.unique(rel[~never]))
        levels = levels[~np.isin(levels, np.asarray(ref_periods, dtype=float))]
        X2 = np.column_stack([(rel == e) & ~never for e in levels]).astype(float)
        present = X2.sum(0) > 0
        X2, levels = X2[:, present], levels[present]
        b_es, V_es, _ = second_stage(X2)
        terms = _term_table([f"e={e:g}" for e in levels], b_es, np.sqrt(np.diag(V_es)), alpha)
        extra["event_vcov"] = V_es
        extra["event_n_obs"] = dict(zip(terms.index, X2.sum(0).astype(int).tolist(), strict=True))
    lo, hi, p = _z_inference(att, se, alpha)
    units_treated = df.loc[D, unit].nunique()
    periods, first = np.unique(t), np.nanmin(g)
    return EstimationResult(
        method="Two-stage DiD (Gardner) / imputation (Borusyak-Jaravel-Spiess)",
        outcome=outcome,
        estimate=att,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="GMM sandwich (two-stage corrected), cluster-robust",
        alpha=alpha,
        n_treated=int(units_treated),
        n_comparison_units=int(df.loc[never, unit].nunique()),
        pre_periods=[float(x) for x in periods[periods < first]],
        post_periods=[float(x) for x in periods[periods >= first]],
        conventions={
            "estimand": "ATT averaged over all treated observations (each treated unit-period weighted equally, or by weights)",
            "first stage": f"fixed effects {' + '.join(fe_cols)} fitted on untreated observations only (not-yet- and never-treated)",
            "second stage": "residualised outcome on the treatment indicator, no intercept"
            + (
                "; event-time dummies for the terms, reference "
                + ", ".join(str(r) for r in ref_periods)
                if event_study
                else ""
            ),
            "standard errors": f"Gardner/did2s GMM correction for the estimated first stage, clustered by {cluster} ({n_clusters} clusters), no small-sample factor",
            "critical values": "standard normal",
            "weights": "observation weights in both stages"
            if weights
            else "equal observation weights",
            "anticipation": "none: periods before first_treated are assumed untreated",
        },
        se=se,
        unit="outcome units",
        diagnostics={
            "n_obs": int(len(df)),
            "n_treated_obs": int(D.sum()),
            "n_clusters": n_clusters,
        },
        terms=terms,
        extra=extra,
    )


# ============================================================================================
# Sun & Abraham
# ============================================================================================
def _ols_cluster(X, y, w, cl, n_fe_params_not_nested):
    """OLS on (already within-transformed) X, y; CR1 vcov with fixest's default ssc."""
    XtW = (X * w[:, None]).T
    B = XtW @ X
    Binv = np.linalg.inv(B)
    beta = Binv @ (XtW @ y)
    e = y - X @ beta
    C = int(cl.max()) + 1
    S = _group_sum(cl, X * (w * e)[:, None])
    n, k = X.shape
    K = k + n_fe_params_not_nested
    adj = (C / (C - 1)) * ((n - 1) / (n - K))
    V = adj * Binv @ (S.T @ S) @ Binv
    return beta, V, e, C, K


def _independent_columns(X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns (pivoted QR), in original order."""
    if X.shape[1] == 0:
        return np.arange(0)
    norms = np.linalg.norm(X, axis=0)
    nz = np.flatnonzero(norms > tol * max(1.0, norms.max()))
    if len(nz) == 0:
        return nz
    Xn = X[:, nz] / norms[nz]
    R0 = np.linalg.qr(Xn, mode="r")  # k x k; pivoting on R0 is much cheaper than on X
    _, R, piv = sla.qr(R0, pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int((diag > tol * diag[0]).sum())
    return np.sort(nz[piv[:rank]])


def sun_abraham(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str,
    covariates: tuple[str, ...] | list[str] = (),
    cluster: str | None = None,
    never_value: float | None = None,
    ref_period: int | tuple[int, ...] = -1,
    weights: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Sun & Abraham (2021) interaction-weighted event study (fixest ``sunab``).

    Model: y_it = α_i + λ_t + x_it'γ + Σ_{c, e ∉ ref} δ_{c,e} 1{cohort_i = c, t - c = e} + ε_it,
    never-treated units (cohort NaN, 0, ``never_value`` or later than the last period) forming the
    control cohort with no dummies; relative period(s) ``ref_period`` omitted.  Estimated by OLS
    after exact two-way within transformation.

    Aggregation (fixest): event-time effect β_e = Σ_c s_{c|e} δ_{c,e} with s the share of
    observations of cohort c among those at relative period e; headline ATT = Σ_{c, e>=0} s_{c,e}
    δ_{c,e}, with s the cell's share of all post-treatment observations (fixest
    ``aggregate(., "att")``).  Weights are treated as fixed (delta method).

    Vcov: cluster-robust (default cluster: unit), CR1 times fixest's default small-sample factor
    G/(G-1) · (n-1)/(n-K), K = slope coefficients + fixed-effect parameters not nested in the
    clusters (fixest ``fixef.K = "nested"``).  p-values and intervals use Student t with G-1 df
    (fixest ``t.df = "min"``).
    """
    covariates = list(covariates)
    cluster = cluster or unit
    refs = np.atleast_1d(np.asarray(ref_period, dtype=float))
    cols = list(
        dict.fromkeys(
            [unit, time, outcome, cohort, cluster, *covariates] + ([weights] if weights else [])
        )
    )
    df = data[cols].dropna(subset=[outcome, *covariates]).reset_index(drop=True)
    t = df[time].to_numpy(dtype=float)
    c = df[cohort].to_numpy(dtype=float)
    never = _never_mask(c, t.max())
    if never_value is not None:
        never |= c == never_value
    if not never.any():
        raise ValueError("sun_abraham needs never-treated units as the control cohort")
    if (c[~never] <= t.min()).any():
        raise ValueError("cohorts treated in the first period have no pre-period; drop these units")
    y = df[outcome].to_numpy(dtype=float)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(dtype=float)
    rel = np.where(never, np.nan, t - c)
    cells = pd.DataFrame({"c": c[~never], "e": rel[~never]}).drop_duplicates()
    cells = cells[~cells["e"].isin(refs)].sort_values(["e", "c"]).to_numpy()
    Xcells = np.column_stack([(~never) & (c == cc) & (rel == ee) for cc, ee in cells]).astype(float)
    X = np.column_stack([df[covariates].to_numpy(dtype=float), Xcells]) if covariates else Xcells
    names = list(covariates) + [f"g={cc:g},e={ee:g}" for cc, ee in cells]

    ucode, tcode = factorize(df[unit])[0], factorize(df[time])[0]
    fe = FixedEffects([ucode, tcode], w)
    Xd = fe.absorb(X)
    yd = fe.absorb(y)
    keep = _independent_columns(Xd * np.sqrt(w)[:, None])
    dropped = [names[i] for i in range(len(names)) if i not in set(keep)]
    cl = factorize(df[cluster])[0]
    # fixed-effect parameters not nested in the clusters (fixest fixef.K = "nested")
    n_fe = 0
    nested_any = False
    for codes in (ucode, tcode):
        nested = bool((pd.Series(cl).groupby(codes).nunique() == 1).all())
        nested_any |= nested
        if not nested:
            n_fe += int(codes.max()) + 1
    n_fe -= 0 if nested_any else 1  # one redundant level when both factors are counted
    beta, V, e, n_clusters, K = _ols_cluster(Xd[:, keep], yd, w, cl, n_fe)
    names_k = [names[i] for i in keep]
    se = np.sqrt(np.diag(V))
    df_t = n_clusters - 1
    coef_table = _term_table(names_k, beta, se, alpha, df_t)

    # cell bookkeeping for the aggregations (only kept cell columns)
    ncov = len(covariates)
    cell_idx = [j for j, i in enumerate(keep) if i >= ncov]
    cell_ce = np.array([cells[keep[j] - ncov] for j in cell_idx]) if cell_idx else np.zeros((0, 2))
    cell_n = np.array([(Xcells[:, keep[j] - ncov] * w).sum() for j in cell_idx])

    def combine(mask):
        idx = np.asarray(cell_idx)[mask]
        a = np.zeros(len(beta))
        a[idx] = cell_n[mask] / cell_n[mask].sum()
        return float(a @ beta), float(math.sqrt(a @ V @ a))

    es = np.unique(cell_ce[:, 1]) if len(cell_ce) else np.array([])
    ev = [combine(cell_ce[:, 1] == ee) for ee in es]
    terms = _term_table(
        [f"e={ee:g}" for ee in es], [x[0] for x in ev], [x[1] for x in ev], alpha, df_t
    )
    post = cell_ce[:, 1] >= 0 if len(cell_ce) else np.zeros(0, bool)
    if not post.any():
        raise ValueError("no post-treatment cohort x period cells")
    att, att_se = combine(post)
    lo, hi, p = _z_inference(att, att_se, alpha, df_t)
    periods, first = np.unique(t), c[~never].min()
    return EstimationResult(
        method="Sun-Abraham interaction-weighted event study (ATT aggregation)",
        outcome=outcome,
        estimate=att,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference=f"cluster-robust (CR1, fixest small-sample convention), t with {df_t} df",
        alpha=alpha,
        n_treated=int(df.loc[~never, unit].nunique()),
        n_comparison_units=int(df.loc[never, unit].nunique()),
        pre_periods=[float(x) for x in periods[periods < first]],
        post_periods=[float(x) for x in periods[periods >= first]],
        conventions={
            "estimand": "ATT: cohort x relative-period effects (e >= 0) weighted by their share of post-treatment observations",
            "control cohort": "never-treated units",
            "reference period": f"relative period(s) {', '.join(f'{r:g}' for r in refs)} omitted for every cohort",
            "fixed effects": f"{unit} and {time}",
            "small-sample correction": f"G/(G-1) x (n-1)/(n-K), K = {K} (slopes + fixed effects not nested in the {cluster} clusters)",
            "critical values": f"Student t with G-1 = {df_t} df",
            "aggregation weights": "cell shares treated as fixed (delta method), as fixest aggregate()",
        },
        se=att_se,
        unit="outcome units",
        diagnostics={
            "n_obs": int(len(df)),
            "n_clusters": n_clusters,
            "K": int(K),
            "dropped_collinear": dropped,
        },
        terms=terms,
        extra={"coefficients": coef_table, "vcov": pd.DataFrame(V, index=names_k, columns=names_k)},
    )
