"""Issue 12, finding 1 (class: keys): a new NAV No. never collides, never exceeds Code[20], and a full
number series is a clear error; every record table's key is unique by constraint."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from conftest import ACC_A, CRM_3, account_frame, crm_frame, fill_small, nav_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs


def _nav_nos(w) -> list[str]:
    return [r for (r,) in w.sql('SELECT "No." FROM nav_contact').itertuples(index=False)]


def test_after_the_last_number_of_a_series_comes_an_error_not_an_existing_contact(ws):
    """The review's example: after CT999999 (width 6) lpad made CT100000, an existing contact."""
    ws.import_nav(pd.DataFrame([
        {"No.": "CT999999", "Type": "Person", "Company No.": "C00001", "Surname": "Last"},
        {"No.": "CT100000", "Type": "Person", "Company No.": "C00001", "Surname": "Existing"},
    ]))
    before = ws.sql("SELECT * FROM nav_contact ORDER BY 1")
    runs = len(ws.runs())
    with pytest.raises(cs.CouplingError, match=r"CT000001\.\.CT999999 has 0 number\(s\) left, 1 needed"):
        ws.create_nav_from_crm(CRM_3)
    pd.testing.assert_frame_equal(ws.sql("SELECT * FROM nav_contact ORDER BY 1"), before)
    assert len(ws.runs()) == runs
    # the way out the message names works
    ws.settings["nav_no_width"] = 7
    no = ws.create_nav_from_crm(CRM_3)
    assert no == "CT0000001"  # a new series of 7 digits: no key of that shape exists yet
    assert ws.nav_contact("CT100000")["Surname"] == "Existing"


def test_a_longer_key_beside_the_series_is_not_hit(ws):
    ws.import_nav(pd.DataFrame([{"No.": "CT1000000", "Type": "Person", "Company No.": "C00001"}]))
    no = ws.create_nav_from_crm(CRM_3)
    assert no == "CT000005"  # the sample's CT000001..CT000004, then the next of width 6


def test_prefix_and_width_never_exceed_code20(ws):
    ws.settings["nav_no_prefix"] = "ABCDEFGHIJ"
    with pytest.raises(cs.ContactSyncError, match="NAV's No. holds 20"):
        ws.settings["nav_no_width"] = 11
    ws.settings["nav_no_width"] = 10
    no = ws.create_nav_from_crm(CRM_3)
    assert no == "ABCDEFGHIJ0000000001" and len(no) == 20


@pytest.mark.parametrize("table,key,frame", [
    ("nav_contact", "No.", nav_frame), ("crm_contact", "contactid", crm_frame),
    ("crm_account", "accountid", account_frame)])
def test_the_database_refuses_a_second_row_with_a_key(ws, table, key, frame):
    """Whatever code path writes it, a duplicate key is refused by DuckDB's unique index."""
    row = frame().iloc[[0]]
    with pytest.raises(cs.ContactSyncError, match="Duplicate key"):  # sql(write=True) wraps it
        ws.sql(f"INSERT INTO \"{table}\" (\"{key}\") VALUES (?)", [row[key].iloc[0]], write=True)
    with ws.connection() as con, pytest.raises(duckdb.ConstraintException):
        con.execute(f"INSERT INTO \"{table}\" (\"{key}\") VALUES (?)", [row[key].iloc[0]])


def test_a_coupling_is_one_to_one_by_constraint(ws):
    ws.couple("CT000001", "cccccccc-0000-0000-0000-000000000001")
    with ws.connection() as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO coupling (entity, nav_no, crm_id) VALUES ('contact', 'CT000001', 'x')")
    with ws.connection() as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO coupling (entity, nav_no, crm_id) VALUES "
                    "('contact', 'CT000004', 'cccccccc-0000-0000-0000-000000000001')")


def test_an_old_workspace_with_duplicated_keys_is_refused_naming_them(tmp_path):
    path = tmp_path / "old.duckdb"
    fill_small(cs.Workspace.open(path)).close()
    con = duckdb.connect(str(path))  # what schema 4 allowed: drop the index, write a duplicate
    con.execute('DROP INDEX nav_contact_key')
    con.execute("INSERT INTO nav_contact (\"No.\", \"Type\") VALUES ('CT000002', 'Person')")
    con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(cs.WorkspaceError, match=r"duplicated keys in nav_contact \(No\.\): CT000002 \(2×\)"):
        cs.Workspace.open(path)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 4), taken=st.sets(st.integers(0, 10_500), max_size=12),
       other=st.lists(st.text("0123456789", min_size=1, max_size=6), max_size=4), n=st.integers(1, 4))
def test_new_numbers_are_unique_fit_and_follow_the_series(width, taken, other, n):
    """Generated series of any width with existing keys in and beside it (longer, shorter, zero-padded
    otherwise): creating ``n`` contacts either gives ``n`` new keys of the series' shape that collide with
    nothing, or a clear error that changes nothing."""
    w = cs.Workspace.open(":memory:")
    fill_small(w)
    w.settings["nav_no_width"] = width
    existing = sorted({f"CT{t:0{width}d}" for t in taken} | {"CT" + o for o in other})
    existing = [k for k in existing if k not in set(_nav_nos(w))]
    if existing:
        w.import_nav(pd.DataFrame({"No.": existing, "Type": "Person", "Company No.": "C00001"}))
    ids = [f"dddddddd-0000-0000-0000-{i:012d}" for i in range(n)]
    w.import_crm(pd.DataFrame({"contactid": ids, "lastname": "New", "parentcustomerid": ACC_A, "statecode": 0}))
    before = sorted(_nav_nos(w))
    in_series = [int(k[2:]) for k in before if k.startswith("CT") and k[2:].isdigit() and len(k) == 2 + width]
    room = 10 ** width - 1 - max(in_series, default=0)
    todo = n + 3  # and the small workspace's three uncoupled CRM contacts under coupled accounts
    result = w.sync("pull", create_missing=True) if room >= todo else None
    after = sorted(_nav_nos(w))
    if result is None:
        with pytest.raises(cs.CouplingError, match="number series"):
            w.sync("pull", create_missing=True)
        assert sorted(_nav_nos(w)) == before
        return
    new = sorted(set(after) - set(before))
    assert len(after) == len(set(after)) == len(before) + todo
    assert len(new) == todo == result.inserted
    assert all(len(k) == 2 + width and k[2:].isdigit() and int(k[2:]) > max(in_series, default=0) for k in new)
    assert all(len(k) <= 20 for k in after)
