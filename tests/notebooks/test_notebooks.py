"""Execute every notebook in colabs/ top to bottom at smoke sizes; any cell error fails the test.

Run with the notebooks extra: `pip install -e ".[test,notebooks]"` then
`python -m pytest tests/notebooks -q -o addopts="-ra"` (what `.ci/notebook_tests.sh` does; the
main suite ignores this folder). Each kernel runs in a fresh temporary folder, so the run folders
the notebooks write never land in the repository, and imports the checkout under test (its root
goes first on PYTHONPATH).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "colabs").glob("*.ipynb"))
EXPECTED = {"quickstart", "losses_in_your_code", "compare_methods", "structured_models", "sweep", "adversarial",
            "sequences", "interaction", "text"}
CELL_TIMEOUT_S = 600


def test_every_notebook_is_present():
    assert EXPECTED <= {p.stem for p in NOTEBOOKS}, f"colabs/ holds {[p.name for p in NOTEBOOKS]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("DISENTAX_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell and its traceback
    assert not list(ROOT.glob("colabs/runs")), "a notebook wrote its runs into the repository"
