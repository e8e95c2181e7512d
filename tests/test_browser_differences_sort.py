"""Differences' header sort in a real browser (Voilà + chromium): over a workspace with more differing pairs than
the app's page (550 > 500), Name's header menu "Sort Ascending" puts the whole filtered set's first pair on top
(not the first of the page shown re-sorted), says so above the grid, and the header draws its sort arrow (read
back from the grid's canvas). Screenshots: tests/artifacts/differences-sort-*.png."""

from __future__ import annotations

import unicodedata

import pytest
from test_browser import ARTIFACTS, _tab, _workspace, app_page, expect, serve_app
from test_browser import pytestmark as browser_marks
from ui_bench import build

pytestmark = [*(browser_marks if isinstance(browser_marks, list) else [browser_marks]), pytest.mark.slow]

PERSONS = 5_000  # 550 differing pairs (ui_bench): the app shows 500 a page
PAGE = 500
HEADER, ROW = 20, 22  # the grid's header and row heights (px)

# coloured pixels (the arrow is drawn in the theme's brand colour; the header is grey, its text black) in a
# rectangle of the grid's canvas, in CSS pixels from the grid's top left
COLOURED = """([x0, x1]) => {
  const c = document.querySelector('.cs-diff-table .cs-datagrid canvas');
  const s = window.devicePixelRatio || 1;
  const d = c.getContext('2d').getImageData(Math.round(x0 * s), 0, Math.round((x1 - x0) * s), Math.round(20 * s)).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - d[i + 2]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40) n++;
  return n;
}"""


def _fold(v: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", v) if not unicodedata.combining(c)).lower()


def _by_name(names: dict, no: str) -> tuple:
    """The list's order by Name: folded text, then exact text, then NAV No."""
    return _fold(names[no]), names[no], no


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diffsort")
    ws_path = build(tmp / "diff.duckdb", PERSONS)
    with serve_app(ws_path, tmp) as url:
        yield url, ws_path


def _shot(page, name: str) -> None:
    page.wait_for_timeout(400)  # the canvas paints after the data arrives
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_differences_header_sort_orders_every_filtered_pair_and_draws_its_arrow(served):
    from contactsync.ui import DifferencesView

    url, ws_path = served
    with _workspace(ws_path) as ws:
        d = ws.differences(label="Name")
        names = dict(zip(d["nav_no"].astype(str), d["name"].fillna("").astype(str)))
        runs = len(ws.runs())
        v = DifferencesView(ws)  # the grid's geometry as the app draws it (its columns fit the page's text)
        key_w, name_w = v.table.grid.column_widths["NAV No."], v.table.grid.column_widths["Name"]
        v.table.sort_by("name")
        sorted_name_w = v.table.grid.column_widths["Name"]
    total = len(names)
    assert total > PAGE
    first = min(names, key=lambda no: _by_name(names, no))
    page_first = min(sorted(names)[:PAGE], key=lambda no: _by_name(names, no))  # the first page re-sorted
    assert first != page_first, "the data must put the whole set's first pair off the first page"

    with app_page(url, width=1500) as page:
        _tab(page, "Differences")
        view = page.locator(".cs-differences")
        expect(view.locator(".cs-diff-summary")).to_contain_text(f"{total:,} pair(s)", timeout=90_000)
        view.locator(".cs-diff-table.cs-grid-ready").wait_for()
        page.wait_for_timeout(600)
        arrow_at = [key_w + name_w - 34, key_w + name_w - 12]  # left of the header's filter icon
        assert page.evaluate(COLOURED, arrow_at) == 0  # no sort: no arrow
        grid = view.locator(".cs-datagrid")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + key_w + name_w - 8, box["y"] + HEADER // 2)  # Name's menu icon
        page.locator(".lm-Menu-item", has_text="Sort Ascending").click()
        expect(view.locator(".cs-grid-query-said")).to_have_text(
            f"Sorted by Name — over all {total:,} pairs that match.", timeout=60_000)
        expect(view.locator(".cs-diff-pager .cs-page-label")).to_contain_text(
            f"1–{PAGE} of {total:,}")
        page.wait_for_timeout(800)  # the rows and the header repaint
        arrow_at = [key_w + sorted_name_w - 34, key_w + sorted_name_w - 12]
        assert page.evaluate(COLOURED, arrow_at) > 0, "no sort arrow in Name's header"
        _shot(page, "differences-sort-1-by-name")

        # the first row is the whole set's first: select it, and the Send question names it
        box = grid.bounding_box()
        page.mouse.click(box["x"] + key_w + 40, box["y"] + HEADER + ROW // 2)
        push = view.locator("button.cs-diff-push")
        expect(push).to_have_text("Send 1 selected to Dynamics CRM")
        push.click()
        question = view.locator(".cs-confirm .cs-msg-warn")
        expect(question).to_contain_text(f"— {first} {names[first]}:")
        _shot(page, "differences-sort-2-first-row-question")
        view.locator(".cs-confirm button.cs-confirm-no").click()
        expect(view.locator(".cs-confirm")).to_be_hidden()
        assert page.dialogs == []
    with _workspace(ws_path) as ws:
        assert len(ws.runs()) == runs  # No sent nothing
