"""Issue 15 items 1 and 2: BC's update-conflict and deletion-conflict strategies, on a small hand-made workspace,
in each direction. What BC's source says (microsoft/BCApps, src/Layers/W1/BaseApp/Integration/):

* update conflicts — ``Integration Rec. Synch. Invoke``.SynchRecord: a conflict only when both records changed
  since the last sync AND a bidirectional field was modified (``GetWasBidirectionalFieldModified``);
  ``CRM Integration Management``.HandleOnUpdateConflictDetected: "Get Update from Integration" overwrites when
  the source is the CRM table, else SkipRecord; "Send Update to Integration" the reverse; None: the record fails
  with SourceAndDestinationConflictErr (contactsync: Skipped and reported, never overwritten);
* deletion conflicts — ``Integration Rec. Synch. Invoke``.GetCoupledRecord: None fails with
  CoupledRecordIsDeletedErr "The %1 record cannot be updated because it is coupled to a deleted record.";
  Restore Records: PrepareNewDestination + Insert (a new record, coupled); Remove Coupling: the coupling is
  deleted (``RemoveCoupling``), nothing synced.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, couple_two, fill_small
from wschecksum import fingerprint_con

import contactsync as cs
from contactsync.mapping import TableMapping, load_mapping, save_mapping
from contactsync.syncerrors import BC_DELETED_MESSAGE

LATER = "2026-06-01 10:00:00"


@pytest.fixture
def w():
    ws = couple_two(fill_small(cs.Workspace.open(":memory:")))
    yield ws
    ws.close()


def fp(ws):
    with ws.connection() as con:
        return fingerprint_con(con, ("nav_contact", "crm_contact", "coupling", "crm_account"))


def edit(ws, nav: dict | None = None, crm: dict | None = None, no="CT000001", crm_id=CRM_1):
    if nav:
        ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", **nav, "SystemModifiedAt": LATER}]))
    if crm:
        ws.import_crm(pd.DataFrame([{"contactid": crm_id, **crm, "modifiedon": LATER}]))


# what each strategy does with a conflict in each direction: 'nav' (NAV's value wins), 'crm', or None (Skipped)
EXPECTED = {("none", d): None for d in ("push", "pull", "both")} | {
    ("send", "push"): "nav", ("send", "both"): "nav", ("send", "pull"): None,
    ("get", "pull"): "crm", ("get", "both"): "crm", ("get", "push"): None}


@pytest.mark.parametrize(("strategy", "direction"), sorted(EXPECTED))
def test_update_conflict_each_strategy_each_direction(w, strategy, direction):
    w.set_strategies(update_conflict=strategy)
    edit(w, {"City": "Potsdam"}, {"address1_city": "Hamburg"})
    before = fp(w)
    r = w.sync(direction)
    winner = EXPECTED[(strategy, direction)]
    nav, crm = w.nav_contact("CT000001")["City"], w.crm_contact(CRM_1)["address1_city"]
    row = r.conflicts[r.conflicts["nav_field"] == "City"].iloc[0]
    assert (row["nav_value"], row["crm_value"], row["base_value"]) == ("Potsdam", "Hamburg", "Berlin")
    if winner is None:
        assert (r.skipped, r.modified, nav, crm) == (1, 0, "Potsdam", "Hamburg")
        assert pd.isna(row["resolution"])
        assert r.skips.iloc[0]["reason"] == "conflict"
        # BC's SkipRecord: a run from the losing side leaves the record to the winner's run, and says so
        says = {"none": None, "send": "City (NAV wins: a push brings it)", "get": "City (CRM wins: a pull brings it)"}
        if says[strategy]:
            assert says[strategy] in r.skips.iloc[0]["message"]
    else:
        value = "Potsdam" if winner == "nav" else "Hamburg"
        assert (r.skipped, r.modified, nav, crm) == (0, 1, value, value)
        assert row["resolution"] == ("send" if winner == "nav" else "get")
        # logged with both values: the conflict (run_conflict) and the overwritten value (change log)
        logged = w.conflicts(r.run_id)
        assert logged.iloc[0]["resolution"] == row["resolution"]
        ch = w.changes(r.run_id)
        side, field, old = ("crm", "address1_city", "Hamburg") if winner == "nav" else ("nav", "City", "Potsdam")
        assert ((ch.side == side) & (ch.field == field) & (ch.old_value == old) & (ch.new_value == value)).any()
        w.undo(r.run_id)
        assert fp(w) == before, "undo of a resolved conflict is not exact"


def test_per_field_strategy_beats_the_tables(w):
    """Beyond BC: NAV wins for addresses, CRM wins for e-mail, in one run."""
    w.set_strategies(update_conflict="none", fields={"City": "send", "emailaddress1": "get"})
    edit(w, {"City": "Potsdam", "E-Mail": "nav@mueller.de", "Job Title": "NAV job"},
         {"address1_city": "Hamburg", "emailaddress1": "crm@mueller.de", "jobtitle": "CRM job"})
    r = w.sync("both")
    # Job Title has the table's strategy (none): the record is Skipped, nothing written
    assert r.skipped == 1 and w.nav_contact("CT000001")["City"] == "Potsdam"
    w.set_strategies(fields={"Job Title": "send"})
    r = w.sync("both")
    assert r.modified == 1
    n, c = w.nav_contact("CT000001"), w.crm_contact(CRM_1)
    assert (n["City"], c["address1_city"]) == ("Potsdam", "Potsdam")
    assert (n["E-Mail"], c["emailaddress1"]) == ("crm@mueller.de", "crm@mueller.de")
    assert (n["Job Title"], c["jobtitle"]) == ("NAV job", "NAV job")
    assert dict(zip(r.conflicts["nav_field"], r.conflicts["resolution"])) == {
        "City": "send", "E-Mail": "get", "Job Title": "send"}


def test_run_override_replaces_every_strategy(w):
    w.set_strategies(update_conflict="get", fields={"City": "get"})
    edit(w, {"City": "Potsdam"}, {"address1_city": "Hamburg"})
    r = w.sync("both", conflicts="send")
    assert w.crm_contact(CRM_1)["address1_city"] == "Potsdam" and r.conflicts.iloc[0]["resolution"] == "send"
    with pytest.raises(cs.ContactSyncError, match="conflicts must be one of"):
        w.sync("both", conflicts="nav-wins")


def test_no_conflict_when_both_sides_agree_or_change_different_fields(w):
    """BC's rule: a conflict needs a bidirectional field changed on both sides (to different values)."""
    edit(w, {"City": "Potsdam"}, {"address1_city": "Potsdam"})
    r = w.sync("both")
    assert r.conflicts.empty and r.skipped == 0
    edit(w, {"City": "Köln"}, {"jobtitle": "Chef"})
    r = w.sync("both")
    assert r.conflicts.empty and r.modified == 1
    assert (w.crm_contact(CRM_1)["address1_city"], w.nav_contact("CT000001")["Job Title"]) == ("Köln", "Chef")


def test_strategies_are_kept_in_the_mapping_file_and_the_workspace(tmp_path):
    path = tmp_path / "w.duckdb"
    with fill_small(cs.Workspace.open(path)) as ws:
        ws.set_strategies(update_conflict="send", deletion_conflict="restore", fields={"E-Mail": "get"})
        save_mapping(ws.mapping, tmp_path / "m.toml")
    with cs.Workspace.open(path) as ws:
        m = ws.mapping
    assert (m.update_conflict, m.deletion_conflict, m.field("E-Mail").update_conflict) == ("send", "restore", "get")
    assert load_mapping(tmp_path / "m.toml") == m
    bad = m.to_dict() | {"deletion_conflict": "forget"}
    with pytest.raises(cs.MappingError, match=r"deletion_conflict must be one of \['none', 'restore', 'remove_coupling'\]"):
        TableMapping.from_dict(bad)
    bad = m.to_dict()
    bad["fields"][0]["update_conflict"] = "nav"
    with pytest.raises(cs.MappingError, match="'First Name': update_conflict must be one of"):
        TableMapping.from_dict(bad)


# -- deletion conflicts ------------------------------------------------------------------------------------
def drop_crm(ws, crm_id=CRM_2):
    """CRM_2 vanishes from a full CRM export (its coupling to CT000002 is flagged)."""
    rest = ws.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [crm_id])
    ws.import_crm(rest, snapshot=True)


def drop_nav(ws, no="CT000002"):
    rest = ws.sql('SELECT * FROM nav_contact WHERE "No." <> ?', [no])
    ws.import_nav(rest, snapshot=True)


@pytest.mark.parametrize("direction", ["push", "pull", "both"])
def test_deletion_none_fails_with_bcs_message(w, direction):
    drop_crm(w)
    r = w.sync(direction)
    msg = r.errors.set_index("nav_no").loc["CT000002", "message"]
    assert msg.startswith(BC_DELETED_MESSAGE.format(record="NAV contact"))
    assert CRM_2 in msg


def test_deletion_none_nav_side_message(w):
    drop_nav(w)
    r = w.sync("pull")
    assert r.errors.set_index("nav_no").loc["CT000002", "message"].startswith(
        "The CRM contact record cannot be updated because it is coupled to a deleted record.")


@pytest.mark.parametrize("direction", ["push", "both"])
def test_remove_coupling(w, direction):
    w.set_strategies(deletion_conflict="remove_coupling")
    drop_crm(w)
    before = fp(w)
    r = w.sync(direction)
    assert (r.uncoupled, r.failed) == (0 + 1, 0)
    assert r.deletions.iloc[0][["nav_no", "crm_id", "deleted", "action"]].tolist() == ["CT000002", CRM_2, "crm", "uncoupled"]
    assert "removing the coupling to the deleted record" in r.deletions.iloc[0]["message"]
    assert w.sql("SELECT count(*) AS n FROM coupling WHERE nav_no = 'CT000002'").n[0] == 0
    assert w.runs().set_index("run_id").loc[r.run_id, "uncoupled"] == 1
    w.undo(r.run_id)
    assert fp(w) == before


def test_remove_coupling_pull_leaves_a_crm_deletion_to_the_push(w):
    """A pull meets NAV records deleted; the CRM one gone is the push's (BC: each job handles its destination)."""
    w.set_strategies(deletion_conflict="remove_coupling")
    drop_crm(w)
    r = w.sync("pull")
    assert r.uncoupled == 0 and r.failed == 1


def test_restore_crm_from_nav(w):
    w.set_strategies(deletion_conflict="restore")
    drop_crm(w)
    before = fp(w)
    dry = w.sync("push", dry_run=True)
    assert fp(w) == before, "a dry run wrote"
    r = w.sync("push")
    assert (dry.inserted, dry.failed, dry.unchanged) == (r.inserted, r.failed, r.unchanged) == (1, 0, 1)
    new = r.deletions.iloc[0]["new_key"]
    assert new != CRM_2 and w.crm_contact(new)["lastname"] == "O'Brien"
    assert w.sql("SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no = 'CT000002'").crm_id[0] == new
    assert w.find_for_deleted().empty
    w.undo(r.run_id)
    assert fp(w) == before
    assert list(w.find_for_deleted()["nav_no"]) == ["CT000002"]


def test_restore_nav_from_crm(w):
    w.set_strategies(deletion_conflict="restore")
    drop_nav(w)
    r = w.sync("pull")
    assert (r.inserted, r.failed) == (1, 0)
    new = r.deletions.iloc[0]["new_key"]
    assert new != "CT000002" and w.nav_contact(new)["Surname"] == "O'Brien"
    assert w.sql("SELECT nav_no FROM coupling WHERE entity = 'contact' AND crm_id = ?", [CRM_2]).nav_no[0] == new


def test_restore_that_cannot_be_made_fails_naming_why_and_keeps_the_coupling(w):
    w.set_strategies(deletion_conflict="restore")
    drop_crm(w)
    w.uncouple_company("C00002")  # a CRM contact needs its company's account
    r = w.sync("push")
    assert (r.inserted, r.failed) == (0, 1)
    msg = r.errors.set_index("nav_no").loc["CT000002", "message"]
    assert "coupled to a deleted record" in msg and "could not be restored" in msg and "C00002" in msg
    assert w.sql("SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no = 'CT000002'").crm_id[0] == CRM_2
    assert w.runs().set_index("run_id").loc[r.run_id, "failed"] == 1  # counted once


def test_find_for_deleted_and_resolve_deleted(w):
    drop_crm(w)
    drop_nav(w, "CT000001")
    found = w.find_for_deleted()
    assert sorted(zip(found.nav_no, found.deleted)) == [("CT000001", "nav"), ("CT000002", "crm")]
    r = w.resolve_deleted("restore", nos=["CT000002"])
    assert r.inserted == 1 and list(w.find_for_deleted()["nav_no"]) == ["CT000001"]
    r = w.resolve_deleted("remove_coupling")
    assert r.uncoupled == 1 and w.find_for_deleted().empty
    with pytest.raises(cs.ContactSyncError, match="'restore' or 'remove_coupling'"):
        w.resolve_deleted("none")
