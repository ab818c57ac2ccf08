"""Robust EBCIs against the R package ebci 1.0.0 (Armstrong, Kolesar & Plagborg-Moller 2022).

The reference numbers in tests/data/ebci/ were written by tests/data/ebci/make_reference.R with
R 4.2.2, ebci 1.0.0 and lpSolve 5.6.18 (versions.txt); tests/data/ebci/cz.csv is the package's
own example data (``cz``, MIT licence, columns used by its documentation and tests).  R is not
needed to run these tests.
"""

import math

import numpy as np
import pandas as pd
import pytest

from evaluation.models.ebci import EbciInputError, robust_ebci
from evaluation.models.ebci_critical_values import cva

from .conftest import ROOT

REF = ROOT / "tests" / "data" / "ebci"
TOL = 1e-4
COLUMNS = {  # R's name -> ours
    "w_eb": "shrinkage",
    "th_eb": "shrunk",
    "len_eb": "half_length",
    "len_pa": "half_length_parametric",
    "ncov_pa": "noncoverage_parametric",
    "len_us": "half_length_unshrunk",
}
CASES = pd.read_csv(REF / "cases.csv")
MOMENTS = pd.read_csv(REF / "moments.csv")


def _fit(case: pd.Series):
    data = pd.read_csv(REF / f"case_{case['case']}.csv")
    rhs = case["formula"].split("~")[1].strip()
    names = [] if rhs in {"1", "0"} else [c.strip() for c in rhs.split("+")]
    kappa = {"estimated": None, "Inf": math.inf}.get(case["kappa"])
    res = robust_ebci(
        data["y"],
        data["se"],
        covariates=data[names] if names else None,
        weights=1 / data["se"] ** 2 if case["weights"] == "1/se^2" else None,
        alpha=float(case["alpha"]),
        intercept=rhs != "0",
        kappa=float(case["kappa"]) if kappa is None and case["kappa"] != "estimated" else kappa,
        fs_correction=case["fs_correction"],
    )
    return data, res


@pytest.mark.parametrize("case", [row for _, row in CASES.iterrows()], ids=list(CASES["case"]))
def test_rows_and_moments_equal_the_r_package(case):
    data, res = _fit(case)
    for r_name, ours in COLUMNS.items():
        np.testing.assert_allclose(res.rows[ours], data[r_name], rtol=0, atol=TOL, err_msg=r_name)
    mine = {"mu2": res.mu2, "mu2_uncorrected": res.mu2_uncorrected, "kappa": res.kappa}
    mine["kappa_uncorrected"] = res.kappa_uncorrected
    mine |= {f"delta:{k}": v for k, v in res.delta.items()}
    mine = {k.replace("delta:intercept", "delta:(Intercept)"): v for k, v in mine.items()}
    for _, row in MOMENTS[MOMENTS["case"] == case["case"]].iterrows():
        assert mine[row["quantity"]] == pytest.approx(row["value"], abs=TOL, rel=TOL), row


def test_critical_values_equal_the_r_package():
    grid = pd.read_csv(REF / "cva_grid.csv")
    for _, g in grid.iterrows():
        cv = cva(g["m2"], g["kappa"], g["alpha"])
        assert cv.cv == pytest.approx(g["cv"], abs=TOL), dict(g)
        assert cv.noncoverage == pytest.approx(g["noncoverage"], abs=TOL), dict(g)


@pytest.fixture(scope="module")
def cz():
    return pd.read_csv(REF / "cz.csv")


def test_the_packages_documented_example(cz):
    """The vignette's ebci(theta25 ~ stayer25, data = cz, se = se25, weights = 1/se25^2,
    alpha = 0.1), summarised by make_reference.R."""
    ref = pd.read_csv(REF / "cz_example_summary.csv").set_index("quantity")["value"]
    d = cz.dropna(subset=["theta25"])
    res = robust_ebci(d["theta25"], d["se25"], d[["stayer25"]], 1 / d["se25"] ** 2, alpha=0.1)
    rows = res.rows
    mine = {
        "n": len(rows),
        "mu2": res.mu2,
        "kappa": res.kappa,
        "kappa_uncorrected": res.kappa_uncorrected,
        "delta:(Intercept)": res.delta["intercept"],
        "delta:stayer25": res.delta["stayer25"],
        "mean_w_eb": rows["shrinkage"].mean(),
        "mean_th_eb": rows["shrunk"].mean(),
        "mean_len_eb": rows["half_length"].mean(),
        "max_len_eb": rows["half_length"].max(),
        "mean_len_pa": rows["half_length_parametric"].mean(),
        "mean_len_us": rows["half_length_unshrunk"].mean(),
        "mean_ncov_pa": rows["noncoverage_parametric"].mean(),
    }
    for key, value in mine.items():
        assert value == pytest.approx(ref[key], abs=TOL, rel=TOL), key


def test_the_packages_own_test_of_the_pmt_correction(cz):
    """ebci's tests/testthat/test-eb.R ("fs corrections"): the 40 largest commuting zones,
    fs_correction = "PMT", wopt = FALSE: sqrt(mu2) = (0.0247533358, 0.016287771) and kappa =
    (475.964641182, 1719.44225761), corrected and uncorrected."""
    d = cz.sort_values("pop", ascending=False, kind="stable").head(40)
    res = robust_ebci(d["theta25"], d["se25"], d[["stayer25"]], alpha=0.1)
    assert math.sqrt(res.mu2) == pytest.approx(0.0247533358, abs=1e-8)
    assert math.sqrt(res.mu2_uncorrected) == pytest.approx(0.016287771, abs=1e-8)
    assert res.kappa == pytest.approx(475.964641182, rel=1e-8)
    assert res.kappa_uncorrected == pytest.approx(1719.44225761, rel=1e-8)


def test_intervals_are_centred_on_the_shrunk_estimate_and_narrower_than_unshrunk(cz):
    d = cz.dropna(subset=["theta25"]).head(100)
    res = robust_ebci(d["theta25"], d["se25"])
    rows = res.rows
    np.testing.assert_allclose((rows["ci_low"] + rows["ci_high"]) / 2, rows["shrunk"])
    assert (rows["half_length"] <= rows["half_length_unshrunk"] + 1e-12).all()
    assert ((rows["shrinkage"] > 0) & (rows["shrinkage"] < 1)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(estimate=[1.0, 2.0], se=[1.0, 1.0]), "at least 3"),
        (dict(estimate=[1.0, 2.0, 3.0], se=[1.0, 0.0, 1.0]), "se must be positive"),
        (dict(estimate=[1.0, np.nan, 3.0], se=[1.0, 1.0, 1.0]), "missing"),
        (dict(estimate=[1.0, "a", 3.0], se=[1.0, 1.0, 1.0]), "non-numeric"),
        (dict(estimate=[1.0, 2.0, 3.0, 4.0], se=[1.0] * 4, covariates=[5, 5, 5, 5]), "constant"),
    ],
)
def test_unusable_input_is_refused_with_a_reason(kwargs, message):
    with pytest.raises(EbciInputError, match=message):
        robust_ebci(**kwargs)
