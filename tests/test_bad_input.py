"""Hostile and broken input (issue 7.3): every file of ``tests/data/bad/`` (written by
``tests/data/make_bad_corpus.py``) either imports exactly — values decoded to the character — or
raises a ContactSyncError naming the problem, and the workspace is then exactly as before
(fingerprint of every table: data, couplings, run history, change log, meta)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import ACC_A, CRM_1, account_frame, crm_frame, nav_frame
from wschecksum import diff, fingerprint

import contactsync as cs

BAD = Path(__file__).parent / "data" / "bad"

# file -> ("error", words the message must contain) | ("ok", {key: {column: exact value}})
EXPECT: dict[str, tuple] = {
    # encodings and delimiters: imported, decoded exactly
    "nav_cp1252_semicolon.csv": ("ok", {"BAD001": {"Surname": "Müller", "Job Title": "Einkauf €", "City": "München"}}),
    "nav_latin1.csv": ("ok", {"BAD002": {"First Name": "Søren", "Surname": "Groß", "City": "Köln"}}),
    "nav_utf8.csv": ("ok", {"BAD003": {"First Name": "Žofie", "Surname": "Dvořáková", "Post Code": "110 00"}}),
    "nav_utf8_bom.csv": ("ok", {"BAD001": {"Surname": "Müller", "Job Title": "Einkauf €"}}),
    "nav_utf16_bom_tab.csv": ("ok", {"BAD001": {"Surname": "Müller", "Job Title": "Einkauf €"}}),
    "nav_tab.tsv": ("ok", {"BAD001": {"Surname": "Müller", "Post Code": "80331"}}),
    "nav_quoted_crlf.csv": ("ok", {"BAD004": {"First Name": "Seán", "Surname": "O'Brien",
                                              "Job Title": 'Director, "Sales"', "City": "Dublin\r\nCity"}}),
    "nav_leading_zeros_plus.csv": ("ok", {"BAD005": {"First Name": '=HYPERLINK("http://x")', "Surname": "+Plus",
                                                     "Job Title": "@Work", "City": "-Minus", "Post Code": "01067"}}),
    "nav_header_only.csv": ("ok", {}),
    "nav_other_sheet.xlsx": ("ok", {"BAD001": {"Surname": "Müller"}, "BAD011": {"First Name": "Siobhán"}}),
    "nav_5mb_field.csv": ("ok", {}),  # checked by hash below
    "nav_injection_header.csv": ("ok", {"BAD010": {"Surname": "Robert'); DROP TABLE crm_contact;--"}}),
    "crm_dataverse.json": ("ok", {"22222222-3333-4444-5555-666666666666": {
        "firstname": "Zoë", "lastname": "D'Souza", "parentcustomerid": ACC_A}}),
    # lossless (issue 12): offsets to UTC, JSON numbers as written, the lookup form beside an empty attribute,
    # a CR alone inside a value
    "crm_offsets.csv": ("ok", {"33333333-0000-0000-0000-000000000001": {"modifiedon": pd.Timestamp("2026-01-05 06:30")},
                               "33333333-0000-0000-0000-000000000002": {"modifiedon": pd.Timestamp("2026-01-05 10:30")},
                               "33333333-0000-0000-0000-000000000003": {"modifiedon": pd.Timestamp("2026-01-05 08:30")}}),
    "nav_time_offset.csv": ("ok", {"BAD013": {"SystemModifiedAt": pd.Timestamp("2025-03-05 01:30")}}),
    "crm_json_numbers.json": ("ok", {"33333333-0000-0000-0000-000000000004": {"address1_postalcode": "10115",
                                                                               "telephone1": "1.50"},
                                     "33333333-0000-0000-0000-000000000005": {"contactid":
                                                                              "33333333-0000-0000-0000-000000000005"}}),
    "crm_lookup_and_attribute.json": ("ok", {"33333333-0000-0000-0000-000000000006": {"parentcustomerid": ACC_A}}),
    "nav_bare_cr.csv": ("ok", {"BAD016": {"First Name": "a\rb", "Surname": "c\rd"}}),
    # refused, naming the problem
    "crm_lookup_conflict.json": ("error", ["conflicting values", "'_parentcustomerid_value' and 'parentcustomerid'"]),
    "crm_blank_header.json": ("error", ["blank", "give each column"]),
    "crm_no_records.json": ("error", ["no columns", "nothing to import"]),
    "nav_blank_header.csv": ("error", ["blank", "[3]"]),
    "nav_case_duplicate_header.csv": ("error", ["City", "city", "only in case"]),
    "nav_utf16_no_bom.csv": ("error", ["NUL", "UTF-16"]),
    "nav_nul_bytes.csv": ("error", ["NUL"]),
    "nav_binary.csv": ("error", ["not a text CSV"]),
    "nav_png_named.csv": ("error", ["cannot be decoded"]),
    "nav_empty.csv": ("error", ["empty", "header"]),
    "nav_blank_lines.csv": ("error", ["empty", "header"]),
    "nav_ragged.csv": ("error", ["Line: 3", "Expected Number of Columns: 9 Found: 10"]),
    "nav_duplicate_keys.csv": ("error", ["duplicate key", "BAD001", "1, 2"]),
    "nav_duplicate_keys_case.csv": ("error", ["duplicate key", "BAD001"]),
    "nav_empty_key.csv": ("error", ["empty key", "row(s) 2"]),
    "nav_missing_type_column.csv": ("error", ["lacks required column", "Type"]),
    "nav_duplicate_header.csv": ("error", ["Surname", "more than once"]),
    "nav_huge_header.csv": ("error", ["header row cannot be read"]),
    "nav_bad_type.csv": ("error", ["invalid value", "Type", "Robot"]),
    "nav_bad_timestamp.csv": ("error", ["unparseable timestamp", "SystemModifiedAt", "31/02/2025 25:61"]),
    "nav_bad_date.csv": ("error", ["unparseable date", "Last Date Modified", "2025-02-30"]),
    "nav_text_named.xlsx": ("error", ["Excel"]),
    "crm_missing_key_column.csv": ("error", ["lacks required column", "contactid"]),
    "crm_bad_modifiedon.csv": ("error", ["unparseable timestamp", "modifiedon", "yesterday"]),
    "crm_bad_statecode.csv": ("error", ["invalid value", "statecode", "maybe"]),
    "crm_wrong_shape.json": ("error", ["wrong shape"]),
    "crm_scalar_list.json": ("error", ["wrong shape"]),
    "crm_nested.json": ("error", ["nested"]),
    "crm_truncated.json": ("error", ["not valid JSON"]),
    "crm_unsupported.docx": ("error", ["unsupported file type", ".docx"]),
    # mappings: every name is checked against the tables before it reaches SQL
    "mapping_injection_field.toml": ("error", ["First Name\"; DROP TABLE nav_contact; --", "is not in table"]),
    "mapping_injection_table.toml": ("error", ["does not exist"]),
    "mapping_injection_filter.toml": ("error", ["DELETE FROM nav_contact", "is not in table"]),
    "mapping_not_toml.toml": ("error", ["cannot be parsed"]),
}


def test_corpus_is_complete_and_generated():
    """Every file has an expectation, and the committed files are what the script writes."""
    import importlib.util

    on_disk = sorted(p.name for p in BAD.iterdir())
    assert on_disk == sorted(EXPECT), set(on_disk) ^ set(EXPECT)
    assert len(on_disk) >= 20
    spec = importlib.util.spec_from_file_location("make_bad_corpus", BAD.parent / "make_bad_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generated = mod.files()
    stale = [n for n, data in generated.items() if (BAD / n).read_bytes() != data]
    assert not stale, f"rerun tests/data/make_bad_corpus.py: {stale}"


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    """A workspace file with data, couplings, a sync and history, to be damaged (or not)."""
    path = tmp_path_factory.mktemp("bad") / "base.duckdb"
    with cs.Workspace.open(path) as ws:
        ws.import_accounts(account_frame())
        ws.import_nav(nav_frame())
        ws.import_crm(crm_frame())
        ws.couple_company("C00001", ACC_A)
        ws.couple("CT000001", CRM_1, sync_after="push")
    return path


@pytest.fixture
def ws(base_file, tmp_path):
    path = tmp_path / "ws.duckdb"
    shutil.copyfile(base_file, path)
    w = cs.Workspace.open(path)
    yield w
    w.close()


def _import(ws, path: Path):
    if path.name.startswith("mapping"):
        return cs.Workspace.open(ws.path, mapping=path)
    if path.name.startswith("crm"):
        return ws.import_crm(path)
    return ws.import_nav(path)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_bad_file(ws, name):
    path = BAD / name
    kind, expected = EXPECT[name]
    before = fingerprint(ws)
    if kind == "error":
        with pytest.raises(cs.ContactSyncError) as info:
            _import(ws, path)
        message = str(info.value)
        for word in expected:
            assert word in message, f"{name}: {message!r} does not name {word!r}"
        assert len(message) < 2000, "the message must stay readable"
        after = fingerprint(ws)
        assert not diff(before, after), f"{name} changed tables {diff(before, after)} although it was refused"
        return
    result = _import(ws, path)
    assert result.rejected == 0
    table, key = ("crm_contact", "contactid") if name.startswith("crm") else ("nav_contact", "No.")
    for k, values in expected.items():
        row = ws.sql(f'SELECT * FROM {table} WHERE "{key}" = ?', [k])
        assert len(row) == 1, f"{name}: {k} not imported"
        for col, value in values.items():
            assert row[col].iloc[0] == value, f"{name}: {k}.{col} = {row[col].iloc[0]!r}, expected {value!r}"
    assert result.inserted == len(expected) or name in ("nav_5mb_field.csv",)
    # nothing else moved: only the record table (and its search index), the run and its change log
    changed = set(diff(before, fingerprint(ws)))
    assert changed <= {table, f"{table}_search", "run", "change_log"}, changed
    if name == "nav_header_only.csv":
        assert changed <= {"run", "change_log"}


def test_5mb_field_is_exact(ws):
    path = BAD / "nav_5mb_field.csv"
    import csv
    import io

    text = path.read_text(encoding="utf-8")
    limit = csv.field_size_limit(1 << 30)
    try:
        field = list(csv.reader(io.StringIO(text, newline="")))[1][5]
    finally:
        csv.field_size_limit(limit)
    assert len(field) == 5 * 1024 * 1024
    ws.import_nav(path)
    got = ws.sql("""SELECT "Job Title" AS v FROM nav_contact WHERE "No." = 'BAD008'""")["v"].iloc[0]
    assert len(got) == len(field)
    assert hashlib.sha256(got.encode()).digest() == hashlib.sha256(field.encode()).digest()


def test_injection_header_with_add_columns_makes_a_literal_column(ws):
    """With add_columns=True the hostile header becomes a column of exactly that name; no table is
    dropped and the values land as text."""
    tables = set(ws.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    ws.import_nav(BAD / "nav_injection_header.csv", add_columns=True)
    assert set(ws.sql("SELECT table_name FROM information_schema.tables")["table_name"]) == tables
    row = ws.sql("""SELECT * FROM nav_contact WHERE "No." = 'BAD010'""")
    assert row['x"; DROP TABLE nav_contact; --'].iloc[0] == "1"


def test_skip_mode_keeps_the_good_rows_and_reports_the_bad(ws):
    r = ws.import_nav(BAD / "nav_empty_key.csv", on_error="skip")
    assert (r.inserted, r.rejected) == (0, 2) or (r.inserted, r.rejected) == (1, 1)
    assert list(r.rejections["reason"]) == ["empty key"] or "empty key" in set(r.rejections["reason"])
