"""Bad input never passes silently (issue 19), part 2: degenerate designs are refused (exit 2,
one line saying what is wrong and how to fix it), never estimated into a null or a warning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.designs.checks import CONSTANT_RTOL, is_constant

from .conftest import ROOT

DATA = ROOT / "tests" / "data"
MPDTA = pd.read_csv(DATA / "mpdta.csv")
DID_COLS = ["--unit", "countyreal", "--time", "year", "--outcome", "lemp"]
FT = ["--first-treated", "first.treat"]


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_refusal(code, out, err, expected, fragment):
    assert code == expected, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and "Warning" not in err
    assert out == ""  # no estimate (or null) printed


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("degenerate")
    m = MPDTA
    treated = m["first.treat"] > 0
    frames = {
        "all_treated": m.assign(**{"first.treat": 2004}),
        "no_pre": m.assign(**{"first.treat": np.where(treated, 2003, 0)}),
        "no_post": m.assign(**{"first.treat": np.where(treated, 2010, 0)}),
        "constant": m.assign(lemp=1.5),
        "noise_constant": m.assign(lemp=1.5 + 1e-13 * np.random.default_rng(0).random(len(m))),
        "text_outcome": m.assign(lemp=np.where(m.index == 7, "abc", m["lemp"].astype(str))),
        "missing_outcome": m.assign(lemp=np.where(m.index == 3, np.nan, m["lemp"])),
        "text_start": m.assign(
            **{"first.treat": np.where(m.index == 0, "2007a", m["first.treat"])}
        ),
        "varying_start": m.assign(
            **{"first.treat": np.where(m.index == 0, 2006, m["first.treat"])}
        ),
        "duplicate_rows": pd.concat([m, m.iloc[[10]]], ignore_index=True),
        "staggered_all_treated": m[treated],
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = d / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    t = np.arange(1, 25)
    rng = np.random.default_rng(1)
    series = {
        "its_constant": pd.DataFrame({"t": t, "y": 3.0}),
        "its_short": pd.DataFrame({"t": [1, 2, 3, 4, 5], "y": [1.0, 2, 4, 3, 5]}),
        "its_four": pd.DataFrame({"t": [1, 2, 3, 4], "y": [1.0, 2, 4, 3]}),
        "its_ok": pd.DataFrame({"t": t, "y": rng.normal(size=24), "m": (t - 1) % 12 + 1}),
        "its_text": pd.DataFrame({"t": t, "y": ["a"] * 24}),
        "its_negative": pd.DataFrame({"t": t, "y": rng.poisson(5, 24) - 6}),
        "its_rate_constant": pd.DataFrame({"t": t, "y": 2 * t, "n": t}),
        "its_over_trials": pd.DataFrame({"t": t, "y": 5 + t, "n": 10 + t // 2}),
        "its_duplicate_time": pd.DataFrame({"t": [*t, 5], "y": rng.normal(size=25)}),
        "pool_ok": pd.DataFrame({"est": [1.0, 2, 3, 4], "se": 1.0}),
        "pool_huge": pd.DataFrame({"est": [1e300, -1e300, 3, 4], "se": [1e-300, 1, 1, 1]}),
    }
    for name, frame in series.items():
        paths[name] = d / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


DID_CASES = [
    ("same column", ["--unit", "countyreal", "--time", "countyreal", "--outcome", "lemp"]
     + ["--first-treated", "countyreal"], None, "--unit and --time both name column"),
    ("outcome = unit", ["--unit", "countyreal", "--time", "year", "--outcome", "countyreal"] + FT,
     None, "--unit and --outcome both name column"),
    ("no comparison", DID_COLS + FT, "all_treated", "no comparison unit"),
    ("no comparison, sdid", DID_COLS + FT + ["--method", "sdid"], "all_treated",
     "no comparison unit"),
    ("no pre period", DID_COLS + FT, "no_pre", "no period before their first treated period"),
    ("no post period", DID_COLS + FT, "no_post", "no period from their first treated period"),
    ("constant outcome", DID_COLS + FT, "constant", "'lemp' (--outcome) is constant"),
    ("constant up to noise", DID_COLS + FT + ["--method", "cs"], "noise_constant", "constant"),
    ("text in outcome", DID_COLS + FT, "text_outcome", "must be numeric; it holds 'abc' at data row 8"),
    ("missing outcome", DID_COLS + FT + ["--method", "cs"], "missing_outcome",
     "1 missing value(s), at data row 4"),
    ("text first treated", DID_COLS + FT, "text_start", "'2007a' at data row 1"),
    ("start varies in a unit", DID_COLS + FT, "varying_start", "differs between rows of the same unit"),
    ("repeated unit-period", DID_COLS + FT, "duplicate_rows", "one row per unit and period"),
]  # fmt: skip


@pytest.mark.parametrize("label, args, data, fragment", DID_CASES, ids=[c[0] for c in DID_CASES])
def test_did_refuses_degenerate_panels(label, args, data, fragment, files, capsys):
    path = files[data] if data else DATA / "mpdta.csv"
    code, out, err = _run(capsys, ["did", "--data", str(path), *args, "--json"])
    _one_line_refusal(code, out, err, 2, fragment)
    assert str(path) in err


def test_staggered_panel_without_never_treated_units_runs_with_not_yet_treated(files, capsys):
    path = str(files["staggered_all_treated"])
    code, out, err = _run(capsys, ["did", "--data", path, *DID_COLS, *FT, "--json"])
    _one_line_refusal(code, out, err, 2, "--method cs --control notyet")
    argv = ["did", "--data", path, *DID_COLS, *FT, "--method", "cs", "--control", "notyet"]
    code, out, err = _run(capsys, [*argv, "--json"])
    assert code == 0 and np.isfinite(json.loads(out)["estimate"]) and err == ""


@pytest.mark.parametrize("method", ["twfe", "event", "cs", "imputation"])
def test_no_estimator_returns_null_with_exit_0(method, capsys):
    code, out, err = _run(
        capsys,
        ["did", "--data", str(DATA / "mpdta.csv"), *DID_COLS, *FT, "--method", method] + ["--json"],
    )
    d = json.loads(out)
    assert code == 0 and err == ""
    assert isinstance(d["estimate"], float) and np.isfinite(d["estimate"])
    assert d["ci_low"] <= d["estimate"] <= d["ci_high"]
    assert "numerical_warnings" not in d["details"]["diagnostics"]


ITS = ["--time", "t", "--outcome", "y", "--interruption", "13"]
ITS_CASES = [
    ("constant", "its_constant", [], "has the same value (3) at every time point"),
    ("constant, ols-hac", "its_constant", ["--method", "ols-hac"], "has the same value"),
    ("constant, poisson", "its_constant", ["--family", "poisson"], "has the same value"),
    ("constant rate", "its_rate_constant", ["--family", "poisson", "--offset", "n"],
     "has the same rate (2)"),
    ("too few points", "its_short", ["--interruption", "4"], "4 coefficients"),
    ("too few points, level", "its_four", ["--interruption", "4", "--effects", "level"],
     "3 coefficients (const, pre_trend, level_change) and the AR(1) autocorrelation"),
    ("interruption after the end", "its_ok", ["--interruption", "40"], "leaves 24 time point(s)"),
    ("interruption before the start", "its_ok", ["--interruption", "0"], "0 time point(s) before"),
    ("text outcome", "its_text", [], "must be numeric; it holds 'a'"),
    ("aliased harmonics", "its_ok",
     ["--harmonics", "6", "--season-col", "m", "--season-period", "12"], "sin6"),
    ("negative counts", "its_negative", ["--family", "poisson"], "must be a count (>= 0)"),
    ("successes over trials", "its_over_trials", ["--family", "binomial", "--trials", "n"],
     "0 <= y <= n"),
    ("repeated time", "its_duplicate_time", [], "one row per time point"),
]  # fmt: skip


@pytest.mark.parametrize("label, data, extra, fragment", ITS_CASES, ids=[c[0] for c in ITS_CASES])
def test_its_refuses_degenerate_series(label, data, extra, fragment, files, capsys):
    args = list(ITS)
    if "--interruption" in extra:
        args = args[:-2]
    code, out, err = _run(capsys, ["its", "--data", str(files[data]), *args, *extra, "--json"])
    _one_line_refusal(code, out, err, 2, fragment)


def test_its_on_a_good_series_reports_no_warnings(files, capsys):
    code, out, err = _run(capsys, ["its", "--data", str(files["its_ok"]), *ITS, "--json"])
    d = json.loads(out)
    assert code == 0 and err == "" and np.isfinite(d["level_change"]["estimate"])
    assert "numerical_warnings" not in d["diagnostics"]


@pytest.mark.parametrize(
    "data, args, fragment",
    [
        ("pool_ok", ["--estimate", "est", "--se", "est"], "--se names column 'est'"),
        ("pool_ok", ["--estimate", "est", "--se", "se", "--covariate", "est"], "--covariate"),
        ("pool_huge", ["--estimate", "est", "--se", "se"], "rescale --estimate and --se"),
    ],
)
def test_pool_refuses_degenerate_input(data, args, fragment, files, capsys):
    code, out, err = _run(capsys, ["pool", "--data", str(files[data]), *args, "--json"])
    _one_line_refusal(code, out, err, 2, fragment)


def test_cases_refuses_a_file_that_is_not_case_records(tmp_path, capsys):
    clean = pd.read_csv(ROOT / "tests" / "contracts_corpus" / "clean_cases.csv", dtype=str)
    path = tmp_path / "no_flag.csv"
    clean.drop(columns=["exception_20wk"]).to_csv(path, index=False)
    out_csv = tmp_path / "panel.csv"
    argv = ["cases", str(path), "--out", str(out_csv), "--quarantine-dir", str(tmp_path / "q")]
    code, out, err = _run(capsys, argv)
    _one_line_refusal(code, out, err, 2, "no_flag.csv is not a case-records file")
    assert "exception_20wk" in err and not out_csv.exists() and not (tmp_path / "q").exists()


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--outcomes", "nope"], 2, "'nope' not in plan"),
        (["--plan", "nowhere.yaml"], 3, "invalid evaluation plan"),
        (["--monthly-panel", "nowhere.csv", "--outcomes", "timeliness_20wk_ex"], 4, "nowhere.csv"),
    ],
)
def test_power_refuses_bad_options_without_a_traceback(args, code, fragment, tmp_path, capsys):
    out_json = tmp_path / "power.json"
    got, out, err = _run(capsys, ["power", *args, "--out", str(out_json)])
    _one_line_refusal(got, out, err, code, fragment)
    assert not out_json.exists()


def test_constant_means_equal_to_within_a_relative_1e12():
    assert is_constant([3.0, 3.0 + 1e-13]) and is_constant([np.nan, 2.0])
    assert not is_constant([3.0, 3.0 + 1e-9]) and not is_constant([0.0, 1e-6])
    assert is_constant([1e6, 1e6 * (1 + CONSTANT_RTOL / 2)])
