"""Estimators (inference methods that resample them are in :mod:`evaluation.inference`).  Every estimator returns an :class:`EstimationResult`.

| function | module | design |
|---|---|---|
| ``did_one_treated`` | did_one_treated | one treated area, placebo-in-space |
| ``event_study_one_treated`` | event_study | one treated area, event study, placebo intervals |
| ``twfe`` | twfe | two-way fixed effects, fixest CR1 |
| ``event_study`` | event_study | two-way fixed-effects event study, fixest CR1 |
| ``binomial_fe`` | glm | grouped-binomial logit with fixed effects |
| ``callaway_santanna``, ``aggregate`` | callaway_santanna | staggered adoption, group-time effects |
| ``imputation_did`` | imputation_did | staggered adoption, two-stage / imputation |
| ``sun_abraham`` | sun_abraham | staggered adoption, interaction-weighted event study |
| ``synthetic_control`` | synthetic_control | one treated area (or block) |
| ``synthetic_did``, ``synthetic_did_prefit`` | synthetic_did | one treated area (or block) |
| ``honest_did`` | honest | sensitivity of event-study conclusions to pre-trends |
| ``its``, ``controlled_its`` | its | interrupted time series |

Shared pieces: :mod:`~evaluation.models.results` (the result type), :mod:`~evaluation.models.fe`
(fixed-effect solvers), :mod:`~evaluation.models.intervals` (placebo test inversion),
:mod:`~evaluation.models.synthetic_common`, :mod:`~evaluation.models.staggered_common` and
:mod:`~evaluation.models.its_fitting` (what the estimators of one family share).

Import from the module that defines a function (``from evaluation.models.twfe import twfe``);
one entry point over the difference-in-differences family (estimator and inference by name, as
``python -m evaluation did``) is :func:`evaluation.designs.did.estimate`.
"""
