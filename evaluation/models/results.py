"""One result type shared by every estimator, in the spirit of statsmodels/linearmodels results.

The conventions used (small-sample corrections, critical values, weights, how partially treated
periods were handled, why no standard error is given) travel with the numbers, so a table or a
report can never show an estimate without them.
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


@dataclass
class EstimationResult:
    """An effect estimate with its inference and conventions.

    ``se`` is ``None`` when no valid standard error exists (e.g. one treated unit: a clustered
    standard error would be invalid, so none is reported).
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

    @property
    def ci_is_finite(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

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
