"""The steward views in plain pytest: set widget values, click buttons, assert on the workspace."""

from __future__ import annotations

import pandas as pd
from conftest import ACC_A, CRM_1, CRM_2, CRM_3

from contactsync.ui import ContactCard, CrmContactsView, DifferencesView, HistoryView, NavContactsView, StewardApp
from contactsync.ui.common import field_labels
from contactsync.ui.dialogs import CouplingDialog, SyncNowDialog, changes_html

XSS = "<img src=x onerror=alert(1)>"


def nav_value(ws, no, field):
    return ws.nav_contact(no)[field]


def crm_value(ws, crm_id, attr):
    return ws.crm_contact(crm_id)[attr]


def change_crm(ws, crm_id, **values):
    row = ws.crm_contact(crm_id)
    row.update(values)
    row["modifiedon"] = pd.Timestamp("2030-01-01 12:00:00")
    cols = [c for c in ws.sql("SELECT * FROM crm_contact LIMIT 0").columns]
    ws.import_crm(pd.DataFrame([{c: row.get(c) for c in cols}]))


def change_nav(ws, no, **values):
    row = ws.nav_contact(no)
    row.update(values)
    row["SystemModifiedAt"] = pd.Timestamp("2030-01-01 12:00:00")
    cols = [c for c in ws.sql("SELECT * FROM nav_contact LIMIT 0").columns]
    ws.import_nav(pd.DataFrame([{c: row.get(c) for c in cols}]))


# -- Dynamics CRM Contacts --------------------------------------------------------------------------
def test_crm_list_search_filter_and_paging(demo):
    v = CrmContactsView(demo, page_size=10)
    total = demo.crm_contacts(limit=1).attrs["total"]
    assert len(v.table.rows) == 10 and v.pager.total == total
    assert "1–10 of" in v.pager.label.value
    first = v.table.rows[0]["contactid"]
    v.pager.next.click()
    assert v.pager.offset == 10 and v.table.rows[0]["contactid"] != first
    v.pager.prev.click()
    assert v.table.rows[0]["contactid"] == first and v.pager.prev.disabled
    v.coupled.value = "uncoupled"
    assert v.pager.offset == 0
    assert v.table.rows and not any(r["coupled"] for r in v.table.rows)
    v.coupled.value = "coupled"
    assert all(r["coupled"] for r in v.table.rows)
    name = v.table.rows[0]["lastname"]
    v.coupled.value = "all"
    v.search.value = name
    assert v.table.rows and all(name.lower() in str(r).lower() for r in v.table.rows)
    v.search.value = "no such contact zzz"
    assert v.table.rows == [] and "No matches" in v.pager.label.value
    assert v.create_nav_button.disabled


def test_create_nav_from_uncoupled_crm_opens_card(ws):
    app = StewardApp(ws)
    v = app.crm_contacts
    assert v.create_nav_button.disabled
    v.table.select(CRM_3)
    assert not v.create_nav_button.disabled
    v.create_nav_button.click()
    assert not v.confirm.is_open
    no = ws.crm_contact(CRM_3)["nav_no"]
    assert no and ws.nav_contact(no)["First Name"] == "Nina"
    assert v.messages.kind == "ok" and no in v.messages.text
    assert app.tabs.selected_index == app.views.index(app.nav_contacts)
    card = app.nav_contacts.card
    assert card.no == no and card.coupled and card.layout.display != "none"
    assert "cs-status-coupled" in card.status.value and CRM_3 in card.status.value


def test_create_nav_from_coupled_crm_asks_first(ws):
    ws.couple("CT000001", CRM_1)
    app = StewardApp(ws)
    v = app.crm_contacts
    v.table.select(CRM_1)
    v.create_nav_button.click()
    assert v.confirm.is_open and "CT000001" in v.confirm.question.value
    assert "deleted" in v.confirm.question.value
    v.confirm.no.click()  # nothing happens
    assert ws.crm_contact(CRM_1)["nav_no"] == "CT000001"
    v.create_nav_button.click()
    v.confirm.yes.click()
    new = ws.crm_contact(CRM_1)["nav_no"]
    assert new not in (None, "CT000001")
    assert not ws.nav_contact("CT000001")["coupled"]
    assert "CT000001" in v.messages.text and v.messages.kind == "ok"
    assert app.nav_contacts.card.no == new


def test_create_nav_error_is_shown_not_raised(ws):
    acc = "aaaaaaaa-0000-0000-0000-0000000000ff"
    ws.import_accounts(pd.DataFrame([{"accountid": acc, "name": "Uncoupled Inc", "statecode": 0}]))
    crm = "cccccccc-0000-0000-0000-0000000000ff"
    ws.import_crm(pd.DataFrame([{"contactid": crm, "firstname": "Ola", "lastname": "Nord",
                                 "parentcustomerid": acc, "statecode": 0}]))
    v = CrmContactsView(ws)
    v.search.value = "Nord"
    v.table.select(crm)
    before = len(ws.nav_contacts(limit=None))
    v.create_nav_button.click()
    assert v.messages.kind == "error" and v.messages.text
    assert "Traceback" not in v.messages.value
    assert len(ws.nav_contacts(limit=None)) == before


# -- NAV Contacts and the card ------------------------------------------------------------------------
def test_nav_list_opens_card_with_fields_and_link(ws):
    ws.couple("CT000001", CRM_1)
    v = NavContactsView(ws)
    v.table.select("CT000001")
    card = v.card
    assert card.no == "CT000001"
    assert "Jürgen" in card.fields.value and "Berlin" in card.fields.value
    assert card.coupled and not card.sync_now_button.disabled and not card.delete_coupling_button.disabled
    assert card.create_crm_button.disabled
    url = ws.crm_url(CRM_1)
    assert f'href="{url.replace("&", "&amp;")}"' in card.crm_link.value and 'target="_blank"' in card.crm_link.value
    v.table.select("CT000004")
    assert card.no == "CT000004" and not card.coupled
    assert card.sync_now_button.disabled and card.delete_coupling_button.disabled
    assert "href" not in card.crm_link.value
    v.coupled.value = "coupled"
    assert [r["No."] for r in v.table.rows] == ["CT000001"]


def test_create_crm_from_nav(ws):
    v = NavContactsView(ws)
    v.table.select("CT000004")
    v.card.create_crm_button.click()
    assert v.card.messages.text.startswith("Synchronization completed") and v.card.messages.kind == "ok"
    assert "created and coupled to CT000004" in v.card.messages.text and "undo it in History" in v.card.messages.text
    crm_id = ws.nav_contact("CT000004")["crm_id"]
    assert crm_id and crm_value(ws, crm_id, "firstname") == "Anna"
    assert v.card.coupled and v.card.create_crm_button.disabled


def test_create_crm_for_contact_without_company_shows_error(ws):
    card = ContactCard(ws)
    card.load("CT000003")
    card.create_crm_button.click()
    assert card.messages.kind == "error" and "compan" in card.messages.text.lower()
    assert not ws.nav_contact("CT000003")["coupled"]


def test_delete_coupling(ws):
    ws.couple("CT000001", CRM_1)
    card = ContactCard(ws)
    card.load("CT000001")
    card.delete_coupling_button.click()
    assert card.confirm.is_open and "CT000001" in card.confirm.question.value  # asks first
    assert ws.nav_contact("CT000001")["coupled"]
    card.confirm.yes.click()
    assert not ws.nav_contact("CT000001")["coupled"]
    assert card.messages.kind == "ok" and "deleted" in card.messages.text
    assert not card.coupled and card.delete_coupling_button.disabled


# -- Set Up Coupling -------------------------------------------------------------------------------------
def open_coupling(ws, no) -> tuple[ContactCard, CouplingDialog]:
    card = ContactCard(ws)
    card.load(no)
    card.setup_coupling_button.click()
    assert isinstance(card.dialog, CouplingDialog)
    return card, card.dialog


def test_coupling_dialog_coupled_records_refresh_and_highlight(ws):
    card, dlg = open_coupling(ws, "CT000002")
    assert "Choose a CRM contact" in dlg.coupled_records.value
    dlg.search.value = "O'Brien"
    assert [v for _, v in dlg.picker.options] == [CRM_2]
    dlg.picker.value = CRM_2
    html_ = dlg.coupled_records.value
    assert "Siobhán" in html_ and "Siobhan" in html_  # NAV | CRM values side by side
    assert "cs-diff" in html_  # the first name differs (accent)
    # Post Code is a code field: compared case-insensitively, so not highlighted
    post_row = [r for r in html_.split("<tr") if "Post Code" in r][0]
    assert "cs-diff" not in post_row
    dlg.search.value = "Nowak"
    dlg.picker.value = CRM_3
    assert "Nina" in dlg.coupled_records.value


def test_set_up_coupling_without_sync(ws):
    card, dlg = open_coupling(ws, "CT000002")
    dlg.search.value = "O'Brien"
    dlg.picker.value = CRM_2
    assert dlg.sync_after.label == "No" and dlg.sync_after_direction is None  # not blank
    dlg.ok.click()
    assert ws.nav_contact("CT000002")["crm_id"] == CRM_2
    assert crm_value(ws, CRM_2, "firstname") == "Siobhan"  # nothing synchronized
    assert card.dialog is None and card.coupled and card.messages.kind == "ok"


def test_set_up_coupling_use_nav_data(ws):
    card, dlg = open_coupling(ws, "CT000002")
    dlg.search.value = "O'Brien"
    dlg.picker.value = CRM_2
    dlg.sync_after.value = "push"
    assert dlg.sync_after.label == "Yes - Use the Dynamics NAV Data"
    dlg.ok.click()
    assert ws.nav_contact("CT000002")["crm_id"] == CRM_2
    assert crm_value(ws, CRM_2, "firstname") == "Siobhán"
    assert "Synchronization completed" in card.messages.text


def test_set_up_coupling_use_crm_data(ws):
    card, dlg = open_coupling(ws, "CT000002")
    dlg.search.value = "O'Brien"
    dlg.picker.value = CRM_2
    dlg.sync_after.value = "pull"
    assert dlg.sync_after.label == "Yes - Use the Dynamics CRM Data"
    dlg.ok.click()
    assert nav_value(ws, "CT000002", "First Name") == "Siobhan"
    assert "Synchronization completed" in card.messages.text


def test_set_up_coupling_create_new_forces_nav_data(ws):
    card, dlg = open_coupling(ws, "CT000004")
    dlg.sync_after.value = "pull"
    dlg.create_new.value = True
    assert dlg.sync_after.value == "push" and dlg.sync_after.disabled and dlg.picker.disabled
    assert "(new contact)" in dlg.coupled_records.value
    dlg.ok.click()
    crm_id = ws.nav_contact("CT000004")["crm_id"]
    assert crm_id and crm_value(ws, crm_id, "firstname") == "Anna"
    assert card.messages.text == "Synchronization completed"
    card.setup_coupling_button.click()
    card.dialog.create_new.value = True
    card.dialog.create_new.value = False
    assert not card.dialog.sync_after.disabled


def test_set_up_coupling_replaces_after_confirmation(ws):
    ws.couple("CT000001", CRM_1)
    card, dlg = open_coupling(ws, "CT000004")
    dlg.search.value = "Müller"
    dlg.picker.value = CRM_1
    dlg.ok.click()
    assert dlg.confirm.is_open and "CT000001" in dlg.confirm.question.value
    assert ws.nav_contact("CT000001")["crm_id"] == CRM_1
    dlg.confirm.yes.click()
    assert ws.nav_contact("CT000004")["crm_id"] == CRM_1 and not ws.nav_contact("CT000001")["coupled"]


def test_coupling_cancel_and_errors(ws):
    card, dlg = open_coupling(ws, "CT000003")  # no company: cannot be coupled
    dlg.search.value = "Nowak"
    dlg.picker.value = CRM_3
    dlg.ok.click()
    assert dlg.messages.kind == "error" and "compan" in dlg.messages.text.lower()
    dlg.cancel.click()
    assert card.dialog is None and not ws.nav_contact("CT000003")["coupled"]


# -- Synchronize Now -----------------------------------------------------------------------------------
def open_sync(ws, no) -> tuple[ContactCard, SyncNowDialog]:
    card = ContactCard(ws)
    card.load(no)
    card.sync_now_button.click()
    assert isinstance(card.dialog, SyncNowDialog)
    return card, card.dialog


def test_sync_now_get_shows_changes_then_completes(synced):
    ws = synced
    change_crm(ws, CRM_1, jobtitle="Head of Purchasing")
    card, dlg = open_sync(ws, "CT000001")
    assert dlg.ok.disabled
    dlg.direction.value = "pull"
    assert "Head of Purchasing" in dlg.preview.value and "Einkauf" in dlg.preview.value
    assert nav_value(ws, "CT000001", "Job Title") == "Einkauf"  # the preview wrote nothing
    assert dlg.warning.value == ""  # NAV (the destination) did not change
    dlg.ok.click()
    assert nav_value(ws, "CT000001", "Job Title") == "Head of Purchasing"
    assert card.messages.text == "Synchronization completed: 1 record(s) changed." and card.messages.kind == "ok"


def test_sync_now_send_warns_when_crm_changed(synced):
    ws = synced
    change_crm(ws, CRM_1, jobtitle="Changed in CRM")
    card, dlg = open_sync(ws, "CT000001")
    dlg.direction.value = "push"
    assert "Dynamics CRM changed since the last synchronization" in dlg.warning.value
    assert "Job Title" in dlg.warning.value
    dlg.ok.click()
    assert crm_value(ws, CRM_1, "jobtitle") == "Einkauf"
    assert card.messages.text == "Synchronization completed: 1 record(s) changed."


def test_sync_now_failure_is_shown(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "not an e-mail"})
    card, dlg = open_sync(ws, "CT000001")
    dlg.direction.value = "push"
    dlg.ok.click()
    assert dlg.messages.kind == "error" and "failed" in dlg.messages.text
    assert crm_value(ws, CRM_1, "emailaddress1") == "jm@mueller.de"


# -- Differences -----------------------------------------------------------------------------------------
def test_differences_filter_chart_and_push_pull_selection(synced):
    ws = synced
    change_crm(ws, CRM_1, jobtitle="CRM title")
    change_crm(ws, CRM_2, address1_city="Cork")
    v = DifferencesView(ws)
    assert sorted(r['nav_no'] for r in v.table.rows) == ["CT000001", "CT000002"]
    assert "Job Title" in v.chart.value and "City" in v.chart.value and "cs-bar" in v.chart.value
    v.field.value = "City"
    assert sorted(r['nav_no'] for r in v.table.rows) == ["CT000002"]
    v.field.value = "(all)"
    v.filter.value = "cork"
    assert sorted(r['nav_no'] for r in v.table.rows) == ["CT000002"]
    v.filter.value = ""
    assert v.push_button.disabled
    v.table.select("CT000001")
    v.pull_button.click()
    assert v.confirm.is_open
    v.confirm.yes.click()
    assert nav_value(ws, "CT000001", "Job Title") == "CRM title"
    assert nav_value(ws, "CT000002", "City") == "Dublin"  # not selected
    assert sorted(r['nav_no'] for r in v.table.rows) == ["CT000002"] and v.messages.kind == "ok"
    v.select_all.value = True
    assert v.table.selected == ("CT000002",)
    v.push_button.click()
    v.confirm.yes.click()
    assert crm_value(ws, CRM_2, "address1_city") == "Dublin"
    assert v.table.rows == [] and "No differences" in v.table.empty_note.value


# -- History ----------------------------------------------------------------------------------------------
def test_history_shows_changes_and_undoes_after_confirmation(synced):
    ws = synced
    change_crm(ws, CRM_1, jobtitle="CRM title")
    run = ws.sync("pull", nos=["CT000001"], force=True)
    v = HistoryView(ws)
    assert str(run.run_id) == v.table.rows[0]["run_id"]
    v.table.select(str(run.run_id))
    assert "CRM title" in v.changes.value and "Einkauf" in v.changes.value
    v.undo_button.click()
    assert v.confirm.is_open
    v.confirm.no.click()
    assert nav_value(ws, "CT000001", "Job Title") == "CRM title"
    v.undo_button.click()
    v.confirm.yes.click()
    assert nav_value(ws, "CT000001", "Job Title") == "Einkauf"
    assert v.messages.kind == "ok" and "undone" in v.messages.text
    runs = ws.runs().set_index("run_id")
    assert bool(runs.loc[run.run_id, "undone"])
    v.table.select(str(run.run_id))
    assert v.undo_button.disabled  # already undone
    v.undo_button.disabled = False
    v.undo_button.click()
    v.confirm.yes.click()
    assert v.messages.kind == "error"


# -- Escaping ---------------------------------------------------------------------------------------------
def test_data_is_html_escaped_everywhere(ws):
    ws.import_crm(pd.DataFrame([{"contactid": "cccccccc-0000-0000-0000-0000000000aa", "firstname": XSS,
                                 "lastname": "X<b>ss</b>", "emailaddress1": "x@example.com",
                                 "parentcustomerid": ACC_A, "statecode": 0}]))
    app = StewardApp(ws)
    v = app.crm_contacts
    v.search.value = "onerror"
    v.table.select("cccccccc-0000-0000-0000-0000000000aa")  # the grid draws text on a canvas; its card is HTML
    html_ = "".join(c.value for c in _html_widgets(v))
    assert XSS not in html_ and "&lt;img src=x onerror=alert(1)&gt;" in html_ and "<b>" not in html_
    v.create_nav_button.click()
    no = ws.crm_contact("cccccccc-0000-0000-0000-0000000000aa")["nav_no"]
    card = app.nav_contacts.card
    assert card.no == no
    assert XSS not in card.fields.value and "&lt;img" in card.fields.value
    assert XSS not in card.heading.value
    change_crm(ws, "cccccccc-0000-0000-0000-0000000000aa", jobtitle="<script>alert(2)</script>")
    app.differences.refresh()
    everything = "".join(c.value for c in _html_widgets(app))
    assert "<script>" not in everything and XSS not in everything.replace(
        "<style>", "")  # the only raw HTML is ours
    # Differences draws its values as text on the data grid's canvas (never HTML): the raw value is data there
    grid = app.differences.table.grid
    assert any("<script>alert(2)</script>" in str(v) for v in grid.data.to_numpy().ravel())
    card.setup_coupling_button.click()
    dlg = card.dialog
    dlg.search.value = "onerror"
    assert any(XSS in label for label, _ in dlg.picker.options)  # <option> text, not HTML
    assert XSS not in dlg.coupled_records.value


def _html_widgets(root):
    import ipywidgets as w

    out, stack = [], [root]
    while stack:
        x = stack.pop()
        if isinstance(x, w.HTML):
            out.append(x)
        stack.extend(getattr(x, "children", ()) or ())
    return out


def test_app_tabs_and_refresh_on_switch(ws):
    app = StewardApp(ws)
    titles = [app.tabs.get_title(i) for i in range(len(app.views))]
    assert titles == ["Dynamics CRM Contacts", "Contacts (Dynamics NAV)", "Differences", "Review matches", "History",
                      "Synchronization Errors", "Table Mapping", "Full Synchronization", "Dynamics CRM Accounts",
                      "Connections"]
    assert app.review.suggestions.empty  # scored when first shown
    app.show(app.review)
    assert not app.review.suggestions.empty
    assert app.history.table.rows == []  # loaded when first shown
    app.show(app.history)
    n_runs = len(app.history.table.rows)
    assert n_runs == len(ws.runs())
    app.show(app.crm_contacts)
    app.crm_contacts.table.select(CRM_3)
    app.crm_contacts.create_nav_button.click()
    app.show(app.history)
    assert len(app.history.table.rows) == n_runs + 1


def test_nav_list_bulk_actions_on_the_selection_and_the_whole_filtered_set(synced):
    """The NAV list's grid: several rows selected, or every filtered contact (every page): Send / Get / Delete
    couplings act on the coupled persons among them, one run each, after a question naming them."""
    ws = synced
    v = NavContactsView(ws, page_size=2)
    v.table.select("C00001")  # a company on page 1: not a coupled person
    runs = len(ws.runs())
    v.push_button.click()
    assert v.messages.kind == "warn" and len(ws.runs()) == runs
    v.select_all.value = True
    assert "6 selected" in v.push_button.description  # every page, not only the 2 shown
    change_crm(ws, CRM_2, jobtitle="From CRM")  # (an import: a run of its own)
    runs = len(ws.runs())
    v.pull_button.click()
    question = v.confirm.question.value
    assert "Synchronize 2 contact(s) — CT000001, CT000002" in question and "4 selected contact(s)" in question
    assert len(ws.runs()) == runs
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert len(ws.runs()) == runs + 1 and ws.nav_contact("CT000002")["Job Title"] == "From CRM"
    v.search.value = "CT000002"
    v.select_all.value = True
    v.uncouple_button.click()
    assert "Delete the couplings of 1 contact(s) — CT000002" in v.confirm.question.value
    v.confirm.yes.click()
    assert not ws.nav_contact("CT000002")["coupled"] and ws.nav_contact("CT000001")["coupled"]
    assert len(ws.runs()) == runs + 2


def test_history_and_the_preview_name_fields_as_nav_does(synced):
    """A push's changes are CRM columns: History and the Synchronize Now preview name them by their NAV
    fields (E-Mail, not emailaddress1; Modified On, not modifiedon)."""
    ws = synced
    ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "E-Mail": "new@mueller.de"}]))
    plan = ws.sync("push", nos=["CT000001"], force=True, dry_run=True)
    html = changes_html(plan.changes, None, field_labels(ws.mapping))
    assert "E-Mail" in html and "emailaddress1" not in html
    run = ws.sync("push", nos=["CT000001"], force=True)
    v = HistoryView(ws)
    v.table.select(str(run.run_id))
    assert "E-Mail" in v.changes.value and "Modified On" in v.changes.value
    assert "emailaddress1" not in v.changes.value and "modifiedon" not in v.changes.value
    fullname = ws.sql("SELECT concat_ws(' ', firstname, lastname) AS n FROM crm_contact WHERE contactid = ?",
                      [CRM_1])["n"].iloc[0]
    assert fullname in v.changes.value and CRM_1 not in v.changes.value  # the record by name, not its GUID


def test_connections_without_a_connection_offers_nothing_to_click(synced):
    """No live connection: Test, Pull and Deliver are off (Deliver outbox (0) was a primary button)."""
    from contactsync.ui.connections import ConnectionsView

    v = ConnectionsView(synced)
    assert "No live connection yet" in v.status.value
    assert v.test_button.disabled and v.pull_button.disabled and v.deliver_button.disabled
    assert v.deliver_button.description == "Deliver outbox (0)"
    v.close()
