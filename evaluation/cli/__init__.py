"""Command line: ``python -m evaluation <command>``.

Exit codes (documented in README.md):
  0  success
  1  validate: at least one row has an error (rows quarantined)
  2  bad usage, an AREA that is not a pilot area of the plan, or (validate) a file that cannot be
     read or an unknown contract
  3  invalid evaluation plan
  4  input data could not be read
  5  the report could not be rendered
"""

from __future__ import annotations

import argparse
import sys

from evaluation.config import slugify
from evaluation.io.geography import AreaNotFoundError, load_geography
from evaluation.models.results import json_safe
from evaluation.panel.plan import PlanError, load_plan

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


def cmd_reports(args) -> int:
    from evaluation.report.render import render_all

    result = render_all(args.plan, seed=args.seed, jobs=args.jobs)
    print(f"{len(result.reports)} area report(s) written; index: {result.index}")
    if result.overview:
        print(f"Programme overview: {result.overview}")
    if result.failures:
        print(
            f"error: {len(result.failures)} report(s) failed: {', '.join(result.failures)}",
            file=sys.stderr,
        )
        return EXIT_RENDER
    return 0


def cmd_report(args) -> int:
    from evaluation.report.render import ReportError, render_area

    try:
        rendered = render_area(args.area, args.plan, seed=args.seed)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RENDER
    print(f"Report for {rendered.area}: {rendered.html}")
    print(f"Results: {rendered.results}")
    return 0


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(type(o))


def its_payload(res) -> dict:
    """The JSON object printed by ``python -m evaluation its --json``."""
    terms = res.terms
    out = {"outcome": res.outcome, "method": res.method, "family": res.extra["family"]}
    for name in ["level_change", "slope_change"]:
        if name in terms.index:
            row = terms.loc[name]
            item = {k: float(row[k]) for k in ["estimate", "se", "ci_low", "ci_high", "p_value"]}
            item["df"] = float(row["df"])
            if "ratio" in terms.columns:
                item.update(
                    ratio=float(row["ratio"]),
                    ratio_ci_low=float(row["ratio_ci_low"]),
                    ratio_ci_high=float(row["ratio_ci_high"]),
                )
            out[name] = item
    pre = terms.loc["pre_trend"]
    out["pre_trend"] = {
        k: float(pre[k]) for k in ["estimate", "se", "ci_low", "ci_high", "p_value"]
    }
    if "post_trend" in terms.index:
        post = terms.loc["post_trend"]
        out["post_trend"] = {k: float(post[k]) for k in ["estimate", "se", "ci_low", "ci_high"]}
    if "dispersion" in res.diagnostics:
        out["dispersion"] = res.diagnostics["dispersion"]
    out["cumulative_effect"] = res.diagnostics.get("cumulative_effect")
    out["conventions"] = res.conventions
    out["diagnostics"] = {
        k: v for k, v in res.diagnostics.items() if k not in {"dispersion", "cumulative_effect"}
    }
    return json_safe(out)


def cmd_its(args) -> int:
    import json

    import pandas as pd

    from evaluation.models.its import its

    try:
        data = pd.read_csv(args.data)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.data}: {exc}", file=sys.stderr)
        return EXIT_DATA
    needed = [args.time, args.outcome] + [
        c for c in [args.offset, args.trials, args.season_col, args.control_col] if c
    ]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        print(
            f"error: {args.data}: column(s) {missing} not found (columns: "
            f"{', '.join(data.columns)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    outcome = args.outcome
    if args.control_col:
        if args.family != "gaussian":
            print(
                "error: --control-col works on the difference series and needs --family gaussian",
                file=sys.stderr,
            )
            return EXIT_USAGE
        data = data.assign(_difference=data[args.outcome] - data[args.control_col])
        outcome = "_difference"
    interruption = pd.to_numeric(pd.Series([args.interruption]), errors="coerce").iloc[0]
    if pd.isna(interruption):
        print(
            f"error: --interruption must be a time value, not {args.interruption!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        res = its(
            data,
            time=args.time,
            outcome=outcome,
            interruption=float(interruption),
            family=args.family,
            method=args.method,
            offset=args.offset,
            trials=args.trials,
            effects=args.effects,
            harmonics=args.harmonics,
            season_col=args.season_col,
            season_period=args.season_period,
            hac_lags=args.hac_lags,
            ramp=args.ramp,
            washout=args.washout,
            alpha=args.alpha,
            label=args.outcome,
            seed=args.seed,
            extra_interruptions=tuple(args.extra_interruption),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    payload = its_payload(res)
    if args.control_col:
        payload["controlled"] = {
            "control_col": args.control_col,
            "note": "effects are differences: outcome minus control",
        }
    if args.json:
        print(json.dumps(payload, indent=2, default=_json_default, allow_nan=False))
    else:
        print(res.summary())
    return 0


def cmd_did(args) -> int:
    import json

    import pandas as pd

    from evaluation.designs.did import DidUsageError, estimate, payload

    try:
        data = pd.read_csv(args.data)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.data}: {exc}", file=sys.stderr)
        return EXIT_DATA
    try:
        res = estimate(
            data,
            unit=args.unit,
            time=args.time,
            outcome=args.outcome,
            first_treated=args.first_treated,
            method=args.method,
            inference=args.inference,
            weights=args.weights,
            cluster=args.cluster,
            control=args.control,
            seed=args.seed,
            alpha=args.alpha,
            n_boot=args.n_boot,
            n_perm=args.n_perm,
        )
    except DidUsageError as exc:
        print(f"error: {args.data}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"error: {args.data}: {exc}", file=sys.stderr)
        return EXIT_DATA
    if args.json:
        print(json.dumps(payload(res), indent=2, default=_json_default, allow_nan=False))
    else:
        print(res.summary())
    return 0


def cmd_validate(args) -> int:
    """Validate files against their contracts; exit 0 (no errors), 1 (errors), 2 (unreadable)."""
    import json
    from pathlib import Path

    from tqdm import tqdm

    from evaluation.contracts import ContractError, validate_file
    from evaluation.io.geography import load_geography
    from evaluation.io.readers import ReadError
    from evaluation.panel.sources import SOURCES

    plan = load_plan(args.plan)
    geo = load_geography(plan.data_dir)
    targets: list[tuple[Path, str | None]] = []
    if args.paths:
        targets = [(Path(p), args.contract) for p in args.paths]
    else:
        for key in plan.sources:
            spec = SOURCES[key]
            targets.append((plan.data_dir / "public" / spec.file, spec.contract))
        # a monthly plan reads returns files; a missing one is reported like any unreadable file
        targets += [(Path(f), plan.returns_contract) for f in plan.returns_files]
    report, worst = {"files": []}, 0
    out_dir = Path(args.quarantine_dir)
    show_bar = len(targets) > 1 or any(p.exists() and p.stat().st_size > 20e6 for p, _ in targets)
    for path, contract in tqdm(
        targets, desc="validating", unit="file", disable=not show_bar, file=sys.stderr
    ):
        try:
            result = validate_file(path, contract, geo)
        except (ReadError, ContractError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            report["files"].append({"path": str(path), "contract": contract, "error": str(exc)})
            worst = max(worst, 2)
            continue
        written = result.write_quarantine(out_dir)
        print(result.summary(), file=sys.stderr)
        by_rule: dict[tuple[str, str], int] = {}
        for f in result.findings:
            by_rule[(f.severity, f.rule)] = by_rule.get((f.severity, f.rule), 0) + 1
        for (sev, rule), n in sorted(by_rule.items()):
            example = next(f for f in result.findings if f.rule == rule)
            print(f"  {sev:<7} {rule:<28} x{n:<6} e.g. {example}", file=sys.stderr)
        if written:
            print(f"  quarantined rows with their reasons: {written}", file=sys.stderr)
        entry = result.to_dict()
        entry["path"] = str(path)
        report["files"].append(entry)
        if result.n_errors:
            worst = max(worst, 1)
    if args.report_json:
        Path(args.report_json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return worst


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
    p = sub.add_parser("reports", help="render every pilot area, the overview and the index")
    p.add_argument("--plan", default=DEFAULT_PLAN)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--jobs", type=int, default=None, help="parallel renders (default: cores)")
    p.set_defaults(func=cmd_reports)
    p = sub.add_parser("validate", help="validate files against their data contracts")
    p.add_argument("paths", nargs="*", help="files (default: the plan's sources)")
    p.add_argument("--contract", help="contract name (default: inferred from the columns)")
    p.add_argument("--report-json", help="write every finding to this JSON file")
    p.add_argument(
        "--quarantine-dir",
        default="reports/validation/quarantine",
        help="where quarantined rows are written with their reasons",
    )
    p.add_argument("--plan", default=DEFAULT_PLAN)
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("its", help="interrupted time series on your own tidy CSV")
    p.add_argument("--data", required=True)
    p.add_argument("--time", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument(
        "--interruption", required=True, help="the first time value after the interruption"
    )
    p.add_argument(
        "--family", default="gaussian", choices=["gaussian", "poisson", "quasipoisson", "binomial"]
    )
    p.add_argument(
        "--method",
        default="ar1-reml",
        choices=["ar1-reml", "ols-hac", "glsar", "ols"],
        help="gaussian only (default ar1-reml; ols-hac = Newey-West as Stata itsa)",
    )
    p.add_argument("--offset", help="exposure column; log(offset) enters the model")
    p.add_argument("--trials", help="trials column (binomial)")
    p.add_argument("--harmonics", type=int, default=0)
    p.add_argument("--season-col")
    p.add_argument("--season-period", type=float)
    p.add_argument("--hac-lags", type=int)
    p.add_argument("--effects", default="level+slope", choices=["level", "level+slope"])
    p.add_argument(
        "--control-col", help="comparison series; the model is fitted to outcome - control"
    )
    p.add_argument(
        "--extra-interruption",
        action="append",
        type=float,
        default=[],
        help="another interruption (e.g. a data break); repeat for several",
    )
    p.add_argument("--ramp", type=int, default=0, help="phase-in periods for the level change")
    p.add_argument("--washout", type=int, default=0, help="post periods left out of the fit")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (ar1-reml)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_its)
    p = sub.add_parser("did", help="difference-in-differences on your own tidy panel CSV")
    p.add_argument("--data", required=True)
    p.add_argument("--unit", required=True)
    p.add_argument("--time", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument(
        "--first-treated", required=True, help="first treated period; 0 or empty = never treated"
    )
    p.add_argument("--weights", help="weights column (e.g. the rate's denominator)")
    p.add_argument("--cluster", help="cluster column (default: the unit)")
    p.add_argument(
        "--method", default="twfe", choices=["twfe", "event", "cs", "imputation", "sc", "sdid"]
    )
    p.add_argument("--control", default="never", choices=["never", "notyet"], help="cs only")
    p.add_argument(
        "--inference",
        choices=["cluster", "wild", "placebo", "ri"],
        help="default: placebo for one treated unit or sc/sdid, cluster otherwise",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--n-boot", type=int, default=9999, help="wild bootstrap draws")
    p.add_argument("--n-perm", type=int, default=9999, help="randomisation draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_did)
    for name, (_, text) in DELEGATED.items():
        # listed for --help only: main() hands these to their own parsers before parsing
        sub.add_parser(name, help=f"{text}; --help for options", add_help=False)
    return parser


# Sub-commands with their own argument parsers (and exit codes): name -> (module, help).
DELEGATED = {
    "cases": ("evaluation.panel.cases", "case-level records -> area x period panel (EES layout)"),
    "synth": ("evaluation.demo.synthetic_returns", "write realistic SYNTHETIC case-level returns (demo data)"),
    "power": ("evaluation.designs.power", "minimum detectable effects of a plan's designs, by simulation"),
}


def _delegate(command: str, argv: list[str]) -> int:
    import importlib

    module = importlib.import_module(DELEGATED[command][0])
    return int(module.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
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
