"""Value maps and field options (issue 15 item 3): the default country map in each direction, an unmapped value
fails the record naming value and map, existing CRM codes stay valid, Clear Value on Failed Sync, Not Null,
Enabled/Disabled; undo exact after value-mapped writes (a hypothesis property over edit sequences)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wschecksum import diff, fingerprint

import contactsync as cs
from contactsync.valuemaps import ValueMap

RECORDS = ("nav_contact", "crm_contact", "coupling")


def _ws():
    return fill_small(cs.Workspace.open(":memory:"))


def _nav(ws, no, **values):
    ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", **values}]))


def _crm(ws, crm_id, **values):
    ws.import_crm(pd.DataFrame([{"contactid": crm_id, **values}]))


def test_the_default_country_map_is_iso3166_from_pycountry():
    vm = cs.default_mapping().value_map_named("country")
    fwd, back = vm.entries()
    assert fwd["DE"] == "Germany" and fwd["IE"] == "Ireland" and len(fwd) >= 249
    # CRM spellings read as the code: names, alpha-2 and alpha-3 codes, official names, any case
    assert back["GERMANY"] == "DE" and back["DE"] == "DE" and back["DEU"] == "DE"
    assert back["FEDERAL REPUBLIC OF GERMANY"] == "DE"


def test_existing_crm_codes_read_as_equal_nothing_fails_or_is_rewritten():
    ws = _ws()  # the CRM contacts hold codes (DE, IE), as contactsync wrote before the map
    ws.import_couplings(pd.DataFrame({"No.": ["CT000001"], "contactid": [CRM_1]}))
    r = ws.sync("both")
    assert r.failed == 0
    assert "address1_country" not in set(r.changes.field) and ws.crm_contact(CRM_1)["address1_country"] == "DE"
    assert not ws.compare("CT000001").set_index("nav_field").loc["Country/Region Code", "differs"]


def test_push_writes_the_english_name_and_pull_reads_it_back():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    _nav(ws, "CT000001", **{"Country/Region Code": "FR"})
    r = ws.sync("push")
    assert r.modified == 1 and ws.crm_contact(CRM_1)["address1_country"] == "France"
    for spelling, code in (("Netherlands", "NL"), ("aut", "AT"), ("united kingdom", "GB")):
        _crm(ws, CRM_1, address1_country=spelling)
        r = ws.sync("pull")
        assert r.failed == 0 and ws.nav_contact("CT000001")["Country/Region Code"] == code, spelling
    assert ws.sync("both").changes.empty


def test_an_unmapped_value_fails_the_record_naming_value_and_map_and_writes_nothing():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    _crm(ws, CRM_1, address1_country="Deutschland", jobtitle="Leitung Einkauf")
    before = fingerprint(ws, tables=("nav_contact",))
    r = ws.sync("pull")
    assert r.failed == 1 and r.modified == 0
    msg = r.errors.message.iloc[0]
    assert msg.startswith("address1_country: 'Deutschland' is not in the value map 'country'"), msg
    assert diff(before, fingerprint(ws, tables=("nav_contact",))) == []  # not even the job title
    _nav(ws, "CT000001", **{"Country/Region Code": "XX"})
    r = ws.sync("push", nos=["CT000001"], force=True)
    assert r.failed == 1 and "'XX' is not in the value map 'country'" in r.errors.message.iloc[0]
    assert ws.crm_contact(CRM_1)["address1_country"] == "Deutschland"  # never the raw value


def test_an_alias_fixes_it():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    _crm(ws, CRM_1, address1_country="Deutschland")
    assert ws.sync("pull").failed == 1
    ws.set_value_map("country", builtin="iso3166", aliases=[("Deutschland", "DE")])
    r = ws.sync("pull")
    assert r.failed == 0 and ws.nav_contact("CT000001")["Country/Region Code"] == "DE"


def test_a_custom_map_on_a_text_field_in_each_direction():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.set_value_map("jobs", {"Einkauf": "Purchasing", "Vertrieb": "Sales"}, field="Job Title")
    r = ws.sync("push", force=True)
    assert ws.crm_contact(CRM_1)["jobtitle"] == "Purchasing", r.errors
    _crm(ws, CRM_1, jobtitle="sales")
    assert ws.sync("pull").failed == 0 and ws.nav_contact("CT000001")["Job Title"] == "Vertrieb"


@pytest.mark.parametrize(("pairs", "aliases", "words"), [
    ([("DE", "Germany"), ("DE", "Deutschland")], (), ["'DE'", "mapped twice"]),
    ([("DE", "Germany"), ("AT", "germany")], (), ["'germany'", "two NAV values"]),
    ([("DE", "Germany")], [("Allemagne", "FR")], ["alias 'Allemagne'", "'FR'"]),
    ([("DE", "")], (), ["two non-empty texts"]),
])
def test_a_bad_map_is_refused_and_changes_nothing(pairs, aliases, words):
    ws = _ws()
    before, mapping = fingerprint(ws), ws.mapping
    with pytest.raises(cs.MappingError) as err:
        ws.set_value_map("country", pairs, aliases=aliases, field="Country/Region Code")
    assert all(w in str(err.value) for w in words), str(err.value)
    assert diff(before, fingerprint(ws)) == [] and ws.mapping == mapping


def test_a_field_naming_a_missing_map_is_refused():
    with pytest.raises(cs.MappingError, match="value map 'nope' is not defined"):
        cs.TableMapping(**{**{k: getattr(cs.default_mapping(), k) for k in (
            "name", "nav_table", "nav_key", "nav_modified", "crm_table", "crm_key", "crm_modified")},
            "fields": [cs.FieldMapping("City", "address1_city", value_map="nope")]})
    assert ValueMap("x", (("A", "b"),)).to_dict() == {"pairs": [["A", "b"]]}


def test_clear_on_failure_writes_empty_instead_of_failing_and_then_rests():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.set_field_option("Country/Region Code", clear_on_failure=True)
    _nav(ws, "CT000001", **{"Country/Region Code": "XX", "City": "Potsdam"})
    r = ws.sync("push")
    assert r.failed == 0 and r.modified == 1
    crm = ws.crm_contact(CRM_1)
    assert crm["address1_city"] == "Potsdam" and crm["address1_country"] is None
    again = ws.sync("push")
    assert again.changes.empty and again.failed == 0  # the destination is already empty: nothing written
    _nav(ws, "CT000001", **{"Country/Region Code": "AT"})
    assert ws.sync("push").modified == 1 and ws.crm_contact(CRM_1)["address1_country"] == "Austria"
    # an over-long value from CRM is cleared in NAV instead of failing the record
    ws.set_field_option("City", clear_on_failure=True)
    _crm(ws, CRM_1, address1_city="X" * 40, jobtitle="Chef")
    r = ws.sync("pull")
    assert r.failed == 0 and ws.nav_contact("CT000001")["City"] == "" and ws.nav_contact("CT000001")["Job Title"] == \
        "Chef"


def test_not_null_never_writes_an_empty_value():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.set_field_option("City", not_null=True)
    _nav(ws, "CT000001", City="", **{"Phone No.": ""})
    r = ws.sync("push")
    crm = ws.crm_contact(CRM_1)
    assert crm["address1_city"] == "Berlin" and crm["telephone1"] is None, r.changes
    with pytest.raises(cs.MappingError, match="exclude each other"):
        ws.set_field_option("City", clear_on_failure=True)


def test_a_disabled_field_is_left_out_of_compare_and_sync_and_kept():
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.set_field_option("City", enabled=False)
    assert "City" not in set(ws.compare("CT000001").nav_field)
    _nav(ws, "CT000001", City="Potsdam")
    assert ws.sync("push").changes.empty and ws.crm_contact(CRM_1)["address1_city"] == "Berlin"
    assert "City" in set(ws.field_options().nav)
    ws.set_field_option("City", enabled=True)
    assert ws.sync("push").modified == 1 and ws.crm_contact(CRM_1)["address1_city"] == "Potsdam"


NAV_COUNTRIES = st.sampled_from(["DE", "FR", "XX", "", "IE"])
CRM_COUNTRIES = st.sampled_from(["Germany", "fr", "Deutschland", None, "IRL", "Ireland"])
STEP = st.tuples(st.sampled_from(["nav", "crm"]), NAV_COUNTRIES, CRM_COUNTRIES,
                 st.sampled_from(["push", "pull", "both"]), st.booleans())


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=3), clear=st.booleans())
def test_undo_of_a_value_mapped_run_is_exact(steps, clear):
    """Edits, then a sync; its undo gives back exactly the state before it; the sync again, and on."""
    ws = _ws()
    ws.couple("CT000001", CRM_1, sync_after="push")
    ws.couple("CT000002", CRM_2, sync_after="push")
    if clear:
        ws.set_field_option("Country/Region Code", clear_on_failure=True)
    for side, nav_value, crm_value, direction, force in steps:
        if side == "nav":
            _nav(ws, "CT000001", **{"Country/Region Code": nav_value})
        else:
            _crm(ws, CRM_2, address1_country=crm_value)
        image = fingerprint(ws, tables=RECORDS)
        force = force and direction != "both"
        r = ws.sync(direction, force=force)
        # a record is never written with a value outside the map (the CRM codes were there before)
        for rec in (ws.crm_contact(CRM_1), ws.crm_contact(CRM_2)):
            assert rec["address1_country"] in (None, "DE", "IE", "Germany", "France", "Ireland", "Deutschland", "fr",
                                               "IRL")
        ws.undo(r.run_id)
        assert diff(image, fingerprint(ws, tables=RECORDS)) == []
        ws.sync(direction, force=force)
