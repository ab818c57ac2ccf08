"""Robust empirical Bayes confidence intervals (Armstrong, Kolesar & Plagborg-Moller 2022).

A faithful Python port of ``ebci()`` and ``cva()`` in the R package ``ebci`` (version 1.0.0,
defaults ``fs_correction="PMT"``, ``kappa`` estimated, ``wopt=FALSE``).  Given unbiased estimates
``Y_i`` with standard errors ``se_i`` (one per area, say), the estimates are shrunk toward a
weighted least-squares fit ``X_i'delta`` on covariates with the empirical Bayes factor
``w_i = mu2 / (mu2 + se_i^2)``, and each shrunk estimate gets the interval

    th_i +/- cva_alpha(se_i^2 / mu2, kappa) * w_i * se_i,

whose critical value ``cva`` is the smallest ``chi`` for which the largest non-coverage of
``[-chi, chi]`` for ``Z + b`` (``Z`` standard normal, ``b`` the normalized bias), over every
distribution of ``b`` with ``E[b^2] = m2`` and ``E[b^4] <= kappa m2^2``, is ``alpha``.  The
intervals cover on average over the areas whatever the distribution of the true effects
(only its second moment and kurtosis are estimated), unlike the parametric (Morris) interval
``th_i +/- z sqrt(w_i) se_i``, which assumes normal effects and is reported for comparison with
its largest non-coverage.

Names of the R output, for readers of the paper: ``w_eb`` = ``shrinkage``, ``th_eb`` =
``shrunk``, ``len_eb`` = ``half_length``, ``len_pa`` = ``half_length_parametric``, ``ncov_pa`` =
``noncoverage_parametric``, ``len_us`` = ``half_length_unshrunk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evaluation.models.ebci_critical_values import cached_cv, rho
from evaluation.models.results import json_safe

FS_CORRECTIONS = ("PMT", "FPLIB", "none")
REFERENCE = (
    "Armstrong, Kolesar & Plagborg-Moller (2022), Robust empirical Bayes confidence "
    "intervals, Econometrica 90(6); port of R package ebci 1.0.0 (ebci(), wopt=FALSE)"
)


class EbciInputError(ValueError):
    """The estimates, standard errors, covariates or weights cannot be used."""


# --- input checks, regression and moments ----------------------------------------------------


def _numeric_vector(name: str, values, n: int | None = None) -> np.ndarray:
    """1-D float array with no missing, infinite or non-numeric values."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    if series.isna().any():
        raise EbciInputError(f"{name} has {int(series.isna().sum())} missing value(s)")
    try:
        out = pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise EbciInputError(f"{name} has non-numeric values ({exc})") from None
    if not np.isfinite(out).all():
        raise EbciInputError(f"{name} has infinite values")
    if n is not None and len(out) != n:
        raise EbciInputError(f"{name} has {len(out)} values, the estimates {n}")
    return out


def _covariate_columns(covariates, n: int) -> dict[str, np.ndarray]:
    if covariates is None:
        return {}
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame(str(covariates.name or "x1"))
    if not isinstance(covariates, pd.DataFrame):
        arr = np.asarray(covariates, dtype=object)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        if arr.ndim != 2:
            raise EbciInputError("covariates must be one column or a table of columns")
        covariates = pd.DataFrame(arr, columns=[f"x{j + 1}" for j in range(arr.shape[1])])
    return {
        str(c): _numeric_vector(f"covariate {c!r}", covariates[c], n) for c in covariates.columns
    }


def _design(covariates, n: int, intercept: bool, weights: np.ndarray):
    """Regressor matrix and its column names, refusing constant or collinear covariates."""
    columns = _covariate_columns(covariates, n)
    names = (["intercept"] if intercept else []) + list(columns)
    X = np.column_stack([np.ones(n)] * intercept + list(columns.values())) if names else None
    if X is None:
        return np.zeros((n, 0)), names
    for name, col in columns.items():
        if intercept and np.ptp(col) == 0:
            raise EbciInputError(f"covariate {name!r} is constant (collinear with the intercept)")
    if n <= len(names):
        raise EbciInputError(f"{n} rows cannot fit {len(names)} regression coefficients")
    if np.linalg.matrix_rank(X * np.sqrt(weights)[:, None]) < len(names):
        raise EbciInputError(f"the covariates {list(columns)} are collinear")
    return X, names


def _weighted_fit(X: np.ndarray, y: np.ndarray, weights: np.ndarray):
    """Weighted least squares: (coefficients, fitted values); R ``lm.wfit``."""
    if X.shape[1] == 0:
        return np.zeros(0), np.zeros_like(y)
    root = np.sqrt(weights)
    coef = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)[0]
    return coef, X @ coef


def _truncated_mean(m: float, var: float) -> float:
    """Mean of N(m, var) truncated to be positive (stable where the normal cdf underflows)."""
    if not var > 0:
        return max(m, 0.0)
    sd = math.sqrt(var)
    z = m / sd
    mills = math.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - special.log_ndtr(z))
    return m + sd * mills


def estimate_moments(residuals, se, weights, fs_correction: str = "PMT", kappa=None):
    """(mu2, kappa, mu2 uncorrected, kappa uncorrected) of theta - X'delta (R ``moments``).

    Method of moments with the weights: ``mu2 = E[eps^2 - se^2]``, ``kappa =
    E[eps^4 - 6 se^2 eps^2 + 3 se^4] / mu2^2``, then the finite-sample correction: ``PMT``
    (posterior mean truncation: lower bounds ``2 mean(w^2 se^4)/(sum(w) mean(w se^2))`` on mu2
    and ``1 + 32 mean(w^2 se^8)/(sum(w) mean(w se^4))/mu2^2`` on kappa), ``FPLIB`` (limited
    information Bayes with a flat prior: truncated-normal means) or ``none`` (truncate at 0
    and 1).  A given ``kappa`` is used as it is.
    """
    eps, se, w = (np.asarray(a, dtype=float) for a in (residuals, se, weights))
    w2 = eps**2 - se**2
    w4 = eps**4 - 6 * se**2 * eps**2 + 3 * se**4
    m2_raw, m4_raw = np.average(w2, weights=w), np.average(w4, weights=w)
    total = w.sum()
    floor2 = 2 * np.mean(w**2 * se**4) / (total * np.mean(w * se**2))
    floor4 = 32 * np.mean(w**2 * se**8) / (total * np.mean(w * se**4))

    def weighted_var(z):
        return np.sum(w**2 * (z**2 - np.average(z, weights=w) ** 2)) / (total**2 - np.sum(w**2))

    if fs_correction == "none":
        mu2 = max(m2_raw, 0.0)
    elif fs_correction == "PMT":
        mu2 = max(m2_raw, floor2)
    else:
        mu2 = _truncated_mean(m2_raw, weighted_var(w2))
    if kappa is None and mu2 > 0:
        if fs_correction == "none":
            kappa = max(m4_raw / mu2**2, 1.0)
        elif fs_correction == "PMT":
            kappa = max(m4_raw / mu2**2, 1 + floor4 / mu2**2)
        else:
            spread = _truncated_mean(m4_raw - m2_raw**2, weighted_var(w4 - 2 * mu2 * w2))
            kappa = 1 + spread / mu2**2
    kappa_raw = m4_raw / m2_raw**2 if m2_raw != 0 else math.inf
    return float(mu2), float(kappa if kappa is not None else math.nan), float(m2_raw), kappa_raw


def parametric_half_length(se, mu2: float, alpha: float = 0.05) -> np.ndarray:
    """Half-length ``z sqrt(w) se`` of the parametric (Morris) EBCI, valid for normal effects."""
    se = np.asarray(se, dtype=float)
    return special.ndtri(1 - alpha / 2) * np.sqrt(mu2 / (mu2 + se**2)) * se


def parametric_noncoverage(se: float, mu2: float, kappa: float, alpha: float = 0.05) -> float:
    """Largest non-coverage of the parametric EBCI given mu2 and kappa (R ``ncov_pa``)."""
    z = special.ndtri(1 - alpha / 2)
    m2 = se**2 / mu2
    return rho(m2, kappa, z * math.sqrt(1 + m2), check=True).noncoverage


# --- the estimator ---------------------------------------------------------------------------


@dataclass
class EbciResult:
    """Shrunk estimates with robust EBCIs, one row per unit, and the estimated moments.

    ``rows`` columns: estimate, se, weight, fitted (X'delta), shrinkage (w_eb), shrunk (th_eb),
    m2 (second moment of the normalized bias, se^2/mu2), critical_value (cva), half_length
    (len_eb), ci_low, ci_high, half_length_parametric (len_pa), noncoverage_parametric
    (ncov_pa) and half_length_unshrunk (len_us = z se).
    """

    rows: pd.DataFrame
    mu2: float
    kappa: float
    mu2_uncorrected: float
    kappa_uncorrected: float
    delta: dict[str, float]
    alpha: float
    fs_correction: str
    conventions: dict[str, str]
    method: str = "robust empirical Bayes confidence intervals"
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-unit table (a copy)."""
        return self.rows.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (non-finite numbers become None)."""
        return json_safe(
            {
                "method": self.method,
                "alpha": self.alpha,
                "confidence_level": 1 - self.alpha,
                "mu2": self.mu2,
                "kappa": self.kappa,
                "mu2_uncorrected": self.mu2_uncorrected,
                "kappa_uncorrected": self.kappa_uncorrected,
                "delta": dict(self.delta),
                "fs_correction": self.fs_correction,
                "conventions": dict(self.conventions),
                "diagnostics": dict(self.diagnostics),
                "rows": self.rows.to_dict(orient="records"),
            }
        )

    def summary(self) -> str:
        """Plain-text summary with the conventions."""
        level = round(100 * (1 - self.alpha))
        rows = self.rows
        lines = [
            f"{self.method} ({len(rows)} units, {level}% intervals)",
            "=" * 72,
            f"mu2 = {self.mu2:.6g} (uncorrected {self.mu2_uncorrected:.6g}); "
            f"kappa = {self.kappa:.6g} (uncorrected {self.kappa_uncorrected:.6g})",
            "delta: " + ", ".join(f"{k} = {v:.6g}" for k, v in self.delta.items()),
            f"Mean half-length: robust {rows['half_length'].mean():.4g}, parametric "
            f"{rows['half_length_parametric'].mean():.4g}, unshrunk "
            f"{rows['half_length_unshrunk'].mean():.4g}",
            f"Mean largest non-coverage of the parametric EBCI: "
            f"{rows['noncoverage_parametric'].mean():.4f} (nominal {self.alpha:g})",
            "Conventions:",
        ]
        lines += [f"  - {k}: {v}" for k, v in self.conventions.items()]
        cols = ["estimate", "se", "shrinkage", "shrunk", "ci_low", "ci_high"]
        lines += ["Units:", rows[cols].to_string(float_format=lambda x: f"{x:.4f}")]
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _conventions(fs_correction, kappa_given, names, weighted, alpha) -> dict[str, str]:
    target = "toward the weighted least-squares fit on " + ", ".join(names) if names else "toward 0"
    moments = {
        "PMT": "posterior mean truncation (PMT): mu2 and kappa bounded below so that no unit "
        "is shrunk all the way",
        "FPLIB": "limited-information Bayes with a flat prior (FPLIB)",
        "none": "none (mu2 truncated at 0, kappa at 1)",
    }[fs_correction]
    if kappa_given is None:
        bound = "imposed: kappa estimated by the method of moments"
    elif math.isinf(kappa_given):
        bound = "not imposed (kappa = inf: second-moment constraint only)"
    else:
        bound = f"imposed at the given kappa = {kappa_given:g}"
    return {
        "shrinkage": f"empirical Bayes w = mu2/(mu2 + se^2), {target}",
        "weights": "given weights" if weighted else "equal weights",
        "moments": "method of moments on the residuals, E[eps^2 - se^2] and "
        "E[eps^4 - 6 se^2 eps^2 + 3 se^4], with the same weights",
        "finite-sample correction": moments,
        "kurtosis bound": bound,
        "critical values": "robust cva_alpha(se^2/mu2, kappa): largest non-coverage under the "
        "second and fourth moment constraints on the normalized bias set to alpha",
        "interval": f"shrunk +/- cva w se; {100 * (1 - alpha):g}% average coverage over the "
        "units whatever the distribution of the effects",
        "parametric": "Morris EBCI shrunk +/- z sqrt(w) se (assumes normal effects), for "
        "comparison, with its largest non-coverage",
        "reference": REFERENCE,
    }


def _check_options(alpha, kappa, fs_correction) -> None:
    if not 0 < alpha < 1:
        raise EbciInputError(f"alpha must be in (0, 1), got {alpha}")
    if fs_correction not in FS_CORRECTIONS:
        raise EbciInputError(f"fs_correction must be one of {FS_CORRECTIONS}")
    if kappa is not None and not kappa >= 1:
        raise EbciInputError(f"kappa must be at least 1, got {kappa}")


def _prepare(estimate, se, covariates, weights, intercept):
    y = _numeric_vector("estimate", estimate)
    n = len(y)
    if n < 3:
        raise EbciInputError(f"need at least 3 estimates, got {n}")
    se = _numeric_vector("se", se, n)
    if (se <= 0).any():
        raise EbciInputError(f"se must be positive ({int((se <= 0).sum())} zero or negative)")
    wgt = np.ones(n) if weights is None else _numeric_vector("weights", weights, n)
    if (wgt < 0).any() or not wgt.sum() > 0:
        raise EbciInputError("weights must be non-negative with a positive sum")
    X, names = _design(covariates, n, intercept, wgt)
    return y, se, wgt, X, names


def robust_ebci(
    estimate,
    se,
    covariates=None,
    weights=None,
    alpha: float = 0.05,
    *,
    intercept: bool = True,
    kappa: float | None = None,
    fs_correction: str = "PMT",
    index=None,
) -> EbciResult:
    """Robust EBCIs of AKP (2022), as R ``ebci(y ~ covariates, se=, weights=, alpha=)``.

    ``covariates``: None (shrink toward the weighted mean; toward 0 with ``intercept=False``),
    one column, or a table whose column names name ``delta``.  ``weights`` (default equal)
    weight the regression and the moments (R's example uses precision weights 1/se^2).
    ``kappa``: None to estimate it (the R default), ``math.inf`` for no kurtosis bound.
    ``fs_correction``: ``"PMT"`` (R default), ``"FPLIB"`` or ``"none"``.  Raises
    :class:`EbciInputError` for unusable input.
    """
    _check_options(alpha, kappa, fs_correction)
    y, se, wgt, X, names = _prepare(estimate, se, covariates, weights, intercept)
    coef, fitted = _weighted_fit(X, y, wgt)
    mu2, kap, mu2_raw, kap_raw = estimate_moments(y - fitted, se, wgt, fs_correction, kappa)
    z = float(special.ndtri(1 - alpha / 2))
    rows = pd.DataFrame({"estimate": y, "se": se, "weight": wgt, "fitted": fitted})
    if mu2 > 0:
        signal = mu2 / se**2
        w = signal / (1 + signal)
        m2 = 1 / signal
        cv = np.array([cached_cv(float(m), kap, float(alpha)) for m in m2])
        ncov = [parametric_noncoverage(float(s), mu2, kap, alpha) for s in se]
    else:  # only with fs_correction="none": no shrinkage information, no robust interval
        w, m2 = np.zeros_like(se), np.full_like(se, math.inf)
        cv, ncov = np.full_like(se, math.nan), np.full_like(se, math.nan)
    rows["shrinkage"] = w
    rows["shrunk"] = fitted + w * (y - fitted)
    rows["m2"] = m2
    rows["critical_value"] = cv
    rows["half_length"] = cv * w * se
    rows["ci_low"] = rows["shrunk"] - rows["half_length"]
    rows["ci_high"] = rows["shrunk"] + rows["half_length"]
    rows["half_length_parametric"] = np.sqrt(w) * z * se
    rows["noncoverage_parametric"] = ncov
    rows["half_length_unshrunk"] = z * se
    if index is not None:
        rows.index = pd.Index(index)
    elif isinstance(estimate, pd.Series):
        rows.index = estimate.index
    return EbciResult(
        rows=rows,
        mu2=mu2,
        kappa=kap,
        mu2_uncorrected=mu2_raw,
        kappa_uncorrected=kap_raw,
        delta=dict(zip(names, map(float, coef), strict=True)),
        alpha=float(alpha),
        fs_correction=fs_correction,
        conventions=_conventions(fs_correction, kappa, names, weights is not None, alpha),
        diagnostics={"n": len(y), "z": z}
        | (
            {}
            if mu2 > 0
            else {
                "mu2_zero": "the effects' variance is estimated as 0: no shrinkage information, no robust interval"
            }
        ),
    )
