"""``python -m evaluation areas``: list the pilot areas of a plan and the names AREA accepts."""

from __future__ import annotations

import argparse

from evaluation.cli.common import add_plan_option


def register(subparsers) -> None:
    p = subparsers.add_parser("areas", help="list the pilot areas of a plan")
    add_plan_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from evaluation.config import slugify
    from evaluation.io.geography import load_geography
    from evaluation.panel.plan import load_plan

    plan = load_plan(args.plan)
    geo = load_geography(plan.data_dir)
    print(f"Pilot areas in {plan.name} (AREA accepts the slug, the 3-digit code or the GSS code):")
    print(f"  {'slug':<28} {'code':<5} {'GSS':<10} partnership")
    for p in sorted(plan.pilots, key=lambda p: (p.partnership, p.la_name)):
        name = geo.name_for_code(p.la_code) or p.la_name
        print(
            f"  {slugify(name):<28} {p.la_code:<5} {geo.current_gss(p.la_code):<10} {p.partnership}"
        )
    return 0
