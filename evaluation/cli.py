"""Command line: ``python -m evaluation <command>``.

Exit codes (documented in README.md):
  0  success
  2  bad usage or an AREA that is not a pilot area of the plan
  3  invalid evaluation plan
  4  input data could not be read
  5  the report could not be rendered
"""

from __future__ import annotations

import argparse
import sys

from .geography import AreaNotFoundError, load_geography, slugify
from .plan import PlanError, load_plan

EXIT_USAGE, EXIT_PLAN, EXIT_DATA, EXIT_RENDER = 2, 3, 4, 5
DEFAULT_PLAN = "plans/change_programme_2023.yaml"


def cmd_areas(args) -> int:
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


def cmd_report(args) -> int:
    from .reports import ReportError, render_area

    try:
        rendered = render_area(args.area, args.plan, seed=args.seed)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RENDER
    print(f"Report for {rendered.area}: {rendered.html}")
    print(f"Results: {rendered.results}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation", description="SEND test-and-learn evaluation toolkit"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("areas", help="list the pilot areas of a plan")
    p.add_argument("--plan", default=DEFAULT_PLAN)
    p.set_defaults(func=cmd_areas)
    p = sub.add_parser("report", help="render the evidence report for one pilot area")
    p.add_argument("--area", required=True, help="slug (hartlepool), 3-digit code or GSS code")
    p.add_argument("--plan", default=DEFAULT_PLAN)
    p.add_argument("--seed", type=int, default=None, help="default: the plan's seed")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AreaNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PlanError as exc:
        print(f"error: invalid evaluation plan: {exc}", file=sys.stderr)
        return EXIT_PLAN
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATA


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
