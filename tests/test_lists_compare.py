"""Lists with the Coupled flag, paging and search; compare and differences."""

import pandas as pd
import pytest
from conftest import ACC_A, CRM_1, CRM_2, CRM_3, couple_two, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync import compare, pipeline, search
from contactsync.schema import SCHEMA_VERSION


def test_crm_list_search_filter_paging(synced):
    df = synced.crm_contacts(search="JÜRGEN")  # name, case-insensitive
    assert df["contactid"].tolist() == [CRM_1] and bool(df["coupled"].iloc[0]) and df["nav_no"].iloc[0] == "CT000001"
    assert synced.crm_contacts(search="obrien.ie")["contactid"].tolist() == [CRM_2]  # e-mail
    assert synced.crm_contacts(search="1234567")["contactid"].tolist() == [CRM_1]  # phone
    assert set(synced.crm_contacts(search="söhne")["contactid"]) == {CRM_1, CRM_3}  # account name
    assert synced.crm_contacts(coupled=False)["contactid"].tolist() == [CRM_3]
    assert len(synced.crm_contacts(coupled=True)) == 2
    page = synced.crm_contacts(limit=2, offset=2)
    assert len(page) == 1 and page.attrs["total"] == 3
    assert synced.crm_contacts(limit=2, offset=10).attrs["total"] == 3
    assert {"coupled", "nav_no", "firstname", "emailaddress1"} <= set(page.columns)


def test_nav_list(synced):
    df = synced.nav_contacts(coupled=True)
    assert df["No."].tolist() == ["CT000001", "CT000002"] and df["crm_id"].tolist() == [CRM_1, CRM_2]
    assert synced.nav_contacts(search="wolf")["No."].tolist() == ["CT000003"]
    with pytest.raises(cs.ContactSyncError, match="limit"):
        synced.nav_contacts(limit=-1)


def test_compare_before_coupling_and_after(ws):
    df = ws.compare("CT000002", CRM_2)
    assert list(df.columns) == ["nav_field", "crm_field", "direction", "nav_value", "crm_value", "differs"]
    assert len(df) == 16
    d = df.set_index("nav_field")
    assert d.loc["First Name", "differs"] and not d.loc["Surname", "differs"]
    assert not d.loc["Post Code", "differs"]  # Code field: case-insensitive
    assert not d.loc["Company No.", "differs"]  # through the company coupling
    with pytest.raises(cs.CouplingError, match="not coupled"):
        ws.compare("CT000002")


def test_differences_all_pairs_long_format(ws):
    ws.couple("CT000002", CRM_2)
    ws.couple("CT000001", CRM_3)
    df = ws.differences()
    assert {"nav_no", "crm_id", "nav_field", "crm_field", "nav_value", "crm_value", "differs"} <= set(df.columns)
    got = set(zip(df["nav_no"], df["nav_field"]))
    assert ("CT000002", "First Name") in got and ("CT000001", "Surname") in got
    assert ("CT000002", "Post Code") not in got
    assert len(ws.differences(nos=["CT000002"])) == 1


def test_differences_labelled_in_the_same_query_and_a_bad_label_refused(ws):
    ws.couple("CT000002", CRM_2)
    ws.couple("CT000001", CRM_3)
    plain, named = ws.differences(), ws.differences(label="Name")
    pd.testing.assert_frame_equal(named.drop(columns="name"), plain)
    names = ws.sql('SELECT "No." AS nav_no, "Name" AS name FROM nav_contact')
    assert dict(zip(named["nav_no"], named["name"])) == {k: v for k, v in zip(names["nav_no"], names["name"])
                                                          if k in set(plain["nav_no"])}
    with pytest.raises(cs.ContactSyncError, match="'Nmae' is not a column of nav_contact"):
        ws.differences(label="Nmae")


# -- the lists' search index (contactsync.search) -----------------------------------------------------
def _drift(w) -> dict:
    with w._store.connection() as con:
        return search.drift(con)


def test_search_index_follows_every_kind_of_write(synced):
    assert _drift(synced) == {"crm": 0, "nav": 0}
    # an account renamed: its contacts are found by the new name (and not the old)
    synced.import_accounts(pd.DataFrame([{"accountid": ACC_A, "name": "Ravnsborg Trading"}]))
    assert set(synced.crm_contacts(search="ravnsborg")["contactid"]) == {CRM_1, CRM_3}
    assert synced.crm_contacts(search="söhne").empty
    # a sync writes CRM values; an uncouple changes the Coupled flag; undo brings both back
    synced.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "E-Mail": "j.mueller@ravn.example"}]))
    run = synced.sync("push").run_id
    assert synced.crm_contacts(search="j.mueller@ravn")["contactid"].tolist() == [CRM_1]
    synced.uncouple("CT000001")
    assert set(synced.crm_contacts(coupled=False)["contactid"]) == {CRM_1, CRM_3}
    assert synced.nav_contacts(search="ct000001")["coupled"].tolist() == [False]
    synced.undo(synced.runs()["run_id"].max())
    synced.undo(run)
    assert synced.crm_contacts(search="j.mueller@ravn").empty
    assert synced.crm_contacts(search="ravnsborg", coupled=True)["contactid"].tolist() == [CRM_1]
    # a contact created from the other side is listed, coupled
    created = synced.create_crm_from_nav("CT000004")
    new_id = synced.nav_contact("CT000004")["crm_id"]
    assert created and synced.crm_contacts(search="schmidt", coupled=True)["contactid"].tolist() == [new_id]
    # ad hoc SQL that writes: the index is rebuilt in the same transaction
    synced.sql("UPDATE crm_contact SET lastname = 'Zyxwv' WHERE contactid = ?", [CRM_2], write=True)
    assert synced.crm_contacts(search="zyxwv")["contactid"].tolist() == [CRM_2]
    assert _drift(synced) == {"crm": 0, "nav": 0}


def test_search_index_after_another_tool_changed_the_file(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        fill_small(w)
    con = duckdb.connect(str(path))
    con.execute("UPDATE crm_contact SET firstname = 'Quentin' WHERE contactid = ?", [CRM_2])
    con.close()
    with cs.Workspace.open(path) as w:  # same row counts: not noticed on open ...
        assert w.crm_contacts(search="quentin").empty and _drift(w)["crm"] == 2  # its old row, its new
        w.reindex()  # ... reindex brings it in step
        assert w.crm_contacts(search="quentin")["contactid"].tolist() == [CRM_2]
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM nav_contact WHERE \"No.\" = 'CT000004'")
    con.close()
    with cs.Workspace.open(path) as w:  # a row count that disagrees: rebuilt on open
        assert _drift(w) == {"crm": 0, "nav": 0} and w.nav_contacts(search="ct000004").empty


def test_schema_1_workspace_gets_its_search_index(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        fill_small(w)
    con = duckdb.connect(str(path))  # as contactsync 0.x (schema 1) left it: no index
    for name in ("crm_contact_search", "nav_contact_search"):
        con.execute(f"DROP TABLE {name}")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    with cs.Workspace.open(path) as w:
        assert w.sql("SELECT value FROM meta WHERE key = 'schema_version'")["value"].item() == str(SCHEMA_VERSION)
        assert _drift(w) == {"crm": 0, "nav": 0}
        assert set(w.crm_contacts(search="söhne")["contactid"]) == {CRM_1, CRM_3}


def test_schema_2_index_text_is_rebuilt_without_blank_fields(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        fill_small(w)
        plain = w.sql("SELECT contactid, firstname, lastname FROM crm_contact WHERE middlename IS NULL "
                      "ORDER BY contactid LIMIT 1").iloc[0]
    term = f"{plain['firstname']} {plain['lastname']}"
    con = duckdb.connect(str(path))  # as schema 2 built it: blank fields kept, two spaces around them
    con.execute("UPDATE crm_contact_search SET text = replace(text, ' ', '  ')")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    with cs.Workspace.open(path) as w:
        assert w.sql("SELECT value FROM meta WHERE key = 'schema_version'")["value"].item() == str(SCHEMA_VERSION)
        assert _drift(w) == {"crm": 0, "nav": 0}
        assert plain["contactid"] in set(w.crm_contacts(search=term)["contactid"])


def test_list_page_is_the_brute_force_answer(demo):
    """The list through the index = the same filter written over the contact table in pandas."""
    crm = demo.sql("SELECT r.*, a.name AS account_name, c.nav_no FROM crm_contact r LEFT JOIN crm_account a "
                   "ON a.accountid = r.parentcustomerid LEFT JOIN coupling c ON c.entity = 'contact' "
                   "AND c.crm_id = r.contactid")
    fields = crm[list(search.CRM_SEARCH) + ["account_name"]].fillna("")
    text = fields.agg(lambda r: " ".join(v.strip(" ") for v in r if v.strip(" ")), axis=1).str.lower()
    plain = crm[crm["middlename"].isna()].sort_values("contactid").iloc[0]
    full_name = f"{plain['firstname']} {plain['lastname']}"  # no middle name: one space between
    for term, coupled in (("an", None), ("AN", True), ("e ", False), ("@", True), ("zzz-none", None), ("", True),
                          ("ohn", None), ("SEN", True), (full_name, None)):
        # the index's folded forms (accents, ß, German umlauts spelt out) against the term's
        forms = [text.map(search.fold), text.map(lambda t: search.fold(
            t.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")))]
        alts = search.search_alternatives(term) if term.strip() else [""]
        mask = pd.concat([f.str.contains(a, regex=False) for f in forms for a in alts], axis=1).any(axis=1)
        if coupled is not None:
            mask &= crm["nav_no"].notna() == coupled
        want = crm[mask].sort_values(["lastname", "firstname", "contactid"], na_position="last")
        got = demo.crm_contacts(search=term or None, coupled=coupled, limit=7, offset=3)
        assert got.attrs["total"] == int(mask.sum()), (term, coupled)
        assert got["contactid"].tolist() == want["contactid"].tolist()[3:10], (term, coupled)
    assert demo.crm_contacts(search=full_name).attrs["total"] >= 1


@pytest.mark.parametrize("term", ["ravn", "smith", "a", "ab", "xa", "İstanbul", "ß-ẞ", "497-50", "  ", "éclair"])
def test_needles_are_parts_of_the_term(term):
    """A search first looks for a rarer part of the term (a speed-up only): every needle is a piece of
    the term, and the term itself is the last test."""
    got = search.needles(term)
    assert got[-1] == term
    assert all(n and n in term for n in got)
    assert len(got) == 1 or len(got[0]) < len(term)


def test_a_stale_index_never_shifts_a_contact_s_partner(tmp_path):
    """Another tool deletes a coupled contact and adds one (same row count: no rebuild on open). The list
    leaves the gone contact out; every listed contact keeps its own partner."""
    import duckdb

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        couple_two(fill_small(w))
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO crm_contact (contactid, firstname, lastname) SELECT "
                "'00000000-0000-0000-0000-0000000000aa', 'Added', 'Elsewhere'")
    con.execute("DELETE FROM crm_contact WHERE contactid = ?", [CRM_1])
    con.close()
    with cs.Workspace.open(path) as w:
        listed = w.crm_contacts()
        pairs = dict(w.sql("SELECT crm_id, nav_no FROM coupling WHERE entity = 'contact'").values.tolist())
        assert CRM_1 not in set(listed["contactid"]) and len(listed) == listed.attrs["total"] - 1
        for crm_id, nav_no, coupled in listed[["contactid", "nav_no", "coupled"]].itertuples(index=False):
            assert nav_no == pairs.get(crm_id) and coupled == (crm_id in pairs), crm_id


# -- differences: the narrowed query is the full comparison (compare.differences_sql) ---------------------
class _RolledBack(Exception):
    """Raised to roll a test's edits back."""


EDGE_TEXT = st.sampled_from([None, "", "Berlin", "berlin", " Berlin ", "Zoë", "Zoe\u0308", "x\u200b", "x", "DK", "dk",
                             "Denmark", "DE", "XX", "A" * 35, "C00001", "c00001"])
DIFF_EDITS = st.lists(st.one_of(
    st.tuples(st.just("nav"), st.integers(0, 29), st.sampled_from(
        ["First Name", "Middle Name", "Surname", "City", "Post Code", "Country/Region Code", "E-Mail", "Company No.",
         "SystemModifiedAt"]), EDGE_TEXT),
    st.tuples(st.just("crm"), st.integers(0, 29), st.sampled_from(
        ["firstname", "middlename", "lastname", "address1_city", "address1_postalcode", "address1_country",
         "emailaddress1", "parentcustomerid", "modifiedon"]), EDGE_TEXT),
    st.tuples(st.just("coupling"), st.integers(0, 29), st.sampled_from(
        ["base:firstname", "base:address1_city", "base:address1_country", "base:parentcustomerid",
         "nav_synced_modified", "crm_synced_modified"]), EDGE_TEXT),
), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def diff_ws(tmp_path_factory):
    """30 coupled bench persons, synced, with a transform on City (the derived forms: a value map on Country, a
    lookup on Company No., a transform)."""
    from contactsync.sample import generate

    data = generate(30, scenario="bench", seed=11)
    w = cs.Workspace.open(tmp_path_factory.mktemp("diffprop") / "ws.duckdb")
    w.import_accounts(data.crm_account)
    w.import_nav(data.nav_contact)
    w.import_crm(data.crm_contact)
    w.import_couplings(data.company_couplings, entity="company")
    w.import_couplings(data.contact_couplings)
    w.set_field_option("City", transform=["trim", "title"])
    w.sync("push", force=True)
    yield w
    w.close()


def _edit(con, edit, persons, accounts):
    side, row, column, value = edit
    no, crm_id = persons[row % len(persons)]
    if column in ("SystemModifiedAt", "modifiedon", "nav_synced_modified", "crm_synced_modified"):
        value = None if value in (None, "") else f"2031-0{1 + len(value) % 9}-01 10:00:00"
    if column == "parentcustomerid" and value not in (None, ""):
        value = accounts[len(value) % len(accounts)] if value != "XX" else "ffffffff-0000-0000-0000-000000000000"
    table, key, at = {"nav": ("nav_contact", '"No."', no), "crm": ("crm_contact", "contactid", crm_id),
                      "coupling": ("coupling", "entity = 'contact' AND nav_no", no)}[side]
    con.execute(f'UPDATE {table} SET "{column}" = ? WHERE {key} = ?', [value, at])


# ~1-2 s an example under load (two wide statements planned per example): marked slow
@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(edits=DIFF_EDITS, scoped=st.booleans())
def test_differences_narrowed_first_are_the_full_comparison(diff_ws, edits, scoped):
    """The differences query narrows to candidate pairs first (hashes of the raw text, derived forms) and
    compares values only for them: the rows (values, states, order) must be those of comparing every field of
    every pair, over edits that keep or change raw text, Unicode forms, case of Code fields, value-mapped and
    looked-up values, last-synced values and modified-ons."""
    m = diff_ws.mapping
    persons = [tuple(r) for r in diff_ws.sql("SELECT nav_no, crm_id FROM coupling WHERE entity = 'contact' "
                                             "ORDER BY nav_no").values]
    accounts = diff_ws.sql("SELECT accountid FROM crm_account ORDER BY 1")["accountid"].tolist()
    with pytest.raises(_RolledBack), diff_ws.transaction() as con:
        for e in edits:
            _edit(con, e, persons, accounts)
        sc = pipeline.scope(con, [p[0] for p in persons[::3]]) if scoped else None
        rel = sc.rel.scope if sc else None
        full = con.execute(*compare.differences_full_sql(m, rel)).df()
        narrowed = con.execute(*compare.differences_sql(m, rel)).df()
        if sc:
            sc.rel.drop(con)
        pd.testing.assert_frame_equal(narrowed, full)
        raise _RolledBack
