"""Nothing lost (issue 7.5): property tests over random sequences of imports, couplings, syncs and
undos on a small in-memory workspace.

* every value ever overwritten (or record inserted/deleted) in nav_contact / crm_contact is in the
  change log of the run that did it, with its exact old and new value;
* an action that fails changes nothing;
* undoing the last runs, in reverse order, gives back the tables exactly;
* a second sync right after a sync changes nothing; a sync followed by its undo restores the tables.

CONTACTSYNC_PROPERTY_SCALE multiplies the number of examples.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, CRM_3, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import contactsync as cs
from contactsync import search

# a sync on the small workspace takes ~0.3 s: keep the default run around a minute; scale with
# CONTACTSYNC_PROPERTY_SCALE (e.g. 10 for a nightly run)
SCALE = float(os.environ.get("CONTACTSYNC_PROPERTY_SCALE", "1"))
MACHINE = settings(max_examples=int(12 * SCALE), stateful_step_count=20, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
SIMPLE = settings(max_examples=int(20 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])

TABLES = ("nav_contact", "crm_contact", "crm_account", "coupling")
LOGGED = {"nav_contact": ("nav", "No."), "crm_contact": ("crm", "contactid")}
PERSONS = ["CT000001", "CT000002", "CT000003", "CT000004"]
CRM_IDS = [CRM_1, CRM_2, CRM_3]
NAV_FIELDS = ["First Name", "Surname", "Job Title", "City", "Post Code", "E-Mail", "Phone No."]
CRM_FIELDS = ["firstname", "lastname", "jobtitle", "address1_city", "address1_postalcode", "emailaddress1",
              "telephone1"]
VALUES = st.sampled_from(["", "Müller", "o'Neil", "=1+1", "x@example.com", "not an e-mail", "d02 x285",
                          "A" * 35, "Zoë", "  spaced  ", "Berlin"])
STAMPS = st.sampled_from([None, "2025-06-01 10:00:00", "2026-01-01 09:30:00.123456"])

counter = {"steps": 0, "runs": 0, "undos": 0, "examples": 0}


def state(ws) -> dict[str, pd.DataFrame]:
    """Every table as text, as DuckDB writes it (the change log's format), sorted."""
    out = {}
    for t in TABLES:
        df = ws.sql(f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "{t}"')
        out[t] = df.sort_values(list(df.columns[:3])).reset_index(drop=True)
    return out


def assert_same(a, b, what=""):
    for t in TABLES:
        pd.testing.assert_frame_equal(a[t], b[t], obj=f"{t} {what}")


def assert_logged(ws, before, after, since_run: int):
    """Every cell that changed between ``before`` and ``after`` is in the change log of the runs after
    ``since_run`` with its old and new value; inserted and deleted records too."""
    log = ws.sql("SELECT run_id, side, key, field, old_value, new_value, op FROM change_log WHERE run_id > ?",
                 [since_run])
    for table, (side, key) in LOGGED.items():
        b = before[table].set_index(key)
        a = after[table].set_index(key)
        mine = log[log["side"] == side]
        for k in a.index.difference(b.index):
            assert ((mine["key"] == k) & (mine["op"] == "insert")).any(), f"{side} {k} inserted but not logged"
        for k in b.index.difference(a.index):
            assert ((mine["key"] == k) & (mine["op"] == "delete")).any(), f"{side} {k} deleted but not logged"
        common = a.index.intersection(b.index)
        for col in a.columns:
            old, new = b.loc[common, col], a.loc[common, col]
            moved = ~((old == new) | (old.isna() & new.isna()))
            for k in common[moved.to_numpy()]:
                rows = mine[(mine["key"] == k) & (mine["field"] == col)]
                assert len(rows), f"{side} {k}.{col}: {old[k]!r} -> {new[k]!r} is not in the change log"
                ov, nv = rows["old_value"].iloc[0], rows["new_value"].iloc[-1]
                assert (ov == old[k]) or (pd.isna(ov) and pd.isna(old[k])), \
                    f"{side} {k}.{col}: logged old {ov!r}, was {old[k]!r}"
                assert (nv == new[k]) or (pd.isna(nv) and pd.isna(new[k])), \
                    f"{side} {k}.{col}: logged new {nv!r}, is {new[k]!r}"


def fresh_ws():
    return fill_small(cs.Workspace.open(":memory:"))


def last_run(ws) -> int:
    r = ws.sql("SELECT coalesce(max(run_id), 0) AS r FROM run")["r"].iloc[0]
    return int(r)


class NothingLost(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.ws = fresh_ws()
        self.undoable: list[tuple[int, dict]] = []  # (run id, state before it), oldest first
        counter["examples"] += 1

    def teardown(self):
        self.ws.close()

    def _act(self, action, *, may_fail=True):
        """Run ``action``; check logging and failure atomicity; remember the runs for undo."""
        counter["steps"] += 1
        before, since = state(self.ws), last_run(self.ws)
        try:
            action()
        except cs.ContactSyncError:
            if not may_fail:
                raise
            assert last_run(self.ws) == since, "a failed action left a run behind"
            assert_same(before, state(self.ws), "after a failed action")
            return
        after = state(self.ws)
        assert_logged(self.ws, before, after, since)
        # (run ids may have gaps: a failed action's transaction rolls back, its sequence number stays used)
        new_runs = [int(r) for r in self.ws.sql("SELECT run_id FROM run WHERE run_id > ? ORDER BY 1",
                                                 [since])["run_id"]]
        counter["runs"] += len(new_runs)
        # one user action = one run (the undo unit)
        assert len(new_runs) <= 1, new_runs
        if new_runs:
            self.undoable.append((new_runs[0], before))

    @rule(no=st.sampled_from(PERSONS), field=st.sampled_from(NAV_FIELDS), value=VALUES, stamp=STAMPS)
    def import_nav(self, no, field, value, stamp):
        row = {"No.": no, "Type": "Person", field: value}
        if stamp:
            row["SystemModifiedAt"] = stamp
        self._act(lambda: self.ws.import_nav(pd.DataFrame([row])))

    @rule(crm_id=st.sampled_from(CRM_IDS), field=st.sampled_from(CRM_FIELDS), value=VALUES, stamp=STAMPS)
    def import_crm(self, crm_id, field, value, stamp):
        row = {"contactid": crm_id, field: value}
        if stamp:
            row["modifiedon"] = stamp
        self._act(lambda: self.ws.import_crm(pd.DataFrame([row])))

    @rule(no=st.sampled_from(PERSONS), crm_id=st.sampled_from(CRM_IDS),
          sync_after=st.sampled_from([None, "push", "pull"]), replace=st.booleans())
    def couple(self, no, crm_id, sync_after, replace):
        self._act(lambda: self.ws.couple(no, crm_id, sync_after=sync_after, replace=replace))

    @rule(no=st.sampled_from(PERSONS))
    def uncouple(self, no):
        self._act(lambda: self.ws.uncouple(no))

    @rule(direction=st.sampled_from(["push", "pull", "both"]), force=st.booleans(),
          create_missing=st.booleans())
    def sync(self, direction, force, create_missing):
        force = force and direction != "both"
        self._act(lambda: self.ws.sync(direction, force=force, create_missing=create_missing))

    @precondition(lambda self: self.undoable)
    @rule()
    def undo_last(self):
        run_id, before = self.undoable.pop()
        counter["steps"] += 1
        since = last_run(self.ws)
        now = state(self.ws)
        self.ws.undo(run_id)  # the latest run that is not undone: must always be undoable
        counter["undos"] += 1
        after = state(self.ws)
        assert_same(before, after, f"after undoing run {run_id}")
        assert_logged(self.ws, now, after, since)

    @invariant()
    def search_index_in_step(self):
        with self.ws._store.connection() as con:
            assert search.drift(con) == {"crm": 0, "nav": 0}

    @invariant()
    def couplings_one_to_one(self):
        c = self.ws.sql("SELECT entity, nav_no, crm_id FROM coupling")
        assert not c.duplicated(["entity", "nav_no"]).any() and not c.duplicated(["entity", "crm_id"]).any()


TestNothingLost = NothingLost.TestCase
TestNothingLost.settings = MACHINE


# -- the simple properties ----------------------------------------------------------------------
EDITS = st.lists(st.one_of(
    st.tuples(st.just("nav"), st.sampled_from(["CT000001", "CT000002"]), st.sampled_from(NAV_FIELDS), VALUES,
              STAMPS),
    st.tuples(st.just("crm"), st.sampled_from([CRM_1, CRM_2]), st.sampled_from(CRM_FIELDS), VALUES, STAMPS),
), max_size=6)


def synced_with(edits):
    ws = fresh_ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.couple("CT000002", CRM_2, sync_after="pull")
    for side, key, field, value, stamp in edits:
        if side == "nav":
            row = {"No.": key, "Type": "Person", field: value, **({"SystemModifiedAt": stamp} if stamp else {})}
            ws.import_nav(pd.DataFrame([row]))
        else:
            row = {"contactid": key, field: value, **({"modifiedon": stamp} if stamp else {})}
            ws.import_crm(pd.DataFrame([row]))
    return ws


@SIMPLE
@given(edits=EDITS, direction=st.sampled_from(["push", "pull", "both"]), force=st.booleans())
def test_second_sync_is_all_unchanged(edits, direction, force):
    force = force and direction != "both"
    with synced_with(edits) as ws:
        first = ws.sync(direction, force=force)
        mid = state(ws)
        second = ws.sync(direction)
        assert (second.modified, second.inserted) == (0, 0), (first, second, second.changes)
        assert second.changes.empty
        assert second.unchanged + second.skipped + second.failed == first.modified + first.unchanged \
            + first.skipped + first.failed
        assert state(ws)["nav_contact"].equals(mid["nav_contact"])
        assert state(ws)["crm_contact"].equals(mid["crm_contact"])


@SIMPLE
@given(edits=EDITS, direction=st.sampled_from(["push", "pull", "both"]), force=st.booleans(),
       create_missing=st.booleans())
def test_sync_then_undo_restores_exactly(edits, direction, force, create_missing):
    force = force and direction != "both"
    with synced_with(edits) as ws:
        before = state(ws)
        res = ws.sync(direction, force=force, create_missing=create_missing)
        assert_logged(ws, before, state(ws), res.run_id - 1)
        ws.undo(res.run_id)
        assert_same(before, state(ws), "after sync + undo")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\nproperty tests: {counter['examples']} state machines, {counter['steps']} steps, "
          f"{counter['runs']} runs checked, {counter['undos']} undos")
