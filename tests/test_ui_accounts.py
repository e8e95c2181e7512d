"""The Accounts list (issue 16): CRM accounts with their Coupled flag and NAV company, search, couple and
uncouple (each one undoable run), open the NAV company card."""

from __future__ import annotations

from conftest import ACC_A, ACC_B

from contactsync.ui import StewardApp
from contactsync.ui.accounts import AccountsView
from contactsync.ui.common import live_widgets


def _coupled(ws):
    acc = ws.accounts()
    return {a: (no if c else None) for a, no, c in zip(acc["accountid"], acc["nav_no"], acc["coupled"])}


def test_list_search_filter_and_coupled_company(ws):
    v = AccountsView(ws)
    rows = {r["accountid"]: r for r in v.table.rows}
    assert set(rows) == {ACC_A, ACC_B} and rows[ACC_A]["nav_no"] == "C00001"
    assert rows[ACC_A]["nav_name"] == "Müller & Söhne GmbH"
    v.search.value = "muller"  # accents folded, as the contact search
    assert [r["accountid"] for r in v.table.rows] == [ACC_A]
    v.search.value = ""
    v.coupled.value = "uncoupled"
    assert v.table.rows == [] and "No CRM accounts match" in v.table.children[-1].value


def test_uncouple_then_couple_again_each_one_run_undoable(ws):
    v = AccountsView(ws)
    runs = len(ws.runs())
    v.table.select(ACC_B)
    assert v.couple_button.disabled and not v.uncouple_button.disabled
    assert "etn=account" in v.crm_link.value and ACC_B in v.crm_link.value
    v.uncouple_button.click()
    assert v.confirm.is_open and "Brien Ltd to NAV company C00002" in v.confirm.question.value and len(ws.runs()) == runs
    v.confirm.yes.click()
    assert v.messages.kind == "ok" and _coupled(ws)[ACC_B] is None and len(ws.runs()) == runs + 1
    assert "C00002" in [no for _, no in v.company.options]
    v.table.select(ACC_B)
    v.company.value = "C00002"
    v.couple_button.click()
    assert v.messages.kind == "ok", v.messages.text
    assert _coupled(ws)[ACC_B] == "C00002" and len(ws.runs()) == runs + 2
    ws.undo(int(ws.runs()["run_id"].max()))
    v.refresh()
    assert _coupled(ws)[ACC_B] is None


def test_a_bad_coupling_is_a_message_not_a_traceback(ws):
    v = AccountsView(ws)
    ws.uncouple_company("C00002")
    v.refresh()
    v.table.select(ACC_B)
    v.company.options = [("CT000001 (a person)", "CT000001")]
    v.company.value = "CT000001"
    v.couple_button.click()
    assert v.messages.kind == "error" and "only Company contacts" in v.messages.text


def test_open_the_company_card_from_the_app_and_no_leak_while_paging(ws):
    app = StewardApp(ws)
    app.show(app.accounts)
    app.accounts.table.select(ACC_A)
    app.accounts.open_button.click()
    assert app.tabs.selected_index == app.views.index(app.nav_contacts)
    assert app.nav_contacts.card.no == "C00001" and app.nav_contacts.card.is_company
    v = AccountsView(ws, page_size=1)
    v.pager.next.click()
    v.pager.prev.click()
    start = live_widgets()
    for _ in range(10):
        v.pager.next.click()
        v.pager.prev.click()
    assert live_widgets() == start
