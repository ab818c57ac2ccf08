"""Benchmark the report renderer; prints two ratios, each against a baseline measured in this
same run:

1. one area report (``render_area``) against a bare papermill + nbconvert render of an empty
   notebook on the same kernel (target <= 1.5);
2. all pilot areas with ``render_all`` (parallel, shared panel, one kernel per worker) against
   32 x the single-report time (target <= 0.25).

It also prints the floor under each ratio on this machine, from two more measurements in the
same run, so a missed target can be told apart from a slow implementation:

- a notebook whose only cell imports the analysis stack (pandas, scipy, statsmodels,
  matplotlib via ``evaluation.area`` and ``evaluation.sections``), rendered like the bare one:
  no report that uses the stack in its kernel can be faster than this, so ``stack / bare`` is
  the floor under ratio 1;
- the per-area work ``single - stack`` (evaluation, charts, export) can be spread over the
  worker processes but not shared, so ``all >= n x (single - stack) / jobs`` and
  ``(single - stack) / (jobs x single)`` is the floor under ratio 2 (before the overview, the
  shared panel and the workers' own start-up are added).

    python bench/reports.py [--areas N] [--jobs J]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm
from nbformat.v4 import new_code_cell, new_notebook

from evaluation.report.render import export_html, kernel_name, render_all, render_area

PLAN = "plans/change_programme_2023.yaml"
STACK = "import evaluation.designs.area, evaluation.report.sections"  # what every report kernel must import


def bare_render(tmp: Path, source: str = "x = 1") -> float:
    """papermill + nbconvert of a one-cell notebook on the project's kernel (seconds)."""
    nb = new_notebook(cells=[new_code_cell(source)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    src, out = tmp / "empty.ipynb", tmp / "empty.out.ipynb"
    nbformat.write(nb, src)
    t = time.perf_counter()
    pm.execute_notebook(str(src), str(out), kernel_name=kernel_name(), progress_bar=False)
    export_html(out, "empty")
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--areas", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bare = min(bare_render(tmp) for _ in range(args.repeat))
        stack = min(bare_render(tmp, STACK) for _ in range(args.repeat))
        singles = []
        for i in range(args.repeat):
            t = time.perf_counter()
            render_area("hartlepool", PLAN, out_root=tmp / f"single{i}")
            singles.append(time.perf_counter() - t)
        single = min(singles)
        from evaluation.panel.plan import load_plan

        codes = load_plan(PLAN).pilot_codes[: args.areas]
        t = time.perf_counter()
        result = render_all(PLAN, out_root=tmp / "all", jobs=args.jobs, progress=False, areas=codes)
        everything = time.perf_counter() - t
        n = len(codes)
        jobs = max(1, min(args.jobs or os.cpu_count() or 1, n))
        per_area = max(single - stack, 0.0)
        print(f"machine: {os.cpu_count()} cores; make reports used {jobs} worker(s)")
        print(f"bare papermill + nbconvert (empty notebook): {bare:.2f} s")
        print(f"the same, one cell importing the stack:      {stack:.2f} s")
        print(f"one area report:                             {single:.2f} s")
        print(f"ratio single / bare: {single / bare:.2f}  (target <= 1.5)")
        print(f"  floor (stack imports alone / bare):        {stack / bare:.2f}")
        print(
            f"all {n} areas + overview + index:            {everything:.2f} s "
            f"({len(result.reports)} ok, {len(result.failures)} failed)"
        )
        print(f"ratio all / ({n} x single): {everything / (n * single):.2f}  (target <= 0.25)")
        print(
            f"  floor (per-area work {per_area:.2f} s spread over {jobs} worker(s)): "
            f"{per_area / (jobs * single):.2f}"
        )


if __name__ == "__main__":
    main()
