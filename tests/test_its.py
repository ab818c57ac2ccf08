"""Interrupted time series: published numbers (Lopez Bernal et al. 2017; Linden 2015), an
independent REML likelihood, the command line, and Monte Carlo coverage of the default."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation.models.its import controlled_its, design, its
from evaluation.models.its_fitting import _reml_nll

from .conftest import ROOT

SICILY = ROOT / "tests" / "data" / "sicily.csv"
ADH = ROOT / "tests" / "data" / "smoking_adh.csv"


@pytest.fixture(scope="module")
def sicily():
    return pd.read_csv(SICILY)


@pytest.fixture(scope="module")
def adh():
    return pd.read_csv(ADH)


def _lvl(res):
    return res.terms.loc["level_change"]


@pytest.mark.parametrize(
    "family, harmonics, rr, lo, hi, disp",
    [
        ("poisson", 0, 0.8944, 0.8647, 0.9251, 1.0),  # M1
        ("quasipoisson", 0, 0.8944, 0.8392, 0.9532, 3.5592),  # M2
        ("quasipoisson", 2, 0.8851, 0.8394, 0.9332, 2.2622),  # M3 (two Fourier pairs)
    ],
)
def test_sicily_level_change_rate_ratios(sicily, family, harmonics, rr, lo, hi, disp):
    res = its(
        sicily,
        time="time",
        outcome="aces",
        interruption=37,
        family=family,
        offset="stdpop",
        effects="level",
        harmonics=harmonics,
        season_col="month",
        season_period=12,
    )
    t = _lvl(res)
    assert t["ratio"] == pytest.approx(rr, abs=1e-4)
    assert t["ratio_ci_low"] == pytest.approx(lo, abs=1e-3)
    assert t["ratio_ci_high"] == pytest.approx(hi, abs=1e-3)
    assert res.diagnostics["dispersion"] == pytest.approx(disp, abs=1e-3)


def test_sicily_slope_change_model_under_the_authors_parameterisation(sicily):
    """M4 uses (time - 36) * smokban; ours uses time since the first post point (Linden).
    The level terms differ by exactly one slope step: ours = theirs + slope change."""
    res = its(
        sicily,
        time="time",
        outcome="aces",
        interruption=37,
        family="quasipoisson",
        offset="stdpop",
        effects="level+slope",
        harmonics=2,
        season_col="month",
        season_period=12,
    )
    b_level = _lvl(res)["estimate"]
    b_slope = res.terms.loc["slope_change", "estimate"]
    assert math.exp(b_level - b_slope) == pytest.approx(0.8765, abs=1e-4)
    assert math.exp(b_slope) == pytest.approx(1.0015, abs=1e-4)
    assert res.diagnostics["dispersion"] == pytest.approx(2.2746, abs=1e-3)


def test_prop99_single_group_itsa(adh):
    ca = adh[adh["state"] == "California"]
    res = its(ca, time="year", outcome="cigsale", interruption=1989, method="ols-hac", hac_lags=1)
    t = res.terms
    assert t.loc["pre_trend", "estimate"] == pytest.approx(-1.779474, abs=1e-4)
    assert t.loc["level_change", "estimate"] == pytest.approx(-20.0581, abs=1e-4)
    assert t.loc["slope_change", "estimate"] == pytest.approx(-1.494652, abs=1e-4)
    assert t.loc["post_trend", "estimate"] == pytest.approx(-3.274126, abs=1e-4)
    # Newey-West lag 1 with Stata's n/(n-k) scaling (SOURCE.md): X 4.7244, XT 0.4368.
    assert t.loc["level_change", "se"] == pytest.approx(4.7244, abs=1e-3)
    assert t.loc["slope_change", "se"] == pytest.approx(0.4368, abs=1e-3)
    assert t.loc["level_change", "df"] == 27


def test_prop99_multiple_group_itsa(adh):
    res = controlled_its(
        adh,
        unit="state",
        time="year",
        outcome="cigsale",
        treated="California",
        interruption=1989,
        hac_lags=1,
    )
    t = res.terms
    assert t.loc["difference_in_level_change", "estimate"] == pytest.approx(-2.806417, abs=1e-4)
    assert t.loc["difference_in_level_change", "p_value"] == pytest.approx(0.631, abs=0.002)
    assert t.loc["difference_in_slope_change", "estimate"] == pytest.approx(-0.991143, abs=1e-4)
    assert t.loc["difference_in_slope_change", "p_value"] == pytest.approx(0.136, abs=0.002)
    assert res.n_comparison_units == 38


def test_controlled_its_equals_its_on_the_difference_series(adh):
    ca = adh[adh["state"] == "California"].set_index("year")["cigsale"]
    ctrl = adh[adh["state"] != "California"].groupby("year")["cigsale"].mean()
    diff = (ca - ctrl).rename("gap").reset_index()
    res = its(diff, time="year", outcome="gap", interruption=1989, method="ols-hac", hac_lags=1)
    assert res.terms.loc["level_change", "estimate"] == pytest.approx(-2.806417, abs=1e-6)
    assert res.terms.loc["slope_change", "estimate"] == pytest.approx(-0.991143, abs=1e-6)


def test_reml_likelihood_matches_the_dense_covariance_formula():
    """Independent implementation of the AR(1) REML log-likelihood with the full V matrix."""
    rng = np.random.default_rng(3)
    n = 30
    data = pd.DataFrame({"t": np.arange(n), "y": rng.normal(size=n).cumsum() * 0.3})
    X = design(data, "t", 15).to_numpy(dtype=float)
    y = data["y"].to_numpy()
    for rho, s2 in [(0.0, 1.0), (0.4, 0.7), (-0.3, 2.0), (0.8, 0.5)]:
        idx = np.arange(n)
        V = s2 * rho ** np.abs(idx[:, None] - idx[None, :]) / (1 - rho**2)
        Vi = np.linalg.inv(V)
        b = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
        r = y - X @ b
        dense = 0.5 * (np.linalg.slogdet(V)[1] + np.linalg.slogdet(X.T @ Vi @ X)[1] + r @ Vi @ r)
        ours = _reml_nll(math.log(s2), rho, y, X)
        assert ours == pytest.approx(dense, abs=1e-8)


def test_binomial_its_matches_weighted_proportion_glm():
    rng = np.random.default_rng(5)
    n = 36
    t = np.arange(n)
    trials = rng.integers(80, 160, n)
    p = 1 / (1 + np.exp(-(-0.2 + 0.01 * t - 0.4 * (t >= 24))))
    succ = rng.binomial(trials, p)
    data = pd.DataFrame({"t": t, "succ": succ, "trials": trials})
    res = its(
        data,
        time="t",
        outcome="succ",
        trials="trials",
        family="binomial",
        interruption=24,
        effects="level",
    )
    X = design(data, "t", 24, effects="level")
    ref = sm.GLM(succ / trials, X, family=sm.families.Binomial(), var_weights=trials).fit()
    assert _lvl(res)["estimate"] == pytest.approx(ref.params["level_change"], abs=1e-8)
    assert _lvl(res)["se"] == pytest.approx(ref.bse["level_change"], abs=1e-8)
    assert _lvl(res)["ratio"] == pytest.approx(math.exp(ref.params["level_change"]))


def test_diagnostics_and_counterfactual(sicily):
    res = its(
        sicily,
        time="time",
        outcome="aces",
        interruption=37,
        family="quasipoisson",
        offset="stdpop",
        effects="level",
    )
    d = res.diagnostics
    assert {"durbin_watson", "acf", "pacf", "ljung_box"} <= set(d)
    cf = res.extra["counterfactual"]
    assert len(cf) == len(sicily)
    pre = ~cf["post"]
    assert np.allclose(cf.loc[pre, "fitted"], cf.loc[pre, "counterfactual"])
    assert (cf["cf_low"] <= cf["counterfactual"]).all() and (
        cf["counterfactual"] <= cf["cf_high"]
    ).all()
    cum = d["cumulative_effect"]
    assert cum["estimate"] == pytest.approx(
        (cf.loc[~pre, "fitted"] - cf.loc[~pre, "counterfactual"]).sum()
    )
    assert cum["ci_low"] < cum["estimate"] < cum["ci_high"] < 0


def test_gaussian_default_reports_ols_residual_tests_and_rho():
    rng = np.random.default_rng(0)
    data = _ar1_series(rng, 48, 0.5)
    res = its(data, time="t", outcome="y", interruption=24)
    assert res.extra["method"] == "ar1-reml"
    assert -1 < res.diagnostics["rho"] < 1
    assert "breusch_godfrey" in res.diagnostics["ols_residuals"]
    assert "Satterthwaite" in res.conventions["critical_values"]


def test_washout_and_ramp_and_extra_interruption():
    rng = np.random.default_rng(1)
    data = _ar1_series(rng, 60, 0.0)
    r1 = its(data, time="t", outcome="y", interruption=30, washout=3, method="ols")
    assert r1.diagnostics["washout_periods"] == 3 and r1.diagnostics["n_post"] == 27
    X = design(data, "t", 30, ramp=4, extra_interruptions=(45,))
    assert list(X.loc[28:34, "level_change"]) == [0, 0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert {"level_change_45", "slope_change_45"} <= set(X.columns)


def test_cli_its_json_prop99(adh, tmp_path):
    path = tmp_path / "ca.csv"
    adh[adh["state"] == "California"].to_csv(path, index=False)
    proc = _its_cli(
        "--data",
        str(path),
        "--time",
        "year",
        "--outcome",
        "cigsale",
        "--interruption",
        "1989",
        "--method",
        "ols-hac",
        "--hac-lags",
        "1",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["level_change"]["estimate"] == pytest.approx(-20.0581, abs=1e-4)
    assert out["pre_trend"]["estimate"] == pytest.approx(-1.779474, abs=1e-4)
    assert {"estimate", "se", "ci_low", "ci_high", "p_value"} <= set(out["slope_change"])
    assert {"conventions", "diagnostics"} <= set(out)


def test_cli_its_rejects_unknown_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("t,y\n1,2\n")
    proc = _its_cli(
        "--data",
        str(path),
        "--time",
        "t",
        "--outcome",
        "nope",
        "--interruption",
        "1",
        "--json",
    )
    assert proc.returncode == 2 and "nope" in proc.stderr


def _its_cli(*args):
    """Run ``python -m evaluation its ARGS`` from the project root."""
    return subprocess.run(
        [sys.executable, "-m", "evaluation", "its", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def _ar1_series(rng, n, rho, level=2.0):
    e = np.zeros(n)
    e[0] = rng.normal() / math.sqrt(1 - rho**2)
    for i in range(1, n):
        e[i] = rho * e[i - 1] + rng.normal()
    t = np.arange(n)
    y = 1 + 0.1 * t + level * (t >= n // 2) + 0.05 * np.maximum(t - n // 2, 0) * (t >= n // 2) + e
    return pd.DataFrame({"t": t, "y": y})


def _coverage(reps, seed):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        res = its(_ar1_series(rng, 48, 0.5), time="t", outcome="y", interruption=24)
        t = _lvl(res)
        hits += t["ci_low"] <= 2.0 <= t["ci_high"]
    return hits / reps


def test_default_method_coverage_small_monte_carlo():
    """AR(1) errors, rho = 0.5, 48 monthly points (small version of the slow test)."""
    assert _coverage(reps=120, seed=11) >= 0.88


@pytest.mark.slow
def test_default_method_coverage_monte_carlo():
    cov = _coverage(reps=2000, seed=2024)
    assert 0.93 <= cov <= 0.97


def test_its_figure_has_alt_text_with_the_estimate(sicily):
    from evaluation.report.charts import its_figure

    res = its(
        sicily,
        time="time",
        outcome="aces",
        interruption=37,
        family="quasipoisson",
        offset="stdpop",
        effects="level",
        harmonics=2,
        season_col="month",
        season_period=12,
    )
    fig, alt = its_figure(res, title="Sicily", what="acute coronary events")
    assert "0.885" in alt and "interruption" in alt
    assert fig.axes[0].get_title(loc="left") == "Sicily"


def test_cli_extra_interruption(tmp_path):
    rng = np.random.default_rng(9)
    data = _ar1_series(rng, 60, 0.0)
    path = tmp_path / "s.csv"
    data.to_csv(path, index=False)
    proc = _its_cli(
        "--data",
        str(path),
        "--time",
        "t",
        "--outcome",
        "y",
        "--interruption",
        "30",
        "--extra-interruption",
        "45",
        "--method",
        "ols",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert "other interruptions [45.0]" in json.loads(proc.stdout)["conventions"]["design"]
