"""Synthetic case-level returns: labelled, valid, deterministic, calibrated to the public data,
with the configured effects and seasonality, and aggregating exactly to the intended counts."""

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.contracts import validate_file
from evaluation.demo.case_simulation import day_weights, easter_sunday
from evaluation.demo.synthetic_returns import (
    default_effects,
    generate_cases,
    la_baselines,
    write_synthetic,
)
from evaluation.panel.cases import MEASURES, STOCKS, cases_to_panel

from .conftest import DATA


def baselines(**over):
    """Three hand-made LAs (Hartlepool, Rutland, Manchester)."""
    base = pd.DataFrame(
        {
            "la_code": ["805", "857", "352"],
            "requests_per_year": [300.0, 80.0, 2000.0],
            "refusal_share": [0.2, 0.3, 0.25],
            "timeliness_ex": [0.5, 0.8, 0.3],
            "exception_share": [0.05, 0.05, 0.08],
            "issue_share": [0.9, 0.85, 0.9],
            "calibration_year": [2024, 2024, 2024],
        }
    )
    return base.assign(**over)


@pytest.fixture(scope="module")
def small(geo):
    return generate_cases(
        baselines(),
        seed=42,
        start="2022-01",
        end="2024-12",
        scale=0.5,
        effects={"805": ("2023-09", 10.0)},
        geo=geo,
    )


def test_every_output_is_labelled_synthetic(small, tmp_path):
    rec = small.records
    assert rec["case_id"].str.startswith("SYN-").all()
    assert (rec["synthetic"] == "1").all()
    paths = write_synthetic(small, tmp_path)
    for p in paths.values():
        note = p.with_name(p.name + ".SYNTHETIC.md").read_text()
        assert note.startswith("# SYNTHETIC DATA") and p.name in note


def test_records_validate_cleanly_against_the_case_contract(small, tmp_path, geo):
    paths = write_synthetic(small, tmp_path)
    result = validate_file(paths["cases"], "case_records", geo)
    assert result.rows_in == len(small.records) == result.rows_accepted
    assert result.findings == []
    intended = validate_file(paths["intended"], "pilot_returns", geo)
    assert intended.findings == [] and intended.rows_quarantined == 0


def test_same_seed_gives_byte_identical_files(small, tmp_path, geo):
    again = generate_cases(
        baselines(),
        seed=42,
        start="2022-01",
        end="2024-12",
        scale=0.5,
        effects={"805": ("2023-09", 10.0)},
        geo=geo,
    )
    a = write_synthetic(small, tmp_path / "a")
    b = write_synthetic(again, tmp_path / "b")
    for key in ["cases", "intended"]:
        assert a[key].read_bytes() == b[key].read_bytes()
    other = generate_cases(baselines(), seed=43, start="2022-01", end="2024-12", scale=0.5)
    assert not other.records.equals(small.records)


def test_aggregated_records_equal_the_intended_counts(small, tmp_path, geo):
    paths = write_synthetic(small, tmp_path)
    panel, info = cases_to_panel([paths["cases"]], "month", start="2022-01", geo=geo)
    assert info.rows_quarantined == 0 and info.n_errors == 0
    intended = pd.read_csv(paths["intended"], dtype={"old_la_code": str, "new_la_code": str})
    cols = ["time_period", "time_identifier", "old_la_code", "la_name", *MEASURES, *STOCKS]
    pd.testing.assert_frame_equal(
        panel[cols].reset_index(drop=True), intended[cols], check_dtype=False
    )
    assert panel["plans_issued_den"].sum() > 1000
    assert info.cutoff.isoformat() == small.settings["cutoff"] == "2024-12-31"


def test_volumes_refusals_exceptions_and_timeliness_follow_the_baselines(geo):
    base = baselines(requests_per_year=[3000.0, 3000.0, 3000.0])
    res = generate_cases(base, seed=1, start="2022-01", end="2024-12", scale=1.0, geo=geo)
    it = res.intended
    for code, b in base.set_index("la_code").iterrows():
        y = it[(it["old_la_code"] == code) & (it["time_period"] == 2024)].sum(numeric_only=True)
        # 2024 volume = the published yearly volume (trend centred on mid-2024), Poisson noise
        assert y["requests_received"] == pytest.approx(b["requests_per_year"], rel=0.06)
        refused = y["requests_decided_not_to_assess"] / y["requests_received"]
        assert refused == pytest.approx(b["refusal_share"] * 0.98, abs=0.03)
        exc = 1 - y["plans_issued_den_ex"] / y["plans_issued_den"]
        assert exc == pytest.approx(b["exception_share"], abs=0.02)
        # within-20-weeks excluding exceptions: the baseline less the summer-deadline penalty
        # (15% lower for the ~13% of requests whose deadline falls in the summer holidays)
        rate = y["plans_issued_20_weeks_ex"] / y["plans_issued_den_ex"]
        assert rate == pytest.approx(b["timeliness_ex"] * 0.98, abs=0.035)


def test_true_effect_raises_the_within_rate_of_treated_requests(geo):
    base = baselines(requests_per_year=[4000.0, 4000.0, 4000.0], timeliness_ex=[0.4, 0.4, 0.4])
    res = generate_cases(
        base,
        seed=9,
        start="2022-01",
        end="2025-12",
        effects={"805": ("2024-01", 15.0)},
        geo=geo,
    )
    rec = res.records
    issued = rec[rec["plan_issue_date"].ne("") & rec["exception_20wk"].eq("0")]
    days = (
        pd.to_datetime(issued["plan_issue_date"]) - pd.to_datetime(issued["request_received_date"])
    ).dt.days
    within = days <= 140
    cohort = np.where(issued["request_received_date"] >= "2024-01-01", "post", "pre")
    # requests received well before the cut-off (so late plans are not censored away)
    keep = (issued["request_received_date"] >= "2022-01-01") & (
        issued["request_received_date"] < "2025-01-01"
    )
    share = within[keep].groupby([issued["la_code"][keep], cohort[keep.to_numpy()]]).mean()
    did = (share["805", "post"] - share["805", "pre"]) - (
        share["857", "post"] - share["857", "pre"]
    )
    assert did == pytest.approx(0.15, abs=0.04)
    assert (
        res.intended.loc[res.intended["old_la_code"] == "857", "plans_from_treated_requests"].sum()
        == 0
    )
    assert (
        res.intended.loc[res.intended["old_la_code"] == "805", "plans_from_treated_requests"].sum()
        > 0
    )


def test_on_time_plans_pile_up_just_under_20_weeks(small):
    rec = small.records
    issued = rec[rec["plan_issue_date"].ne("")]
    days = (
        pd.to_datetime(issued["plan_issue_date"]) - pd.to_datetime(issued["request_received_date"])
    ).dt.days
    within = days[days <= 140]
    assert (within >= 112).mean() > 0.7  # most on-time plans come in the last four weeks
    assert (days == 141).mean() < (days == 140).mean()


def test_school_holidays_have_fewer_requests(geo):
    res = generate_cases(
        baselines(requests_per_year=[5000.0] * 3), seed=2, start="2022-01", end="2024-12", geo=geo
    )
    it = res.intended.groupby("time_identifier")["requests_received"].sum()
    mean = it.mean()
    assert it["August"] < 0.7 * mean
    assert it["December"] < 0.95 * mean
    assert it["October"] > mean


def test_calendar_helpers():
    assert [str(easter_sunday(y)) for y in (2021, 2024, 2025)] == [
        "2021-04-04",
        "2024-03-31",
        "2025-04-20",
    ]
    days = np.array(["2024-08-05", "2024-10-07", "2024-10-12", "2024-12-27"], dtype="datetime64[D]")
    assert list(day_weights(days)) == pytest.approx([0.55, 1.0, 0.25, 0.35])


def test_calibration_reads_the_published_figures(geo):
    base = la_baselines(DATA, geo).set_index("la_code")
    raw = pd.read_csv(DATA / "public" / "ehcp_2025_requests.csv", dtype=str, encoding="utf-8-sig")
    raw = raw[
        (raw["geographic_level"] == "Local authority")
        & (raw["breakdown_topic"] == "All requests for EHC needs assessments")
        & (raw["time_period"] == "2024")
    ].set_index("old_la_code")
    for code in ["805", "352", "857", "916"]:
        assert base.loc[code, "requests_per_year"] == float(
            raw.loc[code, "requests_received_in_year"]
        )
        refused = float(raw.loc[code, "requests_decided_not_to_assess"])
        assert base.loc[code, "refusal_share"] == pytest.approx(
            refused / float(raw.loc[code, "requests_received_in_year"])
        )
    tim = pd.read_csv(
        DATA / "public" / "ehcp_2025_timeliness_20_week.csv", dtype=str, encoding="utf-8-sig"
    )
    t = tim[
        (tim["geographic_level"] == "Local authority")
        & (tim["breakdown_topic"] == "All EHC plans issued")
        & (tim["time_period"] == "2024")
        & (tim["old_la_code"] == "805")
    ].iloc[0]
    assert base.loc["805", "timeliness_ex"] == pytest.approx(
        float(t["plans_issued_20_weeks_ex"]) / float(t["plans_issued_den_ex"])
    )
    assert base["requests_per_year"].gt(0).all()
    assert base["timeliness_ex"].between(0, 1).all()
    effects = default_effects()
    assert len(effects) == 32 and effects["805"] == ("2023-09", 10.0)


def test_command_line_writes_labelled_files(tmp_path, capsys):
    args = ["--seed", "5", "--out", str(tmp_path), "--scale", "0.01", "--start", "2024-01"]
    code = main(["demo-data", *args])
    assert code == 0
    assert (tmp_path / "synthetic_cases.csv").exists()
    assert (tmp_path / "synthetic_cases.csv.SYNTHETIC.md").exists()
    assert "SYNTHETIC" in capsys.readouterr().out
    assert main(["demo-data", "--out", str(tmp_path), "--scale", "0"]) == 2
