"""Per-area DiD with placebo-in-space inference: published numbers, an independent OLS
implementation, brute-force test inversion, and recovery of a known effect."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from evaluation.models.did_one_treated import did_one_treated

from .conftest import ROOT


def synthetic_panel(
    n_units=80, years=range(2016, 2025), effect=0.0, treated="T", seed=1, noise=2.0
):
    """Rates = unit level + common year shock + noise; ``effect`` added to T after 2022."""
    rng = np.random.default_rng(seed)
    units = [treated] + [f"C{i:03d}" for i in range(n_units)]
    level = dict(zip(units, rng.normal(60, 8, len(units)), strict=True))
    shock = {y: s for y, s in zip(years, rng.normal(0, 3, len(years)), strict=True)}
    rows = []
    for u in units:
        for y in years:
            rate = level[u] + shock[y] + rng.normal(0, noise)
            if u == treated and y >= 2023:
                rate += effect
            den = int(rng.integers(80, 400))
            rows.append({"unit": u, "year": y, "rate": rate, "den": den, "num": rate / 100 * den})
    return pd.DataFrame(rows)


PRE, POST = [2016, 2017, 2018, 2019, 2020, 2021, 2022], [2023, 2024]


def test_recovers_a_known_effect_with_an_interval_that_covers_it():
    data = synthetic_panel(effect=8.0, seed=7)
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        numerator="num",
        denominator="den",
    )
    assert abs(r.estimate - 8.0) < 3.0
    assert r.ci_low < 8.0 < r.ci_high
    assert r.ci_low > 0 and r.p_value < 0.05
    assert r.se is None and "not valid" in r.conventions["standard_error"]


def test_unweighted_estimate_equals_twfe_ols_coefficient():
    """Independent implementation: OLS with unit and year fixed effects (statsmodels)."""
    data = synthetic_panel(n_units=25, effect=5.0, seed=3)
    data = data[data["year"].isin(PRE + POST)]
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
    )
    d = data.assign(D=((data["unit"] == "T") & data["year"].isin(POST)).astype(float))
    fit = smf.ols("rate ~ D + C(unit) + C(year)", data=d).fit()
    assert r.estimate == pytest.approx(fit.params["D"], abs=1e-9)


def test_pooled_comparison_is_the_ratio_of_summed_counts():
    data = synthetic_panel(n_units=10, seed=5)
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        numerator="num",
        denominator="den",
    )
    comp = data[data["unit"] != "T"].groupby("year")[["num", "den"]].sum()
    comp_rate = comp["num"] / comp["den"] * 100
    t = data[data["unit"] == "T"].set_index("year")["rate"]
    gap = t - comp_rate
    assert r.estimate == pytest.approx(gap[POST].mean() - gap[PRE].mean(), abs=1e-9)


def test_interval_equals_brute_force_test_inversion():
    """Shift the treated post-period outcome by -delta, re-run the whole test, and compare the
    set of deltas not rejected with the closed-form interval."""
    data = synthetic_panel(n_units=40, effect=4.0, seed=11)
    kw = dict(
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
        alpha=0.1,
    )
    r = did_one_treated(data, **kw)
    post_t = (data["unit"] == "T") & data["year"].isin(POST)
    width = r.ci_high - r.ci_low
    for delta in np.linspace(r.ci_low - 0.5 * width, r.ci_high + 0.5 * width, 41):
        if min(abs(delta - r.ci_low), abs(delta - r.ci_high)) < 1e-6 * width:
            continue  # on the boundary the rank test is a tie
        shifted = data.copy()
        shifted.loc[post_t, "rate"] -= delta
        p = did_one_treated(shifted, **kw).p_value
        assert (p > 0.1) == (r.ci_low <= delta <= r.ci_high), delta


def test_p_value_is_the_rank_among_placebos():
    data = synthetic_panel(n_units=19, effect=50.0, seed=2)
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
    )
    # A huge effect is more extreme than all 19 placebos: p = 1 / 20, the smallest possible.
    assert r.p_value == pytest.approx(1 / 20)
    assert r.diagnostics["placebo_rank"] == 1
    dist = r.distribution
    assert dist["is_treated"].sum() == 1 and len(dist) == 20


def test_too_few_comparison_units_give_an_unbounded_interval():
    data = synthetic_panel(n_units=10, effect=1.0, seed=4)
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
        alpha=0.05,
    )
    # floor(0.05 * 11) = 0 placebos may be more extreme: no finite interval exists.
    assert math.isinf(r.ci_low) and math.isinf(r.ci_high) and not r.ci_is_finite


def test_bounds_restrict_the_interval_to_possible_effects():
    data = synthetic_panel(n_units=30, effect=0.0, seed=8, noise=15.0)
    r = did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
        bounds=(0.0, 100.0),
    )
    post_vals = data[(data["unit"] == "T") & data["year"].isin(POST)]["rate"]
    assert r.ci_low >= post_vals.max() - 100 - 1e-9 and r.ci_high <= post_vals.min() + 1e-9


def test_card_krueger_balanced_did_published_value():
    """Card and Krueger (1994), Table 3 row 4: balanced-sample DiD 2.75 FTE."""
    ck = pd.read_csv(ROOT / "tests" / "data" / "njmin3.csv")
    complete = ck.groupby("store_id")["fte"].transform(lambda s: s.notna().all())
    ck = ck[complete]
    nj = ck[ck["nj"] == 1].groupby("d")["fte"].mean()
    pa = ck[ck["nj"] == 0][["store_id", "d", "fte"]].rename(columns={"store_id": "unit"})
    data = pd.concat([pd.DataFrame({"unit": "NJ", "d": nj.index, "fte": nj.values}), pa])
    r = did_one_treated(
        data,
        unit="unit",
        time="d",
        outcome="fte",
        treated="NJ",
        pre=[0],
        post=[1],
        weighting="unweighted",
    )
    assert r.estimate == pytest.approx(2.75, abs=0.005)
    assert r.n_comparison_units == 75
    # One pre-period: no pre-period fit to normalise by, so no p-value or interval.
    assert math.isnan(r.p_value) and not r.ci_is_finite


def _coverage(reps, n_units, alpha=0.1, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        data = synthetic_panel(
            n_units=n_units,
            effect=3.0,
            seed=int(rng.integers(1 << 31)),
            noise=float(rng.uniform(1, 4)),
        )
        r = did_one_treated(
            data,
            unit="unit",
            time="year",
            outcome="rate",
            treated="T",
            pre=PRE,
            post=POST,
            weighting="unweighted",
            alpha=alpha,
        )
        hits += r.ci_low <= 3.0 <= r.ci_high
    return hits / reps


def test_interval_coverage_small_monte_carlo():
    """Units are exchangeable here, so the placebo interval's coverage is at least 1 - alpha."""
    assert _coverage(reps=60, n_units=29) >= 0.80


@pytest.mark.slow
def test_interval_coverage_monte_carlo():
    assert abs(_coverage(reps=1000, n_units=39, seed=1) - 0.90) < 0.03
