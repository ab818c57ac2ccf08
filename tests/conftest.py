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
