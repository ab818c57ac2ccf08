"""``python -m evaluation did``: the difference-in-differences family on the analyst's own tidy
panel CSV (one row per unit and period), printed as a text summary or one JSON object."""

from __future__ import annotations

import argparse

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
    p.add_argument("--data", required=True)
    p.add_argument("--unit", required=True)
    p.add_argument("--time", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument(
        "--first-treated", required=True, help="first treated period; 0 or empty = never treated"
    )
    p.add_argument("--weights", help="weights column (e.g. the rate's denominator)")
    p.add_argument("--cluster", help="cluster column (default: the unit)")
    p.add_argument("--method", default="twfe", choices=list(COMMANDS))
    p.add_argument("--control", default="never", choices=["never", "notyet"], help="cs only")
    p.add_argument(
        "--inference",
        choices=["cluster", "wild", "placebo", "ri"],
        help="default: placebo for one treated unit or sc/sdid, cluster otherwise",
    )
    p.add_argument("--seed", type=int, default=0)
    add_alpha_option(p)
    p.add_argument("--n-boot", type=int, default=9999, help="wild bootstrap draws")
    p.add_argument("--n-perm", type=int, default=9999, help="randomisation draws")
    add_json_option(p)
    p.set_defaults(run=run)


# the options passed on to evaluation.designs.did.estimate, under the same names
ESTIMATE_OPTIONS = (
    "unit", "time", "outcome", "first_treated", "method", "inference", "weights", "cluster",
    "control", "seed", "alpha", "n_boot", "n_perm",
)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from evaluation.designs.did import DidUsageError, estimate, payload

    data = read_data_csv(args.data)
    if data is None:
        return EXIT_DATA
    try:
        res = estimate(data, **{name: getattr(args, name) for name in ESTIMATE_OPTIONS})
    except DidUsageError as exc:
        return error(f"{args.data}: {exc}", EXIT_USAGE)
    except ValueError as exc:
        return error(f"{args.data}: {exc}", EXIT_DATA)
    if args.json:
        print_json(payload(res))
    else:
        print(res.summary())
    return 0
