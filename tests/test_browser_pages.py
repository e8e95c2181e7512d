"""The app's views over BC's pages in a real browser (Voilà + chromium): Coupled Data Synchronization Errors,
Table Mapping, Full Synchronization Review. One Voilà server and one page for the module; every action is
checked in the DuckDB file, and a screenshot of each step is kept in tests/artifacts/pages-*.png."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from test_browser import ARTIFACTS, _tab, _workspace, app_page, serve_app
from test_browser import pytestmark as browser_marks

# ~60 s for the module on a quiet machine (server start, three walks): slow, still in CI
pytestmark = [*(browser_marks if isinstance(browser_marks, list) else [browser_marks]), pytest.mark.slow]

LATER = "2031-01-01 09:00:00"


def _persons(ws, n: int) -> list[str]:
    """``n`` coupled NAV persons whose mapped fields match (their runs change nothing else)."""
    diff = set(ws.differences()["nav_no"])
    nos = ws.sql("SELECT nav_no FROM coupling WHERE entity = 'contact' ORDER BY nav_no")["nav_no"].tolist()
    return [no for no in nos if no not in diff][:n]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, workspace file, (skipped, failed, deleted) NAV numbers): the sample data with one record Skipped
    after failing twice, one Failed and one coupled to a CRM contact missing from a full export."""
    from contactsync.demo import build_demo

    tmp = tmp_path_factory.mktemp("pages")
    ws_path = tmp / "steward.duckdb"
    with build_demo(ws_path) as ws:
        skipped, failed, deleted = _persons(ws, 3)
        ws.import_nav(pd.DataFrame([{"No.": skipped, "Type": "Person", "E-Mail": "not-an-email",
                                     "SystemModifiedAt": LATER},
                                    {"No.": failed, "Type": "Person", "E-Mail": "first bad", "SystemModifiedAt": LATER}]))
        ws.sync("push", nos=[skipped, failed])
        ws.import_nav(pd.DataFrame([{"No.": failed, "Type": "Person", "E-Mail": "second bad",
                                     "SystemModifiedAt": "2031-01-02 09:00:00"}]))
        ws.sync("push", nos=[skipped, failed])  # skipped: the same error twice; failed: a different one
        gone = ws.nav_contact(deleted)["crm_id"]
        ws.import_crm(ws.sql("SELECT * FROM crm_contact WHERE contactid <> ?", [gone]), snapshot=True)
    with serve_app(ws_path, tmp) as url:
        yield url, ws_path, (skipped, failed, deleted)


@pytest.fixture(scope="module")
def page(served):
    with app_page(served[0], width=1500) as pg:
        yield pg


def _shot(page, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"pages-{name}.png"), full_page=True)


def _message(page, view: str, text: str, timeout: int = 60_000):
    msg = page.locator(f"{view} > .cs-message", has_text=text)
    msg.wait_for(timeout=timeout)
    return msg.inner_text()


def _confirm(page, view: str, question: str) -> str:
    box = page.locator(f"{view} > .cs-confirm")
    box.locator(".cs-msg-warn", has_text=question).wait_for()
    return box.inner_text()


def test_errors_list_retry_find_for_deleted_and_restore(served, page):
    _url, ws_path, (skipped, failed, deleted) = served
    t0 = time.monotonic()
    _tab(page, "Synchronization Errors")
    view = ".cs-errors"
    page.locator(f"{view} .cs-err-summary", has_text="2 record(s)").wait_for(timeout=60_000)
    _shot(page, "1-errors-list")
    page.locator(".cs-err-state select").select_option(label="Skipped")
    page.locator(f"{view} .cs-err-summary", has_text="1 of 2 record(s)").wait_for()
    page.locator(".cs-err-select-all input").check()
    page.wait_for_function("!document.querySelector('button.cs-err-retry').disabled")
    page.locator("button.cs-err-retry").click()
    asked = _confirm(page, view, "Retry 1 Skipped record(s)")
    assert skipped in asked
    _shot(page, "2-errors-retry-confirm")
    page.locator(f"{view} > .cs-confirm .cs-confirm-yes").click()
    said = _message(page, view, "will be synchronized by the next run")
    assert "see ." not in said
    with _workspace(ws_path) as ws:
        e = ws.sync_errors().set_index("nav_no")
        assert not bool(e.loc[skipped, "excluded"]) and ws.runs().iloc[-1]["kind"] == "retry"

    # two rows picked in the grid (a click, then ctrl+click); Delete Couplings asks first, No leaves them
    page.locator(".cs-err-state select").select_option(label="All")
    page.locator(f"{view} .cs-err-summary", has_text="2 record(s); 2 failed").wait_for()
    grid = page.locator(".cs-err-table .cs-datagrid")
    grid.click(position={"x": 250, "y": 20 + 11})
    page.wait_for_function("document.querySelector('button.cs-err-delete').textContent.includes('(1)')")
    grid.click(position={"x": 250, "y": 20 + 22 + 11}, modifiers=["Control"])
    page.wait_for_function("document.querySelector('button.cs-err-delete').textContent.includes('(2)')")
    page.locator("button.cs-err-delete").click()
    asked = _confirm(page, view, "Delete the couplings of 2 record(s)")
    assert skipped in asked and failed in asked
    page.locator(f"{view} > .cs-confirm .cs-confirm-no").click()
    with _workspace(ws_path) as ws:
        assert ws.nav_contact(failed)["coupled"] and ws.nav_contact(skipped)["coupled"]

    # one row -> Set Up Coupling opens the coupling dialog under the list; Cancel closes it
    grid.click(position={"x": 250, "y": 20 + 22 + 11})
    page.wait_for_function("!document.querySelector('button.cs-err-coupling').disabled")
    page.locator("button.cs-err-coupling").click()
    dialog = page.locator(f"{view} .cs-coupling-dialog")
    dialog.locator(".cs-title", has_text=failed).wait_for()
    _shot(page, "2b-errors-set-up-coupling")
    dialog.locator("button.cs-coupling-cancel").click()
    dialog.wait_for(state="detached")

    # Find for Deleted -> Restore Records
    page.locator("button.cs-err-find-deleted").click()
    box = page.locator(".cs-deleted")
    _message(page, view, "Find for Deleted: 1 coupling(s) to a deleted record")
    box.locator(".cs-deleted-select-all input").check()
    page.wait_for_function("!document.querySelector('button.cs-deleted-restore').disabled")
    page.locator("button.cs-deleted-restore").click()
    assert deleted in _confirm(page, view, "Restore 1 record(s)")
    _shot(page, "3-find-for-deleted-restore-confirm")
    page.locator(f"{view} > .cs-confirm .cs-confirm-yes").click()
    said = _message(page, view, "1 record(s) restored")
    _shot(page, "4-restored")
    with _workspace(ws_path) as ws:
        assert ws.find_for_deleted().empty and ws.nav_contact(deleted)["coupled"]
        assert ws.runs().iloc[-1]["kind"] == "resolve_deleted"
    assert "undo it in History" in said and page.dialogs == []
    print(f"errors view walk: {time.monotonic() - t0:.1f} s")


def test_table_mapping_invalid_edit_changes_nothing_valid_edit_is_saved(served, page):
    _url, ws_path, _nos = served
    _tab(page, "Table Mapping")
    view = ".cs-mapping"
    row = page.locator(".cs-fm-table .cs-row", has_text="Job Title")
    row.wait_for(timeout=60_000)
    with _workspace(ws_path) as ws:
        before = ws.field_options()
    row.locator(".cs-row-select input").check()
    editor = page.locator(".cs-field-editor")
    editor.locator(".cs-title", has_text="Job Title").wait_for()
    editor.locator(".cs-fm-constant input").fill("Buyer")
    page.locator("button.cs-fm-save").click()
    said = _message(page, f"{view}", "a constant value needs a one-way direction")
    assert "Traceback" not in said
    _shot(page, "5-mapping-invalid-edit")
    with _workspace(ws_path) as ws:
        assert ws.field_options().equals(before)
    editor.locator(".cs-fm-constant input").fill("")
    editor.locator(".cs-fm-not-null input").check()
    editor.locator(".cs-fm-transform input").fill("trim > title")
    page.locator("button.cs-fm-save").click()
    _message(page, view, "Saved Job Title")
    row.locator(":scope", has_text="trim > title").wait_for()
    _shot(page, "6-mapping-saved")
    with _workspace(ws_path) as ws:
        f = ws.mapping.field("Job Title")
        assert f.not_null and [r.rule.value for r in f.transform] == ["trim", "title"]
    page.locator(".cs-vm-table .cs-row", has_text="country").locator(".cs-row-select input").check()
    page.locator(".cs-vm-editor .cs-vm-name input").wait_for()
    assert page.locator(".cs-vm-editor .cs-vm-builtin select").input_value() == "iso3166"
    _shot(page, "7-mapping-value-map")


def test_full_synchronization_review_preview_and_run(served, page):
    _url, ws_path, _nos = served
    _tab(page, "Full Synchronization")
    view = ".cs-fullsync"
    row = page.locator(".cs-fs-table .cs-row", has_text="Contacts (NAV persons")
    row.wait_for(timeout=60_000)
    assert "Couple Records" in row.inner_text()
    with _workspace(ws_path) as ws:
        runs, coupled = len(ws.runs()), int(ws.full_sync_review().set_index("entity").loc["contacts", "coupled"])
    row.locator(".cs-row-select input").check()
    page.wait_for_function("!document.querySelector('button.cs-fs-preview').disabled")
    page.locator("button.cs-fs-preview").click()
    said = _message(page, view, "Preview (nothing was kept)")
    assert "will be coupled" in said
    _shot(page, "8-full-sync-preview")
    with _workspace(ws_path) as ws:
        assert len(ws.runs()) == runs
    page.locator("button.cs-fs-run").click()
    _confirm(page, view, "Run Couple Records for contacts")
    page.locator(f"{view} > .cs-confirm .cs-confirm-yes").click()
    said = _message(page, view, "undo it in History")
    row.locator(":scope", has_text="coupled to CRM contacts").wait_for()
    _shot(page, "9-full-sync-done")
    with _workspace(ws_path) as ws:
        assert len(ws.runs()) == runs + 1
        assert int(ws.full_sync_review().set_index("entity").loc["contacts", "coupled"]) > coupled
    assert page.dialogs == []
