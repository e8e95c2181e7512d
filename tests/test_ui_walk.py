"""The steward app walked as a steward would, in plain pytest: widget leaks, History wording, field-limited
Differences actions, the Synchronize Now preview's failures, companies, and the small things of issue 16."""

from __future__ import annotations

import gc

import pandas as pd
from conftest import ACC_A, ACC_B, CRM_1, CRM_2
from test_ui import change_crm, change_nav, crm_value, nav_value

from contactsync.ui import CompanyCouplingDialog, ContactCard, DifferencesView, HistoryView, StewardApp
from contactsync.ui.common import live_widgets


def _live() -> int:
    gc.collect()
    return live_widgets()


# -- issue 16 item 8: widgets are closed when replaced ------------------------------------------------
def test_paging_20_times_leaves_the_live_widget_count_flat(demo):
    app = StewardApp(demo)
    nav, crm = app.nav_contacts, app.crm_contacts
    assert nav.pager.total > 3 * nav.pager.page_size
    nav.pager.next.click()
    nav.pager.prev.click()
    before = _live()
    for _ in range(10):
        nav.pager.next.click()
        crm.pager.next.click()
    for _ in range(10):
        nav.pager.prev.click()
        crm.pager.prev.click()
    assert nav.pager.offset == 0
    assert _live() == before, "paging left widgets alive"


def test_opening_cards_and_dialogs_again_and_again_leaves_the_count_flat(synced):
    app = StewardApp(synced)
    nav = app.nav_contacts
    nav.table.select("CT000001")
    nav.card.open_coupling()
    nav.card.open_sync_now()
    nav.card.close_dialog()
    before = _live()
    for no in ["CT000002", "CT000001"] * 5:
        nav.table.select(no)
        nav.card.open_coupling()
        nav.card.open_sync_now()
        nav.card.dialog.cancel.click()
    app.show(app.differences)
    app.show(app.history)
    app.differences.refresh()
    app.history.refresh()
    mid = _live()
    for _ in range(5):
        app.differences.refresh()
        app.history.refresh()
    assert _live() == mid, "refreshing Differences/History left widgets alive"
    assert mid - before < 400  # the two views' first load, not a leak per action
    nav.table.select("CT000002")
    nav.card.open_coupling()
    nav.card.open_sync_now()
    nav.card.dialog.cancel.click()
    nav.table.select("CT000001")
    assert _live() == mid, "opening the card and its dialogs left widgets alive"


def test_close_tree_closes_layouts_and_styles():
    import ipywidgets as w

    from contactsync.ui.common import close_tree

    before = _live()
    box = w.VBox([w.HBox([w.Button(description="x"), w.Checkbox()]), w.HTML("x")])
    assert _live() > before
    close_tree(box)
    assert _live() == before


# -- issue 16 item 7: History reads as what happened -------------------------------------------------------
def test_history_failed_run_reads_as_failed_and_runs_name_their_contacts(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "not an e-mail"})
    failed = ws.sync("push", nos=["CT000001"], force=True)
    assert failed.failed == 1
    change_crm(ws, CRM_2, jobtitle="CRM title")
    pulled = ws.sync("pull", nos=["CT000002"], force=True)
    v = HistoryView(ws)
    rows = {r["run_id"]: r for r in v.table.rows}
    assert "CT000001" in rows[str(failed.run_id)]["contacts"]
    assert "CT000002" in rows[str(pulled.run_id)]["contacts"] and "CT000001" not in rows[str(pulled.run_id)]["contacts"]
    assert "1 failed" in rows[str(failed.run_id)]["outcome"]
    heads = v.table.header.value
    for readable in ("What", "Contacts", "Result"):
        assert readable in heads
    for cryptic in ("Ins.", "Mod.", "Unch.", "Fail."):
        assert cryptic not in heads
    v.table.select(str(failed.run_id))
    assert f"Run {failed.run_id}: 1 record(s) failed: CT000001:" in v.changes.value
    assert "e-mail" in v.changes.value.lower()
    assert "changed no field values" not in v.changes.value
    v.table.select(str(pulled.run_id))
    assert "CRM title" in v.changes.value and "failed" not in v.changes.value
    v.undo_button.click()
    q = v.confirm.question.value
    assert f"Undo run {pulled.run_id} (synchronization, get from Dynamics CRM, CT000002" in q
    assert "()" not in q and ", )" not in q and ", ," not in q
    v.confirm.yes.click()
    assert v.messages.kind == "ok"
    v.table.select(str(failed.run_id))
    assert v.messages.text == ""  # the old success message does not linger


def test_history_undo_question_of_a_run_without_direction_or_note(ws):
    res = ws.couple("CT000001", CRM_1)
    v = HistoryView(ws)
    v.table.select(str(res.run_id))
    v.undo_button.click()
    q = v.confirm.question.value
    assert f"Undo run {res.run_id} (coupling" in q and "CT000001" in q
    assert "()" not in q and ", )" not in q and ", ," not in q


# -- issue 16 item 3: Differences filtered to a field changes exactly that field ---------------------------
def test_differences_filtered_to_one_field_gets_only_that_field_and_says_so_first(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "nav.new@mueller.de", "Address": "NAV Strasse 5"})
    change_crm(ws, CRM_2, emailaddress1="crm.new@obrien.ie")
    v = DifferencesView(ws)
    v.field.value = "E-Mail"
    assert sorted(r["nav_no"] for r in v.table.rows) == ["CT000001", "CT000002"]
    v.table.select("CT000001", "CT000002")
    v.pull_button.click()
    q = v.confirm.question.value
    assert v.confirm.is_open and "E-Mail" in q and "Address" not in q
    assert "CT000001" in q and "CT000002" in q and "2 contact(s)" in q
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert nav_value(ws, "CT000001", "E-Mail") == "jm@mueller.de"  # CRM's value came over
    assert nav_value(ws, "CT000001", "Address") == "NAV Strasse 5"  # the hidden field was left alone
    assert nav_value(ws, "CT000002", "E-Mail") == "crm.new@obrien.ie"
    v.field.value = "(all)"
    left = v.all
    assert list(left["nav_field"]) == ["Address"] and list(left["nav_no"]) == ["CT000001"]


def test_differences_refuses_a_selection_whose_shown_fields_differ(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "nav.new@mueller.de", "Address": "Cork Road 1"})
    change_nav(ws, "CT000002", **{"Address": "Cork Road 2"})
    v = DifferencesView(ws)
    v.filter.value = "cork"  # shows Address of both; CT000001's E-Mail is hidden
    assert sorted(r["nav_no"] for r in v.table.rows) == ["CT000001", "CT000002"]
    v.table.select("CT000001", "CT000002")
    v.push_button.click()
    assert v.confirm.is_open and "Address" in v.confirm.question.value and "E-Mail" not in v.confirm.question.value
    v.confirm.yes.click()
    assert crm_value(ws, CRM_1, "address1_line1") == "Cork Road 1"
    assert crm_value(ws, CRM_1, "emailaddress1") == "jm@mueller.de"  # hidden by the filter: not sent
    v.filter.value = "zzz no such value"
    assert "match the filter" in v.table.empty_note.value and "No differences:" not in v.table.empty_note.value


def test_differences_mixed_shown_fields_are_refused_with_the_reason(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "x.cork@mueller.de", "Address": "Hauptstr. 9"})
    change_nav(ws, "CT000002", **{"Address": "Cork Road 2"})
    v = DifferencesView(ws)
    v.filter.value = "cork"  # CT000001 shows E-Mail, CT000002 shows Address; CT000001's Address is hidden
    v.table.select("CT000001", "CT000002")
    v.push_button.click()
    assert not v.confirm.is_open and v.messages.kind == "warn" and "CT000001 (Address)" in v.messages.text
    assert crm_value(ws, CRM_1, "address1_line1") != "Hauptstr. 9"


# -- issue 16 item 2: the Synchronize Now preview says which records will fail and why ---------------------
def _sync_now(ws, no):
    app = StewardApp(ws)
    card = app.nav_contacts.card
    app.nav_contacts.open_contact(no)
    return card, card.open_sync_now()


def test_sync_now_preview_names_the_failure_before_ok(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "not an e-mail"})
    change_crm(ws, CRM_2, jobtitle="J" * 52)  # NAV's Job Title holds 30 characters
    for no, direction, why in [("CT000001", "push", "not a valid e-mail"), ("CT000002", "pull", "Job Title")]:
        card, dlg = _sync_now(ws, no)
        dlg.direction.value = direction
        p = dlg.preview.value
        assert why in p and no in p, p
        assert "Nothing to change" not in p and "see ." not in p
        assert dlg.ok.disabled
    before = ws.crm_contact(CRM_1)["emailaddress1"]
    assert before == "jm@mueller.de"


def test_sync_now_failure_message_has_no_api_wording(synced):
    ws = synced
    change_nav(ws, "CT000001", **{"E-Mail": "not an e-mail"})
    card, dlg = _sync_now(ws, "CT000001")
    dlg.direction.value = "push"
    dlg.ok.disabled = False  # as if the steward clicked anyway
    dlg.ok.click()
    assert dlg.messages.kind == "error" and "1 record(s) failed: CT000001" in dlg.messages.text
    assert ".errors" not in dlg.messages.text and "see ." not in dlg.messages.text


# -- issue 16 item 4: companies in the app -------------------------------------------------------------------
def test_company_card_shows_its_account_and_couples_and_uncouples(ws):
    app = StewardApp(ws)
    nav = app.nav_contacts
    nav.open_contact("C00001")  # coupled to ACC_A by the fixture
    card = nav.card
    assert card.is_company and card.coupled
    assert "Müller &amp; Söhne GmbH" in card.status.value and "account" in card.status.value
    assert 'data-field="Coupled"><span class="cs-yes">Yes</span>' in card.fields.value
    assert "etn=account" in card.crm_link.value and ACC_A in card.crm_link.value
    assert card.create_crm_button.disabled and card.sync_now_button.disabled
    assert nav.table.row("C00001")["coupled"]  # the list says Coupled: Yes too
    card.delete_coupling_button.click()
    assert card.confirm.is_open and "account" in card.confirm.question.value
    card.confirm.yes.click()
    assert card.messages.kind == "ok", card.messages.text
    assert not card.coupled and "Not coupled to a Dynamics CRM account" in card.status.value
    assert pd.isna(ws.accounts().set_index("accountid").loc[ACC_A, "nav_no"])
    dlg = card.open_coupling()
    assert isinstance(dlg, CompanyCouplingDialog)
    dlg.search.value = "söhne"
    assert [v for _, v in dlg.picker.options] == [ACC_A]
    dlg.picker.value = ACC_A
    dlg.ok.click()
    assert card.coupled and card.messages.kind == "ok" and "Müller & Söhne GmbH" in card.messages.text
    assert ws.accounts().set_index("accountid").loc[ACC_A, "nav_no"] == "C00001"
    # coupling C00002 to that account asks first, then moves the coupling
    nav.open_contact("C00002")
    dlg = card.open_coupling()
    dlg.search.value = ""
    dlg.picker.value = ACC_A
    dlg.ok.click()
    assert dlg.confirm.is_open and "C00001" in dlg.confirm.question.value
    dlg.confirm.yes.click()
    acc = ws.accounts().set_index("accountid")
    assert acc.loc[ACC_A, "nav_no"] == "C00002" and pd.isna(acc.loc[ACC_B, "nav_no"])


def test_person_card_names_its_crm_contact_and_links_to_nav(ws):
    ws.couple("CT000001", CRM_1)
    card = ContactCard(ws)
    card.load("CT000001")
    assert "Jürgen Müller" in card.status.value
    assert "cs-nav-link-a" in card.nav_link.value


# -- the "Also" list ---------------------------------------------------------------------------------------
def test_search_as_you_type_is_debounced_in_a_running_loop():
    import asyncio

    from contactsync.ui.common import Debounce

    calls = []
    d = Debounce(lambda: calls.append(1), delay=0.05)

    async def typing():
        for _ in range(5):  # five keystrokes, quicker than the delay
            d()
            await asyncio.sleep(0.01)
        assert calls == []
        await asyncio.sleep(0.12)

    asyncio.run(typing())
    assert calls == [1]
    d()  # no running loop (plain Python): at once
    assert calls == [1, 1]


def test_search_box_updates_as_you_type_with_a_hint(demo):
    app = StewardApp(demo)
    nav = app.nav_contacts
    assert nav.search.continuous_update and "as you type" in nav.list.hint.value
    name = nav.table.rows[0]["Name"]
    nav.search.value = name[:4]
    assert nav.table.rows and all(name[:4].lower() in str(r).lower() for r in nav.table.rows)


def test_cut_cells_carry_their_full_text_as_an_escaped_tooltip():
    from contactsync.ui.common import Column, RowTable

    xss = '<img src=x onerror=alert(1)> "quoted" and a very long value that the column cuts'
    t = RowTable([Column("k", "Key", "60px"), Column("v", "Value", "80px"),
                  Column("many", "Lines", "80px", lambda v, r: "<br>".join(v))], key="k")
    t.set_rows([{"k": "1", "v": xss, "many": ["a", "b"]}])
    cells = t.row_boxes["1"].children[1].value
    assert 'title="&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot;' in cells
    assert "<img" not in cells and 'title="a\nb"' in cells


def test_synchronize_after_coupling_starts_at_no(ws):
    card = ContactCard(ws)
    card.load("CT000001")
    dlg = card.open_coupling()
    assert dlg.sync_after.label == "No" and dlg.sync_after.index == 0
    dlg.create_new.value = True
    dlg.create_new.value = False
    assert dlg.sync_after.label == "No"


def test_old_messages_do_not_linger_on_a_new_selection(ws):
    from conftest import CRM_3

    app = StewardApp(ws)
    v = app.crm_contacts
    v.table.select(CRM_3)
    v.create_nav_button.click()
    assert v.messages.kind == "ok"
    v.table.select(v.table.rows[0]["contactid"])
    assert v.messages.text == ""
