"""The one table of estimators: what each is called, how the reports name it, where it runs.

Every design reads this table, so adding an estimator is one entry here plus its runner:

* ``did`` -- ``python -m evaluation did`` / :func:`evaluation.designs.did.estimate` on a tidy
  panel you bring (``command`` is its ``--method`` value, ``inference`` the choices it allows);
* ``area`` -- the robustness estimators of one pilot area's effect (the area report's robustness
  table and ``results.json``'s ``robustness``), all with placebo inference;
* ``programme`` -- the programme effect by other estimators (the overview's robustness table).

A runner is named ``"module:function"`` and imported when first used, so this table imports no
design module (the designs import it).  Runner signatures, per design:
``did``: ``f(data, spec: DidSpec) -> EstimationResult``;
``area``: ``f(units, spec: AreaSpec) -> EstimationResult`` (raise ``ValueError`` if it cannot
run on this area's data: it is then left out, not faked);
``programme``: ``f(data, spec: ProgrammeSpec) -> EstimationResult`` (or ``None`` when the
design does not apply to this outcome's window: it is then left out of the table).

The power analysis (:mod:`evaluation.designs.power_analysis`) does not run these estimators: it
emulates the headline placebo rank tests exactly (METHODOLOGY.md section 9), so a new estimator
does not get a minimum detectable effect from this table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

DESIGNS = ("did", "area", "programme")


@dataclass(frozen=True)
class Estimator:
    key: str  # its name in results.json, the reports and the code
    label: str  # how the reports name it (with its inference)
    runners: dict[str, str] = field(default_factory=dict)  # design -> "module:function"
    command: str | None = None  # the `did` command's --method value
    inference: tuple[str, ...] = ()  # inference the `did` command allows
    inference_error: str = ""  # the usage message when another is asked for

    def runner(self, design: str) -> Callable:
        """The function that runs this estimator in ``design`` (imported on first use)."""
        module, name = self.runners[design].split(":")
        return getattr(importlib.import_module(module), name)


_DID = "evaluation.designs.did"
_AREA = "evaluation.designs.area_alternatives"
_PROGRAMME = "evaluation.designs.programme"

ESTIMATORS: tuple[Estimator, ...] = (
    Estimator(
        "twfe",
        "Two-way fixed-effects DiD",
        {"did": f"{_DID}:fit_twfe"},
        command="twfe",
        inference=("cluster", "wild", "placebo", "ri"),
    ),
    Estimator(
        "event_study",
        "Event study (placebo inference), average of post-period coefficients",
        {"did": f"{_DID}:fit_event_study", "area": f"{_AREA}:area_event_study"},
        command="event",
        inference=("cluster", "placebo"),
        inference_error="--method event supports --inference cluster or placebo",
    ),
    Estimator(
        "callaway_santanna",
        "Callaway-Sant'Anna group-time ATTs",
        {"did": f"{_DID}:fit_callaway_santanna"},
        command="cs",
        inference=("cluster", "wild"),
        inference_error="--method cs uses influence-function or bootstrap inference",
    ),
    Estimator(
        "imputation_did",
        "Imputation DiD (Gardner two-stage / Borusyak-Jaravel-Spiess)",
        {"did": f"{_DID}:fit_imputation"},
        command="imputation",
        inference=("cluster",),
        inference_error="--method imputation supports --inference cluster only",
    ),
    Estimator(
        "synthetic_control",
        "Synthetic control (placebo inference)",
        {"did": f"{_DID}:fit_synthetic_control", "area": f"{_AREA}:area_synthetic_control"},
        command="sc",
        inference=("placebo",),
        inference_error="--method sc supports --inference placebo only",
    ),
    Estimator(
        "synthetic_did",
        "Synthetic difference-in-differences (placebo inference)",
        {"did": f"{_DID}:fit_synthetic_did", "area": f"{_AREA}:area_synthetic_did"},
        command="sdid",
        inference=("placebo",),
        inference_error="--method sdid supports --inference placebo only",
    ),
    Estimator(
        "similar_areas",
        "DiD against the most similar areas (placebo inference, same pool rule)",
        {"area": "evaluation.designs.similar_areas:area_similar_areas"},
    ),
    Estimator(
        "twfe_wild",
        "Two-way fixed effects, weighted (wild cluster bootstrap by partnership)",
        {"programme": f"{_PROGRAMME}:programme_twfe_wild"},
    ),
    Estimator(
        "conley_taber",
        "Partnerships combined, Conley-Taber interval",
        {"programme": f"{_PROGRAMME}:programme_conley_taber"},
    ),
    Estimator(
        "binomial_fe",
        "Grouped-binomial logit with area and year effects (score bootstrap by partnership)",
        {"programme": f"{_PROGRAMME}:programme_binomial_fe", "did": f"{_DID}:fit_binomial_fe"},
        command="binomial",
        inference=("cluster", "score"),
        inference_error="--method binomial supports --inference score (score cluster "
        "bootstrap) or cluster (CR1)",
    ),
    Estimator(
        "cs_dr",
        "Callaway-Sant'Anna, doubly robust on each area's earlier level (direction only)",
        {"programme": f"{_PROGRAMME}:programme_cs_dr"},
    ),
)


def estimators(design: str) -> list[Estimator]:
    """The estimators that run in ``design``, in table order."""
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose from {', '.join(DESIGNS)}")
    return [e for e in ESTIMATORS if design in e.runners]


def by_command(command: str) -> Estimator:
    """The estimator the `did` command's ``--method command`` names (``KeyError`` if none)."""
    return {e.command: e for e in ESTIMATORS if e.command}[command]


def labels(design: str) -> dict[str, str]:
    """``key -> label`` of the estimators of ``design`` (the reports' robustness tables)."""
    return {e.key: e.label for e in estimators(design)}


COMMANDS: tuple[str, ...] = tuple(e.command for e in ESTIMATORS if e.command)
