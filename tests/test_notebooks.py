"""Every notebook (the packaged ones in contactsync/notebooks/ and the ad hoc ones in notebooks/) runs
headless with papermill on its default parameters (a tmp workspace when it has a ``workspace``
parameter), and is committed without outputs; notebooks/ links to the packaged ones, never a copy."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "contactsync" / "notebooks"
# each notebook once, by its real file (notebooks/ holds links to the packaged ones)
NOTEBOOKS = sorted({p.resolve() for d in (PACKAGED, ROOT / "notebooks") for p in d.glob("*.ipynb")})


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_default_parameters(nb, tmp_path, monkeypatch):
    from contactsync.demo import build_demo

    params = papermill.inspect_notebook(str(nb))
    given = {}
    if "workspace" in params:
        ws_path = tmp_path / "workspace.duckdb"
        build_demo(ws_path).close()
        given["workspace"] = str(ws_path)
    monkeypatch.setenv("CONTACTSYNC_WORKSPACE", str(tmp_path / "env-workspace.duckdb"))
    out = tmp_path / nb.name
    papermill.execute_notebook(str(nb), str(out), parameters=given, cwd=str(nb.parent), kernel_name="python3",
                               progress_bar=False)
    ran = nbformat.read(out, as_version=4)
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_clean(nb):
    book = nbformat.read(nb, as_version=4)
    first = book.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), \
        "the first cell must be the papermill parameters cell"
    dirty = [i for i, c in enumerate(book.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} have outputs; clear them before committing"


def test_steward_notebook_builds_the_app(tmp_path):
    nb = next(p for p in NOTEBOOKS if p.name == "steward.ipynb")
    ws_path = tmp_path / "steward.duckdb"
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(nb), str(out), parameters={"workspace": str(ws_path)}, cwd=str(nb.parent),
                               kernel_name="python3", progress_bar=False)
    ran = nbformat.read(out, as_version=4)
    views = [o for c in ran.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, "the app's widget is displayed"
    from contactsync import Workspace

    with Workspace.open(ws_path) as ws:  # the workspace was built from data/ on first run
        assert ws.crm_contacts(limit=1).attrs["total"] > 0


def test_packaged_notebooks_are_the_ones_the_package_uses():
    from contactsync import report
    from contactsync.notebooks import STEWARD, SYNC_RUN

    assert {STEWARD.name, SYNC_RUN.name} == {p.name for p in PACKAGED.glob("*.ipynb")}
    assert report.NOTEBOOK == SYNC_RUN and STEWARD.parent == PACKAGED
    for nb in (STEWARD, SYNC_RUN):  # the checkout's notebooks/ opens the same files (Voilà, JupyterLab)
        link = ROOT / "notebooks" / nb.name
        assert link.is_symlink() and link.resolve() == nb.resolve(), f"{link} must link to {nb}"
