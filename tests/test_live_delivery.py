"""Outbox and delivery against the local test server, through real sockets: batches, If-Match ETags, 412 →
re-pull and the errors list, 4xx rejected with the service's message, 429 / 5xx / a dropped connection retried
(bounded), creates that never duplicate on a replay, undo of a delivered run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import ACC_A, ACC_B, CRM_1, CRM_2
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from live_support import connected, cred, many_crm, server

import contactsync as cs
from contactsync.changeset import change_set
from contactsync.live.odata import boundary_of, parse_multipart
from contactsync.live.testserver import Fault


@pytest.fixture
def srv():
    s = server()
    yield s
    s.stop()


def _edit_nav(ws, no: str, **values) -> None:
    """Change NAV fields as an import of the NAV side would, then sync them to CRM."""
    row = {"No.": no, "Type": "Person", **values}
    ws.import_nav(pd.DataFrame([row]))


def test_sync_fills_the_outbox_in_its_transaction_and_imports_do_not(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    assert ws.outbox(status="pending").empty      # an import brings data in: never sent back
    r = ws.sync("push")
    box = ws.outbox(status="pending")
    assert box["run_id"].unique().tolist() == [r.run_id] and box["side"].tolist() == ["crm"]
    assert json.loads(box["new_values"][0])["jobtitle"] == "Purchasing lead"
    # the outbox holds exactly the run's change set for the live side
    with ws.connection() as con:
        cs_ = change_set(con, r.run_id)
    assert [c.key for c in cs_.for_side("crm")] == box["key"].tolist()
    # a dry run queues nothing
    _edit_nav(ws, "CT000002", **{"Job Title": "MD"})
    ws.sync("push", dry_run=True)
    assert len(ws.outbox(status="pending")) == 1


def test_delivery_sends_with_the_etag_and_keeps_the_new_one(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    ws.sync("push")
    etag_before = ws.sql("SELECT etag FROM live_record WHERE key = ?", [CRM_1])["etag"][0]
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.pending, d.changed_remotely, d.rejected) == (1, 0, 0, 0)
    assert srv.record("crm", CRM_1)["jobtitle"] == "Purchasing lead"
    etag_after = ws.sql("SELECT etag FROM live_record WHERE key = ?", [CRM_1])["etag"][0]
    assert etag_after != etag_before and etag_after == srv.crm.etag(CRM_1)
    assert ws.outbox().query("delivery_run == @d.run_id")["status"].tolist() == ["delivered"]
    assert ws.runs()["kind"].iloc[-1] == "deliver" and ws.runs()["modified"].iloc[-1] == 1


def test_batches_of_the_configured_size(srv):
    srv.load_crm(many_crm(2_500).to_dict("records"))
    ws = connected(srv, couple=False)
    with ws.transaction() as con:   # a run changing 2,500 CRM records (as a sync would), set-based
        from contactsync import history

        run = history.start_run(con, "sync", direction="push")
        con.execute("INSERT INTO change_log SELECT ?, 'crm', contactid, 'jobtitle', jobtitle, 'Buyer', 'update' "
                    "FROM crm_contact WHERE firstname LIKE 'First%'", [run])
        con.execute("UPDATE crm_contact SET jobtitle = 'Buyer' WHERE firstname LIKE 'First%'")
        history.finish_run(con, run)
    assert len(ws.outbox(limit=None)) == 2_500
    n0 = len(srv.requests)
    d = ws.deliver(credential=cred(), batch_size=1000)
    assert d.delivered == 2_500
    batches = [p for s, m, p in srv.requests[n0:] if p.endswith("$batch")]
    assert len(batches) == 3
    assert all(srv.record("crm", k)["jobtitle"] == "Buyer" for k in many_crm(2_500)["contactid"])


def test_changed_remotely_is_repulled_and_listed_as_an_error(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    ws.sync("push")
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing head"})
    ws.sync("push")
    srv.edit("crm", CRM_1, jobtitle="Changed in CRM")   # after our pull, before delivery
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.changed_remotely, d.superseded) == (0, 1, 1)
    assert srv.record("crm", CRM_1)["jobtitle"] == "Changed in CRM"   # never overwritten
    assert ws.crm_contact(CRM_1)["jobtitle"] == "Changed in CRM"       # re-pulled through the import path
    err = ws.errors(d.run_id)
    assert err["crm_id"].tolist() == [CRM_1] and err["nav_no"].tolist() == ["CT000001"]
    assert "changed in CRM since the pull" in err["message"][0]
    # and in the errors list across runs (the app's Synchronization Errors), as failed by the delivery run
    listed = ws.sync_errors().set_index("crm_id").loc[CRM_1]
    assert (listed["state"], listed["run_id"]) == ("failed", d.run_id)
    assert "changed in CRM since the pull" in listed["message"]
    assert ws.outbox()["status"].tolist()[-2:] == ["changed_remotely", "superseded"]
    # the next sync sees the CRM change as a conflict with the NAV one (not silently overwritten)
    assert ws.outbox(status="pending").empty


def test_rejected_items_keep_the_services_message(srv):
    ws = connected(srv)
    srv.maxlen["jobtitle"] = 5
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    _edit_nav(ws, "CT000002", **{"Job Title": "MD"})
    ws.sync("push")
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.rejected) == (1, 1)
    out = d.outcomes.set_index("key")
    assert out.loc[CRM_1, "status"] == "rejected"
    assert "exceeded the maximum allowed length" in out.loc[CRM_1, "message"]
    assert "0x80044331" in ws.errors(d.run_id)["message"][0]


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_server_errors_are_retried(srv, status):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    ws.sync("push")
    srv.inject(Fault.STATUS, service="crm", status=status, retry_after=0.3, times=2, path="$batch")
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.retried, d.pending) == (1, 2, 0)


def test_retries_are_bounded_and_leave_items_pending(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    ws.sync("push")
    srv.inject(Fault.STATUS, service="crm", status=503, times=-1, path="$batch")
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.pending) == (0, 1) and d.retried == 5
    assert "503" in ws.outbox(status="pending")["message"][0]
    srv.clear_faults()
    assert ws.deliver(credential=cred()).delivered == 1


def test_dropped_connection_mid_batch_applies_each_change_once(srv):
    srv.load_crm(many_crm(10).to_dict("records"))
    ws = connected(srv, couple=False)
    with ws.transaction() as con:
        from contactsync import history

        run = history.start_run(con, "sync", direction="push")
        con.execute("INSERT INTO change_log SELECT ?, 'crm', contactid, 'jobtitle', jobtitle, 'Buyer', 'update' "
                    "FROM crm_contact WHERE firstname LIKE 'First%'", [run])
        con.execute("UPDATE crm_contact SET jobtitle = 'Buyer' WHERE firstname LIKE 'First%'")
        history.finish_run(con, run)
    srv.inject(Fault.DROP, service="crm", after=4)    # 4 applied, then the socket closes without an answer
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.changed_remotely, d.pending) == (10, 0, 0) and d.retried == 1
    keys = many_crm(10)["contactid"]
    assert all(srv.crm.writes[k] == 1 for k in keys)           # the replay met 412 and verified: not resent
    assert all(srv.record("crm", k)["jobtitle"] == "Buyer" for k in keys)


def test_create_in_crm_never_duplicates_on_replay(srv):
    ws = connected(srv)
    new_id = ws.create_crm_from_nav("CT000004")
    srv.inject(Fault.DROP, service="crm", after=1)       # created, answer lost
    n_before = len(srv.crm.rows)
    d = ws.deliver(credential=cred())
    assert d.delivered == 1 and len(srv.crm.rows) == n_before + 1
    assert srv.crm.writes[str(new_id)] == 1
    rec = srv.record("crm", str(new_id))
    assert rec["lastname"] == "Schmidt" and rec["_parentcustomerid_value"] == ACC_A
    # delivering again sends nothing
    assert ws.deliver(credential=cred()).delivered == 0


def test_create_in_business_central_never_duplicates_on_replay(srv):
    ws = connected(srv)
    no = ws.create_nav_from_crm("cccccccc-0000-0000-0000-000000000003")
    srv.inject(Fault.DROP, service="nav", after=1)
    d = ws.deliver(credential=cred())
    assert d.delivered == 1
    assert sum(1 for r in srv.nav.rows.values() if r.get("number") == str(no)) == 1
    made = srv.find_nav(str(no))
    assert made["firstName"] == "Nina" and made["surname"] == "Nowak"
    assert ws.sql("SELECT remote_id FROM live_record WHERE side = 'nav' AND key = ?", [str(no)])["remote_id"][0] \
        == made["id"]


def test_undo_of_a_delivered_run_goes_out_the_same_way(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    r = ws.sync("push")
    ws.deliver(credential=cred())
    ws.undo(r.run_id)
    box = ws.outbox(status="pending")
    assert json.loads(box["new_values"][0])["jobtitle"] == "Einkauf"
    assert ws.deliver(credential=cred()).delivered == 1
    assert srv.record("crm", CRM_1)["jobtitle"] == "Einkauf"
    # undo of a create deletes the record in the other system (with its ETag)
    new_id = str(ws.create_crm_from_nav("CT000004"))
    ws.deliver(credential=cred())
    ws.undo(int(ws.runs()["run_id"][ws.runs()["kind"] != "deliver"].iloc[-1]))
    d = ws.deliver(credential=cred())
    assert d.delivered == 1 and srv.record("crm", new_id) is None


def test_nav_side_update_uses_the_bc_etag(srv):
    ws = connected(srv)
    srv.edit("crm", CRM_2, jobtitle="Managing Director")
    ws.pull("crm", credential=cred())
    r = ws.sync("pull")
    assert r.modified == 1
    d = ws.deliver(credential=cred())
    assert d.delivered == 1
    assert srv.find_nav("CT000002")["jobTitle"] == "Managing Director"


@pytest.fixture
def live_ws(srv):
    w = connected(srv)
    yield w
    w.close()


@settings(max_examples=6, deadline=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(titles=st.lists(st.sampled_from(["A", "B", "Buyer", "", "Dir"]), min_size=1, max_size=3),
       remote_edit=st.booleans())
def test_property_remote_and_workspace_agree_after_delivery(srv, live_ws, titles, remote_edit):
    """Whatever runs change CT000001's job title (one workspace across the examples: any earlier state), after
    delivery CRM holds the workspace's value — or, when CRM changed it meanwhile, CRM's value is kept, the
    workspace re-pulled it, and nothing stays pending."""
    ws = live_ws
    for t in titles:
        _edit_nav(ws, "CT000001", **{"Job Title": t})
        ws.sync("push", nos=["CT000001"], force=True)
    if remote_edit:
        srv.edit("crm", CRM_1, jobtitle="Remote")
    d = ws.deliver(credential=cred())
    remote = srv.record("crm", CRM_1)["jobtitle"]
    assert (ws.crm_contact(CRM_1)["jobtitle"] or "") == (remote or "")
    if remote_edit and d.delivered + d.changed_remotely > 0:
        assert remote == "Remote" and d.changed_remotely == 1
    assert ws.outbox(status="pending").empty


def test_a_workspace_without_connections_queues_nothing(synced):
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "X"}]))
    synced.sync("push")
    assert synced.outbox().empty
    assert isinstance(synced, cs.Workspace)


def test_a_pull_between_sync_and_delivery_holds_the_change(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Job Title": "Purchasing lead"})
    ws.sync("push")
    srv.edit("crm", CRM_1, jobtitle="Changed in CRM")
    r = ws.pull("crm", credential=cred())
    assert r.held == 1 and "held" in r.note
    d = ws.deliver(credential=cred())
    assert d.delivered == 0 and srv.record("crm", CRM_1)["jobtitle"] == "Changed in CRM"
    assert ws.outbox()["status"].iloc[-1] == "changed_remotely"


def test_read_only_fields_are_never_queued(srv):
    ws = connected(srv)
    from contactsync import history

    with ws.transaction() as con:   # a sync run that also logged the service-set modifiedon / SystemModifiedAt
        run = history.start_run(con, "sync", direction="push")
        con.executemany("INSERT INTO change_log VALUES (?, ?, ?, ?, 'a', 'b', 'update')",
                        [[run, "crm", CRM_1, "jobtitle"], [run, "crm", CRM_1, "modifiedon"],
                         [run, "crm", CRM_2, "modifiedon"], [run, "nav", "CT000001", "SystemModifiedAt"]])
        history.finish_run(con, run)
    box = ws.outbox(limit=None).query("run_id == @run")
    # only CRM_1's jobtitle goes out: a record whose only change is a read-only field is not queued at all
    assert box[["side", "key"]].values.tolist() == [["crm", CRM_1]]
    assert json.loads(box["new_values"].iloc[0]) == {"jobtitle": "b"}


# -- accounts: what the engine changes of them reaches Dataverse as the contact's parent account bind ------
def test_a_contacts_move_to_another_account_is_delivered_as_the_parent_bind(srv):
    """The engine writes no account records (accounts come in by import and are never sent back; companies and
    accounts are created by hand): what a run changes on the account side of CRM is a contact's parent
    account, sent as ``parentcustomerid_account@odata.bind`` with the contact's ETag."""
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Company No.": "C00002", "Company Name": "O'Brien Ltd"})
    r = ws.sync("push")
    assert r.modified == 1
    box = ws.outbox(status="pending")
    assert box["side"].tolist() == ["crm"] and json.loads(box["new_values"][0])["parentcustomerid"] == ACC_B
    assert not (ws.outbox()["side"] == "account").any()        # no account record is queued: none changed
    writes = srv.crm.writes.get(CRM_1, 0)
    etag = ws.sql("SELECT etag FROM live_record WHERE side = 'crm' AND key = ?", [CRM_1])["etag"][0]
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.rejected, d.changed_remotely) == (1, 0, 0)
    assert srv.record("crm", CRM_1)["_parentcustomerid_value"] == ACC_B and srv.crm.writes[CRM_1] == writes + 1
    # on the wire: the bind, under the contact's ETag (not If-Match: *)
    part = next(p for p in parse_multipart(srv.last_batch[1], boundary_of(srv.last_batch[0])) if CRM_1 in p.url)
    assert part.headers["If-Match"] == etag
    assert part.json() == {"parentcustomerid_account@odata.bind": f"/accounts({ACC_B})"}
    # read back through a pull it is the same value: nothing new to import (echo)
    p = ws.pull("crm", credential=cred())
    assert p.echoes == p.fetched and ws.crm_contact(CRM_1)["parentcustomerid"] == ACC_B


def test_a_move_to_an_account_deleted_in_crm_is_rejected_with_its_message_and_a_412_is_kept(srv):
    ws = connected(srv)
    _edit_nav(ws, "CT000001", **{"Company No.": "C00002", "Company Name": "O'Brien Ltd"})
    _edit_nav(ws, "CT000002", **{"Company No.": "C00001", "Company Name": "Müller & Söhne GmbH"})
    ws.sync("push")
    srv.remove("account", ACC_B)                                  # deleted in CRM since the pull
    srv.edit("crm", CRM_2, jobtitle="changed in CRM")             # and CT000002's contact changed there
    d = ws.deliver(credential=cred())
    assert (d.delivered, d.rejected, d.changed_remotely) == (0, 1, 1)
    out = d.outcomes.set_index("key")
    assert "account With Id = " + ACC_B + " Does Not Exist" in out.loc[CRM_1, "message"]
    assert "changed in CRM since the pull" in out.loc[CRM_2, "message"]
    assert srv.record("crm", CRM_1)["_parentcustomerid_value"] == ACC_A      # nothing applied
    assert srv.record("crm", CRM_2)["_parentcustomerid_value"] == ACC_B
    errors = ws.sql("SELECT crm_id, message FROM run_error WHERE run_id = ?", [d.run_id])
    assert set(errors["crm_id"]) == {CRM_1, CRM_2}
