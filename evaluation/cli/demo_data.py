"""``python -m evaluation demo-data``: write realistic SYNTHETIC case-level returns for every LA
(clearly labelled; :mod:`evaluation.demo.synthetic_returns`).

``synth`` is the deprecated old name of the command: it still works and warns on stderr.
Exit 0 on success, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys

from evaluation.cli.common import EXIT_USAGE, error
from evaluation.config import PROJECT_ROOT

DEPRECATED_ALIAS = "synth"
# evaluation.demo.synthetic_returns.DEFAULT_SCALE, DEFAULT_EFFECT_PP and DEFAULT_PLAN, repeated
# so that building the parser needs no pandas (a test checks that they agree)
DEFAULT_SCALE = 1.0
DEFAULT_EFFECT_PP = 10.0
DEFAULT_EFFECT_PLAN = PROJECT_ROOT / "plans" / "change_programme_2023.yaml"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo-data",
        aliases=[DEPRECATED_ALIAS],
        help="write realistic SYNTHETIC case-level returns (demo data)",
        description="Generate SYNTHETIC case-level returns for every LA (clearly labelled).",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=20230901,
        help="random seed, an integer; the same seed gives the same records (default: %(default)s)",
    )
    p.add_argument(
        "--out", default="data/synthetic", help="output directory (default: %(default)s)"
    )
    p.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help="multiplier of the published request volumes, a positive number "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--start", default="2021-01", help="first analysed month, YYYY-MM (default: %(default)s)"
    )
    p.add_argument(
        "--end",
        default="2025-12",
        help="last month, YYYY-MM; the data cut-off is its last day (default: %(default)s)",
    )
    p.add_argument(
        "--burn-in",
        type=int,
        default=12,
        help="months generated before --start, so that cases open at --start have a history "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--effect-pp",
        type=float,
        default=DEFAULT_EFFECT_PP,
        help="true pilot effect on the within-20-weeks probability, in percentage points, for "
        "requests received from the pilot's start month (default: %(default)s)",
    )
    p.add_argument(
        "--plan",
        default=str(DEFAULT_EFFECT_PLAN),
        help="evaluation plan whose pilots get the effect (default: "
        "plans/change_programme_2023.yaml)",
    )
    p.add_argument("--no-effect", action="store_true", help="no true effect anywhere")
    p.add_argument(
        "--name",
        default="synthetic_cases",
        help="file stem: writes NAME.csv and NAME.intended.csv (default: %(default)s)",
    )
    p.set_defaults(run=run, reports_own_errors=True)


def run(args: argparse.Namespace) -> int:
    from evaluation.config import DEFAULT_DATA_DIR
    from evaluation.demo.synthetic_returns import (
        default_effects,
        generate_cases,
        la_baselines,
        write_synthetic,
    )
    from evaluation.io.geography import load_geography

    if args.command == DEPRECATED_ALIAS:
        print(f"warning: '{DEPRECATED_ALIAS}' is deprecated; use 'demo-data'", file=sys.stderr)
    geo = load_geography(DEFAULT_DATA_DIR)
    try:
        effects = {} if args.no_effect else default_effects(args.plan, args.effect_pp)
        result = generate_cases(
            la_baselines(DEFAULT_DATA_DIR, geo),
            seed=args.seed,
            start=args.start,
            end=args.end,
            burn_in_months=args.burn_in,
            scale=args.scale,
            effects=effects,
            geo=geo,
        )
    except ValueError as exc:
        return error(str(exc), EXIT_USAGE)
    paths = write_synthetic(result, args.out, args.name)
    s = result.settings
    print(
        f"SYNTHETIC: {s['n_records']:,} records for {s['n_las']} LAs -> {paths['cases']}; "
        f"intended counts -> {paths['intended']}"
    )
    return 0
