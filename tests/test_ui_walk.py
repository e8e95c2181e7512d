"""The steward app walked as a steward would, in plain pytest: widget leaks, History wording, field-limited
Differences actions, the Synchronize Now preview's failures, companies, and the small things of issue 16."""

from __future__ import annotations

import gc

from contactsync.ui import StewardApp
from contactsync.ui.common import live_widgets


def _live() -> int:
    gc.collect()
    return live_widgets()


# -- issue 16 item 8: widgets are closed when replaced ------------------------------------------------
def test_paging_20_times_leaves_the_live_widget_count_flat(demo):
    app = StewardApp(demo)
    nav, crm = app.nav_contacts, app.crm_contacts
    assert nav.pager.total > 3 * nav.pager.page_size
    nav.pager.next.click()
    nav.pager.prev.click()
    before = _live()
    for _ in range(10):
        nav.pager.next.click()
        crm.pager.next.click()
    for _ in range(10):
        nav.pager.prev.click()
        crm.pager.prev.click()
    assert nav.pager.offset == 0
    assert _live() == before, "paging left widgets alive"


def test_opening_cards_and_dialogs_again_and_again_leaves_the_count_flat(synced):
    app = StewardApp(synced)
    nav = app.nav_contacts
    nav.table.select("CT000001")
    nav.card.open_coupling()
    nav.card.open_sync_now()
    nav.card.close_dialog()
    before = _live()
    for no in ["CT000002", "CT000001"] * 5:
        nav.table.select(no)
        nav.card.open_coupling()
        nav.card.open_sync_now()
        nav.card.dialog.cancel.click()
    app.show(app.differences)
    app.show(app.history)
    app.differences.refresh()
    app.history.refresh()
    mid = _live()
    for _ in range(5):
        app.differences.refresh()
        app.history.refresh()
    assert _live() == mid, "refreshing Differences/History left widgets alive"
    assert mid - before < 400  # the two views' first load, not a leak per action
    nav.table.select("CT000002")
    nav.card.open_coupling()
    nav.card.open_sync_now()
    nav.card.dialog.cancel.click()
    nav.table.select("CT000001")
    assert _live() == mid, "opening the card and its dialogs left widgets alive"


def test_close_tree_closes_layouts_and_styles():
    import ipywidgets as w

    from contactsync.ui.common import close_tree

    before = _live()
    box = w.VBox([w.HBox([w.Button(description="x"), w.Checkbox()]), w.HTML("x")])
    assert _live() > before
    close_tree(box)
    assert _live() == before
