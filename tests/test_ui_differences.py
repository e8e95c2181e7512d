"""Differences over a bench workspace (2,000 coupled persons, 220 differing pairs): pages, the whole
filtered set as one action, exactly the filtered fields, undo, no widget leak while paging, and the grid's header
sort and filters over every filtered pair (a property against a plain pandas computation)."""

from __future__ import annotations

import shutil
import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_bench import build

from contactsync import Workspace
from contactsync.ui import DifferencesView, HistoryView
from contactsync.ui.common import live_widgets
from contactsync.ui.differences import ALL

PERSONS = 2_000


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build(tmp_path_factory.mktemp("diffbench") / "bench.duckdb", PERSONS)


@pytest.fixture
def big(template, tmp_path):
    path = tmp_path / "ws.duckdb"
    shutil.copyfile(template, path)
    w = Workspace.open(path)
    yield w
    w.close()


def pairs(ws, field=None):
    d = ws.differences()
    return set(d.loc[d["nav_field"] == field, "nav_no"] if field else d["nav_no"])


def assert_same_as_a_full_read(v):
    full = v.ws.differences(label="Name")
    pd.testing.assert_frame_equal(v.all.astype({"nav_no": str}).reset_index(drop=True), full.astype({"nav_no": str}))


def test_pages_show_every_pair_and_label_only_the_page(big):
    v = DifferencesView(big, max_pairs=50)
    everyone = pairs(big)
    assert len(everyone) == PERSONS // 10 + PERSONS // 100 and v.pager.total == len(everyone)
    assert len(v.table.rows) == 50 and "1–50 of 220" in v.pager.label.value
    seen = set()
    while True:
        seen |= {r["nav_no"] for r in v.table.rows}
        assert all(r["name"] for r in v.table.rows)  # labelled from NAV
        if v.pager.next.disabled:
            break
        v.pager.next.click()
    assert seen == everyone


def test_bulk_action_on_the_whole_filtered_set_is_one_run_of_exactly_the_filtered_field(big):
    v = DifferencesView(big, max_pairs=50)
    mobile, title = pairs(big, "Mobile Phone No."), pairs(big, "Job Title")
    runs_before = len(big.runs())
    v.field.value = "Mobile Phone No."
    assert v.pager.total == len(mobile) == 200
    v.select_all.value = True
    assert not v.push_button.disabled and "200 selected" in v.push_button.description
    v.push_button.click()
    question = v.confirm.question.value
    assert v.confirm.is_open and "Mobile Phone No. of 200 contact(s)" in question and "Job Title" not in question
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert len(big.runs()) == runs_before + 1
    run = int(big.runs()["run_id"].max())
    assert pairs(big, "Mobile Phone No.") == set() and pairs(big, "Job Title") == title  # only the filtered field
    assert_same_as_a_full_read(v)  # the view re-read the 200 pairs it ran on, and kept the others' rows
    changed = big.changes(run)
    assert set(changed["field"]) - {"modifiedon"} == {"mobilephone"}
    assert (changed["field"] == "mobilephone").sum() == 200
    # the app's undo restores the 200 values in one run
    h = HistoryView(big)
    h.table.select(str(run))
    h.undo_button.click()
    h.confirm.yes.click()
    assert h.messages.kind == "ok" and pairs(big, "Mobile Phone No.") == mobile


def test_a_selection_whose_pairs_show_other_fields_is_refused_with_the_pairs_named(big):
    v = DifferencesView(big, max_pairs=50)
    v.state.value = "NAV changed"  # both-changed pairs show Mobile only; NAV-changed ones Job Title too
    v.select_all.value = True
    before = big.runs()
    v.pull_button.click()
    assert not v.confirm.is_open and v.messages.kind == "warn"
    assert "Job Title" in v.messages.text and "more" in v.messages.text
    assert len(big.runs()) == len(before)


def test_paging_20_times_leaves_the_widget_count_flat(big):
    v = DifferencesView(big, max_pairs=10)
    v.pager.next.click()
    v.pager.prev.click()
    start = live_widgets()
    for _ in range(10):
        v.pager.next.click()
    for _ in range(10):
        v.pager.prev.click()
    v.filter.value = "CT"
    v.refresh()
    assert live_widgets() == start


def test_refresh_greys_the_old_table_and_frees_it_after(big):
    v = DifferencesView(big, max_pairs=10, autoload=False)
    seen = []
    real = big.differences

    def spy(*a, **kw):
        seen.append(("cs-busy" in v.table._dom_classes, v.push_button.disabled, v.select_all.disabled))
        return real(*a, **kw)

    big.differences = spy
    v.refresh()
    assert seen == [(True, True, True)]
    assert "cs-busy" not in v.table._dom_classes and not v.select_all.disabled


def test_the_card_shows_what_changed_when_by_which_run(big):
    from contactsync.ui.nav_contacts import ContactCard

    d = big.differences()
    no = d.loc[d["nav_field"] == "Mobile Phone No.", "nav_no"].iloc[0]
    run = big.sync("push", nos=[no], force=True, fields=["Mobile Phone No."])
    card = ContactCard(big)
    card.load(no)
    html_ = card.history.value
    new = big.nav_contact(no)["Mobile Phone No."]
    # the CRM field by its NAV name (the card's history names fields as the steward knows them)
    assert f">{run.run_id}<" in html_ and "Synchronization" in html_ and "Mobile Phone No." in html_ and new in html_
    assert "mobilephone" not in html_
    big.undo(run.run_id)
    card.load(no)
    assert f"{run.run_id} (undone)" in card.history.value and "Undo" in card.history.value
    other = d.loc[~d["nav_no"].isin([no]), "nav_no"].iloc[0]
    card.load(other)
    assert "No run changed this contact yet" in card.history.value or f">{run.run_id}<" not in card.history.value


def test_pick_per_field_on_the_whole_filtered_set_is_one_run_named_first_and_undone_in_history(big):
    v = DifferencesView(big, max_pairs=50)
    mobile, title = pairs(big, "Mobile Phone No."), pairs(big, "Job Title")
    v.field.value = "Mobile Phone No."
    v.select_all.value = True
    panel = v.open_pick()
    assert list(panel.choices) == ["Mobile Phone No."] and panel.values["Mobile Phone No."].disabled
    start = live_widgets()
    runs_before = len(big.runs())
    panel.choices["Mobile Phone No."].value = "value"
    assert not panel.values["Mobile Phone No."].disabled
    panel.values["Mobile Phone No."].value = "+49 170 0000000"
    panel.apply.click()
    question = v.confirm.question.value
    assert "Mobile Phone No.: the value" in question and "200 contact(s)" in question and "Job Title" not in question
    assert len(big.runs()) == runs_before  # nothing before Yes
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert len(big.runs()) == runs_before + 1 and v.pick_panel is None
    assert live_widgets() <= start  # the panel was closed with its widgets
    run = int(big.runs()["run_id"].max())
    assert pairs(big, "Mobile Phone No.") == set() and pairs(big, "Job Title") == title
    assert_same_as_a_full_read(v)
    values = big.sql('SELECT DISTINCT "Mobile Phone No." AS v FROM nav_contact WHERE "No." IN (SELECT unnest(?))',
                     [sorted(mobile)])
    assert values["v"].tolist() == ["+49 170 0000000"]
    big.undo(run)
    assert pairs(big, "Mobile Phone No.") == mobile


def test_pick_panel_with_nothing_chosen_warns_and_writes_nothing(big):
    v = DifferencesView(big, max_pairs=50)
    v.table.select(v.table.rows[0]["nav_no"])
    panel = v.open_pick()
    before = len(big.runs())
    panel.apply.click()
    assert v.messages.kind == "warn" and not v.confirm.is_open and len(big.runs()) == before
    panel.cancel.click()
    assert v.pick_panel is None and not v.pick_area.children


def test_a_refresh_that_finds_the_same_page_does_not_resend_it_and_a_changed_one_does(big):
    v = DifferencesView(big, max_pairs=10)
    sent = []
    real = v.table.set_rows
    v.table.set_rows = lambda rows, **kw: (sent.append([r["nav_no"] for r in rows]), real(rows, **kw))
    first = [r["nav_no"] for r in v.table.rows]
    v.refresh()
    assert sent == [] and [r["nav_no"] for r in v.table.rows] == first  # the grid keeps what it shows
    big.sync("push", nos=[first[0]], force=True)
    v.refresh()
    assert len(sent) == 1 and first[0] not in sent[0] and sent[0][:9] == first[1:]
    v.field.value = "Address 2"
    v.filter.value = "no such text"
    v.apply_filter()
    assert sent[-1] == [] and "match the filter" in v.table.empty_note.value  # an empty page says why


# -- the header's sort and filters over every filtered pair (not the page shown) ------------------------------
SORTABLE = {"nav_no": "NAV No.", "name": "Name", "fields": "Fields", "nav_values": "Dynamics NAV value",
            "crm_values": "Dynamics CRM value", "states": "State"}


def _fold(v: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", v) if not unicodedata.combining(c)).lower()


def expected_pair_rows(full: pd.DataFrame, field: str) -> pd.DataFrame:
    """The grid's pair rows computed the plain way (a Python loop over the pairs): one row per pair, its fields,
    values and states joined with " · " in the frame's order, an empty value as "(empty)"."""
    d = full if field == ALL else full[full["nav_field"] == field]
    rows = []
    for no, g in d.groupby(d["nav_no"].astype(str), sort=True):
        def joined(col, g=g):
            return " · ".join(v if isinstance(v, str) and v else "(empty)" for v in g[col])
        name = g["name"].iloc[0]
        rows.append({"nav_no": no, "name": name if isinstance(name, str) else "", "fields": joined("nav_field"),
                     "nav_values": joined("nav_value"), "crm_values": joined("crm_value"),
                     "states": joined("state")})
    return pd.DataFrame(rows, columns=["nav_no", *list(SORTABLE)[1:]])


def expected_order(rows: pd.DataFrame, column: str, descending: bool) -> list[str]:
    """Blank last in either direction, then case- and accent-folded text, then the exact text (both in the chosen
    direction), then the NAV No. ascending."""
    shown = rows[column]
    ref = pd.DataFrame({"blank": shown == "", "folded": shown.map(_fold), "raw": shown, "key": rows["nav_no"]})
    ref = ref.sort_values(["blank", "folded", "raw", "key"], ascending=[True, not descending, not descending, True],
                          kind="stable")
    return ref["key"].tolist()


@pytest.fixture(scope="module")
def shared(template, tmp_path_factory):
    """One copy of the bench workspace for the read-only properties (no test here writes to it)."""
    path = tmp_path_factory.mktemp("diffsort") / "ws.duckdb"
    shutil.copyfile(template, path)
    w = Workspace.open(path)
    yield w, w.differences(label="Name")
    w.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), column=st.sampled_from(sorted(SORTABLE)), descending=st.booleans(),
       page_size=st.integers(7, 60), field=st.sampled_from([ALL, "Mobile Phone No.", "Job Title", "Address 2"]),
       filter_column=st.none() | st.sampled_from(sorted(SORTABLE)), op=st.sampled_from(["in", "contains"]))
def test_the_pages_of_a_sorted_filtered_differences_list_are_every_filtered_pair_in_order(
        shared, data, column, descending, page_size, field, filter_column, op):
    ws, full = shared
    v = DifferencesView(ws, max_pairs=page_size)
    v.field.value = field
    rows = expected_pair_rows(full, field)
    if filter_column is not None:  # a header filter: some of the column's values, or a piece of one value
        values = sorted(set(rows[filter_column]))
        assert v._values(filter_column) == sorted(values, key=lambda x: (x.lower(), x))  # the menu's list: every pair
        if op == "in":
            keep = sorted(data.draw(st.sets(st.sampled_from(values), min_size=1, max_size=4)))
            v.table.filter_by(filter_column, "in", keep)
            rows = rows[rows[filter_column].isin(keep)]
        else:
            value = data.draw(st.sampled_from(values))
            start = data.draw(st.integers(0, max(0, len(value) - 1)))
            piece = value[start:start + data.draw(st.integers(1, 6))].upper()  # contains ignores case
            v.table.filter_by(filter_column, "contains", piece)
            rows = rows[rows[filter_column].str.lower().str.contains(piece.lower(), regex=False)]
    if v.pager.total > page_size:
        v.pager.next.click()
    v.table.sort_by(column, descending)
    assert v.pager.offset == 0  # a header sort goes back to page 1
    got: list[str] = []
    while True:
        got += [r["nav_no"] for r in v.table.rows]
        assert len(v.table.rows) <= page_size
        if v.pager.next.disabled:
            break
        v.pager.next.click()
    want = expected_order(rows, column, descending)
    assert got == want
    assert v.pager.total == len(want)
    # what a row shows is the pair's whole (filtered) fields, as the sort saw them
    shown = {r["nav_no"]: r for r in v.table.rows}
    for r in rows[rows["nav_no"].isin(list(shown))].to_dict("records"):
        assert all(shown[r["nav_no"]][c] == r[c] for c in SORTABLE)
    said = v.table.query_note.value
    if want:
        assert f"Sorted by {SORTABLE[column]}{', descending' if descending else ''}" in said
        assert (f"over all {len(want):,} pairs that match" if len(want) != 1 else "the 1 pair that matches") in said
    v.select_all.value = True  # Select all takes every pair the header filter leaves, in the list's order
    assert v.selection() == want and len(v._shown["nav_no"].unique()) == len(want)


def test_a_header_filter_narrows_send_selected_with_select_all_to_the_pairs_it_leaves(big):
    v = DifferencesView(big, max_pairs=50)
    mobile = pairs(big, "Mobile Phone No.")
    v.field.value = "Mobile Phone No."
    v.table.sort_by("name", True)
    v.table.filter_by("name", "startswith", "a")
    d = big.differences(label="Name")
    names = d[d["nav_field"] == "Mobile Phone No."].drop_duplicates("nav_no").set_index("nav_no")["name"]
    keep = set(names[names.str.lower().str.startswith("a")].index)
    assert 0 < len(keep) < len(mobile)
    assert v.pager.total == len(keep) and {r["nav_no"] for r in v.table.rows} == keep
    assert "Sorted by Name, descending; Name starts with “a” — over all" in v.table.query_note.value
    v.select_all.value = True
    assert set(v.selection()) == keep and f"{len(keep)} selected" in v.push_button.description
    runs_before = len(big.runs())
    v.push_button.click()
    question = v.confirm.question.value
    assert f"Mobile Phone No. of {len(keep)} contact(s) (every pair the column filters leave: Name starts with “a”)" \
        in question
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert len(big.runs()) == runs_before + 1
    run = int(big.runs()["run_id"].max())
    crm_to_nav = dict(zip(d["crm_id"], d["nav_no"]))
    changed = big.changes(run)
    assert {crm_to_nav[k] for k in changed.loc[changed["field"] == "mobilephone", "key"]} == keep
    assert pairs(big, "Mobile Phone No.") == mobile - keep  # the pairs the header filter hid are left as they are
    assert_same_as_a_full_read(v)


def test_a_sort_or_filter_change_makes_the_front_end_repaint_the_header_and_a_page_turn_does_not(big):
    """The sort arrow: the front end draws it from the transforms it holds, but repaints the column header only on a
    model reset; the table nudges the row count (n + 1, then n) after a sort or filter change, never on a page."""
    v = DifferencesView(big, max_pairs=50)
    counts: list[int] = []
    v.table.grid.observe(lambda c: counts.append(c["new"]), names="_row_count")
    v.table.sort_by("name")
    assert counts == [51, 50]
    counts.clear()
    v.pager.next.click()
    v.pager.prev.click()
    assert counts == []
    v.table.filter_by("states", "in", ["CRM changed"])
    assert counts[-2:] == [v.pager.total + 1, v.pager.total] and v.table.grid._row_count == len(v.table.rows)
    counts.clear()
    v.table.clear_query()
    assert counts[-2:] == [51, 50] and v.table.query_note.value == ""


def test_pick_on_every_pair_a_header_filter_leaves_names_the_filter_and_only_those_pairs(big):
    v = DifferencesView(big, max_pairs=50)
    v.field.value = "Job Title"
    v.table.filter_by("states", "in", ["both changed"])
    keep = {r["nav_no"] for r in v.table.rows}
    assert v.pager.total == len(keep) > 0
    v.select_all.value = True
    panel = v.open_pick()
    panel.choices["Job Title"].value = "crm"
    assert set(v.pick_rows()["nav_no"]) == keep
    before = len(big.runs())
    panel.apply.click()
    assert (f"for {len(keep)} contact(s) (every pair the column filters leave: State is one of both changed)"
            in v.confirm.question.value)
    v.confirm.no.click()
    assert len(big.runs()) == before
