"""Partial pooling of the pilots' effects (robust EBCI) in the area evaluation."""

import math

import pytest
from scipy import special

from evaluation.designs.area import evaluate_area
from evaluation.designs.area_headline import headline_did
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pooling import implied_se, pooled_effects
from evaluation.models.ebci import robust_ebci
from evaluation.panel.outcomes import CATALOGUE
from evaluation.report import sections

from .conftest import PLAN


@pytest.fixture(scope="module")
def ev(panel):
    return evaluate_area("hartlepool", PLAN, panel=panel)


def test_every_outcome_has_a_pooled_result_in_results_json(ev):
    for o in ev.to_dict()["outcomes"]:
        p = o["pooled"]
        assert p["n_areas"] + len(p["left_out"]) == len(ev.plan.pilot_codes)
        assert p["ci_low"] <= p["shrunk"] <= p["ci_high"]
        assert 0 < p["shrinkage"] < 1
        # the shrunk estimate lies between the area's own estimate and the pilots' mean
        lo, hi = sorted([o["estimate"], p["pilots_mean"]])
        assert lo - 1e-9 <= p["shrunk"] <= hi + 1e-9
        assert p["estimate"] == pytest.approx(o["estimate"])
        assert "standard_error" in p["conventions"]


def test_the_standard_error_is_the_one_the_placebo_interval_implies(ev):
    for o in ev.outcomes:
        lo, hi = o.result.diagnostics["interval_before_bounds"]
        z = special.ndtri(1 - o.result.alpha / 2)
        assert o.pooled["se"] == pytest.approx((hi - lo) / (2 * z))
        assert implied_se(o.result) == pytest.approx(o.pooled["se"])


def test_pooled_rows_equal_an_independent_ebci_of_all_pilots(panel, plan):
    """Refit every pilot's headline DiD here and pool them with robust_ebci directly."""
    name = plan.outcomes[0].name
    pool = comparison_pool(panel, plan)
    est, se, codes = [], [], []
    for code in plan.pilot_codes:
        res = headline_did(panel, plan, code, pool, CATALOGUE[name])
        lo, hi = res.diagnostics["interval_before_bounds"]
        if math.isfinite(lo) and math.isfinite(hi):
            est.append(res.estimate)
            se.append((hi - lo) / (2 * special.ndtri(1 - plan.alpha / 2)))
            codes.append(code)
    direct = robust_ebci(est, se, alpha=plan.alpha, index=codes).rows
    pooled = pooled_effects(panel, plan, name)
    for code in codes:
        assert pooled.for_area(code)["shrunk"] == pytest.approx(direct.loc[code, "shrunk"])
        width = pooled.for_area(code)
        assert width["half_length"] == pytest.approx(direct.loc[code, "half_length"])


def test_the_report_says_what_borrowing_strength_means(ev):
    html = sections.outcome_section(ev, 0)
    assert "Borrowing strength from the other pilots" in html
    assert "on average, not" in html


def test_a_withheld_post_period_keeps_the_pooled_interval_unbounded(panel):
    ev = evaluate_area("camden", PLAN, panel=panel)
    withheld = [o for o in ev.outcomes if set(o.result.post_periods) & o.suppressed]
    assert withheld  # Camden's 2024 timeliness counts are small
    for o in withheld:
        assert "interval_before_bounds" not in o.pooled
        assert o.pooled["conventions"]["bounds"].startswith("not applied")
