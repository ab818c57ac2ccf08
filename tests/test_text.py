"""Sentences about intervals cut at the range a rate can take (0 to 100)."""

from __future__ import annotations

import math

from evaluation.models.results import EstimationResult
from evaluation.report.text import bounds_note


def result(lo, hi, raw):
    return EstimationResult(
        method="m",
        outcome="o",
        estimate=(lo + hi) / 2,
        ci_low=lo,
        ci_high=hi,
        p_value=0.5,
        inference="placebo",
        alpha=0.05,
        n_treated=1,
        n_comparison_units=100,
        pre_periods=[2019, 2020],
        post_periods=[2024],
        conventions={},
        diagnostics={} if raw is None else {"interval_before_bounds": list(raw)},
    )


def test_no_note_when_the_data_set_both_ends():
    assert bounds_note(result(-5.0, 8.0, None), 1) == ""
    assert bounds_note(result(-5.0, 8.0, (-5.0, 8.0)), 1) == ""


def test_names_the_end_that_was_cut_and_gives_the_unrestricted_interval():
    lower = bounds_note(result(-25.4, 72.1, (-46.7, 72.1)), 1)
    assert lower.startswith("The lower end of the interval is set by what is possible")
    assert "from \u221246.7 to 72.1" in lower
    upper = bounds_note(result(-4.67, 2.13, (-4.67, 4.57)), 2)
    assert upper.startswith("The upper end") and "from \u22124.67 to 4.57" in upper
    both = bounds_note(result(-25.4, 74.6, (-40.16, 113.28)), 1)
    assert both.startswith("Both ends") and "from \u221240.2 to 113.3" in both


def test_near_exact_placebo_fits_are_no_limit_not_printed_digits():
    note = bounds_note(result(-97.87, 2.13, (-20422955.24, 20422954.25)), 2)
    assert "no useful limit either way" in note and "20422955" not in note
    one_sided = bounds_note(result(-97.87, 2.13, (-math.inf, 4.0)), 2)
    assert "up to 4.00 with no lower limit" in one_sided


def test_boundary_caveat_names_changes_in_the_areas_region():
    from evaluation.designs.area import evaluate_area
    from evaluation.report.sections import boundary_caveat

    from .conftest import PLAN

    north_east = boundary_caveat(evaluate_area("805", PLAN))  # Hartlepool
    assert north_east.startswith("Boundary changes in these years: April 2019")
    assert "None of them is in this area's region (North East)" in north_east
    assert "own boundary did not change" in north_east
    north_west = boundary_caveat(evaluate_area("manchester", PLAN))
    assert "Cumbria is in this area's region (North West)" in north_west
    assert ".." not in north_west and ".;" not in north_west
