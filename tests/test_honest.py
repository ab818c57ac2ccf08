"""HonestDiD-style sensitivity (Rambachan & Roth 2023).

HonestDiD's published examples (README: Medicaid/ehec event study; vignette: BCdata/LWdata) could
not be reproduced: their betas/sigma are not printed (ehec betas come from a regression on data
not held here; BCdata ships only as an R binary), so no published number is asserted.  The tests
check exact properties, an independent LP computation of the ARP statistic, and coverage.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from evaluation.models.honest import (
    _ARP,
    _l_vector,
    _rm_polyhedra,
    _sd_polyhedron,
    breakdown_value,
    honest_did,
    identified_set,
    robust_ci,
)


def _sigma(k, seed=0, scale=0.01):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, k)) * scale
    return A @ A.T + np.eye(k) * scale**2


def test_identified_set_point_when_no_pretrend_and_mbar_zero():
    b = np.r_[0.0, 0.0, 0.0, 0.4, 0.6, 0.2]
    for target, theta in (("average", 0.4), ("first", 0.4), (2, 0.2)):
        lo, hi = identified_set(b, n_pre=3, n_post=3, target=target, m=0.0)
        assert lo == pytest.approx(theta, abs=1e-12) and hi == pytest.approx(theta, abs=1e-12)
    # With zero pre-trends Delta^RM(Mbar) forces delta_post = 0 for every Mbar.
    lo, hi = identified_set(b, n_pre=3, n_post=3, m=2.0)
    assert (lo, hi) == pytest.approx((0.4, 0.4), abs=1e-12)


def test_identified_set_rm_closed_form():
    # Largest pre change 0.1 -> post changes within Mbar * 0.1; for the first post effect the
    # bias delta_1 lies in [-Mbar 0.1, Mbar 0.1]; for the average of two, delta_1 + delta_2 over 2
    # lies in [-1.5 Mbar 0.1, 1.5 Mbar 0.1].
    b = np.r_[0.05, -0.05, 0.0, 1.0, 2.0]
    for mbar in (0.5, 1.0, 2.0):
        lo, hi = identified_set(b, n_pre=3, n_post=2, target="first", m=mbar)
        assert (lo, hi) == pytest.approx((1.0 - 0.1 * mbar, 1.0 + 0.1 * mbar), abs=1e-10)
        lo, hi = identified_set(b, n_pre=3, n_post=2, target="average", m=mbar)
        assert (lo, hi) == pytest.approx((1.5 - 0.15 * mbar, 1.5 + 0.15 * mbar), abs=1e-10)


def test_identified_set_sd_linear_extrapolation():
    # Linear pre-trend slope 0.1 (t = -3, -2, -1 relative to reference 0): M = 0 extrapolates it,
    # so delta_t = 0.1 t in post-periods t = 1, 2 and theta = beta_post - 0.1 t.
    b = np.r_[-0.3, -0.2, -0.1, 0.5, 0.9]
    lo, hi = identified_set(b, n_pre=3, n_post=2, target="average", restriction="SD", m=0.0)
    assert (lo, hi) == pytest.approx((0.55, 0.55), abs=1e-10)
    lo2, hi2 = identified_set(b, n_pre=3, n_post=2, target="average", restriction="SD", m=0.01)
    assert lo2 < 0.55 < hi2


def test_monotone_widening_in_mbar():
    n_pre, n_post = 4, 2
    S = _sigma(n_pre + n_post, seed=1)
    b = np.r_[0.01, -0.02, 0.015, 0.005, 0.06, 0.08]
    res = honest_did(b, S, n_pre=n_pre, n_post=n_post, breakdown=False)
    table, bd = res.table, res.breakdown
    rob = table[table["method"] != "original"]
    assert list(rob["mbar"]) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert (np.diff(rob["lb"]) <= 1e-9).all() and (np.diff(rob["ub"]) >= -1e-9).all()
    assert (np.diff(rob["id_lb"]) <= 1e-12).all() and (np.diff(rob["id_ub"]) >= -1e-12).all()
    # The robust interval contains the identified set.
    assert (rob["lb"] <= rob["id_lb"]).all() and (rob["ub"] >= rob["id_ub"]).all()
    assert math.isnan(bd)


@pytest.mark.parametrize("restriction", ["RM", "SD"])
def test_vertex_statistic_matches_lp(restriction):
    """ARP statistic by enumerated dual vertices == primal LP solved with linprog."""
    n_pre, n_post = 3, 2
    k = n_pre + n_post
    S = _sigma(k, seed=2)
    b = np.r_[0.01, -0.02, 0.005, 0.05, 0.07]
    lv = _l_vector("average", n_post)
    polys = (
        _rm_polyhedra(n_pre, n_post, 1.0)
        if restriction == "RM"
        else _sd_polyhedron(n_pre, n_post, 0.01)
    )
    for A, d in polys[:4]:
        arp = _ARP(A, d, b, S, n_pre, lv, n_sim=100, seed=0)
        sd = np.sqrt(np.diag(A @ S @ A.T))
        keep = sd > 1e-12
        A_, d_, sd_ = A[keep], d[keep], sd[keep]
        e = lv / (lv @ lv)
        gam = np.array([[1.0], [-1.0]]) / np.sqrt(2)  # null space of l' for two periods
        Xt = A_[:, n_pre:] @ gam
        for theta in (-0.1, 0.0, 0.06, 0.2):
            Yt = A_ @ b - d_ - theta * (A_[:, n_pre:] @ e)
            # variables (eta, tau_tilde): min eta s.t. Yt - Xt tau - eta sd <= 0
            res = optimize.linprog(
                c=[1.0, 0.0],
                A_ub=np.column_stack([-sd_, -Xt]),
                b_ub=-Yt,
                bounds=[(None, None), (None, None)],
                method="highs",
            )
            eta_vertex = np.max(arp.a - theta * arp.b)
            assert res.status == 0
            assert eta_vertex == pytest.approx(res.fun, abs=1e-9)


def test_ci_equals_conventional_shape_when_restriction_is_tight():
    """Mbar = 0 with tiny pre-period noise: the robust CI is close to the conventional one."""
    n_pre, n_post = 2, 1
    S = np.diag([1e-8, 1e-8, 0.01])
    b = np.r_[0.0, 0.0, 0.3]
    lo, hi = robust_ci(b, S, n_pre=n_pre, n_post=n_post, m=0.0, method="conditional")
    assert lo == pytest.approx(0.3 - 1.96 * 0.1, abs=0.02)
    assert hi == pytest.approx(0.3 + 1.96 * 0.1, abs=0.02)


def _coverage(reps, method, seed, delta, mbar):
    n_pre, n_post = 2, 1
    rng = np.random.default_rng(seed)
    S = np.array([[0.010, 0.004, 0.003], [0.004, 0.010, 0.004], [0.003, 0.004, 0.012]])
    tau = 0.3
    beta = np.asarray(delta, dtype=float) + np.r_[0.0, 0.0, tau]
    L = np.linalg.cholesky(S)
    hits = 0
    for r in range(reps):
        bh = beta + L @ rng.standard_normal(3)
        lo, hi = robust_ci(
            bh,
            S,
            n_pre=n_pre,
            n_post=n_post,
            m=mbar,
            method=method,
            n_sim=2000,
            seed=r,
            grid_points=300,
        )
        hits += lo <= tau <= hi
    return hits / reps


@pytest.mark.parametrize("method", ["hybrid", "LF"])
def test_coverage_small_mc(method):
    # delta = 0 lies on every face of Delta^RM: the least favourable case for size.
    assert _coverage(60, method, seed=1, delta=[0, 0, 0], mbar=1.0) >= 0.88


@pytest.mark.slow
@pytest.mark.parametrize("method", ["hybrid", "conditional", "LF"])
def test_coverage_mc(method):
    assert _coverage(500, method, seed=2, delta=[0, 0, 0], mbar=1.0) >= 0.93
    # Linear pre-trend continuing at the same pace: inside Delta^RM(1).
    assert _coverage(300, method, seed=3, delta=[-0.2, -0.1, 0.1], mbar=1.0) >= 0.93


def test_breakdown_value():
    n_pre, n_post = 3, 2
    S = _sigma(n_pre + n_post, seed=4, scale=0.005)
    b = np.r_[0.004, -0.003, 0.002, 0.04, 0.05]
    kw = dict(n_pre=n_pre, n_post=n_post, n_sim=2000, seed=0)
    bd = breakdown_value(b, S, upper=10.0, tol=1e-2, **kw)
    assert 0 < bd < 10
    lo, hi = robust_ci(b, S, m=bd, **kw)
    assert lo <= 0 <= hi
    lo2, hi2 = robust_ci(b, S, m=bd - 0.02, **kw)
    assert not (lo2 <= 0 <= hi2)


def test_honest_did_table_shape_and_sd():
    n_pre, n_post = 3, 2
    S = _sigma(n_pre + n_post, seed=5)
    b = np.r_[-0.03, -0.02, -0.01, 0.05, 0.06]
    table = honest_did(
        b, S, n_pre=n_pre, n_post=n_post, restriction="SD", mbar=(0.0, 0.01), breakdown=False
    ).table
    assert list(table.columns) == ["mbar", "lb", "ub", "id_lb", "id_ub", "method", "restriction"]
    assert table.loc[0, "method"] == "original"
    assert table.loc[1, "id_lb"] == pytest.approx(0.055 - 0.015, abs=1e-10)  # theta - linear bias
    assert (table["lb"] < table["ub"]).all()
