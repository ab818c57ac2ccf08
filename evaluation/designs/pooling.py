"""Partial pooling of the pilots' per-area effects: robust empirical Bayes confidence intervals.

Each pilot's headline estimate (:func:`evaluation.designs.area_headline.headline_did`) is one
noisy estimate of a related effect.  :func:`pooled_effects` puts the 32 of them, for one
outcome, into :func:`evaluation.models.ebci.robust_ebci` (Armstrong, Kolesar & Plagborg-Moller
2022; the R package ``ebci``'s defaults: shrinkage toward the pilots' mean, kurtosis estimated
and imposed, PMT finite-sample correction): each area's estimate is pulled toward the mean of
all pilots, the more the noisier it is, and gets an interval that covers the true effects in
95% of areas *on average over the areas*, whatever the distribution of the effects.

Convention (METHODOLOGY.md section 2d): an area's standard error is the one its own placebo
interval implies, ``se = (placebo interval length) / (2 z_{1-alpha/2})`` (before the 0-100
bounds), so that ``estimate +/- z se`` is that interval.  The pooled interval is then kept to
the effects a rate can have, as the area's own interval is.
"""

from __future__ import annotations

import math

from scipy import special

from evaluation.designs.area_headline import headline_did
from evaluation.designs.area_key import area_key
from evaluation.designs.area_sample import comparison_pool
from evaluation.models.ebci import EbciInputError, EbciResult, robust_ebci
from evaluation.models.intervals import within_bounds
from evaluation.models.results import EstimationResult
from evaluation.panel import cache
from evaluation.panel.build import Panel
from evaluation.panel.cache import digest
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan

_POOLED: dict = {}  # (id of panel, plan path, outcome) -> (panel, PooledEffects), this process


class PooledEffects:
    """The robust EBCI of one outcome across the pilots, and which pilots were left out."""

    def __init__(self, ebci: EbciResult | None, left_out: dict[str, str], posts: dict):
        self.ebci = ebci
        self.left_out = left_out  # pilot code -> why it is not in the pooling
        self._posts = posts  # pilot code -> its post-period rate values (for the bounds)

    def for_area(self, code: str) -> dict | None:
        """The area's row (shrunk estimate and interval, inputs, moments), or None."""
        if self.ebci is None or code not in self.ebci.rows.index:
            return None
        row = self.ebci.rows.loc[code]
        lo, hi = float(row["ci_low"]), float(row["ci_high"])
        post = self._posts[code]
        known = post and all(math.isfinite(v) for v in post)
        bounded = within_bounds(lo, hi, post, (0.0, 100.0)) if known else (lo, hi)
        out = {
            "estimate": float(row["estimate"]),
            "se": float(row["se"]),
            "shrunk": float(row["shrunk"]),
            "ci_low": bounded[0],
            "ci_high": bounded[1],
            "half_length": float(row["half_length"]),
            "shrinkage": float(row["shrinkage"]),
            "n_areas": len(self.ebci.rows),
            "mu2": self.ebci.mu2,
            "kappa": self.ebci.kappa,
            "pilots_mean": self.ebci.delta.get("intercept"),
            "confidence_level": 1 - self.ebci.alpha,
            "left_out": dict(self.left_out),
            "conventions": dict(self.ebci.conventions) | {"standard_error": SE_RULE},
        }
        if bounded != (lo, hi):
            out["interval_before_bounds"] = [lo, hi]
        return out


SE_RULE = (
    "each area's standard error is the one its own placebo interval implies: (interval "
    "length before the 0-100 bounds) / (2 z), so estimate +/- z se is that interval"
)


def implied_se(res: EstimationResult) -> float:
    """The standard error the area's placebo interval implies (NaN if it is unbounded)."""
    lo, hi = res.diagnostics.get("interval_before_bounds", [res.ci_low, res.ci_high])
    z = float(special.ndtri(1 - res.alpha / 2))
    return (hi - lo) / (2 * z) if math.isfinite(lo) and math.isfinite(hi) else math.nan


def pooled_effects(panel: Panel, plan: Plan, outcome: str) -> PooledEffects:
    """Robust EBCI of ``outcome`` across every pilot (computed once per process, and kept in
    the one cache under the pilots' :func:`~evaluation.designs.area_key.area_key`: the
    headline estimates it pools are made from exactly what those keys hash)."""
    key = (id(panel), str(plan.path), outcome)
    hit = _POOLED.get(key)
    if hit is None or hit[0] is not panel:  # holding the panel keeps its id unique
        keys = [area_key(panel, plan, code, plan.seed) for code in plan.pilot_codes]
        entry = digest("pooled", outcome, keys)
        value = cache.load("pooled", entry, PooledEffects)
        if value is cache.MISSING:
            value = _pool(panel, plan, outcome)
            cache.store("pooled", entry, value)
        hit = _POOLED[key] = (panel, value)
    return hit[1]


def _pool(panel: Panel, plan: Plan, outcome: str) -> PooledEffects:
    pool = comparison_pool(panel, plan)
    codes, estimates, ses, left_out, posts = [], [], [], {}, {}
    for code in plan.pilot_codes:
        try:
            res = headline_did(panel, plan, code, pool, CATALOGUE[outcome])
        except ValueError as exc:
            left_out[code] = f"no estimate ({exc})"
            continue
        se = implied_se(res)
        if not (math.isfinite(res.estimate) and math.isfinite(se) and se > 0):
            left_out[code] = "no finite estimate and placebo interval"
            continue
        codes.append(code)
        estimates.append(res.estimate)
        ses.append(se)
        posts[code] = [res.diagnostics["treated_series"][str(t)] for t in res.post_periods]
    try:
        ebci = robust_ebci(estimates, ses, alpha=plan.alpha, index=codes)
    except EbciInputError as exc:
        return PooledEffects(None, left_out | {"(all)": str(exc)}, posts)
    return PooledEffects(ebci, left_out, posts)
