"""Power and minimum detectable effect (evaluation/power.py).

Checks: the closed-form rejection rule equals re-running the estimators' own tests; size at
delta = 0; power increasing in delta; MDE shrinking with more post periods (years and months);
agreement with the Gaussian closed form (z_{1-a/2} + z_{0.8}) * sd(estimator); determinism.
"""

import datetime as dt
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from evaluation.cli import main
from evaluation.contracts import MONTHS
from evaluation.designs.power_analysis import power_analysis
from evaluation.designs.power_simulate import (
    emulate_area,
    find_mde,
    loo_critical,
    power_at,
    programme_gaps,
)
from evaluation.designs.programme import placebo_programme_did, placebo_programmes, programme_did
from evaluation.models.did_one_treated import did_one_treated

Z = norm.ppf(0.975) + norm.ppf(0.8)  # 2.8016


# ---- a Gaussian panel dressed as a plan -----------------------------------------------------------
def gaussian_panel(n_units=300, n_pre=40, n_post=5, sigma=2.0, n_pilots=8, seed=1, monthly=False):
    """Rates 50 + unit effect + iid N(0, sigma^2) noise, equal denominators (so the pooled rate is
    the plain mean); the first ``n_pilots`` units are pilots in one partnership and region."""
    rng = np.random.default_rng(seed)
    units = [f"{i:03d}" for i in range(100, 100 + n_units)]
    t = n_pre + n_post
    rate = 50 + rng.normal(0, 5, (n_units, 1)) + rng.normal(0, sigma, (n_units, t))
    den = 1000.0
    if monthly:
        months = [2021 * 12 + i for i in range(t)]
        frame = pd.DataFrame(
            {
                "time_period": np.repeat([[m // 12 for m in months]], n_units, 0).ravel(),
                "time_identifier": np.repeat(
                    [[MONTHS[m % 12] for m in months]], n_units, 0
                ).ravel(),
                "old_la_code": np.repeat(units, t),
                "plans_issued_20_weeks_ex": (rate * den / 100).ravel(),
                "plans_issued_den_ex": den,
            }
        )
        start_month = months[n_pre]
        start = dt.date(start_month // 12, start_month % 12 + 1, 1)
        years = list(range(2000, 2000 + t))
    else:
        frame = None
        start = dt.date(2100, 1, 1)
        years = list(range(2000, 2000 + t))
    long = pd.DataFrame(
        {
            "unit_id": np.repeat(units, t),
            "year": np.tile(years, n_units),
            "plans_issued_20_weeks_ex": (rate * den / 100).ravel(),
            "plans_issued_den_ex": den,
        }
    )
    long["timeliness_20wk_ex"] = long["plans_issued_20_weeks_ex"] / den * 100
    panel = SimpleNamespace(units=long, regions={u: "Region" for u in units})
    pilots = [
        SimpleNamespace(la_code=u, la_name=f"LA {u}", partnership="P", start_date=start)
        for u in units[:n_pilots]
    ]
    plan = SimpleNamespace(
        name="gaussian",
        seed=7,
        alpha=0.05,
        inference={"programme_permutations": 999},
        outcomes=[
            SimpleNamespace(
                name="timeliness_20wk_ex", role="primary", minimum_important_difference=5.0
            )
        ],
        pilots=pilots,
        pilot_codes=[p.la_code for p in pilots],
        pilot=lambda code: next(p for p in pilots if p.la_code == code),
        comparison_exclude=[],
        pre_years=years[:n_pre],
        post_years=years[n_pre : n_pre + 1],
        data_dir=".",
    )
    return panel, plan, frame


@pytest.fixture(scope="module")
def gaussian():
    panel, plan, _ = gaussian_panel()
    return power_analysis(panel, plan, monthly=False, years=(1, 4), draws=20000), plan


def rows(res, design, timescale, basis=None):
    r = res.rows[(res.rows["design"] == design) & (res.rows["timescale"] == timescale)]
    if basis:
        r = r[r["basis"] == basis]
    return r.set_index("post_periods")


# ---- the closed form is the estimator's own test -------------------------------------------------
def test_closed_form_rejection_equals_rerunning_did_one_treated():
    """For every pseudo-pilot j and several effects, did_one_treated's placebo p-value <= alpha
    exactly when the closed form says the effect is rejected."""
    rng = np.random.default_rng(3)
    n, n_pre, alpha = 25, 4, 0.2
    years = list(range(n_pre + 1))
    den = rng.integers(50, 500, (n, len(years))).astype(float)
    num = np.round(
        den * np.clip(rng.normal(0.6, 0.15, (n, 1)) + rng.normal(0, 0.05, den.shape), 0, 1)
    )
    em = emulate_area(num, den, n_pre, [1], alpha)
    for delta in [0.0, 4.0, -7.0, 15.0]:
        closed = np.abs(em.z_single[0] + delta / em.sigma) > em.crit[0]
        brute = []
        for j in range(n):
            d = pd.DataFrame(
                {
                    "unit": np.repeat(np.arange(n), len(years)),
                    "year": np.tile(years, n),
                    "num": num.ravel(),
                    "den": den.ravel(),
                }
            )
            d["y"] = d["num"] / d["den"] * 100
            d.loc[(d["unit"] == j) & (d["year"] == years[-1]), "y"] += delta
            r = did_one_treated(
                d,
                unit="unit",
                time="year",
                outcome="y",
                treated=j,
                pre=years[:n_pre],
                post=years[n_pre:],
                numerator="num",
                denominator="den",
                alpha=alpha,
            )
            brute.append(r.p_value <= alpha + 1e-12)
        assert closed.tolist() == brute
        assert power_at(delta, em.z_single[0], em.crit[0], em.sigma)[0] == pytest.approx(
            np.mean(brute)
        )


def test_programme_gaps_match_placebo_programme_did():
    rng = np.random.default_rng(5)
    num = rng.integers(10, 90, (40, 6)).astype(float)
    den = np.full((40, 6), 100.0)
    pool = [str(i) for i in range(40)]
    by_region = {"A": pool[:20], "B": pool[20:]}
    idx = placebo_programmes(by_region, {"A": 3, "B": 2}, pool, 99, 11)
    gap = programme_gaps(num, den, idx)
    did = gap[:, 4:].mean(1) - gap[:, :4].mean(1)
    np.testing.assert_allclose(did, placebo_programme_did(num, den, idx, 4))


def test_loo_critical_and_power_at():
    x = np.array([5.0, 1.0, 3.0, 4.0, 2.0])
    # 2nd largest among the others
    assert loo_critical(x, 2).tolist() == [3.0, 4.0, 4.0, 3.0, 4.0]
    assert np.isinf(loo_critical(x, 0)).all()
    # one draw, stat 0, crit 1: rejects |delta| > 1 only
    assert power_at([0.5, 1.0, 1.5, -1.5], 0.0, 1.0).tolist() == [0, 0, 1, 1]
    m = find_mde(np.zeros(10), np.ones(10), 2.0)
    assert m.mde == pytest.approx(2.0, abs=1e-3) and m.power_at_zero == 0


# ---- size, monotonicity, closed-form MDE ---------------------------------------------------------
def test_size_at_zero_is_alpha(gaussian):
    res, plan = gaussian
    area = rows(res, "per_area", "years", "observed").loc[1]
    prog = rows(res, "programme", "years", "observed").loc[1]
    j = area["n_units"]
    assert area["power_at_zero"] == pytest.approx(math.floor(0.05 * j) / j)
    assert prog["power_at_zero"] == pytest.approx(math.floor(0.05 * 999) / 999)
    assert 0.04 <= area["power_at_zero"] <= 0.05 and 0.04 <= prog["power_at_zero"] <= 0.05


def test_power_increases_with_delta(gaussian):
    res, _ = gaussian
    for design in ["per_area", "programme"]:
        curve = res.outcomes["timeliness_20wk_ex"][design]["observed"]["curve_increase"]
        p = [c["power"] for c in curve]
        assert p[0] <= 0.05 and p[-1] >= 0.95
        assert all(b >= a - 0.02 for a, b in zip(p[:-1], p[1:], strict=True))


def test_mde_matches_gaussian_closed_form(gaussian):
    """(z_0.975 + z_0.8) * sd(DiD): per area sd = sigma sqrt(1 + 1/T_pre) (the pooled comparison
    of 291 units adds ~0.3%), programme sd = sigma sqrt((1/8 + 1/(J-8)) (1 + 1/T_pre))."""
    res, plan = gaussian
    sigma, t_pre, n = 2.0, 40, 8
    j = 300 - n
    area = rows(res, "per_area", "years", "observed").loc[1, "mde"]
    prog = rows(res, "programme", "years", "observed").loc[1, "mde"]
    assert area == pytest.approx(Z * sigma * math.sqrt(1 + 1 / t_pre), rel=0.12)
    assert prog == pytest.approx(
        Z * sigma * math.sqrt((1 / n + 1 / (j - n)) * (1 + 1 / t_pre)), rel=0.12
    )
    # the bootstrap projection for k post years: sd = sigma sqrt(1/k + 1/T_pre)
    for k in (1, 4):
        a = rows(res, "per_area", "years", "bootstrap").loc[k, "mde"]
        p = rows(res, "programme", "years", "bootstrap").loc[k, "mde"]
        assert a == pytest.approx(Z * sigma * math.sqrt(1 / k + 1 / t_pre), rel=0.12)
        assert p == pytest.approx(
            Z * sigma * math.sqrt((1 / n + 1 / (j - n)) * (1 / k + 1 / t_pre)), rel=0.12
        )
    # pilots share the noise level, so their MDEs cluster around the design's
    s = res.outcomes["timeliness_20wk_ex"]["per_area"]["pilots"]["summary"]
    assert s["n"] == 8 and s["median"] == pytest.approx(area, rel=0.15)


def test_mde_shrinks_with_more_post_periods(gaussian):
    res, _ = gaussian
    for design in ["per_area", "programme"]:
        b = rows(res, design, "years", "bootstrap")["mde"]
        assert b.loc[4] < 0.75 * b.loc[1]


def test_monthly_projection_on_a_monthly_panel():
    panel, plan, frame = gaussian_panel(n_units=250, n_pre=24, n_post=24, sigma=3.0, monthly=True)
    res = power_analysis(panel, plan, monthly=frame, years=(1,), months=(1, 3, 12, 24))
    a = rows(res, "per_area", "months")["mde"]
    p = rows(res, "programme", "months")["mde"]
    assert a.is_monotonic_decreasing and p.is_monotonic_decreasing
    assert a.loc[24] < 0.5 * a.loc[1] and p.loc[24] < 0.5 * p.loc[1]
    assert a.loc[12] == pytest.approx(Z * 3.0 * math.sqrt(1 / 12 + 1 / 24), rel=0.2)
    pz = rows(res, "per_area", "months")["power_at_zero"]
    assert (pz <= 0.05).all() and (pz >= 0.04).all()
    assert res.outcomes["timeliness_20wk_ex"]["months"]["pre_months"] == 24


def test_deterministic_given_seed():
    panel, plan, _ = gaussian_panel(n_units=80, n_pre=6)
    one = power_analysis(panel, plan, monthly=False, years=(1, 2), draws=4000).to_json()
    two = power_analysis(panel, plan, monthly=False, years=(1, 2), draws=4000).to_json()
    other = power_analysis(panel, plan, seed=8, monthly=False, years=(1, 2), draws=4000).to_json()
    assert one == two and one != other


# ---- the real plan -----------------------------------------------------------------------------
def test_real_plan_cli_and_consistency_with_programme_did(tmp_path, panel, plan):
    out = tmp_path / "power.json"
    assert main(["power", "--out", str(out), "--no-monthly"]) == 0
    res = json.loads(out.read_text())
    assert out.with_suffix(".csv").exists() and (tmp_path / "power_pilots.csv").exists()
    table = pd.DataFrame(res["table"])
    assert set(table["outcome"]) == {"timeliness_20wk_ex"}
    assert set(table["design"]) == {"per_area", "programme"}
    assert (table["power_at_zero"] <= 0.05).all()
    for design in ["per_area", "programme"]:
        b = table[(table["design"] == design) & (table["basis"] == "bootstrap")]
        assert b["mde"].is_monotonic_decreasing
        # anchored: the projection for the plan's one post year is the observed design's MDE
        o = table[(table["design"] == design) & (table["basis"] == "observed")]
        assert b["mde"].iloc[0] == pytest.approx(o["mde"].iloc[0], rel=1e-9)
    detail = res["outcomes"]["timeliness_20wk_ex"]
    assert detail["per_area"]["pilots"]["summary"]["n"] == 32
    assert detail["minimum_important_difference"] == 5.0
    # the placebo programmes are programme_did's own (same seed, same draws)
    from evaluation.designs.area_sample import comparison_pool
    from evaluation.designs.pre_period import chosen_pre_period

    treated = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    r = programme_did(
        panel.units,
        treated=treated,
        pool=comparison_pool(panel, plan),
        region_of=panel.regions,
        outcome="timeliness_20wk_ex",
        numerator="plans_issued_20_weeks_ex",
        denominator="plans_issued_den_ex",
        pre=chosen_pre_period(panel, plan, "timeliness_20wk_ex").years,
        post=plan.post_years,
        permutations=999,
        seed=plan.seed,
        alpha=plan.alpha,
    )
    srt = np.sort(np.abs(r.distribution["estimate"].to_numpy()))[::-1]
    obs = detail["programme"]["observed"]
    assert obs["n_placebo_programmes"] == 999
    # same draws: the floor(0.05 * 999) = 49th largest |placebo DiD| of programme_did
    assert obs["critical_abs_did"] == pytest.approx(srt[48], rel=1e-12)


def test_overview_section(gaussian):
    from evaluation.report.overview import Overview
    from evaluation.report.overview_power import power_section

    res, plan = gaussian
    ov = Overview(plan, pd.DataFrame(), {}, pd.DataFrame(), [], power=res)
    html = power_section(ov)
    assert html.startswith("<h2>How big an effect could this design detect?</h2>")
    assert html.count("<caption>") == 2 and "<th scope='row'" in html and "<h3>" in html
    assert 'alt="Line chart of the minimum detectable effect' in html
    assert "not available" in power_section(Overview(plan, pd.DataFrame(), {}, pd.DataFrame(), []))


@pytest.mark.slow
def test_monthly_panel_generated_when_demo_data_absent(tmp_path, plan):
    """Without data/synthetic, the monthly noise model is generated from the plan's seed."""
    from dataclasses import replace

    from evaluation.designs.power_monthly import monthly_panel

    frame, source = monthly_panel(plan, tmp_path / "absent.csv")
    assert source.startswith("generated") and str(plan.seed) in source
    assert {"time_period", "time_identifier", "old_la_code", "plans_issued_den_ex"} <= set(frame)
    again, _ = monthly_panel(replace(plan), tmp_path / "absent.csv")
    pd.testing.assert_frame_equal(frame, again)
    from evaluation.designs.power_monthly import _generate_intended

    pd.testing.assert_frame_equal(frame, _generate_intended(plan))  # the cached counts


def test_generated_monthly_noise_model_is_cached_by_data_and_seed(tmp_path, plan, monkeypatch):
    """The overview reuses the generated counts on every render: one generation per data
    content and seed (an edited data file or another seed is a new entry).  That the cached
    counts are the generator's own is checked in the slow test above."""
    import shutil
    from dataclasses import replace

    from evaluation.designs import power_monthly

    made = []

    def fake(p):
        made.append((str(p.data_dir), p.seed))
        return pd.DataFrame({"seed": [p.seed]})

    monkeypatch.setattr(power_monthly, "_generate_intended", fake)
    monkeypatch.setattr("evaluation.panel.cache.CACHE_DIR", tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    data = tmp_path / "data"
    shutil.copytree(plan.data_dir, data)
    local = replace(plan, data_dir=data)
    first, _ = power_monthly.generated_monthly_panel(local)
    again, _ = power_monthly.generated_monthly_panel(local)
    assert len(made) == 1 and again.equals(first)
    power_monthly.generated_monthly_panel(replace(local, seed=plan.seed + 1))
    assert len(made) == 2
    guidance = data / "public" / "ehcp_2025_data-guidance.txt"
    guidance.write_text(guidance.read_text() + "\n")
    power_monthly.generated_monthly_panel(local)
    assert len(made) == 3
