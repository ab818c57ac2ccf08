"""Benchmark ``make reports`` (evaluation/report/build.py) and one report, against floors
measured in this same run on this machine.  Prints:

* P1  one report, data and estimates cached (``render_area``) / the stack-import floor: a
  one-cell notebook that only imports the analysis stack, rendered the same way (target 1.5);
* P2  every pilot area + overview + index, cold (an empty cache: the panel, the shared fits,
  every estimate and every chart are made) / the per-core floor: the seconds of the per-area
  tasks (estimate, finish, render) summed and divided by the workers, plus the overview task
  (target 1.25).  The tighter floor, all task seconds / workers, is printed beside it;
* P2w a second run with nothing changed / cold (target 0.1);
* P2i one pilot's return edited (Hartlepool's 2024 timeliness) / cold (target 0.3), with how
  many areas were re-estimated and pages re-rendered;
* the peak resident memory of the whole process tree (this process, the workers and their
  kernels) during the cold run, sampled from /proc every 0.1 s;
* where the time goes: each run's steps and the task totals.

The run works on a copy of the shipped data (so the edit never touches it) and a cache of its
own (``SEND_EVALUATION_CACHE``), so "cold" is cold and the project's ``.cache/`` is untouched.

    python bench/reports.py [--areas N] [--jobs J] [--repeat R]
"""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="bench-reports-cache-")
os.environ["SEND_EVALUATION_CACHE"] = _CACHE  # before evaluation is imported (config reads it)

import argparse  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import papermill as pm  # noqa: E402
import yaml  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook  # noqa: E402

from evaluation.report.build import render_all  # noqa: E402
from evaluation.report.render import (  # noqa: E402
    export_html,
    kernel_config,
    kernel_name,
    render_area,
)

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "plans" / "change_programme_2023.yaml"
STACK = (
    "import evaluation.designs.area, evaluation.report.sections"  # every report kernel's imports
)
ROW = (
    b"2024,Calendar year,Local authority,E92000001,England,E12000001,North East,E06000001,805,"
    b"Hartlepool,All EHC plans issued,All EHC plans issued,122,122,91,91,74.6,74.6,29,29,23.8,"
    b"23.8,2,2,1.6,1.6"
)
EDITED = ROW.replace(
    b"122,122,91,91,74.6,74.6,29,29,23.8,23.8", b"122,122,80,80,65.6,65.6,40,40,32.8,32.8"
)


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
    pm.execute_notebook(
        str(src), str(out), kernel_name=kernel_name(), progress_bar=False, config=kernel_config()
    )
    export_html(out, "empty")
    return time.perf_counter() - t


class TreeMemory:
    """Peak summed resident memory (MB) of this process and all its descendants."""

    def __init__(self):
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))
            self._stop.wait(0.1)


def _tree_rss_mb(root: int) -> float:
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            parents[int(entry)] = int(fields["PPid"])
            rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
        except (OSError, KeyError, ValueError):
            continue
    tree, grew = {root}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(rss.get(p, 0) for p in tree) / 1024


def timed(**kwargs):
    t = time.perf_counter()
    run = render_all(progress=False, **kwargs)
    return time.perf_counter() - t, run


def profile(label: str, run) -> None:
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items())
    tasks = ", ".join(
        f"{k} {len(v)} x {sum(v) / len(v):.2f} s = {sum(v):.1f} s"
        for k, v in run.task_seconds.items()
    )
    print(f"  {label}: {run.summary()}")
    print(f"    steps: {steps}")
    print(f"    tasks: {tasks or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--areas", type=int, default=None, help="first N pilots (default all)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "data", tmp / "data")
        raw = yaml.safe_load(PLAN.read_text())
        raw["data"]["directory"] = str(tmp / "data")
        if args.areas:
            raw["pilots"] = raw["pilots"][: args.areas]
        plan = tmp / "plan.yaml"
        plan.write_text(yaml.safe_dump(raw))
        n = len(raw["pilots"])
        bare = min(bare_render(tmp) for _ in range(args.repeat))
        stack = min(bare_render(tmp, STACK) for _ in range(args.repeat))
        out = tmp / "reports"
        with TreeMemory() as memory:
            cold, run_cold = timed(plan=plan, out_root=out, jobs=args.jobs)
        warm, run_warm = timed(plan=plan, out_root=out, jobs=args.jobs)
        path = tmp / "data" / "public" / "ehcp_2025_timeliness_20_week.csv"
        path.write_bytes(path.read_bytes().replace(ROW, EDITED))
        edited, run_edit = timed(plan=plan, out_root=out, jobs=args.jobs)
        singles = []
        for i in range(args.repeat):
            t = time.perf_counter()
            render_area("hartlepool", plan, out_root=tmp / f"single{i}")
            singles.append(time.perf_counter() - t)
        single = min(singles)
        workers = max(1, args.jobs or os.cpu_count() or 1)
        secs = run_cold.task_seconds
        per_area = sum(sum(secs.get(k, [])) for k in ("estimate", "finish", "render"))
        overview = sum(secs.get("overview", []))
        floor = per_area / workers + overview
        tight = (per_area + overview) / workers
        print(f"machine: {os.cpu_count()} cores; {workers} worker(s); {n} pilot areas")
        print(f"bare papermill + nbconvert (empty notebook):   {bare:.2f} s")
        print(f"stack-import floor (one cell importing stack): {stack:.2f} s")
        print(
            f"P1  one report, data cached:  {single:.2f} s  ratio {single / stack:.2f} (target <= 1.5)"
        )
        print(
            f"P2  all, cold:                {cold:.2f} s  ratio {cold / floor:.2f} to the per-core "
            f"floor {floor:.2f} s (target <= 1.25); {cold / tight:.2f} to all tasks / workers "
            f"{tight:.2f} s"
        )
        print(
            f"P2w warm, nothing changed:    {warm:.2f} s  ratio {warm / cold:.3f} (target <= 0.1)"
        )
        print(
            f"P2i one area's input changed: {edited:.2f} s  ratio {edited / cold:.2f} (target <= 0.3); "
            f"{len(run_edit.estimated)} area(s) re-estimated, {len(run_edit.rendered)} page(s) "
            f"re-rendered, {len(run_edit.reused)} reused"
        )
        print(f"peak memory of the cold run (process tree): {memory.peak:.0f} MB")
        print("where the time goes:")
        for label, run in (("cold", run_cold), ("warm", run_warm), ("edited", run_edit)):
            profile(label, run)
    shutil.rmtree(_CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
