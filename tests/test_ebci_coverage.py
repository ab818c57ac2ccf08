"""Monte Carlo check of the average coverage of robust EBCIs on the shipped panel.

The toolkit shrinks the 32 pilots' per-area DiD estimates of an outcome with
:func:`evaluation.models.ebci.robust_ebci` (defaults: intercept only, equal weights, kappa
estimated, PMT).  Each estimate comes from :func:`did_one_treated` (placebo-in-space inference,
pooled comparison rate) and its standard error is read off the placebo interval before the 0-100
bounds: ``se_i = (hi_i - lo_i) / (2 z_{1-alpha/2})``.  The robust EBCIs promise AVERAGE coverage
over the areas of at least ``1 - alpha`` whatever the distribution of the true effects; this file
checks that on panels shaped like the shipped one, simulating exactly that use.

One replication, for one outcome and one effect scenario:

1. draw 32 pseudo-pilots at random (seeded) from the comparison pool of the shipped panel; they
   had no programme, so their true effect is 0 until one is added;
2. draw true effects ``theta_i`` (heavy-tailed, see ``SCENARIOS``) and ADD ``theta_i`` to each
   pseudo-pilot's post-period rates;
3. estimate each pseudo-pilot with ``did_one_treated`` against the rest of the pool (comparison
   pool minus the 32 pseudo-pilots), ``weighting="pooled"`` with the outcome's numerator and
   denominator as ``evaluate_area`` does, but with ``bounds=None`` so the raw placebo interval is
   the one used; ``se_i`` as above.  A pseudo-pilot lacking the outcome in an analysis year
   cannot be estimated (``evaluate_area`` would refuse it too) and one whose estimate or ``se_i``
   is not finite, or ``se_i <= 0``, is skipped; both are counted;
4. ``robust_ebci(estimates, ses)``; the replication's coverage is the share of the estimated
   pseudo-pilots whose ``[ci_low, ci_high]`` contains ``theta_i``.

Average coverage = mean over replications.  The unshrunk placebo intervals' coverage and both
mean widths are recorded for comparison.  ``pytest -s -m slow tests/test_ebci_coverage.py``
prints the table of the full check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import special

from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.ebci import robust_ebci
from evaluation.panel.outcomes import CATALOGUE

ALPHA = 0.05
N_PSEUDO = 32  # as many pseudo-pilots as the plan has pilots
SEED = 20_231


def _t4_effects(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Mean ``scale`` plus ``1.6 scale`` times a t with 4 df (infinite fourth moment)."""
    return scale + 1.6 * scale * rng.standard_t(4, size=n)


def _two_point_effects(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Most areas no effect, one in five a large one: 0 w.p. 0.8, ``4 scale`` w.p. 0.2."""
    return np.where(rng.random(n) < 0.2, 4.0 * scale, 0.0)


# Effects are in the outcome's points, scaled by the plan's minimum important difference (MID):
# 5 pp for the timeliness and refusal rates, so the t scenario is exactly 5 pp + 8 pp * t(4);
# 0.5 pp for the tribunal appeal rate (mean about 2 %), where 5 pp + 8 pp * t(4) would dwarf
# the standard errors, leave nothing to shrink and so test nothing beyond the raw intervals.
SCENARIOS = {"t4": _t4_effects, "two-point": _two_point_effects}


@dataclass
class CoverageSummary:
    outcome: str
    scenario: str
    reps: int
    coverage: float  # robust EBCI, mean over replications of the share covered
    coverage_unshrunk: float  # the raw placebo intervals
    width: float  # mean robust EBCI width (mean over replications of the mean over areas)
    width_unshrunk: float
    n_estimated: int  # area-draws used, over all replications
    n_unusable: int  # pseudo-pilots lacking the outcome in an analysis year
    n_nonfinite: int  # estimate or se not finite, or se <= 0
    design_effect: float  # variance of replication coverages / binomial variance

    def row(self) -> str:
        return (
            f"{self.outcome:<24} {self.scenario:<10} {self.coverage:8.4f} "
            f"{self.coverage_unshrunk:9.4f} {self.width:9.2f} {self.width_unshrunk:9.2f} "
            f"{self.n_estimated:6d} {self.n_unusable + self.n_nonfinite:5d} "
            f"{self.design_effect:5.2f}"
        )


HEADER = (
    f"{'outcome':<24} {'scenario':<10} {'cov_EBCI':>8} {'cov_unshr':>9} {'width_EB':>9} "
    f"{'width_uns':>9} {'n_used':>6} {'skip':>5} {'deff':>5}"
)


def _pre(panel, plan, name: str) -> list:
    """The outcome's pre-period as the reports use it (designs/pre_period.py)."""
    return list(chosen_pre_period(panel, plan, name).years)


def _outcome_data(panel, plan, name: str) -> tuple[pd.DataFrame, set]:
    """The analysis years' rows of the outcome's columns, and the units with every value (the
    rule ``did_one_treated`` applies: the rate present and a positive denominator)."""
    outcome = CATALOGUE[name]
    years = _pre(panel, plan, name) + list(plan.post_years)
    cols = ["unit_id", panel.time, outcome.name, outcome.numerator, outcome.denominator]
    data = panel.units.loc[panel.units[panel.time].isin(years), cols].reset_index(drop=True)
    ok = data[outcome.name].notna() & (data[outcome.denominator].astype("Float64") > 0)
    per_unit = ok.fillna(False).groupby(data["unit_id"]).agg(["all", "size"])
    complete = set(per_unit.index[per_unit["all"] & (per_unit["size"] == len(years))])
    return data, complete


def _replication(panel, plan, name, data, complete, pool, effects, scale, rng):
    """One replication: coverage (EBCI, unshrunk), mean widths and the skip counts."""
    outcome = CATALOGUE[name]
    z = float(special.ndtri(1 - ALPHA / 2))
    pseudo = [str(u) for u in rng.choice(pool, size=N_PSEUDO, replace=False)]
    theta = effects(rng, N_PSEUDO, scale)
    rest = [u for u in pool if u not in set(pseudo)]
    shifted = data.copy()
    post = shifted[panel.time].isin(plan.post_years)
    effect_of = dict(zip(pseudo, theta, strict=True))
    rows = post & shifted["unit_id"].isin(effect_of)
    # The shifted rate may leave 0-100: that does not matter for the coverage of the additive
    # effect (no bounds are applied), and the pseudo-pilots' numerators and denominators are
    # never used (they are not in the comparison pool).
    shifted.loc[rows, outcome.name] = shifted.loc[rows, outcome.name] + shifted.loc[
        rows, "unit_id"
    ].map(effect_of)
    est, se, true, raw = [], [], [], []
    unusable = nonfinite = 0
    for unit, effect in effect_of.items():
        if unit not in complete:
            unusable += 1
            continue
        res = did_one_treated(
            shifted,
            unit="unit_id",
            time=panel.time,
            outcome=outcome.name,
            treated=unit,
            pre=_pre(panel, plan, name),
            post=plan.post_years,
            pool=rest,
            numerator=outcome.numerator,
            denominator=outcome.denominator,
            weighting="pooled",
            alpha=ALPHA,
            bounds=None,
        )
        lo, hi = res.diagnostics["interval_before_bounds"]
        s = (hi - lo) / (2 * z) if math.isfinite(lo) and math.isfinite(hi) else math.nan
        if not (math.isfinite(res.estimate) and math.isfinite(s) and s > 0):
            nonfinite += 1
            continue
        est.append(res.estimate)
        se.append(s)
        true.append(effect)
        raw.append((lo, hi))
    fit = robust_ebci(np.array(est), np.array(se), alpha=ALPHA).rows
    true, raw = np.array(true), np.array(raw)
    covered = (fit["ci_low"].to_numpy() <= true) & (true <= fit["ci_high"].to_numpy())
    covered_raw = (raw[:, 0] <= true) & (true <= raw[:, 1])
    return {
        "coverage": covered.mean(),
        "coverage_unshrunk": covered_raw.mean(),
        "width": (fit["ci_high"] - fit["ci_low"]).mean(),
        "width_unshrunk": (raw[:, 1] - raw[:, 0]).mean(),
        "n": len(est),
        "unusable": unusable,
        "nonfinite": nonfinite,
    }


def _simulate(panel, plan, name: str, scenario: str, reps: int, seed: int) -> CoverageSummary:
    names = [o.name for o in plan.outcomes]
    planned = plan.outcomes[names.index(name)]
    data, complete = _outcome_data(panel, plan, name)
    pool = comparison_pool(panel, plan)
    keys = (names.index(name), list(SCENARIOS).index(scenario))
    rng = np.random.default_rng([seed, *keys])
    draws = pd.DataFrame(
        [
            _replication(
                panel,
                plan,
                name,
                data,
                complete,
                pool,
                SCENARIOS[scenario],
                planned.minimum_important_difference,
                rng,
            )
            for _ in range(reps)
        ]
    )
    p = draws["coverage"].mean()
    binomial_var = p * (1 - p) / draws["n"].mean()
    return CoverageSummary(
        outcome=name,
        scenario=scenario,
        reps=reps,
        coverage=float(p),
        coverage_unshrunk=float(draws["coverage_unshrunk"].mean()),
        width=float(draws["width"].mean()),
        width_unshrunk=float(draws["width_unshrunk"].mean()),
        n_estimated=int(draws["n"].sum()),
        n_unusable=int(draws["unusable"].sum()),
        n_nonfinite=int(draws["nonfinite"].sum()),
        design_effect=float(draws["coverage"].var() / binomial_var) if binomial_var else math.nan,
    )


def test_ebci_average_coverage_small(panel, plan):
    primary = next(o.name for o in plan.outcomes if o.role == "primary")
    reps = 20
    s = _simulate(panel, plan, primary, "t4", reps, SEED)
    # Nearly every pseudo-pilot is estimated (a few pool areas lack a year of the outcome).
    assert s.n_estimated >= 0.9 * reps * N_PSEUDO, s
    # Monte Carlo allowance: n = 20 x 32 = 640 area-draws.  Areas of one replication share the
    # comparison series, the placebo critical value and the estimated mu2 and kappa, so their
    # coverage indicators are positively correlated.  Allow a design effect of 4.1 (an
    # intra-replication correlation of 0.1: 1 + 31 x 0.1; the slow check measures it, well
    # below that): SE = sqrt(0.95 x 0.05 x 4.1 / 640) = 0.0174, and 3 SE = 0.052.
    allowance = 3 * math.sqrt(0.95 * 0.05 * (1 + (N_PSEUDO - 1) * 0.1) / (reps * N_PSEUDO))
    assert s.coverage >= 1 - ALPHA - 0.02 - allowance, s
    assert s.width < s.width_unshrunk, s


# With the 2019-2022 pre-period the tribunal rate with t(4) effects undercovered (0.9295 <
# 0.93): the EBCI takes each SE as known and an SE from 3 df is too small by chance in some
# areas.  With each outcome's long pre-period (designs/pre_period.py; 8 df for the tribunal
# rate) it covers 0.931 (two-point 0.935), so no outcome is exempt.  METHODOLOGY.md 2d.
KNOWN_SHORTFALL: set = set()


@pytest.mark.slow
def test_ebci_average_coverage(panel, plan):
    reps = 200
    summaries = [
        _simulate(panel, plan, planned.name, scenario, reps, SEED + 1)
        for planned in plan.outcomes
        for scenario in SCENARIOS
    ]
    print(f"\nRobust EBCI average coverage, {reps} replications of {N_PSEUDO} pseudo-pilots")
    print(HEADER)
    for s in summaries:
        print(s.row())
    for s in summaries:
        assert s.n_estimated >= 0.9 * reps * N_PSEUDO, s
        if (s.outcome, s.scenario) in KNOWN_SHORTFALL:
            assert 0.90 <= s.coverage < 1 - ALPHA - 0.02, s
        else:
            assert s.coverage >= 1 - ALPHA - 0.02, s
