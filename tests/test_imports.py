"""Imports: formats, encodings, upsert counts, validation errors that change nothing."""

import codecs
import json

import pandas as pd
import pytest
from conftest import all_state, assert_same_state, nav_frame

import contactsync as cs

HEADER = "No.;Type;Company No.;First Name;Surname;City;SystemModifiedAt\n"


def test_csv_semicolon_cp1252(tmp_path, ws):
    p = tmp_path / "nav.csv"
    p.write_bytes((HEADER + "CT000010;Person;C00001;Jürgen;Müller-Lüdenscheidt;Köln;2025-03-01 10:00:00\n"
                   "CT000011;Person;C00001;Zoë;D'Arcy €;Paris;2025-03-01T10:00:00Z\n").encode("cp1252"))
    r = ws.import_nav(p)
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (2, 0, 0, 0)
    row = ws.nav_contact("CT000010")
    assert row["Surname"] == "Müller-Lüdenscheidt" and row["City"] == "Köln"
    assert ws.nav_contact("CT000011")["Surname"] == "D'Arcy €"


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_csv_utf8_with_and_without_bom(tmp_path, ws, bom):
    p = tmp_path / "nav.csv"
    p.write_bytes(bom + (HEADER.replace(";", ",") + "CT000010,Person,C00001,Åsa,Ørsted,Århus,\n").encode())
    ws.import_nav(p)
    row = ws.nav_contact("CT000010")
    assert (row["First Name"], row["Surname"], row["City"]) == ("Åsa", "Ørsted", "Århus")


def test_nav_text_never_null_and_code_fields_upper(tmp_path, ws):
    p = tmp_path / "nav.csv"
    p.write_text("No.,Type,Company No.,Post Code,Country/Region Code\nct000010,person,c00001,ab1 2cd,gb\n")
    ws.import_nav(p)
    row = ws.nav_contact("CT000010")
    assert row["Type"] == "Person" and row["Post Code"] == "AB1 2CD" and row["Country/Region Code"] == "GB"
    assert row["Company No."] == "C00001" and row["Job Title"] == "" and row["E-Mail"] == ""


def test_upsert_counts_and_partial_columns(ws):
    r = ws.import_nav(nav_frame())
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 6)
    r = ws.import_nav(pd.DataFrame({"No.": ["CT000001", "CT000002"], "Type": ["Person", "Person"],
                                    "City": ["Hamburg", "Dublin"]}))
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 1)
    row = ws.nav_contact("CT000001")
    assert row["City"] == "Hamburg" and row["Surname"] == "Müller"  # columns absent from the file untouched
    ch = ws.changes(r.run_id)
    assert ch[["key", "field", "old_value", "new_value"]].values.tolist() == [["CT000001", "City", "Berlin", "Hamburg"]]


def test_nav_modified_from_date_and_time(tmp_path, ws):
    p = tmp_path / "nav.csv"
    p.write_text("No.,Type,Last Date Modified,Last Time Modified\nCT000010,Person,2025-03-04,13:14:15\n")
    ws.import_nav(p)
    assert str(ws.nav_contact("CT000010")["SystemModifiedAt"]) == "2025-03-04 13:14:15"


@pytest.mark.parametrize("fmt", ["parquet", "xlsx", "json"])
def test_other_formats(tmp_path, ws, fmt):
    df = pd.DataFrame({"contactid": ["{DDDDDDDD-0000-0000-0000-000000000001}"], "firstname": ["Ærøskøbing"],
                       "lastname": ["Ünal"], "telephone1": ["0049 30 000"], "statecode": ["Active"]})
    p = tmp_path / f"crm.{fmt}"
    if fmt == "parquet":
        df.to_parquet(p)
    elif fmt == "xlsx":
        with pd.ExcelWriter(p) as xl:
            pd.DataFrame({"note": ["cover sheet"]}).to_excel(xl, sheet_name="Info", index=False)
            df.to_excel(xl, sheet_name="Contacts", index=False)
    else:
        p.write_text(json.dumps({"value": df.to_dict(orient="records")}), encoding="utf-8")
    r = ws.import_crm(p)
    assert r.inserted == 1
    row = ws.crm_contact("dddddddd-0000-0000-0000-000000000001")
    assert (row["firstname"], row["lastname"], row["telephone1"], row["statecode"]) == \
        ("Ærøskøbing", "Ünal", "0049 30 000", 0)


def test_crm_empty_is_null(ws):
    ws.import_crm(pd.DataFrame({"contactid": ["dddddddd-0000-0000-0000-000000000009"], "firstname": [""]}))
    assert ws.crm_contact("dddddddd-0000-0000-0000-000000000009")["firstname"] is None


@pytest.mark.parametrize("content, match", [
    ("No.,Type\nCT1,Person\nCT2,Person\nct1,Person\n", r"duplicate key.*'CT1'.*row\(s\) 1, 3"),
    ("No.,Type\nCT1,Person\n,Person\n", r"empty key.*row\(s\) 2"),
    ("Type,City\nPerson,Berlin\n", r"lacks required column\(s\) \['No.'\]"),
    ("No.,Type,SystemModifiedAt\nCT1,Person,yesterday\n", r"unparseable timestamp.*'SystemModifiedAt'.*yesterday"),
    ("No.,Type\nCT1,Robot\n", r"invalid value in column 'Type'"),
    ("", r"empty"),
])
def test_bad_files_change_nothing(tmp_path, ws, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    before = all_state(ws)
    runs_before = len(ws.runs())
    with pytest.raises(cs.ImportFileError, match=match) as err:
        ws.import_nav(p)
    assert "bad.csv" in str(err.value)
    assert_same_state(before, all_state(ws))
    assert len(ws.runs()) == runs_before


def test_on_error_skip_reports_rejections(ws):
    df = pd.DataFrame({"No.": ["CT9", "CT9", "", "CT8"], "Type": ["Person"] * 4})
    r = ws.import_nav(df, on_error="skip")
    assert (r.inserted, r.rejected) == (1, 3)
    assert set(r.rejections["reason"]) == {"duplicate key", "empty key"}


def test_unknown_columns_ignored_or_added(ws):
    df = pd.DataFrame({"No.": ["CT000001"], "Type": ["Person"], "Salutation Code": ["MR"]})
    r = ws.import_nav(df)
    assert r.ignored_columns == ("Salutation Code",)
    ws.import_nav(df, add_columns=True)
    assert ws.nav_contact("CT000001")["Salutation Code"] == "MR"


def test_missing_file_and_unsupported_type(tmp_path, ws):
    with pytest.raises(cs.ImportFileError, match="does not exist"):
        ws.import_nav(tmp_path / "nope.csv")
    p = tmp_path / "x.docx"
    p.write_text("x")
    with pytest.raises(cs.ImportFileError, match="unsupported"):
        ws.import_nav(p)


def test_snapshot_flags_missing_coupled_records(synced):
    full = synced.crm_contacts(limit=None)
    r = synced.import_crm(full[full["contactid"] != "cccccccc-0000-0000-0000-000000000002"]
                          .drop(columns=["account_name", "coupled", "nav_no"]), snapshot=True)
    assert r.missing == 1
    assert synced.crm_contact("cccccccc-0000-0000-0000-000000000002")["coupled"]  # still coupled, not lost
    res = synced.sync("push", force=True)
    assert res.failed == 1 and "no longer exists" in res.errors["message"].iloc[0]
    with pytest.raises(cs.UndoError, match="Undo the later runs first"):
        synced.undo(r.run_id)  # the sync after it recorded its failure on the coupling
    synced.undo(res.run_id)
    assert "undone" in synced.undo(r.run_id).message
    assert synced.sync("push", force=True).failed == 0


def test_import_is_undoable(ws):
    before = all_state(ws)
    r = ws.import_nav(pd.DataFrame({"No.": ["CT000001", "CT000077"], "Type": ["Person", "Person"],
                                    "City": ["Hamburg", "Kiel"]}))
    assert (r.inserted, r.updated) == (1, 1)
    ws.undo(r.run_id)
    assert_same_state(before, all_state(ws))


# -- rejected rows are named by their data row (the source's order), whatever the source -------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ROW_KINDS = ("good", "empty key", "duplicate key", "unparseable timestamp", "invalid value")


@pytest.fixture(scope="module")
def rows_ws():
    w = cs.Workspace.open(":memory:")
    yield w
    w.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(_ROW_KINDS), min_size=1, max_size=12), as_csv=st.booleans())
def test_rejected_rows_are_named_by_their_data_row(rows_ws, tmp_path_factory, kinds, as_csv):
    """Rows of each fault at random places: the rejections name exactly those data rows (1 = the first), with
    their reason; the good rows are imported and nothing else; undo takes them out again."""
    rows, want = [], {}
    for i, kind in enumerate(kinds, 1):
        no = {"empty key": " ", "duplicate key": "CTDUP"}.get(kind, f"CTR{i:04d}")
        rows.append({"No.": no, "Type": "Bogus" if kind == "invalid value" else "Person",
                     "SystemModifiedAt": "31.02.2025 99:00" if kind == "unparseable timestamp" else "2025-03-01 10:00:00"})
        if kind != "good":
            want[i] = kind
    if kinds.count("duplicate key") == 1:  # one row alone with that key is a good row
        want = {i: k for i, k in want.items() if k != "duplicate key"}
    frame = pd.DataFrame(rows)
    src = frame
    if as_csv:
        src = tmp_path_factory.mktemp("rows") / "nav.csv"
        frame.to_csv(src, index=False, sep=";")
    before = all_state(rows_ws)
    r = rows_ws.import_nav(src, on_error="skip")
    got = r.rejections.groupby("row")["reason"].first().to_dict()
    assert got == want
    assert r.rejected == len(want) and r.inserted == len(kinds) - len(want)
    imported = set(rows_ws.sql('SELECT "No." FROM nav_contact')["No."])
    assert imported == {row["No."] for i, row in enumerate(rows, 1) if i not in want}
    rows_ws.undo(r.run_id)
    assert_same_state(before, all_state(rows_ws))
