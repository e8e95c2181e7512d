"""Backup and restore (issue 7.6): a round trip gives back every table exactly (data, couplings, run
history, change log, settings, mapping), the history still undoes, and new runs continue the run id
sequence instead of colliding with the restored ones. API and CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CRM_1, CRM_2, account_frame, fill_small, nav_frame
from wschecksum import diff, fingerprint

import contactsync as cs


def _fill(ws):
    fill_small(ws)
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.couple("CT000002", CRM_2, sync_after="pull")
    ws.import_nav(nav_frame().assign(**{"Job Title": "Changed"}))
    ws.sync("push")
    ws.settings["crm_base_url"] = "https://example.crm4.dynamics.com"
    return ws


@pytest.mark.parametrize("source", ["file", "memory"])
def test_round_trip_is_exact_and_run_ids_continue(tmp_path, source):
    src = cs.Workspace.open(tmp_path / "src.duckdb" if source == "file" else ":memory:")
    _fill(src)
    before = fingerprint(src)
    runs_before = src.runs()
    last = int(runs_before["run_id"].max())
    backup = src.backup(tmp_path / "ws.backup.duckdb")
    src.close()

    restored = cs.Workspace.restore(backup, tmp_path / "restored.duckdb")
    with restored:
        assert not diff(before, fingerprint(restored)), diff(before, fingerprint(restored))
        assert restored.settings["crm_base_url"] == "https://example.crm4.dynamics.com"
        assert restored.mapping == src.mapping
        # new runs continue the sequence
        res = restored.sync("both")
        assert res.run_id == last + 1, (res.run_id, last)
        assert restored.runs()["run_id"].is_unique
        # the restored history still works: undo the last restored sync
        sync_runs = runs_before[runs_before["kind"] == "sync"]["run_id"]
        undone = restored.undo(int(sync_runs.max()))
        assert undone.run_id == last + 2
        assert restored.runs()["run_id"].is_unique


def test_backup_refuses_existing_target_and_restore_refuses_overwrite(tmp_path):
    ws = _fill(cs.Workspace.open(tmp_path / "a.duckdb"))
    (tmp_path / "exists.duckdb").write_bytes(b"")
    with pytest.raises(cs.ContactSyncError, match="exists"):
        ws.backup(tmp_path / "exists.duckdb")
    b = ws.backup(tmp_path / "b.duckdb")
    before = fingerprint(ws)
    ws.close()
    other = cs.Workspace.open(tmp_path / "other.duckdb")
    other.import_accounts(account_frame())
    other_fp = fingerprint(other)
    other.close()
    with pytest.raises(cs.ContactSyncError, match="overwrite"):
        cs.Workspace.restore(b, tmp_path / "other.duckdb")
    with cs.Workspace.open(tmp_path / "other.duckdb") as o:
        assert not diff(other_fp, fingerprint(o))
    with cs.Workspace.restore(b, tmp_path / "other.duckdb", overwrite=True) as o:
        assert not diff(before, fingerprint(o))


def test_restore_of_a_non_workspace_fails_cleanly(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(cs.ContactSyncError):
        cs.Workspace.restore(junk, tmp_path / "dest.duckdb")
    assert not (tmp_path / "dest.duckdb").exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "contactsync.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_backup_restore_round_trip(tmp_path):
    path = tmp_path / "ws.duckdb"
    with _fill(cs.Workspace.open(path)) as ws:
        before = fingerprint(ws)
        last = int(ws.runs()["run_id"].max())
    out = _cli("backup", "-w", str(path), str(tmp_path / "ws.bak"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["backup"] == str(tmp_path / "ws.bak")
    # the restore target exists: refused without --overwrite, with exit 2 and one line
    path2 = tmp_path / "other.duckdb"
    cs.Workspace.open(path2).close()
    out = _cli("restore", "-w", str(path2), str(tmp_path / "ws.bak"))
    assert out.returncode == 2 and "--overwrite" in out.stderr, out
    out = _cli("restore", "-w", str(path2), str(tmp_path / "ws.bak"), "--overwrite")
    assert out.returncode == 0, out.stderr
    with cs.Workspace.open(path2) as ws:
        assert not diff(before, fingerprint(ws))
        assert ws.sync("push").run_id == last + 1
