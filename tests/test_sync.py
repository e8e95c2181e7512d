"""Synchronization: every outcome in each direction, merge, force, dry run, failures, atomicity."""

import pandas as pd
import pytest
from conftest import ACC_B, CRM_1, CRM_2, CRM_3, all_state, assert_same_state

import contactsync as cs
from contactsync import history
from contactsync.mapping import FieldMapping


def nav_set(ws, no, **values):
    ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", **values}]))


def crm_set(ws, crm_id, **values):
    ws.import_crm(pd.DataFrame([{"contactid": crm_id, **values}]))


def test_second_sync_is_all_unchanged(synced):
    for d in ("push", "pull", "both"):
        r = synced.sync(d)
        assert (r.modified, r.unchanged, r.skipped, r.failed) == (0, 2, 0, 0), d
        assert r.changes.empty


def test_push_modified(synced):
    nav_set(synced, "CT000001", City="München")
    r = synced.sync("push")
    assert (r.modified, r.unchanged) == (1, 1)
    assert r.message == "Synchronization completed"
    assert synced.crm_contact(CRM_1)["address1_city"] == "München"
    ch = r.changes[r.changes["field"] == "address1_city"]
    assert ch[["side", "key", "old_value", "new_value"]].values.tolist() == [["crm", CRM_1, "Berlin", "München"]]
    assert synced.changes(r.run_id).query("field == 'address1_city'")["old_value"].tolist() == ["Berlin"]


def test_pull_modified_and_push_ignores_crm_changes(synced):
    crm_set(synced, CRM_2, jobtitle="Managing Director")
    assert synced.sync("push").modified == 0  # a CRM change is not sent back by a push
    assert synced.nav_contact("CT000002")["Job Title"] == "Director"
    r = synced.sync("pull")
    assert r.modified == 1 and synced.nav_contact("CT000002")["Job Title"] == "Managing Director"
    assert synced.sync("both").modified == 0


def test_conflict_is_skipped_never_overwritten(synced):
    nav_set(synced, "CT000001", City="Hamburg")
    crm_set(synced, CRM_1, address1_city="Bremen")
    for d in ("push", "pull", "both"):
        r = synced.sync(d)
        assert (r.skipped, r.modified) == (1, 0), d
        c = r.conflicts.iloc[0]
        assert (c["nav_field"], c["nav_value"], c["crm_value"], c["base_value"]) == ("City", "Hamburg", "Bremen",
                                                                                      "Berlin")
        assert "skipped on a conflict" in r.message
    assert synced.nav_contact("CT000001")["City"] == "Hamburg"
    assert synced.crm_contact(CRM_1)["address1_city"] == "Bremen"
    assert len(synced.conflicts(r.run_id)) == 1
    # the steward resolves it with Synchronize Now (force) in one direction
    r = synced.sync("pull", nos=["CT000001"], force=True)
    assert r.modified == 1 and synced.nav_contact("CT000001")["City"] == "Bremen"
    assert synced.sync("both").unchanged == 2


def test_both_changed_on_different_fields_is_merged(synced):
    nav_set(synced, "CT000001", **{"Job Title": "Head of Purchasing"})
    crm_set(synced, CRM_1, telephone1="+49 30 7654321")
    r = synced.sync("both")
    assert (r.modified, r.skipped) == (1, 0)
    nav, crm = synced.nav_contact("CT000001"), synced.crm_contact(CRM_1)
    assert nav["Phone No."] == crm["telephone1"] == "+49 30 7654321"
    assert nav["Job Title"] == crm["jobtitle"] == "Head of Purchasing"
    assert set(zip(r.changes["side"], r.changes["field"])) >= {("nav", "Phone No."), ("crm", "jobtitle")}


def test_same_change_on_both_sides_is_not_a_conflict(synced):
    nav_set(synced, "CT000001", City="Köln")
    crm_set(synced, CRM_1, address1_city="Köln")
    r = synced.sync("both")
    assert (r.modified, r.skipped, r.unchanged) == (0, 0, 2)


def test_empty_and_null_are_equal_and_code_fields_ignore_case(synced):
    # CRM_2's postal code was pushed upper-case; lower-casing it in CRM is no difference for NAV
    crm_set(synced, CRM_2, address1_postalcode="d02 x285", middlename="")
    assert synced.compare("CT000002").set_index("nav_field").loc["Post Code", "differs"] == False  # noqa: E712
    for d in ("push", "pull", "both"):
        assert synced.sync(d).modified == 0
    assert synced.differences().empty


def test_pull_upper_cases_code_fields(synced):
    crm_set(synced, CRM_1, address1_postalcode="ab1 2cd", address1_country="gb")
    r = synced.sync("pull")
    nav = synced.nav_contact("CT000001")
    assert r.modified == 1 and (nav["Post Code"], nav["Country/Region Code"]) == ("AB1 2CD", "GB")
    assert synced.sync("both").modified == 0  # no loop on a difference NAV would undo


def test_failed_too_long_for_nav_and_the_rest_goes_on(synced):
    crm_set(synced, CRM_1, jobtitle="Vice President of Global Strategic Procurement")
    crm_set(synced, CRM_2, address1_city="Cork")
    r = synced.sync("pull")
    assert (r.failed, r.modified) == (1, 1)
    msg = r.errors.set_index("nav_no").loc["CT000001", "message"]
    assert "Job Title" in msg and "46 characters" in msg and "at most 30" in msg
    assert synced.nav_contact("CT000001")["Job Title"] == "Einkauf"  # never truncated
    assert synced.nav_contact("CT000002")["City"] == "Cork"
    assert synced.errors(r.run_id)["nav_no"].tolist() == ["CT000001"]


@pytest.mark.parametrize("bad", ["jm@@mueller.de", "not an email", "jm@mueller"])
def test_failed_invalid_email_push(synced, bad):
    nav_set(synced, "CT000001", **{"E-Mail": bad})
    r = synced.sync("push")
    assert r.failed == 1 and "not a valid e-mail address" in r.errors["message"].iloc[0]
    assert synced.crm_contact(CRM_1)["emailaddress1"] == "jm@mueller.de"


def test_failed_deleted_counterpart(synced):
    synced.sql(f"DELETE FROM crm_contact WHERE contactid = '{CRM_2}'", write=True)
    r = synced.sync("push", force=True)
    assert r.failed == 1 and "no longer exists" in r.errors["message"].iloc[0]
    assert r.modified + r.unchanged == 1


def test_company_change_goes_through_the_company_coupling(synced):
    nav_set(synced, "CT000001", **{"Company No.": "C00002"})
    r = synced.sync("push")
    assert r.modified == 1 and synced.crm_contact(CRM_1)["parentcustomerid"] == ACC_B
    synced.uncouple_company("C00002")
    nav_set(synced, "CT000002", City="Galway")
    crm_set(synced, CRM_1, jobtitle="Chef")
    r = synced.sync("both")
    # CT000001's CRM parent account is no longer coupled, so its pull fails with the fix named
    assert r.failed >= 1
    assert any("couple_company" in m for m in r.errors["message"])


def test_force_overwrites_destination_and_logs_old_values(synced):
    crm_set(synced, CRM_1, address1_city="Bremen", jobtitle="Boss")
    r = synced.sync("push", nos=["CT000001"], force=True)
    assert r.modified == 1
    crm = synced.crm_contact(CRM_1)
    assert (crm["address1_city"], crm["jobtitle"]) == ("Berlin", "Einkauf")
    olds = dict(zip(r.changes["field"], r.changes["old_value"]))
    assert olds["address1_city"] == "Bremen" and olds["jobtitle"] == "Boss"


def test_force_needs_one_direction_and_bad_arguments(synced):
    with pytest.raises(cs.SyncError, match="push' or 'pull"):
        synced.sync("both", force=True)
    with pytest.raises(cs.SyncError, match="direction"):
        synced.sync("sideways")
    with pytest.raises(cs.SyncError, match="not coupled: CT000004"):
        synced.sync("push", nos=["CT000004"])
    with pytest.raises(cs.SyncError, match=r"CT999999 \(does not exist\)"):
        synced.sync("push", nos=["CT999999"])


def test_dry_run_returns_the_plan_and_writes_nothing(synced):
    nav_set(synced, "CT000001", City="Hamburg")
    crm_set(synced, CRM_2, jobtitle="CEO")
    before, runs_before = all_state(synced), len(synced.runs())
    plan = synced.sync("both", dry_run=True)
    assert plan.dry_run and plan.run_id is None
    assert_same_state(before, all_state(synced))
    assert len(synced.runs()) == runs_before
    real = synced.sync("both")
    assert plan.counts() == real.counts()
    cols = ["side", "key", "field", "old_value"]
    assert plan.changes[cols].sort_values(cols).values.tolist() == real.changes[cols].sort_values(cols).values.tolist()


def test_incremental_by_modified_on_without_base(ws):
    """Couplings brought from BC carry the last-synch modified-on; with no synced values yet, a side
    changed when its modified-on is later."""
    crm_set(ws, CRM_1, jobtitle="Leiter Einkauf", modifiedon="2025-02-01 00:00:00")
    ws.import_couplings(pd.DataFrame({"No.": ["CT000001"], "contactid": [CRM_1],
                                      "Last Synch. Modified On": ["2025-01-05 00:00:00"],
                                      "Last Synch. CRM Modified On": ["2025-01-05 00:00:00"]}))
    r = ws.sync("both")
    assert (r.modified, r.skipped) == (1, 0)
    assert ws.nav_contact("CT000001")["Job Title"] == "Leiter Einkauf"


def test_never_synced_pair_with_differences_is_a_conflict_not_a_guess(ws):
    ws.couple("CT000002", CRM_2)  # no sync after: values differ (Siobhán / Siobhan) and nothing says who is right
    r = ws.sync("both")
    assert r.skipped == 1 and r.conflicts["nav_field"].tolist() == ["First Name"]


def test_create_missing_push_and_pull(ws):
    ws.couple("CT000001", CRM_1, sync_after="push")
    r = ws.sync("push", create_missing=True)
    # CT000002 and CT000004 are persons with a coupled company; CT000003 has no company (filtered out)
    assert r.inserted == 2 and ws.nav_contact("CT000004")["coupled"]
    assert ws.crm_contact(ws.nav_contact("CT000004")["crm_id"])["lastname"] == "Schmidt"
    r = ws.sync("pull", create_missing=True)
    assert r.inserted == 2  # CRM_2 and CRM_3 had no NAV partner
    assert ws.crm_contact(CRM_3)["coupled"]
    r = ws.sync("both", create_missing=True)
    assert (r.inserted, r.modified) == (0, 0)


def test_create_missing_failures_are_reported_not_created(ws):
    ws.import_nav(pd.DataFrame([{"No.": "CT000004", "Type": "Person", "E-Mail": "as@@mueller"}]))
    r = ws.sync("push", create_missing=True)
    assert r.failed == 1 and "CT000004" in r.errors["nav_no"].tolist()
    assert not ws.nav_contact("CT000004")["coupled"]


def test_one_direction_fields(ws):
    m = ws.mapping
    fields = [FieldMapping(f.nav, f.crm, direction="ToCRM" if f.nav == "Job Title" else
                           "FromCRM" if f.nav == "Phone No." else f.direction, max_length=f.max_length,
                           code=f.code, validate=f.validate, lookup=f.lookup) for f in m.fields]
    w = cs.Workspace.open(":memory:", mapping=m.with_fields(fields))
    for imp, df in (("import_accounts", ws.sql("SELECT * FROM crm_account")),
                    ("import_nav", ws.sql("SELECT * FROM nav_contact")),
                    ("import_crm", ws.sql("SELECT * FROM crm_contact"))):
        getattr(w, imp)(df)
    w.couple_company("C00001", "aaaaaaaa-0000-0000-0000-000000000001")
    w.couple("CT000001", CRM_1, sync_after="push")
    nav_set(w, "CT000001", **{"Phone No.": "+49 1", "Job Title": "NAV title"})
    crm_set(w, CRM_1, telephone1="+49 2", jobtitle="CRM title")
    r = w.sync("both")
    assert r.skipped == 0 and r.modified == 1
    assert w.crm_contact(CRM_1)["jobtitle"] == "NAV title"  # ToCRM: NAV owns it
    assert w.nav_contact("CT000001")["Phone No."] == "+49 2"  # FromCRM: CRM owns it


def test_fault_mid_run_leaves_workspace_unchanged(synced, monkeypatch):
    nav_set(synced, "CT000001", City="Hamburg")
    crm_set(synced, CRM_2, jobtitle="CEO")
    before, runs_before = all_state(synced), len(synced.runs())

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    # change log, CRM and NAV updates have run when the coupling images are taken
    monkeypatch.setattr(history, "log_before", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        synced.sync("both")
    assert_same_state(before, all_state(synced))
    assert len(synced.runs()) == runs_before
    assert synced.sql("SELECT count(*) AS n FROM change_log WHERE run_id > 0")["n"].iloc[0] == \
        synced.sql("SELECT count(*) AS n FROM change_log")["n"].iloc[0]
    monkeypatch.undo()
    assert synced.sync("both").modified == 2


def test_runs_history_counts(synced):
    nav_set(synced, "CT000001", City="Hamburg")
    r = synced.sync("push")
    row = synced.runs().set_index("run_id").loc[r.run_id]
    assert (row["kind"], row["direction"], row["modified"], row["unchanged"]) == ("sync", "push", 1, 1)
    assert row["ended_at"] >= row["started_at"] and not row["dry_run"] and not row["undone"]


def test_demo_data_outcomes(demo):
    r = demo.sync("both", dry_run=True)
    assert r.modified > 20 and r.skipped >= 3 and r.failed >= 3
    msgs = " ".join(r.errors["message"])
    assert "not a valid e-mail address" in msgs and "characters; the NAV field holds at most 30" in msgs
    real = demo.sync("both")
    assert real.counts() == r.counts()
    again = demo.sync("both")
    assert again.modified == 0 and again.skipped == r.skipped and again.failed == r.failed


@pytest.mark.parametrize("first, second", [("push", "pull"), ("pull", "push")])
def test_one_direction_run_keeps_the_other_sides_changes_pending(demo, first, second):
    """A push must not swallow CRM changes it did not send (and a pull NAV's), also for couplings brought
    from BC that have no synced values yet."""
    def planned(d):
        r = demo.sync(d, dry_run=True)
        return set(zip(r.changes["key"], r.changes["field"])), r.failed

    before = planned(second)
    assert before[0]
    demo.sync(first)
    assert planned(second) == before
    demo.sync(second)
    again = demo.sync("both")
    assert again.modified == 0
