"""Staggered-adoption DiD: Callaway-Sant'Anna, Gardner two-stage / BJS imputation, Sun-Abraham.

Published targets (see tests/data/*_SOURCE.md): R did 2.5.1 on mpdta, R did2s on df_het,
fixest sunab on base_stagg.  Plus independent re-implementations on small simulated panels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.models.callaway_santanna import aggregate, callaway_santanna
from evaluation.models.fe import FixedEffects, absorb
from evaluation.models.imputation_did import imputation_did
from evaluation.models.sun_abraham import sun_abraham

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(DATA / "mpdta.csv")


@pytest.fixture(scope="module")
def cs(mpdta):
    return callaway_santanna(
        mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat"
    )


def _att(res, g, t):
    a = res.extra["att_gt"]
    return float(a.loc[(a.g == g) & (a.t == t), "att"].iloc[0])


# ----------------------------------------------------------------------------- fixed effects
def _dense_resid(Y, codes, w):
    D = np.column_stack([np.eye(c.max() + 1)[c] for c in codes])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(D * sw[:, None], Y * sw[:, None], rcond=None)[0]
    return Y - D @ beta


@pytest.mark.parametrize("k", [1, 2, 3])
def test_absorb_matches_dummy_regression(k):
    rng = np.random.default_rng(3)
    n = 300
    codes = [rng.integers(0, 40, n), rng.integers(0, 7, n), rng.integers(0, 4, n)][:k]
    Y = rng.normal(size=(n, 2))
    w = rng.uniform(0.5, 2.0, n)
    fe = FixedEffects(codes, w)
    np.testing.assert_allclose(fe.absorb(Y), _dense_resid(Y, codes, w), atol=1e-9)
    np.testing.assert_allclose(absorb(Y, codes, w), _dense_resid(Y, codes, w), atol=1e-9)


# ----------------------------------------------------------------------------- Callaway-Sant'Anna
def test_cs_att_gt_matches_did(cs):
    assert _att(cs, 2004, 2004) == pytest.approx(-0.0105, abs=5e-5)
    assert _att(cs, 2004, 2006) == pytest.approx(-0.1373, abs=5e-5)
    assert _att(cs, 2007, 2007) == pytest.approx(-0.0261, abs=5e-5)
    # the whole published table (4 dp)
    table = {
        2004: [-0.0105, -0.0704, -0.1373, -0.1008],
        2006: [0.0065, -0.0028, -0.0046, -0.0412],
        2007: [0.0305, -0.0027, -0.0311, -0.0261],
    }
    for g, vals in table.items():
        for t, v in zip(range(2004, 2008), vals, strict=True):
            assert _att(cs, g, t) == pytest.approx(v, abs=5e-5)
    # Wald pre-test of parallel trends: p = 0.16812
    assert cs.diagnostics["pre_test"]["p_value"] == pytest.approx(0.16812, abs=5e-6)


def test_cs_aggregations_match_aggte(cs):
    aggs = cs.extra["aggregations"]
    targets = {  # kind: (estimate, published bootstrap SE)
        "simple": (-0.0400, 0.0119),
        "dynamic": (-0.0772, 0.0208),
        "group": (-0.0310, 0.0126),
        "calendar": (-0.0417, 0.0175),
    }
    for kind, (est, se) in targets.items():
        row = aggs[kind].loc["overall"]
        assert row["estimate"] == pytest.approx(est, abs=5e-5), kind
        # analytic influence-function SE (includes the weight-estimation term) within 10%
        assert row["se_analytic"] == pytest.approx(se, rel=0.10), kind
    assert cs.estimate == pytest.approx(-0.0400, abs=5e-5)
    assert cs.se == pytest.approx(0.0119, rel=0.10)
    # components
    dyn = aggs["dynamic"]["estimate"]
    for e, v in zip(
        range(-3, 4), [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008], strict=True
    ):
        assert dyn[f"e={e}"] == pytest.approx(v, abs=5e-5)
    grp = aggs["group"]["estimate"]
    for g, v in {2004: -0.0797, 2006: -0.0229, 2007: -0.0261}.items():
        assert grp[f"g={g}"] == pytest.approx(v, abs=5e-5)
    cal = aggs["calendar"]["estimate"]
    for t, v in {2004: -0.0105, 2005: -0.0704, 2006: -0.0488, 2007: -0.0371}.items():
        assert cal[f"t={t}"] == pytest.approx(v, abs=5e-5)
    terms = cs.terms
    assert list(terms.index) == [f"e={e}" for e in range(-3, 4)]


def test_cs_balanced_event_time(cs):
    # did-basics vignette: aggte(type = "dynamic", balance_e = 1): -0.0288 (0.0135)
    dyn = aggregate(cs, "dynamic", balance_e=1)
    assert dyn.loc["overall", "estimate"] == pytest.approx(-0.0288, abs=5e-5)
    assert dyn.loc["overall", "se_analytic"] == pytest.approx(0.0135, rel=0.10)
    for e, v in zip(range(-2, 2), [0.0065, -0.0028, -0.0066, -0.0510], strict=True):
        assert dyn.loc[f"e={e}", "estimate"] == pytest.approx(v, abs=5e-5)


def test_cs_bootstrap_properties(mpdta, cs):
    # bootstrap SEs agree with the analytic ones; same seed -> same draws
    a = cs.extra["att_gt"]
    ratio = a["se_bootstrap"] / a["se_analytic"]
    assert ratio.between(0.85, 1.15).all()
    again = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        n_boot=199,
        seed=7,
    )
    same = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        n_boot=199,
        seed=7,
    )
    assert again.se == same.se
    # analytic inference and clustering on the unit column itself change nothing
    an = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        inference="analytic",
        cluster="countyreal",
        n_boot=0,
    )
    assert an.se == pytest.approx(cs.diagnostics["se_analytic"], rel=1e-12)
    assert an.estimate == pytest.approx(cs.estimate, abs=1e-14)


def test_cs_uniform_band_wider(mpdta):
    res = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        cband=True,
        n_boot=499,
    )
    a = res.extra["att_gt"]
    assert (a["cband_high"] - a["cband_low"] > a["ci_high"] - a["ci_low"]).all()


def test_cs_not_yet_treated(mpdta):
    res = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        control="notyet",
        n_boot=0,
    )
    # independent 2x2 computation: ATT(2004, 2005) vs units not yet treated in 2005 (2006, 2007, never)
    w = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = w[2005] - w[2003]
    expect = dy[g == 2004].mean() - dy[g.isin([0, 2006, 2007])].mean()
    assert _att(res, 2004, 2005) == pytest.approx(expect, abs=1e-12)
    # pre-period cell ATT(2007, 2005) (base 2004): controls = never + cohort 2006
    dy = w[2005] - w[2004]
    expect = dy[g == 2007].mean() - dy[g.isin([0, 2006])].mean()
    assert _att(res, 2007, 2005) == pytest.approx(expect, abs=1e-12)
    # in 2007 only never-treated units are not yet treated -> same as control="never"
    never = callaway_santanna(
        mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat", n_boot=0
    )
    for gg in (2004, 2006, 2007):
        assert _att(res, gg, 2007) == pytest.approx(_att(never, gg, 2007), abs=1e-14)
    # one treated cohort: never == notyet
    one = mpdta[mpdta["first.treat"].isin([0, 2006])]
    kw = dict(unit="countyreal", time="year", outcome="lemp", first_treated="first.treat", n_boot=0)
    a = callaway_santanna(one, control="never", **kw).extra["att_gt"]
    b = callaway_santanna(one, control="notyet", **kw).extra["att_gt"]
    np.testing.assert_allclose(a["att"], b["att"], atol=1e-14)
    np.testing.assert_allclose(a["se"], b["se"], atol=1e-14)


def test_cs_universal_base(mpdta, cs):
    res = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        base_period="universal",
        n_boot=0,
    )
    assert _att(res, 2006, 2005) == 0.0
    for g, t in [(2004, 2005), (2006, 2007), (2007, 2007)]:  # post cells unchanged
        assert _att(res, g, t) == pytest.approx(_att(cs, g, t), abs=1e-14)


def test_cs_weighted_cell_is_weighted_2x2(mpdta):
    w_unit = pd.Series(
        np.random.default_rng(2).uniform(0.5, 2.0, 500), index=mpdta.countyreal.unique()
    )
    df = mpdta.assign(w=mpdta.countyreal.map(w_unit))
    kw = dict(unit="countyreal", time="year", outcome="lemp", first_treated="first.treat", n_boot=0)
    res = callaway_santanna(df, weights="w", **kw)
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    g = df.groupby("countyreal")["first.treat"].first()
    dy = wide[2006] - wide[2003]

    def wmean(mask):
        return np.average(dy[mask], weights=w_unit[mask.index[mask]])

    assert _att(res, 2004, 2006) == pytest.approx(wmean(g == 2004) - wmean(g == 0), abs=1e-12)
    # constant weights change nothing
    same = callaway_santanna(df.assign(w=3.0), weights="w", **kw)
    assert same.estimate == pytest.approx(callaway_santanna(df, **kw).estimate, abs=1e-14)


def test_cs_rejects_unbalanced(mpdta):
    with pytest.raises(ValueError, match="balanced"):
        callaway_santanna(
            mpdta.iloc[1:],
            unit="countyreal",
            time="year",
            outcome="lemp",
            first_treated="first.treat",
        )


# ----------------------------------------------------------------------------- Gardner / BJS
def _sim_panel(seed=0, n_units=40, periods=range(1, 9)):
    rng = np.random.default_rng(seed)
    cohorts = rng.choice([0, 4, 6, 7], size=n_units)
    rows = []
    for i in range(n_units):
        a_i = rng.normal()
        for t in periods:
            if rng.random() < 0.08:  # unbalanced
                continue
            d = cohorts[i] > 0 and t >= cohorts[i]
            eff = (1.0 + 0.3 * (t - cohorts[i])) * d
            rows.append((i, t, cohorts[i], a_i + 0.2 * t + eff + rng.normal(scale=0.5), i % 8))
    return pd.DataFrame(rows, columns=["id", "t", "g", "y", "cl"])


def test_imputation_equals_bjs():
    df = _sim_panel()
    res = imputation_did(df, unit="id", time="t", outcome="y", first_treated="g", event_study=True)
    # direct BJS: OLS of y on unit + period dummies over untreated obs, impute Y(0), average
    d = (df.g > 0) & (df.t >= df.g)
    U = pd.get_dummies(df.id).to_numpy(float)
    T = pd.get_dummies(df.t).to_numpy(float)[:, 1:]
    X = np.column_stack([U, T])
    beta = np.linalg.lstsq(X[~d], df.y[~d], rcond=None)[0]
    tau = (df.y - X @ beta)[d]
    assert res.estimate == pytest.approx(tau.mean(), abs=1e-10)
    e = (df.t - df.g)[d]
    for k, v in tau.groupby(e).mean().items():
        assert res.terms.loc[f"e={k}", "estimate"] == pytest.approx(v, abs=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_imputation_gmm_se_matches_dense_formula(weighted):
    """Explicit dense-dummy version of the did2s GMM variance (WLS = OLS on sqrt(w)-scaled rows)."""
    df = _sim_panel(seed=1)
    df["w"] = np.random.default_rng(5).uniform(0.5, 2.0, len(df)) if weighted else 1.0
    res = imputation_did(
        df, unit="id", time="t", outcome="y", first_treated="g", cluster="cl", weights="w"
    )
    sw = np.sqrt(df.w.to_numpy())
    d = ((df.g > 0) & (df.t >= df.g)).to_numpy()
    X1 = sw[:, None] * np.column_stack(
        [pd.get_dummies(df.id).to_numpy(float), pd.get_dummies(df.t).to_numpy(float)[:, 1:]]
    )
    X10 = X1 * (~d)[:, None]
    X2 = sw[:, None] * d[:, None].astype(float)
    y = sw * df.y.to_numpy()
    g1 = np.linalg.lstsq(X10, y * ~d, rcond=None)[0]
    u1 = y - X1 @ g1
    b = np.linalg.solve(X2.T @ X2, X2.T @ u1)
    u2 = u1 - X2 @ b
    V = np.linalg.solve(X10.T @ X10, X1.T @ X2).T  # (X2'X1)(X10'X10)^-1
    meat = np.zeros((1, 1))
    for c in np.unique(df.cl):
        m = (df.cl == c).to_numpy()
        s = X2[m].T @ u2[m] - V @ (X10[m].T @ u1[m])
        meat += np.outer(s, s)
    bread = np.linalg.inv(X2.T @ X2)
    se = np.sqrt((bread @ meat @ bread)[0, 0])
    assert res.estimate == pytest.approx(b[0], abs=1e-10)
    assert res.se == pytest.approx(se, rel=1e-8)


def test_did2s_df_het():
    df = pd.read_csv(DATA / "df_het.csv.gz")
    res = imputation_did(
        df,
        unit="unit",
        time="year",
        outcome="dep_var",
        first_treated="g",
        cluster="state",
        first_stage_fe=("state", "year"),
    )
    assert res.estimate == pytest.approx(2.152215, abs=1e-6)
    assert res.se == pytest.approx(0.0476, abs=5e-4)
    assert res.diagnostics["n_obs"] == 46_500


def test_imputation_rejects_always_treated():
    df = _sim_panel()
    df.loc[df.id == 0, "g"] = 1
    with pytest.raises(ValueError, match="untreated"):
        imputation_did(df, unit="id", time="t", outcome="y", first_treated="g")


# ----------------------------------------------------------------------------- Sun-Abraham
def test_sunab_base_stagg():
    df = pd.read_csv(DATA / "base_stagg.csv")
    res = sun_abraham(
        df, unit="id", time="year", outcome="y", cohort="year_treated", covariates=["x1"]
    )
    assert res.estimate == pytest.approx(-1.133749, abs=1e-6)
    assert res.se == pytest.approx(0.205070, abs=1e-4)
    coef = res.extra["coefficients"]
    assert coef.loc["x1", "estimate"] == pytest.approx(0.994678, abs=1e-6)
    assert coef.loc["x1", "se"] == pytest.approx(0.018378, abs=1e-4)
    for name, est, se in [
        ("g=10,e=-9", 0.3518, 0.3591),
        ("g=9,e=-8", 0.0339, 0.4714),
        ("g=10,e=-8", -0.1919, 0.3529),
        ("g=8,e=-7", -0.5894, 0.7369),
        ("g=7,e=-6", -0.0421, 0.8657),
        ("g=5,e=-4", -0.9835, 0.6345),
    ]:
        assert coef.loc[name, "estimate"] == pytest.approx(est, abs=5e-5)
        assert coef.loc[name, "se"] == pytest.approx(se, abs=5e-5)
    # event-time term with a single cohort equals that cohort's coefficient
    assert res.terms.loc["e=-9", "estimate"] == pytest.approx(coef.loc["g=10,e=-9", "estimate"])


def test_sunab_equals_dummy_ols():
    df = _sim_panel(seed=2)
    res = sun_abraham(df, unit="id", time="t", outcome="y", cohort="g")
    never = df.g == 0
    rel = df.t - df.g
    cells = sorted({(g, e) for g, e in zip(df.g[~never], rel[~never], strict=True) if e != -1})
    C = np.column_stack([((df.g == g) & (rel == e) & ~never).to_numpy(float) for g, e in cells])
    X = np.column_stack(
        [C, pd.get_dummies(df.id).to_numpy(float), pd.get_dummies(df.t).to_numpy(float)[:, 1:]]
    )
    beta = np.linalg.lstsq(X, df.y, rcond=None)[0][: len(cells)]
    n = C.sum(0)
    post = np.array([e >= 0 for _, e in cells])
    att = (beta[post] * n[post]).sum() / n[post].sum()
    assert res.estimate == pytest.approx(att, abs=1e-9)


def test_sunab_equals_cs_on_balanced_panel(mpdta, cs):
    # Without covariates, on a balanced panel with never-treated controls, each Sun-Abraham cell
    # equals the CS ATT(g,t) with universal base g-1, and both weight cells by cohort size.
    sa = sun_abraham(mpdta, unit="countyreal", time="year", outcome="lemp", cohort="first.treat")
    assert sa.estimate == pytest.approx(cs.estimate, abs=1e-10)
    uni = callaway_santanna(
        mpdta,
        unit="countyreal",
        time="year",
        outcome="lemp",
        first_treated="first.treat",
        base_period="universal",
        n_boot=0,
    )
    dyn = uni.extra["aggregations"]["dynamic"]
    for term, row in sa.terms.iterrows():
        assert row["estimate"] == pytest.approx(dyn.loc[term, "estimate"], abs=1e-10)
