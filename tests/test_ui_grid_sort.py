"""The lists' header sort and filter cover the whole filtered set (DuckDB), not the page shown: the pages of a
sorted, filtered NAV list concatenated are the whole set sorted in pandas (ties by key); "Select all" and the
bulk actions take the same set; a bad column is refused; a cut cell's full text shows on a click."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, CRM_3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync.ui import CrmContactsView, NavContactsView

CITIES = ["Berlin", "berlin", "Åarhus", "Aachen", "Zürich", "zug", "Émile", "", None]
WORDS = ["anna", "Anna", "Bert", "bert", "Öl", "Olaf", "", None]
COLUMNS = {"City": "City", "E-Mail": "E-Mail", "Company Name": "Company", "No.": "No.",
           "coupled_label": "Coupled", "Type": "Type"}


def _fold(v: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", v) if not unicodedata.combining(c)).lower()


def expected_order(df: pd.DataFrame, column: str, descending: bool) -> list[str]:
    """The list order in pandas: blank last in either direction, then case- and accent-folded text, then the
    exact text (both in the chosen direction), then the key ascending."""
    shown = df[column].fillna("").astype(str)
    ref = pd.DataFrame({"blank": shown == "", "folded": shown.map(_fold), "raw": shown, "key": df["No."]})
    ref = ref.sort_values(["blank", "folded", "raw", "key"], ascending=[True, not descending, not descending, True],
                          kind="stable")
    return ref["key"].tolist()


rows = st.lists(st.fixed_dictionaries({"City": st.sampled_from(CITIES), "E-Mail": st.sampled_from(WORDS),
                                       "Company Name": st.sampled_from(WORDS),
                                       "Type": st.sampled_from(["Person", "Company"])}),
                min_size=1, max_size=25)


def _workspace(data: list[dict]) -> cs.Workspace:
    nav = pd.DataFrame([{"No.": f"K{i:03d}", **r, "First Name": "F", "Surname": f"S{i}"} for i, r in enumerate(data)])
    ws = cs.Workspace.open(":memory:")
    ws.import_nav(nav)
    return ws


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, column=st.sampled_from(sorted(COLUMNS)), descending=st.booleans(),
       page_size=st.integers(1, 6), keep=st.none() | st.sets(st.sampled_from(["Berlin", "berlin", "Zürich", ""])))
def test_the_pages_of_a_sorted_filtered_list_are_the_whole_set_in_order(data, column, descending, page_size, keep):
    ws = _workspace(data)
    try:
        v = NavContactsView(ws, page_size=page_size)
        if keep is not None:
            v.table.filter_by("City", "in", sorted(keep))
        v.pager.offset = page_size  # a header sort goes back to page 1
        v.table.sort_by(column, descending)
        assert v.pager.offset == 0
        got: list[str] = []
        for page in range(1, v.jump.pages + 1):
            v.jump.go(page)
            got += [r["No."] for r in v.table.rows]
        whole = ws.nav_contacts(limit=None)
        whole["coupled_label"] = "No"
        if keep is not None:
            whole = whole[whole["City"].fillna("").isin(keep)]
        assert got == expected_order(whole, column, descending)
        assert v.pager.total == len(whole)
        # the note says it, over the whole set; Select all takes the same (filtered) set
        if got:
            said = v.table.query_note.value
            assert f"Sorted by {COLUMNS[column]}" in said and f"{len(whole):,} contact" in said
        v.select_all.value = True
        assert sorted(v.selection()) == sorted(whole["No."])
    finally:
        ws.close()


def test_a_header_filter_narrows_the_bulk_action_to_what_the_list_shows(ws):
    ws.couple("CT000001", CRM_1)
    ws.couple("CT000002", CRM_2)
    v = CrmContactsView(ws)
    assert v.pager.total == 3
    v.table.filter_by("address1_city", "in", ["Dublin"])
    assert [r["contactid"] for r in v.table.rows] == [CRM_2] and v.pager.total == 1
    assert "City is one of Dublin" in v.table.query_note.value
    v.select_all.value = True
    assert v.selection() == [CRM_2]
    v.uncouple()  # the question names the one filtered contact, and the run uncouples it alone
    assert "1 CRM contact(s)" in v.confirm.question.value
    v.confirm.yes.click()
    assert ws.nav_contact("CT000001")["coupled"] and not ws.nav_contact("CT000002")["coupled"]
    # the header's value list is the filtered set's (the other columns' filters applied), not the page's
    v.table.clear_query()
    assert v.pager.total == 3 and v.table.query_note.value == ""
    v.table.filter_by("coupled_label", "in", ["No"])
    assert v._values("address1_city") == ["", "Dublin"]
    assert sorted(r["contactid"] for r in v.table.rows) == sorted([CRM_2, CRM_3])


def test_a_text_filter_and_a_sort_by_name_on_the_crm_list(ws):
    v = CrmContactsView(ws)
    v.table.sort_by("name", True)
    assert [r["name"] for r in v.table.rows] == ["Siobhan O'Brien", "Nina Nowak", "Jürgen Müller"]
    v.table.filter_by("emailaddress1", "contains", "OBRIEN")  # case-insensitive
    assert [r["contactid"] for r in v.table.rows] == [CRM_2]
    assert "E-Mail contains “OBRIEN”" in v.table.query_note.value


@pytest.mark.parametrize("order_by", [[("x\"; DROP TABLE nav_contact; --", False)], [("City", "desc")], "City",
                                      [("City",)]])
def test_a_bad_sort_request_is_refused_and_changes_nothing(ws, order_by):
    before = ws.nav_contacts(limit=None)
    with pytest.raises(cs.ContactSyncError) as e:
        ws.nav_contacts(order_by=order_by)
    assert "order_by" in str(e.value) or "no such column" in str(e.value)
    pd.testing.assert_frame_equal(ws.nav_contacts(limit=None), before)


@pytest.mark.parametrize("filters", [[("Nope", "in", ["a"])], [("City", "regex", ".*")], [("City", "in", "Berlin")],
                                     [("City", "=", {"a": 1})]])
def test_a_bad_filter_request_is_refused(ws, filters):
    with pytest.raises(cs.ContactSyncError):
        ws.nav_contacts(filters=filters)


def test_a_header_on_an_unknown_column_is_ignored_and_a_cut_cell_shows_its_full_text(ws):
    long_mail = "a.very.long.address.of.someone.somewhere@" + "x" * 120 + ".example.com"
    ws.sql("UPDATE nav_contact SET \"E-Mail\" = ? WHERE \"No.\" = 'CT000003'", [long_mail], write=True)
    v = NavContactsView(ws)
    v.table.grid._transforms = [{"type": "sort", "column": "No such column", "desc": True}]
    assert v.table.order() == [] and v.table.query_note.value == ""
    # the column widened to its text, up to the cap; the click on the still cut cell says the full text
    assert v.table.grid.column_widths["E-Mail"] == v.table.max_width
    v.table._cell_clicked({"region": "body", "column": "E-Mail", "cell_value": long_mail})
    assert long_mail in v.table.cell_full.value
    v.table._cell_clicked({"region": "body", "column": "City", "cell_value": "Berlin"})
    assert v.table.cell_full.value == ""


def test_the_cards_history_names_the_coupled_contact_not_its_guid(ws):
    from contactsync.ui.nav_contacts import ContactCard

    ws.couple("CT000001", CRM_1, sync_after="push")
    card = ContactCard(ws)
    card.load("CT000001")
    assert "coupled to" in card.history.value and "Jürgen Müller" in card.history.value
    assert CRM_1 not in card.history.value


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, column=st.sampled_from(["City", "E-Mail", "Company Name"]), descending=st.booleans(),
       keep=st.none() | st.sets(st.sampled_from(["Berlin", "berlin", "Zürich", ""])))
def test_a_frame_held_in_python_sorts_and_filters_as_duckdb_does(data, column, descending, keep):
    """The Errors view's frame (in pandas) and the lists (in DuckDB) agree on a header's sort and filter."""
    from contactsync.listquery import ColumnFilter, FilterOp, SortKey
    from contactsync.ui.grid import frame_query

    ws = _workspace(data)
    try:
        filters = [] if keep is None else [ColumnFilter("City", FilterOp.IN, sorted(keep))]
        order = [SortKey(column, descending)]
        duck = ws.nav_contacts(limit=None, order_by=order, filters=filters)["No."].tolist()
        frame = ws.nav_contacts(limit=None).sample(frac=1, random_state=1)  # any order in
        assert frame_query(frame, order, filters, "No.")["No."].tolist() == duck
    finally:
        ws.close()


def test_the_errors_view_sorts_and_filters_every_record_by_its_headers(synced):
    from contactsync.ui import ErrorsView

    synced.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", "E-Mail": "not-an-email",
                                     "SystemModifiedAt": "2026-06-01 10:00:00"} for no in ("CT000001", "CT000002")]))
    synced.sync("push")
    v = ErrorsView(synced, page_size=1)
    assert v.pager.total == 2
    v.table.sort_by("nav_no", True)
    assert [r["nav_no"] for r in v.table.rows] == ["CT000002"] and v.pager.offset == 0
    assert "Sorted by NAV No., descending — over all 2 records that match" in v.table.query_note.value
    v.table.filter_by("nav_no", "in", ["CT000001"])
    assert [r["nav_no"] for r in v.table.rows] == ["CT000001"] and v.pager.total == 1
    v.select_all.value = True
    assert v.selection() == ["CT000001"]


def test_a_header_filter_that_does_not_translate_is_said_not_dropped(ws):
    v = NavContactsView(ws)
    before = [r["No."] for r in v.table.rows]
    v.table.grid._transforms = [{"type": "filter", "column": "City", "operator": "between", "value": ["A", "C"]}]
    assert [r["No."] for r in v.table.rows] == before
    assert "Not applied" in v.table.query_note.value and "City between" in v.table.query_note.value
    v.table.clear_query()
    assert "Not applied" not in v.table.query_note.value


def test_a_value_filter_from_a_cut_value_list_says_so(ws, monkeypatch):
    import contactsync.ui.grid as grid

    monkeypatch.setattr(grid, "VALUES_SHOWN", 2)
    v = NavContactsView(ws)
    assert len(v.table._values("City")) == 2  # the menu's list, cut
    v.table.filter_by("City", "in", ["Berlin"])
    assert "showed the first 2 values only" in v.table.query_note.value


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.text() | st.sampled_from(CITIES + WORDS + ["Groß · Émile", "ǅ", "ﬁ", "a\u0301"]), max_size=30))
def test_the_vectorised_fold_and_text_are_the_plain_ones(values):
    """The fast paths (ASCII lower case in one step, a text without marks skipping the per-character step, one
    fold per distinct text, text of a text column in one step) give what the plain definitions give."""
    from contactsync.ui.common import text
    from contactsync.ui.grid import _fold as fast_fold
    from contactsync.ui.grid import _folded, texts

    s = pd.Series(values, dtype=object)
    shown = s.map(text)
    assert texts(s).tolist() == shown.tolist()
    assert texts(s.astype("string")).tolist() == shown.tolist()
    assert _folded(shown).tolist() == [_fold(v) for v in shown]
    assert all(fast_fold(v) == _fold(v) for v in shown)


def test_a_header_sort_repaints_the_nav_lists_header_once(ws):
    """The NAV list's header shows its sort arrow too: a sort change nudges the row count (the front end repaints
    the header on that model reset), a page turn or a refresh with the same sort does not."""
    v = NavContactsView(ws, page_size=2)
    counts: list[int] = []
    v.table.grid.observe(lambda c: counts.append(c["new"]), names="_row_count")
    v.table.sort_by("City", True)
    assert counts == [3, 2]
    v.jump.go(2)
    v.refresh()
    assert counts == [3, 2]
    v.table.sort_by("City")  # the other direction: a new sort
    assert counts[-2:] == [3, 2] and len(counts) == 4
