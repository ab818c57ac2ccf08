"""``python -m evaluation power``: minimum detectable effects (80% power) of a plan's designs,
by simulation (:func:`evaluation.designs.power_analysis.power_analysis`), written beside
``--out`` as JSON and CSV tables."""

from __future__ import annotations

import argparse

from evaluation.cli.common import add_json_option, add_plan_option, add_plan_seed_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "power",
        help="minimum detectable effects of a plan's designs, by simulation",
        description="Power and minimum detectable effect (80%% power) of an evaluation plan, by "
        "simulation from the real pre-period data (per-area and programme designs; more post "
        "years by bootstrap; more post months on the SYNTHETIC monthly panel).",
    )
    add_plan_option(p)
    add_plan_seed_option(p)
    p.add_argument(
        "--out",
        default="reports/power/power.json",
        help="path of the JSON to write; the tables go beside it as .csv and _pilots.csv "
        "(default: %(default)s)",
    )
    add_json_option(
        p,
        help_text="print the JSON to stdout instead of the summary (the files are written "
        "either way)",
    )
    p.add_argument(
        "--outcomes",
        nargs="*",
        default=None,
        help="outcome names, as in the plan (default: the plan's primary outcomes)",
    )
    p.add_argument(
        "--monthly-panel",
        default=None,
        help="EES-layout area x month panel CSV for the monthly projection "
        "(default: data/synthetic/synthetic_panel_monthly.csv)",
    )
    p.add_argument(
        "--no-monthly",
        action="store_true",
        help="skip the monthly projection (MDE as months accumulate)",
    )
    p.set_defaults(run=run, reports_own_errors=True)


def checked_inputs(args: argparse.Namespace):
    """The plan, after refusing what the analysis cannot use: an invalid plan (PlanError),
    an outcome the plan does not list, or a --monthly-panel that is not there (ValueError)."""
    from pathlib import Path

    from evaluation.panel.plan import load_plan

    plan = load_plan(args.plan)
    known = [o.name for o in plan.outcomes]
    unknown = [o for o in args.outcomes or [] if o not in known]
    if unknown:
        raise ValueError(
            f"--outcomes: {', '.join(map(repr, unknown))} not in plan {plan.name}; its outcomes "
            f"are {', '.join(known)}"
        )
    if args.outcomes is not None and not args.outcomes:
        raise ValueError(f"--outcomes needs at least one outcome name ({', '.join(known)})")
    if args.monthly_panel and not args.no_monthly and not Path(args.monthly_panel).is_file():
        raise FileNotFoundError(f"--monthly-panel {args.monthly_panel}: no such file")
    return plan


def run(args: argparse.Namespace) -> int:
    from evaluation.cli.common import EXIT_DATA, EXIT_PLAN, EXIT_USAGE, error
    from evaluation.panel.plan import PlanError

    try:
        plan = checked_inputs(args)
        return analyse(args, plan)
    except PlanError as exc:
        return error(f"invalid evaluation plan: {exc}", EXIT_PLAN)
    except OSError as exc:  # e.g. a --monthly-panel that is not there
        return error(str(exc), EXIT_DATA)
    except ValueError as exc:
        return error(str(exc), EXIT_USAGE)


def analyse(args: argparse.Namespace, plan) -> int:
    """Run the power analysis and write (and print) its results."""
    from evaluation.designs.power_analysis import power_analysis
    from evaluation.panel.build import cached_panel

    panel = cached_panel(str(plan.data_dir), plan.boundary_policy)
    res = power_analysis(
        panel,
        plan,
        seed=args.seed,
        outcomes=args.outcomes,
        monthly=False if args.no_monthly else args.monthly_panel,
    )
    paths = res.write(args.out)
    if args.json:
        print(res.to_json())
    else:
        print(summary_text(res))
        print(f"wrote {paths['json']}, {paths['csv']} and {paths['pilots_csv']}")
    return 0


def summary_text(res) -> str:
    """The text ``power`` prints without ``--json``: one line per outcome, design and horizon,
    with the spread over the pilots where the design has one."""
    import pandas as pd

    lines = [
        f"Minimum detectable effect at {round(100 * res.target)}% power, two-sided alpha "
        f"{res.alpha} (plan {res.plan_name}, seed {res.seed})"
    ]
    for r in res.rows.itertuples(index=False):
        extra = (
            f"; pilots median {r.pilots_median:.1f} (range {r.pilots_min:.1f} to {r.pilots_max:.1f})"
            if "pilots_median" in res.rows.columns and pd.notna(getattr(r, "pilots_median", None))
            else ""
        )
        lines.append(
            f"  {r.outcome} | {r.design} | {r.post_periods} post {r.timescale} ({r.basis}): "
            f"MDE {r.mde:.2f} {r.unit}{extra}"
        )
    return "\n".join(lines)
