"""Nothing lost, ever (issue 12): the state machine of tests/test_properties.py, extended to the review's
findings. Its rules add:

* creating contacts near the end of a NAV number series (the series' width changes under it);
* undo of ANY earlier run after later runs (not only the last one);
* backup and restore, with the backup cut short as a kill during it would leave it;
* time-zone-aware modified-on values, NFC/NFD and invisible characters, JSON files with numeric text;
* scoped syncs (Synchronize Now) against records the mapping's filters leave out (an inactive CRM
  contact, a person without a company), and dry runs of every sync.

Invariants checked after every step: no key is ever duplicated; every overwritten value is in the change
log (inherited); an undo restores exactly (field by field) or refuses naming records and changes nothing;
every coupled pair in a sync's scope has exactly one outcome; a dry run's plan equals the real run's;
a failed action changes nothing and leaves no run.

CONTACTSYNC_PROPERTY_SCALE multiplies the number of examples.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from conftest import CRM_1, CRM_3
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from test_properties import (
    CRM_FIELDS,
    CRM_IDS,
    NAV_FIELDS,
    PERSONS,
    SCALE,
    NothingLost,
    assert_logged,
    assert_same,
    last_run,
    state,
)

import contactsync as cs

MACHINE = settings(max_examples=int(10 * SCALE), stateful_step_count=18, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

NFD = unicodedata.normalize("NFD", "Zoë Müller")
ZERO_WIDTH = "Mül\u200bler\ufeff"
TRICKY = st.sampled_from(["Zoë Müller", NFD, ZERO_WIDTH, "Müller", "😀 emoji", "A" * 29 + "😀", "10115", "x@example.com"])
# with offsets: the same instant written three ways, and one an hour later than all of them
STAMPS_TZ = st.sampled_from(["2026-03-01T10:00:00+02:00", "2026-03-01T08:00:00Z", "2026-03-01 03:00:00-05:00",
                             "2026-03-01T09:00:01+00:00"])
UTC_OF = {"2026-03-01T10:00:00+02:00": "2026-03-01 08:00:00", "2026-03-01T08:00:00Z": "2026-03-01 08:00:00",
          "2026-03-01 03:00:00-05:00": "2026-03-01 08:00:00", "2026-03-01T09:00:01+00:00": "2026-03-01 09:00:01"}

NEW_PERSON = "CT000009"
STAMP_FIELDS = ("SystemModifiedAt", "Last Date Modified", "Last Time Modified", "modifiedon")

figures = {"sequences": 0, "steps": 0, "syncs": 0, "dry_runs_compared": 0, "undo_any": 0, "undo_refused": 0,
           "restores": 0, "cut_backups_refused": 0, "series_full": 0, "created": 0, "strategies_set": 0,
           "conflicts_resolved": 0, "deletions_handled": 0, "strategy_steps": 0, "excluded_seen": 0}


def _frame(df: pd.DataFrame, cols) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame(columns=cols)
    return df[cols].astype(str).sort_values(cols).reset_index(drop=True)


def _plan(res, known_keys: set) -> tuple:
    """What a dry run must equal: counts, and the conflicts, errors and field changes as sets of rows. A key
    the run generates (a new CRM contact's GUID: random, so a rehearsal draws another) reads as <new>."""
    counts = (res.inserted, res.modified, res.unchanged, res.skipped, res.failed)
    changes = res.changes.copy()
    if not changes.empty:
        changes["key"] = changes["key"].where(changes["key"].isin(known_keys), "<new>")
        # the time the run stamps is its own start time: a rehearsal a moment earlier stamps another
        stamped = changes["field"].isin(STAMP_FIELDS)
        changes.loc[stamped, ["old_value", "new_value"]] = "<run time>"
    changes = _frame(changes, ["side", "key", "field", "old_value", "new_value"])
    errors = _frame(res.errors, [c for c in ("nav_no", "crm_id", "message") if c in res.errors.columns])
    conflicts = _frame(res.conflicts, sorted(c for c in res.conflicts.columns if c != "run_id"))
    return counts, changes, errors, conflicts


class NothingLostEver(NothingLost):
    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cs-sm-"))
        self.backups = 0
        figures["sequences"] += 1

    def teardown(self):
        super().teardown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _act(self, action, *, may_fail=True):
        figures["steps"] += 1
        super()._act(action, may_fail=may_fail)

    # -- inputs the review found ------------------------------------------------------------------
    @rule(no=st.sampled_from(PERSONS), field=st.sampled_from(NAV_FIELDS), value=TRICKY, stamp=STAMPS_TZ)
    def import_nav_tricky(self, no, field, value, stamp):
        row = {"No.": no, "Type": "Person", field: value, "SystemModifiedAt": stamp}
        self._act(lambda: self.ws.import_nav(pd.DataFrame([row])))
        got = self.ws.sql('SELECT CAST("SystemModifiedAt" AS VARCHAR) AS t FROM nav_contact WHERE "No." = ?', [no])
        if self.ws.sql('SELECT count(*) AS n FROM run WHERE note LIKE ? AND run_id = ?',
                       ["nav_contact%", last_run(self.ws)]).n[0]:
            assert got.t[0] == UTC_OF[stamp], f"{stamp} stored as {got.t[0]}, not as its UTC instant"

    @rule(crm_id=st.sampled_from(CRM_IDS), field=st.sampled_from(CRM_FIELDS), value=TRICKY, stamp=STAMPS_TZ,
          number=st.integers(0, 99999))
    def import_crm_json(self, crm_id, field, value, stamp, number):
        """A JSON file whose text columns hold numbers (and nulls beside them)."""
        path = self.tmp / f"crm-{figures['steps']}.json"
        rows = [{"contactid": crm_id, field: value, "modifiedon": stamp, "address1_postalcode": number},
                {"contactid": CRM_3 if crm_id != CRM_3 else CRM_1, "address1_postalcode": None}]
        path.write_text(json.dumps(rows), encoding="utf-8")
        before_run = last_run(self.ws)
        self._act(lambda: self.ws.import_crm(path))
        if last_run(self.ws) != before_run and field != "address1_postalcode":
            pc = self.ws.crm_contact(crm_id)["address1_postalcode"]
            assert pc == str(number), f"JSON number {number} stored as {pc!r}"

    @rule(company=st.sampled_from(["C00001", "C00002"]))
    def import_new_person(self, company):
        """A record that an import inserts (later runs may couple or edit it: undo of the import must then
        refuse, never delete their work)."""
        self._act(lambda: self.ws.import_nav(pd.DataFrame([{"No.": NEW_PERSON, "Type": "Person",
                                                             "Company No.": company, "Surname": "Neu"}])))

    @rule(crm_id=st.sampled_from(CRM_IDS), sync_after=st.sampled_from([None, "push", "pull"]))
    def couple_new_person(self, crm_id, sync_after):
        self._act(lambda: self.ws.couple(NEW_PERSON, crm_id, sync_after=sync_after, replace=True))

    @rule(crm_id=st.sampled_from(CRM_IDS), active=st.booleans())
    def set_crm_state(self, crm_id, active):
        """Deactivate or reactivate a CRM contact (the mapping's filter leaves inactive ones out)."""
        self._act(lambda: self.ws.import_crm(pd.DataFrame([{"contactid": crm_id, "statecode": 0 if active else 1}])))

    @rule(no=st.sampled_from(PERSONS), company=st.sampled_from(["", "C00001", "C00002"]))
    def set_company(self, no, company):
        """Clear or move a person's company (a person without one is filtered out)."""
        self._act(lambda: self.ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", "Company No.": company}])))

    # -- number series ----------------------------------------------------------------------------
    @rule(width=st.integers(1, 6), left=st.integers(0, 2), crm_id=st.sampled_from(CRM_IDS))
    def create_near_the_end_of_a_series(self, width, left, crm_id):
        """A series of ``width`` digits whose last number in use leaves ``left`` free (0: full), then create
        a NAV contact from a CRM one."""
        self.ws.settings["nav_no_width"] = width
        last = f"CT{10 ** width - 1 - left:0{width}d}"
        self._act(lambda: self.ws.import_nav(pd.DataFrame([{"No.": last, "Type": "Person", "Company No.": "C00001",
                                                             "Surname": "Series"}])))
        before = set(self.ws.sql('SELECT "No." FROM nav_contact')["No."])

        def create():
            try:
                self.ws.create_nav_from_crm(crm_id)
            except cs.CouplingError as exc:
                if "number series" in str(exc):
                    figures["series_full"] += 1
                raise
        self._act(create)
        after = set(self.ws.sql('SELECT "No." FROM nav_contact')["No."])
        for new in after - before:
            figures["created"] += 1
            assert len(new) <= 20 and new.startswith("CT") and len(new) == 2 + width, new

    # -- syncs: one outcome per pair, dry run = real run --------------------------------------------
    def _sync_checked(self, direction, nos, force, create_missing, conflicts=None):
        figures["syncs"] += 1
        kw = dict(nos=nos, force=force, create_missing=create_missing, conflicts=conflicts)
        before = state(self.ws)
        known = set(before["nav_contact"]["No."]) | set(before["crm_contact"]["contactid"])
        try:
            dry = self.ws.sync(direction, dry_run=True, **kw)
        except cs.ContactSyncError as exc:
            dry = exc
        assert_same(before, state(self.ws), "after a dry run")
        coupled = self.ws.sql("SELECT nav_no FROM coupling WHERE entity = 'contact'")["nav_no"]
        in_scope = len(coupled) if nos is None else len(set(nos) & set(coupled))
        real: dict = {}

        def run():
            real["res"] = self.ws.sync(direction, **kw)
        self._act(run)
        res = real.get("res")
        if isinstance(dry, cs.ContactSyncError):
            assert res is None, f"the dry run failed ({dry}) but the real run did not"
            return
        assert res is not None, "the dry run planned, the real run failed"
        _assert_same_plan(dry, res, known)
        figures["dry_runs_compared"] += 1
        # every coupled pair in scope has exactly one outcome; a create_missing run adds one per record it
        # tried to create and could not (an error row without a partner)
        # (a coupling to a deleted record that the deletion-conflict strategy removed or replaced by a restored
        # record has that as its outcome)
        handled = int(res.deletions["action"].isin(["restored", "uncoupled"]).sum()) if len(res.deletions) else 0
        figures["deletions_handled"] += handled
        outcomes = res.modified + res.unchanged + res.skipped + res.failed + handled
        assert outcomes == in_scope + _create_failures(res), (direction, nos, force, create_missing, res, in_scope)
        if len(res.conflicts) and "resolution" in res.conflicts:
            figures["conflicts_resolved"] += int(res.conflicts["resolution"].notna().sum())
        if not res.skips.empty:
            assert res.skips["message"].str.len().gt(0).all(), "a skipped pair without a reason"

    @rule(direction=st.sampled_from(["push", "pull", "both"]), force=st.booleans(), create_missing=st.booleans())
    def sync_checked(self, direction, force, create_missing):
        self._sync_checked(direction, None, force and direction != "both", create_missing)

    @rule(nos=st.lists(st.sampled_from(PERSONS), min_size=1, max_size=3, unique=True),
          direction=st.sampled_from(["push", "pull"]), force=st.booleans())
    def synchronize_now(self, nos, direction, force):
        self._sync_checked(direction, nos, force, False)

    # -- undo of any earlier run ------------------------------------------------------------------
    @precondition(lambda self: len(self.undoable) >= 2)
    @rule(data=st.data())
    def undo_any(self, data):
        i = data.draw(st.integers(0, len(self.undoable) - 1), label="which run")
        run_id, _ = self.undoable[i]
        figures["steps"] += 1
        now, since = state(self.ws), last_run(self.ws)
        log = self.ws.changes(run_id)
        try:
            self.ws.undo(run_id)
        except cs.UndoError as exc:
            figures["undo_refused"] += 1
            assert exc.context.get("changed") or "undone" in str(exc), f"refused without naming records: {exc}"
            assert_same(now, state(self.ws), "after a refused undo")
            assert last_run(self.ws) == since
            return
        figures["undo_any"] += 1
        after = state(self.ws)
        assert_logged(self.ws, now, after, since)
        _assert_undone(self.ws, log)
        # the run is gone from what can be undone; exact table states of the others no longer hold
        del self.undoable[i]
        self.undoable = [(r, None) for r, _ in self.undoable]

    @precondition(lambda self: self.undoable)
    @rule()
    def undo_last(self):
        run_id, before = self.undoable[-1]
        if before is not None:
            return super().undo_last()
        self.undoable.pop()
        figures["steps"] += 1
        log = self.ws.changes(run_id)
        now, since = state(self.ws), last_run(self.ws)
        self.ws.undo(run_id)  # the latest run not undone is always undoable
        assert_logged(self.ws, now, state(self.ws), since)
        _assert_undone(self.ws, log)

    # -- backup and restore, with a kill during the backup ------------------------------------------
    @precondition(lambda self: self.backups < 2)  # a file copy each: twice a sequence is plenty
    @rule(cut=st.sampled_from([None, 0.0, 0.1, 0.5, 0.9]))
    def backup_and_restore(self, cut):
        self.backups += 1
        figures["steps"] += 1
        n = figures["steps"]
        b = self.ws.backup(self.tmp / f"b{n}.duckdb")
        before = state(self.ws)
        if cut is not None:  # what a kill during a copy leaves: the first part of the file
            data = b.read_bytes()
            b.write_bytes(data[: int(len(data) * cut)])
            target = self.tmp / f"r{n}.duckdb"
            with pytest.raises(cs.WorkspaceError):
                cs.Workspace.restore(b, target)
            assert not target.exists()
            figures["cut_backups_refused"] += 1
            return
        restored = cs.Workspace.restore(b, self.tmp / f"r{n}.duckdb")
        assert_same(before, state(restored), "after restore")
        self.ws.close()
        self.ws = restored  # go on with the restored workspace: history and undo carry over
        figures["restores"] += 1

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def no_key_duplicated(self):
        for table, key in (("nav_contact", '"No."'), ("crm_contact", "contactid"), ("crm_account", "accountid"),
                           ("run", "run_id")):
            dup = self.ws.sql(f"SELECT {key} AS k FROM {table} GROUP BY 1 HAVING count(*) > 1")
            assert dup.empty, f"{table}: duplicated keys {list(dup.k)}"

    @invariant()
    def no_coupling_to_nothing(self):
        d = self.ws.sql("""SELECT c.nav_no FROM coupling c LEFT JOIN nav_contact n ON n."No." = c.nav_no
                           WHERE n."No." IS NULL""")
        assert d.empty, f"couplings to missing NAV records: {list(d.nav_no)}"


class StrategiesUndoExact(NothingLost):
    """Issue 15: the machine of tests/test_properties.py (imports, couple, uncouple, sync, undo of the last run)
    with the sync strategies: update-conflict (table, per field, per run), deletion-conflict (after a record
    vanishes from a full export), Skipped after repeated failures (any threshold), Retry, Restore / Delete
    coupling. Checked: every step logged, undo exact, one outcome per pair, dry run = real run, the errors
    list in step with the couplings."""

    _sync_checked = NothingLostEver._sync_checked

    @initialize(update=st.sampled_from(["none", "send", "get"]),
                deletion=st.sampled_from(["none", "restore", "remove_coupling"]),
                field=st.sampled_from([None, *NAV_FIELDS]), field_update=st.sampled_from([None, "none", "send", "get"]))
    def start_with_strategies(self, update, deletion, field, field_update):
        self.ws.couple("CT000001", CRM_1, sync_after="push")
        self.ws.couple("CT000004", CRM_3, sync_after="pull")
        self.set_strategies(update, deletion, field, field_update)

    @rule(update=st.sampled_from(["none", "send", "get"]),
          deletion=st.sampled_from(["none", "restore", "remove_coupling"]),
          field=st.sampled_from([None, *NAV_FIELDS]), field_update=st.sampled_from([None, "none", "send", "get"]))
    def set_strategies(self, update, deletion, field, field_update):
        before = state(self.ws)
        self.ws.set_strategies(update_conflict=update, deletion_conflict=deletion,
                               fields={field: field_update} if field else None)
        assert_same(before, state(self.ws), "after set_strategies (a setting: no record changes)")
        figures["strategies_set"] += 1

    @rule(direction=st.sampled_from(["push", "pull", "both"]), conflicts=st.sampled_from([None, "none", "send", "get"]))
    def sync_with_conflict_strategy(self, direction, conflicts):
        self._sync_checked(direction, None, False, False, conflicts=conflicts)

    @rule(pair=st.sampled_from([("CT000001", CRM_1), ("CT000004", CRM_3)]), i=st.integers(0, len(NAV_FIELDS) - 1),
          nav_value=st.sampled_from(["Müller", "Zoë", "x@example.com", "not an e-mail", "A" * 35]),
          crm_value=st.sampled_from(["Berlin", "o'Neil", "y@example.com", ""]),
          direction=st.sampled_from(["push", "pull", "both"]), conflicts=st.sampled_from([None, "none", "send", "get"]))
    def conflicting_edit(self, pair, i, nav_value, crm_value, direction, conflicts):
        """The same field changed on both sides (an update conflict, unless equal), then a sync."""
        no, crm_id = pair
        stamp = f"2027-01-01 10:00:{figures['strategy_steps'] % 60:02d}"
        figures["strategy_steps"] += 1
        self._act(lambda: self.ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", NAV_FIELDS[i]: nav_value,
                                                             "SystemModifiedAt": stamp}])))
        self._act(lambda: self.ws.import_crm(pd.DataFrame([{"contactid": crm_id, CRM_FIELDS[i]: crm_value,
                                                             "modifiedon": stamp}])))
        self._sync_checked(direction, None, False, False, conflicts=conflicts)

    @rule(crm_id=st.sampled_from(CRM_IDS), strategy=st.sampled_from(["none", "restore", "remove_coupling"]),
          direction=st.sampled_from(["push", "both"]))
    def crm_record_vanishes(self, crm_id, strategy, direction):
        """A full CRM export without one contact: its coupling is flagged (a deletion conflict), then a sync."""
        rows = self.ws.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [crm_id])
        self._act(lambda: self.ws.import_crm(rows, snapshot=True))
        self.ws.set_strategies(deletion_conflict=strategy)
        self._sync_checked(direction, None, False, False)

    @rule(nos=st.one_of(st.none(), st.lists(st.sampled_from(PERSONS), min_size=1, max_size=2, unique=True)))
    def retry(self, nos):
        self._act(lambda: self.ws.retry(nos))

    @rule(strategy=st.sampled_from(["restore", "remove_coupling"]))
    def resolve_deleted(self, strategy):
        self._act(lambda: self.ws.resolve_deleted(strategy))

    @rule(threshold=st.sampled_from([0, 1, 2, 3]))
    def set_skip_threshold(self, threshold):
        self.ws.settings["skip_after_failures"] = threshold

    @invariant()
    def errors_list_in_step(self):
        e = self.ws.sync_errors()
        coupled = set(self.ws.sql("SELECT nav_no FROM coupling WHERE entity = 'contact'")["nav_no"])
        assert set(e["nav_no"]) <= coupled, "an errors-list row without its coupling"
        assert e["nav_no"].is_unique, "two errors-list rows for one coupling"
        assert (e.loc[e["excluded"], "state"] == "skipped").all()
        figures["excluded_seen"] += int(e["excluded"].sum())
        assert e["message"].notna().all() and e["message"].str.len().gt(0).all(), "an errors-list row without why"


def _create_failures(res) -> int:
    """Failures of records a create_missing run tried to create: errors naming one side only."""
    e = res.errors
    if e is None or e.empty:
        return 0
    blank = lambda c: e[c].isna() | (e[c].astype(str) == "") if c in e.columns else True  # noqa: E731
    return int((blank("nav_no") | blank("crm_id")).sum())


def _assert_same_plan(dry, real, known_keys: set) -> None:
    d, r = _plan(dry, known_keys), _plan(real, known_keys)
    assert d[0] == r[0], f"dry run counts {d[0]} != real run counts {r[0]}"
    pd.testing.assert_frame_equal(d[1], r[1], obj="changes (dry vs real)")
    pd.testing.assert_frame_equal(d[2], r[2], obj="errors (dry vs real)")
    pd.testing.assert_frame_equal(d[3], r[3], obj="conflicts (dry vs real)")


def _assert_undone(ws, log: pd.DataFrame) -> None:
    """Field by field: every value the run wrote is back to what it was; every record it inserted is gone."""
    tables = {"nav": ("nav_contact", "No."), "crm": ("crm_contact", "contactid"), "account": ("crm_account", "accountid")}
    for side, (table, key) in tables.items():
        mine = log[log.side == side]
        if mine.empty:
            continue
        cur = ws.sql(f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {table}').set_index(key)
        inserted = set(mine.loc[mine.op == "insert", "key"])
        for row in mine.itertuples():
            if row.op == "insert":
                assert row.key not in cur.index, f"{side} {row.key} inserted by the run is still there"
            elif row.op == "update" and row.key not in inserted:  # (an inserted record's values go with it)
                v = cur.loc[row.key, row.field] if row.key in cur.index else "<gone>"
                assert (pd.isna(v) and pd.isna(row.old_value)) or v == row.old_value, \
                    f"{side} {row.key}.{row.field} is {v!r} after undo, was {row.old_value!r}"


TestNothingLostEver = NothingLostEver.TestCase
TestNothingLostEver.settings = MACHINE
TestStrategiesUndoExact = StrategiesUndoExact.TestCase
TestStrategiesUndoExact.settings = settings(MACHINE, max_examples=int(6 * SCALE), stateful_step_count=12)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nstate machine (issue 12): " + ", ".join(f"{k} {v}" for k, v in figures.items()))

