"""The one table of estimators: every design reads it, so an entry is picked up everywhere."""

import dataclasses

import pytest

from evaluation.designs import registry
from evaluation.designs.area import evaluate_area
from evaluation.designs.area_alternatives import AreaSpec
from evaluation.designs.did import METHODS, estimate
from evaluation.models.results import EstimationResult

from .conftest import PLAN


def test_every_runner_resolves_to_a_function():
    for entry in registry.ESTIMATORS:
        assert entry.runners, entry.key
        for design in entry.runners:
            assert design in registry.DESIGNS
            assert callable(entry.runner(design)), (entry.key, design)
        if entry.command:
            assert "did" in entry.runners and entry.inference


def test_the_did_command_offers_exactly_the_registered_methods():
    from evaluation.cli import build_parser

    assert METHODS == ("twfe", "event", "cs", "imputation", "sc", "sdid", "binomial")
    did = build_parser()._subparsers._group_actions[0].choices["did"]
    method = next(a for a in did._actions if a.dest == "method")
    assert tuple(method.choices) == METHODS


def test_unknown_design_is_refused():
    with pytest.raises(ValueError, match="unknown design"):
        registry.estimators("nowhere")


def area_mean_shift(units, spec: AreaSpec) -> EstimationResult:
    """A toy per-area estimator for the test: the area's post-minus-pre mean change."""
    rows = units[units["unit_id"] == spec.code].set_index(spec.time)[spec.outcome.name]
    pre = list(spec.pre) or spec.plan.pre_years
    est = float(rows.loc[spec.plan.post_years].mean() - rows.loc[pre].mean())
    return EstimationResult(
        method="toy", outcome=spec.outcome.name, estimate=est, ci_low=est, ci_high=est,
        p_value=1.0, inference="none", alpha=0.05, n_treated=1,
        n_comparison_units=len(spec.pool), pre_periods=pre,
        post_periods=spec.plan.post_years, conventions={},
    )  # fmt: skip


def test_a_new_area_entry_reaches_the_area_evaluation(monkeypatch, panel):
    toy = registry.Estimator(
        "toy_shift", "Toy: post-minus-pre change", {"area": f"{__name__}:area_mean_shift"}
    )
    monkeypatch.setattr(registry, "ESTIMATORS", (*registry.ESTIMATORS, toy))
    ev = evaluate_area("hartlepool", PLAN, panel=panel)
    o = ev.outcomes[0]
    assert list(o.alternatives)[-1] == "toy_shift"
    assert "toy_shift" in {r["key"] for r in o.to_dict()["robustness"]}
    assert registry.labels("area")["toy_shift"] == "Toy: post-minus-pre change"


def test_inference_outside_the_entry_is_a_usage_error(monkeypatch):
    import pandas as pd

    from evaluation.designs.did import DidUsageError

    data = pd.DataFrame(
        {
            "u": [1, 1, 2, 2, 3, 3],
            "t": [1, 2] * 3,
            "y": [1.0, 2, 1, 1, 2, 2],
            "g": [2, 2, 0, 0, 0, 0],
        }
    )
    kw = dict(unit="u", time="t", outcome="y", first_treated="g")
    with pytest.raises(DidUsageError, match="supports --inference placebo only"):
        estimate(data, method="sc", inference="ri", **kw)
    narrowed = dataclasses.replace(
        registry.by_command("twfe"), inference=("ri",), inference_error="twfe: ri only here"
    )
    table = tuple(narrowed if e.key == "twfe" else e for e in registry.ESTIMATORS)
    monkeypatch.setattr(registry, "ESTIMATORS", table)
    with pytest.raises(DidUsageError, match="ri only here"):
        estimate(data, method="twfe", inference="placebo", **kw)
