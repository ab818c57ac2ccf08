"""Benchmark: ingest, validate and aggregate 1,000,000 case-level records to area x month.

Generates the records with the synthetic generator (timed too: the target is well under 20 s),
then prints, measured in this run on this machine:

* time ratio: ``cases_to_panel`` (read + contract validation + aggregation) over
  ``pandas.read_csv(engine="pyarrow")`` of the same file (best of ``--repeat``); target <= 3;
* memory ratio: the peak resident memory that ``cases_to_panel`` adds to a fresh Python process
  (after imports) over the file size; target <= 4.  The same figure for ``read_csv`` is printed
  for reference.  Peaks are ``VmHWM`` (resident high-water mark) of a fresh subprocess (Linux,
  /proc/self/status), so pyarrow's and numpy's allocations are included, which tracemalloc
  would miss (``ru_maxrss`` is not used: it keeps the parent's peak across exec).

    python bench/cases.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

PEAK = r"""
import json, sys, time
import pandas as pd
from evaluation.panel.cases import cases_to_panel
from evaluation.io.geography import load_geography
geo = load_geography()
def status_kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
before = status_kb("VmRSS")
t = time.perf_counter()
if sys.argv[1] == "baseline":
    frame = pd.read_csv(sys.argv[2], engine="pyarrow")
    rows = len(frame)
else:
    panel, info = cases_to_panel([sys.argv[2]], "month", geo=geo)
    rows = info.rows_in
seconds = time.perf_counter() - t
peak = status_kb("VmHWM")  # high-water mark of this process image (ru_maxrss survives exec)
print(json.dumps({"before_kb": before, "peak_kb": peak, "rows": rows, "seconds": seconds}))
"""


def peak_memory(mode: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PEAK, mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_file(path: Path, rows: int, seed: int) -> tuple[float, int]:
    """Write about ``rows`` synthetic records (the generator at a matching scale, then the
    first ``rows``); returns (generation seconds, rows written)."""
    from evaluation.demo.synthetic_returns import (
        default_effects,
        generate_cases,
        la_baselines,
        write_csv,
    )
    from evaluation.io.geography import load_geography

    geo = load_geography()
    base = la_baselines(geo=geo)
    per_unit = 830_000  # records at scale 1 (2020-2025 with the burn-in year)
    t = time.perf_counter()
    result = generate_cases(
        base, seed=seed, scale=rows / per_unit * 1.02, effects=default_effects(), geo=geo
    )
    gen = time.perf_counter() - t
    records = result.records.iloc[:rows]
    write_csv(records, path)
    return gen, len(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from evaluation.io.geography import load_geography
    from evaluation.panel.cases import cases_to_panel

    geo = load_geography()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.csv"
        gen, rows = make_file(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1e6
        base, ours = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            pd.read_csv(path, engine="pyarrow")
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            panel, info = cases_to_panel([path], "month", geo=geo)
            ours.append(time.perf_counter() - t)
        assert info.balanced() and info.rows_in == rows, info.summary()
        mem_base = peak_memory("baseline", path)
        mem_ours = peak_memory("cases", path)
        b, o = min(base), min(ours)
        add_base = (mem_base["peak_kb"] - mem_base["before_kb"]) / 1e3
        add_ours = (mem_ours["peak_kb"] - mem_ours["before_kb"]) / 1e3
        print(f"rows: {rows:,}  file: {size_mb:.0f} MB  (time: best of {args.repeat})")
        print(f"generate  synthetic records (vectorised):      {gen:.2f} s")
        print(f"baseline  pandas.read_csv(engine='pyarrow'):   {b:.2f} s")
        print(f"cases     read + validate + aggregate (month): {o:.2f} s")
        print(f"time ratio cases / baseline: {o / b:.2f}  (target <= 3)")
        print(
            f"peak memory added (fresh process): read_csv {add_base:.0f} MB "
            f"({add_base / size_mb:.2f}x file), cases {add_ours:.0f} MB"
        )
        print(f"memory ratio cases peak / file size: {add_ours / size_mb:.2f}  (target <= 4)")
        print(info.summary())
        print(f"panel: {len(panel)} rows")


if __name__ == "__main__":
    main()
