"""Estimators (inference methods that resample them are in :mod:`evaluation.inference`).  Every estimator returns an :class:`EstimationResult`.

| function | module | design |
|---|---|---|
| ``did_one_treated`` | did_one_treated | one treated area, placebo-in-space |
| ``event_study_one_treated`` | twfe | one treated area, event study, placebo intervals |
| ``twfe``, ``event_study`` | twfe | two-way fixed effects, fixest CR1 |
| ``binomial_fe`` | glm | grouped-binomial logit with fixed effects |
| ``callaway_santanna``, ``imputation_did``, ``sun_abraham`` | staggered | staggered adoption |
| ``synthetic_control``, ``synthetic_did`` | synth | one treated area (or block) |
| ``honest_did`` | honest | sensitivity of event-study conclusions to pre-trends |
| ``its``, ``controlled_its`` | its | interrupted time series |

Import from the module that defines a function (``from evaluation.models.twfe import twfe``);
the function API over all of them is :mod:`evaluation.api`.
"""
