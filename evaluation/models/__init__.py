"""Estimators.  Every estimator returns an :class:`EstimationResult`.

| function | module | design |
|---|---|---|
| ``did_one_treated`` | placebo | one treated area, placebo-in-space |
| ``event_study_one_treated`` | twfe | one treated area, event study, placebo intervals |
| ``twfe``, ``event_study`` | twfe | two-way fixed effects, fixest CR1 |
| ``binomial_fe`` | glm | grouped-binomial logit with fixed effects |
| ``callaway_santanna``, ``imputation_did``, ``sun_abraham`` | staggered | staggered adoption |
| ``synthetic_control``, ``synthetic_did`` | synth | one treated area (or block) |
| ``wild_cluster_bootstrap``, ``randomisation_inference``, ``conley_taber`` | inference | few clusters / few treated groups |
| ``honest_did`` | honest | sensitivity of event-study conclusions to pre-trends |
| ``its``, ``controlled_its`` | its | interrupted time series |
"""

from .glm import binomial_fe
from .honest import honest_did
from .inference import conley_taber, randomisation_inference, wild_cluster_bootstrap
from .placebo import did_one_treated, placebo_ci
from .results import EstimationResult
from .staggered import callaway_santanna, imputation_did, sun_abraham
from .synth import synthetic_control, synthetic_did
from .twfe import event_study, event_study_one_treated, twfe

__all__ = [
    "EstimationResult",
    "binomial_fe",
    "callaway_santanna",
    "conley_taber",
    "honest_did",
    "randomisation_inference",
    "wild_cluster_bootstrap",
    "did_one_treated",
    "event_study",
    "event_study_one_treated",
    "imputation_did",
    "placebo_ci",
    "sun_abraham",
    "synthetic_control",
    "synthetic_did",
    "twfe",
]
