"""``python -m evaluation did``: the difference-in-differences family on the analyst's own tidy
panel CSV (one row per unit and period), printed as a text summary or one JSON object."""

from __future__ import annotations

import argparse
import math

from evaluation.cli.common import (
    EXIT_DATA,
    EXIT_USAGE,
    add_alpha_option,
    add_json_option,
    error,
    print_json,
    read_data_csv,
)
from evaluation.designs.registry import COMMANDS


def register(subparsers) -> None:
    p = subparsers.add_parser("did", help="difference-in-differences on your own tidy panel CSV")
    p.add_argument("--data", required=True, help="tidy panel CSV file, one row per unit and period")
    p.add_argument("--unit", required=True, help="column of the unit (area) identifier")
    p.add_argument(
        "--time", required=True, help="column of the period, numeric (e.g. a year or month number)"
    )
    p.add_argument(
        "--outcome",
        required=True,
        help="column of the outcome; effects are in its units (percentage points for a 0-100 rate)",
    )
    p.add_argument(
        "--first-treated",
        required=True,
        help="column of each unit's first treated period, in --time units; 0 or empty = never "
        "treated",
    )
    p.add_argument(
        "--weights",
        help="column of regression weights, e.g. the rate's denominator (default: unweighted)",
    )
    p.add_argument(
        "--cluster",
        help="column of the clusters for standard errors, the wild bootstrap and "
        "randomisation (default: the unit)",
    )
    p.add_argument(
        "--method",
        default="twfe",
        choices=list(COMMANDS),
        help="estimator: twfe (two-way fixed effects), event (event study), cs "
        "(Callaway-Sant'Anna), imputation (Gardner / Borusyak-Jaravel-Spiess), sc (synthetic "
        "control), sdid (synthetic DiD), binomial (grouped-binomial logit with unit and period "
        "effects; needs --trials) (default: %(default)s)",
    )
    p.add_argument(
        "--trials",
        help="--method binomial only: column of the trials (the denominator); --outcome is "
        "then the count of successes (default: none)",
    )
    p.add_argument(
        "--control",
        default="never",
        choices=["never", "notyet"],
        help="comparison group of --method cs: never-treated or not-yet-treated units "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--covariates",
        nargs="+",
        metavar="COL",
        help="--method cs only: numeric columns for conditional parallel trends, each unit's "
        "value at the base period of each 2x2 (as R did's xformla, with an intercept) "
        "(default: none, unconditional parallel trends)",
    )
    p.add_argument(
        "--est-method",
        default="dr",
        choices=["dr", "ipw", "reg", "dr_improved"],
        help="--method cs with --covariates: dr (doubly robust, Sant'Anna-Zhao, as R did), ipw "
        "(inverse probability weighting), reg (outcome regression), dr_improved (improved "
        "doubly robust, propensity by inverse probability tilting) (default: %(default)s)",
    )
    p.add_argument(
        "--inference",
        choices=["cluster", "wild", "placebo", "ri", "score"],
        help="cluster (CR1 cluster-robust), wild (wild cluster bootstrap), placebo "
        "(placebo-in-space), ri (randomisation), score (score cluster bootstrap, --method "
        "binomial) (default: placebo for one treated unit or sc/sdid; for binomial, score "
        "when fewer than 42 clusters are treated or fewer than 42 are not; cluster otherwise)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the wild bootstrap and randomisation draws, an integer "
        "(default: %(default)s)",
    )
    add_alpha_option(p)
    p.add_argument(
        "--n-boot",
        type=int,
        default=9999,
        help="number of bootstrap draws for --inference wild or score (default: %(default)s)",
    )
    p.add_argument(
        "--n-perm",
        type=int,
        default=9999,
        help="number of random re-assignments for --inference ri; all assignments are "
        "enumerated when there are no more than this (default: %(default)s)",
    )
    add_json_option(p)
    p.set_defaults(run=run)


# the options passed on to evaluation.designs.did.estimate, under the same names
ESTIMATE_OPTIONS = (
    "unit", "time", "outcome", "first_treated", "method", "inference", "weights", "cluster",
    "control", "seed", "alpha", "n_boot", "n_perm", "covariates", "est_method", "trials",
)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from evaluation.designs.checks import caught_warnings
    from evaluation.designs.did import estimate, payload

    data = read_data_csv(args.data)
    if data is None:
        return EXIT_DATA
    try:
        # a degenerate panel is refused before any fit (DidUsageError); numerical warnings of
        # the fit go into the result's diagnostics, never to the terminal
        with caught_warnings() as seen:
            res = estimate(data, **{name: getattr(args, name) for name in ESTIMATE_OPTIONS})
    except (ValueError, ArithmeticError) as exc:  # the file was read: the design does not fit it
        return error(f"{args.data}: {exc}", EXIT_USAGE)
    if seen:
        res.diagnostics["numerical_warnings"] = seen
    if args.json:
        print_json(payload(res))
    else:
        print(res.summary())
        _print_sensitivity(res)
        if seen:
            print("Numerical warnings:\n" + "\n".join(f"  - {w}" for w in seen))
    return 0


def _print_sensitivity(res) -> None:
    """The event study's HonestDiD tables (relative magnitudes, smoothness FLCI), if any."""
    titles = {
        "honest_did": ("Sensitivity to parallel-trends violations (relative magnitudes)", "Mbar",
                       "honest_did_breakdown_mbar"),
        "honest_did_sd": ("Sensitivity to parallel-trends violations (smoothness, FLCI)", "M",
                          "honest_did_sd_breakdown_m"),
    }  # fmt: skip
    for key, (title, name, breakdown) in titles.items():
        table = res.extra.get(key)
        if table is None:
            continue
        rows = [
            (
                "conventional interval" if math.isnan(m) else f"{name} = {m:.4g}",
                f"{lo:.4g}",
                f"{hi:.4g}",
            )  # fmt: skip
            for m, lo, hi in table[["mbar", "lb", "ub"]].itertuples(index=False)
        ]
        print(f"{title}:")
        print("\n".join(f"  {label}: [{lo}, {hi}]" for label, lo, hi in rows))
        print(f"  breakdown value of {name}: {res.diagnostics.get(breakdown):.4g}")
