"""The narrow pass that continues from the last one (issue 13: cost proportional to the change), with the
setting ``only_contactsync_writes = "yes"`` (off by default: a write with another DuckDB client is in no log).

A run over every pair reads only the pairs that may have changed since the last narrow pass
(``sync.delta_since`` / ``sync.delta_sql``): those it left not in step, and those whose records or coupling a
later run changed. The guarantee: that run decides exactly what a run reading every pair decides. The state
machine below drives random imports (values with and without a new modified-on), couplings, uncouplings,
syncs, undos and writes behind contactsync's back, and before every sync compares a dry run that reads every
pair with the real run (which continues from the last pass)."""

from __future__ import annotations

from unittest import mock

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, CRM_3, fill_small
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

import contactsync as cs
from contactsync import sync

PERSONS = ["CT000001", "CT000002", "CT000003", "CT000004"]
CRM_IDS = [CRM_1, CRM_2, CRM_3]
NAV_FIELDS = ["First Name", "Surname", "City", "E-Mail", "Phone No."]
CRM_FIELDS = ["firstname", "lastname", "address1_city", "emailaddress1", "telephone1"]
# mostly values that sync (a failing pair stays in the errors list, which every pass reads anyway)
VALUES = st.sampled_from(["", "Müller", "x@example.com", "Berlin", "Zoë", "Hamburg", "Köln", "not an e-mail"])
STAMPS = st.sampled_from([None, "2025-06-01 10:00:00", "2027-01-01 09:30:00"])
counter = {"delta": 0, "syncs": 0}


STAMPED = {"modifiedon", "SystemModifiedAt", "Last Date Modified", "Last Time Modified"}


def frame(df: pd.DataFrame) -> list:
    """A result frame as sorted text; the time a run stamps (its own clock) is left out."""
    if df is None or df.empty:
        return []
    rows = df.astype(str).to_dict("records")
    for r in rows:
        if r.get("field") in STAMPED:
            r["new_value"] = "<the run's time>"
    return sorted(map(repr, rows))


def outcome(r: sync.SyncResult) -> tuple:
    return (r.inserted, r.modified, r.unchanged, r.skipped, r.failed, r.coupled, r.uncoupled,
            frame(r.changes), frame(r.conflicts), frame(r.errors), frame(r.skips))


class DeltaEqualsFull(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.ws = fill_small(cs.Workspace.open(":memory:"))
        self.ws.settings["only_contactsync_writes"] = "yes"
        self.ws.couple("CT000001", CRM_1, sync_after="push")
        self.ws.couple("CT000002", CRM_2, sync_after="pull")
        self.ws.sync("both")
        self.runs: list[int] = []

    def teardown(self):
        self.ws.close()

    def _try(self, action):
        try:
            r = action()
        except cs.ContactSyncError:
            return None
        run_id = getattr(r, "run_id", None)
        if run_id:
            self.runs.append(run_id)
        return r

    @rule(no=st.sampled_from(PERSONS), field=st.sampled_from(NAV_FIELDS), value=VALUES, stamp=STAMPS)
    def import_nav(self, no, field, value, stamp):
        row = {"No.": no, "Type": "Person", field: value, **({"SystemModifiedAt": stamp} if stamp else {})}
        self._try(lambda: self.ws.import_nav(pd.DataFrame([row])))

    @rule(crm_id=st.sampled_from(CRM_IDS), field=st.sampled_from(CRM_FIELDS), value=VALUES, stamp=STAMPS)
    def import_crm(self, crm_id, field, value, stamp):
        row = {"contactid": crm_id, field: value, **({"modifiedon": stamp} if stamp else {})}
        self._try(lambda: self.ws.import_crm(pd.DataFrame([row])))

    @rule(no=st.sampled_from(PERSONS), crm_id=st.sampled_from(CRM_IDS),
          sync_after=st.sampled_from([None, "push", "pull"]), replace=st.booleans())
    def couple(self, no, crm_id, sync_after, replace):
        self._try(lambda: self.ws.couple(no, crm_id, sync_after=sync_after, replace=replace))

    @rule(no=st.sampled_from(PERSONS))
    def uncouple(self, no):
        self._try(lambda: self.ws.uncouple(no))

    @rule(no=st.sampled_from(PERSONS), value=VALUES)
    def write_behind(self, no, value):
        """An edit through sql(write=True): not in the change log (the salt moves instead)."""
        self.ws.sql('UPDATE nav_contact SET "City" = ? WHERE "No." = ?', [value, no], write=True)

    @precondition(lambda self: self.runs)
    @rule()
    def undo_last(self):
        run_id = self.runs.pop()
        try:
            self.ws.undo(run_id)
        except cs.ContactSyncError:
            pass

    @rule(direction=st.sampled_from(["push", "pull", "both"]), force=st.booleans())
    def sync(self, direction, force):
        force = force and direction != "both"
        with mock.patch.object(sync, "delta_since", lambda *a, **k: None):
            full = self.ws.sync(direction, force=force, dry_run=True)
        with self.ws.transaction() as con:
            mark = con.execute("SELECT value FROM meta WHERE key = ?", [sync.NARROW_MARK]).fetchone()
        real = self.ws.sync(direction, force=force)
        self.runs.append(real.run_id)
        counter["syncs"] += 1
        counter["delta"] += mark is not None
        assert outcome(real) == outcome(full), (direction, force, outcome(real), outcome(full))


TestDeltaEqualsFull = DeltaEqualsFull.TestCase
TestDeltaEqualsFull.settings = settings(max_examples=6, stateful_step_count=15, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])


def test_the_state_machine_ran_continued_passes():
    """(after the machine, in this module) most of its syncs continued from a previous pass"""
    assert counter["syncs"] == 0 or counter["delta"] > counter["syncs"] // 3, counter


def synced(tmp_path, only_ours="yes"):
    ws = fill_small(cs.Workspace.open(tmp_path / "w.duckdb"))
    ws.settings["only_contactsync_writes"] = only_ours
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.couple("CT000002", CRM_2, sync_after="pull")
    ws.sync("both")
    return ws


def read_by_pass(ws, direction):
    """The run's result, and the pairs its narrow pass read when it continued from the last one (None: it
    read every pair)."""
    with cs.trace() as t:
        r = ws.sync(direction)
    delta = [s for s in t.statements if "_delta" in s.sql and s.sql.lstrip().startswith("CREATE")]
    return r, (delta[0].rows if delta else None)


def test_each_kind_of_change_is_seen(tmp_path):
    """Every way a pair can change after a pass is seen by the next one (each check fails without its part
    of delta_sql / delta_since)."""
    with synced(tmp_path) as ws:
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Köln"}]))  # NAV record
        assert read_by_pass(ws, "push") == (mock.ANY, 1)
        assert ws.sync("push").modified == 0
        ws.import_crm(pd.DataFrame([{"contactid": CRM_2, "address1_city": "Bonn"}]))  # CRM record
        r, read = read_by_pass(ws, "pull")
        assert (r.modified, read) == (1, 1)
        ws.import_crm(pd.DataFrame([{"contactid": CRM_1, "address1_city": "Ulm", "modifiedon": "2027-01-01"}]))
        r, read = read_by_pass(ws, "push")  # a CRM change a push leaves alone ...
        assert (r.modified, read) == (0, 1)
        r, read = read_by_pass(ws, "pull")  # ... is still seen by the next pull (sync_pending)
        assert (r.modified, read) == (1, 1)
        ws.uncouple("CT000002")
        ws.couple("CT000002", CRM_2)  # a new coupling (no fingerprint yet)
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (0, 1)
        ws.sql('UPDATE crm_contact SET address1_city = ? WHERE contactid = ?', ["Jena", CRM_1], write=True)
        r, read = read_by_pass(ws, "pull")  # behind contactsync's back: the salt moved, every pair is read
        assert (r.modified, read) == (1, None)
        ws.import_nav(pd.DataFrame([{"No.": "CT000002", "Type": "Person", "City": "Gera"}]))
        last = ws.sync("push")
        assert last.modified == 1
        ws.undo(last.run_id)  # an undo puts couplings back unlogged: the next pass reads every pair
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (1, None)
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (0, 0)


def test_a_continued_pass_reads_only_what_changed(tmp_path):
    with synced(tmp_path) as ws:
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Köln"}]))
        r, read = read_by_pass(ws, "push")
        assert (r.modified, r.unchanged, read) == (1, 1, 1), r
        r, read = read_by_pass(ws, "push")
        assert (r.modified, r.unchanged, read) == (0, 2, 0), r


def _write_with_another_tool(path, city):
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute('UPDATE nav_contact SET "City" = ? WHERE "No." = ?', [city, "CT000001"])
    finally:
        con.close()


def test_by_default_an_edit_with_another_tool_is_seen(tmp_path):
    """The default: every sync reads every pair, so an edit made with the DuckDB CLI (no change log, no new
    modified-on) is still sent (the bench's own day of changes is written so)."""
    ws = synced(tmp_path, only_ours="no")
    ws.close()
    _write_with_another_tool(tmp_path / "w.duckdb", "Potsdam")
    with cs.Workspace.open(tmp_path / "w.duckdb") as ws:
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (1, None)


def test_with_only_contactsync_writes_reindex_is_the_step_after_another_tool(tmp_path):
    ws = synced(tmp_path)
    ws.close()
    _write_with_another_tool(tmp_path / "w.duckdb", "Potsdam")
    with cs.Workspace.open(tmp_path / "w.duckdb") as ws:
        ws.reindex()  # as the README says after changing the file with another tool
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (1, None)
        with pytest.raises(cs.ContactSyncError, match="only_contactsync_writes must be 'yes' or 'no'"):
            ws.settings["only_contactsync_writes"] = "maybe"


def test_turning_the_setting_on_reads_every_pair_once(tmp_path):
    """Edits made with another tool while the setting was "no" are in no log: turning it on starts afresh."""
    ws = synced(tmp_path, only_ours="no")
    ws.close()
    _write_with_another_tool(tmp_path / "w.duckdb", "Potsdam")
    with cs.Workspace.open(tmp_path / "w.duckdb") as ws:
        ws.settings["only_contactsync_writes"] = "yes"
        r, read = read_by_pass(ws, "push")
        assert (r.modified, read) == (1, None)
        assert read_by_pass(ws, "push")[1] == 0  # and continues from there
