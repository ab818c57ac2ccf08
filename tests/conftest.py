import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: see evaluation/__init__.py

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PLAN = ROOT / "plans" / "change_programme_2023.yaml"


@pytest.fixture(scope="session")
def geo():
    from evaluation.io.geography import load_geography

    return load_geography(DATA)


@pytest.fixture(scope="session")
def panel():
    from evaluation.panel.build import cached_panel

    return cached_panel(str(DATA), "aggregate")


@pytest.fixture(scope="session")
def plan():
    from evaluation.panel.plan import load_plan

    return load_plan(PLAN)


INCREMENTAL_PILOTS = {"805": "hartlepool", "840": "county-durham"}


@pytest.fixture(scope="session")
def rendered_project(tmp_path_factory):
    """A copy of the shipped data, a plan reading it (two of its four outcomes) with two pilots
    that render and one,
    City of London (201), whose report must fail (it has no timeliness figure for the
    post-period, 2024), and a first, cold ``make reports`` run of it (evaluation/report/build.py).
    Shared by tests/test_incremental.py and tests/test_reports_all.py."""
    import shutil

    import yaml

    from evaluation.report.build import render_all

    base = tmp_path_factory.mktemp("rendered-project")
    shutil.copytree(DATA, base / "data")
    raw = yaml.safe_load(PLAN.read_text())
    raw["pilots"] = [p for p in raw["pilots"] if p["la_code"] in INCREMENTAL_PILOTS] + [
        {
            "la_code": "201",
            "la_name": "City of London",
            "partnership": "London",
            "role": "lead",
            "start_date": "2023-09-01",
        }
    ]
    raw["inference"]["programme_permutations"] = 99
    # the primary outcome and one secondary: every incremental rule is exercised, at half the
    # cost of all four (other tests render every outcome)
    raw["outcomes"]["secondary"] = [
        o for o in raw["outcomes"]["secondary"] if o["name"] == "tribunal_appeal_rate"
    ]
    raw["data"]["directory"] = str(base / "data")
    plan = base / "plan.yaml"
    plan.write_text(yaml.safe_dump(raw))
    out = base / "reports"
    cold = render_all(plan, out_root=out, jobs=2, progress=False)
    files = {
        str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }
    return {"plan": plan, "out": out, "data": base / "data", "cold": cold, "files": files}
