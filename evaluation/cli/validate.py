"""``python -m evaluation validate``: check files against their data contracts, write the
quarantined rows with their reasons and, on request, every finding as JSON.

Exit 0: no errors; 1: at least one row has an error (rows quarantined); 2: a file that cannot
be read, an unknown contract, or a file no contract fits exactly (the closest is named, with the
columns it lacks) or that fits two equally (name one with ``--contract``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.cli.common import add_plan_option, add_quarantine_dir_option


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="validate files against their data contracts")
    p.add_argument(
        "paths", nargs="*", help="CSV/XLSX/ODS files to check (default: the plan's input files)"
    )
    p.add_argument(
        "--contract",
        help="contract name, a file stem in data_contracts/ (default: inferred from each file's "
        "columns)",
    )
    p.add_argument(
        "--report-json", help="write every finding to this JSON file (default: none written)"
    )
    add_quarantine_dir_option(p)
    add_plan_option(p)
    p.set_defaults(run=run)


def validation_targets(args: argparse.Namespace, plan) -> list[tuple[Path, str | None]]:
    """(file, contract) pairs: the files named on the command line, else the plan's sources
    and returns files (contract None: inferred from the columns)."""
    from evaluation.panel.sources import SOURCES

    if args.paths:
        return [(Path(p), args.contract) for p in args.paths]
    targets: list[tuple[Path, str | None]] = []
    for key in plan.sources:
        spec = SOURCES[key]
        targets.append((plan.data_dir / "public" / spec.file, spec.contract))
    # a monthly plan reads returns files; a missing one is reported like any unreadable file
    targets += [(Path(f), plan.returns_contract) for f in plan.returns_files]
    return targets


def print_findings_by_rule(result) -> None:
    """One stderr line per (severity, rule): how many findings, and the first as an example."""
    by_rule: dict[tuple[str, str], int] = {}
    for f in result.findings:
        by_rule[(f.severity, f.rule)] = by_rule.get((f.severity, f.rule), 0) + 1
    for (sev, rule), n in sorted(by_rule.items()):
        example = next(f for f in result.findings if f.rule == rule)
        print(f"  {sev:<7} {rule:<28} x{n:<6} e.g. {example}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Validate files against their contracts; exit 0 (no errors), 1 (errors), 2 (unreadable)."""
    import json

    from tqdm import tqdm

    from evaluation.contracts import ContractError, ContractInferenceError, validate_file
    from evaluation.io.geography import load_geography
    from evaluation.io.readers import ReadError
    from evaluation.panel.plan import load_plan

    plan = load_plan(args.plan)
    geo = load_geography(plan.data_dir)
    targets = validation_targets(args, plan)
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
            entry = {"path": str(path), "contract": contract, "error": str(exc)}
            if isinstance(exc, ContractInferenceError):  # which contract is closest, and why not
                entry |= {"closest_contracts": exc.closest, "missing_columns": exc.missing}
            report["files"].append(entry)
            worst = max(worst, 2)
            continue
        written = result.write_quarantine(out_dir)
        print(result.summary(), file=sys.stderr)
        print_findings_by_rule(result)
        if written:
            print(f"  quarantined rows with their reasons: {written}", file=sys.stderr)
        entry = result.to_dict()
        entry["path"] = str(path)
        report["files"].append(entry)
        if result.n_errors:
            worst = max(worst, 1)
    if args.report_json:
        report_path = Path(args.report_json)
        # e.g. reports/validation/ on a fresh clone (make validate): create it, do not fail
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return worst
