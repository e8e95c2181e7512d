"""The full steward walk (not a test: the note's screenshots): every view of the steward app in chromium, as a new
steward would use it, on a copy of the bundled sample workspace (``contactsync app``'s demo) under a tmp dir.

``python tests/steward_walk.py [--only N,M]`` serves the app as ``contactsync app`` does (``serve_app`` of
tests/test_browser.py) and walks: NAV Contacts (search, a header sort over every page, page jump, the card, Create
in CRM, Synchronize Now preview + OK, Set Up Coupling, the Delete Coupling question), CRM Contacts (Coupled filter,
the bulk Create in NAV question), Accounts and a company's card, Differences (field filter, the Get selected
confirmation naming its fields, the pick panel), Full Synchronization Review, Synchronization Errors, Table Mapping
(an invalid edit refused, a valid one saved), History (a run naming its contacts, the undo question), Connections.
One screenshot per step, ``tests/artifacts/walk-NN-<name>.png`` (1280x900; full page where it helps); what each
step showed is printed, and the walk checks the workspace file where an action changed it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_browser import ARTIFACTS, app_page, serve_app  # noqa: E402

HEADER, ROW = 20, 22  # the grid's header and row heights (px)


class Walk:
    def __init__(self, page, ws_path: Path):
        self.page, self.ws_path, self.n = page, ws_path, 0
        self.t0 = time.monotonic()

    def ws(self):
        from contactsync import Workspace

        return Workspace.open(self.ws_path)

    def shot(self, name: str, said: str, *, at=None, whole=None) -> None:
        """A 1280x900 screenshot (scrolled to ``at``); ``whole``: the whole of that element instead (the app
        scrolls inside its own container, so a full-page screenshot would show the viewport only)."""
        self.n += 1
        self.page.wait_for_timeout(500)  # the canvas paints after the data arrives
        path = ARTIFACTS / f"walk-{self.n:02d}-{name}.png"
        if whole is not None:
            whole.screenshot(path=str(path))
        else:
            if at is not None:
                at.scroll_into_view_if_needed()
            self.page.screenshot(path=str(path))
        print(f"[{time.monotonic() - self.t0:6.1f}s] {path.name}: {said}")

    def tab(self, title: str):
        self.page.locator(".cs-tabs .lm-TabBar-tab", has_text=title).first.click()

    def text(self, css: str) -> str:
        return " | ".join(self.page.locator(css).all_inner_texts())


def col_x(view_cls, ws, title: str, *, icon: bool = False) -> int:
    """The x offset in the grid of ``title``'s column (its middle, or its header menu icon) as the view lays
    it out on its first page (the same view built here on the same workspace)."""
    v = view_cls(ws)
    widths = v.table.grid.column_widths
    order = ([v.table.key_title] if v.table.grid.header_visibility == "all" else []) + [t for _, t in v.table.columns]
    x = 0
    for t in order:
        w = widths.get(t, 160)
        if t == title:
            return x + (w - 8 if icon else w // 2)
        x += w
    raise KeyError(title)


def click_row(page, grid, i: int, x: int = 300) -> None:
    box = grid.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + HEADER + ROW * i + ROW // 2)


def wait_label(page, view_css: str, starts: str) -> None:
    page.wait_for_function("([v, s]) => (document.querySelector(v + ' .cs-page-label') || {}).innerText?.startsWith(s)",
                           arg=[view_css, starts])


def nav_search(page, term: str, starts: str = "1–1 of 1") -> None:
    css = ".cs-nav-contacts"
    box = page.locator(css + " .cs-nav-search input")
    if box.input_value():
        box.fill("")
        wait_label(page, css, "1–12 of")
    box.fill(term)
    wait_label(page, css, starts)


def nav_contacts(walk: Walk) -> None:
    from contactsync.ui import NavContactsView

    page = walk.page
    walk.tab("Contacts (Dynamics NAV)")
    css = ".cs-nav-contacts"
    view = page.locator(css)
    grid = view.locator(".cs-datagrid")
    view.locator(".cs-grid-ready").wait_for()
    with walk.ws() as ws:
        total = ws.nav_contacts(limit=1).attrs["total"]
        city_icon = col_x(NavContactsView, ws, "City", icon=True)
        first_desc = ws.nav_contacts(order_by=[("City", True)], limit=1).iloc[0]
        persons = ws.nav_contacts(limit=None)
        persons = persons[persons["Type"] == "Person"]
        acc = ws.accounts()
        coupled_cos = set(acc.loc[acc["coupled"], "nav_no"].dropna())
        diffs = ws.differences()
        to_create = persons[~persons["coupled"] & persons["Company No."].isin(coupled_cos)].iloc[0]
        to_couple = persons[~persons["coupled"]].iloc[1]
        diff_no = diffs["nav_no"].iloc[0]
    wait_label(page, css, f"1–12 of {total:,}")
    walk.shot("nav-list", f"NAV Contacts: {walk.text(css + ' .cs-page-label')}")

    # search as you type (accent-folded)
    view.locator(".cs-nav-search input").fill("muller")
    page.wait_for_function("document.querySelector('.cs-nav-contacts .cs-page-label').innerText.indexOf('of 280') < 0")
    walk.shot("nav-search", f"search 'muller': {walk.text(css + ' .cs-page-label')}")
    view.locator(".cs-nav-search input").fill("")
    wait_label(page, css, f"1–12 of {total:,}")

    # a header sort over every page: City's header menu, Sort Descending
    box = grid.bounding_box()
    page.mouse.click(box["x"] + city_icon, box["y"] + HEADER // 2)
    page.locator(".lm-Menu-item", has_text="Sort Descending").click()
    note = view.locator(".cs-grid-query-said")
    note.wait_for()
    page.wait_for_timeout(800)
    walk.shot("nav-sorted-by-city", f"{note.inner_text()} (the whole set's first: {first_desc['No.']} "
              f"{first_desc['City']})")
    click_row(page, grid, 0)
    view.locator(".cs-contact-card .cs-title", has_text=str(first_desc["No."])).wait_for()
    print("   first row after the sort opens the card of", first_desc["No."], "- as the whole set's first")

    # page jump
    view.locator(".cs-page-jump input").fill("5")
    view.locator("button.cs-page-go").click()
    wait_label(page, css, "49–60 of")
    walk.shot("nav-page-jump", f"page 5: {walk.text(css + ' .cs-page-label')}; {note.inner_text()}")
    view.locator("button.cs-grid-clear").click()
    page.wait_for_function("!document.querySelector('.cs-nav-contacts .cs-grid-query-said')")

    # a header's value filter: its values are the whole filtered set's (DuckDB), not the page's
    box = grid.bounding_box()
    page.mouse.click(box["x"] + city_icon, box["y"] + HEADER // 2)
    page.locator(".lm-Menu-item", has_text="Filter by value").click()
    page.wait_for_timeout(1500)
    walk.shot("nav-filter-by-value", "City's value filter (every city of the filtered set)")
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)

    # the card of an uncoupled person under a coupled company: Create Contact in Dynamics CRM
    card = view.locator(".cs-contact-card")
    nav_search(page, str(to_create["No."]))
    click_row(page, grid, 0)
    card.locator(".cs-title", has_text=str(to_create["No."])).wait_for()
    walk.shot("nav-card", f"card of {to_create['No.']}: {walk.text('.cs-nav-contacts .cs-coupling-status')}",
              whole=card)
    card.locator("button.cs-create-crm").click()
    card.locator(".cs-message").first.wait_for()
    walk.shot("nav-created-in-crm", walk.text(".cs-contact-card .cs-message"), at=card.locator(".cs-message").first)
    with walk.ws() as ws:
        assert ws.nav_contact(str(to_create["No."]))["coupled"], "Create in CRM did not couple"

    # Synchronize Now on a coupled person with differences: the preview, then OK
    nav_search(page, str(diff_no))
    click_row(page, grid, 0)
    card.locator(".cs-title", has_text=str(diff_no)).wait_for()
    card.locator("button.cs-sync-now").click()
    dialog = card.locator(".cs-sync-dialog")
    dialog.locator("label", has_text="Send updated data to Dynamics CRM").click()
    dialog.locator(".cs-sync-preview", has_text="What will change").wait_for()
    page.wait_for_function("!document.querySelector('.cs-sync-dialog button.cs-sync-ok').disabled")
    walk.shot("nav-sync-now-preview", dialog.locator(".cs-sync-preview").first.inner_text()[:300], whole=dialog)
    dialog.locator("button.cs-sync-ok").click()
    card.locator(":scope > .cs-message, .cs-message").first.wait_for()
    walk.shot("nav-sync-now-done", walk.text(".cs-contact-card .cs-message"), at=card.locator(".cs-message").first)

    # Set Up Coupling on an uncoupled person: the dialog (then Cancel)
    nav_search(page, str(to_couple["No."]))
    click_row(page, grid, 0)
    card.locator(".cs-title", has_text=str(to_couple["No."])).wait_for()
    card.locator("button.cs-setup-coupling").click()
    cdialog = card.locator(".cs-coupling-dialog")
    cdialog.wait_for()
    walk.shot("nav-set-up-coupling", walk.text(".cs-coupling-dialog .cs-title") + " | " +
              walk.text(".cs-coupling-dialog .cs-hint"), whole=cdialog)
    cdialog.locator("button.cs-coupling-cancel").click()

    # Delete Coupling asks first (then No)
    nav_search(page, str(diff_no))
    click_row(page, grid, 0)
    card.locator(".cs-title", has_text=str(diff_no)).wait_for()
    card.locator("button.cs-delete-coupling").click()
    q = card.locator(".cs-confirm .cs-msg-warn")
    q.wait_for()
    walk.shot("nav-delete-coupling-question", q.inner_text(), at=q)
    card.locator(".cs-confirm button.cs-confirm-no").click()
    view.locator(".cs-nav-search input").fill("")


def crm_contacts(walk: Walk) -> None:
    page = walk.page
    walk.tab("Dynamics CRM Contacts")
    css = ".cs-crm-contacts"
    view = page.locator(css)
    grid = view.locator(".cs-datagrid")
    with walk.ws() as ws:
        uncoupled = ws.crm_contacts(coupled=False, limit=1).attrs["total"]
    view.locator(".cs-coupled-filter select").select_option(label="Uncoupled")
    wait_label(page, css, f"1–15 of {uncoupled:,}" if uncoupled > 15 else f"1–{uncoupled} of {uncoupled}")
    walk.shot("crm-uncoupled", f"CRM Contacts, Uncoupled: {walk.text(css + ' .cs-page-label')}")
    # three rows (click, ctrl-click, ctrl-click): the bulk Create in NAV asks first, naming them
    click_row(page, grid, 0, x=100)
    page.keyboard.down("Control")
    click_row(page, grid, 1, x=100)
    click_row(page, grid, 2, x=100)
    page.keyboard.up("Control")
    create = view.locator("button.cs-create-nav")
    page.wait_for_function("document.querySelector('.cs-crm-contacts button.cs-create-nav').innerText.includes('3 selected')")
    create.click()
    q = view.locator(".cs-confirm .cs-msg-warn")
    q.wait_for()
    walk.shot("crm-bulk-create-question", q.inner_text(), at=q)
    view.locator(".cs-confirm button.cs-confirm-no").click()
    view.locator(".cs-coupled-filter select").select_option(label="All")


def accounts(walk: Walk) -> None:
    page = walk.page
    walk.tab("Dynamics CRM Accounts")
    view = page.locator(".cs-accounts")
    view.locator(".cs-acc-table .cs-row").first.wait_for()
    walk.shot("accounts", walk.text(".cs-accounts .cs-acc-pager"))
    with walk.ws() as ws:
        acc = ws.accounts()
        name, no = acc.loc[acc["coupled"]].iloc[0][["name", "nav_no"]]
    box = view.locator(".cs-acc-search input")
    box.fill(str(name))
    box.press("Enter")
    page.wait_for_function("document.querySelectorAll('.cs-accounts .cs-acc-table .cs-row').length === 1")
    view.locator(".cs-acc-table .cs-row-select input").click()
    page.wait_for_function("!document.querySelector('.cs-accounts button.cs-acc-open').disabled")
    view.locator("button.cs-acc-open").click()
    card = page.locator(".cs-nav-contacts .cs-contact-card")
    card.locator(".cs-title", has_text=str(no)).wait_for()
    walk.shot("company-card", f"{card.locator('.cs-title').inner_text()}: "
              f"{walk.text('.cs-nav-contacts .cs-coupling-status')}", whole=card)


def differences(walk: Walk) -> None:
    page = walk.page
    walk.tab("Differences")
    view = page.locator(".cs-differences")
    view.locator(".cs-grid-ready").wait_for()
    walk.shot("differences", walk.text(".cs-diff-summary"))
    with walk.ws() as ws:
        diffs = ws.differences()
    field = diffs["nav_field"].value_counts().index[0]
    view.locator(".cs-diff-field select").select_option(label=str(field))
    page.wait_for_timeout(1500)
    click_row(page, view.locator(".cs-datagrid"), 0, x=160)
    page.wait_for_function("!document.querySelector('button.cs-diff-pull').disabled")
    walk.shot("differences-field-filter", f"Field = {field}: {walk.text('.cs-diff-summary')}")
    view.locator("button.cs-diff-pull").click()
    q = view.locator(".cs-confirm")
    q.wait_for()
    said = q.inner_text()
    assert str(field) in said, said
    walk.shot("differences-get-question", said, at=q)
    view.locator(".cs-confirm button.cs-confirm-no").click()
    view.locator(".cs-diff-field select").select_option(index=0)
    page.wait_for_timeout(1500)
    click_row(page, view.locator(".cs-datagrid"), 0, x=160)
    page.wait_for_function("!document.querySelector('button.cs-diff-pick').disabled")
    view.locator("button.cs-diff-pick").click()
    panel = view.locator(".cs-pick-panel")
    panel.wait_for()
    walk.shot("differences-pick-panel", f"{panel.locator('.cs-pick-row').count()} field(s) to pick", whole=panel)
    panel.locator("button.cs-pick-cancel").click()


def review(walk: Walk) -> None:
    page = walk.page
    walk.tab("Review matches")
    page.wait_for_timeout(3000)
    walk.shot("review-matches", "Review matches")
    walk.tab("Full Synchronization")
    view = page.locator(".cs-fullsync")
    view.locator(".cs-fs-table .cs-row").first.wait_for()
    walk.shot("full-sync-review", view.locator(".cs-fs-table .cs-row").first.inner_text()[:200].replace("\n", " | "))
    view.locator(".cs-fs-table .cs-row-select input").first.click()
    page.wait_for_timeout(800)
    preview = view.locator("button.cs-fs-preview")
    if preview.is_enabled():
        preview.click()
        page.wait_for_timeout(4000)
    walk.shot("full-sync-preview", (walk.text(".cs-fullsync .cs-fs-result") or walk.text(".cs-fullsync .cs-message")
                                    or "Preview disabled: " + (preview.get_attribute("title") or ""))[:300])


def errors(walk: Walk) -> None:
    page = walk.page
    with walk.ws() as ws:  # a push of every coupled pair, as a steward's scheduled run: its failures are listed
        r = ws.sync("push")
        print(f"   (a push run {r.run_id}: {r.failed} failed)")
    walk.tab("Synchronization Errors")
    page.locator(".cs-errors .cs-err-summary").wait_for()
    page.wait_for_timeout(2000)
    walk.shot("sync-errors", walk.text(".cs-errors .cs-err-summary")[:300])


def mapping(walk: Walk) -> None:
    page = walk.page
    walk.tab("Table Mapping")
    view = page.locator(".cs-mapping")
    nav = view.locator(".cs-tm-nav-filter-edit textarea")
    nav.wait_for()
    before = nav.input_value()
    nav.fill(before.replace("Person", "Persn"))
    view.locator("button.cs-tm-save-filters").click()
    msg = view.locator(".cs-tm-filter-message", has_text="keeps none")
    msg.wait_for()
    walk.shot("mapping-invalid-refused", msg.inner_text()[:300], at=msg)
    nav.fill(before + "\nCountry/Region Code <> 'US'")
    view.locator("button.cs-tm-save-filters").click()
    ok = view.locator(".cs-tm-filter-message", has_text="Saved")
    ok.wait_for()
    walk.shot("mapping-valid-saved", ok.inner_text()[:300], at=ok)
    with walk.ws() as ws:
        assert ws.mapping.nav_filter[-1].column == "Country/Region Code"


def history(walk: Walk) -> None:
    page = walk.page
    walk.tab("History")
    view = page.locator(".cs-history")
    row = view.locator(".cs-history-table .cs-row").first
    row.wait_for()
    walk.shot("history", walk.text(".cs-history .cs-history-table .cs-row")[:300])
    row.locator(".cs-row-select input").click()
    view.locator(".cs-run-changes").first.wait_for()
    page.wait_for_timeout(1000)
    walk.shot("history-run", view.locator(".cs-run-changes").first.inner_text()[:300], at=view.locator(".cs-run-changes").first)
    view.locator("button.cs-undo").click()
    q = view.locator(".cs-confirm")
    q.wait_for()
    walk.shot("history-undo-question", q.inner_text(), at=q)
    view.locator(".cs-confirm button.cs-confirm-no").click()


def connections(walk: Walk) -> None:
    page = walk.page
    walk.tab("Connections")
    page.locator(".cs-connections").wait_for()
    page.wait_for_timeout(1500)
    walk.shot("connections", walk.text(".cs-connections .cs-connections-status")[:300])


STEPS = [nav_contacts, crm_contacts, accounts, differences, review, errors, mapping, history, connections]


def main(argv: list[str]) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="cs-steward-walk-"))
    ws_path = tmp / "steward.duckdb"
    from contactsync.demo import build_demo

    build_demo(ws_path).close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with serve_app(ws_path, tmp) as url, app_page(url, width=1280, height=900, timeout=60_000) as page:
            walk = Walk(page, ws_path)
            only = {a for arg in argv if arg != "--only" for a in arg.split(",")}
            for step in STEPS:
                if not only or step.__name__ in only:
                    step(walk)
            if page.dialogs:
                print("browser dialogs:", page.dialogs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
