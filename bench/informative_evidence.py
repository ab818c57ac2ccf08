"""How informative are the per-area intervals?  Issue #14's table, measured on the shipped data.

For every planned outcome, over the 32 pilot areas: the share of intervals pinned at the 0-100
limits (an end set by the range a rate can take, not by the data), the median interval width,
and the median minimum detectable effect (80% power, ``make power``; per-area design) where
one exists, for each design built so far:

  (a) the earlier design: DiD against all other LAs on the 2019-2022 pre-period (the plan's
      fallback), placebo-in-space interval;
  (b) the long pre-period (each outcome from its first comparable year, designs/pre_period.py),
      the plan's default where the in-time placebo check passes;
  (c) (b) + partial pooling across the pilots (robust EBCI, designs/pooling.py);
  (d) (b) with the similar-area comparison pool (designs/similar_areas.py).

The median MDEs are computed here by the power analysis (observed design, one post year) on
the plan as it is and on the plan with its pre-period set to the fallback.
Targets in the issue, to measure against and not to tune to: <= 5% pinned and median width
<= 25 pp for (c) on the primary outcome.

    python bench/informative_evidence.py [--plan PLAN] [--no-mde]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from evaluation.designs.area_headline import headline_did
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pooling import pooled_effects
from evaluation.designs.power_analysis import power_analysis
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.designs.similar_areas import similar_area_did
from evaluation.panel.build import panel_for_plan
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import load_plan
from evaluation.report.text import cut_ends


def _pinned_and_width(rows: list[tuple[float, float, list | None]]) -> tuple[float, float]:
    pinned = [any(cut_ends(lo, hi, raw)) for lo, hi, raw in rows]
    widths = [hi - lo for lo, hi, _ in rows]
    return sum(pinned) / len(rows), statistics.median(widths)


def _median_mdes(panel, plan) -> dict[str, str]:
    """Median per-pilot MDE (observed design, one post year) of every outcome."""
    names = [o.name for o in plan.outcomes]
    pa = power_analysis(panel, plan, outcomes=names, years=(1,), months=(), monthly=False)
    out = {}
    for name in names:
        vals = [
            r["mde"]
            for r in pa.to_dict().get("pilots", [])
            if r.get("outcome") == name
            and r.get("timescale") == "years"
            and r.get("basis") == "observed"
            and r.get("mde") is not None
        ]
        out[name] = f"{statistics.median(vals):.1f}" if vals else "n/a"
    return out


def _row(r) -> tuple:
    return (r.ci_low, r.ci_high, r.diagnostics.get("interval_before_bounds"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", default="plans/change_programme_2023.yaml")
    ap.add_argument("--no-mde", action="store_true", help="skip the power analyses (faster)")
    args = ap.parse_args()
    plan = load_plan(args.plan)
    panel = panel_for_plan(plan)
    pool = comparison_pool(panel, plan)
    short = replace(plan, pre=plan.fallback_pre or plan.pre, fallback_pre=None)
    mde_long = {} if args.no_mde else _median_mdes(panel, plan)
    mde_short = {} if args.no_mde else _median_mdes(panel, short)
    print(f"{'outcome':28} {'design':34} {'pinned':>7} {'median width':>13} {'median MDE':>11}")
    for planned in plan.outcomes:
        name, o = planned.name, CATALOGUE[planned.name]
        chosen = chosen_pre_period(panel, plan, name)
        rows = {"a": [], "b": [], "c": [], "d": []}
        pooled = pooled_effects(panel, plan, name)
        for code in plan.pilot_codes:
            for key, fit, args in [
                ("a", headline_did, (panel, short, code, pool, o)),
                ("b", headline_did, (panel, plan, code, pool, o)),
                ("d", similar_area_did, (panel, plan, code, pool, o, chosen.years)),
            ]:
                try:
                    rows[key].append(_row(fit(*args)))
                except ValueError:
                    continue
            p = pooled.for_area(code)
            if p:
                raw = p.get("interval_before_bounds", [p["ci_low"], p["ci_high"]])
                rows["c"].append((p["ci_low"], p["ci_high"], raw))
        label = f"{name} ({planned.role})"
        span = f"{chosen.years[0]}-{chosen.years[-1]}"
        for key, design, mde in [
            ("a", f"(a) pre-period {short.pre[0]}-{short.pre[1]}", mde_short.get(name, "")),
            ("b", f"(b) long pre-period {span}", mde_long.get(name, "")),
            ("c", "(c) (b) + robust EBCI", "n/a"),
            ("d", "(d) (b), similar-area pool", "n/a"),
        ]:
            share, width = _pinned_and_width(rows[key])
            print(f"{label:28} {design:34} {share:7.0%} {width:13.1f} {mde:>11}")
        print(f"{'':28} pre-period: {chosen.reason}")
        if pooled.ebci is not None:
            e = pooled.ebci
            print(
                f"{'':28} EBCI moments: sd of effects {e.mu2**0.5:.1f}, kurtosis {e.kappa:.0f}, "
                f"median shrinkage {e.rows['shrinkage'].median():.2f}, median parametric "
                f"width {2 * e.rows['half_length_parametric'].median():.1f}"
            )


if __name__ == "__main__":
    main()
