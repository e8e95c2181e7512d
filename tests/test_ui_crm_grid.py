"""The Dynamics CRM Contacts grid in plain pytest: the grid's columns and card, select all, the bulk actions over
the whole filtered set (each one run, undoable), page jump, and a flat widget count."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, CRM_3, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync.crmbulk import create_nav_for
from contactsync.ui import CrmContactsView
from contactsync.ui.common import live_widgets

ALL = [CRM_1, CRM_2, CRM_3]
ORPHAN_ACC = "aaaaaaaa-0000-0000-0000-0000000000ff"
ORPHAN = "cccccccc-0000-0000-0000-0000000000ff"


def _runs(ws) -> int:
    return len(ws.runs())


def test_grid_shows_coupled_column_and_the_card_of_the_selected_row(ws):
    ws.couple("CT000001", CRM_1)
    v = CrmContactsView(ws)
    assert list(v.table.grid.data.columns)[:7] == ["Name", "Account", "E-Mail", "Phone", "City", "Coupled", "NAV No."]
    by_id = {r["contactid"]: r for r in v.table.rows}
    assert by_id[CRM_1]["coupled_label"] == "Yes" and by_id[CRM_1]["nav_no"] == "CT000001"
    assert by_id[CRM_3]["coupled_label"] == "No"
    assert v.create_nav_button.disabled and "cs-grid-ready" in v.table._dom_classes
    v.table.select(CRM_1)
    assert v.card.crm_id == CRM_1 and v.card.layout.display == "flex"
    assert "Jürgen Müller" in v.card.body.value and "CT000001" in v.card.body.value
    assert "cs-status-coupled" in v.card.body.value and ws.crm_url(CRM_1).replace("&", "&amp;") in v.card.body.value
    v.table.select(CRM_1, CRM_3)  # several rows: the buttons count them
    assert v.table.selected == (CRM_1, CRM_3) and v.create_nav_button.description == "Create in Dynamics NAV (2 selected)"
    assert v.card.crm_id == CRM_3


def test_select_all_creates_nav_for_every_filtered_uncoupled_one_run_and_undo(ws):
    ws.couple("CT000001", CRM_1)
    v = CrmContactsView(ws)
    runs = _runs(ws)
    v.select_all.value = True
    assert "(all 3 filtered)" in v.create_nav_button.description and v.card.crm_id is None
    v.create_nav_button.click()
    assert v.confirm.is_open and "Create 2 NAV contact(s)" in v.confirm.question.value
    assert "1 coupled contact(s) are left" in v.confirm.question.value
    v.confirm.yes.click()
    assert _runs(ws) == runs + 1 and v.messages.kind == "ok", v.messages.text
    assert ws.crm_contact(CRM_1)["nav_no"] == "CT000001"  # the coupled one kept its coupling
    new = {c: ws.crm_contact(c)["nav_no"] for c in (CRM_2, CRM_3)}
    assert all(new.values()) and ws.nav_contact(new[CRM_3])["First Name"] == "Nina"
    assert not v.select_all.value and all(r["coupled"] for r in v.table.rows)
    ws.undo(int(ws.runs()["run_id"].max()))
    assert not ws.crm_contact(CRM_2)["coupled"] and not ws.crm_contact(CRM_3)["coupled"]


def test_bulk_create_names_what_cannot_be_created_and_still_creates_the_rest(ws):
    ws.import_accounts(pd.DataFrame([{"accountid": ORPHAN_ACC, "name": "Uncoupled Inc", "statecode": 0}]))
    ws.import_crm(pd.DataFrame([{"contactid": ORPHAN, "firstname": "Ola", "lastname": "Nord",
                                 "parentcustomerid": ORPHAN_ACC, "statecode": 0}]))
    v = CrmContactsView(ws)
    v.table.select(CRM_3, ORPHAN)
    v.create_nav_button.click()
    v.confirm.yes.click()
    assert v.messages.kind == "warn" and "1 not created" in v.messages.text and ORPHAN in v.messages.text
    assert "not coupled to a NAV company" in v.messages.text
    assert ws.crm_contact(CRM_3)["coupled"] and not ws.crm_contact(ORPHAN)["coupled"]


def test_bulk_create_with_an_unknown_id_leaves_the_workspace_as_it_was(ws):
    before = (len(ws.nav_contacts(limit=None)), _runs(ws))
    with pytest.raises(cs.ContactSyncError, match="does not exist; refresh the list"):
        create_nav_for(ws, [CRM_3, "cccccccc-dead-0000-0000-000000000000"])
    with pytest.raises(cs.ContactSyncError, match="at least one"):
        create_nav_for(ws, [])
    assert (len(ws.nav_contacts(limit=None)), _runs(ws)) == before


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coupled=st.sets(st.sampled_from([0, 1])), chosen=st.sets(st.sampled_from(range(4)), min_size=1))
def test_property_bulk_create_makes_exactly_the_chosen_uncoupled_ones(coupled, chosen):
    """Over generated selections and prior couplings: every chosen uncoupled CRM contact whose account is coupled
    gets a NAV contact; the coupled and the unchosen are untouched; one run, or none when nothing to create."""
    ws = fill_small(cs.Workspace.open(":memory:"))
    try:
        ws.import_accounts(pd.DataFrame([{"accountid": ORPHAN_ACC, "name": "Uncoupled Inc", "statecode": 0}]))
        ws.import_crm(pd.DataFrame([{"contactid": ORPHAN, "firstname": "Ola", "lastname": "Nord",
                                     "parentcustomerid": ORPHAN_ACC, "statecode": 0}]))
        ids = [*ALL, ORPHAN]
        for i in coupled:
            ws.couple(f"CT00000{i + 1}", ids[i])
        before = {c: ws.crm_contact(c)["nav_no"] for c in ids}
        runs = _runs(ws)
        result = create_nav_for(ws, [ids[i] for i in chosen])
        after = {c: ws.crm_contact(c)["nav_no"] for c in ids}
        expect_new = {ids[i] for i in chosen if before[ids[i]] is None and ids[i] != ORPHAN}
        assert {c for c in ids if after[c] != before[c]} == expect_new
        assert set(result.created["crm_id"]) == expect_new
        assert set(result.failed["crm_id"]) == ({ORPHAN} if 3 in chosen else set())
        assert result.already_coupled == len([i for i in chosen if before[ids[i]] is not None])
        assert _runs(ws) == runs + (0 if result.run_id is None else 1)
        assert (result.run_id is None) == (not expect_new and 3 not in chosen)
    finally:
        ws.close()


def test_couple_by_match_says_what_it_will_do_then_couples_in_one_run(ws):
    v = CrmContactsView(ws)
    v.select_all.value = True
    v.match_on.value = 0  # E-Mail
    runs = _runs(ws)
    v.match_button.click()
    assert v.confirm.is_open and "2 of 3 uncoupled" in v.confirm.question.value
    assert _runs(ws) == runs  # the dry run wrote nothing
    v.confirm.yes.click()
    assert _runs(ws) == runs + 1 and v.messages.kind == "ok", v.messages.text
    assert ws.crm_contact(CRM_1)["nav_no"] == "CT000001" and ws.crm_contact(CRM_2)["nav_no"] == "CT000002"
    assert not ws.crm_contact(CRM_3)["coupled"]
    v.coupled.value = "coupled"
    v.select_all.value = True
    v.match_button.click()  # nothing uncoupled in the filtered set
    assert not v.confirm.is_open and v.messages.kind == "warn"


def test_delete_couplings_asks_first_and_is_one_run(ws):
    ws.couple("CT000001", CRM_1)
    ws.couple("CT000002", CRM_2)
    v = CrmContactsView(ws)
    v.table.select(CRM_1, CRM_2, CRM_3)
    runs = _runs(ws)
    v.uncouple_button.click()
    assert v.confirm.is_open and "2 CRM contact(s)" in v.confirm.question.value
    assert "CT000001" in v.confirm.question.value and "CT000002" in v.confirm.question.value
    v.confirm.no.click()
    assert ws.crm_contact(CRM_1)["coupled"] and _runs(ws) == runs
    v.uncouple_button.click()
    v.confirm.yes.click()
    assert _runs(ws) == runs + 1 and not ws.crm_contact(CRM_1)["coupled"] and not ws.crm_contact(CRM_2)["coupled"]


def test_page_jump_and_page_turns_leave_the_widget_count_flat(wpath):
    demo = cs.Workspace.open(wpath)  # a copy of the session's sample-data workspace
    v = CrmContactsView(demo, page_size=10)
    total = v.pager.total
    assert v.jump.pages == -(-total // 10) and f"of {v.jump.pages:,}" in v.jump.of.value
    v.jump.page.value = 3
    v.jump.go_button.click()
    assert v.pager.offset == 20 and "21–30 of" in v.pager.label.value
    v.jump.go(10**6)  # past the end: the last page
    assert v.pager.offset == (v.jump.pages - 1) * 10 and v.jump.page.value == v.jump.pages
    v.jump.go(1)
    v.table.select(v.table.rows[0]["contactid"])
    base = live_widgets()
    for _ in range(20):
        v.pager.next.click()
        v.table.select(v.table.rows[0]["contactid"])
    assert live_widgets() == base
    demo.close()


def test_match_on_offers_only_what_the_mapping_maps(ws):
    import dataclasses

    m = ws.mapping
    ws.set_mapping(dataclasses.replace(m, fields=tuple(f for f in m.fields if f.nav != "E-Mail")))
    v = CrmContactsView(ws)
    assert [t for t, _ in v.match_on.options] == ["First Name + Surname"]
    v.table.select(CRM_3)
    assert not v.match_button.disabled
    ws.set_mapping(dataclasses.replace(ws.mapping, fields=tuple(f for f in ws.mapping.fields
                                                                if f.nav not in ("First Name", "Surname"))))
    v = CrmContactsView(ws)
    v.table.select(CRM_3)
    assert v.match_on.options == () and v.match_button.disabled and "neither" in v.match_button.tooltip


def test_the_nav_list_jumps_to_a_page_too(wpath):
    from contactsync.ui import NavContactsView

    with cs.Workspace.open(wpath) as demo:
        v = NavContactsView(demo, page_size=10)
        assert v.jump.pages == -(-v.pager.total // 10) > 3
        v.jump.page.value = 4
        v.jump.go_button.click()
        assert v.pager.offset == 30 and "31–40 of" in v.pager.label.value and v.jump.page.value == 4
        v.search.value = "no such contact zzz"
        assert v.jump.pages == 1 and v.jump.go_button.disabled
