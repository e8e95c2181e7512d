"""Issue 12, findings 17 and 19 (class: every failure to open or write a workspace is a ContactSyncError
that names it): two Workspace objects on one file in one process wait for each other instead of failing
with DuckDB's raw "Conflict on update!"; a CSV (or Parquet, Excel) given as a workspace is named as such
and left untouched."""

from __future__ import annotations

import hashlib
import threading

import pandas as pd
import pytest
from conftest import couple_two, fill_small

import contactsync as cs


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "w.duckdb"
    couple_two(fill_small(cs.Workspace.open(p))).close()
    return p


def test_two_workspace_objects_in_threads_sync_one_file_without_a_raw_conflict(path):
    errors: list[BaseException] = []
    done: list[int] = []

    def work():
        try:
            ws = cs.Workspace.open(path, busy_timeout=60)
            with ws.hold():
                for _ in range(4):
                    done.append(ws.sync("push", force=True).run_id)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    before = len(cs.Workspace.open(path).runs())
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with cs.Workspace.open(path) as ws:
        runs = ws.runs()
        assert len(runs) == before + 8 and sorted(done) == sorted(runs.run_id[before:])
        assert runs.ended_at.notna().all()


def test_a_conflict_that_still_happens_is_a_busy_error_and_writes_nothing(path):
    """Two connections of one DuckDB database (what two objects share) writing the same row: the loser gets
    WorkspaceBusyError, and its action is rolled back whole."""
    a = cs.Workspace.open(path)
    with a.hold() as con_a:
        con_a.execute("BEGIN TRANSACTION")
        con_a.execute("UPDATE nav_contact SET \"Job Title\" = 'held' WHERE \"No.\" = 'CT000001'")
        b = cs.Workspace.open(path)
        b._store.busy_timeout = 0.5
        with b.hold():
            runs = len(b.runs())
            with pytest.raises(cs.WorkspaceBusyError):
                with b._store.transaction() as con_b:
                    con_b.execute("UPDATE nav_contact SET \"Job Title\" = 'other' WHERE \"No.\" = 'CT000001'")
            assert len(b.runs()) == runs
        con_a.execute("ROLLBACK")
    assert cs.Workspace.open(path).nav_contact("CT000001")["Job Title"] == "Einkauf"


@pytest.mark.parametrize("kind,write,named", [
    ("csv", lambda p: p.write_text("No.,Type\nCT1,Person\n"), "a text file"),
    ("parquet", lambda p: pd.DataFrame({"No.": ["CT1"]}).to_parquet(p), "a Parquet file"),
    ("xlsx", lambda p: pd.DataFrame({"No.": ["CT1"]}).to_excel(p, index=False), "an Excel"),
])
def test_a_data_file_given_as_a_workspace_is_named_and_untouched(tmp_path, kind, write, named):
    p = tmp_path / f"contacts.{kind}"
    write(p)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    with pytest.raises(cs.WorkspaceError, match=f"is not a contactsync workspace: it is {named}") as info:
        cs.Workspace.open(p)
    assert "import" in str(info.value)
    assert hashlib.sha256(p.read_bytes()).hexdigest() == digest
    # (a DuckDB file that is not a workspace is still told apart: test_workspace.test_foreign_duckdb_file_is_refused)
