"""Render per-area evidence reports: papermill runs the thin notebook, nbconvert exports HTML.

``render_area(area, plan)`` resolves AREA *before* anything is written (a refused AREA writes
nothing), executes ``notebooks/area_report.ipynb`` in a temporary directory with an explicit
kernel, exports it without code through the offline ``govreport`` template, checks that the page
loads nothing from the network, and only then moves ``index.html`` and ``results.json`` into
``reports/<area-slug>/`` (write to a temporary file, then rename, so an interrupted run never
leaves half a report), with the page's tables beside them (``tables.ods``, ``tables-csv.zip``:
:mod:`evaluation.report.tables`) and ``.build.json`` (what the page was built from).

Rendering every area, incrementally, is :mod:`evaluation.report.build`; it renders many pages
in one :class:`ReportKernel` per worker process.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

from evaluation.config import PROJECT_ROOT, slugify
from evaluation.io.geography import load_geography
from evaluation.panel.cache import atomic_write, locked
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
    """Render ``reports/<slug>/index.html`` and ``results.json`` for one pilot area (the kernel
    evaluates the area, through the one cache: an unchanged area is not re-estimated)."""
    plan_obj = load_plan(plan)
    geo = load_geography(plan_obj.data_dir)
    code = geo.resolve_area(area, plan_obj.pilot_codes)  # raises before anything is written
    plan_obj.require_data()  # e.g. "run make demo-data first" (exit 4), before any kernel starts
    name = geo.name_for_code(code) or code
    slug = slugify(name)
    out_root = Path(out_root) if out_root is not None else default_out_root(plan_obj)
    target = out_root / slug
    with tempfile.TemporaryDirectory(prefix=f"report-{slug}-") as tmp:
        tmpdir = Path(tmp)
        executed = tmpdir / "area_report.ipynb"
        seed = plan_obj.seed if seed is None else int(seed)
        params = area_params(code, plan_obj.path, seed, tmpdir, panel_cache, previous(target))
        _execute(NOTEBOOK, executed, params, name)
        publish_page(target, page_files(executed, tmpdir, name))
    return RenderedReport(name, slug, target / "index.html", target / "results.json")


def previous(target: Path) -> str | None:
    """The published results.json of a page, if any (its "changes since last" compares)."""
    path = target / "results.json"
    return path.read_text(encoding="utf-8") if path.exists() else None


def area_params(code, plan_path, seed, tmpdir: Path, panel_cache, previous_text, saved=None):
    """The area notebook's papermill parameters (files it reads are put in ``tmpdir``)."""
    params = {
        "area": code,
        "plan": str(plan_path),
        "seed": seed,
        "output_dir": str(tmpdir),
        "panel_cache": str(panel_cache) if panel_cache else None,
        "previous_results": None,
        "evaluation_file": str(saved) if saved else None,
    }
    if previous_text is not None:  # a test-and-learn wave: show what changed since last time
        (tmpdir / "previous_results.json").write_text(previous_text, encoding="utf-8")
        params["previous_results"] = str(tmpdir / "previous_results.json")
    return params


def page_files(executed, tmpdir: Path, name: str) -> dict[str, bytes]:
    """An executed area notebook's page: ``index.html``, ``results.json`` and the tables,
    checked (results written, nothing loaded from the network), as bytes by file name."""
    results_tmp = tmpdir / "results.json"
    if not results_tmp.exists():
        raise ReportError("The report notebook did not write results.json.")
    html = export_html(executed, f"{name}: SEND Change Programme evidence report")
    external = external_resources(html)
    if external:
        raise ReportError(f"The report would load external resources: {external[:3]}")
    results = results_tmp.read_bytes()
    tables = tmpdir / "tables"
    tables.mkdir()
    written = write_tables(area_workbook(json.loads(results)), tables)
    files = {"results.json": results, "index.html": html.encode("utf-8")}
    return files | {p.name: p.read_bytes() for p in written.values()}


BUILD_FILE = ".build.json"  # beside a page: the key it was built from and its files' hashes


def publish_page(
    target: Path, files: dict[str, bytes], key: str | None = None, inputs: str | None = None
) -> None:
    """Write a page's files into ``target``, each atomically, under a lock (two runs never
    interleave their files), then ``.build.json`` last: the page's key (what it shows),
    ``inputs`` (what it was computed from) and every file's sha256, so a later run can tell a
    whole, current page from a stale or damaged one."""
    target.mkdir(parents=True, exist_ok=True)
    with locked(target / ".lock"):
        for name in sorted(files, key=lambda n: n == "index.html"):  # the page itself last
            atomic_write(target / name, files[name])
        record = {
            "key": key,
            "inputs": inputs,
            "files": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()},
        }
        atomic_write(target / BUILD_FILE, json.dumps(record, indent=1, sort_keys=True))


def record_inputs(target: Path, record: dict, inputs: str) -> None:
    """Note in ``.build.json`` that the page, unchanged, is also what ``inputs`` give (its
    files are not touched)."""
    with locked(target / ".lock"):
        record = dict(record, inputs=inputs)
        atomic_write(target / BUILD_FILE, json.dumps(record, indent=1, sort_keys=True))


def page_record(target: Path) -> dict | None:
    """``target``'s ``.build.json`` if the page is whole (every file as recorded), else None."""
    try:
        record = json.loads((target / BUILD_FILE).read_text(encoding="utf-8"))
        whole = all(
            hashlib.sha256((target / n).read_bytes()).hexdigest() == h
            for n, h in record["files"].items()
        )
        return record if whole else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def page_is_current(target: Path, key: str) -> bool:
    """Whether ``target`` holds a whole page built with ``key`` (as its key or its inputs)."""
    record = page_record(target)
    return record is not None and key in (record.get("key"), record.get("inputs"))


class ReportKernel:
    """One kernel that renders many area pages in this process: started once (the kernel
    start-up and the analysis imports are paid once), restarted if it dies."""

    def __init__(self):
        from nbclient import NotebookClient
        from papermill.iorw import load_notebook_node

        self.template = load_notebook_node(str(NOTEBOOK))  # with the metadata papermill needs
        self.client = NotebookClient(
            copy.deepcopy(self.template),
            kernel_name=kernel_name(),
            timeout=EXECUTION_TIMEOUT,
            resources={"metadata": {"path": str(PROJECT_ROOT)}},
            config=kernel_config(),
            # jupyter_client interrupts a kernel before shutting it down; an idle kernel then
            # logs "KeyboardInterrupt caught in kernel" on the terminal.  Cell errors still
            # reach us as messages (and become the area's failure); the log is not needed.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        self.client.km = self.client.create_kernel_manager()
        self.client.start_new_kernel()
        self.client.start_new_kernel_client()

    def alive(self) -> bool:
        from nbclient.util import run_sync

        return bool(self.client.km is not None and run_sync(self.client.km.is_alive)())

    def run(self, params: dict):
        """The area notebook executed with ``params`` (raises ``CellExecutionError``)."""
        from papermill.parameterize import parameterize_notebook

        nb = parameterize_notebook(copy.deepcopy(self.template), params)
        self.client.nb = nb
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                self.client.execute_cell(cell, index)
        return nb

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client._cleanup_kernel()


_KERNEL: list[ReportKernel] = []  # this process's report kernel, kept between renders


def report_kernel() -> ReportKernel:
    """This process's :class:`ReportKernel` (started on first use, shut down at exit)."""
    if _KERNEL and _KERNEL[0].alive():
        return _KERNEL[0]
    if _KERNEL:
        _KERNEL.pop().close()
    _KERNEL.append(ReportKernel())
    if len(_KERNEL) == 1:
        import atexit
        from multiprocessing import util

        util.Finalize(None, close_report_kernel, exitpriority=10)  # pool workers
        atexit.register(close_report_kernel)
    return _KERNEL[0]


def close_report_kernel() -> None:
    while _KERNEL:
        _KERNEL.pop().close()


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


def overview_files(plan, reports_dir: Path, panel_cache=None, seed: int | None = None) -> dict:
    """The programme overview page rendered from the areas' results.json in ``reports_dir``:
    ``index.html``, ``results.json``, the placebo distribution and the tables, as bytes."""
    plan_obj = plan if not isinstance(plan, (str, Path)) else load_plan(plan)
    with tempfile.TemporaryDirectory(prefix="overview-") as tmp:
        executed = Path(tmp) / "overview.ipynb"
        params = {
            "plan": str(plan_obj.path),
            "reports_dir": str(reports_dir),
            "seed": seed if seed is not None else plan_obj.seed,
            "panel_cache": str(panel_cache) if panel_cache else None,
            "output_dir": tmp,
        }
        _execute(OVERVIEW_NOTEBOOK, executed, params, "the programme overview")
        html = export_html(executed, f"{plan_obj.title}: programme overview")
        external = external_resources(html)
        if external:
            raise ReportError(f"The overview would load external resources: {external[:3]}")
        files = {"index.html": html.encode("utf-8")}
        for name in ("results.json", "permutation_distribution.csv"):
            produced = Path(tmp) / name
            if produced.exists():
                files[name] = produced.read_bytes()
        if "results.json" in files:  # the downloadable tables (report/tables.py)
            tables = Path(tmp) / "tables"
            tables.mkdir()
            written = write_tables(overview_workbook(json.loads(files["results.json"])), tables)
            files |= {p.name: p.read_bytes() for p in written.values()}
    return files


def render_overview(
    plan, panel_cache=None, out_root: Path | str | None = None, seed: int | None = None
) -> Path:
    """Render ``reports/overview/index.html`` from the areas' results.json files."""
    plan_obj = plan if not isinstance(plan, (str, Path)) else load_plan(plan)
    out_root = Path(out_root) if out_root is not None else default_out_root(plan_obj)
    target = out_root / "overview"
    publish_page(target, overview_files(plan_obj, out_root, panel_cache, seed))
    return target / "index.html"
