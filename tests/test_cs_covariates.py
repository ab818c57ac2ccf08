"""Callaway-Sant'Anna with covariates (est_method dr / ipw / reg / dr_improved) against R.

Targets: tests/data/did_covariates/*.csv, written by make_reference.R there with R did 2.1.2 and
DRDID 1.0.4 (versions.txt): ``att_gt(yname="lemp", tname="year", idname="countyreal",
gname="first.treat", xformla=~lpop, data=mpdta, est_method=M, bstrap=FALSE, cband=FALSE)`` and
its ``aggte`` simple / dynamic, plus not-yet-treated, weighted and time-varying-covariate
variants, and the four DRDID 2x2 panel estimators with their influence functions on one cell.
Measured max abs differences: points < 2e-10, analytical SEs < 6e-8 (tolerances below 1e-6).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.models import drdid
from evaluation.models.callaway_santanna import callaway_santanna
from evaluation.models.drdid import CovariateError

DATA = Path(__file__).parent / "data"
REF = DATA / "did_covariates"
ATOL_POINT = 1e-6  # measured <= 2e-10
ATOL_SE = 1e-6  # measured <= 6e-8 (R's glm stops at a relative deviance change of 1e-8)

# case: (est_method, control, covariates, weights, base_period), as in make_reference.R
CASES = {
    "dr_never": ("dr", "never", ["lpop"], None, "varying"),
    "ipw_never": ("ipw", "never", ["lpop"], None, "varying"),
    "reg_never": ("reg", "never", ["lpop"], None, "varying"),
    "dr_improved_never": ("dr_improved", "never", ["lpop"], None, "varying"),
    "dr_notyet": ("dr", "notyet", ["lpop"], None, "varying"),
    "ipw_notyet": ("ipw", "notyet", ["lpop"], None, "varying"),
    "reg_notyet": ("reg", "notyet", ["lpop"], None, "varying"),
    "dr_improved_notyet": ("dr_improved", "notyet", ["lpop"], None, "varying"),
    "dr_weighted": ("dr", "never", ["lpop"], "w", "varying"),
    "dr_timevarying": ("dr", "never", ["lpop", "xtv"], None, "varying"),
    "dr_timevarying_universal": ("dr", "never", ["lpop", "xtv"], None, "universal"),
}


@pytest.fixture(scope="module")
def mpdta():
    mp = pd.read_csv(DATA / "mpdta.csv")
    mp["w"] = 1 + (mp.countyreal % 7) / 3
    mp["xtv"] = ((mp.countyreal % 17) + (mp.year - 2003) * (mp.countyreal % 5)) / 10
    return mp


def _fit(data, est_method="dr", control="never", covariates=("lpop",), weights=None, **kw):
    return callaway_santanna(
        data,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        control=control,
        weights=weights,
        covariates=list(covariates),
        est_method=est_method,
        inference="analytic",
        n_boot=0,
        **kw,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_att_gt_and_aggregations_match_r_did(mpdta, case):
    est, control, covs, weights, base = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _fit(mpdta, est, control, covs, weights, base_period=base)
    ref = pd.read_csv(REF / "att_gt.csv").query("case == @case")
    got = ref.merge(res.extra["att_gt"], on=["g", "t"], suffixes=("_r", ""))
    assert len(got) == len(ref) == len(res.extra["att_gt"])
    np.testing.assert_allclose(got["att"], got["att_r"], rtol=0, atol=ATOL_POINT)
    np.testing.assert_allclose(got["se_analytic"], got["se_r"], rtol=0, atol=ATOL_SE)
    agg = pd.read_csv(REF / "aggte.csv").query("case == @case")
    for _, row in agg.iterrows():
        frame = res.extra["aggregations"][row["type"]]
        term = "overall" if np.isnan(row["e"]) else f"e={row['e']:g}"
        assert frame.loc[term, "estimate"] == pytest.approx(row["estimate"], abs=ATOL_POINT)
        se = frame.loc[term, "se_analytic"]
        if np.isnan(row["se"]):  # universal base period, e = -1: normalised to 0
            assert np.isnan(se)
        else:
            assert se == pytest.approx(row["se"], abs=ATOL_SE)
    assert res.diagnostics["notes"] == []


def test_documented_example_values(mpdta):
    # did 2.1.2 ?att_gt / ?aggte, xformla = ~lpop, doubly robust
    res = _fit(mpdta)
    a = res.extra["att_gt"]
    assert float(a.loc[(a.g == 2004) & (a.t == 2004), "att"].iloc[0]) == pytest.approx(
        -0.0145, abs=5e-5
    )
    assert res.estimate == pytest.approx(-0.0418, abs=5e-5)
    conv = res.conventions["covariates"]
    assert conv.startswith("lpop, at each cell's base period") and "doubly robust" in conv
    assert "dr with covariates lpop" in res.method


@pytest.mark.parametrize("method", list(drdid.ESTIMATORS))
def test_2x2_estimators_and_influence_functions_match_drdid(method):
    cell = pd.read_csv(REF / "cell_2x2.csv")
    ref = pd.read_csv(REF / "cell_2x2_summary.csv").set_index("method").loc[method]
    X = np.column_stack([np.ones(len(cell)), cell.lpop, cell.xtv])
    fit = drdid.ESTIMATORS[method](cell.y1, cell.y0, cell.D, X, cell.w)
    assert fit.att == pytest.approx(ref["att"], abs=1e-9)
    se = np.std(fit.inf_func, ddof=1) / np.sqrt(len(cell))
    assert se == pytest.approx(ref["se"], abs=1e-7)
    np.testing.assert_allclose(fit.inf_func, cell[f"if_{method}"], rtol=0, atol=1e-4)
    assert fit.notes == []


@pytest.mark.parametrize("method", list(drdid.ESTIMATORS))
def test_intercept_only_is_the_difference_of_means(method):
    rng = np.random.default_rng(1)
    n = 200
    D = (rng.random(n) < 0.3).astype(float)
    y0, y1 = rng.normal(size=n), rng.normal(size=n) + D
    w = rng.uniform(0.5, 2, n)
    fit = drdid.ESTIMATORS[method](y1, y0, D, np.ones((n, 1)), w)
    dy = y1 - y0
    m1, m0 = np.average(dy[D == 1], weights=w[D == 1]), np.average(dy[D == 0], weights=w[D == 0])
    assert fit.att == pytest.approx(m1 - m0, abs=1e-10)
    n1, n0 = (w * D).sum(), (w * (1 - D)).sum()
    psi = n * (w * D * (dy - m1) / n1 - w * (1 - D) * (dy - m0) / n0)
    np.testing.assert_allclose(fit.inf_func, psi, atol=1e-9)


def test_no_overlap_is_a_diagnostic_not_a_crash(mpdta):
    # a covariate that separates cohort 2004 from the never-treated units
    df = mpdta.assign(x=np.where(mpdta["first.treat"] == 2004, 10.0, 0.0) + mpdta.lpop / 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _fit(df, covariates=["x"])
    a = res.extra["att_gt"]
    assert a.loc[a.g == 2004, "att"].isna().all() and a.loc[a.g != 2004, "att"].notna().all()
    assert any("overlap condition violated" in n for n in res.diagnostics["notes"])
    assert np.isfinite(res.estimate)


def test_no_estimable_cell_is_an_error(mpdta):
    # constant among the never-treated: R did reports every ATT(g,t) as NA
    df = mpdta.assign(x=np.where(mpdta["first.treat"] == 0, 1.0, mpdta.lpop))
    with pytest.raises(CovariateError, match="no ATT.g,t. can be estimated"):
        _fit(df, "reg", covariates=["x"])


@pytest.mark.parametrize(
    "column, values, message",
    [
        ("nope", None, "covariate 'nope' is not a column"),
        ("txt", "a", "covariate 'txt' is not numeric"),
        ("const", 1.0, "covariate 'const' is constant"),
        ("dup", "2*lpop+1", "covariate 'dup' is collinear"),
        ("miss", "nan@2003", "covariate 'miss' is missing for 1 unit(s) in base period 2003"),
    ],
)
def test_bad_covariates_raise(mpdta, column, values, message):
    df = _bad(mpdta, column, values)
    covs = ["lpop", column] if column == "dup" else [column]
    with pytest.raises(CovariateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _fit(df, covariates=covs)


def _bad(mp, column, values):
    df = mp.copy()
    if values == "2*lpop+1":
        df[column] = 2 * df.lpop + 1
    elif values == "nan@2003":
        df[column] = df.lpop
        df.loc[(df.countyreal == df.countyreal.iloc[0]) & (df.year == 2003), column] = np.nan
    elif values is not None:
        df[column] = values
    return df


def test_est_method_checked(mpdta):
    with pytest.raises(ValueError, match="est_method must be one of"):
        _fit(mpdta, est_method="tmle")
