"""Benchmark the inference loops of issue #4 on the shipped panel.

Each line prints the fast implementation's time, the time of refitting the model from scratch
in a loop for the same work (measured in this run), their ratio (target >= 50x) and whether the
estimates are identical (to 1e-9):

1. per-area placebo inference over all comparison LAs (Hartlepool, primary outcome):
   ``did_one_treated`` (leave-one-out sums, vectorised) vs, for each comparison LA, building
   its comparison series from the long data and computing the DiD from scratch;
2. programme randomisation inference with 10,000 placebo programmes: ``programme_did``
   (vectorised draws and sums) vs the pooled DiD refitted from the long data per programme;
3. a 9,999-draw wild cluster bootstrap of the programme TWFE (restricted, Webb, clusters =
   partnerships): ``wild_cluster_bootstrap`` (boottest algebra) vs re-estimating the TWFE
   regression (fixed effects absorbed, CR1 standard error) on every bootstrap sample.

Loops that would take minutes are timed on a sample of their iterations (``--sample``) and
scaled linearly to the full count (each iteration does the same work); the identity check uses
the sampled iterations.

    python bench/did.py [--sample 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import evaluation  # noqa: F401  (sets single-threaded BLAS before numpy loads)
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.programme import _did_combined, programme_did, programme_panel
from evaluation.inference.wild import bootstrap_weights, wild_cluster_bootstrap
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.fe import demean
from evaluation.models.twfe import twfe
from evaluation.panel.build import cached_panel
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import load_plan

PLAN = "plans/change_programme_2023.yaml"


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def naive_did(units: pd.DataFrame, treated: str, pool: list, o, pre, post) -> float:
    """The per-area DiD written directly: comparison rate from summed counts, gap, DiD."""
    years = list(pre) + list(post)
    rows = units[units["year"].isin(years)]
    comp = rows[rows["unit_id"].isin(pool)].groupby("year")[[o.numerator, o.denominator]].sum()
    comp_rate = comp[o.numerator] / comp[o.denominator] * 100
    own = rows[rows["unit_id"] == treated].set_index("year")[o.name].astype(float)
    gap = own - comp_rate
    return float(gap[post].mean() - gap[pre].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    plan = load_plan(PLAN)
    panel = cached_panel(str(plan.data_dir), plan.boundary_policy)
    units = panel.units
    pool = comparison_pool(panel, plan)
    o = CATALOGUE[plan.outcomes[0].name]
    pre, post = plan.pre_years, plan.post_years
    treated: dict[str, list[str]] = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    lines = []

    # 1. placebo-in-space over all comparison LAs -------------------------------------------
    def fast_placebo():
        return did_one_treated(
            units,
            unit="unit_id",
            time="year",
            outcome=o.name,
            treated="805",
            pre=pre,
            post=post,
            pool=pool,
            numerator=o.numerator,
            denominator=o.denominator,
        )

    t_fast, res = best(fast_placebo, args.repeat)
    dist = res.distribution[~res.distribution["is_treated"]]
    placebo_units = list(dist["unit"])

    def slow_placebo():
        return [
            naive_did(units, u, [v for v in placebo_units if v != u], o, pre, post)
            for u in placebo_units
        ]

    t_slow, slow = best(slow_placebo, 1)
    same = np.allclose(slow, dist["estimate"].to_numpy(), atol=1e-9, rtol=0)
    lines.append(("placebo-in-space, all comparison LAs", len(placebo_units), t_fast, t_slow, same))

    # 2. randomisation inference, 10,000 placebo programmes ---------------------------------
    n_perm = 10_000
    kw = dict(
        treated=treated,
        pool=pool,
        region_of=panel.regions,
        outcome=o.name,
        numerator=o.numerator,
        denominator=o.denominator,
        pre=pre,
        post=post,
        permutations=n_perm,
        seed=plan.seed,
    )
    t_fast, ri = best(lambda: programme_did(units, **kw), args.repeat)
    idx, pool_ok = ri.extra["placebo_index"], ri.extra["placebo_pool"]
    sample = min(args.sample, n_perm)

    def slow_ri():
        out = []
        for b in range(sample):
            members = [pool_ok[i] for i in idx[b]]
            rest = [u for u in pool_ok if u not in set(members)]
            est, _ = _did_combined(
                units,
                members,
                rest,
                outcome=o.name,
                numerator=o.numerator,
                denominator=o.denominator,
                pre=pre,
                post=post,
            )
            out.append(est)
        return out

    t_sample, slow = best(slow_ri, 1)
    same = np.allclose(slow, ri.distribution["estimate"].to_numpy()[:sample], atol=1e-9, rtol=0)
    lines.append(
        (
            "randomisation inference, placebo programmes",
            n_perm,
            t_fast,
            t_sample * n_perm / sample,
            same,
        )
    )

    # 3. wild cluster bootstrap, 9,999 draws ----------------------------------------------
    n_boot = 9_999
    d = programme_panel(
        units,
        treated,
        pool,
        outcome=o.name,
        numerator=o.numerator,
        denominator=o.denominator,
        years=list(pre) + list(post),
    )
    d["first_treated"] = np.where(d["pilot"] == 1, min(post), 0)
    base = twfe(
        d,
        unit="unit_id",
        time="year",
        outcome=o.name,
        first_treated="first_treated",
        weights=o.denominator,
        cluster="cluster",
    )
    fit, data = base.extra["fit"], base.extra["data"]

    def fast_wild():
        return wild_cluster_bootstrap(
            fit.y,
            fit.X,
            data["cluster"].to_numpy(),
            weights=fit.weights,
            n_boot=n_boot,
            seed=plan.seed,
            ci=False,
            small_sample=fit.cr1_factor,
            fe=fit.fe,
        )

    t_fast, boot = best(fast_wild, args.repeat)
    # the same draws, refitted: restricted model (treatment coefficient = 0) = FE only
    codes, uniq = pd.factorize(data["cluster"], sort=True)
    V, _ = bootstrap_weights(len(uniq), n_boot, "webb", plan.seed)
    y = data[o.name].to_numpy(float)
    # under the null the restricted model has no treatment term: its residuals are the
    # outcome with the fixed effects absorbed
    fe = [pd.factorize(data["unit_id"])[0], pd.factorize(data["year"])[0]]
    u_r = demean(y, fe, fit.weights)[:, 0]
    y_r = y - u_r
    sample_b = min(args.sample, n_boot)

    def slow_wild():
        out = []
        for b in range(sample_b):
            y_star = y_r + u_r * V[codes, b]
            r = twfe(
                data.assign(_y=y_star),
                unit="unit_id",
                time="year",
                outcome="_y",
                first_treated="first_treated",
                weights=o.denominator,
                cluster="cluster",
            )
            out.append(r.estimate / r.se)
        return out

    t_sample, slow = best(slow_wild, 1)
    same = np.allclose(slow, boot.t_draws[:sample_b], atol=1e-8, rtol=1e-8)
    lines.append(
        ("wild cluster bootstrap (WCR, Webb)", n_boot, t_fast, t_sample * n_boot / sample_b, same)
    )

    print(f"{'work':<46}{'n':>7}{'fast s':>10}{'loop s':>10}{'ratio':>9}  identical")
    for name, n, tf, ts, ok in lines:
        print(f"{name:<46}{n:>7}{tf:>10.3f}{ts:>10.2f}{ts / tf:>8.0f}x  {ok}")
    print("target: ratio >= 50x with identical estimates")


if __name__ == "__main__":
    main()
