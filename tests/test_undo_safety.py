"""Issue 12, finding 2 (class: undo touches only what is unchanged since): undo of an old run refuses,
naming the records, when later work relies on what it would delete or restore — for inserts too — and an
undo never leaves a coupling to a record that is gone."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import ACC_A, all_state, assert_same_state

import contactsync as cs

NEW_CRM = "eeeeeeee-0000-0000-0000-000000000001"


def _person(no="CT000009", **kw):
    return pd.DataFrame([{"No.": no, "Type": "Person", "Company No.": "C00001", "First Name": "Neu",
                          "Surname": "Person", **kw}])


def _refuses(ws, run_id, *needles):
    before, runs = all_state(ws), len(ws.runs())
    with pytest.raises(cs.UndoError) as info:
        ws.undo(run_id)
    for n in needles:
        assert n in str(info.value)
    assert_same_state(before, all_state(ws))
    assert len(ws.runs()) == runs
    return info.value


def test_undo_of_an_import_refuses_when_a_later_run_coupled_an_inserted_record(ws):
    """The review's example: the import's record was coupled later; undo deleted it and left a dangling
    coupling, after which every sync failed it."""
    run = ws.import_nav(_person()).run_id
    ws.import_crm(pd.DataFrame([{"contactid": NEW_CRM, "lastname": "Person", "parentcustomerid": ACC_A,
                                 "statecode": 0}]))
    ws.couple("CT000009", NEW_CRM, sync_after="push")
    err = _refuses(ws, run, "nav CT000009", "coupled since")
    assert "CT000009" in err.context["changed"][0]
    ws.sync("both")  # still syncs: nothing dangles


def test_undo_of_an_import_refuses_when_a_later_run_edited_an_inserted_record(ws):
    run = ws.import_nav(_person()).run_id
    later = ws.import_nav(_person(**{"Job Title": "Chef"})).run_id
    _refuses(ws, run, "nav CT000009", f"changed since, by run {later}")
    ws.undo(later)  # in reverse order it works, and restores exactly
    ws.undo(run)
    assert ws.sql("SELECT count(*) AS n FROM nav_contact WHERE \"No.\" = 'CT000009'").n[0] == 0


def test_undo_of_an_import_refuses_when_a_later_record_refers_to_an_inserted_company(ws):
    run = ws.import_nav(pd.DataFrame([{"No.": "C00009", "Type": "Company", "Company No.": "C00009",
                                       "Name": "Neu AG"}])).run_id
    ws.import_nav(_person(**{"Company No.": "C00009"}))
    _refuses(ws, run, "nav C00009", "used since by nav CT000009")


def test_undo_of_an_inserted_account_that_a_company_coupling_uses_refuses(ws):
    acc = "aaaaaaaa-0000-0000-0000-000000000009"
    run = ws.import_accounts(pd.DataFrame([{"accountid": acc, "name": "Neu AG", "statecode": 0}])).run_id
    ws.import_nav(pd.DataFrame([{"No.": "C00009", "Type": "Company", "Company No.": "C00009", "Name": "Neu AG"}]))
    ws.couple_company("C00009", acc)
    _refuses(ws, run, f"account {acc}", "coupled since")


def test_an_undone_later_run_no_longer_blocks(ws):
    run = ws.import_nav(_person()).run_id
    later = ws.import_nav(_person(**{"Job Title": "Chef"})).run_id
    ws.undo(later)
    ws.undo(run)
    assert "CT000009" not in set(ws.sql('SELECT "No." FROM nav_contact')["No."])


def test_the_last_guard_alone_refuses_an_undo_that_would_leave_a_coupling_to_nothing(ws, monkeypatch):
    """With the first checks out of the way, the last guard (couplings to a missing record, counted among those
    the undo can affect) still refuses the review's example, and leaves the workspace as it was."""
    from contactsync import history

    run = ws.import_nav(_person()).run_id
    ws.import_crm(pd.DataFrame([{"contactid": NEW_CRM, "lastname": "Person", "parentcustomerid": ACC_A,
                                 "statecode": 0}]))
    ws.couple("CT000009", NEW_CRM)
    monkeypatch.setattr(history, "_inserted_used_since", lambda *a, **k: [])
    _refuses(ws, run, "would leave a coupling to a record that no longer exists")
