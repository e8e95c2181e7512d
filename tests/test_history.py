"""Run history, undo and handing changes back."""

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, all_state, assert_same_state, couple_two, fill_small

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
    # a phone number is data, not a formula (issue 12, finding 20): neither reported nor quoted
    assert not [c for c in out.formula_cells if c[1] == "telephone1"]
    assert pd.read_csv(out.path)["jobtitle"].iloc[0] == '=HYPERLINK("x")'  # exact by default
    out = synced.export_changes("crm", tmp_path / "crm2.csv", neutralize=True)
    assert pd.read_csv(out.path)["jobtitle"].iloc[0] == "'=HYPERLINK(\"x\")"
    assert pd.read_csv(out.path, dtype=str)["telephone1"].iloc[0] == "+49 30 1234567"
    assert "neutralized" in str(out)


def test_export_bad_arguments(synced, tmp_path):
    with pytest.raises(cs.ContactSyncError, match="side"):
        synced.export_changes("erp", tmp_path / "x.csv")
    with pytest.raises(cs.ContactSyncError, match="export to"):
        synced.export_changes("nav", tmp_path / "x.docx")


def test_undo_refuses_naming_a_coupling_changed_since(synced):
    synced.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", "City": "Hamburg"} for no in ("CT000001", "CT000002")]))
    r = synced.sync("push")
    after = synced.sql("SELECT nav_no, row_md5, \"base:address1_city\" FROM coupling_log WHERE run_id = ? AND "
                       "image = 'after' ORDER BY nav_no", [r.run_id])
    # the after-image is the pair and its fingerprint, not a copy of the row
    assert after["nav_no"].tolist() == ["CT000001", "CT000002"]
    assert after["row_md5"].notna().all() and after["base:address1_city"].isna().all()
    synced.sql("UPDATE coupling SET \"base:address1_city\" = 'Elsewhere' WHERE nav_no = 'CT000002'", write=True)
    before = all_state(synced)
    with pytest.raises(cs.UndoError) as err:
        synced.undo(r.run_id)
    assert f"coupling contact CT000002 <-> {CRM_2}" in str(err.value) and "CT000001" not in str(err.value)
    assert_same_state(before, all_state(synced))


def test_schema_2_full_after_images_still_guard_undo(tmp_path):
    """A workspace from before the fingerprints (schema 2, 3): its full-row after-images are checked as they are."""
    import duckdb

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        couple_two(fill_small(w))
        w.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", "City": "Hamburg"} for no in ("CT000001", "CT000002")]))
        r = w.sync("push")
    con = duckdb.connect(str(path))  # as schema 2 wrote them: whole rows, no fingerprint column
    cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                      "'coupling' ORDER BY ordinal_position").fetchall()]
    sets = ", ".join(f'"{c}" = c."{c}"' for c in cols)
    con.execute(f"UPDATE coupling_log l SET {sets} FROM coupling c WHERE l.image = 'after' AND "
                "l.entity = c.entity AND l.nav_no = c.nav_no")
    con.execute("ALTER TABLE coupling_log DROP COLUMN row_md5")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.execute("UPDATE coupling SET \"base:address1_city\" = 'Elsewhere' WHERE nav_no = 'CT000002'")
    con.close()
    with cs.Workspace.open(path) as w:
        with pytest.raises(cs.UndoError, match=f"coupling contact CT000002 <-> {CRM_2}"):
            w.undo(r.run_id)
        w.sql("UPDATE coupling SET \"base:address1_city\" = (SELECT \"base:address1_city\" FROM coupling_log WHERE run_id = ? "
              "AND image = 'after' AND nav_no = 'CT000002') WHERE nav_no = 'CT000002'", [r.run_id], write=True)
        w.undo(r.run_id)  # back as the run left it: undone


def test_a_field_mapped_after_a_run_does_not_block_its_undo(tmp_path):
    path = tmp_path / "w.duckdb"
    m = cs.default_mapping()
    with cs.Workspace.open(path, mapping=m.with_fields(m.fields[:3])) as w:
        fill_small(w)
        r = w.couple("CT000001", CRM_1, sync_after="push")
    with cs.Workspace.open(path, mapping=m) as w:  # new last-synced columns, null in every row
        w.undo(r.run_id)
        assert w.nav_contact("CT000001")["crm_id"] is None
