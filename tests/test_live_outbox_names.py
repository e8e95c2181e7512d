"""The Connections view names the contacts of the outbox and of a delivery (name and NAV No.; the record's GUID in
the tooltip), every value escaped (issue 16: "GUIDs where names would do")."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2
from hypothesis import given, settings
from hypothesis import strategies as st
from live_support import TOKEN, connected, server

pytest.importorskip("ipywidgets")

from contactsync.ui.common import esc  # noqa: E402
from contactsync.ui.connections import ConnectionsView, outbox_html  # noqa: E402

EVIL = '<b>Ann</b> & "Co" <script>x</script>'


class _Spans(HTMLParser):
    """Text and title of every ``<span>`` whose class is ``cs-outbox-name`` or ``cs-outbox-key``, and every
    table cell's text; a tag the table does not make itself (markup from a value) fails."""

    ALLOWED = {"style", "div", "table", "colgroup", "col", "tr", "th", "td", "span"}

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self.cells: list[str] = []
        self._open: list | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in self.ALLOWED:
            raise AssertionError(f"markup from a value: <{tag}>")
        a = dict(attrs)
        if tag == "td":
            self._cell = []
        if tag == "span" and (a.get("class") or "") in ("cs-outbox-name", "cs-outbox-key"):
            self._open = [a["class"], a.get("title") or "", ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.found.append(tuple(self._open))
            self._open = None
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None


def _row_html(view: ConnectionsView, item_id) -> str:
    """The outbox table's row of ``item_id`` (its ``<tr>``)."""
    html = view.outbox.value
    start = html.index(f'<tr class="cs-row" data-item="{item_id}">')
    return html[start:html.index("</tr>", start) + 5]


def _parse(html: str) -> _Spans:
    p = _Spans()
    p.feed(html)
    p.close()
    return p


def _spans(html: str) -> list[tuple[str, str, str]]:
    return _parse(html).found


#: values made of markup's pieces (tags, entities, quotes) and any other characters
_VALUE = st.lists(st.one_of(st.sampled_from(["<b>", "</span>", "<script>", "&amp;", "&lt;", "&", '"', "'", "=", " "]),
                            st.text(max_size=3)), max_size=6).map("".join)


@settings(max_examples=40, deadline=None)
@given(name=_VALUE, key=_VALUE.filter(bool))
def test_property_a_name_shows_as_text_with_its_key_as_tooltip(name, key):
    """Whatever a name or key holds (markup, quotes, ampersands), the cell shows it as text, never as markup."""
    row = {"item_id": "7", "run_id": 3, "side": "crm", "key": key, "name": name, "nav_no": name, "op": "update",
           "fields": name, "status": "pending", "message": name}
    html = outbox_html(pd.DataFrame([row]))
    parsed = _parse(html)
    # every cell shows its value as text
    assert parsed.cells == ["7", "3", "crm", name or key, name, "update", name, "to send", name]
    found = parsed.found
    assert len(found) == 1
    kind, title, data = found[0]
    assert title == key
    assert (kind, data) == (("cs-outbox-name", name) if name else ("cs-outbox-key", key))


@pytest.fixture
def srv():
    s = server()
    yield s
    s.stop()


def test_outbox_and_delivery_show_names_and_nav_numbers_escaped(srv, monkeypatch):
    monkeypatch.setenv("CS_LIVE_TOKEN", TOKEN)          # the view signs in as a steward would: from the environment
    ws = connected(srv)
    # a NAV change goes to CRM (a CRM item: the contact's CRM name, its coupled NAV No.)
    ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "First Name": EVIL, "Job Title": "Lead"}]))
    ws.sync("push")
    # a CRM change goes to NAV (a NAV item: the person's NAV name and number)
    ws.import_crm(pd.DataFrame([{"contactid": CRM_2, "jobtitle": "Chief buyer"}]))
    ws.sync("pull")
    box = ws.outbox(status="pending")
    assert sorted(box["side"]) == ["crm", "nav"], box
    view = ConnectionsView(ws)
    crm_item = int(box.loc[box["side"] == "crm", "item_id"].iloc[0])
    nav_item = int(box.loc[box["side"] == "nav", "item_id"].iloc[0])
    crm_row, nav_row = _row_html(view, crm_item), _row_html(view, nav_item)
    crm_name = ws.sql("SELECT firstname, lastname FROM crm_contact WHERE contactid = ?", [CRM_1]).iloc[0]
    assert crm_name["firstname"] == EVIL                       # the sync carried the markup over as data
    assert _spans(crm_row) == [("cs-outbox-name", CRM_1, f"{EVIL} {crm_name['lastname']}")]
    assert "<script>" not in crm_row and "<b>Ann" not in crm_row and "CT000001" in crm_row
    nav = ws.sql("""SELECT "Name", "First Name", "Surname" FROM nav_contact WHERE "No." = 'CT000002'""").iloc[0]
    nav_name = nav["Name"] or f"{nav['First Name']} {nav['Surname']}"     # a person without Name: first + surname
    assert _spans(nav_row) == [("cs-outbox-name", "CT000002", nav_name)] and "CT000002" in nav_row
    # the GUID is no longer what a row shows: only in the tooltip
    assert f">{CRM_1}<" not in crm_row
    view.deliver()
    assert "2 delivered" in view.results.value, view.messages
    results = view.results.value
    assert "&lt;b&gt;Ann&lt;/b&gt; &amp; &quot;Co&quot; &lt;script&gt;" in results and "<script>" not in results
    assert esc(nav_name) in results and "CT000001" in results and "CT000002" in results
    ws.close()
