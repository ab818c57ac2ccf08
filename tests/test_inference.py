"""Wild cluster bootstrap, randomisation inference and Conley-Taber.

Checks are against independent brute-force implementations written here (plain loops that
re-estimate on every bootstrap sample / re-assignment), hand-computed exact examples, and
Monte Carlo size/coverage.  No published boottest / fwildclusterboot number for a dataset held in
tests/data was found, so none is asserted.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.inference.conley_taber import conley_taber
from evaluation.inference.randomisation import randomisation_inference
from evaluation.inference.wild import bootstrap_weights, wild_cluster_bootstrap, wild_result
from evaluation.models.results import EstimationResult

# --------------------------------------------------------------------------------------------
# Wild cluster bootstrap
# --------------------------------------------------------------------------------------------


def _design(G=9, per=12, seed=1, beta0=0.3):
    rng = np.random.default_rng(seed)
    n = G * per
    g = np.repeat(np.arange(G), per)
    x = rng.normal(size=n) + 0.8 * rng.normal(size=G)[g]
    X = np.column_stack([x, rng.normal(size=n), np.ones(n)])
    y = X @ np.array([beta0, 1.0, 2.0]) + rng.normal(size=n) + rng.normal(size=G)[g]
    w = rng.uniform(0.5, 2.0, n)
    return y, X, g, w


def _brute_t(y, X, g, w, null, param=0):
    """WLS coefficient and CR1 t-statistic, computed from scratch."""
    XtW = X.T * w
    b = np.linalg.solve(XtW @ X, XtW @ y)
    u = y - X @ b
    bread = np.linalg.inv(XtW @ X)
    meat = np.zeros((X.shape[1], X.shape[1]))
    for c in np.unique(g):
        s = (X[g == c] * (w[g == c] * u[g == c])[:, None]).sum(axis=0)
        meat += np.outer(s, s)
    G, n, k = len(np.unique(g)), len(y), X.shape[1]
    V = G / (G - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    return (b[param] - null) / np.sqrt(V[param, param])


def _brute_pvalue(y, X, g, w, null, V, param=0):
    """Plain loop: restricted fit, y* = X_r b_r + u_r v_g, re-estimate, CR1 t, share |t*|>=|t|."""
    others = [j for j in range(X.shape[1]) if j != param]
    yr = y - null * X[:, param]
    Xo = X[:, others]
    br = np.linalg.solve((Xo.T * w) @ Xo, (Xo.T * w) @ yr)
    fitted = null * X[:, param] + Xo @ br
    ur = y - fitted
    t0 = _brute_t(y, X, g, w, null, param)
    ts = np.array(
        [_brute_t(fitted + ur * V[g, b], X, g, w, null, param) for b in range(V.shape[1])]
    )
    tol = 1e-10 * max(1.0, abs(t0))
    return float(np.mean(np.abs(ts) >= abs(t0) - tol)), ts


@pytest.mark.parametrize("dist", ["webb", "rademacher", "mammen"])
@pytest.mark.parametrize("null", [0.0, 0.25])
def test_wild_matches_brute_force(dist, null):
    y, X, g, w = _design()
    n_boot = 399
    res = wild_cluster_bootstrap(
        y,
        X,
        g,
        weights=w,
        null=null,
        n_boot=n_boot,
        weights_dist=dist,
        seed=3,
        ci=False,
        enumerate=False,
    )
    V, enumerated = bootstrap_weights(9, n_boot, dist, seed=3, enumerate=False)
    assert not enumerated
    p, ts = _brute_pvalue(y, X, g, w, null, V)
    assert res.p_value == pytest.approx(p, abs=1e-10)
    np.testing.assert_allclose(res.t_draws, ts, rtol=1e-9, atol=1e-9)
    assert res.t == pytest.approx(_brute_t(y, X, g, w, null), rel=1e-10)


def test_wild_single_regressor_after_fwl():
    """k = 1 (treatment column only, fixed effects partialled out) works and matches brute force."""
    y, X, g, w = _design(seed=5)
    Xd = X[:, :1] - np.average(X[:, :1], weights=w, axis=0)
    yd = y - np.average(y, weights=w)
    res = wild_cluster_bootstrap(yd, Xd, g, weights=w, n_boot=199, seed=1, ci=False)
    V, _ = bootstrap_weights(9, 199, "webb", seed=1)
    p, _ = _brute_pvalue(yd, Xd, g, w, 0.0, V)
    assert res.p_value == pytest.approx(p, abs=1e-10)


def test_rademacher_enumeration_exact():
    y, X, g, w = _design(seed=2)
    r1 = wild_cluster_bootstrap(y, X, g, weights=w, weights_dist="rademacher", seed=1)
    r2 = wild_cluster_bootstrap(y, X, g, weights=w, weights_dist="rademacher", seed=999)
    assert r1.enumerated and r1.n_boot == 2**9
    assert r1.p_value == r2.p_value
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    assert r1.p_value * 512 == pytest.approx(round(r1.p_value * 512), abs=1e-9)
    # The enumeration contains the all-ones draw, which reproduces the observed t.
    assert np.any(np.isclose(r1.t_draws, r1.t, rtol=1e-10))


@pytest.mark.parametrize("p_type", ["symmetric", "equal-tailed"])
def test_ci_endpoints_have_p_alpha(p_type):
    y, X, g, w = _design(seed=4)
    res = wild_cluster_bootstrap(y, X, g, weights=w, n_boot=1999, seed=7, p_type=p_type)
    assert res.ci_low < res.estimate < res.ci_high
    eps = 1e-6 * res.se_cr1
    for end, inward in ((res.ci_low, +1), (res.ci_high, -1)):
        assert res.p_value_fn(end + inward * eps) > res.alpha
        assert res.p_value_fn(end - inward * eps) <= res.alpha
        # Same draws for every null value: a fresh call at the endpoint gives p close to alpha.
        again = wild_cluster_bootstrap(
            y, X, g, weights=w, null=end, n_boot=1999, seed=7, p_type=p_type, ci=False
        )
        assert abs(again.p_value - res.alpha) <= 3 / 1999


def test_wild_is_fast():
    for G in (9, 150):
        y, X, g, w = _design(G=G, per=11, seed=G)
        t0 = time.perf_counter()
        wild_cluster_bootstrap(y, X, g, weights=w, n_boot=9999, seed=0)
        assert time.perf_counter() - t0 < 1.5  # typically < 0.1 s


def test_wild_result_wraps():
    y, X, g, w = _design()
    boot = wild_cluster_bootstrap(y, X, g, weights=w, n_boot=999)
    res = wild_result(
        boot, outcome="y", n_treated=3, n_comparison_units=6, pre_periods=[1], post_periods=[2]
    )
    assert isinstance(res, EstimationResult)
    assert res.p_value == boot.p_value and len(res.distribution) == 999
    assert res.to_dict()["se"] == pytest.approx(boot.se_cr1)


def _size_mc(reps, n_boot, seed):
    rng = np.random.default_rng(seed)
    G, per = 9, 10
    g = np.repeat(np.arange(G), per)
    rej = 0
    for r in range(reps):
        x = rng.normal(size=G * per) + rng.normal(size=G)[g]
        X = np.column_stack([x, np.ones(G * per)])
        y = 1.0 + rng.normal(size=G * per) + rng.normal(size=G)[g]  # true slope 0
        res = wild_cluster_bootstrap(y, X, g, n_boot=n_boot, seed=r, ci=False)
        rej += res.p_value <= 0.05
    return rej / reps


def test_wild_size_small_mc():
    rate = _size_mc(200, 399, seed=11)
    assert 0.01 <= rate <= 0.12


@pytest.mark.slow
def test_wild_size_mc():
    rate = _size_mc(4000, 999, seed=12)  # true rate in this design about 5.9% (G = 9)
    assert 0.03 <= rate <= 0.07


# --------------------------------------------------------------------------------------------
# Randomisation inference
# --------------------------------------------------------------------------------------------

Y4 = np.array([1.0, 2.0, 3.0, 10.0])


def _diff_means_many(y):
    def f(D):
        D = np.asarray(D, dtype=float)
        return (D @ y) / D.sum(axis=1) - ((1 - D) @ y) / (1 - D).sum(axis=1)

    return f


def test_ri_exact_hand_example():
    # Units a..d, y = 1, 2, 3, 10; treated {c, d}: T = 6.5 - 1.5 = 5.  All 6 assignments:
    # {ab} -5, {ac} -4, {ad} 3, {bc} -3, {bd} 4, {cd} 5  ->  p = 2/6.
    assign = pd.Series([0, 0, 1, 1], index=list("abcd"))
    res = randomisation_inference(None, assign, stat_fn_many=_diff_means_many(Y4))
    assert res.exact and res.n_assignments == 6
    assert res.statistic == pytest.approx(5.0)
    assert res.p_value == pytest.approx(2 / 6, abs=1e-12)
    assert sorted(np.round(res.distribution["statistic"], 10)) == [-5, -4, -3, 3, 4, 5]
    # Scalar stat_fn gives the same.
    res2 = randomisation_inference(
        lambda s: float(_diff_means_many(Y4)(s.to_numpy()[None, :])[0]), assign
    )
    assert res2.p_value == res.p_value


def test_ri_strata_hand_example():
    # Strata {a, b}, {c, d}, one treated in each; observed {b, d}: T = 6 - 2 = 4.
    # Assignments {ac} -4, {ad} 3, {bc} -3, {bd} 4  ->  p = 2/4.
    assign = pd.Series([0, 1, 0, 1], index=list("abcd"))
    strata = pd.Series(["A", "A", "B", "B"], index=list("abcd"))
    res = randomisation_inference(None, assign, strata=strata, stat_fn_many=_diff_means_many(Y4))
    assert res.n_possible == 4 and res.exact
    assert res.p_value == pytest.approx(0.5, abs=1e-12)
    # Every re-assignment keeps one treated unit per stratum.
    D = res.distribution[list("abcd")].to_numpy()
    assert (D[:, :2].sum(axis=1) == 1).all() and (D[:, 2:].sum(axis=1) == 1).all()


def test_ri_monte_carlo_formula_and_strata():
    rng = np.random.default_rng(0)
    n = 30
    y = rng.normal(size=n)
    idx = [f"u{i}" for i in range(n)]
    assign = pd.Series(rng.permutation([1] * 9 + [0] * 21), index=idx)
    strata = pd.Series(np.repeat(["N", "M", "S"], 10), index=idx)
    res = randomisation_inference(
        None, assign, strata=strata, stat_fn_many=_diff_means_many(y), n_perm=2000, seed=3
    )
    assert not res.exact and res.n_assignments == 2000
    T = res.distribution["statistic"].to_numpy()
    expect = (1 + np.sum(np.abs(T) >= abs(res.statistic) - 1e-10)) / 2001
    assert res.p_value == pytest.approx(expect)
    D = res.distribution[idx].to_numpy()
    for s in ("N", "M", "S"):
        cols = (strata == s).to_numpy()
        assert (D[:, cols].sum(axis=1) == assign[cols].sum()).all()


def test_ri_pvalues_uniform_under_null():
    rng = np.random.default_rng(1)
    n, ps = 16, []
    assign = pd.Series([1] * 6 + [0] * 10, index=range(n))
    for r in range(300):
        y = rng.standard_t(4, size=n)
        res = randomisation_inference(
            None,
            assign,
            stat_fn_many=_diff_means_many(y),
            n_perm=199,
            seed=r,
            enumerate_if_small=False,
        )
        ps.append(res.p_value)
    ps = np.array(ps)
    assert 0.01 <= np.mean(ps <= 0.05) <= 0.10
    assert stats.kstest(ps, "uniform").pvalue > 0.001


def test_ri_ci_by_inversion_matches_recomputation():
    rng = np.random.default_rng(2)
    n = 10
    y0 = rng.normal(size=n)
    d = np.array([1] * 4 + [0] * 6)
    y = y0 + 1.5 * d
    assign = pd.Series(d, index=range(n))
    stat = _diff_means_many(y)
    effect = _diff_means_many(d.astype(float))  # statistic of the observed exposure
    res = randomisation_inference(
        None, assign, stat_fn_many=stat, effect_fn_many=effect, n_perm=1000, alpha=0.1
    )
    assert res.exact and res.n_assignments == 210
    assert res.ci_low < res.statistic < res.ci_high

    def p_brute(tau):  # recompute the whole test on y - tau * d (sharp null)
        r = randomisation_inference(None, assign, stat_fn_many=_diff_means_many(y - tau * d))
        return r.p_value

    eps = 1e-7
    assert p_brute(res.ci_low + eps) > 0.1 >= p_brute(res.ci_low - eps)
    assert p_brute(res.ci_high - eps) > 0.1 >= p_brute(res.ci_high + eps)


# --------------------------------------------------------------------------------------------
# Conley-Taber
# --------------------------------------------------------------------------------------------


def _ct_panel(n1, n0, effect=1.0, seed=0, T_pre=3, T_post=2, sizes=None):
    rng = np.random.default_rng(seed)
    units = [f"T{i}" for i in range(n1)] + [f"C{i}" for i in range(n0)]
    years = list(range(T_pre + T_post))
    rows = []
    fe = rng.normal(size=len(units))
    te = rng.normal(size=len(years))
    for j, u in enumerate(units):
        scale = 1.0 if sizes is None else 1 / np.sqrt(sizes[j])
        for t in years:
            treated = u.startswith("T") and t >= T_pre
            rows.append(
                {
                    "unit": u,
                    "year": t,
                    "y": fe[j] + te[t] + effect * treated + scale * rng.normal(),
                    "w": 1.0 + (j % 3),
                    "size": 1.0 if sizes is None else sizes[j],
                }
            )
    return pd.DataFrame(rows), units[:n1], years[:T_pre], years[T_pre:]


def test_ct_estimate_equals_weighted_twfe():
    import statsmodels.formula.api as smf

    df, tr, pre, post = _ct_panel(3, 20, seed=1)
    res = conley_taber(
        df, unit="unit", time="year", outcome="y", treated_units=tr, pre=pre, post=post, weights="w"
    )
    df["D"] = (df["unit"].isin(tr) & df["year"].isin(post)).astype(float)
    fit = smf.wls("y ~ D + C(unit) + C(year)", data=df, weights=df["w"]).fit()
    assert res.estimate == pytest.approx(fit.params["D"], abs=1e-10)
    assert res.se is None and isinstance(res, EstimationResult)


@pytest.mark.parametrize("n1", [1, 2])
def test_ct_interval_matches_direct_enumeration(n1):
    df, tr, pre, post = _ct_panel(n1, 25, seed=3)
    res = conley_taber(
        df,
        unit="unit",
        time="year",
        outcome="y",
        treated_units=tr,
        pre=pre,
        post=post,
        alpha=0.1,
        control_noise=False,  # the original CT law, enumerable
    )
    assert res.diagnostics["exact_enumeration"]
    # Direct: unit changes, control residuals, all n0**n1 tuples of residuals.
    wide = df.pivot(index="unit", columns="year", values="y")
    change = wide[post].mean(axis=1) - wide[pre].mean(axis=1)
    ctrl = change.drop(tr)
    est = change[tr].mean() - ctrl.mean()
    e = (ctrl - ctrl.mean()).to_numpy()
    W = np.sort([np.mean(c) for c in itertools.product(e, repeat=n1)])
    B = len(W)
    m = int(np.floor(B * 0.05)) + 1
    assert res.estimate == pytest.approx(est, abs=1e-12)
    assert res.ci_low == pytest.approx(est - W[B - m], abs=1e-12)
    assert res.ci_high == pytest.approx(est - W[m - 1], abs=1e-12)
    p = min(1.0, 2 * min(np.mean(est >= W), np.mean(est <= W)))
    assert res.p_value == pytest.approx(p, abs=1e-12)


def test_ct_ferman_pinto_neutral_with_equal_sizes():
    df, tr, pre, post = _ct_panel(2, 30, seed=4)
    kw = dict(unit="unit", time="year", outcome="y", treated_units=tr, pre=pre, post=post)
    a = conley_taber(df, **kw)
    b = conley_taber(df, group_size="size", **kw)
    assert (a.ci_low, a.ci_high) == pytest.approx((b.ci_low, b.ci_high), abs=1e-10)


def test_ct_ferman_pinto_rescales_for_small_treated_groups():
    n1, n0 = 2, 60
    sizes = np.r_[np.full(n1, 2.0), np.linspace(2, 200, n0)]  # treated groups are small (noisy)
    df, tr, pre, post = _ct_panel(n1, n0, seed=5, sizes=sizes)
    kw = dict(unit="unit", time="year", outcome="y", treated_units=tr, pre=pre, post=post)
    plain = conley_taber(df, **kw)
    fp = conley_taber(df, group_size="size", **kw)
    assert fp.diagnostics["ferman_pinto"]["B"] > 0
    assert (fp.ci_high - fp.ci_low) > (plain.ci_high - plain.ci_low)


def _ct_coverage(reps, n1, n0, seed):
    hits = 0
    for r in range(reps):
        df, tr, pre, post = _ct_panel(n1, n0, effect=0.7, seed=seed + r)
        res = conley_taber(
            df,
            unit="unit",
            time="year",
            outcome="y",
            treated_units=tr,
            pre=pre,
            post=post,
            n_sim=2000,
            seed=r,
        )
        hits += res.ci_low <= 0.7 <= res.ci_high
    return hits / reps


def test_ct_coverage_small_mc():
    cov = _ct_coverage(120, 3, 60, seed=100)
    assert 0.86 <= cov <= 1.0


@pytest.mark.slow
def test_ct_coverage_mc():
    cov = _ct_coverage(1500, 3, 200, seed=1000)
    assert 0.93 <= cov <= 0.97


def test_wild_bootstrap_with_fixed_effects_equals_full_model_refits():
    """With year effects that cut across the clusters, ``fe=`` makes every bootstrap t equal to
    refitting the full two-way fixed-effects model (CR1, fixest K) on the bootstrap sample."""
    from evaluation.models.fe import demean
    from evaluation.models.twfe import twfe

    rng = np.random.default_rng(2)
    rows = []
    for i in range(24):
        for t in range(6):
            rows.append((i, t, i // 3, rng.normal() + 0.3 * t + (0.5 if i < 6 and t >= 4 else 0)))
    d = pd.DataFrame(rows, columns=["u", "t", "cl", "y"])
    d["ft"] = np.where(d["u"] < 6, 4, 0)
    d["w"] = rng.uniform(1, 3, len(d))
    base = twfe(d, unit="u", time="t", outcome="y", first_treated="ft", weights="w", cluster="cl")
    fit, data = base.extra["fit"], base.extra["data"]
    boot = wild_cluster_bootstrap(
        fit.y,
        fit.X,
        data["cl"].to_numpy(),
        weights=fit.weights,
        n_boot=50,
        seed=4,
        ci=False,
        small_sample=fit.cr1_factor,
        fe=fit.fe,
        enumerate=False,
    )
    codes, uniq = pd.factorize(data["cl"], sort=True)
    V, _ = bootstrap_weights(len(uniq), 50, "webb", 4, False)
    y = data["y"].to_numpy(float)
    u_r = demean(y, fit.fe, fit.weights)[:, 0]  # restricted (no treatment) residuals
    for b in range(50):
        r = twfe(
            data.assign(_y=y - u_r + u_r * V[codes, b]),
            unit="u",
            time="t",
            outcome="_y",
            first_treated="ft",
            weights="w",
            cluster="cl",
        )
        assert boot.t_draws[b] == pytest.approx(r.estimate / r.se, rel=1e-8, abs=1e-10)
