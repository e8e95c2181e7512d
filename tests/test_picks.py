"""Per-field pick (issue 16): NAV value, CRM value or an edited value per field, for one pair or many, as one
undoable run, checked as a sync checks values, nothing written on bad input."""

from __future__ import annotations

import shutil

import pytest
from conftest import CRM_1, CRM_2, couple_two, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wschecksum import diff, fingerprint

import contactsync as cs
from contactsync.errors import ContactSyncError
from contactsync.picks import Pick, build_pick_sql, picks_frame

PAIRS = {"CT000001": CRM_1, "CT000002": CRM_2}
#: plain fields (no value map, no lookup, no Code): the hand-written twin writes the same text to both sides
PLAIN = {"First Name": "firstname", "Job Title": "jobtitle", "City": "address1_city", "Phone No.": "telephone1"}
STATE = ("nav_contact", "crm_contact", "crm_account", "coupling")
TEXT = st.text(alphabet="abcÄß é-", max_size=6)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("picks") / "t.duckdb"
    w = cs.Workspace.open(path)
    couple_two(fill_small(w))
    w.close()
    return path


def _open(template, tmp_path, name):
    path = tmp_path / name
    shutil.copyfile(template, path)
    return cs.Workspace.open(path)


def _write(w, values, stamp: bool):
    """Write ``values`` ({(side, nav_no, field): text}) by hand, one UPDATE per side (a hand write rebuilds the
    search index: batching keeps an example quick); NAV text never null, CRM empty as null; ``stamp``: new
    modified-at values, as the systems' users' edits would have."""
    fields = sorted(PLAIN)
    for side, table, key, cols in (("nav", "nav_contact", '"No."', [f'"{f}"' for f in fields]),
                                   ("crm", "crm_contact", "contactid", [PLAIN[f] for f in fields])):
        rows = {}
        for (sd, no, f), v in values.items():
            if sd == side:
                rows.setdefault(no, [None] * len(fields))[fields.index(f)] = v
        if not rows:
            continue
        sets = [f"{c} = CASE WHEN e.v{i} IS NULL THEN t.{c} ELSE "
                + (f"e.v{i}" if side == "nav" else f"nullif(e.v{i}, '')") + " END" for i, c in enumerate(cols)]
        if stamp:
            sets.append('"SystemModifiedAt" = now()::TIMESTAMP' if side == "nav" else "modifiedon = now()::TIMESTAMP")
        marks = ", ".join(["(" + ", ".join(["?::VARCHAR"] * (len(fields) + 1)) + ")"] * len(rows))
        params = [x for no, vs in rows.items() for x in (no if side == "nav" else PAIRS[no], *vs)]
        w.sql(f"UPDATE {table} AS t SET {', '.join(sets)} FROM (SELECT * FROM (VALUES {marks}) "
              f"v(k, {', '.join(f'v{i}' for i in range(len(fields)))})) e WHERE t.{key} = e.k", params, write=True)


def _edit(w, edits):
    """Change values by hand on both sides (as the systems' users would), with new modified-at stamps."""
    _write(w, edits, stamp=True)


def _values(w):
    nav = w.sql('SELECT "No." AS k, ' + ", ".join(f'"{f}"' for f in PLAIN) + " FROM nav_contact ORDER BY 1")
    crm = w.sql("SELECT contactid AS k, " + ", ".join(PLAIN.values()) + " FROM crm_contact ORDER BY 1")
    return nav.fillna("").to_dict("records"), crm.fillna("").to_dict("records")


edits_st = st.dictionaries(st.tuples(st.sampled_from(["nav", "crm"]), st.sampled_from(sorted(PAIRS)),
                                     st.sampled_from(sorted(PLAIN))), TEXT, max_size=5)
picks_st = st.dictionaries(st.tuples(st.sampled_from(sorted(PAIRS)), st.sampled_from(sorted(PLAIN))),
                           st.tuples(st.sampled_from(list(Pick)), TEXT), min_size=1, max_size=5)


@pytest.mark.slow  # ~45-70 s at load 8-11 here (two workspace files per example)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits_st, picks=picks_st)
def test_pick_equals_the_hand_written_twin_leaves_pairs_in_step_and_undoes_exactly(template, tmp_path, edits, picks):
    w, twin = _open(template, tmp_path, "w.duckdb"), _open(template, tmp_path, "twin.duckdb")
    try:
        _edit(w, edits)
        _edit(twin, edits)
        before = fingerprint(w, STATE)
        nav0 = {r["k"]: r for r in _values(w)[0]}
        crm0 = {r["k"]: r for r in _values(w)[1]}
        rows = [{"nav_no": no, "field": f, "choice": c.value, "value": v if c is Pick.VALUE else None}
                for (no, f), (c, v) in picks.items()]
        runs = len(w.runs())
        result = w.pick(rows)
        assert len(w.runs()) == runs + 1 and w.runs().iloc[-1]["kind"] == "pick"  # one run
        # the twin: the same values written by hand, NAV text never null, CRM empty as null
        hand = {}
        for (no, f), (c, v) in picks.items():
            value = {Pick.NAV: nav0[no][f], Pick.CRM: crm0[PAIRS[no]][PLAIN[f]], Pick.VALUE: v}[c]
            hand[("nav", no, f)] = hand[("crm", no, f)] = value
        _write(twin, hand, stamp=False)
        assert _values(w) == _values(twin)
        # in step: no picked field differs, and a sync both ways plans nothing for them
        d = w.differences()
        assert not set(zip(d["nav_no"], d["nav_field"])) & set(picks)
        plan = w.sync("both", dry_run=True).changes
        picked = {(no, f) for no, f in picks} | {(PAIRS[no], PLAIN[f]) for no, f in picks}
        assert not set(zip(plan["key"], plan["field"])) & picked
        # and the last-synced values are the agreed ones (else a later edit on one side reads as a conflict)
        for (no, f), _c in picks.items():
            base = w.sql(f'SELECT "base:{PLAIN[f]}" AS b FROM coupling WHERE entity = \'contact\' AND nav_no = ?',
                         [no])["b"].iloc[0]
            assert (base or "") == hand[("nav", no, f)], (no, f)
        assert result.pairs == len({no for no, _f in picks})
        w.undo(result.run_id)
        assert not diff(before, fingerprint(w, STATE))
    finally:
        w.close()
        twin.close()


def _bad(w, rows, match):
    before = fingerprint(w)
    with pytest.raises(ContactSyncError, match=match):
        w.pick(rows)
    assert not diff(before, fingerprint(w))  # nothing written, no run


def test_bad_picks_name_the_problem_and_write_nothing(synced):
    w = synced
    one = {"nav_no": "CT000001", "field": "City", "choice": "crm"}
    _bad(w, [{**one, "field": "Town"}], "not mapped; mapped fields: First Name")
    _bad(w, [{**one, "nav_no": "CT000003"}], "not coupled: 'CT000003'")
    _bad(w, [{**one, "nav_no": "CT999999"}], "does not exist")
    _bad(w, [{**one, "choice": "both"}], "unknown choice")
    _bad(w, [one, {**one, "choice": "nav"}], "picked twice")
    _bad(w, [{**one, "choice": "value", "value": "x" * 31}], "31 characters; the NAV field holds at most 30")
    _bad(w, [{**one, "choice": "value", "value": "🙂" * 16}], "32 characters")  # UTF-16 units
    _bad(w, [{**one, "field": "E-Mail", "choice": "value", "value": "no at sign"}], "not a valid e-mail")
    _bad(w, [{**one, "field": "Company No.", "choice": "value", "value": "C00009"}], "not coupled to a CRM account")
    _bad(w, [{**one, "field": "Country/Region Code", "choice": "value", "value": "XX"}], "not in the value map")
    _bad(w, [], "no picks")
    _bad(w, [{"nav_no": "CT000001", "field": "City"}], "lack the column")


def test_a_pick_through_the_value_map_and_the_company_coupling(synced):
    w = synced
    r = w.pick(picks_frame(["CT000001"], {"Country/Region Code": "value", "Company No.": "value"},
                           {"Country/Region Code": "fr", "Company No.": "c00002"}))
    crm = w.crm_contact(CRM_1)
    nav = w.nav_contact("CT000001")
    assert (nav["Country/Region Code"], crm["address1_country"]) == ("FR", "France")
    assert nav["Company No."] == "C00002" and nav["Company Name"] == "O'Brien Ltd"
    assert crm["parentcustomerid"] == "aaaaaaaa-0000-0000-0000-000000000002"
    assert w.differences().empty and r.modified == 1
    assert "Country/Region Code, Company No." in r.message and "undo it in History" in r.message


def test_the_pick_sql_is_one_statement_whatever_the_number_of_pairs(synced):
    m = synced.mapping
    fields = [m.field("City"), m.field("Surname")]
    sql, params = build_pick_sql(m, fields)
    assert sql.count("FROM _pick ") == 1 and params == ["City", "City", "Surname", "Surname"]
    assert '"Name"' in sql  # a NAV name part written recomputes Name, as a pull does
