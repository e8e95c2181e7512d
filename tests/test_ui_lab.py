"""The JupyterLab path: the steward notebook executed by a real kernel, then saved through the Jupyter
server's contents manager with the checkout's configuration, is byte for byte the tracked file."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "contactsync" / "notebooks" / "steward.ipynb"

pytest.importorskip("nbstripout")
pytest.importorskip("jupyter_server")
nbclient = pytest.importorskip("nbclient")


def _manager(root: Path):
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config

    cfg = Config()
    runpy.run_path(str(ROOT / "jupyter_server_config.py"), {"get_config": lambda: cfg})
    return FileContentsManager(root_dir=str(root), config=cfg)


def test_run_all_then_save_leaves_the_notebook_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACTSYNC_WORKSPACE", str(tmp_path / "ws.duckdb"))
    shutil.copyfile(NOTEBOOK, tmp_path / "steward.ipynb")
    before = (tmp_path / "steward.ipynb").read_bytes()
    nb = nbformat.read(tmp_path / "steward.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    assert any(c.get("outputs") for c in nb.cells)  # the run produced outputs (the app's widget)
    assert nb.metadata.get("language_info", {}).get("version")
    cm = _manager(tmp_path)
    cm.save({"type": "notebook", "format": "json", "content": nb}, "steward.ipynb")
    assert (tmp_path / "steward.ipynb").read_bytes() == before


def test_without_the_hook_the_outputs_would_be_saved(tmp_path):
    """The check above can fail: the same save without the hook writes the outputs."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    shutil.copyfile(NOTEBOOK, tmp_path / "steward.ipynb")
    before = (tmp_path / "steward.ipynb").read_bytes()
    nb = nbformat.read(tmp_path / "steward.ipynb", as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[0].execution_count = 1
    FileContentsManager(root_dir=str(tmp_path)).save({"type": "notebook", "format": "json", "content": nb},
                                                      "steward.ipynb")
    assert (tmp_path / "steward.ipynb").read_bytes() != before
