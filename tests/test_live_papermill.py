"""A scheduled live run: papermill runs sync_run.ipynb with live_pull and live_deliver (pull both → sync →
deliver); the JSON summary counts the delivery outcomes; no credential in the saved notebook."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
from conftest import CRM_1, CRM_2
from live_support import TOKEN, connected, server

pytestmark = pytest.mark.slow
NOTEBOOK = Path(__file__).resolve().parents[1] / "contactsync" / "notebooks" / "sync_run.ipynb"


def test_scheduled_live_run(tmp_path, monkeypatch):
    srv = server()
    try:
        path = tmp_path / "w.duckdb"
        connected(srv, path).close()
        srv.edit("crm", CRM_2, jobtitle="Managing Director")     # changed in CRM: the run pulls it, syncs to NAV
        with __import__("contactsync").Workspace.open(path) as ws:  # changed in NAV (an import): synced to CRM
            ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Purchasing lead"}]))
        monkeypatch.setenv("CS_LIVE_TOKEN", TOKEN)                # the kernel signs in from the environment
        out, summary_path = tmp_path / "out.ipynb", tmp_path / "summary.json"
        pm.execute_notebook(str(NOTEBOOK), str(out), parameters={
            "workspace": str(path), "output_json": str(summary_path), "live_pull": True, "live_deliver": True},
            progress_bar=False, cwd=str(tmp_path), kernel_name="python3")
        summary = json.loads(summary_path.read_text())
        assert summary["imports"]["live_crm"]["updated"] == 1
        assert summary["counts"]["modified"] == 2
        assert summary["delivery"]["delivered"] == 2 and summary["delivery"]["pending"] == 0
        assert srv.record("crm", CRM_1)["jobtitle"] == "Purchasing lead"
        assert srv.find_nav("CT000002")["jobTitle"] == "Managing Director"
        saved = nbformat.read(out, as_version=4)
        text = json.dumps(saved) + summary_path.read_text()
        assert TOKEN not in text and "delivered" in text
    finally:
        srv.stop()
