"""Programme-level estimates: several pilot areas combined into one treated unit.

The combined unit's rate is the pooled rate of its member units (summed counts), so the
estimator is :func:`did_one_treated` on a panel with one extra row per year.  Inference for the
whole programme permutes the assignment at the level it was made: for each region, a placebo
"partnership" of the same size is drawn from that region's non-pilot units (seeded), the draws
are combined into a placebo programme, and its DiD is computed.  The two-sided p-value is the
rank of |DiD| among the placebo |DiD|s; the interval inverts that test under a constant
additive effect (pilots never enter a placebo draw, so only the observed statistic moves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.designs.registry import estimators
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.results import EstimationResult


def combine_units(
    units: pd.DataFrame,
    members: list[str],
    unit_id: str,
    *,
    numerator: str,
    denominator: str,
    outcome: str,
) -> pd.DataFrame:
    """One row per year for the combined unit (summed counts, recomputed rate)."""
    sub = units[units["unit_id"].isin(members)]
    counts = sub.groupby("year")[[numerator, denominator]].sum(min_count=len(members))
    complete = sub.groupby("year")[denominator].count() == len(members)
    counts = counts.where(complete, axis=0)
    rate = counts[numerator].astype(float) / counts[denominator].astype(float) * 100
    return pd.DataFrame(
        {
            "unit_id": unit_id,
            "year": counts.index,
            numerator: counts[numerator],
            denominator: counts[denominator],
            outcome: rate,
        }
    ).reset_index(drop=True)


def _with_combined(units, members, pool, unit_id, numerator, denominator, outcome):
    """The pool's rows plus one combined row per year for ``members``."""
    combined = combine_units(
        units, members, unit_id, numerator=numerator, denominator=denominator, outcome=outcome
    )
    cols = ["unit_id", "year", numerator, denominator, outcome]
    return pd.concat(
        [units.loc[units["unit_id"].isin(pool), cols], combined[cols]], ignore_index=True
    )


def _did_combined(units, members, pool, *, outcome, numerator, denominator, pre, post):
    data = _with_combined(units, members, pool, "__combined__", numerator, denominator, outcome)
    y = data.pivot(index="unit_id", columns="year", values=outcome).astype(float)
    num = data.pivot(index="unit_id", columns="year", values=numerator).astype(float)
    den = data.pivot(index="unit_id", columns="year", values=denominator).astype(float)
    years = list(pre) + list(post)
    ok = y[years].notna().all(axis=1) & (den[years] > 0).all(axis=1)
    comp_units = [u for u in pool if u in ok.index and ok[u]]
    comp = num.loc[comp_units, years].sum() / den.loc[comp_units, years].sum() * 100
    gap = y.loc["__combined__", years] - comp
    return float(gap[post].mean() - gap[pre].mean()), len(comp_units)


def group_by_region(units, region_of: dict[str, str]) -> dict[str, list[str]]:
    """``{region: [units]}`` of the ``units`` with a known region, in the order given."""
    by_region: dict[str, list[str]] = {}
    for u in units:
        if u in region_of:
            by_region.setdefault(region_of[u], []).append(u)
    return by_region


def placebo_draw_sizes(
    treated: dict[str, list[str]], region_of: dict[str, str], by_region: dict[str, list[str]]
) -> dict[str, int]:
    """``{region: number of pilots}``: how many units a placebo programme draws in each region.

    Raises ValueError if a partnership spans regions (or has a unit of unknown region) or a
    region has fewer candidate units in ``by_region`` than pilots."""
    need: dict[str, int] = {}
    for part, ms in treated.items():
        regions = {region_of.get(m) for m in ms}
        if len(regions) != 1 or None in regions:
            raise ValueError(f"partnership {part} must lie in one known region")
        region = regions.pop()
        need[region] = need.get(region, 0) + len(ms)
    for region, k in need.items():
        if len(by_region.get(region, [])) < k:
            raise ValueError(f"region {region} has too few comparison units for its pilots")
    return need


def placebo_programmes(
    by_region: dict[str, list[str]],
    need: dict[str, int],
    pool_ok: list[str],
    permutations: int,
    seed: int,
) -> np.ndarray:
    """(permutations x n_pilots) row indices into ``pool_ok``: each row is one placebo programme
    drawing, in every region, as many distinct non-pilot units as the region has pilots
    (uniformly without replacement: the k smallest of iid uniform keys)."""
    rng = np.random.default_rng(seed)
    pos = {u: i for i, u in enumerate(pool_ok)}
    blocks = []
    for region in sorted(need):
        members = np.array([pos[u] for u in by_region[region]])
        keys = rng.random((permutations, len(members)))
        k = need[region]
        pick = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < len(members) else None
        blocks.append(members[pick] if pick is not None else np.tile(members, (permutations, 1)))
    return np.hstack(blocks)


def placebo_programme_did(
    num: np.ndarray, den: np.ndarray, idx: np.ndarray, n_pre: int
) -> np.ndarray:
    """DiD of every placebo programme at once (pooled rates; the pool minus the placebo units is
    the comparison).  ``num``/``den``: units x periods; ``idx``: programmes x members."""
    s_num, s_den = num.sum(axis=0), den.sum(axis=0)
    f_num, f_den = num[idx].sum(axis=1), den[idx].sum(axis=1)
    gap = f_num / f_den * 100 - (s_num - f_num) / (s_den - f_den) * 100
    return gap[:, n_pre:].mean(axis=1) - gap[:, :n_pre].mean(axis=1)


def programme_did(
    units: pd.DataFrame,
    *,
    treated: dict[str, list[str]],
    pool: list[str],
    region_of: dict[str, str],
    outcome: str,
    numerator: str,
    denominator: str,
    pre: list,
    post: list,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
) -> EstimationResult:
    """Pooled DiD for all pilots combined, with randomisation inference over placebo
    partnerships drawn within regions.  ``treated`` maps each partnership (assignment cluster)
    to its member units; ``region_of`` maps units to regions (each partnership is in one)."""
    members = [u for ms in treated.values() for u in ms]
    tau, n_comp = _did_combined(
        units,
        members,
        pool,
        outcome=outcome,
        numerator=numerator,
        denominator=denominator,
        pre=pre,
        post=post,
    )
    if not math.isfinite(tau):
        raise ValueError(
            "the pilots combined lack the outcome in some pre- or post-period (a pilot's "
            "figures are missing or suppressed), so the programme estimate is not defined"
        )
    years = list(pre) + list(post)
    usable = units[units["unit_id"].isin(pool) & units["year"].isin(years)]
    good = usable.groupby("unit_id").apply(
        lambda g: bool(g[outcome].notna().all() and len(g) == len(years))
    )
    by_region = group_by_region([u for u in pool if good.get(u, False)], region_of)
    need = placebo_draw_sizes(treated, region_of, by_region)
    pool_ok = [u for r in by_region.values() for u in r]
    wide_num = usable.pivot(index="unit_id", columns="year", values=numerator).astype(float)
    wide_den = usable.pivot(index="unit_id", columns="year", values=denominator).astype(float)
    num = wide_num.loc[pool_ok, years].to_numpy()
    den = wide_den.loc[pool_ok, years].to_numpy()
    idx = placebo_programmes(by_region, need, pool_ok, permutations, seed)
    placebo = placebo_programme_did(num, den, idx, len(pre))
    p, lo, hi = _rank_inference(tau, placebo, alpha)
    return EstimationResult(
        method="Difference-in-differences, all pilots combined; randomisation inference over "
        "placebo partnerships drawn within regions",
        outcome=outcome,
        estimate=tau,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        inference=f"randomisation inference, {len(placebo)} placebo programmes (seed {seed})",
        alpha=alpha,
        n_treated=len(members),
        n_comparison_units=n_comp,
        pre_periods=list(pre),
        post_periods=list(post),
        conventions=_programme_conventions(seed),
        distribution=pd.DataFrame({"estimate": placebo}),
        extra={"placebo_index": idx, "placebo_pool": pool_ok},
    )


def _rank_inference(tau: float, placebo: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Two-sided rank p-value of |tau| among the placebo |DiD|s, and the interval inverting
    that test under a constant additive effect (unbounded when there are too few placebos)."""
    abs_p = np.abs(placebo)
    p = (1 + int((abs_p >= abs(tau) * (1 - 1e-12)).sum())) / (1 + len(placebo))
    m = math.floor(alpha * (1 + len(placebo)) + 1e-12)
    if m >= 1:
        crit = float(np.sort(abs_p)[::-1][m - 1])
        lo, hi = tau - crit, tau + crit
    else:
        lo, hi = -math.inf, math.inf
    return p, lo, hi


def _programme_conventions(seed: int) -> dict:
    """The ``conventions`` of :func:`programme_did`'s result."""
    return {
        "estimand": "change in the pilots' combined (pooled) rate minus the change in the "
        "comparison pool's pooled rate",
        "assignment": "placebo programmes redraw, in every region, as many distinct "
        "non-pilot units as the region has pilots (the level at which pilots were "
        "chosen)",
        "p_value": "two-sided rank of |DiD| among placebo |DiD|s: (1 + #) / (1 + R)",
        "interval": "test inversion under a constant additive effect",
        "standard_error": "not reported; inference is by randomisation",
        "seed": str(seed),
    }


def partnership_did(
    units, members, pool, *, outcome, numerator, denominator, pre, post, alpha=0.05, label=""
) -> EstimationResult:
    """One partnership combined into one unit, against the pool, with placebo-in-space
    inference over single comparison units (normalised by pre-period fit)."""
    data = _with_combined(units, members, pool, "__partnership__", numerator, denominator, outcome)
    return did_one_treated(
        data,
        unit="unit_id",
        time="year",
        outcome=outcome,
        treated="__partnership__",
        pre=pre,
        post=post,
        pool=pool,
        numerator=numerator,
        denominator=denominator,
        alpha=alpha,
        outcome_label=label or outcome,
        bounds=(0.0, 100.0),
    )


def programme_panel(
    units: pd.DataFrame,
    treated: dict[str, list[str]],
    pool: list[str],
    *,
    outcome: str,
    numerator: str,
    denominator: str,
    years: list,
) -> pd.DataFrame:
    """LA-level rows of the pilots and the pool over ``years``, with ``treated`` (0/1), the
    assignment cluster (the partnership for a pilot, the LA itself otherwise) and the weight."""
    part_of = {u: p for p, ms in treated.items() for u in ms}
    keep = units["unit_id"].isin(list(part_of) + list(pool)) & units["year"].isin(years)
    d = units.loc[keep, ["unit_id", "year", outcome, numerator, denominator]].copy()
    d = d[d[outcome].notna() & (pd.to_numeric(d[denominator], errors="coerce") > 0)]
    d["cluster"] = d["unit_id"].map(lambda u: part_of.get(u, u))
    d["pilot"] = d["unit_id"].isin(list(part_of)).astype(int)
    return d.reset_index(drop=True)


def programme_robustness(
    units: pd.DataFrame,
    *,
    treated: dict[str, list[str]],
    pool: list[str],
    outcome: str,
    numerator: str,
    denominator: str,
    pre: list,
    post: list,
    seed: int = 0,
    alpha: float = 0.05,
    n_boot: int = 9999,
) -> dict[str, EstimationResult]:
    """The programme effect by other estimators, each with inference suited to 9 treated
    partnerships among many comparison LAs:

    * ``twfe_wild``: LA-level TWFE weighted by the denominator, restricted wild cluster
      bootstrap (Webb weights) clustered by partnership (each comparison LA its own cluster);
    * ``conley_taber``: the pilots' post-minus-pre changes against the comparison LAs', weighted
      by mean denominators; the law of the pilots' average error is simulated from the
      comparison LAs' residuals, rescaled for size (Ferman-Pinto: Var = A + B / denominator);
    * ``binomial_fe``: grouped-binomial logit with LA and year effects (percentage points),
      restricted score cluster bootstrap by partnership (fewer than 42 treated clusters);
    * ``cs_dr``: Callaway-Sant'Anna, doubly robust, conditioning on each LA's earlier level
      (direction only: clustered errors with 9 partnerships).
    """
    years = list(pre) + list(post)
    d = programme_panel(
        units,
        treated,
        pool,
        outcome=outcome,
        numerator=numerator,
        denominator=denominator,
        years=years,
    )
    d["first_treated"] = np.where(d["pilot"] == 1, min(post), 0)
    few = (
        f"only {len(treated)} treated clusters: cluster-robust and wild-bootstrap inference "
        "can be unreliable with so few treated clusters (MacKinnon and Webb 2017)"
    )
    spec = ProgrammeSpec(
        outcome, numerator, denominator, pre, post, seed, alpha, n_boot, few_clusters=few
    )
    results = {e.key: e.runner("programme")(d, spec) for e in estimators("programme")}
    return {key: r for key, r in results.items() if r is not None}  # None: does not apply


LA_YEAR = {"unit": "unit_id", "time": "year"}  # the columns of programme_panel's frame


@dataclass(frozen=True)
class ProgrammeSpec:
    """What every programme robustness runner receives (``d`` is :func:`programme_panel`'s
    LA-level frame with ``first_treated``)."""

    outcome: str
    numerator: str
    denominator: str
    pre: list
    post: list
    seed: int = 0
    alpha: float = 0.05
    n_boot: int = 9999
    few_clusters: str = ""  # the caveat when there are few treated clusters


def programme_twfe_wild(d: pd.DataFrame, spec: ProgrammeSpec) -> EstimationResult:
    """LA-level TWFE weighted by the denominator, wild cluster bootstrap by partnership."""
    from evaluation.inference.wild import with_wild_bootstrap
    from evaluation.models.twfe import twfe

    res = twfe(
        d,
        **LA_YEAR,
        outcome=spec.outcome,
        first_treated="first_treated",
        weights=spec.denominator,
        cluster="cluster",
    )
    with_wild_bootstrap(res, "cluster", n_boot=spec.n_boot, seed=spec.seed, label="partnership")
    res.method = "Two-way fixed-effects DiD (LA level, weighted by denominators)"
    res.unit = "percentage points"
    res.conventions.update(
        {
            "clusters": "partnerships (pilots) and single LAs (comparison)",
            "caveat": spec.few_clusters,
            "periods": f"pre {spec.pre}, post {spec.post}; other years left out",
        }
    )
    res.extra.pop("data", None)
    return res


def programme_conley_taber(d: pd.DataFrame, spec: ProgrammeSpec) -> EstimationResult:
    """Pilots' changes against the comparison LAs', Conley-Taber (Ferman-Pinto) inference."""
    from evaluation.inference.conley_taber import conley_taber

    ct = conley_taber(
        d,
        **LA_YEAR,
        outcome=spec.outcome,
        treated_units=sorted(d.loc[d["pilot"] == 1, "unit_id"].unique()),
        pre=spec.pre,
        post=spec.post,
        alpha=spec.alpha,
        seed=spec.seed,
        weights=spec.denominator,
        group_size=spec.denominator,
    )
    ct.method = "DiD, pilots vs comparison LAs, Conley-Taber inference (Ferman-Pinto adjusted)"
    return ct


def programme_binomial_fe(d: pd.DataFrame, spec: ProgrammeSpec) -> EstimationResult:
    """Grouped-binomial logit with LA and year effects, score cluster bootstrap by
    partnership (the few-cluster rule of
    :func:`evaluation.inference.score_bootstrap.binomial_fe_inference`)."""
    from evaluation.inference.score_bootstrap import binomial_fe_inference
    from evaluation.models.glm import binomial_fe

    glm = binomial_fe(
        d,
        **LA_YEAR,
        successes=spec.numerator,
        trials=spec.denominator,
        first_treated="first_treated",
        cluster="cluster",
        alpha=spec.alpha,
        outcome_label=spec.outcome,
    )
    binomial_fe_inference(glm, n_boot=spec.n_boot, seed=spec.seed)
    if not glm.diagnostics["few_cluster_valid"]:
        glm.conventions["caveat"] = spec.few_clusters
    glm.extra.pop("cells", None)
    return glm


def programme_cs_dr(d: pd.DataFrame, spec: ProgrammeSpec) -> EstimationResult | None:
    """Callaway-Sant'Anna, doubly robust, conditioning on each LA's earlier level: the mean
    rate over the pre-years before the base year (the last pre-year), so that the pilots'
    higher starting rates are compared with comparison LAs that started as high.

    LAs observed in every year of the window only (the estimator needs a balanced panel; the
    count left out is stated). Clustered analytic standard errors with 9 treated partnerships
    are not valid, so the result counts for its direction only. ``None`` (left out of the
    table) with fewer than two pre-years: there is no earlier level to condition on."""
    from evaluation.models.callaway_santanna import callaway_santanna

    pre, years = sorted(spec.pre), sorted(list(spec.pre) + list(spec.post))
    earlier = pre[:-1]
    if not earlier:
        return None
    wide = d.pivot(index="unit_id", columns="year", values=spec.outcome).reindex(columns=years)
    complete = wide.index[wide.notna().all(axis=1)]
    b = d[d["unit_id"].isin(complete) & d["year"].isin(years)].copy()
    b["earlier_level"] = b["unit_id"].map(wide.loc[complete, earlier].mean(axis=1))
    b["weight"] = b.groupby("unit_id")[spec.denominator].transform("mean").astype(float)
    res = callaway_santanna(
        b,
        **LA_YEAR,
        outcome=spec.outcome,
        first_treated="first_treated",
        weights="weight",
        cluster="cluster",
        alpha=spec.alpha,
        inference="analytic",
        covariates=["earlier_level"],
        est_method="dr",
    )
    n_out = int(d["unit_id"].nunique() - len(complete))
    res.method = "Callaway-Sant'Anna, doubly robust, conditioning on the earlier level"
    res.unit = "percentage points"
    res.diagnostics["few_cluster_valid"] = False
    res.diagnostics["las_left_out_incomplete"] = n_out
    res.conventions.update(
        {
            "covariate": f"earlier_level: each LA's mean rate over {earlier[0]}-{earlier[-1]} "
            f"(the pre-years before the base year {pre[-1]})",
            "sample": f"LAs observed in every year {years[0]}-{years[-1]}; {n_out} left out",
            "weights": "each LA's mean denominator over the window",
            "caveat": f"{spec.few_clusters}; standard errors clustered by partnership are not "
            "valid with so few treated clusters, so this estimate counts for its direction "
            "only",
        }
    )
    return res
