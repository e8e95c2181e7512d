"""Match-based coupling (BC parity), coupling suggestions, couple_matches, the review view, the benchmark."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import contactsync as cs
from contactsync.matching import normalize_phone

ACC_A = "aaaaaaaa-0000-0000-0000-00000000000a"
ACC_B = "aaaaaaaa-0000-0000-0000-00000000000b"


def guid(i: int) -> str:
    return f"cccccccc-0000-0000-0000-{i:012d}"


def make_ws(nav_persons: list[dict], crm_contacts: list[dict]) -> cs.Workspace:
    ws = cs.Workspace.open(":memory:")
    companies = [
        {"No.": "C1", "Type": "Company", "Company No.": "C1", "Name": "Alpha GmbH", "Company Name": "Alpha GmbH"},
        {"No.": "C2", "Type": "Company", "Company No.": "C2", "Name": "Beta Ltd", "Company Name": "Beta Ltd"},
    ]
    rows = []
    for i, p in enumerate(nav_persons, 1):
        rows.append({"No.": p.pop("No.", f"CT{i:06d}"), "Type": "Person", "Company No.": "C1",
                     "Company Name": "Alpha GmbH", **p})
    nav = pd.DataFrame(companies + rows).fillna("")
    nav["SystemModifiedAt"] = "2025-01-01 10:00:00"
    ws.import_nav(nav)
    ws.import_accounts(pd.DataFrame([{"accountid": ACC_A, "name": "Alpha GmbH", "statecode": 0},
                                     {"accountid": ACC_B, "name": "Beta Ltd", "statecode": 0}]))
    crm = pd.DataFrame([{"contactid": c.pop("contactid", guid(i)), "parentcustomerid": ACC_A, "statecode": 0,
                         "modifiedon": "2025-01-01 10:00:00", **c} for i, c in enumerate(crm_contacts, 1)])
    ws.import_crm(crm)
    ws.import_couplings(pd.DataFrame({"No.": ["C1", "C2"], "accountid": [ACC_A, ACC_B]}), entity="company")
    return ws


def coupled(ws) -> set[tuple[str, str]]:
    df = ws.sql("SELECT nav_no, crm_id FROM coupling WHERE entity = 'contact'")
    return set(zip(df["nav_no"], df["crm_id"]))


# ============================================================================ BC-parity match coupling
def test_priority_groups_first_group_wins_then_next_group():
    ws = make_ws(
        [{"First Name": "Ann", "Surname": "Lee", "E-Mail": "ann@alpha.de"},
         {"First Name": "Bob", "Surname": "Ray", "E-Mail": "bob@alpha.de"}],
        [{"firstname": "Anne", "lastname": "Leigh", "emailaddress1": "ANN@alpha.de"},   # e-mail only
         {"firstname": "Bob", "lastname": "Ray", "emailaddress1": "robert@beta.uk"}])   # name only
    r = ws.match_couple([["E-Mail"], ["First Name", "Surname"]])
    assert (r.coupled, r.not_coupled) == (2, 0)
    assert coupled(ws) == {("CT000001", guid(1)), ("CT000002", guid(2))}
    groups = dict(zip(r.details["nav_no"], r.details["group"]))
    assert groups == {"CT000001": 1, "CT000002": 2}
    runs = ws.runs()
    assert runs.iloc[-1]["kind"] == "couple" and runs.iloc[-1]["coupled"] == 2


def test_fields_in_a_group_are_anded():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee"}],
                 [{"firstname": "Ann", "lastname": "Other"}])
    r = ws.match_couple(["First Name", "Surname"])  # a flat list is one group
    assert r.coupled == 0 and r.reasons == {"none": 1}
    assert ws.match_couple(["First Name"]).coupled == 1


def test_case_insensitive_unless_asked():
    nav = [{"First Name": "Ann", "Surname": "Lee", "E-Mail": "Ann.Lee@Alpha.de"}]
    crm = [{"firstname": "x", "lastname": "y", "emailaddress1": "ann.lee@alpha.de"}]
    ws = make_ws([dict(p) for p in nav], [dict(c) for c in crm])
    r = ws.match_couple("E-Mail", case_sensitive=True)
    assert r.coupled == 0 and r.reasons == {"none": 1}
    r = ws.match_couple("E-Mail", case_sensitive=["Surname"])  # other fields case-sensitive only
    assert r.coupled == 1


def test_empty_values_never_match():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee", "E-Mail": ""}],
                 [{"firstname": "Zed", "lastname": "Zu", "emailaddress1": None}])
    r = ws.match_couple("E-Mail")
    assert r.coupled == 0 and r.reasons == {"none": 1}
    assert coupled(ws) == set()


def test_several_candidates_not_coupled_with_reason_on_both_sides():
    ws = make_ws(
        [{"First Name": "Ann", "Surname": "Lee"}, {"First Name": "Tom", "Surname": "Kay"},
         {"First Name": "Tom", "Surname": "Kay"}],
        [{"firstname": "ann", "lastname": "LEE"}, {"firstname": "Ann", "lastname": "Lee"},
         {"firstname": "Tom", "lastname": "Kay"}])
    r = ws.match_couple(["First Name", "Surname"])
    assert r.coupled == 0 and r.reasons == {"several": 3}
    d = r.details.set_index("nav_no")
    assert d.loc["CT000001", "candidates"] == 2          # two CRM candidates
    assert d.loc["CT000002", "reason"] == "several"      # one CRM candidate wanted by two NAV records
    assert coupled(ws) == set()
    assert "3 several" in r.message


def test_several_in_a_group_does_not_fall_through_to_lower_groups():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee", "E-Mail": "a@x.de"}],
                 [{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "a@x.de"},
                  {"firstname": "Anna", "lastname": "Lee", "emailaddress1": "a@x.de"}])
    r = ws.match_couple([["E-Mail"], ["First Name", "Surname"]])
    assert r.coupled == 0 and r.reasons == {"several": 1}


def test_already_coupled_reason_and_coupled_candidates_ignored():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee"}, {"First Name": "Ann", "Surname": "Lee"}],
                 [{"firstname": "Ann", "lastname": "Lee"}])
    ws.couple("CT000001", guid(1))
    r = ws.match_couple(["First Name", "Surname"], keys=["CT000001", "CT000002"])
    d = r.details.set_index("nav_no")["reason"].to_dict()
    # CT000001 is coupled itself; CT000002's only match is coupled to someone else
    assert d == {"CT000001": "already coupled", "CT000002": "already coupled"}
    assert r.coupled == 0 and r.reasons == {"already coupled": 2}


def test_exactly_one_uncoupled_candidate_couples_even_when_a_coupled_one_also_matches():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee"}, {"First Name": "Ann", "Surname": "Lee"}],
                 [{"firstname": "Ann", "lastname": "Lee"}, {"firstname": "Ann", "lastname": "Lee"}])
    ws.couple("CT000001", guid(1))
    r = ws.match_couple(["First Name", "Surname"])
    assert r.coupled == 1 and ("CT000002", guid(2)) in coupled(ws)


def test_unknown_field_names_the_mapped_fields():
    ws = make_ws([{"First Name": "Ann"}], [{"firstname": "Ann"}])
    with pytest.raises(cs.ContactSyncError, match="not a mapped field"):
        ws.match_couple(["Shoe Size"])
    with pytest.raises(cs.ContactSyncError, match="at least one field"):
        ws.match_couple([])


def test_crm_names_and_priority_mapping_accepted():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee", "E-Mail": "a@x.de"}],
                 [{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "b@x.de"}])
    r = ws.match_couple({"emailaddress1": 1, "firstname": 2, "lastname": 2})
    assert r.coupled == 1 and r.details["group"].iloc[0] == 2


def test_create_new_for_unmatched_and_sync_after():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee", "E-Mail": "ann@x.de", "Job Title": "Boss"},
                  {"First Name": "Solo", "Surname": "Person", "E-Mail": "solo@x.de"}],
                 [{"firstname": "A.", "lastname": "Lee", "emailaddress1": "ann@x.de", "jobtitle": "Intern"}])
    r = ws.match_couple("E-Mail", create_new=True, sync_after="push")
    assert (r.coupled, r.created, r.not_coupled) == (1, 1, 0)
    assert ws.crm_contact(guid(1))["jobtitle"] == "Boss"          # pushed after coupling
    new = r.details.set_index("nav_no").loc["CT000002"]
    assert new["status"] == "created"
    assert ws.crm_contact(new["crm_id"])["lastname"] == "Person"
    assert r.sync is not None and r.sync.modified == 1


def test_dry_run_writes_nothing_and_undo_restores():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee"}], [{"firstname": "Ann", "lastname": "Lee"}])
    runs_before = len(ws.runs())
    r = ws.match_couple(["First Name", "Surname"], dry_run=True)
    assert r.coupled == 1 and r.run_id is None and coupled(ws) == set() and len(ws.runs()) == runs_before
    r = ws.match_couple(["First Name", "Surname"])
    assert coupled(ws) == {("CT000001", guid(1))}
    ws.undo(r.run_id)
    assert coupled(ws) == set()


def test_side_crm_couples_from_the_crm_side():
    ws = make_ws([{"First Name": "Ann", "Surname": "Lee", "E-Mail": "ann@x.de"}],
                 [{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ANN@x.de"}])
    r = ws.match_couple("E-Mail", side="crm", keys=[guid(1).upper()])
    assert r.coupled == 1 and coupled(ws) == {("CT000001", guid(1))}


# ========================================================================================= suggestions
BASE = {"First Name": "Jürgen", "Surname": "Müller", "E-Mail": "juergen.mueller@alpha.de",
        "Phone No.": "+49 30 1234567", "Mobile Phone No.": "+49 151 23456789", "Address": "Hauptstraße 5",
        "Post Code": "10115", "City": "Berlin", "Country/Region Code": "DE", "Job Title": "Einkauf"}
CRM_BASE = {"firstname": "Jürgen", "lastname": "Müller", "emailaddress1": "juergen.mueller@alpha.de",
            "telephone1": "+49 30 1234567", "mobilephone": "+49 151 23456789", "address1_line1": "Hauptstraße 5",
            "address1_postalcode": "10115", "address1_city": "Berlin", "address1_country": "DE",
            "jobtitle": "Einkauf"}
DECOY = {"firstname": "Petra", "lastname": "Schulz", "emailaddress1": "petra.schulz@alpha.de",
         "telephone1": "+49 30 7654321", "address1_postalcode": "20095", "address1_city": "Hamburg",
         "address1_country": "DE"}

CORRUPTIONS = {
    "typo": {"lastname": "Müler"},
    "typo_first": {"firstname": "Jürgn"},
    "swapped": {"firstname": "Müller", "lastname": "Jürgen"},
    "accents": {"firstname": "Jurgen", "lastname": "Muller"},
    "missing": {"emailaddress1": None, "mobilephone": None, "address1_line1": None},
    "email_case_spacing": {"emailaddress1": " Juergen.Mueller@ALPHA.de "},
    "phone_format": {"telephone1": "030 1234567", "mobilephone": "0049 (0)151-2345 6789", "emailaddress1": None},
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_suggestions_robust_to_each_corruption(kind):
    ws = make_ws([dict(BASE)], [{**CRM_BASE, **CORRUPTIONS[kind]}, dict(DECOY)])
    s = ws.suggest_couplings()
    best = s.iloc[0]
    assert (best["nav_no"], best["crm_id"]) == ("CT000001", guid(1))
    assert 0.5 <= best["score"] <= 1 and bool(best["match"])
    assert not s[(s["crm_id"] == guid(2)) & s["match"]].any().any()
    assert isinstance(best["reasons"], str) and best["reasons"]
    if kind == "swapped":
        assert "swapped" in best["reasons"]
    if kind == "email_case_spacing":
        assert "e-mail: same" in best["reasons"]
    if kind == "phone_format":
        assert "same number" in best["reasons"]


def test_suggestions_do_not_match_a_relative_or_namesake():
    relative = {**CRM_BASE, "firstname": "Helga", "emailaddress1": "helga.mueller@alpha.de", "mobilephone": None}
    namesake = {"firstname": "Jürgen", "lastname": "Müller", "emailaddress1": "jm@beta.uk",
                "telephone1": "+44 20 7946 0000", "address1_postalcode": "SW1A 1AA", "address1_city": "London",
                "address1_country": "GB", "parentcustomerid": ACC_B}
    ws = make_ws([dict(BASE)], [relative, namesake])
    s = ws.suggest_couplings(min_score=0)
    assert not s["match"].any()
    assert set(s.columns) >= {"nav_no", "crm_id", "score", "match", "reasons"}
    assert ((s["score"] >= 0) & (s["score"] <= 1)).all()


def test_suggestions_skip_coupled_records_and_match_is_one_to_one():
    ws = make_ws([dict(BASE), {**BASE, "No.": "CT000009"}], [dict(CRM_BASE)])
    s = ws.suggest_couplings()
    assert len(s) == 2 and not s["match"].any()  # two identical NAV records: a tie, left to the steward
    ws.couple("CT000009", guid(1))
    assert ws.suggest_couplings().empty


def test_normalize_phone():
    assert normalize_phone("+44 (0)20 7946 0123") == "+442079460123"
    assert normalize_phone("020 7946 0123", "GB") == "+442079460123"
    assert normalize_phone("0044 20 7946 0123", "DE") == "+442079460123"
    assert normalize_phone("(201) 555-0123", "US") == "+12015550123"
    assert normalize_phone("", "GB") is None and normalize_phone(None) is None


# ======================================================================================= couple_matches
def test_couple_matches_all_or_nothing_logged_and_undoable():
    ws = make_ws([dict(BASE), {**BASE, "No.": "CT000009", "First Name": "Petra", "Surname": "Schulz",
                               "E-Mail": "petra.schulz@alpha.de", "Mobile Phone No.": ""}],
                 [dict(CRM_BASE), dict(DECOY)])
    s = ws.suggest_couplings()
    accepted = s[s["match"]]
    assert len(accepted) == 2
    # one bad pair (CRM contact that does not exist) -> nothing is coupled
    bad = pd.concat([accepted, pd.DataFrame([{"nav_no": "CT000001", "crm_id": guid(99)}])])
    with pytest.raises(cs.CouplingError):
        ws.couple_matches(bad)
    assert coupled(ws) == set()
    r = ws.couple_matches(accepted)
    assert r.coupled == 2 and coupled(ws) == {("CT000001", guid(1)), ("CT000009", guid(2))}
    run = ws.runs().set_index("run_id").loc[r.run_id]
    assert run["kind"] == "couple" and run["coupled"] == 2
    ws.undo(r.run_id)
    assert coupled(ws) == set()


def test_couple_matches_accept_column_and_tuples():
    ws = make_ws([dict(BASE)], [dict(CRM_BASE), dict(DECOY)])
    df = pd.DataFrame({"nav_no": ["CT000001", "CT000001"], "crm_id": [guid(1), guid(2)], "accept": ["yes", ""]})
    assert ws.couple_matches(df).coupled == 1
    ws2 = make_ws([dict(BASE)], [dict(CRM_BASE)])
    assert ws2.couple_matches([("CT000001", guid(1))]).coupled == 1


# ======================================================================================== review view
def test_review_view_driven_in_python():
    from contactsync.ui.review import ReviewView

    nav = [dict(BASE),
           {**BASE, "First Name": "Petra", "Surname": "Schulz", "E-Mail": "petra.schulz@alpha.de",
            "Phone No.": "", "Mobile Phone No.": "", "Address": "<b>Evil</b> & Co"},
           {"First Name": "Ola", "Surname": "Nordmann", "E-Mail": "ola@alpha.de"},
           {"First Name": "Kari", "Surname": "Nordmann", "E-Mail": "kari@alpha.de", "City": "Oslo"},
           {"First Name": "Lars", "Surname": "Berg", "E-Mail": "lars@alpha.de"}]
    crm = [dict(CRM_BASE), {**DECOY, "address1_line1": "<b>Evil</b> & Co"},
           {"firstname": "Ola", "lastname": "Nordman", "emailaddress1": "ola.n@private.no"},   # likely, 2 e-mails
           {"firstname": "Karin", "lastname": "Nordmann", "emailaddress1": "karin@beta.uk"}]   # another person
    ws = make_ws(nav, crm)
    changed = []
    v = ReviewView(ws, on_changed=lambda: changed.append(1))
    v.min_score.value = 0.0
    v.search_button.click()
    assert v.counts()["to review"] >= 3
    html = "".join(c.children[1].children[1].value for c in v.cards if len(c.children) > 2)
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html
    v.threshold.value = 0.9
    v.accept_all_button.click()
    assert v.counts()["matched"] == 2                 # not Ola: two different e-mail addresses, the steward decides
    ola = next(c for c in v.cards if c.nav_no == "CT000003")
    assert "two different e-mail addresses" in ola.children[1].children[1].value
    ola.accept_buttons[0].click()
    assert v.counts()["matched"] == 3
    before = v.counts()["to review"]
    # the rest: judge one "none" (by rejecting its candidates), and one "new" where nothing matches
    queue = v.queue()
    assert "CT000004" in queue and "CT000005" not in queue
    card = next(c for c in v.cards if c.nav_no == "CT000004")
    for _ in range(len(card.reject_buttons)):        # rejecting the last candidate judges the record none
        next(c for c in v.cards if c.nav_no == "CT000004").reject_buttons[0].click()
    assert v.judgments["CT000004"] == ("none", None)
    assert v.counts()["to review"] == before - 1
    v.judge("CT000005", "new")
    assert v.apply_button.description == "Apply (4)"
    runs_before = len(ws.runs())
    v.apply_button.click()
    assert v.messages.kind == "ok", v.messages.text
    assert {("CT000001", guid(1)), ("CT000002", guid(2)), ("CT000003", guid(3))} <= coupled(ws)
    assert ws.nav_contact("CT000005")["coupled"]
    assert changed
    assert len(ws.runs()) == runs_before + 1          # Apply is one run: the couplings and the new contact
    last = ws.runs().iloc[-1]
    assert last["kind"] == "couple" and last["coupled"] == 4   # 3 accepted pairs + the new contact


def test_review_view_single_accept_removes_candidate_elsewhere():
    from contactsync.ui.review import ReviewView

    ws = make_ws([dict(BASE), {**BASE, "No.": "CT000009", "E-Mail": "other@alpha.de"}], [dict(CRM_BASE)])
    v = ReviewView(ws)
    v.refresh()
    assert len(v.queue()) == 2
    v.cards[0].accept_buttons[0].click()
    assert v.queue() == []                            # the CRM contact is taken
    v.discard_button.click()
    assert len(v.queue()) == 2 and not v.judgments


# ========================================================================================== benchmark
@pytest.mark.slow
def test_benchmark_meets_targets_small(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # the checkout, for bench/
    from bench.matching.evaluate import run_contactsync, score, workspace
    from bench.matching.generate import make

    b = make(2000, seed=202)
    ws = workspace(b)
    pred, sec = run_contactsync(ws)
    s = score("contactsync", 2000, pred[pred["match"]], b.truth, sec)
    assert s.precision >= 0.99 and s.recall >= 0.98, s
