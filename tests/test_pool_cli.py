"""``python -m evaluation pool``: robust EBCIs on the analyst's CSV give the R package's numbers
(tests/data/ebci/, written by make_reference.R with ebci 1.0.0), every bad input is refused
with one ``error:`` line and exit 2 (an unreadable file: 4), and no library warning reaches
the user (the CLI runs with ``-W error``)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import pool

from .conftest import ROOT

REF = ROOT / "tests" / "data" / "ebci"
TOL = 1e-4
R_COLUMNS = {"th_eb": "shrunk", "len_eb": "half_length", "w_eb": "shrinkage"}
INTERCEPT = REF / "case_intercept_equal_weights.csv"


def _pool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "evaluation", "pool", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "evaluation", "pool", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _assert_rows_equal_r(payload: dict, reference: pd.DataFrame) -> None:
    rows = payload["rows"]
    assert [r["row"] for r in rows] == list(range(1, len(reference) + 1))
    np.testing.assert_allclose([r["estimate"] for r in rows], reference["y"], rtol=0, atol=1e-12)
    for r_name, ours in R_COLUMNS.items():
        got = [r[ours] for r in rows]
        np.testing.assert_allclose(got, reference[r_name], rtol=0, atol=TOL, err_msg=r_name)
    for r in rows:
        assert r["ci_low"] == pytest.approx(r["shrunk"] - r["half_length"], abs=1e-12)
        assert r["ci_high"] == pytest.approx(r["shrunk"] + r["half_length"], abs=1e-12)


def test_intercept_case_equals_the_r_package():
    proc = _pool("--data", str(INTERCEPT), "--estimate", "y", "--se", "se", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    payload = json.loads(proc.stdout)
    for key in ["method", "confidence_level", "alpha", "mu2", "kappa", "delta"]:
        assert key in payload, key
    assert payload["confidence_level"] == pytest.approx(0.95)
    assert list(payload["delta"]) == ["intercept"]
    assert payload["fs_correction"] == "PMT" and payload["conventions"]
    assert payload["kappa_given"] is None and payload["warnings"] == []
    _assert_rows_equal_r(payload, pd.read_csv(INTERCEPT))


def test_covariate_case_with_precision_weights_equals_the_r_package(tmp_path):
    reference = pd.read_csv(REF / "case_covariate_precision_weights.csv")
    data = tmp_path / "covariate.csv"
    reference.assign(precision=1 / reference["se"] ** 2).to_csv(data, index=False)
    args = ["--estimate", "y", "--se", "se", "--covariate", "x", "--weights", "precision"]
    proc = _pool("--data", str(data), *args, "--alpha", "0.1", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["alpha"] == 0.1 and payload["confidence_level"] == pytest.approx(0.9)
    assert list(payload["delta"]) == ["intercept", "x"]
    _assert_rows_equal_r(payload, reference)


def test_text_summary_and_kappa_inf():
    args = ["--data", str(INTERCEPT), "--estimate", "y", "--se", "se", "--kappa", "inf"]
    proc = _pool(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("robust empirical Bayes confidence intervals (32 units")
    proc = _pool(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["kappa_given"] == "inf" and payload["kappa"] is None  # JSON has no infinity


def _bad_inputs(tmp_path) -> list[tuple[str, list[str], list[str]]]:
    """(case, arguments, words the error line must contain)."""
    good = (
        pd.read_csv(INTERCEPT)[["y", "se"]]
        .head(8)
        .assign(x=np.arange(8.0), x2=2 * np.arange(8.0) + 1)
    )

    def csv(name: str, frame: pd.DataFrame) -> str:
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        return str(path)

    base = ["--estimate", "y", "--se", "se"]
    missing = good.astype(object)
    missing.loc[[1, 4], "y"] = None
    text = good.astype(object)
    text.loc[2, "se"] = "abc"  # (pandas reads "n/a", "NA" and "" as missing)
    many_missing = good.assign(x=np.nan)
    zero_se = good.copy()
    zero_se.loc[[0, 5], "se"] = [0.0, -0.1]
    return [
        ("too few rows", [csv("two", good.head(2)), *base], ["at least 3", "got 2"]),
        ("zero se", [csv("zero", zero_se), *base], ["'se'", "positive", "rows 1, 6"]),
        ("missing", [csv("missing", missing), *base], ["'y'", "2 missing", "rows 2, 5"]),
        (
            "missing covariate",
            [csv("many", many_missing), *base, "--covariate", "x"],
            ["'x'", "8 missing", "rows 1, 2, 3, 4, 5 and 3 more"],
        ),
        ("non-numeric", [csv("text", text), *base], ["'se'", "non-numeric", "'abc'", "row 3"]),
        (
            "constant covariate",
            [csv("const", good.assign(x=1.0)), *base, "--covariate", "x"],
            ["'x'", "constant"],
        ),
        (
            "unknown column",
            [csv("good", good), *base, "--covariate", "nope"],
            ["'nope'", "not found", "columns: y, se, x, x2"],
        ),
        (
            "collinear",
            [csv("good", good), *base, "--covariate", "x", "--covariate", "x2"],
            ["collinear", "'x'", "'x2'"],
        ),
        ("alpha", [csv("good", good), *base, "--alpha", "1.5"], ["--alpha", "(0, 1)"]),
        ("alpha 0", [csv("good", good), *base, "--alpha", "0"], ["--alpha", "(0, 1)"]),
        ("kappa", [csv("good", good), *base, "--kappa", "0.5"], ["--kappa", "at least 1"]),
        ("kappa text", [csv("good", good), *base, "--kappa", "big"], ["--kappa", "'big'"]),
        (
            "negative weights",
            [csv("w", good.assign(w=-1.0)), *base, "--weights", "w"],
            ["'w'", "negative"],
        ),
    ]


OPTION_CASES = {"alpha", "alpha 0", "kappa", "kappa text"}  # refused before the file is read
IN_A_SUBPROCESS = ["non-numeric", "collinear", "kappa"]  # a CLI check, the model's, an option's


def _assert_one_error_line(case, args, words, code, out, err):
    assert code == 2, (case, err)
    assert out == "", case
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, err)
    assert "Traceback" not in err, case
    if case not in OPTION_CASES:
        assert args[0] in lines[0], case  # names the file
    for word in words:
        assert word in lines[0], (case, word, lines[0])


def test_each_bad_input_exits_2_with_one_error_line(tmp_path, capsys):
    """In this process (fast), with every warning an error."""
    import warnings

    from evaluation.cli import main

    for case, args, words in _bad_inputs(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            code = main(["pool", "--data", *args, "--json"])
        _assert_one_error_line(case, args, words, code, *capsys.readouterr())


def test_bad_input_from_the_command_line(tmp_path):
    """The real command (``-W error``, side by side) for one refusal of each kind."""
    cases = [c for c in _bad_inputs(tmp_path) if c[0] in IN_A_SUBPROCESS]
    assert len(cases) == len(IN_A_SUBPROCESS)
    started = [_start("--data", *args, "--json") for _, args, _ in cases]
    for (case, args, words), popen in zip(cases, started, strict=True):
        out, err = popen.communicate(timeout=120)
        _assert_one_error_line(case, args, words, popen.returncode, out, err)


def test_unreadable_file_exits_4(tmp_path):
    for path in [tmp_path / "absent.csv", tmp_path / "empty.csv"]:
        if path.name == "empty.csv":
            path.write_text("")
        proc = _pool("--data", str(path), "--estimate", "y", "--se", "se", "--json")
        assert proc.returncode == 4, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot read"), proc.stderr
        assert str(path) in lines[0]


def test_pool_is_listed_in_help():
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "evaluation", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "    pool " in proc.stdout


def test_fs_corrections_agree_with_the_model():
    from evaluation.models.ebci import FS_CORRECTIONS

    assert pool.FS_CORRECTIONS == FS_CORRECTIONS


def test_numerical_warnings_are_reported_not_raised(monkeypatch, capsys):
    import warnings

    from evaluation.cli import main
    from evaluation.models import ebci

    original = ebci.robust_ebci

    def warning_fit(*args, **kwargs):
        warnings.warn("optimum may be wrong", RuntimeWarning, stacklevel=2)
        return original(*args, **kwargs)

    monkeypatch.setattr(ebci, "robust_ebci", warning_fit)
    argv = ["pool", "--data", str(INTERCEPT), "--estimate", "y", "--se", "se"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([*argv, "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["warnings"] == ["RuntimeWarning: optimum may be wrong"]
        assert main(argv) == 0
        out, err = capsys.readouterr()
    assert "Numerical warnings:\n  - RuntimeWarning: optimum may be wrong" in out and err == ""
