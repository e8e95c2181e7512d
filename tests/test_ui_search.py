"""Search folds accents and ß, spells German umlauts both ways, and finds phone numbers however written."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from conftest import nav_frame
from hypothesis import given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync import search

PEOPLE = [("CT100001", "Jana", "Groß", "+49 30 1234567"), ("CT100002", "Jan", "Gross", "030 7654321"),
          ("CT100003", "Eva", "Müller", "0049 89 555 0101"), ("CT100004", "Ben", "Muller", "+33 1 44 55 66 77"),
          ("CT100005", "Ida", "Mueller", "(089) 555-0199"), ("CT100006", "Zoë", "Ångström", "")]


@pytest.fixture
def ws():
    w = cs.Workspace.open(":memory:")
    base = nav_frame().iloc[0].to_dict()
    rows = [{**base, "No.": no, "Type": "Person", "First Name": f, "Surname": s, "Name": f"{f} {s}",
             "Phone No.": phone, "E-Mail": f"{no.lower()}@example.com", "Company No.": "", "Company Name": ""}
            for no, f, s, phone in PEOPLE]
    w.import_nav(pd.DataFrame(rows))
    yield w
    w.close()


def found(ws, term):
    return set(ws.nav_contacts(search=term, limit=None)["No."]) & {p[0] for p in PEOPLE}


@pytest.mark.parametrize(("term", "expected"), [
    ("Groß", {"CT100001", "CT100002"}), ("gross", {"CT100001", "CT100002"}), ("GROSS", {"CT100001", "CT100002"}),
    ("Müller", {"CT100003", "CT100004", "CT100005"}), ("Mueller", {"CT100003", "CT100005"}),
    ("Muller", {"CT100003", "CT100004"}), ("angstrom", {"CT100006"}), ("zoe", {"CT100006"}),
])
def test_accents_and_sharp_s_are_folded(ws, term, expected):
    assert found(ws, term) == expected


@pytest.mark.parametrize(("term", "expected"), [
    ("+49 30 1234567", {"CT100001"}), ("0049 30 1234567", {"CT100001"}), ("030 1234567", {"CT100001"}),
    ("301234567", {"CT100001"}), ("030-765 43 21", {"CT100002"}), ("+49 30 7654321", {"CT100002"}),
    ("089 5550101", {"CT100003"}), ("+49 89 555 0199", {"CT100005"}), ("+33 1 44 55 66 77", {"CT100004"}),
    ("01 44 55 66 77", {"CT100004"}),
])
def test_phone_numbers_are_found_however_written(ws, term, expected):
    assert found(ws, term) == expected


def test_an_old_index_form_is_rebuilt_on_open(tmp_path):
    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        w.import_nav(nav_frame())
        w.sql("UPDATE meta SET value = 'nfc-visible' WHERE key = 'search_index_form'", write=True)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = 'nfc-visible' WHERE key = 'search_index_form'")
    con.execute("UPDATE nav_contact_search SET text = lower(text)")  # the old, unfolded form
    con.close()
    with cs.Workspace.open(path) as w:
        assert w.sql("SELECT value FROM meta WHERE key = 'search_index_form'")["value"][0] == search.INDEX_FORM
        folded = w.sql("SELECT bool_and(text = replace(strip_accents(text), 'ß', 'ss')) AS f FROM nav_contact_search")
        assert bool(folded["f"][0])


LATIN = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x17F,
                                       blacklist_categories=("Cc", "Cs")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(LATIN)
def test_python_fold_is_the_index_fold(s):
    """The query is folded in Python as the index text is in DuckDB (else a term could miss its own text)."""
    low = s.lower()
    sql = duckdb.execute(f"SELECT {search.fold_sql('lower(?)')}", [s]).fetchone()[0]
    assert search.fold(low) == sql
