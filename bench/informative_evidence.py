"""How informative are the per-area intervals?  Issue #14's table, measured on the shipped data.

For every planned outcome, over the 32 pilot areas: the share of intervals pinned at the 0-100
limits (an end set by the range a rate can take, not by the data), the median interval width,
and the median minimum detectable effect (80% power, ``make power``; per-area design) where
one exists, for each design built so far:

  (a) today's design: DiD against all other LAs, placebo-in-space interval;
  (c) (a) + partial pooling across the pilots (robust EBCI, designs/pooling.py).

(b) the long pre-period and (d) the similar-area pool are not built yet (printed as such).
Targets in the issue, to measure against and not to tune to: <= 5% pinned and median width
<= 25 pp for (c) on the primary outcome.

    python bench/informative_evidence.py [--plan PLAN] [--power reports/power/power.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from evaluation.designs.area_headline import headline_did
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.pooling import pooled_effects
from evaluation.panel.build import panel_for_plan
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import load_plan
from evaluation.report.text import cut_ends


def _pinned_and_width(rows: list[tuple[float, float, list | None]]) -> tuple[float, float]:
    pinned = [any(cut_ends(lo, hi, raw)) for lo, hi, raw in rows]
    widths = [hi - lo for lo, hi, _ in rows]
    return sum(pinned) / len(rows), statistics.median(widths)


def _median_mde(power: dict | None, outcome: str) -> str:
    if not power:
        return "n/a"
    vals = [
        r["mde"]
        for r in power.get("pilots", [])
        if r.get("outcome") == outcome
        and r.get("timescale") == "years"
        and r.get("post_periods") == 1
        and r.get("basis") == "observed"
        and r.get("mde") is not None
    ]
    return f"{statistics.median(vals):.1f}" if vals else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", default="plans/change_programme_2023.yaml")
    ap.add_argument("--power", default="reports/power/power.json", help="make power output")
    args = ap.parse_args()
    plan = load_plan(args.plan)
    panel = panel_for_plan(plan)
    pool = comparison_pool(panel, plan)
    power_file = Path(args.power)
    power = json.loads(power_file.read_text()) if power_file.exists() else None
    print(f"{'outcome':28} {'design':34} {'pinned':>7} {'median width':>13} {'median MDE':>11}")
    for planned in plan.outcomes:
        name = planned.name
        own, pooled_rows = [], []
        pooled = pooled_effects(panel, plan, name)
        for code in plan.pilot_codes:
            try:
                r = headline_did(panel, plan, code, pool, CATALOGUE[name])
            except ValueError:
                continue
            own.append((r.ci_low, r.ci_high, r.diagnostics.get("interval_before_bounds")))
            p = pooled.for_area(code)
            if p:
                raw = p.get("interval_before_bounds", [p["ci_low"], p["ci_high"]])
                pooled_rows.append((p["ci_low"], p["ci_high"], raw))
        label = f"{name} ({planned.role})"
        for design, rows, mde in [
            ("(a) today", own, _median_mde(power, name)),
            ("(b) long pre-period", None, ""),
            ("(c) (a) + robust EBCI", pooled_rows, "n/a"),
            ("(d) similar-area pool", None, ""),
        ]:
            if rows is None:
                print(f"{label:28} {design:34} {'not built':>7}")
                continue
            share, width = _pinned_and_width(rows)
            print(f"{label:28} {design:34} {share:7.0%} {width:13.1f} {mde:>11}")
        if pooled.ebci is not None:
            e = pooled.ebci
            print(
                f"{'':28} EBCI moments: sd of effects {e.mu2**0.5:.1f}, kurtosis {e.kappa:.0f}, "
                f"median shrinkage {e.rows['shrinkage'].median():.2f}, median parametric "
                f"width {2 * e.rows['half_length_parametric'].median():.1f}"
            )


if __name__ == "__main__":
    main()
