"""Estimators.  Every estimator returns an :class:`EstimationResult`."""

from .placebo import did_one_treated, placebo_ci
from .results import EstimationResult

__all__ = ["EstimationResult", "did_one_treated", "placebo_ci"]
