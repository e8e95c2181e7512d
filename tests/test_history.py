"""Run history, undo and handing changes back."""

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, all_state, assert_same_state

import contactsync as cs


def test_undo_restores_exactly(synced):
    before = all_state(synced)
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Hamburg"}]))
    synced.import_crm(pd.DataFrame([{"contactid": CRM_2, "jobtitle": "CEO"}]))
    mid = all_state(synced)
    r = synced.sync("both")
    assert r.modified == 2
    u = synced.undo(r.run_id)
    assert_same_state(mid, all_state(synced))
    runs = synced.runs().set_index("run_id")
    assert runs.loc[r.run_id, "undone"] and runs.loc[r.run_id, "undone_by"] == u.run_id
    assert runs.loc[u.run_id, "kind"] == "undo" and runs.loc[u.run_id, "undoes"] == r.run_id
    with pytest.raises(cs.UndoError, match="already undone"):
        synced.undo(r.run_id)
    # undo the two imports too (newest first): back to the start
    for run_id in sorted(runs.index[runs["kind"] == "import"])[-2:][::-1]:
        synced.undo(int(run_id))
    assert_same_state(before, all_state(synced))


def test_undo_refuses_naming_records_changed_since(synced):
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Hamburg"}]))
    r = synced.sync("push")
    synced.import_crm(pd.DataFrame([{"contactid": CRM_1, "address1_city": "Kiel"}]))
    before = all_state(synced)
    with pytest.raises(cs.UndoError) as err:
        synced.undo(r.run_id)
    assert CRM_1 in str(err.value) and "address1_city" in str(err.value)
    assert_same_state(before, all_state(synced))


def test_undo_of_created_records_deletes_them(ws):
    before = all_state(ws)
    no = ws.create_nav_from_crm(CRM_2)
    ws.undo(no.run_id)
    assert_same_state(before, all_state(ws))
    new_id = ws.create_crm_from_nav("CT000004")
    ws.undo(new_id.run_id)
    assert_same_state(before, all_state(ws))


def test_unknown_run(ws):
    with pytest.raises(cs.NotFoundError, match="run 999 does not exist"):
        ws.undo(999)
    with pytest.raises(cs.NotFoundError):
        ws.changes(999)


def test_export_changes_in_system_column_names(synced, tmp_path):
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Hamburg"}]))
    r = synced.sync("push")
    out = synced.export_changes("crm", tmp_path / "crm.csv", since_run=r.run_id - 1)
    assert out.rows == 1
    df = pd.read_csv(out.path, dtype=str)
    assert df["contactid"].tolist() == [CRM_1] and df["address1_city"].tolist() == ["Hamburg"]
    # re-import of the export is a no-op
    assert synced.import_crm(out.path).unchanged == 1


def test_export_reports_formula_cells_and_can_neutralize(synced, tmp_path):
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "=HYPERLINK(\"x\")"}]))
    synced.sync("push")
    out = synced.export_changes("crm", tmp_path / "crm.csv")
    assert (CRM_1, "jobtitle", '=HYPERLINK("x")') in out.formula_cells
    assert (CRM_1, "telephone1", "+49 30 1234567") in out.formula_cells  # '+' too, as OWASP lists it
    assert pd.read_csv(out.path)["jobtitle"].iloc[0] == '=HYPERLINK("x")'  # exact by default
    out = synced.export_changes("crm", tmp_path / "crm2.csv", neutralize=True)
    assert pd.read_csv(out.path)["jobtitle"].iloc[0] == "'=HYPERLINK(\"x\")"
    assert "neutralized" in str(out)


def test_export_bad_arguments(synced, tmp_path):
    with pytest.raises(cs.ContactSyncError, match="side"):
        synced.export_changes("erp", tmp_path / "x.csv")
    with pytest.raises(cs.ContactSyncError, match="export to"):
        synced.export_changes("nav", tmp_path / "x.docx")
