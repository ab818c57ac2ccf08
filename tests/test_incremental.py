"""Incremental ``make reports`` (evaluation/report/build.py): unchanged inputs re-render
nothing; one area's edited returns re-estimate that area only and re-render exactly the pages
whose published numbers changed; a code or template change invalidates what it touches; two
concurrent runs leave whole pages; a Dask cluster gives the same pages as local processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.designs import area_key as area_key_mod
from evaluation.designs.area import area_estimates, estimate_area
from evaluation.designs.area_key import area_key
from evaluation.panel.build import panel_for_plan
from evaluation.panel.plan import load_plan
from evaluation.report import build
from evaluation.report.build import render_all, stable_results
from evaluation.report.render import BUILD_FILE, page_is_current

from .conftest import INCREMENTAL_PILOTS as PILOTS
from .conftest import ROOT

TIMELINESS = "ehcp_2025_timeliness_20_week.csv"
HARTLEPOOL_2024 = (
    "2024,Calendar year,Local authority,E92000001,England,E12000001,North East,E06000001,805,"
    "Hartlepool,All EHC plans issued,All EHC plans issued,122,122,91,91,74.6,74.6,29,29,23.8,"
    "23.8,2,2,1.6,1.6"
)
EDITED_2024 = HARTLEPOOL_2024.replace(
    "122,122,91,91,74.6,74.6,29,29,23.8,23.8", "122,122,80,80,65.6,65.6,40,40,32.8,32.8"
)


def snapshot(root: Path) -> dict:
    """Every published file under ``root``: (bytes, modification time in ns)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def results(root: Path, slug: str) -> dict:
    return json.loads((root / slug / "results.json").read_text(encoding="utf-8"))


@pytest.fixture()
def project(rendered_project):
    return rendered_project


def test_cold_run_estimates_and_renders_everything(project):
    cold = project["cold"]
    assert cold.estimated == sorted(PILOTS) and cold.rendered == sorted(PILOTS)
    assert cold.reused == [] and cold.overview_rendered and set(cold.failures) == {"201"}
    for slug in [*PILOTS.values(), "overview"]:
        record = json.loads((project["out"] / slug / BUILD_FILE).read_text())
        assert page_is_current(project["out"] / slug, record["key"])


def test_unchanged_inputs_rerender_nothing(project):
    warm = render_all(project["plan"], out_root=project["out"], jobs=2, progress=False)
    assert warm.rendered == [] and warm.estimated == [] and not warm.overview_rendered
    assert warm.reused == sorted(PILOTS) and set(warm.failures) == {"201"}
    assert "0 page(s) rendered, 2 reused" in warm.summary()
    assert snapshot(project["out"]) == project["files"]  # same bytes, same timestamps


def test_dask_cluster_gives_the_local_pages(project, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        run = render_all(
            project["plan"],
            out_root=out,
            progress=False,
            force=True,
            scheduler=cluster.scheduler_address,
        )
    assert set(run.failures) == {"201"} and run.estimated == sorted(PILOTS)
    assert run.rendered == sorted(PILOTS) and run.overview_rendered
    local = project["files"]
    for slug in [*PILOTS.values(), "overview"]:
        for name in ("results.json", "index.html"):
            assert (out / slug / name).read_bytes() == local[f"{slug}/{name}"][0], (slug, name)
    assert (out / "index.html").read_bytes() == local["index.html"][0]


def test_lost_dask_worker_is_retried(tmp_path):
    distributed = pytest.importorskip("distributed")
    from evaluation.compute import runner

    marker = tmp_path / "died-once"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        runner(cluster.scheduler_address) as run,
    ):
        assert run.workers == 2
        assert run.submit(_die_the_first_time, str(marker)).result() == 42
    assert marker.exists()


def _die_the_first_time(marker: str) -> int:
    import os

    if not Path(marker).exists():
        Path(marker).write_text("x")
        os._exit(1)  # the worker process is lost, as on a failed node
    return 42


ASSESSMENTS = "ehcp_2025_assessments.csv"
HARTLEPOOL_ASSESSED_2024 = (
    b"Hartlepool,All EHC needs assessments,All EHC needs assessments,136,133,97.8,2,1.5,0,0,1,0.7"
)
EDITED_ASSESSED_2024 = HARTLEPOOL_ASSESSED_2024.replace(
    b"136,133,97.8,2,1.5", b"136,132,97.1,3,2.2"
)


def test_an_edit_no_published_number_uses_rerenders_nothing(project):
    """Hartlepool's 2024 assessments not leading to a plan: in its panel rows (so the area is
    re-estimated) but in no planned outcome, so no page's numbers change and no page is
    re-rendered (the overview, keyed by its inputs, is)."""
    plan, out, data = project["plan"], project["out"], project["data"]
    files_before = snapshot(out)
    path = data / "public" / ASSESSMENTS
    original = path.read_bytes()
    assert HARTLEPOOL_ASSESSED_2024 in original
    path.write_bytes(original.replace(HARTLEPOOL_ASSESSED_2024, EDITED_ASSESSED_2024))
    try:
        run = render_all(plan, out_root=out, jobs=2, progress=False)
        assert run.estimated == ["805"] and run.rendered == []
        assert run.reused == sorted(PILOTS)
        after = snapshot(out)
        for slug in PILOTS.values():
            page = {
                k: v
                for k, v in files_before.items()
                if k.startswith(f"{slug}/") and not k.endswith(BUILD_FILE)
            }
            assert {k: after[k] for k in page} == page  # same bytes, same timestamps
    finally:
        path.write_bytes(original)


def test_one_area_edited_reestimates_it_and_rerenders_only_changed_pages(project):
    plan, out, data = project["plan"], project["out"], project["data"]
    before = {slug: results(out, slug) for slug in PILOTS.values()}
    files_before = snapshot(out)
    plan_obj = load_plan(plan)
    old_panel = panel_for_plan(plan_obj)
    old_keys = {c: area_key(old_panel, plan_obj, c, plan_obj.seed) for c in PILOTS}
    path = data / "public" / TIMELINESS
    original = path.read_bytes()
    assert HARTLEPOOL_2024.encode() in original
    path.write_bytes(original.replace(HARTLEPOOL_2024.encode(), EDITED_2024.encode()))
    try:
        run = render_all(plan, out_root=out, jobs=2, progress=False)
        assert set(run.failures) == {"201"} and run.estimated == ["805"]  # only the edited area
        assert "805" in run.rendered and run.overview_rendered
        hart = results(out, "hartlepool")
        primary = next(o for o in hart["outcomes"] if o["outcome"] == "timeliness_20wk_ex")
        assert primary["counts"]["by_period"]["2024"]["area_numerator"] == 80  # the new return
        ov = json.loads((out / "overview" / "results.json").read_text())
        assert ov != json.loads(files_before["overview/results.json"][0])
        panel = panel_for_plan(load_plan(plan))
        for code, slug in PILOTS.items():
            if code == "805":
                assert area_key(panel, plan_obj, code, plan_obj.seed) != old_keys[code]
                continue
            # the other pilot's inputs are untouched: same key, and its cached estimates equal
            # a fresh estimate on the edited data (the key hashes all they depend on)
            assert area_key(panel, plan_obj, code, plan_obj.seed) == old_keys[code]
            fresh = estimate_area(panel, plan_obj, code, plan_obj.seed)
            cached = area_estimates(panel, plan_obj, code, plan_obj.seed)
            assert [o.result.to_dict() for o in fresh.outcomes] == [
                o.result.to_dict() for o in cached.outcomes
            ]
            changed = stable_results(results(out, slug)) != stable_results(before[slug])
            assert (code in run.rendered) == changed  # re-rendered iff a number changed
            if not changed:  # its files untouched; .build.json only notes the new inputs
                page = {
                    k: v
                    for k, v in files_before.items()
                    if k.startswith(f"{slug}/") and not k.endswith(BUILD_FILE)
                }
                assert {k: v for k, v in snapshot(out).items() if k in page} == page
                record = json.loads((out / slug / BUILD_FILE).read_text())
                assert page_is_current(out / slug, record["key"]) and record["inputs"]
    finally:
        path.write_bytes(original)


def test_code_or_template_change_invalidates(project, tmp_path, monkeypatch):
    """A changed report template re-renders every page (nothing re-estimated); a changed
    estimation source re-estimates every area.  (Runs after the edit test, which restored the
    data: the original estimates are still in the cache.)"""
    plan, out = project["plan"], project["out"]
    template = tmp_path / "extra_template.css"
    template.write_text("a { color: navy }")
    original = build.render_sources
    monkeypatch.setattr(build, "render_sources", lambda: [*original(), template])
    run = render_all(plan, out_root=out, jobs=2, progress=False)
    assert run.rendered == sorted(PILOTS) and run.overview_rendered and run.estimated == []
    code = tmp_path / "extra_estimator.py"
    code.write_text("X = 1\n")
    sources = area_key_mod.estimation_sources
    monkeypatch.setattr(area_key_mod, "estimation_sources", lambda: [*sources(), code])
    area_key_mod.estimation_version.cache_clear()
    area_key_mod._SHARED.clear()
    try:
        run = render_all(plan, out_root=out, jobs=2, progress=False)
        assert run.estimated == sorted(PILOTS) and run.overview_rendered
    finally:
        monkeypatch.undo()
        area_key_mod.estimation_version.cache_clear()
        area_key_mod._SHARED.clear()


CONCURRENT = """
import sys
from evaluation.report.build import render_all
run = render_all(sys.argv[1], out_root=sys.argv[2], jobs=1, progress=False)
sys.exit(0 if set(run.failures) == {"201"} else 5)
"""


def test_two_concurrent_runs_leave_whole_pages(project, tmp_path):
    """Two runs at once into a fresh directory: neither finds a page, so both render and
    publish every page (the estimates come from the cache; forcing them adds nothing here)."""
    out = tmp_path / "concurrent"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(project["plan"]), str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
    for slug in [*PILOTS.values(), "overview"]:
        record = json.loads((out / slug / BUILD_FILE).read_text())
        assert page_is_current(out / slug, record["key"]), slug  # every file as recorded
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # no half-written file left
    assert stable_results(results(out, "hartlepool")) == stable_results(
        json.loads(project["files"]["hartlepool/results.json"][0])
    )


def test_an_unreachable_scheduler_is_one_clear_error():
    pytest.importorskip("distributed")
    from evaluation.compute import DaskRunner, SchedulerError

    with pytest.raises(
        SchedulerError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"
    ):
        DaskRunner("tcp://127.0.0.1:9", timeout=1)
