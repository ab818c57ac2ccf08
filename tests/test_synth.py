"""Synthetic control and synthetic DiD: Arkhangelsky et al. (2021) Table 1 (R synthdid 0.0.9),
an independent solver (scipy SLSQP), brute-force test inversion and structural properties."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from evaluation.models.synthetic_common import frank_wolfe as _frank_wolfe
from evaluation.models.synthetic_common import simplex_least_squares
from evaluation.models.synthetic_control import synthetic_control
from evaluation.models.synthetic_did import synthetic_did

from .conftest import ROOT

PRE, POST = list(range(1970, 1989)), list(range(1989, 2001))


@pytest.fixture(scope="module")
def prop99():
    return pd.read_csv(ROOT / "tests" / "data" / "california_prop99.csv")


def kw(**extra):
    base = dict(
        unit="State",
        time="Year",
        outcome="PacksPerCapita",
        treated="California",
        pre=PRE,
        post=POST,
    )
    return {**base, **extra}


@pytest.fixture(scope="module")
def sdid(prop99):
    return synthetic_did(prop99, **kw())


@pytest.fixture(scope="module")
def sc_fw(prop99):
    return synthetic_did(prop99, **kw(method="sc"))


@pytest.fixture(scope="module")
def sc(prop99):
    return synthetic_control(prop99, **kw())


def test_table1_sdid(sdid):
    assert abs(sdid.estimate - (-15.60383)) < 1e-3
    # R vignette: effective N0 16.4, effective T0 2.8 and the largest unit weights.
    assert abs(sdid.diagnostics["effective_n0"] - 16.4) < 0.05
    assert abs(sdid.diagnostics["effective_t0"] - 2.8) < 0.05
    w = sdid.extra["weights"].set_index("unit")["weight"]
    published = {
        "Nevada": 0.124,
        "New Hampshire": 0.105,
        "Connecticut": 0.078,
        "Delaware": 0.070,
        "Colorado": 0.058,
        "Illinois": 0.053,
        "Nebraska": 0.048,
        "Montana": 0.045,
        "Utah": 0.042,
        "New Mexico": 0.041,
    }
    for state, value in published.items():
        assert abs(w[state] - value) < 1e-3, state


def test_table1_sc_and_did(prop99, sc_fw):
    r_sc = sc_fw
    r_did = synthetic_did(prop99, **kw(method="did"))
    assert abs(r_sc.estimate - (-19.61966)) < 1e-3
    assert abs(r_did.estimate - (-27.349111)) < 1e-6  # -27.34911 printed to 5 dp
    # DiD = 2x2 difference of means (independent computation).
    y = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    ca, co = y.loc["California"], y.drop("California").mean()
    assert abs(r_did.estimate - ((ca[POST] - co[POST]).mean() - (ca[PRE] - co[PRE]).mean())) < 1e-9


def test_weights_are_on_the_simplex_and_p_values_valid(sdid, sc):
    for r in (sdid, sc):
        w = r.extra["weights"]["weight"].to_numpy()
        assert (w >= 0).all() and abs(w.sum() - 1) < 1e-12
        assert 0 < r.p_value <= 1
        assert 0 < r.diagnostics.get("p_value_rank", r.p_value) <= 1
        assert r.n_treated == 1 and r.n_comparison_units == 38
    lam = sdid.extra["time_weights"]["weight"].to_numpy()
    assert (lam >= 0).all() and abs(lam.sum() - 1) < 1e-12
    assert sc.se is None and sdid.se is not None and sdid.se > 0
    # California's placebo rank: the smallest attainable p-values (1/39 .. 3/39) in the paper.
    assert sdid.diagnostics["p_value_rank"] <= 3 / 39 + 1e-12
    assert sc.diagnostics["p_value_rmspe_ratio"] <= 3 / 39 + 1e-12


def test_paths_reproduce_the_estimate(sdid, sc):
    for r in (sdid, sc):
        paths = r.extra["paths"]
        assert list(paths.columns) == ["time", "treated", "synthetic", "gap"]
        assert len(paths) == len(PRE) + len(POST)
        post = paths[paths["time"].isin(POST)]
        assert abs(post["gap"].mean() - r.estimate) < 1e-9
        assert np.allclose(paths["gap"], paths["treated"] - paths["synthetic"])
    # SDID intercept: the time-weighted pre-period gap is zero.
    lam = sdid.extra["time_weights"]["weight"].to_numpy()
    pre_gap = sdid.extra["paths"]["gap"].to_numpy()[: len(PRE)]
    assert abs(lam @ pre_gap) < 1e-9


def test_sc_weights_match_an_independent_solver(prop99, sc):
    """Exact active-set solution vs scipy SLSQP on the same problem; no simplex point fits the
    pre-period better (so also better than ADH's published weights: RMSPE 1.758)."""
    y = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    donors = sorted(u for u in y.index if u != "California")
    a, b = y.loc[donors, PRE].to_numpy().T, y.loc["California", PRE].to_numpy()
    res = optimize.minimize(
        lambda w: np.mean((b - a @ w) ** 2) / 100,
        np.full(len(donors), 1 / len(donors)),
        jac=lambda w: -2 * a.T @ (b - a @ w) / len(b) / 100,
        method="SLSQP",
        bounds=[(0, 1)] * len(donors),
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    w = sc.extra["weights"].set_index("unit")["weight"].reindex(donors).to_numpy()
    assert res.success
    assert np.mean((b - a @ w) ** 2) / 100 <= res.fun + 1e-10
    assert np.abs(w - res.x).max() < 1e-3
    assert sc.diagnostics["pre_rmspe"] <= 1.758
    assert abs(sc.diagnostics["pre_rmspe"] - math.sqrt(res.fun * 100)) < 1e-4


def test_exact_sc_objective_is_not_worse_than_frank_wolfe(sc, sc_fw):
    fw = sc_fw
    paths_fw = fw.extra["paths"].iloc[: len(PRE)]
    assert sc.diagnostics["pre_rmspe"] <= np.sqrt(np.mean(paths_fw["gap"] ** 2)) + 1e-12
    assert abs(sc.estimate - fw.estimate) < 0.2  # same target, FW stops early


def test_simplex_solver_kkt_on_random_problems():
    rng = np.random.default_rng(4)
    for n, p in [(5, 40), (20, 8), (4, 150)]:
        a, b = rng.normal(size=(n, p)), rng.normal(size=n) * 2
        w = simplex_least_squares(a, b)
        assert (w >= 0).all() and abs(w.sum() - 1) < 1e-12
        g = a.T @ (a @ w - b)
        nu = w @ g
        assert (g - nu >= -1e-8).all()  # KKT: no descent direction on the simplex
        assert np.abs(g[w > 1e-10] - nu).max() < 1e-8


def test_batched_frank_wolfe_equals_separate_runs():
    rng = np.random.default_rng(2)
    n, p, k = 6, 12, 5
    a = rng.normal(size=(n, p))
    b = rng.normal(size=(k, n))
    allowed = rng.random((k, p)) > 0.2
    x0 = np.where(allowed, 1.0, 0.0)
    x0 /= x0.sum(axis=1, keepdims=True)
    z2, md = np.full(k, 0.3), np.full(k, 1e-4)
    xb, itb = _frank_wolfe(a, None, None, b, allowed, x0, z2, md, 500)
    for j in range(k):
        xs, its = _frank_wolfe(a, None, None, b[[j]], allowed[[j]], x0[[j]], z2[[j]], md[[j]], 500)
        assert its[0] == itb[j]
        assert np.allclose(xs[0], xb[j], atol=1e-10)
    assert (xb[~allowed] == 0).all()


def test_sc_test_inversion_matches_brute_force(prop99, sc):
    """Shift California's post-period outcomes by delta and rerun the whole test."""
    lo, hi = sc.ci_low, sc.ci_high
    assert lo < sc.estimate < hi
    for delta, inside in [
        (lo + 1e-6, True),
        (hi - 1e-6, True),
        (lo - 1e-3, False),
        (hi + 1e-3, False),
    ]:
        d = prop99.copy()
        m = (d["State"] == "California") & d["Year"].isin(POST)
        d.loc[m, "PacksPerCapita"] -= delta
        r = synthetic_control(d, **kw())
        assert abs(r.estimate - (sc.estimate - delta)) < 1e-9
        assert (r.p_value > sc.alpha) is inside, delta


def test_rmspe_ratio_interval_is_consistent(sc):
    lo, hi = sc.diagnostics["interval_rmspe_ratio"]
    if math.isfinite(lo):
        assert lo <= sc.estimate <= hi


def test_sdid_rank_inference_and_placebo_se(prop99, sdid):
    dist = sdid.distribution
    assert dist["is_treated"].sum() == 1 and len(dist) == 39
    # n_reps=None: every donor once; SE = population SD of the placebo estimates.
    se_all = float(np.std(dist.loc[~dist["is_treated"], "estimate"], ddof=0))
    assert abs(sdid.se - se_all) < 1e-12
    assert abs(sdid.ci_high - sdid.estimate - 1.959964 * sdid.se) < 1e-5
    # The package's random draws: reproducible with the seed, close to the enumeration.
    r1 = synthetic_did(prop99, **kw(n_reps=100, seed=123))
    r2 = synthetic_did(prop99, **kw(n_reps=100, seed=123))
    assert r1.se == r2.se and abs(r1.se - se_all) < 0.3 * se_all
    rr = synthetic_did(prop99, **kw(inference="rank"))
    assert rr.se is None and rr.p_value == sdid.diagnostics["p_value_rank"]
    assert rr.ci_low < rr.estimate < rr.ci_high
    # Shifting California's post outcomes moves only tau: just outside the interval, rejected.
    d = prop99.copy()
    m = (d["State"] == "California") & d["Year"].isin(POST)
    d.loc[m, "PacksPerCapita"] -= rr.ci_high + 1e-3
    shifted = synthetic_did(d, **kw(inference="rank"))
    assert abs(shifted.estimate - (rr.estimate - rr.ci_high - 1e-3)) < 1e-6
    assert shifted.p_value <= rr.alpha


def test_block_of_treated_units(prop99):
    block = ["California", "Nevada", "Utah"]
    did = synthetic_did(prop99, **kw(treated=block, method="did", n_reps=20))
    y = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    tr, co = y.loc[block].mean(), y.drop(block).mean()
    assert abs(did.estimate - ((tr[POST] - co[POST]).mean() - (tr[PRE] - co[PRE]).mean())) < 1e-9
    r = synthetic_did(prop99, **kw(treated=block, n_reps=20, seed=1))
    assert r.n_treated == 3 and r.n_comparison_units == 36 and len(r.distribution) == 21
    assert r.se > 0 and 0 < r.diagnostics["p_value_rank"] <= 1
    # SC on a block = SC on the block's average path.
    avg = y.loc[block].mean().rename("AVG").reset_index().assign(State="AVG")
    avg = avg.rename(columns={"AVG": "PacksPerCapita"})
    rest = prop99[~prop99["State"].isin(block)]
    r_avg = synthetic_control(pd.concat([rest, avg]), **kw(treated="AVG"))
    r_blk = synthetic_control(prop99, **kw(treated=block, n_reps=20))
    assert abs(r_avg.estimate - r_blk.estimate) < 1e-9


def test_recovers_a_known_effect_on_a_factor_panel():
    rng = np.random.default_rng(11)
    n, years = 60, list(range(2010, 2021))
    load = rng.normal(0, 1, (n, 2))
    fac = np.cumsum(rng.normal(0, 1, (len(years), 2)), axis=0)
    y = 50 + rng.normal(0, 5, (n, 1)) + load @ fac.T + rng.normal(0, 0.5, (n, len(years)))
    y[0, -3:] += 6.0
    data = pd.DataFrame(
        [(f"U{i:02d}", t, y[i, k]) for i in range(n) for k, t in enumerate(years)],
        columns=["u", "t", "y"],
    )
    args = dict(unit="u", time="t", outcome="y", treated="U00", pre=years[:-3], post=years[-3:])
    r = synthetic_did(data, **args)
    assert abs(r.estimate - 6.0) < 2.0 and r.ci_low < 6.0 < r.ci_high
    assert r.distribution.shape[0] == n


def test_donor_restriction_and_missing_data(prop99):
    d = prop99.copy()
    d.loc[(d["State"] == "Utah") & (d["Year"] == 1975), "PacksPerCapita"] = np.nan
    r = synthetic_control(d, **kw())
    assert "Utah" in r.diagnostics["excluded_units"] and r.n_comparison_units == 37
    pool = ["Nevada", "Utah", "Colorado", "Montana", "Connecticut", "Idaho"]
    r2 = synthetic_control(prop99, **kw(donors=pool))
    assert set(r2.extra["weights"]["unit"]) == set(pool) and r2.diagnostics["n_placebos"] == 6
    with pytest.raises(ValueError):
        synthetic_did(prop99, **kw(treated="Atlantis"))


def test_shared_placebo_cache_is_keyed_by_the_donors_data(prop99):
    """Two outcomes with the same donors must not share placebo fits; a repeated call reuses
    them and gives the same answer as a fresh fit that starts from the same (uniform) point."""
    other = prop99.assign(PacksPerCapita=np.log(prop99["PacksPerCapita"]))
    cache: dict = {}
    a1 = synthetic_did(prop99, **kw(inference="rank", placebo_cache=cache))
    b1 = synthetic_did(other, **kw(inference="rank", placebo_cache=cache))
    assert len(cache) == 2
    a2 = synthetic_did(prop99, **kw(inference="rank", placebo_cache=cache))
    b2 = synthetic_did(other, **kw(inference="rank", placebo_cache={}))
    assert (a1.p_value, a1.ci_low, a1.ci_high) == (a2.p_value, a2.ci_low, a2.ci_high)
    assert (b1.p_value, b1.ci_low) == pytest.approx((b2.p_value, b2.ci_low), abs=1e-12)


def test_sc_shared_placebos_give_exactly_the_unshared_result(prop99, sc):
    """The synthetic control's placebo fits never involve the treated unit: a second treated
    unit against the same donors reuses them, and every number equals a fit without sharing;
    another outcome (same donors, different data) does not reuse them."""
    donors = [s for s in prop99["State"].unique() if s not in {"California", "Utah"}]
    cache: dict = {}
    a = synthetic_control(prop99, **kw(donors=donors, placebo_cache=cache))
    b = synthetic_control(prop99, **kw(treated="Utah", donors=donors, placebo_cache=cache))
    assert len(cache) == 1
    b_fresh = synthetic_control(prop99, **kw(treated="Utah", donors=donors))
    a_fresh = synthetic_control(prop99, **kw(donors=donors))
    for shared, fresh in [(a, a_fresh), (b, b_fresh)]:
        assert (shared.estimate, shared.ci_low, shared.ci_high, shared.p_value) == (
            fresh.estimate,
            fresh.ci_low,
            fresh.ci_high,
            fresh.p_value,
        )
        pd.testing.assert_frame_equal(shared.distribution, fresh.distribution)
    logged = prop99.assign(PacksPerCapita=np.log(prop99["PacksPerCapita"]))
    synthetic_control(logged, **kw(donors=donors, placebo_cache=cache))
    assert len(cache) == 2


def test_batched_prefit_equals_separate_treated_fits(prop99):
    """make reports fits every pilot against the same donors in one batch: the estimates must
    be exactly those of separate fits."""
    from evaluation.models.synthetic_did import synthetic_did_prefit

    treated = ["California", "Utah", "Nevada"]
    donors = [s for s in prop99["State"].unique() if s not in treated]
    cache: dict = {}
    n = synthetic_did_prefit(
        prop99,
        unit="State",
        time="Year",
        outcome="PacksPerCapita",
        treated_units=treated,
        pre=PRE,
        post=POST,
        donors=donors,
        cache=cache,
    )
    assert n == 3
    for t in treated:
        common = kw(treated=t, donors=donors, inference="rank")
        a = synthetic_did(prop99, **common, treated_cache=cache)
        b = synthetic_did(prop99, **common)
        assert a.estimate == pytest.approx(b.estimate, abs=1e-10)
        assert a.p_value == b.p_value
