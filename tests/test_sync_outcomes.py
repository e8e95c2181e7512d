"""Sync gives the right result for every pair (issue 12, items 7, 9, 11, 12, 14).

* every coupled pair in scope has exactly one outcome, and a pair the mapping's filters leave out is
  Skipped with the filter's reason, never synced or dropped (also by Synchronize Now);
* NFC/NFD forms and invisible characters never make a difference, a conflict or a missed search;
* a dry run returns exactly the real run's result and writes nothing, also with ``create_missing``;
* a pull (and Create Contact in NAV) recomputes ``Name`` and ``Company Name`` as Business Central does,
  logged so that undo restores them;
* NAV lengths count UTF-16 code units.

The properties run on copies of one small workspace file built once per module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import ACC_A, ACC_B, CRM_1, CRM_2, CRM_3, couple_two, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wschecksum import diff, fingerprint

import contactsync as cs
import contactsync.workspace as wsmod
from contactsync.validate import utf16_length

SCALE = float(os.environ.get("CONTACTSYNC_PROPERTY_SCALE", "1"))
# one example (a copy of the workspace file, a few edits, a sync or two) takes ~1-2 s on a shared machine
PROP = settings(max_examples=int(12 * SCALE), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

CRM_4 = "cccccccc-0000-0000-0000-000000000004"
PAIRS = {"CT000001": CRM_1, "CT000002": CRM_2, "CT000004": CRM_3}  # coupled in the template
PERSONS = ["CT000001", "CT000002", "CT000003", "CT000004", "CT000005"]
CRM_IDS = [CRM_1, CRM_2, CRM_3, CRM_4]
ZW = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]


def _build(path: Path) -> None:
    w = couple_two(fill_small(cs.Workspace.open(path)))
    w.import_nav(pd.DataFrame([{"No.": "CT000005", "Type": "Person", "Company No.": "C00002",
                                "Company Name": "O'Brien Ltd", "First Name": "Seán", "Surname": "Kelly",
                                "SystemModifiedAt": "2025-01-02 10:00:00"}]))
    w.import_crm(pd.DataFrame([{"contactid": CRM_4, "firstname": "Maeve", "lastname": "Byrne",
                                "parentcustomerid": ACC_B, "modifiedon": "2025-01-02 10:00:00", "statecode": 0}]))
    w.couple("CT000004", CRM_3, sync_after="push")
    w.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("outcomes") / "template.duckdb"
    _build(path)
    return path


@contextmanager
def copy_of(template: Path):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "w.duckdb"
        shutil.copyfile(template, path)
        w = cs.Workspace.open(path)
        try:
            yield w
        finally:
            w.close()


@pytest.fixture
def w(template):
    with copy_of(template) as ws:
        yield ws


def nav(ws, no, col):
    return ws.sql(f'SELECT "{col}" FROM nav_contact WHERE "No." = ?', [no]).iloc[0, 0]


def crm(ws, cid, col):
    return ws.sql(f'SELECT "{col}" FROM crm_contact WHERE contactid = ?', [cid]).iloc[0, 0]


def set_nav(ws, no, **cols):
    sets = ", ".join(f'"{c}" = ?' for c in cols)
    ws.sql(f'UPDATE nav_contact SET {sets}, "SystemModifiedAt" = now() WHERE "No." = ?', [*cols.values(), no],
           write=True)


def set_crm(ws, cid, **cols):
    sets = ", ".join(f'"{c}" = ?' for c in cols)
    ws.sql(f"UPDATE crm_contact SET {sets}, modifiedon = now() WHERE contactid = ?", [*cols.values(), cid],
           write=True)


# -- item 7: filters and outcomes ---------------------------------------------------------------------
def test_synchronize_now_skips_a_deactivated_crm_contact(w):
    set_crm(w, CRM_1, statecode=1)
    set_nav(w, "CT000001", City="Potsdam")
    before = fingerprint(w, ["crm_contact"])
    r = w.sync("push", nos=["CT000001"], force=True)
    assert (r.modified, r.skipped, r.unchanged, r.failed) == (0, 1, 0, 0)
    assert r.skips["message"].iloc[0].startswith("CRM contact is inactive (statecode=1)")
    assert r.skips["reason"].tolist() == ["filter"] and r.changes.empty
    assert diff(before, fingerprint(w, ["crm_contact"])) == []
    assert "left out by the mapping's filters" in r.message


def test_synchronize_now_does_not_empty_the_account_of_a_person_whose_company_was_cleared(w):
    set_nav(w, "CT000001", **{"Company No.": ""})
    r = w.sync("push", nos=["CT000001"], force=True)
    assert r.skipped == 1 and "NAV contact has no company (Company No. is empty)" in r.skips["message"].iloc[0]
    assert crm(w, CRM_1, "parentcustomerid") == ACC_A


def test_full_sync_counts_the_pairs_the_filters_leave_out(w):
    set_crm(w, CRM_2, statecode=1)
    set_crm(w, CRM_3, parentcustomerid=None)
    r = w.sync("both")
    assert r.skipped == 2 and r.inserted + r.modified + r.unchanged + r.skipped + r.failed == 3
    assert sorted(r.skips["nav_no"]) == ["CT000002", "CT000004"]
    assert "has no parent account (parentcustomerid is empty)" in " ".join(r.skips["message"])
    # the coupling says so, its last-synced values are kept
    c = w.sql("SELECT last_result_crm, skipped FROM coupling WHERE nav_no = 'CT000002'").iloc[0]
    assert c["last_result_crm"] == "Skipped" and c["skipped"]


def test_a_named_uncoupled_record_the_filter_leaves_out_is_reported(w):
    r = w.sync("push", nos=["CT000003"], create_missing=True)
    assert (r.inserted, r.skipped) == (0, 1)
    assert r.skips["message"].iloc[0].startswith("NAV contact has no company")
    assert not w.nav_contact("CT000003")["coupled"]


def _passes(ws, no, cid) -> bool:
    n = ws.sql('SELECT "Type", "Company No." FROM nav_contact WHERE "No." = ?', [no])
    r = ws.sql("SELECT statecode, parentcustomerid, parentcustomerid IN (SELECT accountid FROM crm_account) AS acc "
               "FROM crm_contact WHERE contactid = ?", [cid])
    if n.empty or r.empty:
        return True  # a gone record fails; the filters are not asked
    return (n["Type"].iloc[0] == "Person" and (n["Company No."].iloc[0] or "") != ""
            and r["statecode"].iloc[0] == 0 and bool(r["acc"].fillna(False).iloc[0]))


EDITS = st.lists(st.tuples(
    st.sampled_from(["nav", "crm"]), st.sampled_from(list(PAIRS)),
    st.sampled_from(["state", "company", "account", "name", "city", "email", "delete"]),
    st.sampled_from(["", "Zoë", "Berlin", "x@@y", "A" * 31, "😀" * 16, unicodedata.normalize("NFD", "Zoë")])),
    max_size=6)


def mutate(ws, edits) -> None:
    for side, no, what, value in edits:
        cid = PAIRS[no]
        if side == "nav":
            if what == "delete":
                ws.sql('DELETE FROM nav_contact WHERE "No." = ?', [no], write=True)
            elif what in ("state", "company"):
                set_nav(ws, no, **{"Company No.": "" if value in ("", "x@@y") else "C00002"})
            elif what == "account":
                set_nav(ws, no, Type="Company" if value == "" else "Person")
            else:
                set_nav(ws, no, **{{"name": "First Name", "city": "City", "email": "E-Mail"}[what]: value})
        else:
            if what == "delete":
                ws.sql("DELETE FROM crm_contact WHERE contactid = ?", [cid], write=True)
            elif what == "state":
                set_crm(ws, cid, statecode=1 if value else 0)
            elif what in ("company", "account"):
                set_crm(ws, cid, parentcustomerid={"": None, "Berlin": ACC_B, "x@@y": "not-an-account"}.get(value, ACC_A))
            else:
                set_crm(ws, cid, **{{"name": "firstname", "city": "address1_city", "email": "emailaddress1"}[what]: value})


SYNC_ARGS = st.tuples(st.sampled_from(["push", "pull", "both"]), st.booleans(),
                      st.none() | st.lists(st.sampled_from(list(PAIRS)), min_size=1, max_size=3, unique=True))


def pair_of(ws_pairs: dict, side: str, key: str) -> str:
    return key if side == "nav" else {c: n for n, c in ws_pairs.items()}[key]


@PROP
@given(edits=EDITS, args=SYNC_ARGS)
def test_every_pair_in_scope_has_exactly_one_outcome(template, edits, args):
    direction, force, nos = args
    force = force and direction != "both"
    with copy_of(template) as ws:
        mutate(ws, edits)
        scope = {n: c for n, c in PAIRS.items() if nos is None or n in nos}
        left_out = {n for n, c in scope.items() if not _passes(ws, n, c)}
        r = ws.sync(direction, nos=nos, force=force)
        counted = r.inserted + r.modified + r.unchanged + r.skipped + r.failed
        assert counted == len(scope)
        skipped, failed = set(r.skips["nav_no"]), set(r.errors["nav_no"])
        modified = {pair_of(PAIRS, s, k) for s, k in zip(r.changes["side"], r.changes["key"])}
        assert (len(skipped), len(failed), len(modified)) == (r.skipped, r.failed, r.modified)
        assert not (skipped & failed) and not (skipped & modified) and not (failed & modified)
        assert (skipped | failed | modified) <= set(scope)
        # a pair the filters leave out is Skipped with its reason (or fails, when a record is gone)
        filt = set(r.skips.loc[r.skips["reason"] == "filter", "nav_no"])
        assert left_out <= filt | failed and filt <= left_out


# -- item 9: Unicode forms --------------------------------------------------------------------------
NAMES = st.text(alphabet=st.sampled_from(list("aeouAEOUnsçñåøßÆ ") + ["é", "ü", "Å", "ö", "ḗ", "ệ", "ǘ"]),
                min_size=1, max_size=12).map(lambda s: unicodedata.normalize("NFC", s)).filter(lambda s: s.strip())


def sprinkle(s: str, data) -> str:
    s = unicodedata.normalize(data.draw(st.sampled_from(["NFC", "NFD"])), s)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(s)))
        s = s[:i] + data.draw(st.sampled_from(ZW)) + s[i:]
    return s


@PROP
@given(name=NAMES, data=st.data())
def test_unicode_forms_never_differ_conflict_or_hide(template, name, data):
    variant = sprinkle(name, data)
    with copy_of(template) as ws:
        # both sides change the surname since the last sync, to two spellings of one value
        set_nav(ws, "CT000001", Surname=name)
        set_crm(ws, CRM_1, lastname=variant)
        assert ws.differences().query("nav_field == 'Surname'").empty
        assert not ws.compare("CT000001").set_index("nav_field").loc["Surname", "differs"]
        r = ws.sync("both")
        assert r.conflicts.empty and r.skipped == 0 and r.changes.empty
        # what each source sent is kept as sent
        assert nav(ws, "CT000001", "Surname") == name and crm(ws, CRM_1, "lastname") == variant
        for lister in (ws.nav_contacts, ws.crm_contacts):
            plain = set(lister(search=name.strip(), limit=None).iloc[:, 0])
            assert plain == set(lister(search=sprinkle(name.strip(), data), limit=None).iloc[:, 0])
            assert plain  # CT000001 / CRM_1 are found


def test_nfd_name_is_not_a_change_and_is_found(w):
    nfd = unicodedata.normalize("NFD", "Jürgen")
    set_crm(w, CRM_1, firstname=nfd + "\u200b")
    r = w.sync("both")
    assert r.modified == 0 and r.conflicts.empty
    assert crm(w, CRM_1, "firstname") == nfd + "\u200b"
    assert CRM_1 in set(w.crm_contacts(search="jürgen")["contactid"])
    assert "CT000001" in set(w.nav_contacts(search=nfd)["No."])


# -- item 11: a dry run is the real run's plan -----------------------------------------------------------
def _keyed(df: pd.DataFrame, known: set) -> pd.DataFrame:
    """A result frame with generated CRM ids (new contacts) replaced by a placeholder, in a stable order."""
    df = df.copy()
    for c in ("key", "crm_id"):
        if c in df:
            df[c] = df[c].map(lambda v: v if v is None or v != v or v in known or str(v).startswith("CT")
                              else "<new crm id>")
    df = df.astype(str)
    return df.sort_values(list(df.columns)).reset_index(drop=True) if len(df.columns) else df


FULL_ARGS = st.tuples(st.sampled_from(["push", "pull", "both"]), st.booleans(), st.booleans(),
                      st.none() | st.lists(st.sampled_from(PERSONS), min_size=1, max_size=3, unique=True))


@PROP
@given(edits=EDITS, args=FULL_ARGS)
def test_dry_run_returns_the_real_run_and_writes_nothing(template, monkeypatch, edits, args):
    direction, force, create_missing, nos = args
    force = force and direction != "both"
    if nos is not None and not create_missing:
        nos = [n for n in nos if n in PAIRS] or None
    monkeypatch.setattr(wsmod, "_now", lambda: datetime(2026, 3, 1, 12, 0, 0))
    with copy_of(template) as ws:
        mutate(ws, edits)
        before = fingerprint(ws)
        runs = len(ws.runs())
        dry = ws.sync(direction, nos=nos, force=force, create_missing=create_missing, dry_run=True)
        assert diff(before, fingerprint(ws)) == [] and len(ws.runs()) == runs
        real = ws.sync(direction, nos=nos, force=force, create_missing=create_missing)
        assert dry.run_id is None and dry.dry_run and not real.dry_run
        assert dry.counts() == real.counts() and dry.coupled == real.coupled
        known = set(CRM_IDS)
        for name in ("conflicts", "errors", "changes", "skips"):
            pd.testing.assert_frame_equal(_keyed(getattr(dry, name), known), _keyed(getattr(real, name), known),
                                          obj=name)
        assert real.run_id == runs + 1  # the dry run took no run number


def test_dry_run_with_create_missing_reports_the_field_changes(w):
    set_nav(w, "CT000005", City="Cork")
    dry = w.sync("both", create_missing=True, dry_run=True)
    real = w.sync("both", create_missing=True)
    assert dry.inserted == real.inserted == 2  # CT000005 -> CRM, CRM_4 -> NAV
    assert len(dry.changes) == len(real.changes) > 10


# -- item 12: Name and Company Name ---------------------------------------------------------------------
def bc_name(first: str, middle: str, surname: str) -> str:
    """BC's Contact.CalculatedName (Contact.Table.al), for comparison."""
    name = first
    if middle:
        name += " " + middle
    if surname:
        name += " " + surname
    return name.lstrip(" ")[:100]


def test_pull_recomputes_name_and_company_name_and_undo_restores_them(w):
    set_crm(w, CRM_1, firstname="Jörg", middlename="K.", parentcustomerid=ACC_B)
    name0, co0 = nav(w, "CT000001", "Name"), nav(w, "CT000001", "Company Name")
    r = w.sync("pull")
    assert nav(w, "CT000001", "Name") == "Jörg K. Müller"
    assert (nav(w, "CT000001", "Company No."), nav(w, "CT000001", "Company Name")) == ("C00002", "O'Brien Ltd")
    logged = r.changes.set_index("field")
    assert logged.loc["Name", "new_value"] == "Jörg K. Müller" and logged.loc["Company Name", "old_value"] == co0
    w.undo(r.run_id)
    assert (nav(w, "CT000001", "Name"), nav(w, "CT000001", "Company Name")) == (name0, co0)


def test_create_nav_from_crm_sets_name_and_company_name(w):
    no = w.create_nav_from_crm(CRM_4)
    assert (nav(w, no, "Name"), nav(w, no, "Company Name")) == ("Maeve Byrne", "O'Brien Ltd")
    assert "Name" in set(w.changes(no.run_id)["field"])


PARTS = st.sampled_from(["", " ", "Anne", "  Marie", "Lou ", "Zoë", "x" * 30])


@PROP
@given(first=PARTS, middle=PARTS, surname=PARTS)
def test_pulled_name_is_bcs_calculated_name(template, first, middle, surname):
    with copy_of(template) as ws:
        set_crm(ws, CRM_1, firstname=first, middlename=middle, lastname=surname)
        r = ws.sync("pull", nos=["CT000001"], force=True)
        got = [nav(ws, "CT000001", c) for c in ("First Name", "Middle Name", "Surname")]
        assert nav(ws, "CT000001", "Name") == bc_name(*got)
        assert r.failed == 0


# -- item 14: UTF-16 lengths ----------------------------------------------------------------------------
ASTRAL = st.lists(st.sampled_from(["a", "ü", "€", "😀", "𝔸", "👍🏽", "中"]), min_size=8, max_size=32).map("".join)


@PROP
@given(title=ASTRAL)
def test_nav_length_counts_utf16_units(template, title):
    with copy_of(template) as ws:
        set_crm(ws, CRM_1, jobtitle=title)
        r = ws.sync("pull", nos=["CT000001"])
        if utf16_length(title) > 30:
            assert r.failed == 1 and nav(ws, "CT000001", "Job Title") == "Einkauf"
            assert f"has {utf16_length(title)} characters; the NAV field holds at most 30" in r.errors["message"][0]
        else:
            assert r.failed == 0 and nav(ws, "CT000001", "Job Title") == title


def test_fifteen_emoji_fit_sixteen_do_not(w):
    assert utf16_length("😀" * 15) == 30
    set_crm(w, CRM_1, jobtitle="😀" * 16)
    assert w.sync("pull").failed == 1
    set_crm(w, CRM_1, jobtitle="😀" * 15)
    assert w.sync("pull").failed == 0 and nav(w, "CT000001", "Job Title") == "😀" * 15


def test_a_long_value_is_cut_in_the_message(w):
    set_crm(w, CRM_1, jobtitle="y" * 10_000)
    msg = w.sync("pull").errors["message"][0]
    assert "(10,000 characters)" in msg and len(msg) < 400


def test_a_search_index_of_an_older_form_is_rebuilt_on_open(template, tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    shutil.copyfile(template, path)
    with cs.Workspace.open(path) as ws:
        set_crm(ws, CRM_1, firstname=unicodedata.normalize("NFD", "Jürgen"))
    con = duckdb.connect(str(path))  # as an older contactsync left it: raw text, no form marker
    con.execute("DELETE FROM meta WHERE key = 'search_index_form'")
    con.execute("UPDATE crm_contact_search SET text = lower(?) WHERE key = ?",
                [unicodedata.normalize("NFD", "Jürgen Müller"), CRM_1])
    con.close()
    with cs.Workspace.open(path) as ws:
        assert CRM_1 in set(ws.crm_contacts(search="Jürgen")["contactid"])


def test_set_up_coupling_with_sync_says_when_the_filter_skipped_it():
    w = fill_small(cs.Workspace.open(":memory:"))
    w.sql("UPDATE crm_contact SET statecode = 1 WHERE contactid = ?", [CRM_1], write=True)
    r = w.couple("CT000001", CRM_1, sync_after="push")
    assert "left out by the mapping's filters" in r.message and r.sync.skipped == 1
    assert crm(w, CRM_1, "firstname") == "Jürgen"  # nothing pushed
    assert w.couple("CT000002", CRM_2, sync_after="push").message.endswith("Synchronization completed.")
