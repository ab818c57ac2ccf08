"""Programme and partnership verdicts (evaluation/designs/programme_verdict.py; METHODOLOGY.md
section 2b): the rules on constructed inputs, and the overview page printing the verdict that
its results.json holds."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from evaluation.designs.programme_verdict import partnership_verdict, programme_verdict
from evaluation.panel.outcomes import CATALOGUE

TIMELINESS = CATALOGUE["timeliness_20wk_ex"]  # higher is better
TRIBUNAL = CATALOGUE["tribunal_appeal_rate"]  # lower is better


def _result(estimate, low, high, p, alpha=0.05):
    return SimpleNamespace(
        estimate=estimate, ci_low=low, ci_high=high, p_value=p, alpha=alpha,
        ci_is_finite=True, diagnostics={},
    )  # fmt: skip


def _pre(passed=True):
    return SimpleNamespace(check={"passed": passed, "p_value": 0.3 if passed else 0.01})


def _parts(*estimates):
    return pd.DataFrame({"estimate": list(estimates)})


def test_clear_agreeing_programme_effect_is_strong_and_judged_by_the_direction_of_good():
    rob = {"twfe_wild": _result(4.0, 1, 7, 0.01), "conley_taber": _result(5.0, 2, 8, 0.01)}
    v = programme_verdict(
        TIMELINESS, _result(4.5, 1.0, 8.0, 0.01), rob, _pre(), _parts(3, 5, 1, 2), 5
    )
    assert v["status"] == "improved" and v["grade"] == "Strong" and v["concerns"] == []
    assert "improved" in v["line"] and "(strong evidence)" in v["line"]
    assert len(v["line"].split()) <= 25
    # the same rise in tribunal appeals is a worsening (lower is better)
    v = programme_verdict(TRIBUNAL, _result(0.5, 0.1, 0.9, 0.01), {}, _pre(), _parts(1, 1), 0.2)
    assert v["status"] == "worsened" and "worsened" in v["line"]


def test_each_concern_lowers_the_grade_by_one_step():
    res = _result(4.5, 1.0, 8.0, 0.01)
    against = {"twfe_wild": _result(-1.0, -3, 1, 0.4)}
    one = programme_verdict(TIMELINESS, res, {}, _pre(passed=False), _parts(3, 5), 5)
    assert one["grade"] == "Moderate" and one["concerns"][0].startswith("pre-period")
    two = programme_verdict(TIMELINESS, res, against, _pre(passed=False), _parts(3, 5), 5)
    assert two["grade"] == "Weak" and len(two["concerns"]) == 2
    spread = programme_verdict(TIMELINESS, res, {}, _pre(), _parts(3, -1, -2, -4), 5)
    assert spread["concerns"] == ["spread: only 1 of 4 partnerships point the same way"]


def test_significant_designs_in_opposite_directions_are_said_and_cap_the_grade():
    rob = {"twfe_wild": _result(-4.0, -7, -1, 0.01), "conley_taber": _result(5.0, 2, 8, 0.01)}
    v = programme_verdict(TIMELINESS, _result(4.5, 1.0, 8.0, 0.01), rob, _pre(), _parts(3), 5)
    assert not v["designs_agree"] and v["disagreement"].startswith("The methods disagree")
    assert v["grade"] == "Weak"


def test_a_cluster_robust_p_value_with_few_clusters_counts_for_its_direction_only():
    """A CR1 p-value over-rejects with 9 partnerships (section 6.10): such a design counts for
    its direction only; the score-bootstrap binomial counts in full."""
    rob = {"twfe_wild": _result(4.0, 1, 7, 0.01), "conley_taber": _result(5.0, 2, 8, 0.01)}
    rob["binomial_fe"] = _result(-4.0, -7, -1, 0.001)
    rob["binomial_fe"].diagnostics["few_cluster_valid"] = False
    v = programme_verdict(TIMELINESS, _result(4.5, 1.0, 8.0, 0.01), rob, _pre(), _parts(3), 5)
    assert v["designs_agree"]  # an opposite significant binomial would otherwise disagree
    row = next(d for d in v["designs"] if d["design"] == "binomial_fe")
    assert row["significant"] is False and row["counts_for"] == "direction only"
    assert v["grade"] == "Moderate"  # but its direction is a concern
    rob["binomial_fe"].diagnostics["few_cluster_valid"] = True  # the score bootstrap's
    v = programme_verdict(TIMELINESS, _result(4.5, 1.0, 8.0, 0.01), rob, _pre(), _parts(3), 5)
    assert not v["designs_agree"] and v["grade"] == "Weak"


@pytest.mark.parametrize(
    "low, high, status, words",
    [(-30.0, 30.0, "cannot_tell", "above 30.0 points"), (-3.0, 4.0, "no_clear_change", "in line")],
)
def test_an_interval_including_zero_says_whether_the_data_can_tell(low, high, status, words):
    v = programme_verdict(TIMELINESS, _result(0.5, low, high, 0.6), {}, _pre(), _parts(1), 5)
    assert v["status"] == status and words in v["line"] and v["grade"] == "No clear evidence"


def test_partnership_verdicts():
    assert partnership_verdict(TIMELINESS, 2.0, -40.0, 44.0, 5).startswith("Too early to tell")
    assert "above 42.0 points" in partnership_verdict(TIMELINESS, 2.0, -40.0, 44.0, 5)
    assert "larger than the scale" in partnership_verdict(TIMELINESS, 2.0, -140.0, 144.0, 5)
    assert partnership_verdict(TIMELINESS, 1.0, -3.0, 5.0, 5) == "No clear change"
    assert partnership_verdict(TRIBUNAL, -0.5, -0.9, -0.1, 0.2).startswith("Improved")
    assert partnership_verdict(TIMELINESS, float("nan"), 1, 2, 5) == "No estimate"
