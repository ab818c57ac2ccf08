"""Render per-area evidence reports: papermill runs the thin notebook, nbconvert exports HTML.

``render_area(area, plan)`` resolves AREA *before* anything is written (a refused AREA writes
nothing), executes ``notebooks/area_report.ipynb`` in a temporary directory with an explicit
kernel, exports it without code through the offline ``govreport`` template, checks that the page
loads nothing from the network, and only then moves ``index.html`` and ``results.json`` into
``reports/<area-slug>/`` (write to a temporary file, then rename, so an interrupted run never
leaves half a report), with the page's tables beside them (``tables.ods``, ``tables-csv.zip``:
:mod:`evaluation.report.tables`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

from evaluation.config import PROJECT_ROOT, slugify
from evaluation.io.geography import load_geography
from evaluation.panel.plan import load_plan
from evaluation.report.tables import area_workbook, overview_workbook, write_tables

NOTEBOOK = PROJECT_ROOT / "notebooks" / "area_report.ipynb"
TEMPLATES = Path(__file__).resolve().parent / "templates"
KERNEL_NAME = "send-evaluation"  # registered by `make setup`
EXECUTION_TIMEOUT = 600  # seconds per cell

# Anything that would make a browser fetch from elsewhere: scripts, stylesheets, images,
# iframes, CSS imports/urls.  Plain <a href> links are allowed (they load nothing).
_EXTERNAL = re.compile(
    r"""<(?:script|img|iframe|link|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*"""
    r"""(?:https?:)?//|@import\s+(?:url\()?["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


class ReportError(RuntimeError):
    """The report could not be produced."""


@dataclass
class RenderedReport:
    area: str
    slug: str
    html: Path
    results: Path


def external_resources(html: str) -> list[str]:
    """Snippets of the page that would load something from the network (should be empty)."""
    return [m.group(0) for m in _EXTERNAL.finditer(html)]


def kernel_name() -> str:
    """The project's registered kernel, or the current environment's ``python3`` if absent."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    return KERNEL_NAME if KERNEL_NAME in specs else "python3"


def export_html(notebook, title: str) -> str:
    """Export an executed notebook (path or node) to self-contained HTML without code."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, (str, Path)) else notebook
    nb.metadata["title"] = title
    for index, cell in enumerate(nb.cells):  # ids from the position, not papermill's random one
        cell["id"] = f"cell-{index}"  # for the injected parameters: the same page every run
    exporter = HTMLExporter(
        template_name="govreport",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def kernel_config():
    """Kernels talk to this process over local IPC sockets rather than TCP (where Unix
    sockets exist): no port is opened and ipykernel has no cause for its plain-TCP warning on
    the terminal. Each kernel gets its own socket path: jupyter_client's default
    ("kernel-ipc-N" in the working directory) is shared by parallel renders, which then read
    each other's messages and fail with "Invalid Signature"."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(
            Path(tempfile.gettempdir()) / f"send-kernel-{uuid.uuid4().hex}"
        )
    return config


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _execute(notebook: Path, executed: Path, params: dict, what: str) -> None:
    """Run a notebook with papermill on the project's kernel; one retry if the kernel fails to
    start (parallel kernel start-ups can race for ports)."""
    import papermill as pm

    for attempt in (1, 2):
        try:
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=params,
                kernel_name=kernel_name(),
                cwd=str(PROJECT_ROOT),
                execution_timeout=EXECUTION_TIMEOUT,
                progress_bar=False,
                log_output=False,
                config=kernel_config(),
            )
            return
        except pm.PapermillExecutionError as exc:
            raise ReportError(
                f"The report notebook failed for {what} in cell {exc.exec_count}: "
                f"{exc.ename}: {exc.evalue}"
            ) from None
        except RuntimeError as exc:  # kernel died or did not start
            if attempt == 2:
                raise ReportError(f"The notebook kernel failed for {what}: {exc}") from None


def render_area(
    area: str,
    plan: str | Path = "plans/change_programme_2023.yaml",
    seed: int | None = None,
    out_root: Path | str | None = None,
    panel_cache: Path | str | None = None,
) -> RenderedReport:
    """Render ``reports/<slug>/index.html`` and ``results.json`` for one pilot area."""
    plan_obj = load_plan(plan)
    geo = load_geography(plan_obj.data_dir)
    code = geo.resolve_area(area, plan_obj.pilot_codes)  # raises before anything is written
    plan_obj.require_data()  # e.g. "run make demo-data first" (exit 4), before any kernel starts
    name = geo.name_for_code(code) or code
    slug = slugify(name)
    out_root = Path(out_root) if out_root is not None else default_out_root(plan_obj)
    with tempfile.TemporaryDirectory(prefix=f"report-{slug}-") as tmp:
        tmpdir = Path(tmp)
        executed = tmpdir / "area_report.ipynb"
        params = _area_params(code, plan_obj, seed, tmpdir, panel_cache, out_root, slug)
        _execute(NOTEBOOK, executed, params, name)
        return _publish(executed, tmpdir, name, slug, out_root)


def _area_params(code, plan_obj, seed, tmpdir: Path, panel_cache, out_root: Path, slug: str):
    params = {
        "area": code,
        "plan": str(plan_obj.path),
        "seed": seed if seed is not None else plan_obj.seed,
        "output_dir": str(tmpdir),
        "panel_cache": str(panel_cache) if panel_cache else None,
        "previous_results": None,
    }
    previous = out_root / slug / "results.json"
    if previous.exists():  # a test-and-learn wave: show what changed since last time
        shutil.copy(previous, tmpdir / "previous_results.json")
        params["previous_results"] = str(tmpdir / "previous_results.json")
    return params


def _publish(executed, tmpdir: Path, name: str, slug: str, out_root: Path) -> RenderedReport:
    """Check the executed notebook's outputs and write them atomically into reports/<slug>/."""
    results_tmp = tmpdir / "results.json"
    if not results_tmp.exists():
        raise ReportError("The report notebook did not write results.json.")
    html = export_html(executed, f"{name}: SEND Change Programme evidence report")
    external = external_resources(html)
    if external:
        raise ReportError(f"The report would load external resources: {external[:3]}")
    target = out_root / slug
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / "results.json", results_tmp.read_text(encoding="utf-8"))
    write_tables(area_workbook(json.loads(results_tmp.read_text(encoding="utf-8"))), target)
    _atomic_write(target / "index.html", html)
    return RenderedReport(name, slug, target / "index.html", target / "results.json")


def render_batch(codes: list[str], plan, seed, out_root: Path, panel_cache, progress=None):
    """Render several areas in ONE kernel: the kernel start-up and the imports are paid once,
    and each area re-runs the parameterised notebook in it.  Returns (code, report or None,
    error or None) per area; one area's failure does not stop the batch."""
    import copy

    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    plan_obj = load_plan(plan)
    geo = load_geography(plan_obj.data_dir)
    from papermill.iorw import load_notebook_node

    template = load_notebook_node(str(NOTEBOOK))  # adds the metadata papermill relies on
    client = NotebookClient(
        copy.deepcopy(template),
        kernel_name=kernel_name(),
        timeout=EXECUTION_TIMEOUT,
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
        config=kernel_config(),
    )
    out = []
    with client.setup_kernel():
        for code in codes:
            name = geo.name_for_code(code) or code
            slug = slugify(name)
            with tempfile.TemporaryDirectory(prefix=f"report-{slug}-") as tmp:
                tmpdir = Path(tmp)
                try:
                    params = _area_params(code, plan_obj, seed, tmpdir, panel_cache, out_root, slug)
                    nb = parameterize_notebook(copy.deepcopy(template), params)
                    client.nb = nb
                    for index, cell in enumerate(nb.cells):
                        if cell.cell_type == "code":
                            client.execute_cell(cell, index)
                    out.append((code, _publish(nb, tmpdir, name, slug, out_root), None))
                except CellExecutionError as exc:
                    out.append((code, None, f"notebook failed: {str(exc).splitlines()[-1]}"))
                except Exception as exc:  # noqa: BLE001 - report and go on with the next area
                    out.append((code, None, f"{type(exc).__name__}: {exc}"))
            if progress is not None:
                progress.put(code)
    return out


def r_code(report: RenderedReport) -> str:
    """The 3-digit code of a rendered report (from its results.json)."""
    import json

    return json.loads(report.results.read_text(encoding="utf-8"))["area"]["la_code"]


@dataclass
class RenderedAll:
    reports: list[RenderedReport]
    failures: dict[str, str]  # area code -> error message
    overview: Path | None
    index: Path


def render_all(
    plan: str | Path = "plans/change_programme_2023.yaml",
    seed: int | None = None,
    out_root: Path | str | None = None,
    jobs: int | None = None,
    progress: bool = True,
    areas: list[str] | None = None,
) -> RenderedAll:
    """Render every pilot area (in parallel), the programme overview and ``reports/index.html``.

    Shared work is done once: the panel is built (or loaded from ``.cache/``) here and handed
    to every area's notebook; the synthetic-control and synthetic-DiD fits that do not depend
    on the area are made before the areas start (:func:`evaluation.area.prefit_shared_work`).
    A failure in one area is reported and the others still complete.
    """
    import multiprocessing
    import os
    import sys

    from tqdm import tqdm

    from evaluation.designs.area import save_panel
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
    jobs = max(1, jobs or os.cpu_count() or 1)
    names = {c: geo.name_for_code(c) or c for c in plan_obj.pilot_codes}
    slugs = {c: slugify(names[c]) for c in plan_obj.pilot_codes}
    with tempfile.TemporaryDirectory(prefix="reports-shared-") as tmp:
        # built once per set of inputs (data, contracts, code) and kept in .cache/, as for a
        # single report: a second `make reports` on the same data loads it
        panel = panel_for_plan(plan_obj)
        cache = save_panel(panel, Path(tmp) / "panel.pkl")
        from evaluation.designs.area_alternatives import prefit_shared_work

        prefit_shared_work(panel, plan_obj)  # pilots' SDID fits in one batch, placebo fits once
        chunks = [codes[i::jobs] for i in range(jobs) if codes[i::jobs]]
        manager = multiprocessing.Manager()
        queue = manager.Queue()
        bar = tqdm(
            total=len(codes) + 1,
            desc="reports",
            unit="report",
            disable=not progress,
            file=sys.stderr,
        )
        reports, failures = _render_in_workers(
            chunks, plan_obj, seed, out_root, cache, queue, bar, names
        )
        manager.shutdown()
        missing = [c for c in codes if c not in failures and c not in {r_code(r) for r in reports}]
        for code in missing:
            failures[code] = "the worker rendering it stopped"
        overview = _overview_of_all(plan_obj, cache, out_root, seed, failures)
        bar.update(1)
        bar.close()
    index = _write_index(plan_obj, out_root, slugs, names)
    return RenderedAll(sorted(reports, key=lambda r: r.slug), failures, overview, index)


def _render_in_workers(chunks, plan_obj, seed, out_root: Path, cache, queue, bar, names):
    """One worker process per chunk of area codes, each rendering its chunk in one kernel
    (:func:`render_batch`); ``bar`` advances as areas finish.  Returns (reports, failures)."""
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from queue import Empty

    n_codes = sum(len(chunk) for chunk in chunks)
    reports, failures = [], {}
    with ProcessPoolExecutor(max_workers=len(chunks)) as pool:
        futures = [
            pool.submit(render_batch, chunk, plan_obj.path, seed, out_root, cache, queue)
            for chunk in chunks
        ]
        done = 0
        while done < n_codes:
            try:
                queue.get(timeout=1)
            except Empty:
                if all(f.done() for f in futures):
                    break  # a worker died: its areas are reported as failures below
                continue
            done += 1
            bar.update(1)
        for fut in futures:
            try:
                batch = fut.result()
            except Exception as exc:  # noqa: BLE001 - a whole worker failed
                print(f"error: a report worker failed: {exc}", file=sys.stderr)
                continue
            for code, rendered, error in batch:
                if rendered is not None:
                    reports.append(rendered)
                else:
                    failures[code] = error
                    print(
                        f"error: report for {names[code]} ({code}) failed: {error}",
                        file=sys.stderr,
                    )
    return reports, failures


def _overview_of_all(plan_obj, cache, out_root: Path, seed, failures: dict) -> Path | None:
    """The programme overview for a yearly plan (a failure is added to ``failures``); a
    monthly plan gets a note and no overview."""
    import sys

    if plan_obj.frequency != "year":
        print(
            "note: the programme overview is built for yearly plans only; this monthly "
            "plan gets the area reports and the index",
            file=sys.stderr,
        )
        return None
    try:
        return render_overview(plan_obj, panel_cache=cache, out_root=out_root, seed=seed)
    except Exception as exc:  # noqa: BLE001
        failures["overview"] = f"{type(exc).__name__}: {exc}"
        print(f"error: the programme overview failed: {exc}", file=sys.stderr)
        return None


def _write_index(plan_obj, out_root: Path, slugs: dict, names: dict) -> Path:
    """``reports/index.html``: every pilot area, linked where its report exists."""
    from evaluation.report.overview_html import index_html

    available = {c for c in plan_obj.pilot_codes if (out_root / slugs[c] / "index.html").exists()}
    partnerships = {p.la_code: p.partnership for p in plan_obj.pilots}
    index = out_root / "index.html"
    out_root.mkdir(parents=True, exist_ok=True)
    _atomic_write(
        index,
        index_html(
            plan_obj,
            slugs,
            names,
            partnerships,
            available,
            overview=plan_obj.frequency == "year",
        ),
    )
    return index


OVERVIEW_NOTEBOOK = PROJECT_ROOT / "notebooks" / "programme_overview.ipynb"
DEFAULT_PLAN = PROJECT_ROOT / "plans" / "change_programme_2023.yaml"


def default_out_root(plan_obj) -> Path:
    """``reports/`` for the default plan; ``reports/<plan name>/`` for any other plan, so a
    synthetic or trial plan never overwrites (or becomes the "previous report" of) a real one."""
    try:
        is_default = Path(plan_obj.path).resolve() == DEFAULT_PLAN.resolve()
    except OSError:
        is_default = False
    root = PROJECT_ROOT / "reports"
    return root if is_default else root / plan_obj.name


def render_overview(
    plan, panel_cache=None, out_root: Path | str | None = None, seed: int | None = None
) -> Path:
    """Render ``reports/overview/index.html`` from the areas' results.json files."""
    plan_obj = plan if not isinstance(plan, (str, Path)) else load_plan(plan)
    out_root = Path(out_root) if out_root is not None else default_out_root(plan_obj)
    with tempfile.TemporaryDirectory(prefix="overview-") as tmp:
        executed = Path(tmp) / "overview.ipynb"
        params = {
            "plan": str(plan_obj.path),
            "reports_dir": str(out_root),
            "seed": seed if seed is not None else plan_obj.seed,
            "panel_cache": str(panel_cache) if panel_cache else None,
            "output_dir": tmp,
        }
        _execute(OVERVIEW_NOTEBOOK, executed, params, "the programme overview")
        html = export_html(executed, f"{plan_obj.title}: programme overview")
        external = external_resources(html)
        if external:
            raise ReportError(f"The overview would load external resources: {external[:3]}")
        target = out_root / "overview"
        target.mkdir(parents=True, exist_ok=True)
        _atomic_write(target / "index.html", html)
        for name in ("results.json", "permutation_distribution.csv"):
            produced = Path(tmp) / name
            if produced.exists():
                _atomic_write(target / name, produced.read_text(encoding="utf-8"))
        if (target / "results.json").exists():  # the downloadable tables (report/tables.py)
            results = json.loads((target / "results.json").read_text(encoding="utf-8"))
            write_tables(overview_workbook(results), target)
    return target / "index.html"
