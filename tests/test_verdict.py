"""Issue #15: verdict lines from results.json, design reconciliation capping the grade, one
pre-trend assessment used by every mention, glossary (METHODOLOGY.md section 2h)."""

from __future__ import annotations

import json
import re

import pytest

from evaluation.designs.area import evaluate_area
from evaluation.designs.verdict import capped_grade, reconcile
from evaluation.report import charts, sections
from evaluation.report.sections.methods import methods_and_caveats

from .conftest import PLAN


@pytest.fixture(scope="module")
def hartlepool(panel):
    return evaluate_area("hartlepool", PLAN, panel=panel)


def test_verdict_lines_are_short_and_come_from_results_json(hartlepool):
    d = json.loads(hartlepool.to_json())
    html = sections.summary(hartlepool)
    for o, res in zip(hartlepool.outcomes, d["outcomes"], strict=True):
        v = res["verdict"]
        assert len(v["line"].split()) <= 25
        assert v["line"].replace("'", "&#x27;") in html
        if v["status"] == "cannot_tell":  # the stated size is the JSON's detectable effect
            assert f"{v['detectable_effect']:.{o.outcome.decimals}f}" in v["line"]
            raw = res["diagnostics"]["interval_before_bounds"]
            assert v["detectable_effect"] == pytest.approx((raw[1] - raw[0]) / 2)
    # the answer comes before the numbers in the summary
    first = d["outcomes"][0]
    assert html.index(first["verdict"]["line"][:30]) < html.index("The numbers behind this")


def test_disagreeing_designs_are_said_and_cap_the_grade():
    designs = [
        {"design": "did", "estimate": 5.0, "p_value": 0.01, "significant": True},
        {"design": "its_controlled", "estimate": -4.0, "p_value": 0.02, "significant": True},
        {"design": "synthetic_control", "estimate": 3.0, "p_value": 0.3, "significant": False},
    ]
    agree, sentence = reconcile(designs)
    assert not agree and "disagree" in sentence and "rise" in sentence and "fall" in sentence
    assert capped_grade("Strong", agree) == "Weak" and capped_grade("Moderate", agree) == "Weak"
    assert capped_grade("No clear evidence", agree) == "No clear evidence"
    quiet = [dict(d, significant=False) for d in designs[:1]] + [
        {"design": "its_single", "estimate": -2.0, "p_value": 0.01, "significant": True},
        {"design": "its_controlled", "estimate": -3.0, "p_value": 0.01, "significant": True},
    ]
    agree, sentence = reconcile(quiet)
    assert not agree and "main comparison does not" in sentence
    assert reconcile([dict(d, significant=False) for d in designs]) == (True, "")


def test_hartlepool_refusals_disagreement_is_in_the_summary(hartlepool):
    v = hartlepool.verdict("refusal_to_assess_rate")
    its = {d["design"]: d for d in v["designs"] if d["design"].startswith("its")}
    if sum(d["significant"] for d in its.values()) >= 2 and not v["designs"][0]["significant"]:
        assert not v["designs_agree"]
        assert v["disagreement"].replace("'", "&#x27;") in sections.summary(hartlepool)
    assert v["grade"] not in {"Strong", "Moderate"} or v["designs_agree"]


def test_the_pre_trend_mentions_carry_the_same_number(hartlepool):
    o = hartlepool.outcomes[0]
    pt = hartlepool.pre_trend(o.outcome.name)
    _, caption = charts.event_study_chart(hartlepool, o)
    caveats = methods_and_caveats(hartlepool)
    assert pt["sentence"] in caption
    assert pt["sentence"].replace("'", "&#x27;") in caveats
    slope = f"{abs(pt['slope_per_period']):.1f} points a year"
    assert slope in caption and slope in caveats
    assert len(set(re.findall(r"changed by (\S+) points a year", caption))) == 1
    if pt["concern"]:
        assert pt["sentence"].replace("'", "&#x27;") in sections.summary(hartlepool)


def test_glossary_names_every_technical_term(hartlepool):
    about = sections.about(hartlepool)
    for term in ["Placebo test", "Difference-in-differences", "Interval", "Too early to tell"]:
        assert f"<dt>{term}</dt>" in about


def test_no_withheld_value_is_drawn_as_a_number(hartlepool):
    for o in hartlepool.outcomes:
        if not o.suppressed:
            continue
        fig, alt = charts.comparison_chart(hartlepool, o)
        area_line = next(ln for ln in fig.axes[0].lines if ln.get_label() == hartlepool.name)
        drawn = dict(zip(area_line.get_xdata(), area_line.get_ydata(), strict=True))
        for t in o.suppressed:
            if t in drawn:
                assert drawn[t] != drawn[t]  # NaN: a gap in the line, never 0
        markers = [ln for ln in fig.axes[0].lines if ln.get_label() == "withheld (small numbers)"]
        shown = {t for t in o.suppressed if t in drawn}
        assert {x for m in markers for x in m.get_xdata()} == shown
        if shown:
            assert "withheld" in alt.lower()


@pytest.fixture(scope="module")
def camden(panel):
    return evaluate_area("camden", PLAN, panel=panel)


def test_withheld_values_are_a_gap_with_a_marker_on_the_its_chart(camden):
    """Camden's primary rate is withheld from 2019 on. Its controlled ITS plots the gap with
    the comparison areas, whose rate is published, so a plotted gap would give the withheld
    rate back: those points are a gap in the chart with the withheld marker, and the alt text
    names them without a number."""
    o = camden.outcomes[0]
    hidden = o.suppressed
    assert {2019, 2020, 2021, 2022, 2024} <= hidden
    items = [i for i in camden.its if i["outcome"] == o.outcome.name]
    assert items and all(i["design"] == "controlled" for i in items)  # area alone is withheld
    for item in items:
        cf = item["result"].extra["counterfactual"]
        assert cf.loc[cf["time"].isin(hidden), "observed"].isna().all()
        assert cf.loc[~cf["time"].isin(hidden), "observed"].notna().all()
        fig, alt = charts.its_chart(camden, item, "title")
        lines = fig.axes[0].lines
        observed = next(ln for ln in lines if ln.get_label() == "Observed")
        drawn = {
            t for t, y in zip(observed.get_xdata(), observed.get_ydata(), strict=True) if y == y
        }
        assert not drawn & hidden
        marker = next(ln for ln in lines if ln.get_label() == "withheld (small numbers)")
        assert set(marker.get_xdata()) == hidden & set(cf["time"])
        assert "withheld" in alt and "2019" in alt
        gap = item["data"].set_index("year")["gap"]
        for t in hidden & set(gap.index):
            assert gap[t] != gap[t]


def test_counts_behind_the_rates_agree_with_the_rates_and_stay_withheld(camden, hartlepool):
    """Counts beside rates (results.json ``counts``): where both are published the area's and
    the comparison areas' rates are 100 x numerator / denominator; the area's numerator is
    withheld wherever its rate is, and the series table prints c for it."""
    for ev in (camden, hartlepool):
        d = json.loads(ev.to_json())
        for res in d["outcomes"]:
            by_period = res["counts"]["by_period"]
            assert set(by_period) == set(res["diagnostics"]["treated_series"])
            for period, c in by_period.items():
                rate = res["diagnostics"]["treated_series"][period]
                if period in res["disclosure"]["suppressed_periods"]:
                    assert c["area_numerator"] is None and "area_numerator" in c["withheld"]
                elif rate is not None and c["area_denominator"]:
                    assert 100 * c["area_numerator"] / c["area_denominator"] == pytest.approx(rate)
                comp = res["diagnostics"]["comparison_series"].get(period)
                if comp is not None:
                    share = c["comparison_numerator"] / c["comparison_denominator"]
                    assert 100 * share == pytest.approx(comp)
    table = sections.series_table(camden, 0)
    assert "plans issued within 20 weeks" in table
    assert table.count("<td>c</td><td>c</td>") >= 5  # rate and its numerator, each withheld year
