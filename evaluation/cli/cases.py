"""``python -m evaluation cases``: validate case-level records and derive the area x period
panel in the EES layout (:func:`evaluation.panel.cases.cases_to_panel`).

Exit 0: panel written, no errors; 1: panel written but some rows were quarantined or other
errors found (see stderr and the quarantine files), or no record was accepted; 2: bad usage, a
file that cannot be read, or a file that lacks a column case records must have (no panel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.cli.common import EXIT_USAGE, add_quarantine_dir_option, error

# evaluation.panel.cases.FREQS, repeated so that building the parser needs no pandas (a test
# checks that the two agree)
FREQS = ("month", "quarter", "year")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cases",
        help="case-level records -> area x period panel (EES layout)",
        description="Validate case-level records and derive the area x period panel (EES layout).",
    )
    p.add_argument("files", nargs="+", help="case-level CSV/XLSX/ODS files, one record per request")
    p.add_argument(
        "--freq",
        default="month",
        choices=FREQS,
        help="length of the panel's periods (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="path of the panel CSV to write")
    p.add_argument(
        "--cutoff", help="data cut-off date, YYYY-MM-DD (default: the end of the latest month)"
    )
    p.add_argument(
        "--start",
        help="first period to report, YYYY-MM or YYYY-MM-DD, e.g. 2021-01 (default: the earliest)",
    )
    add_quarantine_dir_option(p)
    p.set_defaults(run=run, reports_own_errors=True)


def cutoff_and_start(args: argparse.Namespace):
    """``--cutoff`` as a date and ``--start`` (YYYY-MM or YYYY-MM-DD) as a Timestamp, each None
    when not given (ValueError on a bad date)."""
    import datetime as dt

    import pandas as pd

    try:
        cutoff = dt.date.fromisoformat(args.cutoff) if args.cutoff else None
    except ValueError as exc:
        raise ValueError(
            f"--cutoff must be a date YYYY-MM-DD, not {args.cutoff!r} ({exc})"
        ) from None
    try:
        start = (
            pd.Timestamp(args.start + ("-01" if len(args.start) == 7 else ""))
            if args.start
            else None
        )
    except ValueError as exc:
        raise ValueError(
            f"--start must be a month YYYY-MM (or a date YYYY-MM-DD), not {args.start!r} ({exc})"
        ) from None
    return cutoff, start


def write_panel(panel, out: Path) -> None:
    """Write the panel CSV through a temporary file, so a failed write leaves no partial file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    panel.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(out)


def run(args: argparse.Namespace) -> int:
    from evaluation.io.readers import ReadError
    from evaluation.panel.cases import cases_to_panel

    try:
        cutoff, start = cutoff_and_start(args)
        panel, info = cases_to_panel(args.files, args.freq, cutoff, start=start)
    except (ReadError, ValueError) as exc:
        return error(str(exc), EXIT_USAGE)
    refused = [f for r in info.results for f in r.findings if f.rule == "required_columns"]
    if refused:  # not a case-records file: nothing to count, no panel, nothing quarantined
        for f in refused:
            print(
                f"error: {f.file} is not a case-records file: it lacks column(s) {f.column} of "
                "data_contracts/case_records.yaml; add them (or check the file), and no panel "
                "was written",
                file=sys.stderr,
            )
        return EXIT_USAGE
    for result in info.results:
        print(result.summary(), file=sys.stderr)
        written = result.write_quarantine(args.quarantine_dir)
        if written:
            print(f"  quarantined rows with their reasons: {written}", file=sys.stderr)
    for f in info.findings:
        print(f"  {f}", file=sys.stderr)
    if panel.empty:
        print("error: no record was accepted, so no panel was written", file=sys.stderr)
        return 1
    out = Path(args.out)
    write_panel(panel, out)
    print(info.summary(), file=sys.stderr)
    print(f"Panel ({len(panel)} rows): {out}")
    return 1 if info.n_errors else 0
