"""Issue 12, findings 6, 18 and 20 (class: an export never destroys a file and re-imports exactly): an
existing file is replaced only on request, a folder is a clear error, the formula check knows every
trigger OWASP lists (TAB and CR too) and leaves numbers alone."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from conftest import CRM_1
from hypothesis import given
from hypothesis import strategies as st

import contactsync as cs
from contactsync.workspace import is_formula


def test_an_existing_file_is_kept_unless_overwrite(synced, tmp_path):
    target = tmp_path / "crm.csv"
    target.write_text("precious")
    with pytest.raises(cs.ContactSyncError, match="exists; choose a new file name, or pass overwrite=True"):
        synced.export_changes("crm", target)
    assert target.read_text() == "precious"
    fresh = synced.export_changes("crm", tmp_path / "fresh.csv")
    out = synced.export_changes("crm", target, overwrite=True)
    assert out.rows == fresh.rows >= 1 and target.read_bytes() == fresh.path.read_bytes()


def test_a_folder_is_a_clear_error(synced, tmp_path):
    with pytest.raises(cs.ContactSyncError, match="is a folder; give a file name in it"):
        synced.export_changes("crm", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file left


@pytest.mark.parametrize("value", ["\t=cmd|' /C calc'!A0", "\r=1+1", "=1+1", "@SUM(A1)", "-2+3", "+1+1"])
def test_formula_triggers_are_reported_and_neutralized(synced, tmp_path, value):
    synced.import_crm(pd.DataFrame([{"contactid": CRM_1, "jobtitle": value}]))
    synced.sync("pull")
    out = synced.export_changes("nav", tmp_path / "nav.csv", neutralize=True)
    assert ("CT000001", "Job Title", value) in out.formula_cells
    with open(out.path, newline="", encoding="utf-8") as f:  # the csv module keeps a CR inside quotes
        rows = list(csv.DictReader(f))
    assert rows[0]["Job Title"] == "'" + value


_phone = st.from_regex(r"\A[+-]?[0-9][0-9 ()./-]{0,20}\Z", fullmatch=True)


@given(_phone)
def test_numbers_as_phones_and_amounts_are_written_are_not_formulas(v):
    assert not is_formula(v)


@given(st.text(min_size=1, max_size=30))
def test_a_value_is_a_formula_exactly_when_a_spreadsheet_would_run_it(v):
    trigger = v[0] in "=+-@\t\r"
    number = v[0] in "+-" and len(v) > 1 and v[1].isascii() and v[1].isdigit() and all(
        ch.isascii() and (ch.isdigit() or ch in " ()./-") for ch in v[2:].rstrip())
    assert is_formula(v) == (trigger and not number)


def test_cli_export_refuses_an_existing_file_and_overwrites_on_request(wpath, tmp_path):
    from click.testing import CliRunner

    from contactsync.cli import main

    target = tmp_path / "nav.csv"
    target.write_text("precious")
    runner = CliRunner()
    res = runner.invoke(main, ["export", "nav", str(target), "-w", str(wpath)])
    assert res.exit_code != 0 and "--overwrite" in res.output and target.read_text() == "precious"
    res = runner.invoke(main, ["export", "nav", str(target), "--overwrite", "-w", str(wpath)])
    assert res.exit_code == 0, res.output
    assert target.read_text() != "precious"
