"""End to end: render a real report from the shipped data, and refuse bad AREA values."""

import json
import os
import subprocess
import sys

import pytest

from evaluation.designs.area import evaluate_area
from evaluation.report.render import external_resources, render_area
from evaluation.report.text import fmt

from .conftest import PLAN, ROOT

FIRST_RENDER: dict[str, bytes] = {}  # the first render's bytes (a later test re-renders in place)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    report = render_area("hartlepool", PLAN, out_root=out)
    FIRST_RENDER.update(html=report.html.read_bytes(), results=report.results.read_bytes())
    return report


def test_same_inputs_give_byte_identical_pages_and_no_kernel_warnings(rendered, tmp_path, capfd):
    """Same inputs, plan, seed and code: the same index.html and results.json, byte for byte
    (cell ids from their position, SVG ids from a fixed salt, no dates but the run date, which
    SOURCE_DATE_EPOCH pins); and the kernel prints nothing on the terminal."""
    capfd.readouterr()
    again = render_area("hartlepool", PLAN, out_root=tmp_path)
    assert again.html.read_bytes() == FIRST_RENDER["html"]
    assert again.results.read_bytes() == FIRST_RENDER["results"]
    out, err = capfd.readouterr()
    assert "WARNING" not in err and "Warning" not in err and "Traceback" not in err, err
    html = FIRST_RENDER["html"].decode("utf-8")
    assert 'id="cell-id=cell-0"' in html and "Warning" not in html


def test_report_files_are_written(rendered):
    assert rendered.html.name == "index.html" and rendered.html.parent.name == "hartlepool"
    assert rendered.results.exists()


def test_results_json_schema_and_finite_primary_estimate(rendered):
    res = json.loads(rendered.results.read_text())
    assert res["area"] == {
        "name": "Hartlepool",
        "la_code": "805",
        "gss_code": "E06000001",
        "slug": "hartlepool",
        "partnership": "North East",
        "start_date": "2023-09-01",
    }
    assert res["plan"] == "change_programme_2023"
    assert set(res["generated_with"]) >= {"version", "data_sha256"}
    assert "ehcp_2025_timeliness_20_week.csv" in res["generated_with"]["data_sha256"]
    outcomes = {o["outcome"]: o for o in res["outcomes"]}
    assert set(outcomes) == {
        "timeliness_20wk_ex",
        "tribunal_appeal_rate",
        "timeliness_20wk",
        "refusal_to_assess_rate",
    }
    required = {
        "outcome",
        "method",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "inference",
        "n_comparison_units",
        "pre_periods",
        "post_periods",
    }
    for o in outcomes.values():
        assert required <= set(o)
        assert o["se"] is None  # never a clustered SE for one treated unit
    p = outcomes["timeliness_20wk_ex"]
    assert all(isinstance(p[k], float) for k in ["estimate", "ci_low", "ci_high", "p_value"])
    assert p["ci_low"] <= p["estimate"] <= p["ci_high"]


def test_html_has_no_code_and_loads_nothing_from_the_network(rendered):
    html = rendered.html.read_text()
    assert external_resources(html) == []
    assert "<script" not in html
    assert 'class="jp-InputArea' not in html and "evaluate_area(" not in html
    assert "from evaluation" not in html
    assert "<title>Hartlepool: SEND Change Programme evidence report</title>" in html
    assert html.count("<img ") == html.count('alt="') and html.count("<img ") >= 8


def test_html_headlines_match_results_json(rendered):
    html = rendered.html.read_text()
    res = json.loads(rendered.results.read_text())
    for o in res["outcomes"]:
        dp = 2 if o["outcome"] == "tribunal_appeal_rate" else 1
        assert fmt(abs(o["estimate"]), dp) in html
        assert f"interval {fmt(o['ci_low'], dp)} to {fmt(o['ci_high'], dp)}" in html
        raw = o["diagnostics"].get("interval_before_bounds")
        if raw and [o["ci_low"], o["ci_high"]] != raw and all(abs(x) <= 1000 for x in raw):
            # an interval cut at 0-100 says so, with the unrestricted interval from results.json
            assert f"would run from {fmt(raw[0], dp)} to {fmt(raw[1], dp)}" in html
    for caveat in [
        "not chosen at random",
        "already differed before the programme",
        "series breaks in 2023",
    ]:
        assert caveat in html


def test_same_inputs_give_the_same_numbers(rendered):
    again = evaluate_area("805", PLAN).to_dict()
    first = json.loads(rendered.results.read_text())
    assert [o["estimate"] for o in again["outcomes"]] == [o["estimate"] for o in first["outcomes"]]
    assert [o["p_value"] for o in again["outcomes"]] == [o["p_value"] for o in first["outcomes"]]


@pytest.mark.parametrize("area", ["../etc", "nowhere"])
def test_cli_refuses_bad_areas_and_writes_nothing(area, tmp_path):
    before = (
        sorted(p.name for p in (ROOT / "reports").iterdir()) if (ROOT / "reports").exists() else []
    )
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "report", "--area", area],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "make areas" in proc.stderr
    after = (
        sorted(p.name for p in (ROOT / "reports").iterdir()) if (ROOT / "reports").exists() else []
    )
    assert before == after


def test_cli_lists_areas():
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "areas"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "hartlepool" in proc.stdout and "E06000001" in proc.stdout
    assert (
        len(
            [
                ln
                for ln in proc.stdout.splitlines()
                if ln.startswith("  ") and ln.split()[1].isdigit()
            ]
        )
        == 32
    )


def test_report_has_single_and_controlled_its_and_says_points_are_few(rendered):
    html = rendered.html.read_text()
    res = json.loads(rendered.results.read_text())
    assert "<h2>Interrupted time series</h2>" in html
    assert "Few points." in html and "7 yearly points before the programme" in html
    designs = {(i["outcome"], i["design"]) for i in res["its"]}
    assert ("timeliness_20wk_ex", "single") in designs
    assert ("timeliness_20wk_ex", "controlled") in designs
    for i in res["its"]:
        assert i["pre_periods"][0] == 2016 and i["n_points"] == 9
        assert "t(n - k)" in i["conventions"]["critical_values"]


def test_data_quality_section_lists_area_and_comparison_pool_findings(rendered):
    html = rendered.html.read_text()
    assert "<h3>This area</h3>" in html and "<h3>Comparison areas</h3>" in html
    assert "known_source_erratum" in html and "Nottinghamshire" in html
    assert "rows in =" in html


def test_area_findings_for_leicester_name_its_missing_2023_timeliness(plan):
    ev = evaluate_area("leicester", PLAN)
    own = ev.area_findings()
    assert list(own["rule"]) == ["la_year_missing"]
    pool = ev.pool_findings()
    assert "823" not in set(pool["la_code"])  # Central Bedfordshire is a pilot, not in the pool
    assert {"gss_code_drift", "known_source_erratum"} <= set(pool["rule"])


def _browser_check(html_path):
    import shutil

    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    modules = ROOT / "tests" / "browser" / "node_modules"
    if (
        not node
        or not os.path.exists(chromium)
        or not (modules / "axe-core").exists()
        or not (modules / "playwright-core").exists()
    ):
        pytest.skip(
            "headless Chromium, node or the npm packages are missing: run make browser-deps"
        )
    proc = subprocess.run(
        [node, str(ROOT / "tests" / "browser" / "check_page.js"), str(html_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_browser_no_console_errors_no_requests_and_axe_clean(rendered):
    result = _browser_check(rendered.html)
    assert result["title"] == "Hartlepool: SEND Change Programme evidence report"
    assert result["consoleErrors"] == []
    assert result["requests"] == []
    serious = [v for v in result["violations"] if v["impact"] in {"serious", "critical"}]
    assert serious == [], serious
    _first_screen_holds_the_answer(rendered, result["firstScreen"])


# technical terms a policy reader needs the glossary for (the glossary's own entries, less the
# plain verdict phrases it also explains)
TECHNICAL = [
    "placebo", "difference-in-differences", "interval", "p-value", "p =", "detectable",
    "synthetic", "event study", "time series", "pre-trend", "standard error", "confidence",
    "leads", "lags", "EBCI", "shrink",
]  # fmt: skip


def _first_screen_holds_the_answer(rendered, text: str) -> None:
    """Issue #15: at 1280 x 800, before scrolling, the title and the verdict lines of the
    primary and secondary outcomes, and no term that needs the glossary."""
    res = json.loads(rendered.results.read_text())
    assert "Hartlepool: evidence report" in text
    for o in res["outcomes"]:
        if o["role"] in {"primary", "secondary"}:
            assert o["verdict"]["line"] in text, o["outcome"]
    lower = text.lower()
    assert [t for t in TECHNICAL if t.lower() in lower] == []


def test_summary_carries_strength_labels_and_about_section(rendered):
    html = rendered.html.read_text()
    res = json.loads(rendered.results.read_text())
    for o in res["outcomes"]:
        assert f"Strength of evidence: {o['evidence']['label']}." in html
    assert "<h2>About this report</h2>" in html


def test_second_wave_shows_what_changed(rendered):
    again = render_area("hartlepool", PLAN, out_root=rendered.html.parent.parent)
    html = again.html.read_text()
    assert "<h2>Changes since the last report</h2>" in html
    assert "The previous report for Hartlepool was produced on" in html
    assert "The data files are the same as last time." in html
