"""Bad input never passes silently (issue 19), part 3: no library warning reaches the user.

Every command runs on the shipped data and on the test data with warnings turned into errors
(``-W error`` semantics: a warning that escapes the place where it is caught becomes an
exception, and the test fails); its terminal output carries no warning.  Numerical warnings the
fits meet are caught where they arise and reported in the result (``numerical_warnings``), so
they are no exception to the policy.  The report's kernel is checked where a report is rendered
(``tests/test_report.py``)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import warnings

import pytest

from evaluation.cli import main

from .conftest import ROOT

DATA = "tests/data/"
CORPUS = "tests/contracts_corpus/"
# a Python warning (RuntimeWarning, SingularMatrixWarning, ...), a traceback, or a library's
# log line such as "[IPKernelApp] WARNING | ..."; the validator's data findings ("WARNING:
# file, line ...") are its output, not a library's warning
LEAKED = re.compile(r"[A-Za-z]+Warning\b|Traceback|\] WARNING \|")


def commands(tmp):
    did = ["--unit", "countyreal", "--time", "year", "--outcome", "lemp"]
    did = ["did", "--data", DATA + "mpdta.csv", *did, "--first-treated", "first.treat"]
    its = ["its", "--data", DATA + "sicily.csv", "--time", "time", "--outcome", "aces"]
    its += ["--interruption", "37"]
    season = ["--harmonics", "2", "--season-col", "month", "--season-period", "12"]
    pool = ["pool", "--data", DATA + "ebci/case_covariate_precision_weights.csv"]
    pool += ["--estimate", "y", "--se", "se", "--covariate", "x", "--weights", "weight"]
    q = ["--quarantine-dir", str(tmp / "q")]
    return {
        "validate the plan's files": (["validate", *q, "--report-json", str(tmp / "v.json")], 0),
        "validate the corpus": (
            ["validate", CORPUS + "clean_pilot_return.csv", CORPUS + "clean_cases.csv"]
            + [
                CORPUS + "p05_numerator_exceeds_denominator.csv",
                CORPUS + "u03_no_contract_fits.csv",
            ]
            + q,
            2,
        ),
        "cases": (["cases", CORPUS + "clean_cases.csv", "--out", str(tmp / "p.csv"), *q], 0),
        "did twfe": ([*did, "--json"], 0),
        "did cs": ([*did, "--method", "cs", "--json"], 0),
        "did imputation": ([*did, "--method", "imputation", "--json"], 0),
        "its ar1-reml": ([*its, "--json"], 0),
        "its quasipoisson": (
            [*its, "--family", "quasipoisson", "--offset", "stdpop", *season, "--json"],
            0,
        ),
        "its ols-hac, level": ([*its, "--method", "ols-hac", "--effects", "level"], 0),
        "pool": ([*pool, "--json"], 0),
        "pool, kappa inf": ([*pool, "--kappa", "inf"], 0),
        "areas": (["areas"], 0),
        "power": (
            ["power", "--outcomes", "timeliness_20wk_ex", "--no-monthly", "--out"]
            + [str(tmp / "power.json"), "--json"],
            0,
        ),
    }


NAMES = list(commands(ROOT))


@pytest.mark.parametrize("name", NAMES)
def test_commands_on_shipped_and_test_data_leak_no_warning(name, tmp_path):
    argv, expected = commands(tmp_path)[name]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # -W error: an escaped warning fails the test
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
    finally:
        os.chdir(cwd)
    assert code == expected, err.getvalue()
    assert not LEAKED.search(err.getvalue()), err.getvalue()
    assert not LEAKED.search(out.getvalue())
    assert "numerical_warnings" not in out.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["its", "--data", DATA + "sicily.csv", "--time", "time", "--outcome", "aces"]
        + ["--interruption", "37", "--family", "poisson", "--offset", "stdpop", "--json"],
    ],
    ids=["its poisson"],
)
def test_a_fresh_interpreter_with_w_error_prints_no_warning(argv):
    """The whole import chain too: ``python -W error -m evaluation ...``."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "evaluation", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert not LEAKED.search(proc.stderr), proc.stderr
