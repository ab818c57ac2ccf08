"""Per-area results: every estimator and its inference are named in results.json, and a failed
pre-trend test is shown as a caveat directly beside the headline."""

from __future__ import annotations

import json

import pytest

from evaluation.designs.area import evaluate_area
from evaluation.report import sections
from evaluation.report.text import headline

from .conftest import PLAN


@pytest.fixture(scope="module")
def ev(panel):
    return evaluate_area("hartlepool", PLAN, panel=panel)


def test_results_json_names_estimator_and_inference(ev):
    d = json.loads(ev.to_json())
    for o in d["outcomes"]:
        assert o["method"] and o["inference"]
        keys = [r["key"] for r in o["robustness"]]
        assert "event_study" in keys and "synthetic_did" in keys
        for r in o["robustness"]:
            assert r["method"] and r["inference"]
            assert r["se"] is None  # one treated area: no standard error anywhere
        assert "p_value" in o["pre_trend_test"]


def test_failed_pre_trend_test_is_a_caveat_beside_the_headline(ev):
    o = ev.outcomes[0]
    es = o.alternatives["event_study"]
    original = dict(es.diagnostics["pre_trend_test"])
    try:
        es.diagnostics["pre_trend_test"]["p_value"] = 0.01
        html = sections.summary(ev)
        sentence = headline(ev, o).replace("'", "&#x27;")
        after = html[html.index(sentence) :]
        # the caution comes before the next outcome's line
        next_item = after.find("<li>", 1)
        caution = after.find("Caution: pre-trend")
        assert 0 < caution < (next_item if next_item > 0 else len(after))
        assert "pre-trend test" in " ".join(ev.evidence(o.outcome.name).concerns)
        section = sections.outcome_section(ev, 0)
        assert section.index("Caution: pre-trend") < section.index("<h3>")
    finally:
        es.diagnostics["pre_trend_test"] = original
    concern = ev.pre_trend(o.outcome.name)["concern"]
    assert ("Caution: pre-trend" in sections.summary(ev)) == concern


def test_disclosure_control_withholds_small_numbers_everywhere(panel):
    """Camden's timeliness rates would reveal fewer than 10 late plans in every year from 2019
    (e.g. 122 of 129 on time in 2019): each such year is withheld in every per-year output, estimates that
    would give a withheld value back are withheld, and the interval is not clipped by bounds
    computed from withheld values."""
    ev = evaluate_area("camden", PLAN, panel=panel)
    o = ev.outcomes[0]
    assert o.outcome.name == "timeliness_20wk_ex"
    assert {2019, 2020, 2021, 2022, 2024} <= o.suppressed
    assert set(o.withheld) == {"synthetic_control", "synthetic_did", "its_single"}
    assert "bounds" in o.result.conventions and "not applied" in o.result.conventions["bounds"]
    d = json.loads(ev.to_json())["outcomes"][0]
    series = d["diagnostics"]["treated_series"]
    # 2015-2018 had 36-51 late plans a year (published); 2019 on fewer than 10 (withheld)
    assert all(series[str(y)] is None for y in [2019, 2020, 2021, 2022, 2024])
    assert all(series[str(y)] is not None for y in [2015, 2016, 2017, 2018])
    assert d["disclosure"]["why"]["2019"] == "primary"
    table = sections.series_table(ev, 0)
    assert table.count("</th><td>c</td>") == 5  # the area's rate column, every year shown
    assert "Not shown" in sections.outcome_section(ev, 0)  # event study measured from 2022
    rob = sections.robustness(ev)
    assert rob.count("<td>c</td><td>c</td><td>c</td>") >= 3
    # an outcome without small numbers is untouched
    tribunal = next(x for x in ev.outcomes if x.outcome.name == "tribunal_appeal_rate")
    assert not tribunal.suppressed and "synthetic_control" in tribunal.alternatives


def test_sdid_placebo_cache_survives_the_process(tmp_path, monkeypatch):
    import evaluation.panel.cache as cache_module
    from evaluation.panel.cache import DiskCache as _DiskCache

    monkeypatch.setattr(cache_module, "CACHE_DIR", tmp_path)
    key = ("sdid", ("a", "b"), (1, 2), (3,), 10_000, "digest")
    first = _DiskCache()
    assert key not in first
    first[key] = (1.5, [0.2, 0.8])
    fresh = _DiskCache()  # a later run
    assert key in fresh and fresh[key] == (1.5, [0.2, 0.8])
    assert ("other",) not in fresh
