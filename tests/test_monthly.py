"""Monthly pilot returns end to end: SYNTHETIC case records (small, seeded) -> case ingest ->
EES-layout monthly returns -> pilot_returns contract -> area x month panel -> monthly DiD, event
study, synthetic control and ITS -> report.

The true effect is known exactly: the generator draws the same random numbers whatever the
effect, so a second run with the same seed and a zero effect is the pilot's counterfactual.  The
DiD estimand (mean post-period gap minus mean pre-period gap) of the true effect is then the
difference between the two runs' intended rates for the pilot (the comparison areas are
identical in both runs)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.config import DEFAULT_DATA_DIR, PROJECT_ROOT
from evaluation.demo.synthetic_returns import generate_cases, la_baselines
from evaluation.designs.area import evaluate_area
from evaluation.io.geography import load_geography
from evaluation.models.did_one_treated import did_one_treated
from evaluation.panel.build import build_returns_panel
from evaluation.panel.cases import cases_to_panel
from evaluation.panel.plan import (
    DataMissingError,
    PlanError,
    load_plan,
    month_index,
)
from evaluation.panel.sources import MONTH_NUMBER

SEED = 7
TREATED, NULL = "352", "380"  # Manchester: +25 points from 2023-09; Bradford: no effect
EFFECT_PP = 25.0
PRE, POST = ["2022-01", "2023-08"], ["2024-03", "2024-09"]
WASHOUT = ["2023-09", "2024-02"]


def _plan_dict(returns_file) -> dict:
    return {
        "name": "monthly_test",
        "title": "SYNTHETIC test plan (monthly)",
        "synthetic": True,
        "frequency": "month",
        "data": {
            "directory": str(PROJECT_ROOT / "data"),
            "returns": {
                "contract": "pilot_returns",
                "files": [str(returns_file)],
                "if_missing": "Run `make demo-data` first.",
            },
        },
        "pilots": [
            {
                "la_code": TREATED,
                "la_name": "Manchester",
                "partnership": "North West",
                "role": "lead",
                "start_date": "2023-09-01",
            },
            {
                "la_code": NULL,
                "la_name": "Bradford",
                "partnership": "Yorkshire and the Humber",
                "role": "lead",
                "start_date": "2023-09-01",
            },
        ],
        "outcomes": {
            "primary": [{"name": "timeliness_20wk_ex", "minimum_important_difference": 5.0}],
            "secondary": [{"name": "refusal_to_assess_rate", "minimum_important_difference": 5.0}],
        },
        "periods": {
            "pre": PRE,
            "post": POST,
            "partially_treated": [
                {"months": WASHOUT, "handling": "exclude", "why": "phase-in (washout)"}
            ],
        },
        "its": {
            "first_period": "2022-01",
            "effects": "level",
            "method": "ar1-reml",
            "harmonics": 2,
        },
        "inference": {"method": "placebo_in_space", "alpha": 0.05, "seed": 20230901},
        # the estimators are under test here; disclosure control (which withholds most monthly
        # values of a half-size synthetic area) is tested in tests/test_area_estimators.py
        "disclosure": {"threshold": 1},
        # SDID's placebo refits take most of an area's time; the shipped demo plan keeps it
        "alternatives": {"synthetic_did": False},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Small SYNTHETIC dataset (80 larger LAs, half the published volumes, 2022-2024), with and
    without the effect, ingested from case records to monthly returns."""
    tmp = tmp_path_factory.mktemp("monthly")
    geo = load_geography(DEFAULT_DATA_DIR)
    base = la_baselines(DEFAULT_DATA_DIR, geo).sort_values("requests_per_year", ascending=False)
    base = base.head(80)
    assert {TREATED, NULL} <= set(base["la_code"])
    kw = dict(seed=SEED, start="2022-01", end="2024-12", burn_in_months=6, scale=0.5, geo=geo)
    treated = generate_cases(base, effects={TREATED: ("2023-09", EFFECT_PP)}, **kw)
    control = generate_cases(base, effects={TREATED: ("2023-09", 0.0)}, **kw)
    files = {}
    for name, synth in [("treated", treated), ("control", control)]:
        panel, info = cases_to_panel(synth.records, "month", start="2022-01", geo=geo)
        assert info.balanced() and info.n_errors == 0
        files[name] = tmp / f"returns_{name}.csv"
        panel.to_csv(files[name], index=False)
    plan_path = tmp / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(_plan_dict(files["treated"])), encoding="utf-8")
    return {
        "tmp": tmp,
        "geo": geo,
        "plan": plan_path,
        "files": files,
        "intended": {"treated": treated.intended, "control": control.intended},
    }


def _true_did(world, code: str, outcome_cols=("plans_issued_20_weeks_ex", "plans_issued_den_ex")):
    """The DiD estimand of the true effect on ``code``: intended rates with minus without the
    effect, mean over the post months minus mean over the pre months."""
    rates = {}
    num, den = outcome_cols
    for name, frame in world["intended"].items():
        f = frame[frame["old_la_code"] == code]
        period = (f["time_period"].astype(int) - 2000) * 12 + f["time_identifier"].map(MONTH_NUMBER)
        f = f.set_index(period.to_numpy())
        rates[name] = f[num] / f[den] * 100
    diff = rates["treated"] - rates["control"]
    plan = load_plan(world["plan"])
    return float(diff[plan.post_years].mean() - diff[plan.pre_years].mean()), diff, plan


def test_monthly_plan_periods_and_labels(world):
    plan = load_plan(world["plan"])
    assert plan.monthly and plan.frequency == "month"
    assert plan.pre == (month_index("2022-01"), month_index("2023-08"))
    assert month_index("2000-01") == 0 and month_index("2021-01") == 252
    assert len(plan.pre_years) == 20 and len(plan.post_years) == 7
    assert plan.excluded_periods == list(range(month_index("2023-09"), month_index("2024-03")))
    assert plan.period_label(plan.post_years[0]) == "Mar 2024"
    assert plan.partial_label(plan.partially_treated[0]) == "Sep 2023 to Feb 2024"
    assert plan.its["first_period"] == month_index("2022-01") and plan.its["harmonics"] == 2
    bad = _plan_dict(world["files"]["treated"])
    bad["periods"]["pre"] = ["2022-13", "2023-08"]
    path = world["tmp"] / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(PlanError, match="periods.pre"):
        load_plan(path)


def test_shipped_synthetic_plan_loads():
    plan = load_plan("plans/synthetic_demo.yaml")
    assert plan.synthetic and "SYNTHETIC" in plan.title and plan.monthly
    assert [o.name for o in plan.outcomes] == [
        "timeliness_20wk_ex",
        "timeliness_20wk",
        "refusal_to_assess_rate",
    ]
    assert len(plan.pilots) == 32 and plan.its["method"] == "ar1-reml"
    assert plan.returns_files[0].name == "synthetic_panel_monthly.csv"


def test_panel_from_returns_matches_intended_counts_and_keeps_quarantine(world, tmp_path):
    # a second return file with one bad row (numerator above denominator) and one good row
    # for a month the first file does not cover: the bad row is quarantined, not used
    text = pd.read_csv(world["files"]["treated"], dtype=str)
    extra = text[(text["old_la_code"] == NULL) & (text["time_period"] == "2024")].head(2).copy()
    extra["time_period"] = "2025"
    extra.loc[extra.index[0], "plans_issued_20_weeks_ex"] = "9999"
    second = tmp_path / "second.csv"
    extra.to_csv(second, index=False)
    panel = build_returns_panel([world["files"]["treated"], second], geo=world["geo"])
    assert panel.time == "period" and panel.frequency == "month"
    assert [v.balanced() for v in panel.validation] == [True, True]
    assert panel.validation[1].rows_quarantined == 1 and panel.validation[1].rows_accepted == 1
    units = panel.units
    assert not units.duplicated(["unit_id", "period"]).any()
    intended = world["intended"]["treated"]
    row = intended[(intended["old_la_code"] == TREATED) & (intended["time_period"] == 2024)]
    row = row[row["time_identifier"] == "May"].iloc[0]
    got = units[(units["unit_id"] == TREATED) & (units["period"] == month_index("2024-05"))]
    got = got.iloc[0]
    assert got["period_label"] == "May 2024" and got["month"] == 5
    for col in ["plans_issued_den_ex", "plans_issued_20_weeks_ex", "requests_received"]:
        assert int(got[col]) == int(row[col])
    expect = 100 * row["plans_issued_20_weeks_ex"] / row["plans_issued_den_ex"]
    assert got["timeliness_20wk_ex"] == pytest.approx(expect, abs=1e-12)
    # the quarantined row is not in the panel; the good one is
    bradford_2025 = units[(units["unit_id"] == NULL) & (units["calendar_year"] == 2025)]
    assert len(bradford_2025) == 1


@pytest.fixture(scope="module")
def evaluated(world):
    return {code: evaluate_area(code, world["plan"]) for code in (TREATED, NULL)}


def test_known_effect_recovered_within_interval(world, evaluated):
    truth, diff, plan = _true_did(world, TREATED)
    assert float(diff[plan.pre_years].abs().max()) == 0.0  # nothing treated before the start
    assert truth > 10  # the generator's +25 points (clipped at 98%) on post-period plans
    r = evaluated[TREATED].result("timeliness_20wk_ex")
    assert r.pre_periods == plan.pre_years and r.post_periods == plan.post_years
    assert r.ci_low <= truth <= r.ci_high
    assert r.ci_low > 0 and r.p_value < 0.05
    # exact identity: the effect run's DiD minus the no-effect run's DiD is the true effect,
    # because the comparison areas are the same in both runs
    control = build_returns_panel([world["files"]["control"]], geo=world["geo"])
    pool = evaluated[TREATED].pool
    r0 = did_one_treated(
        control.units,
        unit="unit_id",
        time="period",
        outcome="timeliness_20wk_ex",
        treated=TREATED,
        pre=plan.pre_years,
        post=plan.post_years,
        pool=pool,
        numerator="plans_issued_20_weeks_ex",
        denominator="plans_issued_den_ex",
    )
    assert r.estimate - r0.estimate == pytest.approx(truth, abs=1e-9)


def test_pilot_without_effect_interval_covers_zero(world, evaluated):
    truth, _, _ = _true_did(world, NULL)
    assert truth == 0.0
    for o in evaluated[NULL].outcomes:
        assert o.result.ci_low <= 0 <= o.result.ci_high, o.outcome.name
    # refusals are not affected by the effect, for the treated pilot either
    r = evaluated[TREATED].result("refusal_to_assess_rate")
    assert r.ci_low <= 0 <= r.ci_high


def test_monthly_alternatives_and_its(evaluated):
    ev = evaluated[TREATED]
    o = ev.outcomes[0]
    es = o.alternatives["event_study"]
    assert set(es.terms["period"]) <= set(ev.plan.pre_years + ev.plan.post_years)
    assert es.diagnostics["reference_period"] == month_index("2023-08")
    assert "synthetic_did" not in o.alternatives  # the plan switched it off
    sc = o.alternatives["synthetic_control"]
    assert sc.ci_low > 0  # +25 points is visible to the synthetic control too
    items = {(i["outcome"], i["design"]): i for i in ev.its}
    its = items[("timeliness_20wk_ex", "controlled")]["result"]
    d = its.diagnostics
    assert its.extra["method"] == "ar1-reml"
    assert d["n_pre"] == 20 and d["washout_periods"] == 6 and d["n_post"] == 7
    assert "2 Fourier pair(s) with period 12.0" in its.conventions["design"]
    assert its.terms.loc["level_change", "ci_low"] > 0


def test_results_json_periods_are_labelled_months(evaluated):
    out = json.loads(evaluated[TREATED].to_json())
    periods = out["periods"]
    assert periods["frequency"] == "month"
    assert periods["pre_labels"][0] == "Jan 2022" and periods["post_labels"][-1] == "Sep 2024"
    assert periods["partially_treated"][0]["labels"][0] == "Sep 2023"


def test_missing_returns_say_run_make_demo_data(world, tmp_path):
    cfg = _plan_dict(tmp_path / "not_there.csv")
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    plan = load_plan(path)  # a plan without its data is still a valid plan
    with pytest.raises(DataMissingError, match="make demo-data") as err:
        evaluate_area(TREATED, plan)
    assert isinstance(err.value, OSError)  # the CLI maps OSError to exit code 4
    from evaluation.cli import main

    assert main(["areas", "--plan", str(path)]) == 0


def test_monthly_report_renders(world, tmp_path):
    from evaluation.report.render import render_area

    rendered = render_area(TREATED, world["plan"], out_root=tmp_path)
    html = rendered.html.read_text()
    assert "SYNTHETIC DATA: NOT REAL RETURNS" in html
    assert "Month by month" in html and "Mar 2024" in html
    assert "monthly points before the programme" in html
    res = json.loads(rendered.results.read_text())
    assert res["periods"]["frequency"] == "month"
    primary = next(o for o in res["outcomes"] if o["outcome"] == "timeliness_20wk_ex")
    assert primary["ci_low"] > 0
    assert np.isfinite(primary["estimate"])
