"""`python -m evaluation did`: the DiD family on a tidy panel the analyst brings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main

DATA = Path(__file__).parent / "data"
KEYS = {
    "method",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "inference",
    "n_obs",
    "conventions",
    "details",
}


def _run(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["did", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in args else None), err


MPDTA = [
    "--data",
    str(DATA / "mpdta.csv"),
    "--unit",
    "countyreal",
    "--time",
    "year",
    "--outcome",
    "lemp",
    "--first-treated",
    "first.treat",
]


def test_twfe_json_matches_fixest(capsys):
    code, d, _ = _run(capsys, *MPDTA, "--json")
    assert code == 0 and set(d) >= KEYS
    assert d["estimate"] == pytest.approx(-0.0365, abs=5e-5)
    assert d["se"] == pytest.approx(0.0133, abs=5e-5)
    assert d["n_obs"] == 2500
    assert "G - 1 = 499" in d["conventions"]["critical_value"]


def test_wild_bootstrap_is_seeded_and_reproducible(capsys):
    args = [*MPDTA, "--inference", "wild", "--n-boot", "999", "--seed", "7", "--json"]
    _, a, _ = _run(capsys, *args)
    _, b, _ = _run(capsys, *args)
    assert a == b
    assert "wild cluster bootstrap" in a["inference"]
    assert a["ci_low"] < a["estimate"] < a["ci_high"]


def test_event_study_json_has_event_time_terms(capsys):
    code, d, _ = _run(capsys, *MPDTA, "--method", "event", "--json")
    assert code == 0
    terms = d["details"]["terms"]
    assert [t["event_time"] for t in terms] == [-4, -3, -2, 0, 1, 2, 3]
    assert d["details"]["diagnostics"]["pre_trend_test"]["df"] == [3, 499]


def _single_cohort_panel(tmp_path: Path, n_treated: int, effect: float = 2.0) -> Path:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        ft = 2020 if i < n_treated else 0
        a = rng.normal(0, 1)
        for t in range(2015, 2024):
            y = a + 0.2 * (t - 2015) + rng.normal(0, 0.5) + (effect if ft and t >= ft else 0)
            rows.append((f"u{i}", t, y, ft, f"c{i // 2}"))
    path = tmp_path / "panel.csv"
    pd.DataFrame(rows, columns=["id", "t", "y", "start", "grp"]).to_csv(path, index=False)
    return path


def test_one_treated_unit_refuses_clustered_errors(tmp_path, capsys):
    path = _single_cohort_panel(tmp_path, 1)
    args = ["--data", str(path), "--unit", "id", "--time", "t", "--outcome", "y"]
    code, _, err = _run(capsys, *args, "--first-treated", "start", "--inference", "cluster")
    assert code == 2 and "one treated unit" in err
    code, d, _ = _run(capsys, *args, "--first-treated", "start", "--json")
    assert code == 0 and d["se"] is None and "placebo" in d["inference"]


def test_randomisation_inference_over_clusters(tmp_path, capsys):
    path = _single_cohort_panel(tmp_path, 6)
    args = ["--data", str(path), "--unit", "id", "--time", "t", "--outcome", "y"]
    code, d, _ = _run(
        capsys, *args, "--first-treated", "start", "--cluster", "grp", "--inference", "ri", "--json"
    )
    assert code == 0
    # 3 treated groups of 20: C(20, 3) = 1140 assignments, enumerated exactly
    assert "1140 all assignments" in d["inference"]
    assert d["ci_low"] < 2.0 < d["ci_high"] and d["p_value"] <= 3 / 1140 + 1e-12
    assert d["se"] is None


def test_bad_column_is_a_usage_error(capsys):
    code, _, err = _run(capsys, *MPDTA[:-1], "nope")
    assert code == 2 and "nope" in err


def test_callaway_santanna_via_cli(capsys):
    code, d, _ = _run(capsys, *MPDTA, "--method", "cs", "--json")
    assert code == 0
    assert d["estimate"] == pytest.approx(-0.0400, abs=5e-5)
    aggs = d["details"]["aggregations"]
    assert {"simple", "group", "dynamic", "calendar"} <= set(aggs)
    code, nd, _ = _run(capsys, *MPDTA, "--method", "cs", "--control", "notyet", "--json")
    assert code == 0 and nd["estimate"] != d["estimate"]


def _prop99(tmp_path: Path) -> list[str]:
    df = pd.read_csv(DATA / "california_prop99.csv")
    df["first_treated"] = np.where(df["State"] == "California", 1989, 0)
    path = tmp_path / "prop99.csv"
    df.to_csv(path, index=False)
    return ["--data", str(path), "--unit", "State", "--time", "Year"] + [
        "--outcome",
        "PacksPerCapita",
        "--first-treated",
        "first_treated",
    ]


def test_synthetic_did_and_control_via_cli_reproduce_prop99(tmp_path, capsys):
    args = _prop99(tmp_path)
    code, d, _ = _run(capsys, *args, "--method", "sdid", "--json")
    assert code == 0 and d["estimate"] == pytest.approx(-15.60383, abs=1e-3)
    assert d["details"]["weights"]  # unit weights travel with the result
    code, d, _ = _run(capsys, *args, "--method", "sc", "--json")
    assert code == 0 and d["se"] is None and "placebo" in d["inference"]


def test_event_study_reports_honest_did_sensitivity(capsys):
    code, d, _ = _run(capsys, *MPDTA, "--method", "event", "--json")
    assert code == 0
    table = d["details"]["honest_did"]
    rows = [r for r in table if r["method"] != "original"]
    assert [r["mbar"] for r in rows] == [0.0, 0.5, 1.0, 1.5, 2.0]
    widths = [r["ub"] - r["lb"] for r in rows]
    assert all(b >= a - 1e-6 for a, b in zip(widths, widths[1:], strict=False))
    assert d["details"]["diagnostics"]["honest_did_breakdown_mbar"] >= 0


def test_callaway_santanna_with_covariates_via_cli(capsys):
    # R did 2.1.2 att_gt(..., xformla = ~lpop, est_method = M) + aggte simple: see
    # tests/data/did_covariates and tests/test_cs_covariates.py for the full parity
    targets = {"dr": -0.0417518, "ipw": -0.0417771, "reg": -0.0419686, "dr_improved": -0.0417577}
    for est, target in targets.items():
        args = [*MPDTA, "--method", "cs", "--covariates", "lpop", "--est-method", est, "--json"]
        code, d, _ = _run(capsys, *args)
        assert code == 0 and d["estimate"] == pytest.approx(target, abs=1e-6)
        assert d["conventions"]["covariates"].startswith("lpop, at each cell's base period")
    assert "doubly robust" in d["conventions"]["covariates"]
    assert main(["did", *MPDTA, "--method", "cs", "--covariates", "lpop"]) == 0
    text = capsys.readouterr().out
    assert "dr with covariates lpop" in text and "covariates: lpop, at each cell's base" in text


def _bad_covariates(tmp_path: Path) -> list[str]:
    df = pd.read_csv(DATA / "mpdta.csv")
    df["txt"] = "a"
    df["const"] = 1.0
    df["dup"] = 2 * df["lpop"] + 1
    df["miss"] = df["lpop"].where(~((df["countyreal"] == 8001) & (df["year"] == 2003)))
    path = tmp_path / "mpdta_bad.csv"
    df.to_csv(path, index=False)
    return ["--data", str(path), *MPDTA[2:]]


@pytest.mark.parametrize(
    "covariates, method, message",
    [
        (["nope"], "cs", "covariate 'nope' is not a column of the data"),
        (["txt"], "cs", "covariate 'txt' is not numeric"),
        (["const"], "cs", "covariate 'const' is constant"),
        (["lpop", "dup"], "cs", "covariate 'dup' is collinear"),
        (["miss"], "cs", "covariate 'miss' is missing for 1 unit(s) in base period 2003"),
        (["lpop"], "twfe", "--covariates is only available with --method cs"),
    ],
)
def test_bad_covariates_exit_2_with_one_line(tmp_path, capsys, covariates, method, message):
    args = [*_bad_covariates(tmp_path), "--method", method, "--covariates", *covariates]
    code, _, err = _run(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
