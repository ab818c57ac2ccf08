"""Fisher randomisation inference, permuting the assignment at the level it was made.

Treatment is re-drawn over the assignment units (e.g. partnerships), within strata keeping each
stratum's number of treated units, with exact enumeration when the assignments are few.  For a
statistic linear in the outcome the test inverts, under constant additive effects, into an
interval (see :func:`randomisation_inference`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from evaluation.inference.inversion import invert_test
from evaluation.models.results import EstimationResult


def _n_possible(groups: list[np.ndarray], n_treat: list[int]) -> int:
    return int(np.prod([math.comb(len(g), t) for g, t in zip(groups, n_treat, strict=True)]))


def _assignment_matrix(
    n_units: int,
    groups: list[np.ndarray],
    n_treat: list[int],
    n_perm: int,
    seed: int,
    enumerate_all: bool,
) -> np.ndarray:
    if enumerate_all:
        per = [
            [np.array(c, dtype=np.int64) for c in itertools.combinations(g, t)]
            for g, t in zip(groups, n_treat, strict=True)
        ]
        out = []
        for combo in itertools.product(*per):
            row = np.zeros(n_units, dtype=np.int8)
            for c in combo:
                row[c] = 1
            out.append(row)
        return np.array(out, dtype=np.int8)
    rng = np.random.default_rng(seed)
    D = np.zeros((n_perm, n_units), dtype=np.int8)
    for g, t in zip(groups, n_treat, strict=True):
        if t == 0:
            continue
        keys = rng.random((n_perm, len(g)))
        chosen = np.argsort(keys, axis=1)[:, :t]
        D[np.arange(n_perm)[:, None], g[chosen]] = 1
    return D


def _strata_groups(assignment: pd.Series, strata: pd.Series | None) -> list[np.ndarray]:
    """Positions of the assignment units in each stratum (one group when no strata)."""
    units = assignment.index
    if strata is None:
        labels = np.zeros(len(units), dtype=np.int64)
    else:
        labels, _ = pd.factorize(pd.Series(strata).reindex(units), sort=True)
        if (labels < 0).any():
            raise ValueError("every assignment unit needs a stratum")
    return [np.flatnonzero(labels == s) for s in range(labels.max() + 1)]


def _statistics(mat: np.ndarray, fn_many, fn, units: pd.Index) -> np.ndarray:
    """The statistic of every assignment row, by ``fn_many`` on the matrix or ``fn`` per row."""
    if fn_many is not None:
        return np.asarray(fn_many(mat), dtype=float).ravel()
    return np.array([fn(pd.Series(row, index=units)) for row in mat], dtype=float)


def _permutation_pvalue(t_draws: np.ndarray, t0: float, exact: bool) -> float:
    """Two-sided: exact share of |T_b| >= |T_obs|, or (1 + count) / (1 + B) when sampled."""
    tol = 1e-10 * max(1.0, abs(t0))
    count = int(np.sum(np.abs(t_draws) >= abs(t0) - tol))
    return count / len(t_draws) if exact else (1 + count) / (1 + len(t_draws))


def _effect_interval(T, T_obs, D, d_obs, effect_fn_many, exact, alpha, dist):
    """The effect estimate and the sharp-null interval by test inversion; adds the effect
    coefficients to ``dist``."""
    E = np.asarray(effect_fn_many(D), dtype=float).ravel()
    E0 = float(np.asarray(effect_fn_many(d_obs[None, :]), dtype=float).ravel()[0])
    dist.insert(2, "effect_coefficient", E)
    if abs(E0) < 1e-12:
        raise ValueError("the statistic does not respond to the effect (E_obs = 0)")
    est = T_obs / E0

    def p_tau(tau: float) -> float:
        return _permutation_pvalue(T - tau * E, T_obs - tau * E0, exact)

    spread = float(np.std(T)) / abs(E0) if np.std(T) > 0 else max(abs(est), 1.0)
    lo, hi = invert_test(p_tau, est, spread, alpha)
    return est, lo, hi


def _ri_conventions(exact: bool, n_assignments: int, seed: int, alpha: float, has_ci: bool):
    how = f"all {n_assignments}" if exact else f"{n_assignments} random (seed {seed})"
    conv = {
        "inference": f"Fisher randomisation test over {how} assignments, the number of "
        "treated units kept within each stratum",
        "p_value": (
            "two-sided: share of |T_b| >= |T_obs| over every assignment"
            if exact
            else "two-sided: (1 + #{|T_b| >= |T_obs|}) / (1 + B)"
        ),
        "standard_error": "not reported (randomisation inference)",
    }
    if has_ci:
        conv["interval"] = (
            f"{round(100 * (1 - alpha))}% interval = constant additive effects not rejected "
            "(test inversion; valid for statistics linear in the outcome)"
        )
    return conv


def randomisation_inference(
    stat_fn: Callable[[pd.Series], float] | None,
    assignment: pd.Series,
    *,
    strata: pd.Series | None = None,
    n_perm: int = 10000,
    seed: int = 0,
    enumerate_if_small: bool = True,
    stat_fn_many: Callable[[np.ndarray], np.ndarray] | None = None,
    effect_fn_many: Callable[[np.ndarray], np.ndarray] | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Fisher randomisation test, permuting the assignment at the level it was made.

    ``assignment``: Series indexed by assignment unit (e.g. partnership) with 0/1 treated.
    ``strata``: Series on the same index; treatment is re-drawn within each stratum keeping
    its number of treated units (the design's restriction).  ``stat_fn(assign_series)`` returns
    the statistic for one assignment; ``stat_fn_many(D)`` (preferred, fast) takes a
    (n_assignments x n_units) 0/1 matrix whose columns follow ``assignment.index`` and returns
    one statistic per row.

    p-value (two-sided): exact share ``#{|T_b| >= |T_obs|} / n_all`` over all distinct
    assignments (the observed one included) when their number is at most ``n_perm`` and
    ``enumerate_if_small``; otherwise ``(1 + #{|T_b| >= |T_obs|}) / (1 + B)`` over ``B = n_perm``
    random re-assignments (the observed one may recur among them; it is counted like any other).

    Interval (optional): pass ``effect_fn_many(D)`` = the statistic computed, for each assignment
    row, on the pseudo-outcome "observed treatment exposure" (1 in treated post cells under the
    observed assignment, 0 elsewhere).  If the statistic is LINEAR in the outcome, then under the
    sharp null of a constant additive effect ``tau`` the statistic of assignment ``d`` on the
    untreated outcomes ``y - tau * exposure`` is ``T_d - tau * E_d``, so the p-value at any
    ``tau`` follows without recomputation; the interval is ``{tau : p(tau) > alpha}`` (outermost
    crossings, by bisection).  Not valid for non-linear statistics (ratios, t-statistics with
    outcome-dependent scale, rank statistics) or for heterogeneous effects.

    Returns an :class:`EstimationResult`: ``estimate`` is the effect the interval is centred on
    (``T_obs / E_obs``) when ``effect_fn_many`` is given, else the statistic; no standard error;
    ``distribution`` has one row per assignment (``statistic``, ``is_observed``, the optional
    ``effect_coefficient``, then the 0/1 assignment columns); ``diagnostics`` ``statistic``,
    ``n_assignments``, ``exact``, ``n_possible``, readable as attributes (``res.exact``).
    """
    assignment = pd.Series(assignment).astype(int)
    if not set(np.unique(assignment.to_numpy())) <= {0, 1}:
        raise ValueError("assignment must be 0/1")
    units = assignment.index
    d_obs = assignment.to_numpy().astype(np.int8)
    groups = _strata_groups(assignment, strata)
    n_treat = [int(d_obs[g].sum()) for g in groups]
    n_all = _n_possible(groups, n_treat)
    exact = bool(enumerate_if_small and n_all <= n_perm)
    D = _assignment_matrix(len(units), groups, n_treat, n_perm, seed, exact)

    if stat_fn is None and stat_fn_many is None:
        raise ValueError("give stat_fn or stat_fn_many")
    T_obs = float(_statistics(d_obs[None, :], stat_fn_many, stat_fn, units)[0])
    T = _statistics(D, stat_fn_many, stat_fn, units)

    p = _permutation_pvalue(T, T_obs, exact)
    dist = pd.DataFrame(D, columns=[str(u) for u in units])
    dist.insert(0, "statistic", T)
    dist.insert(1, "is_observed", (d_obs == D).all(axis=1))
    est, lo, hi = T_obs, float("nan"), float("nan")
    if effect_fn_many is not None:
        est, lo, hi = _effect_interval(T, T_obs, D, d_obs, effect_fn_many, exact, alpha, dist)
    n_treated = int(d_obs.sum())
    return EstimationResult(
        method="Fisher randomisation test",
        outcome="statistic",
        estimate=est,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference="randomisation inference",
        alpha=alpha,
        n_treated=n_treated,
        n_comparison_units=len(units) - n_treated,
        pre_periods=[],
        post_periods=[],
        conventions=_ri_conventions(exact, len(T), seed, alpha, effect_fn_many is not None),
        se=None,
        unit="units of the statistic",
        diagnostics={
            "statistic": T_obs,
            "n_assignments": len(T),
            "exact": exact,
            "n_possible": n_all,
        },
        distribution=dist,
    )
