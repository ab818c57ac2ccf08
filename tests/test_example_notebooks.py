"""The example notebooks in ``notebooks/examples/`` are committed without outputs, on the
project's kernel, and run from top to bottom without an error in under 60 seconds each.

They are executed with nbclient on the ``send-evaluation`` kernel (``make setup`` registers it;
``python3`` of this environment otherwise, as the report renderer does), from the project root.
The notebooks make their own checks where they claim something (e.g. the TWFE coefficient and
standard error equal ``linearmodels.PanelOLS`` after the stated rescaling), so an assertion
that fails in a notebook fails here.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from evaluation.report.render import kernel_name

from .conftest import ROOT

EXAMPLES = ROOT / "notebooks" / "examples"
EXPECTED = {
    "did_your_own_panel.ipynb",
    "its_monthly_series.ipynb",
    "new_outcome_and_estimator.ipynb",
    "power_planned_pilot.ipynb",
}
BUDGET_SECONDS = 60
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_every_example_is_here():
    assert {p.name for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_on_the_project_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "send-evaluation"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs"
    assert nb.cells[0].cell_type == "markdown", "each example starts by saying what it does"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_without_error_within_budget(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel_name(),
        timeout=BUDGET_SECONDS,  # per cell; the whole notebook is held to the same below
        resources={"metadata": {"path": str(ROOT)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    seconds = time.perf_counter() - start
    assert seconds < BUDGET_SECONDS, f"{path.name} took {seconds:.1f} s"
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert shown, f"{path.name} showed nothing"
