"""Programme-level robustness estimators on the shipped panel (32 pilots, 9 partnerships)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.designs.programme import programme_panel, programme_robustness
from evaluation.panel.outcomes import CATALOGUE


@pytest.fixture(scope="module")
def setup(panel, plan):
    pool = comparison_pool(panel, plan)
    treated: dict[str, list[str]] = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    o = CATALOGUE["timeliness_20wk_ex"]
    kw = dict(
        outcome=o.name,
        numerator=o.numerator,
        denominator=o.denominator,
        pre=chosen_pre_period(panel, plan, o.name).years,
        post=plan.post_years,
    )
    res = programme_robustness(panel.units, treated=treated, pool=pool, seed=1, n_boot=999, **kw)
    return panel, plan, pool, treated, o, kw, res


def test_every_result_names_estimator_and_inference(setup):
    *_, res = setup
    assert set(res) == {"twfe_wild", "conley_taber", "binomial_fe", "cs_dr"}
    for r in res.values():
        assert r.method and r.inference
        assert r.ci_low <= r.estimate <= r.ci_high
    assert res["conley_taber"].se is None
    assert "9 treated clusters" in res["twfe_wild"].conventions["caveat"]


def test_twfe_matches_weighted_dummy_regression(setup):
    panel, plan, pool, treated, o, kw, res = setup
    d = programme_panel(
        panel.units,
        treated,
        pool,
        outcome=o.name,
        numerator=o.numerator,
        denominator=o.denominator,
        years=kw["pre"] + plan.post_years,
    )
    d["D"] = ((d["pilot"] == 1) & d["year"].isin(plan.post_years)).astype(float)
    X = sm.add_constant(
        pd.concat(
            [
                d[["D"]],
                pd.get_dummies(d[["unit_id", "year"]].astype(str), drop_first=True, dtype=float),
            ],
            axis=1,
        )
    )
    m = sm.WLS(d[o.name].astype(float), X, weights=d[o.denominator].astype(float)).fit()
    assert res["twfe_wild"].estimate == pytest.approx(m.params["D"], abs=1e-8)


def test_conley_taber_estimate_is_the_pooled_change_difference(setup):
    panel, plan, pool, treated, o, kw, res = setup
    pre = kw["pre"]
    years = pre + plan.post_years

    def change(frame):
        w = frame.pivot(index="unit_id", columns="year", values=o.name)[years].astype(float)
        den = frame.pivot(index="unit_id", columns="year", values=o.denominator)[years]
        ok = w.notna().all(axis=1)
        ch = w.loc[ok, plan.post_years].mean(axis=1) - w.loc[ok, pre].mean(axis=1)
        return ch, den.loc[ok].astype(float).mean(axis=1)

    members = [u for ms in treated.values() for u in ms]
    pil = panel.units[panel.units["unit_id"].isin(members) & panel.units["year"].isin(years)]
    ct, wt = change(pil)
    comp = panel.units[panel.units["unit_id"].isin(pool) & panel.units["year"].isin(years)]
    cc, wc = change(comp)
    expected = np.average(ct, weights=wt) - np.average(cc, weights=wc)
    assert res["conley_taber"].estimate == pytest.approx(expected, abs=1e-8)
    assert res["conley_taber"].n_treated == 32


def test_binomial_uses_the_score_bootstrap_by_partnership(setup):
    *_, res = setup
    r = res["binomial_fe"]
    assert r.inference == "restricted score cluster bootstrap" and r.se is None
    assert r.diagnostics["n_treated_clusters"] == 9 and r.diagnostics["few_cluster_valid"]
    assert r.ci_low < r.estimate < r.ci_high


def test_doubly_robust_cs_conditions_on_the_earlier_level_of_complete_las(setup):
    from evaluation.models.callaway_santanna import callaway_santanna

    panel, plan, pool, treated, o, kw, res = setup
    r = res["cs_dr"]
    assert r.diagnostics["few_cluster_valid"] is False  # counts for its direction only
    years = kw["pre"] + plan.post_years
    d = programme_panel(panel.units, treated, pool, outcome=o.name, numerator=o.numerator,
                        denominator=o.denominator, years=years)  # fmt: skip
    counts = d.groupby("unit_id")["year"].nunique()
    complete = counts.index[counts == len(years)]
    assert r.diagnostics["las_left_out_incomplete"] == len(counts) - len(complete) > 0
    b = d[d["unit_id"].isin(complete)].copy()
    early = b[b["year"] < kw["pre"][-1]].groupby("unit_id")[o.name].mean()
    b["x"] = b["unit_id"].map(early)
    b["w"] = b["unit_id"].map(b.groupby("unit_id")[o.denominator].mean())
    b["g"] = np.where(b["pilot"] == 1, plan.post_years[0], 0)
    ref = callaway_santanna(b, unit="unit_id", time="year", outcome=o.name, first_treated="g",
                            weights="w", cluster="cluster", inference="analytic",
                            covariates=["x"])  # fmt: skip
    assert r.estimate == pytest.approx(ref.estimate, abs=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((ref.ci_low, ref.ci_high), abs=1e-12)
    # without the covariate the doubly robust estimate is the unconditional CS one
    plain = callaway_santanna(b, unit="unit_id", time="year", outcome=o.name, first_treated="g",
                              weights="w", cluster="cluster", inference="analytic")  # fmt: skip
    assert plain.estimate != pytest.approx(r.estimate, abs=1e-3)
