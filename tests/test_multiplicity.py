"""Multiplicity control: Romano-Wolf within an area, Benjamini-Hochberg across areas."""

import itertools

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from evaluation.designs.area import evaluate_area
from evaluation.designs.multiplicity import benjamini_hochberg, romano_wolf

from .conftest import PLAN


def test_benjamini_hochberg_equals_statsmodels():
    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 32, 100):
        p = np.concatenate([rng.uniform(size=m // 2), rng.uniform(0, 0.02, size=m - m // 2)])
        p[rng.integers(0, m)] = p[0]  # a tie
        expected = multipletests(p, method="fdr_bh")[1]
        np.testing.assert_allclose(benjamini_hochberg(p), expected, rtol=0, atol=1e-15)


def test_benjamini_hochberg_leaves_missing_p_values_out():
    q = benjamini_hochberg([0.01, np.nan, 0.04])
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2]], multipletests([0.01, 0.04], method="fdr_bh")[1])


def _romano_wolf_by_definition(observed: dict, placebo: pd.DataFrame) -> dict:
    """Closed testing with max-|z| tests, the definition the step-down shortcut computes:
    an outcome's adjusted p is the largest max-statistic p-value over every subset of outcomes
    containing it (Romano and Wolf 2005, section 3)."""
    names = list(observed)
    n = len(placebo)
    out = {}
    for k in names:
        worst = 0.0
        for r in range(1, len(names) + 1):
            for subset in itertools.combinations(names, r):
                if k not in subset:
                    continue
                stat = max(observed[s] for s in subset)
                null = placebo[list(subset)].max(axis=1)
                worst = max(worst, (1 + int((null >= stat * (1 - 1e-12)).sum())) / (1 + n))
        out[k] = worst
    return out


def test_romano_wolf_equals_closed_testing_by_definition():
    rng = np.random.default_rng(11)
    for _ in range(25):
        k, n = int(rng.integers(1, 5)), int(rng.integers(5, 60))
        cov = 0.5 * np.ones((k, k)) + 0.5 * np.eye(k)
        placebo = pd.DataFrame(
            np.abs(rng.multivariate_normal(np.zeros(k), cov, size=n)),
            columns=[f"o{i}" for i in range(k)],
        )
        observed = {f"o{i}": float(abs(rng.normal(0, 2))) for i in range(k)}
        got = romano_wolf(observed, placebo)
        want = _romano_wolf_by_definition(observed, placebo)
        assert got == pytest.approx(want)


def test_one_outcome_is_its_own_rank_test():
    placebo = pd.DataFrame({"a": [0.5, 1.0, 2.0, 3.0]})
    assert romano_wolf({"a": 2.0}, placebo) == {"a": pytest.approx(3 / 5)}


def test_area_results_carry_adjusted_p_values(panel):
    ev = evaluate_area("hartlepool", PLAN, panel=panel)
    outcomes = ev.to_dict()["outcomes"]
    for o in outcomes:
        assert o["p_value_romano_wolf"] >= o["p_value"]
    # the most extreme outcome (largest |z|; its own p-value may rank differently, since each
    # outcome's placebo set is its own) gets the max-statistic p; the others are at least it
    first = max(outcomes, key=lambda o: abs(o["diagnostics"]["z"]))
    assert all(o["p_value_romano_wolf"] >= first["p_value_romano_wolf"] for o in outcomes)


def test_overview_q_values_are_benjamini_hochberg_per_outcome(tmp_path, panel, plan):
    import json

    from evaluation.config import slugify
    from evaluation.io.geography import load_geography
    from evaluation.report.overview import collect_results

    geo = load_geography(plan.data_dir)
    codes = list(plan.pilot_codes)[:6]
    slugs = {c: slugify(geo.name_for_code(c)) for c in codes}
    for code, slug in slugs.items():
        ev = evaluate_area(code, PLAN, panel=panel)
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "results.json").write_text(json.dumps(ev.to_dict()))
    frame, missing = collect_results(tmp_path, plan, slugs)
    assert not missing
    for _, group in frame.groupby("outcome"):
        expected = multipletests(group["p_value"], method="fdr_bh")[1]
        np.testing.assert_allclose(group["q_value_bh"], expected)
    assert frame["p_value_romano_wolf"].notna().all()


def test_the_headline_shows_the_adjusted_p_value(panel):
    from evaluation.report.text import headline

    ev = evaluate_area("hartlepool", PLAN, panel=panel)
    o = ev.outcomes[0]
    assert f"{o.p_value_romano_wolf:.2f} adjusted for the plan's 4 outcomes" in headline(ev, o)
