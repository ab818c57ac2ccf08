"""Issue #14 items 1, 3 and 5: the long pre-period and its in-time placebo check, the
sensitivity table, missing LA-years, similar-area comparators, synthetic donors and the
"check the data" flags (METHODOLOGY.md sections 2a, 2f, 2g)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from evaluation.designs.area import evaluate_area
from evaluation.designs.area_headline import headline_did
from evaluation.designs.area_sample import comparison_pool, synthetic_donors
from evaluation.designs.data_flags import data_quality_flags
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.designs.similar_areas import similar_area_did
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import PlanError, load_plan
from evaluation.report.sections.pre_period import missing_data_block, pre_period_block

from .conftest import PLAN


@pytest.fixture(scope="module")
def hartlepool(panel):
    return evaluate_area("hartlepool", PLAN, panel=panel)


def _combined_gap_change(panel, plan, outcome, earlier, later) -> float:
    """Independent arithmetic: pilots' pooled rate minus the pool's, later minus earlier."""
    o = CATALOGUE[outcome]
    u = panel.units
    pool = comparison_pool(panel, plan)
    years = earlier + later
    rows = u[u["year"].isin(years)]
    wide_ok = rows.pivot(index="unit_id", columns="year", values=o.name).notna().all(axis=1)
    pool = [p for p in pool if wide_ok.get(p, False)]

    def rate(units):
        g = rows[rows["unit_id"].isin(units)].groupby("year")
        return g[o.numerator].sum().astype(float) / g[o.denominator].sum().astype(float) * 100

    gap = rate(plan.pilot_codes) - rate(pool)
    return float(gap[later].mean() - gap[earlier].mean())


def test_each_outcome_starts_at_its_first_comparable_year(panel, plan):
    firsts = {}
    for planned in plan.outcomes:
        pp = chosen_pre_period(panel, plan, planned.name)
        firsts[planned.name] = pp.long[0]
        assert pp.long[-1] == 2022 and 2023 not in pp.long
        assert pp.fallback == [2019, 2020, 2021, 2022]
        check = pp.check
        assert check["earlier"] == [y for y in pp.long if y < 2019]
        expected = _combined_gap_change(panel, plan, planned.name, check["earlier"], pp.fallback)
        assert check["estimate"] == pytest.approx(expected, abs=1e-9)
        assert check["passed"] == (check["p_value"] >= plan.alpha)
        assert pp.years == (pp.long if check["passed"] else pp.fallback)
    assert firsts == {
        "timeliness_20wk_ex": 2015,
        "timeliness_20wk": 2015,
        "tribunal_appeal_rate": 2014,
        "refusal_to_assess_rate": 2016,
    }


def test_a_failed_in_time_placebo_falls_back_to_the_short_pre_period(panel, plan):
    """Pilots' timeliness raised by 25 points from 2019: the gap changed inside the
    pre-period, the check rejects and the fallback years are used."""
    units = panel.units.copy()
    o = CATALOGUE["timeliness_20wk_ex"]
    rows = units["unit_id"].isin(plan.pilot_codes) & units["year"].between(2019, 2024)
    den = units.loc[rows, o.denominator].astype(float)
    rate = (units.loc[rows, o.name].astype(float) + 25).clip(upper=100)
    units.loc[rows, o.name] = rate
    units.loc[rows, o.numerator] = (rate * den / 100).round()
    shifted = dataclasses.replace(panel, units=units)
    pp = chosen_pre_period(shifted, plan, o.name)
    assert pp.check["passed"] is False and pp.check["p_value"] < plan.alpha
    assert pp.years == [2019, 2020, 2021, 2022]
    assert "not used" in pp.reason


def test_sensitivity_rows_are_the_headline_on_each_pre_period(panel, plan, hartlepool):
    o = hartlepool.outcomes[0]
    rows = {tuple(r["pre"]): r for r in o.sensitivity}
    used = [r for r in o.sensitivity if r["used"]]
    assert len(used) == 1 and used[0]["estimate"] == pytest.approx(o.result.estimate)
    pool = comparison_pool(panel, plan)
    short = headline_did(panel, plan, "805", pool, o.outcome, pre=[2019, 2020, 2021, 2022])
    assert rows[("2019", "2020", "2021", "2022")]["estimate"] == pytest.approx(short.estimate)
    one = rows[("2023",)]
    assert one["p_value"] is None  # one pre-year: no measure of variation, no inference
    html = pre_period_block(hartlepool, o)
    assert "2019 to 2022" in html and "2023" in html and "in-time placebo p" in html


def test_missing_la_years_are_listed_with_what_was_done(hartlepool):
    o = hartlepool.outcomes[0]
    left = o.missing_data()["comparison_units_left_out"]
    assert "420" in left and "2015" in left["420"]["periods_missing"]
    assert set(left) == set(o.result.diagnostics["excluded_units"])
    html = missing_data_block(hartlepool, o)
    assert "Isles of Scilly" in html and "left out of the comparison" in html


def test_similar_areas_follow_the_pool_rule(panel, plan):
    o = CATALOGUE["timeliness_20wk_ex"]
    pool = comparison_pool(panel, plan)
    pre = chosen_pre_period(panel, plan, o.name).years
    res = similar_area_did(panel, plan, "805", pool, o, pre)
    comps = list(res.diagnostics["comparators"])
    assert len(comps) == plan.similar_areas["k"] == 20
    assert not set(comps) & set(plan.pilot_codes)
    u = panel.units[panel.units["year"].isin(pre)]
    mean_den = u.groupby("unit_id")[o.denominator].mean()
    assert (mean_den[comps] >= plan.min_donor_denominator).all()
    # the estimate is the DiD against the comparators' pooled rate
    years = pre + plan.post_years
    rows = panel.units[panel.units["year"].isin(years)]
    g = rows[rows["unit_id"].isin(comps)].groupby("year")
    comp = g[o.numerator].sum().astype(float) / g[o.denominator].sum().astype(float) * 100
    area = rows[rows["unit_id"] == "805"].set_index("year")[o.name].astype(float)
    gap = area - comp
    expected = gap[plan.post_years].mean() - gap[pre].mean()
    assert res.estimate == pytest.approx(expected, abs=1e-9)
    assert res.diagnostics["n_placebos"] == res.diagnostics["n_eligible"]
    assert 1 / (1 + res.diagnostics["n_placebos"]) <= res.p_value <= 1


def test_synthetic_donors_exclude_tiny_denominators_and_fits_are_not_exact(panel, hartlepool):
    o = CATALOGUE["timeliness_20wk_ex"]
    pool = comparison_pool(panel, hartlepool.plan)
    donors = synthetic_donors(panel.units, "year", o, pool, [2015, 2022], 20)
    assert "201" not in donors and "420" not in donors  # City of London, Isles of Scilly
    sc = hartlepool.outcomes[0].alternatives["synthetic_control"]
    w = sc.extra["weights"].set_index("unit")["weight"]
    assert w.get("201", 0.0) == 0.0
    assert sc.diagnostics["pre_rmspe"] > 0  # the ridge keeps the fit from being exact
    assert "ridge" in sc.conventions["weights"]


def test_check_the_data_replaces_the_grade(panel, plan):
    ev = evaluate_area("portsmouth", PLAN, panel=panel)
    o = ev.outcomes[0]
    placebo = o.result.distribution.loc[~o.result.distribution["is_treated"], "estimate"]
    assert o.result.estimate < placebo.min()
    flags = data_quality_flags(o.result, panel, "851", ev.pool, o.outcome)
    assert any("outside the range" in f for f in flags)
    assert ev.evidence(o.outcome.name).label == "Check the data"


def test_denominator_flag_is_relative_to_the_pool(panel, plan):
    o = CATALOGUE["timeliness_20wk_ex"]
    pool = comparison_pool(panel, plan)
    res = headline_did(panel, plan, "805", pool, o)
    units = panel.units.copy()
    rows = (units["unit_id"] == "805") & (units["year"] == 2024)
    units.loc[rows, [o.numerator, o.denominator]] *= 3  # same rate, three times the plans
    flags = data_quality_flags(res, dataclasses.replace(panel, units=units), "805", pool, o)
    assert any("changed by" in f for f in flags)
    assert not any("changed by" in f for f in data_quality_flags(res, panel, "805", pool, o))


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["periods"].update(fallback_pre=[2012, 2022]), "periods.fallback_pre"),
        (lambda r: r["periods"].update(fallback_pre=[2019, 2021]), "periods.fallback_pre"),
        (lambda r: r["periods"]["sensitivity"][0].pop("why"), "periods.sensitivity[0].why"),
        (lambda r: r["comparison_pool"]["similar_areas"].update(k=1), "similar_areas.k"),
        (lambda r: r["comparison_pool"].update(min_donor_denominator=-1), "min_donor"),
    ],
)
def test_bad_pre_period_and_pool_options_name_the_key(tmp_path, mutate, key):
    raw = yaml.safe_load(PLAN.read_text())
    mutate(raw)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(PlanError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_plan(path)
