"""The Dynamics CRM Contacts grid and the Table Mapping edits in a real browser (Voilà + chromium): one server and
one page for the module. Every action is checked in the DuckDB file; screenshots in tests/artifacts/crm-*.png and
mapping-*.png."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, _tab, _workspace, app_page, serve_app
from test_browser import pytestmark as browser_marks

pytestmark = [*(browser_marks if isinstance(browser_marks, list) else [browser_marks]), pytest.mark.slow]

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None
    PlaywrightTimeout = TimeoutError

HEADER, ROW = 20, 22  # the grid's header and row heights (px)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, workspace file, account name, its uncoupled CRM contacts): the sample data, with an account whose
    few uncoupled CRM contacts a search finds alone, and a value map with entries to delete."""
    from contactsync.demo import build_demo

    tmp = tmp_path_factory.mktemp("crmgrid")
    ws_path = tmp / "steward.duckdb"
    with build_demo(ws_path) as ws:
        acc = ws.accounts()
        coupled_accounts = set(acc.loc[acc["coupled"], "accountid"])
        df = ws.crm_contacts(coupled=False, limit=None)
        df = df[df["parentcustomerid"].isin(coupled_accounts)]
        account, ids = next((name, sorted(g["contactid"])) for name, g in df.groupby("account_name")
                            if len(g) >= 2 and ws.crm_contacts(search=name, coupled=False).attrs["total"] == len(g))
        ws.set_value_map("salutation", [("MR", "Mr."), ("MRS", "Mrs."), ("DR", "Dr.")])
    with serve_app(ws_path, tmp) as url:
        yield url, ws_path, account, ids


@pytest.fixture(scope="module")
def page(served):
    with app_page(served[0], width=1500) as pg:
        yield pg


def _shot(page, name: str) -> None:
    page.wait_for_timeout(400)  # the canvas paints after the data arrives
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _said(page, view, text: str, css: str = ":scope > .cs-message") -> None:
    """Wait for ``view``'s message with ``text``; if it never comes, keep a screenshot and name what was said."""
    try:
        view.locator(css, has_text=text).wait_for(timeout=60_000)
    except PlaywrightTimeout:
        page.screenshot(path=str(ARTIFACTS / "crm-failure.png"), full_page=True)
        said = " | ".join(view.locator(".cs-message").all_inner_texts())
        raise AssertionError(f"no message {text!r}; the view said: {said}") from None


def _label(page, starts: str) -> None:
    page.wait_for_function("s => document.querySelector('.cs-crm-contacts .cs-page-label').innerText.startsWith(s)",
                           arg=starts)


def test_crm_grid_card_bulk_create_page_jump_and_delete_couplings(served, page):
    _url, ws_path, account, ids = served
    view = page.locator(".cs-crm-contacts")
    grid = view.locator(".cs-datagrid")
    with _workspace(ws_path) as ws:
        total = ws.crm_contacts(limit=1).attrs["total"]
        runs = len(ws.runs())
    _label(page, f"1–15 of {total:,}")
    expect(view.locator(".cs-page-count")).to_have_text(f"of {-(-total // 15):,}")
    _shot(page, "crm-1-grid")

    # a click on a row opens its card (the grid is a canvas: click by position)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + HEADER + ROW + ROW // 2)  # the second row
    card = view.locator(".cs-crm-card")
    card.locator(".cs-title").wait_for()
    with _workspace(ws_path) as ws:
        second = ws.crm_contacts(limit=15)["contactid"].iloc[1]
        name = " ".join(p for p in (ws.crm_contact(second)["firstname"], ws.crm_contact(second)["lastname"]) if p)
    expect(card.locator(".cs-title")).to_contain_text(name)
    expect(view.locator("button.cs-create-nav")).to_have_text("Create in Dynamics NAV (1 selected)")
    _shot(page, "crm-2-card")

    # page jump
    view.locator(".cs-page-jump input").fill("3")
    view.locator("button.cs-page-go").click()
    _label(page, "31–45 of")

    # every uncoupled contact of one account, by search + Uncoupled + Select all: one run creates their NAV contacts
    view.locator(".cs-coupled-filter select").select_option(label="Uncoupled")
    view.locator(".cs-search input").fill(account)
    _label(page, f"1–{len(ids)} of {len(ids)}")
    view.locator(".cs-crm-select-all input").check()
    create = view.locator("button.cs-create-nav")
    expect(create).to_have_text(f"Create in Dynamics NAV (all {len(ids)} filtered)")
    create.click()
    question = view.locator(".cs-confirm .cs-msg-warn")
    expect(question).to_contain_text(f"Create {len(ids)} NAV contact(s)")
    _shot(page, "crm-3-bulk-create-question")
    view.locator(".cs-confirm button.cs-confirm-yes").click()
    _said(page, view, f"{len(ids)} NAV contact(s) created and coupled")
    _label(page, "No matches")  # the filter shows uncoupled contacts: none left
    _shot(page, "crm-4-bulk-created")
    with _workspace(ws_path) as ws:
        assert all(ws.crm_contact(c)["coupled"] for c in ids)
        assert len(ws.runs()) == runs + 1 and ws.runs().iloc[-1]["kind"] == "create"
        coupled = ws.crm_contacts(search=account, coupled=True).attrs["total"]  # with those coupled before

    # the account's coupled contacts: Delete couplings asks first, naming them, then is one run
    view.locator(".cs-coupled-filter select").select_option(label="Coupled")
    _label(page, f"1–{coupled} of {coupled}")
    view.locator(".cs-crm-select-all input").check()
    view.locator("button.cs-crm-uncouple").click()
    expect(question).to_contain_text(f"Delete the couplings of {coupled} CRM contact(s)")
    with _workspace(ws_path) as ws:
        expect(question).to_contain_text(ws.crm_contact(ids[0])["lastname"])
    view.locator(".cs-confirm button.cs-confirm-yes").click()
    _said(page, view, "undo it in History")
    with _workspace(ws_path) as ws:
        assert not any(ws.crm_contact(c)["coupled"] for c in ids)
        assert len(ws.runs()) == runs + 2
    _shot(page, "crm-5-couplings-deleted")
    assert page.dialogs == []


def test_mapping_filters_and_value_map_entries(served, page):
    _url, ws_path, _account, _ids = served
    _tab(page, "Table Mapping")
    view = page.locator(".cs-mapping")
    nav = view.locator(".cs-tm-nav-filter-edit textarea")
    expect(nav).to_have_value("Type = 'Person'\nCompany No. is not empty", timeout=60_000)
    with _workspace(ws_path) as ws:
        before = ws.mapping
    nav.fill("Type = 'Persn'\nCompany No. is not empty")
    view.locator("button.cs-tm-save-filters").click()
    msg = view.locator(".cs-tm-filter-message", has_text="keeps none of the")
    msg.wait_for(timeout=60_000)
    msg.scroll_into_view_if_needed()
    _shot(page, "mapping-1-filter-refused")
    with _workspace(ws_path) as ws:
        assert ws.mapping == before
    nav.fill("Type = 'Person'\nCompany No. is not empty\nCountry/Region Code <> 'US'")
    view.locator("button.cs-tm-save-filters").click()
    view.locator(".cs-tm-filter-message", has_text="Saved the table filters").wait_for(timeout=60_000)
    _shot(page, "mapping-2-filter-saved")
    with _workspace(ws_path) as ws:
        assert ws.mapping.nav_filter[-1].column == "Country/Region Code" and ws.mapping.nav_filter[-1].op == "<>"

    view.locator(".cs-vm-table .cs-row", has_text="salutation").locator(".cs-row-select input").check()
    editor = view.locator(".cs-vm-editor")
    editor.locator(".cs-vm-entries select").select_option(label="Pair: MRS = Mrs.")
    editor.locator("button.cs-vm-delete-entries").click()
    editor.locator(".cs-vm-confirm .cs-msg-warn", has_text="MRS = Mrs.").wait_for()
    _shot(page, "mapping-3-delete-entry-question")
    editor.locator(".cs-vm-confirm button.cs-confirm-yes").click()
    view.locator(".cs-vm-message", has_text="Deleted 1 entry of value map salutation").wait_for(timeout=60_000)
    _shot(page, "mapping-4-entry-deleted")
    with _workspace(ws_path) as ws:
        assert ws.mapping.value_map_named("salutation").pairs == (("MR", "Mr."), ("DR", "Dr."))
    assert page.dialogs == []


def test_a_header_sort_covers_every_page(served, page):
    """Name's header menu, Sort Descending: the first row is the whole filtered set's first (DuckDB's order over
    every page, not the page shown re-sorted), the list says so and is back on page 1."""
    from contactsync.ui import CrmContactsView

    _url, ws_path, _account, _ids = served
    _tab(page, "Dynamics CRM Contacts")
    view = page.locator(".cs-crm-contacts")
    view.locator(".cs-coupled-filter select").select_option(label="All")
    view.locator(".cs-search input").fill("")
    with _workspace(ws_path) as ws:
        total = ws.crm_contacts(limit=1).attrs["total"]
        first = ws.crm_contacts(order_by=[("name", True)], limit=1).iloc[0]
        name_width = CrmContactsView(ws).table.grid.column_widths["Name"]
    _label(page, f"1–15 of {total:,}")
    view.locator(".cs-page-jump input").fill("2")  # the sort goes back to page 1
    view.locator("button.cs-page-go").click()
    _label(page, "16–30 of")
    grid = view.locator(".cs-datagrid")
    box = grid.bounding_box()
    page.mouse.click(box["x"] + name_width - 8, box["y"] + HEADER // 2)  # the header's menu icon
    page.locator(".lm-Menu-item", has_text="Sort Descending").click()
    expect(view.locator(".cs-grid-query-said")).to_have_text(f"Sorted by Name, descending — over all {total:,} "
                                                              "contacts that match.", timeout=60_000)
    _label(page, f"1–15 of {total:,}")
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + HEADER + ROW // 2)  # the first row
    expected = " ".join(p for p in (first["firstname"], first["lastname"]) if p)
    expect(view.locator(".cs-crm-card .cs-title")).to_contain_text(expected)
    _shot(page, "crm-6-sorted-over-every-page")
    view.locator("button.cs-grid-clear").click()
    expect(view.locator(".cs-grid-query-said")).to_have_count(0)
    assert page.dialogs == []
