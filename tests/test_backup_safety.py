"""Issue 12, finding 3 (class: a backup is whole or absent, and restore only ever reads it): backups are
written atomically; restore verifies the backup (workspace tables, schema version, every table readable)
before touching anything and never modifies its source."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import CRM_1, fill_small
from wschecksum import diff, fingerprint

import contactsync as cs
from contactsync.schema import SCHEMA_VERSION


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def real(tmp_path):
    w = fill_small(cs.Workspace.open(tmp_path / "real.duckdb"))
    w.couple("CT000001", CRM_1, sync_after="push")
    yield w
    w.close()


@pytest.mark.parametrize("make", ["empty", "other-duckdb", "text", "truncated"])
def test_restore_of_a_file_that_is_not_a_whole_backup_refuses_and_keeps_the_workspace(tmp_path, real, make):
    bad = tmp_path / "bad.duckdb"
    if make == "empty":
        bad.write_bytes(b"")
    elif make == "other-duckdb":
        con = duckdb.connect(str(bad))
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        con.close()
    elif make == "text":
        bad.write_text("No.,Type\nCT1,Person\n")
    else:
        good = real.backup(tmp_path / "good.duckdb")
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    before = fingerprint(real)
    path = Path(real.path)
    real.close()
    digest = _sha(bad)
    with pytest.raises(cs.WorkspaceError, match="backup"):
        cs.Workspace.restore(bad, path, overwrite=True)
    assert _sha(bad) == digest  # the source is never written
    with cs.Workspace.open(path) as again:
        assert not diff(before, fingerprint(again))


def test_restore_never_modifies_its_source_even_when_it_upgrades_an_old_schema(tmp_path, real):
    b = real.backup(tmp_path / "old.duckdb")
    con = duckdb.connect(str(b))  # make it look like a schema-4 backup (no unique indexes yet)
    for name in ("nav_contact_key", "crm_contact_key", "crm_account_key", "coupling_nav_key",
                 "coupling_crm_key", "run_key"):
        con.execute(f'DROP INDEX "{name}"')
    con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    con.close()
    digest = _sha(b)
    with cs.Workspace.restore(b, tmp_path / "restored.duckdb") as w:
        assert w.sql("SELECT value FROM meta WHERE key = 'schema_version'").value[0] == str(SCHEMA_VERSION)
    assert _sha(b) == digest
    assert not Path(str(b) + ".wal").exists()


def test_restore_into_the_backup_itself_is_refused(tmp_path, real):
    b = real.backup(tmp_path / "b.duckdb")
    with pytest.raises(cs.ContactSyncError, match="the backup itself"):
        cs.Workspace.restore(b, b, overwrite=True)


_BACKUP_SCRIPT = """
import sys, contactsync as cs
w = cs.Workspace.open(sys.argv[1])
print("ready", flush=True)
w.backup(sys.argv[2])
print("done", flush=True)
"""


@pytest.mark.slow
def test_a_backup_killed_at_any_moment_leaves_no_file_that_restores(tmp_path):
    """SIGKILL a backup process at spread-out moments: the target is then absent (only a hidden partial file
    may remain), or a whole backup; restore of whatever is there is refused or exact."""
    src = tmp_path / "big.duckdb"
    with cs.Workspace.open(src) as w:  # big enough that a copy takes a moment
        fill_small(w)
        w.sql("""INSERT INTO change_log SELECT i, 'nav', 'CT' || i, 'E-Mail', repeat('x', 40), repeat('y', 40),
                 'update' FROM range(100, 400000) t(i)""", write=True)
        before = fingerprint(w)
    outcomes = {"absent": 0, "whole": 0}
    for i, delay in enumerate([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2]):
        dest = tmp_path / f"b{i}.duckdb"
        proc = subprocess.Popen([sys.executable, "-c", _BACKUP_SCRIPT, str(src), str(dest)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        target = tmp_path / f"r{i}.duckdb"
        if dest.exists():
            outcomes["whole"] += 1
            with cs.Workspace.restore(dest, target) as r:
                assert not diff(before, fingerprint(r))
        else:
            outcomes["absent"] += 1
            for partial in tmp_path.glob(f".b{i}.duckdb.partial-*"):
                if partial.suffix == ".wal":
                    continue
                # killed before the rename: the partial file may be cut short (refused, nothing written)
                # or already whole (then it restores exactly) -- never a damaged workspace
                try:
                    restored = cs.Workspace.restore(partial, target)
                except cs.WorkspaceError:
                    assert not target.exists()
                else:
                    with restored:
                        assert not diff(before, fingerprint(restored))
                    target.unlink()
    assert sum(outcomes.values()) == 8
    with cs.Workspace.open(src) as w:  # the source was never harmed
        assert not diff(before, fingerprint(w))
