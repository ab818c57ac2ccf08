"""2x2 panel DiD estimators with covariates (Sant'Anna & Zhao 2020), as R ``DRDID`` 1.0.4.

Each estimator takes the outcome in the post and pre period (``y1``, ``y0``), the treatment
indicator ``D``, the covariate design ``X`` (intercept first) and unit weights, and returns the
ATT with its per-unit influence function on DRDID's scale (``se = sd(IF) / sqrt(n)``):

* :func:`drdid_panel` -- locally efficient doubly robust DiD: logit propensity score by maximum
  likelihood, linear outcome regression of the change on the comparison group
  (R ``DRDID::drdid_panel``; what R ``did`` uses for ``est_method="dr"``).
* :func:`std_ipw_did_panel` -- normalised (Hajek) inverse-probability-weighted DiD (Abadie 2005).
* :func:`reg_did_panel` -- outcome-regression DiD (Heckman, Ichimura & Todd 1997).
* :func:`drdid_imp_panel` -- "improved" doubly robust DiD: propensity score by inverse
  probability tilting (Graham, Pinto & Egel 2012 loss as in DRDID), outcome regression weighted
  by the odds p / (1 - p); no estimation effect in its influence function.

:func:`covariate_cell` is the per-(g,t) hook that
:func:`evaluation.models.callaway_santanna.callaway_santanna` calls when covariates are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

_PS_MAX = 1 - 1e-16  # DRDID: pmin(ps, 1 - 1e-16) "to avoid dividing by zero"; no other trimming

EST_METHODS = ("dr", "ipw", "reg", "dr_improved")
EST_METHOD_TEXT = {
    "dr": "doubly robust (Sant'Anna & Zhao 2020, locally efficient; logit propensity score by "
    "maximum likelihood, linear outcome regression on the comparison group)",
    "ipw": "inverse probability weighting (normalised weights; logit propensity score by "
    "maximum likelihood)",
    "reg": "outcome regression (linear regression of the outcome change on the comparison group)",
    "dr_improved": "improved doubly robust (Sant'Anna & Zhao 2020; propensity score by inverse "
    "probability tilting, outcome regression weighted by the propensity odds)",
}


def covariates_text(covariates, est_method: str) -> str:
    """The ``covariates`` convention of a ``callaway_santanna`` result."""
    if not covariates:
        return "none (unconditional parallel trends)"
    return (
        f"{', '.join(covariates)}, at each cell's base period (the earlier period of the 2x2), "
        f"with an intercept; {EST_METHOD_TEXT[est_method]}"
    )


class CovariateError(ValueError):
    """Covariates that cannot be used (absent, not numeric, missing, constant, collinear)."""


@dataclass
class TwoByTwo:
    """ATT of one 2x2 and its influence function (DRDID scale: se = sd(IF) / sqrt(n))."""

    att: float
    inf_func: np.ndarray
    notes: list[str] = field(default_factory=list)


# ============================================================================================
# Nuisance fits
# ============================================================================================
def logit(D, X, w, max_iter: int = 100, tol: float = 1e-11):
    """Weighted logit by Newton-Raphson with step halving.  Returns (coef, fitted, converged);
    no warnings (separation shows as converged False and fitted values near 0 or 1)."""
    beta = np.zeros(X.shape[1])

    def loglik(b):
        eta = X @ b
        return float(np.sum(w * (D * eta - np.logaddexp(0.0, eta))))

    ll = loglik(beta)
    for _ in range(max_iter):
        p = expit(X @ beta)
        H = X.T @ ((w * p * (1 - p))[:, None] * X)
        try:
            step = np.linalg.solve(H, X.T @ (w * (D - p)))
        except np.linalg.LinAlgError:
            return beta, expit(X @ beta), False
        for _half in range(30):
            new = beta + step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, ll_old, ll = new, ll, ll_new
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))) or abs(ll - ll_old) < tol * (
            abs(ll) + 0.1
        ):
            return beta, expit(X @ beta), True
    return beta, expit(X @ beta), False


def _wols(y, X, w):
    """Weighted least-squares coefficients (rows with w = 0 drop out)."""
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]


def _ps_linear_rep(D, X, w, p):
    """n x k asymptotically linear representation of the logit coefficients (score x n H^-1)."""
    n = len(D)
    H_inv = np.linalg.inv(X.T @ ((w * p * (1 - p))[:, None] * X))
    return ((w * (D - p))[:, None] * X) @ (H_inv * n)


def _ols_linear_rep(dy, D, X, w, out):
    """n x k asymptotically linear representation of the comparison-group regression."""
    n = len(D)
    w0 = w * (1 - D)
    XpX = X.T @ (w0[:, None] * X) / n
    return ((w0 * (dy - out))[:, None] * X) @ np.linalg.inv(XpX)


def _pscore(D, X, w, notes: list[str]):
    coef, p, ok = logit(D, X, w)
    if not ok:
        notes.append("propensity-score logit did not converge")
    return p, np.minimum(p, _PS_MAX)


# ============================================================================================
# The estimators
# ============================================================================================
def drdid_panel(y1, y0, D, X, w=None) -> TwoByTwo:
    """Locally efficient doubly robust DiD (R ``DRDID::drdid_panel``).

    With the change dy, the comparison-group regression fit m(X) and the propensity p(X):
    ATT = mean_w[D (dy - m)] / mean_w[D] - mean_w[c (dy - m)] / mean_w[c], c = (1-D) p/(1-p).
    The influence function adds the estimation effects of the regression and of the logit.
    """
    D, X, dy, w = _inputs(y1, y0, D, X, w)
    notes: list[str] = []
    p_raw, p = _pscore(D, X, w, notes)
    beta = _wols(dy, X, w * (1 - D))
    out = X @ beta
    wt, wc = w * D, w * p * (1 - D) / (1 - p)
    res = dy - out
    eta_t, eta_c = np.mean(wt * res) / np.mean(wt), np.mean(wc * res) / np.mean(wc)
    L_ols = _ols_linear_rep(dy, D, X, w, out)
    L_ps = _ps_linear_rep(D, X, w, p_raw)
    inf_t = (wt * res - wt * eta_t - L_ols @ np.mean(wt[:, None] * X, 0)) / np.mean(wt)
    inf_c = (
        wc * res
        - wc * eta_c
        + L_ps @ np.mean((wc * (res - eta_c))[:, None] * X, 0)
        - L_ols @ np.mean(wc[:, None] * X, 0)
    ) / np.mean(wc)
    return TwoByTwo(float(eta_t - eta_c), inf_t - inf_c, notes)


def std_ipw_did_panel(y1, y0, D, X, w=None) -> TwoByTwo:
    """Normalised IPW DiD (R ``DRDID::std_ipw_did_panel``):
    ATT = mean_w[D dy] / mean_w[D] - mean_w[c dy] / mean_w[c], c = (1-D) p/(1-p); the influence
    function includes the estimation effect of the logit."""
    D, X, dy, w = _inputs(y1, y0, D, X, w)
    notes: list[str] = []
    p_raw, p = _pscore(D, X, w, notes)
    wt, wc = w * D, w * p * (1 - D) / (1 - p)
    eta_t, eta_c = np.mean(wt * dy) / np.mean(wt), np.mean(wc * dy) / np.mean(wc)
    L_ps = _ps_linear_rep(D, X, w, p_raw)
    inf_t = (wt * dy - wt * eta_t) / np.mean(wt)
    M2 = np.mean((wc * (dy - eta_c))[:, None] * X, 0)
    inf_c = (wc * dy - wc * eta_c + L_ps @ M2) / np.mean(wc)
    return TwoByTwo(float(eta_t - eta_c), inf_t - inf_c, notes)


def reg_did_panel(y1, y0, D, X, w=None) -> TwoByTwo:
    """Outcome-regression DiD (R ``DRDID::reg_did_panel``): ATT = mean over the treated of
    dy - m(X), m fitted on the comparison group; the influence function includes the
    regression's estimation effect."""
    D, X, dy, w = _inputs(y1, y0, D, X, w)
    out = X @ _wols(dy, X, w * (1 - D))
    wt = w * D
    eta_t, eta_c = np.mean(wt * dy) / np.mean(wt), np.mean(wt * out) / np.mean(wt)
    L_ols = _ols_linear_rep(dy, D, X, w, out)
    inf_t = (wt * dy - wt * eta_t) / np.mean(wt)
    inf_c = (wt * out - wt * eta_c + L_ols @ np.mean(wt[:, None] * X, 0)) / np.mean(wt)
    return TwoByTwo(float(eta_t - eta_c), inf_t - inf_c, [])


def ipt_pscore(D, X, w, notes: list[str]) -> np.ndarray:
    """Propensity score by inverse probability tilting (DRDID ``pscore.cal``): minimise the
    convex loss mean_w[(1-D) exp(X g) - D X g] (Tan 2019; Graham, Pinto & Egel 2012), whose
    first-order condition balances the comparison group's covariate means, weighted by the odds
    exp(X g), with the treated's.  Newton steps with backtracking from the logit fit (DRDID: a
    trust region from the logit); falls back to the logit when it does not converge."""
    start, _, _ = logit(D, X, w)
    n, g = len(D), start.copy()

    def loss(g):
        v = X @ g
        return float(np.mean(w * ((1 - D) * np.exp(np.minimum(v, 700.0)) - D * v)))

    with np.errstate(all="ignore"):
        for _ in range(200):
            e = np.exp(np.minimum(X @ g, 700.0))
            grad = X.T @ (w * ((1 - D) * e - D)) / n
            H = X.T @ ((w * (1 - D) * e)[:, None] * X) / n
            try:
                step = np.linalg.solve(H, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            val, lam2, t = loss(g), float(grad @ step), 1.0  # lam2: squared Newton decrement
            if lam2 < 1e-20 * (1 + abs(val)):
                return expit(X @ g)
            while loss(g - t * step) > val - 1e-4 * t * lam2 and t > 1e-10:
                t /= 2
            if t <= 1e-10:  # no further descent in floating point
                if lam2 < 1e-12 * (1 + abs(val)):
                    return expit(X @ g)
                break
            g = g - t * step
    notes.append("inverse probability tilting did not converge: logit propensity score used")
    return expit(X @ start)


def drdid_imp_panel(y1, y0, D, X, w=None) -> TwoByTwo:
    """Improved doubly robust DiD (R ``DRDID::drdid_imp_panel``): propensity p by inverse
    probability tilting, m fitted on the comparison group with weights w p / (1-p),
    ATT = mean_w[(D - (1-D) p/(1-p)) (dy - m)] / mean_w[D]; its influence function has no
    estimation effect (the first-order conditions of both fits cancel it)."""
    D, X, dy, w = _inputs(y1, y0, D, X, w)
    notes: list[str] = []
    p = np.minimum(ipt_pscore(D, X, w, notes), _PS_MAX)
    out = X @ _wols(dy, X, w * (1 - D) * p / (1 - p))
    s = (1 - (1 - D) / (1 - p)) * (dy - out)
    att = np.mean(w * s) / np.mean(w * D)
    return TwoByTwo(float(att), w * (s - D * att) / np.mean(w * D), notes)


ESTIMATORS = {
    "dr": drdid_panel,
    "ipw": std_ipw_did_panel,
    "reg": reg_did_panel,
    "dr_improved": drdid_imp_panel,
}


def _inputs(y1, y0, D, X, w):
    D = np.asarray(D, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(D), -1)
    w = np.ones(len(D)) if w is None else np.asarray(w, dtype=float)
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return D, X, np.asarray(y1, dtype=float) - np.asarray(y0, dtype=float), w


# ============================================================================================
# Covariates of the staggered design
# ============================================================================================
def check_covariate_columns(data, covariates: list[str]) -> None:
    """Every covariate is a distinct numeric column of ``data`` (CovariateError otherwise)."""
    import pandas as pd

    if len(set(covariates)) != len(covariates):
        raise CovariateError(f"covariates listed twice: {', '.join(covariates)}")
    for c in covariates:
        if c not in data.columns:
            raise CovariateError(f"covariate '{c}' is not a column of the data")
        col = data[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
            example = f" (e.g. {col[bad].iloc[0]!r})" if bad.any() else ""
            raise CovariateError(
                f"covariate '{c}' is not numeric{example}: covariates must be numbers "
                "(code categories as 0/1 indicator columns)"
            )


def _first_collinear(Z: np.ndarray) -> int | None:
    """Index of the first column of Z that is a linear combination of the earlier ones."""
    norms = np.linalg.norm(Z, axis=0)
    Zs = Z / np.where(norms > 0, norms, 1.0)
    for j in range(Z.shape[1]):
        if norms[j] == 0 or np.linalg.matrix_rank(Zs[:, : j + 1], tol=1e-9) < j + 1:
            return j
    return None


def cell_design(Xw, names, units, tlist, idx, c, where: str) -> np.ndarray:
    """Design [1, covariates at period index c] of the units ``idx`` of one cell, checked:
    complete, no constant covariate, full column rank (CovariateError naming the column)."""
    Xc = Xw[idx, c, :]
    for k, name in enumerate(names):
        miss = np.isnan(Xc[:, k])
        if miss.any():
            raise CovariateError(
                f"covariate '{name}' is missing for {int(miss.sum())} unit(s) in base period "
                f"{tlist[c]:g} (e.g. unit {units[idx][miss][0]}); covariates must be observed "
                "in every base period"
            )
        if np.ptp(Xc[:, k]) == 0:
            allx = Xw[..., k][np.isfinite(Xw[..., k])]
            if np.ptp(allx) == 0:
                raise CovariateError(
                    f"covariate '{name}' is constant (every value {allx[0]:g}): it duplicates "
                    "the intercept; drop it"
                )
            raise CovariateError(
                f"covariate '{name}' is constant within {where}: it duplicates the intercept "
                "there; drop it"
            )
    Z = np.column_stack([np.ones(len(Xc)), Xc])
    j = _first_collinear(Z)
    if j is not None:
        raise CovariateError(
            f"covariate '{names[j - 1]}' is collinear with the intercept and the covariates "
            f"listed before it within {where} (rank-deficient design); drop it"
        )
    return Z


def covariate_cell(p, est_method: str, treat, ctrl, j: int, b: int, g: float, notes: list):
    """ATT(g,t) and its n-unit influence function (``callaway_santanna`` scale) from the 2x2
    estimator ``est_method`` with the covariates at the earlier of the two periods (R did:
    ``BMisc::panel2cs2`` keeps the first period's rows).  (nan, zeros) when R ``did`` would
    report NA: a preliminary logit with a propensity score >= 0.999 (overlap), or a comparison
    group too small for the regression (rcond(X0'X0) < machine epsilon)."""
    n = len(p.G)
    idx = np.flatnonzero(treat | ctrl)
    c = min(j, b)
    where = f"cell g={g:g}, t={p.tlist[j]:g} (cohort {g:g} and its comparison units"
    where += f", period {p.tlist[c]:g})"
    Z = cell_design(p.X, p.covariates, p.units, p.tlist, idx, c, where)
    D = treat[idx].astype(float)
    fail = None
    uses_ps = est_method in ("dr", "ipw", "dr_improved")
    if uses_ps and logit(D, Z, np.ones(len(D)))[1].max() >= 0.999:
        fail = "overlap condition violated (a propensity score >= 0.999)"
    if fail is None and est_method in ("dr", "reg", "dr_improved"):
        Z0 = Z[D == 0]
        if 1 / np.linalg.cond(Z0.T @ Z0, 1) < np.finfo(float).eps:
            fail = "not enough comparison units to run the outcome regression"
    if fail:
        notes.append(f"ATT(g={g:g}, t={p.tlist[j]:g}) not estimated: {fail}")
        return float("nan"), np.zeros(n)
    with np.errstate(all="ignore"):
        fit = ESTIMATORS[est_method](p.Y[idx, j], p.Y[idx, b], D, Z, p.w[idx])
    notes.extend(f"ATT(g={g:g}, t={p.tlist[j]:g}): {m}" for m in fit.notes)
    psi = np.zeros(n)
    psi[idx] = fit.inf_func * n / len(idx)
    return fit.att, psi
