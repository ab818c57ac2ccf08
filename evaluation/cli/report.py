"""``python -m evaluation report`` (one pilot area) and ``reports`` (every pilot area, the
programme overview and the index)."""

from __future__ import annotations

import argparse
import sys

from evaluation.cli.common import (
    EXIT_RENDER,
    EXIT_USAGE,
    add_plan_option,
    add_plan_seed_option,
    error,
)
from evaluation.compute import SCHEDULER_ENV


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="render the evidence report for one pilot area")
    p.add_argument(
        "--area",
        required=True,
        help="the pilot area: its slug (hartlepool), 3-digit LA code or GSS code; "
        "`python -m evaluation areas` lists them",
    )
    add_plan_option(p)
    add_plan_seed_option(p)
    p.set_defaults(run=run_report)
    p = subparsers.add_parser("reports", help="render every pilot area, the overview and the index")
    add_plan_option(p)
    add_plan_seed_option(p)
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="number of reports rendered in parallel, one process each (default: the number "
        "of CPU cores); ignored with --scheduler",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-estimate every area and re-render every page, even those whose inputs, "
        "numbers and code are unchanged (default: only what changed is redone)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running Dask scheduler (e.g. tcp://host:8786) to run the "
        f"estimation and rendering on (default: ${SCHEDULER_ENV} if set, otherwise local "
        "processes)",
    )
    p.set_defaults(run=run_reports)


def run_report(args: argparse.Namespace) -> int:
    from evaluation.report.render import ReportError, render_area

    try:
        rendered = render_area(args.area, args.plan, seed=args.seed)
    except ReportError as exc:
        return error(str(exc), EXIT_RENDER)
    print(f"Report for {rendered.area}: {rendered.html}")
    print(f"Results: {rendered.results}")
    return 0


def run_reports(args: argparse.Namespace) -> int:
    from evaluation.compute import SchedulerError
    from evaluation.report.build import render_all

    try:
        result = render_all(
            args.plan, seed=args.seed, jobs=args.jobs, force=args.force, scheduler=args.scheduler
        )
    except SchedulerError as exc:
        return error(str(exc), EXIT_USAGE)
    print(result.summary())
    print(f"{len(result.reports)} area report(s) in place; index: {result.index}")
    if result.overview:
        print(f"Programme overview: {result.overview}")
    if result.failures:
        print(
            f"error: {len(result.failures)} report(s) failed: {', '.join(result.failures)}",
            file=sys.stderr,
        )
        return EXIT_RENDER
    return 0
