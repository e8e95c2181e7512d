"""Full synchronization review view (BC page 5373): one row per table mapping with the engine's recommendation,
Preview (nothing kept) and Run (one undoable run), the result on the row in a steward's words."""

from __future__ import annotations

import html
import shutil

import pytest
from conftest import account_frame, crm_frame, fill_small, nav_frame

import contactsync as cs
from contactsync.ui.common import live_widgets
from contactsync.ui.fullsync import FullSyncView

API_WORDS = ("see .", "ws.", "(1 none)", "import_accounts")


def fp(ws):
    return (ws.sql("SELECT entity, nav_no, crm_id FROM coupling ORDER BY ALL").values.tolist(),
            ws.sql("SELECT count(*) FROM crm_contact").values.tolist(), len(ws.runs()))


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    d = tmp_path_factory.mktemp("fullsync")
    fill_small(cs.Workspace.open(d / "small.duckdb")).close()  # companies coupled, persons on both sides
    with cs.Workspace.open(d / "fresh.duckdb") as ws:  # nothing coupled; NAV persons, no CRM contacts
        ws.import_accounts(account_frame())
        ws.import_nav(nav_frame())
    with cs.Workspace.open(d / "nav_only.duckdb") as ws:  # NAV companies, no CRM accounts
        ws.import_nav(nav_frame())
        ws.import_crm(crm_frame().drop(columns=["parentcustomerid"], errors="ignore"))
    return d


def opened(templates, tmp_path, name):
    shutil.copyfile(templates / f"{name}.duckdb", tmp_path / "w.duckdb")
    return cs.Workspace.open(tmp_path / "w.duckdb")


def test_rows_preview_and_run_couple_contacts(templates, tmp_path):
    with opened(templates, tmp_path, "small") as w:
        v = FullSyncView(w)
        rows = {r["entity"]: r for r in v.table.rows}
        assert rows["accounts"]["recommendation"] == "No Records Found"
        assert (rows["contacts"]["recommendation"], rows["contacts"]["nav_uncoupled"]) == ("Couple Records", 3)
        v.table.select("accounts")
        assert v.run_button.disabled and "nothing to run" in v.messages.text
        v.table.select("contacts")
        assert not v.run_button.disabled and v.run_button.description == "Run Couple Records"
        before = fp(w)
        v.preview_button.click()
        assert fp(w) == before, "a preview kept something"
        assert v.messages.text.startswith("Preview (nothing was kept): 2 NAV persons will be coupled")
        assert "1 NAV person will stay uncoupled" in v.messages.text
        assert not any(a in v.messages.text for a in API_WORDS), v.messages.text
        v.run_button.click()
        assert "Run Couple Records for contacts" in html.unescape(v.confirm.question.value)
        v.confirm.no.click()
        assert fp(w) == before
        v.run_button.click()
        v.confirm.yes.click()
        assert len(w.runs()) == before[2] + 1 and v.messages.kind == "warn"
        assert "2 NAV persons coupled" in v.messages.text and "undo it in History" in v.messages.text
        row = next(r for r in v.table.rows if r["entity"] == "contacts")
        assert row["nav_uncoupled"] == 1 and row["coupled"] == 2
        assert "2 NAV persons coupled" in v.table.row_boxes["contacts"].children[1].value
        w.undo(int(w.runs().iloc[-1]["run_id"]))
        assert fp(w)[:2] == before[:2]


def test_accounts_couple_and_contacts_full_sync_failures_are_named(templates, tmp_path):
    with opened(templates, tmp_path, "fresh") as w:
        v = FullSyncView(w)
        rows = {r["entity"]: r["recommendation"] for r in v.table.rows}
        assert rows == {"accounts": "Couple Records", "contacts": "Full Synchronization"}
        v.table.select("contacts")
        v.preview_button.click()  # the persons' companies are not coupled yet: every creation fails
        assert v.messages.kind == "error" and "0 CRM contacts from NAV persons will be created" in v.messages.text
        assert "3 will not be created: CT000001: Company C00001" in v.messages.text
        v.table.select("accounts")
        v.run_button.click()
        v.confirm.yes.click()
        assert v.messages.kind == "ok" and "2 NAV companies coupled to the CRM account" in v.messages.text
        assert w.sql("SELECT count(*) AS n FROM coupling WHERE entity = 'company'")["n"][0] == 2
        v.table.select("contacts")
        v.run_button.click()
        v.confirm.yes.click()
        assert v.messages.kind in ("ok", "warn") and "CRM contacts from NAV persons created and coupled" in \
            v.messages.text
        assert w.sql("SELECT count(*) AS n FROM coupling WHERE entity = 'contact'")["n"][0] >= 1


def test_accounts_full_sync_is_explained_not_run(templates, tmp_path):
    with opened(templates, tmp_path, "nav_only") as w:
        v = FullSyncView(w)
        row = next(r for r in v.table.rows if r["entity"] == "accounts")
        assert row["recommendation"] == "Full Synchronization"
        v.table.select("accounts")
        assert v.run_button.disabled and "contactsync creates no CRM accounts" in v.messages.text
        assert not any(a in v.messages.text for a in API_WORDS)


def test_refresh_keeps_the_widget_count_flat(templates, tmp_path):
    with opened(templates, tmp_path, "small") as w:
        v = FullSyncView(w)
        v.table.select("contacts")
        v.refresh()
        base = live_widgets()
        for _ in range(20):
            v.refresh()
        assert live_widgets() == base
