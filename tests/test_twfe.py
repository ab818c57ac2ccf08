"""Two-way fixed-effects DiD, event studies and the grouped-binomial check.

Published numbers: TWFE on mpdta -0.0365 (SE 0.0133, R fixest default CR1), Card-Krueger
regression d_nj 2.7536 (1.6884) [POE4]; see tests/data/*_SOURCE.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import logit

from evaluation.models.event_study import event_study, event_study_one_treated
from evaluation.models.fe import demean
from evaluation.models.glm import binomial_fe
from evaluation.models.twfe import twfe

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(DATA / "mpdta.csv")


def test_twfe_mpdta_matches_fixest(mpdta):
    r = twfe(mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat")
    assert r.estimate == pytest.approx(-0.0365, abs=5e-5)
    assert r.se == pytest.approx(0.0133, abs=5e-5)
    # fixest: K = 1 regressor + 5 year effects (county effects nested in county clusters)
    assert r.diagnostics["k"] == 6 and r.diagnostics["df_t"] == 499
    assert "G/(G-1)" in r.conventions["standard_error"]


def test_twfe_equals_dummy_regression_with_cr1(mpdta):
    """Independent implementation: statsmodels OLS with explicit dummies and cluster SEs,
    rescaled from statsmodels' K (all dummies) to fixest's nested K."""
    d = mpdta.copy()
    d["D"] = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(float)
    X = pd.get_dummies(d[["countyreal", "year"]].astype(str), drop_first=True, dtype=float)
    X.insert(0, "D", d["D"])
    X = sm.add_constant(X)
    m = sm.OLS(d["lemp"], X).fit(
        cov_type="cluster", cov_kwds={"groups": d["countyreal"], "use_correction": True}
    )
    n, k_sm, k_fx = len(d), X.shape[1], 6
    se_fixest = m.bse["D"] * np.sqrt((n - k_sm) / (n - k_fx))
    r = twfe(d, unit="countyreal", time="year", outcome="lemp", treatment="D")
    assert r.estimate == pytest.approx(m.params["D"], abs=1e-10)
    assert r.se == pytest.approx(se_fixest, rel=1e-8)


def test_card_krueger_regression():
    ck = pd.read_csv(DATA / "njmin3.csv")
    # fte ~ nj + d + d_nj is TWFE with "units" nj and "periods" d; classical SEs
    r = twfe(ck, unit="nj", time="d", outcome="fte", treatment="d_nj", vcov="iid")
    assert r.estimate == pytest.approx(2.7536, abs=1e-4)
    assert r.se == pytest.approx(1.6884, abs=1e-4)
    assert r.diagnostics["n_obs"] == 794
    assert r.diagnostics["rows_dropped_missing_outcome"] == 26  # reported, not silent
    # CK (1994) Table 3 row 3 prints 2.76 for this unbalanced 2x2 DiD; the data give 2.7536
    # (0.5880 + 2.1656), which the paper's two-decimal rounding puts within 0.01
    assert abs(r.estimate - 2.76) < 0.01


def test_weighted_demeaning_unbalanced_matches_dummies():
    rng = np.random.default_rng(3)
    n_u, n_t = 30, 6
    d = pd.DataFrame([(u, t) for u in range(n_u) for t in range(n_t)], columns=["u", "t"]).sample(
        frac=0.8, random_state=1
    )
    d["w"] = rng.uniform(0.5, 3, len(d))
    d["x"] = rng.normal(size=len(d))
    d["y"] = d["x"] * 2 + d["u"] * 0.1 + rng.normal(size=len(d))
    r = twfe(d, unit="u", time="t", outcome="y", treatment="x", weights="w", vcov="iid")
    X = sm.add_constant(
        pd.concat(
            [d[["x"]], pd.get_dummies(d[["u", "t"]].astype(str), drop_first=True, dtype=float)],
            axis=1,
        )
    )
    m = sm.WLS(d["y"], X, weights=d["w"]).fit()
    assert r.estimate == pytest.approx(m.params["x"], abs=1e-9)
    assert r.se == pytest.approx(m.bse["x"], rel=1e-7)
    Z = demean(d[["x"]].to_numpy(), [d["u"].to_numpy(), d["t"].to_numpy()], d["w"].to_numpy())
    # the residual is orthogonal (weighted) to every fixed-effect indicator
    for col in ["u", "t"]:
        sums = pd.Series(Z[:, 0] * d["w"].to_numpy()).groupby(d[col].to_numpy()).sum()
        assert np.abs(sums).max() < 1e-9


def test_event_study_mpdta(mpdta):
    e = event_study(
        mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat"
    )
    assert "e-1" not in e.terms.index  # the reference period
    assert list(e.terms["event_time"]) == [-4, -3, -2, 0, 1, 2, 3]
    pre = e.diagnostics["pre_trend_test"]
    assert pre["df"] == [3, 499] and 0 < pre["p_value"] < 1
    # independent check: Wald statistic from the dummy regression
    d = mpdta.copy()
    et = (d["year"] - d["first.treat"]).where(d["first.treat"] > 0)
    X = pd.DataFrame({f"e{k}": (et == k).astype(float) for k in [-4, -3, -2, 0, 1, 2, 3]})
    X = sm.add_constant(
        pd.concat(
            [
                X,
                pd.get_dummies(d[["countyreal", "year"]].astype(str), drop_first=True, dtype=float),
            ],
            axis=1,
        )
    )
    m = sm.OLS(d["lemp"], X).fit()
    assert e.terms["estimate"].to_numpy() == pytest.approx(
        m.params[[f"e{k}" for k in [-4, -3, -2, 0, 1, 2, 3]]].to_numpy(), abs=1e-9
    )


def _one_treated_panel(effect=0.0, trend=0.0, seed=0, n=60, years=range(2015, 2025)):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = rng.uniform(40, 70)
        for t in years:
            den = int(rng.integers(200, 600))
            p = base + rng.normal(0, 2) + (t - 2015) * 0.5
            if i == 0:
                p += trend * (t - 2015) + (effect if t >= 2023 else 0.0)
            num = int(round(den * np.clip(p, 1, 99) / 100))
            rows.append((f"U{i:03d}", t, num, den, num / den * 100))
    return pd.DataFrame(rows, columns=["unit", "year", "num", "den", "rate"])


def test_event_study_one_treated_recovers_effect_and_flags_trend():
    d = _one_treated_panel(effect=15.0)
    r = event_study_one_treated(
        d,
        unit="unit",
        time="year",
        outcome="rate",
        treated="U000",
        start=2023,
        numerator="num",
        denominator="den",
    )
    assert r.se is None and r.n_comparison_units == 59
    assert r.ci_low < 15 < r.ci_high and r.ci_low > 0
    assert r.diagnostics["reference_period"] == 2022
    # without a pre-trend the rank test rejects about alpha of the time (treated unit is
    # exchangeable with the placebos): 40 panels, expect 2 rejections at 5%
    pvals = [
        event_study_one_treated(
            _one_treated_panel(seed=s),
            unit="unit",
            time="year",
            outcome="rate",
            treated="U000",
            start=2023,
            numerator="num",
            denominator="den",
        ).diagnostics["pre_trend_test"]["p_value"]
        for s in range(1, 41)
    ]
    assert np.mean(np.array(pvals) <= 0.05) <= 0.15
    d2 = _one_treated_panel(effect=0.0, trend=3.0)
    r2 = event_study_one_treated(
        d2,
        unit="unit",
        time="year",
        outcome="rate",
        treated="U000",
        start=2023,
        numerator="num",
        denominator="den",
    )
    assert r2.diagnostics["pre_trend_test"]["p_value"] <= 1 / 60 + 1e-12


@pytest.mark.filterwarnings("ignore:Perfect separation")  # a saturated model fits exactly
def test_binomial_fe_saturated_two_by_two_is_log_odds_ratio_difference():
    # 2 units x 2 periods, saturated: tau = DiD of logits, exactly
    d = pd.DataFrame(
        {
            "u": ["a", "a", "b", "b"],
            "t": [0, 1, 0, 1],
            "s": [30, 60, 40, 45],
            "n": [100, 100, 120, 110],
            "D": [0, 1, 0, 0],
        }
    )
    # add replicate cells so the cluster covariance is defined (4 clusters)
    d2 = pd.concat([d.assign(u=d["u"] + "1"), d.assign(u=d["u"] + "2")])
    d2["cl"] = d2["u"]
    r = binomial_fe(d2, unit="u", time="t", successes="s", trials="n", treatment="D")
    p = d["s"] / d["n"]
    expected = (logit(p[1]) - logit(p[0])) - (logit(p[3]) - logit(p[2]))
    assert r.terms.loc["log_odds_ratio", "estimate"] == pytest.approx(expected, abs=1e-8)
    # percentage-point effect: observed treated rate minus the counterfactual rate
    assert r.estimate == pytest.approx(
        100 * (p[1] - 1 / (1 + np.exp(-(logit(p[1]) - expected)))), abs=1e-6
    )


def test_binomial_fe_recovers_known_effect():
    rng = np.random.default_rng(11)
    rows = []
    for i in range(80):
        a = rng.normal(0, 0.5)
        treated = i < 20
        for t in range(8):
            eta = a + 0.05 * t + (0.4 if treated and t >= 5 else 0.0)
            n = 400
            rows.append((i, t, rng.binomial(n, 1 / (1 + np.exp(-eta))), n, 5 if treated else 0))
    d = pd.DataFrame(rows, columns=["u", "t", "s", "n", "ft"])
    r = binomial_fe(d, unit="u", time="t", successes="s", trials="n", first_treated="ft")
    lo, hi = r.terms.loc["log_odds_ratio", ["ci_low", "ci_high"]]
    assert lo < 0.4 < hi
    assert r.diagnostics["n_clusters"] == 80
