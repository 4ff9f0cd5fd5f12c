"""examples/walkthrough.ipynb runs from top to bottom (nbclient, a real Jupyter kernel) and is kept
without outputs."""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "walkthrough.ipynb"


def test_the_notebook_is_committed_without_outputs():
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    assert cells and all(c.outputs == [] and c.execution_count is None for c in cells)


def test_the_notebook_runs_and_draws_the_graph(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on any failing cell
    shown = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
             if output.output_type in ("execute_result", "display_data")]
    assert any("image/svg+xml" in output.data for output in shown)  # the graph, as Jupyter shows it
    assert (tmp_path / "graph.svg").exists() and (tmp_path / "projector" / "vectors.tsv").exists()
