"""Benchmark: validate 1,000,000 case-level records against the case_records contract.

Prints the time to validate (read + all checks) and the ratio to the time
``pandas.read_csv(engine="pyarrow")`` needs just to read the same file, both measured in this
run on this machine.  Target: ratio <= 3.

    python bench/validate_cases.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.contracts import validate_file


def make_cases(n: int, seed: int = 20230901) -> pd.DataFrame:
    """Synthetic, clean case-level records (seeded): request -> decision -> assessment -> plan."""
    rng = np.random.default_rng(seed)
    la = rng.choice(["805", "841", "840", "390", "808", "352", "353", "354", "358", "384"], n)
    received = np.datetime64("2023-01-02") + rng.integers(0, 700, n).astype("timedelta64[D]")
    decision = received + rng.integers(10, 60, n).astype("timedelta64[D]")
    outcome = rng.choice(["assess", "not_assess", "withdrawn", ""], n, p=[0.7, 0.22, 0.03, 0.05])
    assessed = outcome == "assess"
    a_out = np.where(
        assessed,
        rng.choice(["issued", "not_issued", "withdrawn", ""], n, p=[0.85, 0.08, 0.02, 0.05]),
        "",
    )
    a_date = decision + rng.integers(30, 150, n).astype("timedelta64[D]")
    issued = a_out == "issued"
    plan = a_date + rng.integers(0, 30, n).astype("timedelta64[D]")

    def iso(d, mask):
        s = pd.Series(d).dt.strftime("%Y-%m-%d")
        return s.where(mask, "")

    return pd.DataFrame(
        {
            "case_id": [f"C{i:08d}" for i in range(n)],
            "la_code": la,
            "request_received_date": iso(received, np.ones(n, bool)),
            "request_outcome": outcome,
            "request_outcome_date": iso(decision, outcome != ""),
            "assessment_outcome": a_out,
            "assessment_outcome_date": iso(a_date, a_out != ""),
            "plan_issue_date": iso(plan, issued),
            "exception_20wk": rng.choice(["0", "1"], n, p=[0.93, 0.07]),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.csv"
        make_cases(args.rows).to_csv(path, index=False)
        size = path.stat().st_size / 1e6
        base, ours = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            pd.read_csv(path, engine="pyarrow")
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = validate_file(path, "case_records")
            ours.append(time.perf_counter() - t)
        assert result.balanced() and result.rows_in == args.rows, result.summary()
        b, o = min(base), min(ours)
        print(f"rows: {args.rows:,}  file: {size:.0f} MB  (best of {args.repeat})")
        print(f"baseline  pandas.read_csv(engine='pyarrow'): {b:.2f} s")
        print(f"validate  read + contract checks:             {o:.2f} s")
        print(f"ratio validate / baseline: {o / b:.2f}  (target <= 3)")
        print(result.summary())


if __name__ == "__main__":
    main()
