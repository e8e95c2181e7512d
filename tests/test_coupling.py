"""The seed's coupling procedures and their rules."""

import pandas as pd
import pytest
from conftest import ACC_A, ACC_B, CRM_1, CRM_2, CRM_3, all_state, assert_same_state

import contactsync as cs


def test_couple_only_persons_with_a_company(ws):
    with pytest.raises(cs.CouplingError, match="type Person and assigned to a company"):
        ws.couple("CT000003", CRM_3)  # a person without a company
    with pytest.raises(cs.CouplingError, match="Company contact"):
        ws.couple("C00001", CRM_3)
    with pytest.raises(cs.NotFoundError, match="CT999999"):
        ws.couple("CT999999", CRM_3)
    with pytest.raises(cs.NotFoundError, match="does not exist"):
        ws.couple("CT000001", "eeeeeeee-0000-0000-0000-000000000000")


def test_couple_then_lists_show_the_flag(ws):
    r = ws.couple("ct000001", "{" + CRM_1.upper() + "}")
    assert r.nav_no == "CT000001" and r.crm_id == CRM_1 and r.sync is None
    crm = ws.crm_contacts()
    assert crm.set_index("contactid").loc[CRM_1, "coupled"]
    assert crm.set_index("contactid").loc[CRM_1, "nav_no"] == "CT000001"
    assert not crm.set_index("contactid").loc[CRM_3, "coupled"]
    nav = ws.nav_contacts().set_index("No.")
    assert nav.loc["CT000001", "crm_id"] == CRM_1 and not nav.loc["CT000004", "coupled"]


def test_one_to_one_and_replace(ws):
    ws.couple("CT000001", CRM_1)
    with pytest.raises(cs.CouplingError, match="already coupled to CRM contact"):
        ws.couple("CT000001", CRM_3)
    with pytest.raises(cs.CouplingError, match="already coupled to NAV contact CT000001"):
        ws.couple("CT000004", CRM_1)
    r = ws.couple("CT000004", CRM_1, replace=True)
    assert "CT000001" in r.message and "deleted" in r.message
    assert ws.nav_contact("CT000004")["crm_id"] == CRM_1
    assert not ws.nav_contact("CT000001")["coupled"]
    ws.undo(r.run_id)  # the replaced coupling comes back
    assert ws.nav_contact("CT000001")["crm_id"] == CRM_1 and not ws.nav_contact("CT000004")["coupled"]


def test_sync_after_coupling_push_and_pull(ws):
    r = ws.couple("CT000002", CRM_2, sync_after="pull")  # Yes - Use the Dynamics CRM Data
    assert r.sync.modified == 1
    row = ws.nav_contact("CT000002")
    assert row["First Name"] == "Siobhan"  # CRM's spelling won
    assert row["Post Code"] == "D02 X285"  # Code field upper-cased on pull
    ws.uncouple("CT000002")
    r = ws.couple("CT000001", CRM_3, sync_after="push")  # Yes - Use the Dynamics NAV Data
    crm = ws.crm_contact(CRM_3)
    assert (crm["firstname"], crm["lastname"], crm["jobtitle"]) == ("Jürgen", "Müller", "Einkauf")
    assert crm["parentcustomerid"] == ACC_A
    assert "Synchronization completed" in r.message


def test_create_new_is_always_push(ws):
    with pytest.raises(cs.SyncError, match="always used"):
        ws.couple("CT000004", create_new=True, sync_after="pull")
    with pytest.raises(cs.CouplingError, match="either"):
        ws.couple("CT000004", CRM_3, create_new=True)
    r = ws.couple("CT000004", create_new=True)
    assert ws.crm_contact(r.crm_id)["lastname"] == "Schmidt"


def test_uncouple_logged_and_undoable(ws):
    ws.couple("CT000001", CRM_1)
    r = ws.uncouple(crm_id=CRM_1)
    assert "deleted" in r.message and not ws.nav_contact("CT000001")["coupled"]
    assert ws.runs().set_index("run_id").loc[r.run_id, "uncoupled"] == 1
    with pytest.raises(cs.NotFoundError, match="not coupled"):
        ws.uncouple("CT000001")
    ws.undo(r.run_id)
    assert ws.nav_contact("CT000001")["crm_id"] == CRM_1


def test_create_crm_from_nav(ws):
    new_id = ws.create_crm_from_nav("CT000001")
    assert new_id.message == "Synchronization completed"
    crm = ws.crm_contact(new_id)
    assert crm["nav_no"] == "CT000001" and crm["firstname"] == "Jürgen" and crm["parentcustomerid"] == ACC_A
    assert crm["emailaddress1"] == "jm@mueller.de" and crm["middlename"] is None  # '' in NAV -> null in CRM
    assert ws.compare("CT000001")["differs"].sum() == 0
    with pytest.raises(cs.CouplingError, match="already coupled"):
        ws.create_crm_from_nav("CT000001")
    with pytest.raises(cs.CouplingError, match="type Person and assigned to a company"):
        ws.create_crm_from_nav("CT000003")


def test_create_crm_needs_the_company_coupled(ws):
    ws.uncouple_company("C00002")
    before = all_state(ws)
    with pytest.raises(cs.CouplingError, match=r"Company C00002 \(O'Brien Ltd\) is not coupled.*couple_company"):
        ws.create_crm_from_nav("CT000002")
    assert_same_state(before, all_state(ws))


def test_create_nav_from_crm_numbers_and_company(ws):
    no = ws.create_nav_from_crm(CRM_3)
    assert no == "CT000005"  # next after the highest existing CT000004
    row = ws.nav_contact(no)
    assert row["Type"] == "Person" and row["Company No."] == "C00001"
    assert row["Company Name"] == "Müller & Söhne GmbH" and row["Name"] == "Nina Nowak"
    assert row["crm_id"] == CRM_3 and row["Job Title"] == "Buyer"
    assert no.uncoupled == ()


def test_create_nav_from_already_coupled_crm_deletes_old_coupling(ws):
    ws.couple("CT000001", CRM_1)
    no = ws.create_nav_from_crm(CRM_1)
    assert "CT000001" in no.message and "deleted" in no.message and no.uncoupled == ("CT000001",)
    assert not ws.nav_contact("CT000001")["coupled"]
    assert ws.crm_contact(CRM_1)["nav_no"] == no


def test_create_nav_needs_account_coupled(ws):
    ws.uncouple_company("C00001")
    with pytest.raises(cs.CouplingError, match=f"CRM account Müller & Söhne GmbH \\({ACC_A}\\) is not coupled"):
        ws.create_nav_from_crm(CRM_3)


def test_create_nav_fails_on_too_long_value_without_truncating(ws):
    ws.import_crm(pd.DataFrame({"contactid": [CRM_3], "jobtitle": ["Chief Executive Officer and Chairwoman"]}))
    before = all_state(ws)
    with pytest.raises(cs.CouplingError, match="Job Title.*38 characters.*at most 30"):
        ws.create_nav_from_crm(CRM_3)
    assert_same_state(before, all_state(ws))


def test_couple_company_rules(ws):
    with pytest.raises(cs.CouplingError, match="already coupled"):
        ws.couple_company("C00001", ACC_B)
    with pytest.raises(cs.CouplingError, match="only Company contacts"):
        ws.couple_company("CT000001", ACC_A)
    r = ws.couple_company("C00001", ACC_B, replace=True)
    assert "deleted" in r.message
    assert ws.accounts().set_index("accountid").loc[ACC_B, "nav_no"] == "C00001"


def test_import_couplings_all_or_nothing(ws):
    bad = pd.DataFrame({"No.": ["CT000001", "CT000003", "CT000004"], "contactid": [CRM_1, CRM_2, CRM_1]})
    before = all_state(ws)
    with pytest.raises(cs.CouplingError) as err:
        ws.import_couplings(bad)
    text = str(err.value)
    assert "none imported" in text and "row 2" in text and "not a Person with a company" in text
    assert "appears more than once" in text
    assert_same_state(before, all_state(ws))
    good = pd.DataFrame({"No.": ["CT000001", "CT000002"], "contactid": [CRM_1, CRM_2],
                         "Last Synch. Modified On": ["2025-01-03 00:00:00", ""]})
    r = ws.import_couplings(good)
    assert (r.inserted, r.unchanged) == (2, 0)
    assert ws.import_couplings(good).unchanged == 2  # idempotent
    with pytest.raises(cs.CouplingError, match="already coupled"):
        ws.import_couplings(pd.DataFrame({"No.": ["CT000004"], "contactid": [CRM_1]}))


def test_import_company_couplings(ws):
    ws.uncouple_company("C00001")
    r = ws.import_couplings(pd.DataFrame({"No.": ["C00001"], "accountid": [ACC_A]}), entity="company")
    assert r.inserted == 1
    with pytest.raises(cs.CouplingError, match="not a Company contact"):
        ws.import_couplings(pd.DataFrame({"No.": ["CT000001"], "accountid": [ACC_A]}), entity="company")


# -- the coupling import: all or nothing, every bad row named, undo exact (a property) ---------------
from datetime import datetime  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from contactsync import search  # noqa: E402

_CRM = [f"cccccccc-0000-0000-0000-00000000010{i}" for i in range(1, 7)]
_NAV = [f"CT00010{i}" for i in range(1, 7)]  # CT000103 has no company; CT000105 <-> _CRM[4] coupled already
# each candidate cell as a file may write it, with its key as the import reads it (None = empty)
_NAV_CELLS = [(n, n) for n in _NAV] + [("ct000102", "CT000102"), (" CT000104 ", "CT000104"), ("C00001", "C00001"),
                                      ("CT999999", "CT999999"), ("", None)]
_CRM_CELLS = [(c, c) for c in _CRM] + [("{" + _CRM[1].upper() + "}", _CRM[1]), (ACC_A, ACC_A),
                                      ("dddddddd-0000-0000-0000-000000000000", "dddddddd-0000-0000-0000-000000000000"),
                                      ("  ", None)]
_STAMPS = {"": None, "2025-01-03 00:00:00": datetime(2025, 1, 3), "2025-01-03T00:00:00+02:00": datetime(2025, 1, 2, 22),
           "not a date": "bad"}


@pytest.fixture(scope="module")
def coupling_ws():
    """One workspace for every example: a rejected import leaves it as it was, an accepted one is undone."""
    w = cs.Workspace.open(":memory:")
    w.import_accounts(pd.DataFrame([{"accountid": ACC_A, "name": "Acme"}]))
    w.import_nav(pd.DataFrame(
        [{"No.": "C00001", "Type": "Company", "Company No.": "C00001", "Name": "Acme"}]
        + [{"No.": n, "Type": "Person", "Company No.": "" if n == "CT000103" else "C00001", "Surname": f"P{n}"}
           for n in _NAV]))
    w.import_crm(pd.DataFrame([{"contactid": c, "lastname": f"R{i}", "parentcustomerid": ACC_A}
                               for i, c in enumerate(_CRM)]))
    w.couple_company("C00001", ACC_A)
    w.couple(_NAV[4], _CRM[4])
    yield w
    w.close()


def _expected_problems(rows) -> set[int]:
    """A Python reference of the import's rules: the data rows (from 1) it must reject."""
    navs = [n for n, _, _ in rows if n]
    crms = [c for _, c, _ in rows if c]
    bad = set()
    for i, (n, c, stamp) in enumerate(rows, 1):
        if (n is None or c is None or navs.count(n) > 1 or crms.count(c) > 1 or n not in _NAV or n == "CT000103"
                or c not in _CRM or stamp == "bad" or (n == _NAV[4]) != (c == _CRM[4])):
            bad.add(i)
    return bad


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(st.sampled_from(_NAV_CELLS), st.sampled_from(_CRM_CELLS), st.sampled_from(list(_STAMPS))),
                      min_size=1, max_size=7),
       with_stamps=st.booleans())
def test_import_couplings_property(coupling_ws, cells, with_stamps):
    """Whatever the file: either every pair is coupled (with its last-synced stamp, the lists' Coupled column
    in step) and undo puts the couplings back exactly, or nothing changes and the error names exactly the
    bad rows (a Python reference of the rules)."""
    w = coupling_ws
    before = all_state(w)
    frame = pd.DataFrame({"No.": [n for (n, _), _, _ in cells], "contactid": [c for _, (c, _), _ in cells]})
    if with_stamps:
        frame["Last Synch. Modified On"] = [s for _, _, s in cells]
    rows = [(nk, ck, _STAMPS[s] if with_stamps else None) for (_, nk), (_, ck), s in cells]
    bad = _expected_problems(rows)
    if bad:
        with pytest.raises(cs.CouplingError) as err:
            w.import_couplings(frame)
        assert {r for r, _ in err.value.context["problems"]} == bad
        assert "none imported" in str(err.value)
        assert_same_state(before, all_state(w))
        return
    r = w.import_couplings(frame)
    new = {(n, c): s for n, c, s in rows if (n, c) != (_NAV[4], _CRM[4])}
    assert (r.inserted, r.unchanged) == (len(new), len(rows) - len(new))
    got = w.sql("SELECT nav_no, crm_id, nav_synced_modified FROM coupling WHERE entity = 'contact'")
    got = {(a, b): (None if pd.isna(s) else s.to_pydatetime()) for a, b, s in got.itertuples(index=False)}
    assert got == {**new, (_NAV[4], _CRM[4]): None}
    with w._store.connection() as con:
        assert search.drift(con) == {"crm": 0, "nav": 0}
    assert set(w.crm_contacts(coupled=True, limit=None)["contactid"]) == {c for _, c in got}
    w.undo(r.run_id)
    assert_same_state(before, all_state(w))
    with w._store.connection() as con:
        assert search.drift(con) == {"crm": 0, "nav": 0}
