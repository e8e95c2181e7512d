"""A checkpoint a SIGKILL cuts short never costs a workspace (contactsync.checkpoint).

DuckDB 2.0.1 rewrites a metadata block in place at a checkpoint; a kill inside that write left a file that no longer
opened ("Corrupt database file: computed checksum ..."). The store checkpoints behind a journal of those blocks and
mends a torn file from it. The tears are made here deterministically, page by page, from the checkpoint's own
writes (as bench/duckdb_torn_checkpoint.py does for DuckDB alone)."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

import contactsync as cs
from contactsync import checkpoint

PAGE, BLOCK0, BLOCK = 4096, 3 * 4096, 262144


def _state(path) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute('SELECT "No.", "City", "E-Mail" FROM nav_contact ORDER BY "No."').fetchall() + \
            con.execute("SELECT run_id, kind FROM run ORDER BY run_id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def torn(tmp_path_factory, demo_template):
    """The file before a checkpoint (its last action in the WAL only), the WAL, the journal, the file after it,
    and the state the last action left."""
    d = tmp_path_factory.mktemp("torn")
    path = d / "w.duckdb"
    shutil.copyfile(demo_template, path)
    with cs.Workspace.open(path) as ws:
        no = ws.nav_contacts()["No."].iloc[0]
    # an action committed to the WAL: its close is stopped before the checkpoint
    mp = pytest.MonkeyPatch()
    mp.setattr(checkpoint, "checkpoint", lambda con, p: False)
    with cs.Workspace.open(path) as ws:
        ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", "City": "Kleinstadt-an-der-Kante"}]))
    mp.undo()
    wal = path.with_name(path.name + ".wal")
    assert wal.stat().st_size > 0
    expected = _state(path)  # (a read-only open replays the WAL and writes nothing)
    before, wal_bytes = path.read_bytes(), wal.read_bytes()
    con = duckdb.connect(str(path))
    for stmt in checkpoint.WAL_ONLY:
        con.execute(stmt)
    assert checkpoint.write_journal(con, path)
    journal = checkpoint.journal_path(path).read_bytes()
    con.execute("CHECKPOINT")
    con.close()
    after = path.read_bytes()
    return {"dir": d, "before": before, "wal": wal_bytes, "journal": journal, "after": after, "expected": expected}


def _lay(t, k: int, *, journal: bool = True):
    """The files as a kill leaves them k pages into the checkpoint's write of block 0."""
    d = t["dir"] / f"k{k}-{journal}"
    d.mkdir(exist_ok=True)
    path = d / "w.duckdb"
    cut = BLOCK0 + k * PAGE
    path.write_bytes(t["before"][:BLOCK0] + t["after"][BLOCK0:cut] + t["before"][cut:])
    path.with_name(path.name + ".wal").write_bytes(t["wal"])
    if journal:
        checkpoint.journal_path(path).write_bytes(t["journal"])
    return path


def _opens(path) -> bool:
    try:
        duckdb.connect(str(path), read_only=True).close()
        return True
    except duckdb.Error:
        return False


def test_the_checkpoint_rewrites_block_0_in_place(torn):
    """The premise: DuckDB's checkpoint changes block 0, which the old header points at."""
    assert torn["before"][BLOCK0:BLOCK0 + BLOCK] != torn["after"][BLOCK0:BLOCK0 + BLOCK]


def test_without_the_journal_some_tear_loses_the_workspace(torn):
    """What the journal guards against (the test can fail): some tear leaves a file DuckDB refuses."""
    assert any(not _opens(_lay(torn, k, journal=False)) for k in range(1, BLOCK // PAGE))


#: the tears tried through a workspace: the first pages (where this checkpoint's changes to block 0 are) and a
#: spread over the rest of the 64
TEARS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 63)


@pytest.mark.parametrize("k", TEARS)
def test_a_checkpoint_torn_at_any_page_is_mended_and_nothing_is_lost(torn, k):
    path = _lay(torn, k)
    with cs.Workspace.open(path) as ws:
        ws.runs()
    assert _state(path) == torn["expected"]
    assert not checkpoint.journal_path(path).exists()


def test_a_journal_cut_short_is_dropped_and_the_file_is_untouched(torn):
    path = _lay(torn, 0, journal=False)
    checkpoint.journal_path(path).write_bytes(torn["journal"][:-100])
    assert checkpoint.recover(path) == "dropped"
    assert path.read_bytes()[:BLOCK0 + BLOCK] == torn["before"][:BLOCK0 + BLOCK]
    assert _state(path) == torn["expected"]


def test_a_journal_of_a_checkpoint_that_finished_is_dropped(torn):
    path = _lay(torn, 0, journal=False)
    path.write_bytes(torn["after"])
    checkpoint.journal_path(path).write_bytes(torn["journal"])
    assert checkpoint.recover(path) == "completed"
    assert path.read_bytes() == torn["after"]


def test_a_workspace_closes_with_its_wal_folded_in_and_no_journal(wpath):
    with cs.Workspace.open(wpath) as ws:
        ws.sync("push")
    assert not wpath.with_name(wpath.name + ".wal").exists()
    assert not checkpoint.journal_path(wpath).exists()
