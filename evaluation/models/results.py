"""One result type shared by every estimator and inference method, in the spirit of
statsmodels/linearmodels results.

The conventions used (small-sample corrections, critical values, weights, how partially treated
periods were handled, why no standard error is given) travel with the numbers, so a table or a
report can never show an estimate without them.

A method's own numbers live in two mappings: ``diagnostics`` (JSON-ready scalars, part of
``to_dict()``) and ``extra`` (arrays, frames and functions, never serialised).  Either can be
read as an attribute when no field has that name: a wild bootstrap's ``res.se_cr1`` is
``res.diagnostics["se_cr1"]`` and its ``res.t_draws`` is ``res.extra["t_draws"]``; a
randomisation test's ``res.exact``, ``res.n_assignments``, ``res.statistic``; a sensitivity
analysis's ``res.table`` and ``res.breakdown``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


def json_safe(x):
    """Recursively replace non-finite floats by None (JSON has no NaN or infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def headline_from_term(row: pd.Series) -> dict[str, float]:
    """``estimate``, ``ci_low``, ``ci_high``, ``p_value`` and ``se`` of one row of a term table,
    as floats: the headline of a result that reports that term (``EstimationResult(...,
    **headline_from_term(terms.loc[name]))``)."""
    return {k: float(row[k]) for k in ("estimate", "ci_low", "ci_high", "p_value", "se")}


@dataclass
class EstimationResult:
    """An effect estimate with its inference and conventions.

    ``se`` is ``None`` when no valid standard error exists (e.g. one treated unit: a clustered
    standard error would be invalid, so none is reported).  Entries of ``diagnostics`` and then
    of ``extra`` can be read as attributes (``res.n_boot``); fields always take precedence.
    When a result is computed from arrays rather than a panel, the labels it cannot know are
    left empty (``n_treated = n_comparison_units = 0``, no periods) and a wrapper such as
    :func:`evaluation.inference.wild.wild_result` fills them in.
    """

    method: str
    outcome: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    inference: str
    alpha: float
    n_treated: int
    n_comparison_units: int
    pre_periods: list
    post_periods: list
    conventions: dict[str, str]
    se: float | None = None
    unit: str = "percentage points"
    diagnostics: dict[str, Any] = field(default_factory=dict)
    distribution: pd.DataFrame | None = field(default=None, repr=False)
    terms: pd.DataFrame | None = field(default=None, repr=False)  # one row per reported term
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # e.g. counterfactual frame

    def __getattr__(self, name: str) -> Any:
        """A method-specific number by name: ``diagnostics[name]``, else ``extra[name]``.

        Only called when ordinary lookup fails, so fields and methods always win; private and
        special names are never looked up (copy and pickle probe those before ``__dict__``
        exists)."""
        if not name.startswith("_"):
            for store in ("diagnostics", "extra"):
                mapping = self.__dict__.get(store)
                if mapping is not None and name in mapping:
                    return mapping[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def ci_is_finite(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

    def as_dict(self) -> dict[str, Any]:
        """The estimate followed by the diagnostics, one flat dict (not JSON-cleaned): for a wild
        bootstrap, its summary as :func:`evaluation.inference.wild.with_wild_bootstrap` stores
        it under ``diagnostics["wild_bootstrap"]``.  ``to_dict()`` is the full JSON record."""
        return {"estimate": self.estimate, **self.diagnostics}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (no DataFrames)."""

        clean = json_safe
        return {
            "outcome": self.outcome,
            "method": self.method,
            "estimate": clean(self.estimate),
            "ci_low": clean(self.ci_low),
            "ci_high": clean(self.ci_high),
            "confidence_level": 1 - self.alpha,
            "p_value": clean(self.p_value),
            "se": clean(self.se) if self.se is not None else None,
            "unit": self.unit,
            "inference": self.inference,
            "n_treated": self.n_treated,
            "n_comparison_units": self.n_comparison_units,
            "pre_periods": list(self.pre_periods),
            "post_periods": list(self.post_periods),
            "conventions": dict(self.conventions),
            "diagnostics": clean(self.diagnostics),
            "terms": (
                clean(self.terms.reset_index().to_dict(orient="records"))
                if self.terms is not None
                else None
            ),
        }

    def to_frame(self) -> pd.DataFrame:
        """One-row table of the headline numbers."""
        d = self.to_dict()
        keys = [
            "outcome",
            "method",
            "estimate",
            "ci_low",
            "ci_high",
            "p_value",
            "se",
            "n_treated",
            "n_comparison_units",
            "inference",
        ]
        return pd.DataFrame([{k: d[k] for k in keys}])

    def summary(self) -> str:
        """Plain-text summary with the conventions."""
        level = round(100 * (1 - self.alpha))
        lines = [
            f"{self.method} for {self.outcome}",
            "=" * 72,
            f"Estimate: {self.estimate:.3f} {self.unit}",
            f"{level}% interval: [{self.ci_low:.3f}, {self.ci_high:.3f}]",
            f"p-value: {self.p_value:.4f}",
            "Standard error: "
            + (
                f"{self.se:.4f}"
                if self.se is not None
                else "not reported (not valid for this design)"
            ),
            f"Treated units: {self.n_treated}; comparison units: {self.n_comparison_units}",
            f"Pre-periods: {self.pre_periods}; post-periods: {self.post_periods}",
            f"Inference: {self.inference}",
            "Conventions:",
        ]
        lines += [f"  - {k}: {v}" for k, v in self.conventions.items()]
        if self.terms is not None:
            lines += ["Terms:", self.terms.to_string(float_format=lambda x: f"{x:.4f}")]
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()
