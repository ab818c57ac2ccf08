"""``make reports``: every pilot area's page, the programme overview and the index, rebuilt
only where something changed.

1. **Keys.**  The panel comes from the one cache; each pilot's
   :func:`~evaluation.designs.area_key.area_key` hashes what its estimates depend on.
2. **Estimate** the areas whose key has no cached estimates (all of them on the first run, one
   after one area's returns change), on the runner (:mod:`evaluation.compute`: local processes,
   or a Dask cluster), after the fits every area shares.
3. **Decide** each page.  Its *inputs* key hashes its area key, every pilot's key (the pooled
   line depends on them all) and the report code (:func:`render_version`): when that is the
   one in its ``.build.json`` the page is reused at once.  Otherwise its evaluation is
   finished here from the cache (pooled effects across pilots, multiplicity adjustment,
   disclosure control) and its *page* key hashes what it shows: its ``results.json`` (without
   the run's date, commit and file hashes), the panel columns its charts draw
   (:func:`~evaluation.designs.area_key.page_data_key`) and the report code.  Same page key:
   kept as it is.  So a page is re-rendered exactly when a number it shows or its code
   changed; with partial pooling one pilot's new estimate can move every pilot's pooled
   line, and then every page is re-rendered, cheaply (charts come from the cache).
4. **Render** the pages whose key is not the one in their ``.build.json`` (or whose files do
   not match it), one task per page, each worker keeping one kernel
   (:class:`~evaluation.report.render.ReportKernel`); the overview (keyed by every area's
   results, the panel, the plan, the seed and the code) renders beside them.
5. **Publish** each page under a lock, file by file atomically, ``.build.json`` last; write the
   index if its bytes changed.

``force=True`` (``make reports FORCE=1``) re-estimates and re-renders everything.  A failing
area is reported (exit 5) and the others complete.
"""

from __future__ import annotations

import json
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluation.compute import runner as make_runner
from evaluation.config import PROJECT_ROOT, slugify
from evaluation.io.geography import load_geography
from evaluation.panel.cache import atomic_write, digest, files_digest, frame_digest
from evaluation.panel.plan import load_plan
from evaluation.report.render import (
    RenderedReport,
    default_out_root,
    page_is_current,
    page_record,
    previous,
    publish_page,
    record_inputs,
)

_RUN_SPECIFIC = ("run_date", "git_commit", "data_sha256")  # not numbers a page shows


def render_sources() -> list[Path]:
    """The files whose content decides a page beyond its numbers: the report code, its
    templates and the two notebooks."""
    report = PROJECT_ROOT / "evaluation" / "report"
    notebooks = PROJECT_ROOT / "notebooks"
    return sorted(p for p in report.rglob("*") if p.is_file() and "__pycache__" not in p.parts) + [
        notebooks / "area_report.ipynb",
        notebooks / "programme_overview.ipynb",
    ]


def render_version() -> str:
    return files_digest(render_sources())


def stable_results(results: dict) -> str:
    """A page's results.json as its key sees it: without the run's date, git commit and input
    file hashes (a reused page keeps those of the run that rendered it)."""
    made = {k: v for k, v in results.get("generated_with", {}).items() if k not in _RUN_SPECIFIC}
    return json.dumps(results | {"generated_with": made}, sort_keys=True)


@dataclass
class PageJob:
    """One page to render: the finished evaluation (pickled, without the panel)."""

    code: str
    name: str
    slug: str
    key: str  # what the page shows (designs/area_key + its results + the report code)
    inputs: str  # what it was computed from
    seed: int
    evaluation: bytes
    previous: str | None


@dataclass
class RenderedAll:
    reports: list[RenderedReport]  # every area page now in place (rendered or reused)
    failures: dict[str, str]  # area code (or "overview") -> error message
    overview: Path | None
    index: Path
    rendered: list[str] = field(default_factory=list)  # area codes whose page was rendered
    reused: list[str] = field(default_factory=list)  # area codes whose page was unchanged
    estimated: list[str] = field(default_factory=list)  # area codes estimated in this run
    overview_rendered: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # step -> wall-clock seconds
    task_seconds: dict[str, list[float]] = field(default_factory=dict)  # kind -> per task

    def summary(self) -> str:
        overview = "rendered" if self.overview_rendered else "reused" if self.overview else "none"
        return (
            f"{len(self.rendered)} page(s) rendered, {len(self.reused)} reused (unchanged), "
            f"{len([c for c in self.failures if c != 'overview'])} failed; "
            f"{len(self.estimated)} area(s) estimated; overview {overview}"
        )


def render_all(
    plan: str | Path = "plans/change_programme_2023.yaml",
    seed: int | None = None,
    out_root: Path | str | None = None,
    jobs: int | None = None,
    progress: bool = True,
    areas: list[str] | None = None,
    force: bool = False,
    scheduler: str | None = None,
) -> RenderedAll:
    """Bring every pilot area's page (or those in ``areas``), the programme overview and
    ``reports/index.html`` up to date (module docstring).  ``scheduler``: a Dask scheduler
    address (default ``$DASK_SCHEDULER_ADDRESS``; none: ``jobs`` local processes)."""
    from tqdm import tqdm

    from evaluation.designs.area import save_panel
    from evaluation.designs.area_key import area_key
    from evaluation.panel.build import panel_for_plan

    plan_obj = load_plan(plan)
    plan_obj.require_data()
    geo = load_geography(plan_obj.data_dir)
    codes = (
        [geo.resolve_area(a, plan_obj.pilot_codes) for a in areas]
        if areas
        else list(plan_obj.pilot_codes)
    )
    out_root = Path(out_root) if out_root is not None else default_out_root(plan_obj)
    seed = plan_obj.seed if seed is None else int(seed)
    names = {c: geo.name_for_code(c) or c for c in plan_obj.pilot_codes}
    slugs = {c: slugify(names[c]) for c in plan_obj.pilot_codes}
    clock = _Clock()
    panel = panel_for_plan(plan_obj)
    keys = {c: area_key(panel, plan_obj, c, seed) for c in codes}
    run = RenderedAll([], {}, None, out_root / "index.html", timings=clock.laps)
    clock.lap("panel and area keys")
    with (
        tempfile.TemporaryDirectory(prefix="reports-") as tmp,
        make_runner(scheduler, jobs) as runner,
        tqdm(total=len(codes) + 1, desc="reports", unit="page", disable=not progress) as bar,
    ):
        panel_path = save_panel(panel, Path(tmp) / "panel.pkl")
        panel_ref = str(panel_path) if runner.local else runner.share(panel)
        step = _Steps(plan_obj, seed, panel, panel_ref, runner, bar, run, names, slugs)
        step.estimate(codes, keys, force, clock)
        page_jobs, results = step.finish(codes, keys, out_root, force)
        overview_job = step.overview_job(results, keys, out_root, force)
        clock.lap("finish evaluations, page keys")
        step.render(page_jobs, overview_job, out_root)
        clock.lap("render and publish")
    run.index = _write_index(plan_obj, out_root, slugs, names)
    clock.lap("index")
    run.reports = [
        RenderedReport(
            names[c],
            slugs[c],
            out_root / slugs[c] / "index.html",
            out_root / slugs[c] / "results.json",
        )
        for c in sorted(codes, key=slugs.get)
        if c not in run.failures and (out_root / slugs[c] / "index.html").exists()
    ]
    return run


class _Clock:
    """Wall-clock laps of a run's steps."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


class _Steps:
    """The steps of one :func:`render_all` run (they share the plan, panel, runner and bar)."""

    def __init__(self, plan, seed, panel, panel_ref, runner, bar, run, names, slugs):
        self.plan, self.seed, self.panel, self.panel_ref = plan, seed, panel, panel_ref
        self.runner, self.bar, self.run, self.names, self.slugs = runner, bar, run, names, slugs

    def _fail(self, code: str, error: str) -> None:
        self.run.failures[code] = error
        what = "the programme overview" if code == "overview" else f"{self.names[code]} ({code})"
        self.bar.write(f"error: report for {what} failed: {error}", file=sys.stderr)

    def _tick(self, n: int = 1) -> None:
        r = self.run
        self.bar.set_postfix_str(
            f"rendered {len(r.rendered)}, reused {len(r.reused)}, failed {len(r.failures)}"
        )
        self.bar.update(n)

    def _result(self, fut, kind: str):
        """(ok, value) of a task's future, its seconds noted under ``kind``."""
        try:
            ok, value, seconds = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a worker lost more than allowed
            return False, f"{type(exc).__name__}: {exc}"
        self.run.task_seconds.setdefault(kind, []).append(seconds)
        return ok, value

    def estimate(self, codes, keys, force: bool, clock) -> None:
        """Estimate, on the runner, the areas without cached estimates (all, if ``force``)."""
        from evaluation.designs import area as area_mod
        from evaluation.panel import cache

        todo = [
            c
            for c in codes
            if force
            or cache.load("area-estimates", keys[c], area_mod.AreaEstimates) is cache.MISSING
        ]
        if not todo:
            return
        self.bar.set_description("estimating")
        clock.lap("panel and area keys")
        shared = [  # the fits every area shares, once, into the cache: one task per outcome
            self.runner.submit(prefit_task, str(self.plan.path), o.name, todo, self.panel_ref)
            for o in self.plan.outcomes
        ]
        for fut in self.runner.as_completed(shared):
            self._result(fut, "shared fits")  # a failure here is met again by the areas
        clock.lap("shared fits")
        futures = {
            self.runner.submit(estimate_task, str(self.plan.path), c, self.seed, self.panel_ref): c
            for c in todo
        }
        for fut in self.runner.as_completed(list(futures)):
            code = futures[fut]
            ok, value = self._result(fut, "estimate")
            if ok:
                area_mod.remember_estimates(replace(value, key=keys[code]))
                self.run.estimated.append(code)
            else:
                self._fail(code, value)
        self.run.estimated.sort()
        self.bar.set_description("reports")
        clock.lap("estimate areas")

    def finish(self, codes, keys, out_root: Path, force: bool):
        """Every area's page, decided: reused when its inputs (its area key, every pilot's
        key, which the pooled line depends on, and the report code) are those it was built
        from; otherwise its evaluation is finished on the runner (:func:`finish_task`) and it
        is re-rendered unless what it shows is the same.  Returns the pages to render and
        every area's results.json (slug -> text) for the overview."""
        from evaluation.designs.area import area_estimates
        from evaluation.designs.pooling import pooled_effects

        jobs, results, version = [], {}, render_version()
        everyone = sorted(keys.items())
        todo = {}
        for code in codes:
            if code in self.run.failures:
                continue
            slug, target = self.slugs[code], out_root / self.slugs[code]
            inputs = digest("page inputs", keys[code], everyone, version)
            record = None if force else page_record(target)
            if record is not None and record.get("inputs") == inputs:
                results[slug] = (target / "results.json").read_text(encoding="utf-8").rstrip("\n")
                self.run.reused.append(code)
                self._tick()
            else:
                todo[code] = (inputs, record)
        if not todo:
            return jobs, results
        for planned in self.plan.outcomes:  # once, into the cache the workers read
            pooled_effects(self.panel, self.plan, planned.name)
        futures = {
            self.runner.submit(
                finish_task,
                str(self.plan.path),
                code,
                self.seed,
                self.panel_ref,
                area_estimates(self.panel, self.plan, code, self.seed),
            ): code
            for code in todo
        }
        for fut in self.runner.as_completed(list(futures)):
            code = futures[fut]
            ok, value = self._result(fut, "finish")
            if not ok:
                self._fail(code, value)
                self._tick()
                continue
            text, blob, data_key = value
            slug, target = self.slugs[code], out_root / self.slugs[code]
            inputs, record = todo[code]
            results[slug] = text
            key = digest("page", data_key, stable_results(json.loads(text)), version)
            if record is not None and record.get("key") == key:  # same as shown: keep it
                record_inputs(target, record, inputs)
                self.run.reused.append(code)
                self._tick()
                continue
            name = self.names[code]
            jobs.append(PageJob(code, name, slug, key, inputs, self.seed, blob, previous(target)))
        self.run.reused.sort()
        return sorted(jobs, key=lambda j: j.slug), results

    def overview_job(self, results: dict, keys: dict, out_root: Path, force: bool):
        """The overview's inputs key and the areas' results, or None when it is current (or
        not made: monthly plans)."""
        from evaluation.designs.area_key import estimation_version

        if self.plan.frequency != "year":
            self.bar.write(
                "note: the programme overview is built for yearly plans only; this monthly "
                "plan gets the area reports and the index",
                file=sys.stderr,
            )
            self._tick()
            return None
        p = self.panel
        key = digest(
            "overview",
            sorted(keys.items()),
            sorted(self.run.failures),
            frame_digest(p.units),
            frame_digest(p.national),
            frame_digest(p.findings_by_la().astype(str)),
            repr(self.plan.raw),
            self.seed,
            estimation_version(),
            render_version(),
        )
        target = out_root / "overview"
        if not force and page_is_current(target, key):
            self.run.overview = target / "index.html"
            self._tick()
            return None
        return key, results

    def render(self, page_jobs: list[PageJob], overview_job, out_root: Path) -> None:
        """Render the pages (and the overview) on the runner and publish them as they come."""
        futures = {}
        if overview_job is not None:  # the longest task first
            futures[
                self.runner.submit(
                    overview_task, str(self.plan.path), self.seed, self.panel_ref, overview_job[1]
                )
            ] = None
        for job in page_jobs:
            futures[self.runner.submit(render_task, job, str(self.plan.path), self.panel_ref)] = job
        pending_overview = overview_job
        for fut in self.runner.as_completed(list(futures)):
            job = futures[fut]
            ok, value = self._result(fut, "overview" if job is None else "render")
            code = "overview" if job is None else job.code
            if not ok:
                self._fail(code, value)
            elif job is None:
                publish_page(out_root / "overview", value, pending_overview[0])
                self.run.overview = out_root / "overview" / "index.html"
                self.run.overview_rendered = True
            else:
                publish_page(out_root / job.slug, value, job.key, job.inputs)
                self.run.rendered.append(code)
            self._tick()
        self.run.rendered.sort()


# -- tasks: module-level, so a process pool or a Dask worker can run them.  Each returns
# (True, value, seconds) or (False, "what went wrong", seconds): an area's own failure is a
# value, reported by the caller, never an exception that Dask would retry


def _task(task):
    """``task`` made to return (True, its value, seconds), or (False, the error, seconds)."""
    import functools

    from evaluation.report.render import ReportError

    @functools.wraps(task)
    def run(*args):
        start = time.perf_counter()
        try:
            ok, value = True, task(*args)
        except ReportError as exc:
            ok, value = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - the area's own failure, reported
            ok, value = False, f"{type(exc).__name__}: {exc}"
        return ok, value, time.perf_counter() - start

    return run


def _plan_and_panel(plan_path: str, panel_ref):
    """The plan, and the panel: sent by Dask, or loaded from this run's file."""
    from evaluation.designs.area import load_panel

    panel = panel_ref if not isinstance(panel_ref, (str, Path)) else load_panel(panel_ref)
    return load_plan(plan_path), panel


def _panel_path(panel_ref) -> str:
    """A path the kernel can load the panel from: ``panel_ref`` itself (local runs) or, for a
    panel sent by Dask, a file this worker process writes once."""
    if isinstance(panel_ref, (str, Path)):
        return str(panel_ref)
    from evaluation.designs.area import save_panel

    held = _WORKER_PANEL.get(id(panel_ref))
    if held is None or held[0] is not panel_ref:
        folder = Path(tempfile.mkdtemp(prefix="send-worker-panel-"))
        import atexit
        import shutil

        atexit.register(shutil.rmtree, folder, True)
        held = _WORKER_PANEL[id(panel_ref)] = (
            panel_ref,
            str(save_panel(panel_ref, folder / "p.pkl")),
        )
    return held[1]


_WORKER_PANEL: dict = {}


@_task
def prefit_task(plan_path: str, outcome: str, codes: list[str], panel_ref) -> int:
    """The synthetic-control and synthetic-DiD fits every area shares, for one outcome, into
    this worker's caches (and ``.cache/``); a failure is met again by the areas' estimates."""
    from evaluation.designs.area_alternatives import prefit_shared_work

    plan, panel = _plan_and_panel(plan_path, panel_ref)
    return prefit_shared_work(panel, plan, codes, outcomes=[outcome])


@_task
def estimate_task(plan_path: str, code: str, seed: int, panel_ref):
    """One area's :class:`~evaluation.designs.area.AreaEstimates`."""
    from evaluation.designs.area import estimate_area

    plan, panel = _plan_and_panel(plan_path, panel_ref)
    return estimate_area(panel, plan, code, seed)


@_task
def finish_task(plan_path: str, code: str, seed: int, panel_ref, estimates):
    """One area's evaluation finished from its estimates (pooled effects, adjustment,
    disclosure): its results.json text, the evaluation pickled without the panel, and its
    :func:`~evaluation.designs.area_key.page_data_key`."""
    from evaluation.designs.area import evaluate_area, remember_estimates
    from evaluation.designs.area_key import page_data_key

    plan, panel = _plan_and_panel(plan_path, panel_ref)
    remember_estimates(estimates, store=False)
    ev = evaluate_area(code, plan, seed=seed, panel=panel)
    blob = pickle.dumps(replace(ev, panel=None), protocol=pickle.HIGHEST_PROTOCOL)
    return ev.to_json(), blob, page_data_key(panel, plan, code)


@_task
def render_task(job: PageJob, plan_path: str, panel_ref) -> dict[str, bytes]:
    """One area page's files (name -> bytes), rendered in this worker's report kernel (a
    kernel that dies is replaced once)."""
    from nbclient.exceptions import CellExecutionError

    from evaluation.report.render import ReportError, area_params, page_files, report_kernel

    panel = _panel_path(panel_ref)
    with tempfile.TemporaryDirectory(prefix=f"report-{job.slug}-") as tmp:
        tmpdir = Path(tmp)
        saved = tmpdir / "evaluation.pkl"
        saved.write_bytes(job.evaluation)
        params = area_params(job.code, plan_path, job.seed, tmpdir, panel, job.previous, saved)
        for attempt in (1, 2):
            try:
                return page_files(report_kernel().run(params), tmpdir, job.name)
            except CellExecutionError as exc:
                last = str(exc).strip().splitlines()[-1]
                raise ReportError(f"notebook failed: {last}") from None
            except ReportError:
                raise
            except RuntimeError as exc:  # the kernel died: once more with a new one
                if attempt == 2:
                    raise ReportError(f"the notebook kernel failed: {exc}") from None
    raise ReportError("not rendered")  # pragma: no cover - the loop always returns or raises


@_task
def overview_task(plan_path: str, seed: int, panel_ref, results: dict) -> dict[str, bytes]:
    """The overview page's files, from every area's results.json text (slug -> text)."""
    from evaluation.report.render import overview_files

    with tempfile.TemporaryDirectory(prefix="overview-areas-") as tmp:
        for slug, text in results.items():
            (Path(tmp) / slug).mkdir()
            (Path(tmp) / slug / "results.json").write_text(text + "\n", encoding="utf-8")
        return overview_files(plan_path, Path(tmp), _panel_path(panel_ref), seed)


def _write_index(plan_obj, out_root: Path, slugs: dict, names: dict) -> Path:
    """``reports/index.html``: every pilot area, linked where its report exists; rewritten only
    when its bytes change."""
    from evaluation.report.overview_html import index_html

    available = {c for c in plan_obj.pilot_codes if (out_root / slugs[c] / "index.html").exists()}
    partnerships = {p.la_code: p.partnership for p in plan_obj.pilots}
    index = out_root / "index.html"
    out_root.mkdir(parents=True, exist_ok=True)
    html = index_html(
        plan_obj, slugs, names, partnerships, available, overview=plan_obj.frequency == "year"
    )
    if not index.exists() or index.read_text(encoding="utf-8") != html:
        atomic_write(index, html)
    return index
