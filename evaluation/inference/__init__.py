"""Inference for few clusters / few treated groups, reusable on any linear model.  Every method
returns an :class:`evaluation.models.results.EstimationResult`; its own numbers (bootstrap
draws, number of assignments, ...) are in ``diagnostics`` / ``extra`` and readable as attributes.

| function | module | method |
|---|---|---|
| ``wild_cluster_bootstrap`` | wild | restricted wild cluster bootstrap-t on arrays (boottest algebra), interval by test inversion |
| ``wild_result``, ``with_wild_bootstrap`` | wild | the same, labelled for a design / replacing a ``twfe`` result's inference |
| ``bootstrap_weights`` | wild | Webb, Rademacher or Mammen cluster weights (enumerated when few) |
| ``randomisation_inference`` | randomisation | Fisher randomisation test at the assignment level, within strata, exact when small |
| ``conley_taber`` | conley_taber | Conley-Taber (2011) interval for few treated groups, optional Ferman-Pinto rescaling |
| ``invert_test`` | inversion | confidence interval ``{delta : p(delta) > alpha}`` from a p-value function (shared) |

The sensitivity analysis of event studies to pre-trends (``honest_did``) is an estimator-level
tool in :mod:`evaluation.models.honest`.  Import from the module that defines a function
(``from evaluation.inference.wild import wild_cluster_bootstrap``).
"""
