"""make reports: several areas in parallel, the overview and the index; one failing area does
not stop the others.  Also the programme-level estimator."""

import json

import numpy as np
import pandas as pd
import pytest

from evaluation.designs.programme import combine_units, programme_did


def test_render_all_isolates_failures_and_writes_index(rendered_project):
    """City of London's report fails (no 2024 timeliness figure); the other two complete."""
    cold, out = rendered_project["cold"], rendered_project["out"]
    assert [r.slug for r in cold.reports] == ["county-durham", "hartlepool"]
    assert set(cold.failures) == {"201"}
    assert "no" in cold.failures["201"].lower()
    assert (out / "hartlepool" / "index.html").exists() and not (out / "city-of-london").exists()
    index = (out / "index.html").read_text()
    assert "href='hartlepool/index.html'" in index
    assert "City of London (report not available)" in index
    assert "<html lang='en'>" in index and "overview/index.html" in index
    assert "201" in json.loads((out / "overview" / "results.json").read_text())["areas_missing"]


def test_combine_units_sums_counts_and_recomputes_the_rate():
    units = pd.DataFrame(
        {
            "unit_id": ["a", "a", "b", "b"],
            "year": [1, 2, 1, 2],
            "num": [1, 2, 3, 4],
            "den": [10, 10, 30, 10],
            "rate": 0.0,
        }
    )
    c = combine_units(units, ["a", "b"], "ab", numerator="num", denominator="den", outcome="rate")
    assert c["num"].tolist() == [4, 6] and c["den"].tolist() == [40, 20]
    assert c["rate"].tolist() == pytest.approx([10.0, 30.0])


def _toy(seed=0, effect=0.0):
    rng = np.random.default_rng(seed)
    rows = []
    regions = {}
    for r in range(3):
        for i in range(12):
            u = f"R{r}U{i}"
            regions[u] = f"region{r}"
            base = rng.uniform(40, 70)
            for y in range(2016, 2025):
                den = 100
                rate = base + rng.normal(0, 2) + (effect if i < 2 and y >= 2023 else 0)
                rows.append({"unit_id": u, "year": y, "num": rate, "den": den, "rate": rate})
    return pd.DataFrame(rows), regions


def test_programme_did_is_seeded_and_finds_a_large_effect():
    units, regions = _toy(effect=15.0)
    treated = {f"p{r}": [f"R{r}U0", f"R{r}U1"] for r in range(3)}
    pool = [u for u in regions if not u.endswith(("U0", "U1"))]
    kw = dict(
        treated=treated,
        pool=pool,
        region_of=regions,
        outcome="rate",
        numerator="num",
        denominator="den",
        pre=[2016, 2017, 2018, 2019, 2020, 2021, 2022],
        post=[2023, 2024],
        permutations=199,
    )
    a = programme_did(units, seed=3, **kw)
    b = programme_did(units, seed=3, **kw)
    assert a.estimate == b.estimate and a.p_value == b.p_value  # same seed, same numbers
    assert abs(a.estimate - 15.0) < 3 and a.p_value == pytest.approx(1 / 200)
    assert a.ci_low < 15.0 < a.ci_high
    assert len(a.distribution) == 199 and a.se is None


def test_index_and_overview_pass_the_browser_and_axe_checks(rendered_project):
    from .test_report import _browser_check

    out = rendered_project["out"]
    pages = [out / "index.html", out / "overview" / "index.html"]
    assert pages[1].exists()  # the overview (with robustness and power sections) rendered
    for page in pages:
        result = _browser_check(page)
        assert result["consoleErrors"] == [] and result["requests"] == [], page
        bad = [v for v in result["violations"] if v["impact"] in {"serious", "critical"}]
        assert bad == [], page


def test_placebo_programmes_draw_distinct_units_within_regions_and_match_a_direct_fit():
    from evaluation.designs.programme import (
        _did_combined,
        placebo_programme_did,
        placebo_programmes,
    )

    units, regions = _toy(seed=4)
    pool = [u for u in regions if not u.endswith(("U0", "U1"))]
    by_region: dict[str, list[str]] = {}
    for u in pool:
        by_region.setdefault(regions[u], []).append(u)
    pool_ok = [u for r in by_region.values() for u in r]
    need = {"region0": 2, "region1": 2, "region2": 3}
    idx = placebo_programmes(by_region, need, pool_ok, 50, seed=9)
    assert idx.shape == (50, 7)
    for row in idx:
        picked = [pool_ok[i] for i in row]
        assert len(set(picked)) == 7  # no unit twice in one placebo programme
        assert (
            sorted(regions[u] for u in picked)
            == ["region0"] * 2 + ["region1"] * 2 + ["region2"] * 3
        )
    pre, post = list(range(2016, 2023)), [2023, 2024]
    wide = units.set_index(["unit_id", "year"])
    num = wide["num"].unstack().loc[pool_ok, pre + post].to_numpy()
    den = wide["den"].unstack().loc[pool_ok, pre + post].to_numpy()
    fast = placebo_programme_did(num, den, idx, len(pre))
    for b in range(5):  # independent: the estimator refitted from scratch on that programme
        members = [pool_ok[i] for i in idx[b]]
        direct, _ = _did_combined(
            units,
            members,
            [u for u in pool_ok if u not in members],
            outcome="rate",
            numerator="num",
            denominator="den",
            pre=pre,
            post=post,
        )
        assert fast[b] == pytest.approx(direct, abs=1e-9)


def test_overview_says_which_area_intervals_the_0_to_100_range_cut(tmp_path):
    """Hartlepool's timeliness interval is cut at both ends (its report says so); the
    overview's table marks it and counts the cut intervals."""
    import json

    from evaluation.report.overview import collect_results

    results = {
        "area": {"name": "Hartlepool", "partnership": "North East"},
        "outcomes": [
            {
                "outcome": "timeliness",
                "estimate": 36.6,
                "ci_low": -25.4,
                "ci_high": 74.6,
                "p_value": 0.15,
                "diagnostics": {"interval_before_bounds": [-40.2, 113.3]},
            },
            {
                "outcome": "tribunal_appeal_rate",
                "estimate": -0.01,
                "ci_low": -1.89,
                "ci_high": 1.88,
                "p_value": 0.99,
                "diagnostics": {"interval_before_bounds": [-1.89, 1.88]},
            },
        ],
    }
    (tmp_path / "hartlepool").mkdir()
    (tmp_path / "hartlepool" / "results.json").write_text(json.dumps(results))
    areas, missing = collect_results(tmp_path, None, {"805": "hartlepool"})
    assert missing == [] and list(areas["interval_cut"]) == ["both ends", "no"]
