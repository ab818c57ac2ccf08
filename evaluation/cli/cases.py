"""``python -m evaluation cases``: validate case-level records and derive the area x period
panel in the EES layout (:func:`evaluation.panel.cases.cases_to_panel`).

Exit 0: panel written, no errors; 1: panel written but some rows were quarantined or other
errors found (see stderr and the quarantine files), or no record was accepted; 2: bad usage or
a file that cannot be read.
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
    p.add_argument("files", nargs="+", help="case-level CSV/XLSX/ODS files")
    p.add_argument("--freq", default="month", choices=FREQS)
    p.add_argument("--out", required=True, help="panel CSV to write")
    p.add_argument("--cutoff", help="data cut-off YYYY-MM-DD (default: end of the latest month)")
    p.add_argument("--start", help="first period to report, e.g. 2021-01 (default: earliest)")
    add_quarantine_dir_option(p)
    p.set_defaults(run=run, reports_own_errors=True)


def cutoff_and_start(args: argparse.Namespace):
    """``--cutoff`` as a date and ``--start`` (YYYY-MM or YYYY-MM-DD) as a Timestamp, each None
    when not given (ValueError on a bad date)."""
    import datetime as dt

    import pandas as pd

    cutoff = dt.date.fromisoformat(args.cutoff) if args.cutoff else None
    start = (
        pd.Timestamp(args.start + ("-01" if len(args.start) == 7 else "")) if args.start else None
    )
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
