"""Coupled Data Synchronization Errors view (BC page 5333): the list, its filters, and each action as one run
with a confirmation that names what it does and a result in a steward's words."""

from __future__ import annotations

import html
import shutil

import pandas as pd
import pytest
from conftest import CRM_2, couple_two, fill_small

import contactsync as cs
from contactsync.ui.common import live_widgets
from contactsync.ui.errors import ErrorsView

BAD_MAIL = {"No.": "CT000002", "Type": "Person", "E-Mail": "not-an-email", "SystemModifiedAt": "2026-06-01 10:00:00"}
API_WORDS = ("see .", "ws.", "sync_errors", "nos=", "()")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("errors") / "template.duckdb"
    with couple_two(fill_small(cs.Workspace.open(path))) as ws:
        ws.import_nav(pd.DataFrame([BAD_MAIL]))
        ws.sync("push")
        ws.sync("push")  # the same failure twice: Skipped (excluded) until retried
    return path


@pytest.fixture
def w(template, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copyfile(template, path)
    ws = cs.Workspace.open(path)
    yield ws
    ws.close()


def asked(v) -> str:
    """The confirmation's question as the steward reads it."""
    return html.unescape(v.confirm.question.value)


def runs(ws) -> int:
    return len(ws.runs())


def steward_words(msg: str) -> None:
    assert msg and not any(a in msg for a in API_WORDS), msg


def test_list_filters_and_selection(w):
    v = ErrorsView(w)
    assert [r["nav_no"] for r in v.table.rows] == ["CT000002"]
    row = v.table.rows[0]
    assert row["state_words"] == "Skipped" and "the same failure in a row" in row["reason_words"]
    assert "not-an-email" in row["message"] and row["nav_name"] == "Siobhán O'Brien"
    v.state.value = "failed"
    assert v.table.rows == [] and "clear State or Search" in v.table.empty
    v.state.value = "skipped"
    v.search.value = "obrien"  # no match: the name is "O'Brien"
    assert v.table.rows == []
    v.search.value = "o'brien"
    assert len(v.table.rows) == 1
    assert v.retry_button.disabled and v.coupling_button.disabled
    v.table.select("CT000002")
    assert not v.retry_button.disabled and not v.coupling_button.disabled and v.retry_button.description == "Retry (1)"


def test_retry_asks_then_is_one_run(w):
    v = ErrorsView(w)
    v.table.select("CT000002")
    n = runs(w)
    v.retry_button.click()
    assert v.confirm.is_open and "Retry 1 Skipped record(s) — CT000002 Siobhán O'Brien" in asked(v)
    v.confirm.no.click()
    assert runs(w) == n and bool(w.sync_errors()["excluded"].iloc[0])
    v.retry_button.click()
    v.confirm.yes.click()
    assert runs(w) == n + 1 and w.runs().iloc[-1]["kind"] == "retry"
    assert not w.sync_errors()["excluded"].any()
    assert v.messages.kind == "ok" and "1 skipped record(s) will be synchronized" in v.messages.text
    steward_words(v.messages.text)
    assert v.retry_all_button.disabled  # nothing Skipped any more


def test_retry_all(w):
    v = ErrorsView(w)
    v.retry_all_button.click()
    assert "Retry all 1 Skipped record(s)" in asked(v)
    v.confirm.yes.click()
    assert not w.sync_errors()["excluded"].any() and w.runs().iloc[-1]["kind"] == "retry"


def test_synchronize_says_why_it_failed_in_steward_words(w):
    v = ErrorsView(w)
    v.table.select("CT000002")
    n = runs(w)
    v.sync_button.click()
    q = asked(v)
    assert "Synchronize 1 record(s) — CT000002" in q and "overwritten with the values from Dynamics NAV" in q
    assert "Synchronizing would do this:" in q and "1 record(s) will fail: CT000002: E-Mail" in q  # said first
    assert runs(w) == n, "the preview kept a run"
    v.confirm.yes.click()
    assert runs(w) == n + 1
    assert v.messages.kind == "error" and "CT000002: E-Mail: 'not-an-email' is not a valid e-mail" in v.messages.text
    steward_words(v.messages.text.split("(run")[0])
    w.import_nav(pd.DataFrame([BAD_MAIL | {"E-Mail": "siobhan@obrien.ie", "SystemModifiedAt": "2026-06-02 10:00:00"}]))
    v.refresh()
    v.table.select("CT000002")
    v.sync_button.click()
    v.confirm.yes.click()
    assert v.messages.kind == "ok" and "1 record(s) changed" in v.messages.text
    assert w.crm_contact(CRM_2)["emailaddress1"] == "siobhan@obrien.ie"
    assert v.table.rows == [] and "No synchronization errors" in v.table.empty


def test_delete_couplings_confirms_is_one_run_and_undoes(w):
    w.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "E-Mail": "also bad",
                                "SystemModifiedAt": "2026-06-01 10:00:00"}]))
    w.sync("push")
    v = ErrorsView(w)
    assert sorted(r["nav_no"] for r in v.table.rows) == ["CT000001", "CT000002"]
    v.select_all.value = True
    assert v.delete_button.description == "Delete Couplings (2)" and v.coupling_button.disabled
    before = w.sql("SELECT * FROM coupling ORDER BY entity, nav_no")
    n = runs(w)
    v.delete_button.click()
    assert "Delete the couplings of 2 record(s)" in asked(v) and "No contact is deleted" in \
        asked(v)
    v.confirm.no.click()
    assert runs(w) == n
    v.delete_button.click()
    v.confirm.yes.click()
    assert runs(w) == n + 1
    last = w.runs().iloc[-1]
    assert last["kind"] == "uncouple" and last["uncoupled"] == 2 and "CT000001" in last["note"]
    assert w.sql("SELECT count(*) AS n FROM coupling WHERE entity = 'contact'")["n"][0] == 0
    assert "2 coupling(s) deleted" in v.messages.text and v.table.rows == []
    w.undo(int(last["run_id"]))
    pd.testing.assert_frame_equal(w.sql("SELECT * FROM coupling ORDER BY entity, nav_no"), before)


def test_delete_couplings_of_an_uncoupled_record_changes_nothing(w):
    v = ErrorsView(w)
    v.table.select("CT000002")
    w.uncouple("CT000002")  # meanwhile, elsewhere
    n = runs(w)
    v.delete_button.click()
    v.confirm.yes.click()
    assert runs(w) == n and v.messages.kind == "error" and "not coupled: CT000002" in v.messages.text


def test_set_up_coupling_opens_the_coupling_dialog(w):
    v = ErrorsView(w)
    v.table.select("CT000002")
    d = v.set_up_coupling()
    assert d is not None and v.dialog_area.children == (d,) and d.no == "CT000002"
    d.cancel.click()
    assert v.dialog_area.children == ()


def test_find_for_deleted_restore_and_remove(w):
    w.retry()
    rest = w.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [CRM_2])
    w.import_crm(rest, snapshot=True)  # CRM_2 vanished from a full export
    w.import_nav(pd.DataFrame([BAD_MAIL | {"E-Mail": "s@obrien.ie", "SystemModifiedAt": "2026-06-03 10:00:00"}]))
    v = ErrorsView(w)
    v.find_button.click()
    assert v.deleted_box.layout.display == "flex" and "1 coupling(s) to a deleted record" in v.messages.text
    assert [(r["nav_no"], r["deleted_words"]) for r in v.deleted_table.rows] == [("CT000002", "Dynamics CRM")]
    assert v.restore_button.disabled
    v.deleted_table.select("CT000002")
    n = runs(w)
    v.restore_button.click()
    assert "Restore 1 record(s) — CT000002 Siobhán O'Brien" in asked(v)
    v.confirm.yes.click()
    assert runs(w) == n + 1 and v.messages.kind == "ok", v.messages.text
    assert "1 record(s) restored" in v.messages.text
    steward_words(v.messages.text)
    new = w.sql("SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no = 'CT000002'")["crm_id"][0]
    assert new != CRM_2 and v.deleted_table.rows == []
    # Remove Coupling: the new CRM record vanishes too
    w.import_crm(w.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [new]), snapshot=True)
    v.find_button.click()
    n = runs(w)
    v.deleted_all.value = True
    v.remove_button.click()
    assert "Remove the coupling of 1 record(s)" in asked(v)
    v.confirm.yes.click()
    assert "1 coupling(s) to a deleted record removed" in v.messages.text
    assert w.find_for_deleted().empty and runs(w) == n + 1


def test_refresh_keeps_the_widget_count_flat(w):
    v = ErrorsView(w)
    v.find_button.click()
    v.table.select("CT000002")
    v.set_up_coupling()
    v.refresh()
    base = live_widgets()
    for i in range(20):
        v.refresh()
        v.table.select("CT000002")
        if i % 10 == 0:
            v.set_up_coupling()  # replaces the open dialog
    assert live_widgets() == base


def test_restore_of_a_pair_deleted_on_both_sides_says_what_to_do(w):
    w.retry()
    w.import_crm(w.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [CRM_2]), snapshot=True)
    w.import_nav(w.sql('SELECT * FROM nav_contact WHERE "No." <> ?', ["CT000002"]), snapshot=True)
    v = ErrorsView(w)
    v.find_button.click()
    assert [(r["nav_no"], r["deleted_words"]) for r in v.deleted_table.rows] == [("CT000002", "both sides")]
    v.deleted_all.value = True
    v.restore_button.click()
    v.confirm.yes.click()
    assert v.messages.kind == "error" and "1 not restored: CT000002: both records are deleted" in v.messages.text
    assert "remove the coupling instead (Remove Coupling)" in v.messages.text
    steward_words(v.messages.text)
    assert len(w.find_for_deleted()) == 1
    v.deleted_all.value = True
    v.remove_button.click()
    v.confirm.yes.click()
    assert v.messages.kind == "ok" and w.find_for_deleted().empty
