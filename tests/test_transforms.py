"""Transformation rules (issue 15 item 3): BC's rule types as SQL, chained, in each direction, validated when
the mapping loads, saved with every field option; undo exact after a transformed write."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wschecksum import diff, fingerprint

import contactsync as cs
from contactsync.mapping import FieldMapping, TableMapping, default_mapping, load_mapping, save_mapping
from contactsync.transforms import Rule, RuleKind, apply_rules, chain_sql, chain_sql_by_id, parse_rules
from contactsync.valuemaps import ValueMap

# text whose case mapping DuckDB (utf8proc) and Python agree on (not ß: DuckDB upper-cases it to ẞ, Python to SS)
TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019 -_.,'éÖø")), max_size=14)
SIMPLE = st.sampled_from([k.value for k in (RuleKind.UPPER, RuleKind.LOWER, RuleKind.TITLE, RuleKind.TRIM,
                                             RuleKind.REMOVE_NON_ALPHANUMERIC)])
RULE = st.one_of(
    SIMPLE,
    st.fixed_dictionaries({"rule": st.just("replace"), "find": st.sampled_from(["-", "a", " ", "é"]),
                           "replace": st.sampled_from(["", "_", "A"])}),
    st.fixed_dictionaries({"rule": st.just("regex_replace"), "find": st.sampled_from(["[0-9]+", "^ +", "a|x", "\\s+"]),
                           "replace": st.sampled_from(["", "#", " "])}),
    st.fixed_dictionaries({"rule": st.just("substring"), "start": st.integers(1, 5)}),
    st.fixed_dictionaries({"rule": st.just("substring"), "start": st.integers(1, 5), "length": st.integers(1, 6)}),
)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


def _sql_apply(con, rules, values):
    sql, params = chain_sql(rules, "v")
    got = con.execute(f"SELECT {sql} FROM (SELECT unnest(?::VARCHAR[]) AS v, generate_subscripts(?::VARCHAR[], 1) AS i) "
                      "ORDER BY i", [*params, values, values]).fetchall()
    return [r[0] for r in got]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(RULE, min_size=1, max_size=4), values=st.lists(TEXT, min_size=1, max_size=6))
def test_a_chain_in_sql_is_the_rules_applied_in_order(con, specs, values):
    rules = parse_rules(specs, "City")
    expected = [apply_rules(rules, v) for v in values]
    assert _sql_apply(con, rules, values) == expected


@pytest.mark.parametrize(("spec", "value", "expected"), [
    ("upper", "Müller", "MÜLLER"), ("lower", "MÜLLER", "müller"), ("trim", "  a b  ", "a b"),
    ("title", "jürgen von DER müller", "Jürgen Von DER Müller"),  # .NET ToTitleCase keeps all-caps words
    ("remove_non_alphanumeric", "+49 (30) 123-45", "493012345"),
    ({"rule": "replace", "find": "str.", "replace": "straße"}, "Hauptstr. 1", "Hauptstraße 1"),
    ({"rule": "regex_replace", "find": "^MR\\.? ", "replace": ""}, "mr. Smith", "Smith"),  # BC: IgnoreCase
    ({"rule": "substring", "start": 2, "length": 3}, "ABCDEF", "BCD"),
    ({"rule": "substring", "start": 9}, "ABC", ""),
])
def test_each_rule_as_bc_defines_it(con, spec, value, expected):
    rules = parse_rules([spec], "City")
    assert apply_rules(rules, value) == expected
    assert _sql_apply(con, rules, [value]) == [expected]


@pytest.mark.parametrize(("spec", "words"), [
    ("shout", ["unknown rule", "'shout'", "City"]),
    ({"rule": "regex_replace", "find": "(a"}, ["does not compile", "'(a'", "City", "regex_replace", "#1"]),
    ({"rule": "replace"}, ["needs 'find'", "City"]),
    ({"rule": "substring", "start": 0}, ["'start'", "at least 1", "City"]),
    ({"rule": "upper", "find": "x"}, ["unknown parameter", "find", "City"]),
])
def test_a_bad_rule_names_the_field_and_the_rule(spec, words):
    with pytest.raises(cs.MappingError) as err:
        FieldMapping("City", "address1_city", transform=[spec])
    assert all(w in str(err.value) for w in words), str(err.value)


def _small():
    return fill_small(cs.Workspace.open(":memory:"))


def test_bad_rule_in_the_workspace_changes_nothing():
    ws = _small()
    before = fingerprint(ws)
    with pytest.raises(cs.MappingError, match="City.*regex_replace.*does not compile"):
        ws.set_field_option("City", transform=[{"rule": "regex_replace", "find": "[a-"}])
    assert diff(before, fingerprint(ws)) == []
    assert ws.mapping.field("City").transform == ()


def test_a_bad_rule_in_a_mapping_file_fails_when_it_loads(tmp_path):
    p = tmp_path / "m.toml"
    save_mapping(default_mapping(), p)
    p.write_text(p.read_text().replace('nav = "City"', 'nav = "City"\ntransform = [{rule = "regex_replace", '
                                       'find = "(x"}]'))
    with pytest.raises(cs.MappingError, match="'City'.*regex_replace.*does not compile"):
        load_mapping(p)


def test_every_option_round_trips_through_toml_and_yaml(tmp_path):
    import yaml

    m = default_mapping()
    fields = []
    for f in (*m.fields, *m.disabled):
        if f.nav == "City":
            f = FieldMapping(f.nav, f.crm, max_length=30, transform=["trim", {"rule": "replace", "find": "-",
                                                                              "replace": " "}, "title"],
                             transform_direction="FromCRM", not_null=True)
        elif f.nav == "Fax No.":
            f = FieldMapping(f.nav, f.crm, enabled=False, clear_on_failure=True)
        elif f.nav == "Job Title":
            f = FieldMapping(f.nav, f.crm, direction="ToCRM", constant="Contact")
        elif f.nav == "County":
            f = FieldMapping(f.nav, f.crm, value_map="county", clear_on_failure=True)
        fields.append(f)
    m2 = TableMapping(**{**{k: getattr(m, k) for k in ("name", "nav_table", "nav_key", "nav_modified", "crm_table",
                                                        "crm_key", "crm_modified", "nav_filter", "crm_filter")},
                         "fields": fields, "value_maps": (*m.value_maps, ValueMap("county", (("BY", "Bavaria"),),
                                                                                  (("Bayern", "BY"),)))})
    assert [f.nav for f in m2.disabled] == ["Fax No."] and "Fax No." not in [f.nav for f in m2.fields]
    p = save_mapping(m2, tmp_path / "m.toml")
    assert load_mapping(p) == m2
    y = tmp_path / "m.yaml"
    y.write_text(yaml.safe_dump(m2.to_dict()))
    assert load_mapping(y) == m2
    # and through a workspace: stored, reopened
    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path, mapping=m2):
        pass
    with cs.Workspace.open(path) as ws:
        assert ws.mapping == m2
        opts = ws.field_options().set_index("nav")
        assert opts.loc["City", "transform"] == "trim > replace(find='-', replace=' ') > title"
        assert not opts.loc["Fax No.", "enabled"]


def test_push_writes_the_transformed_value_compare_agrees_and_undo_is_exact():
    ws = _small()
    ws.couple("CT000001", CRM_1)
    ws.couple("CT000002", CRM_2)
    ws.sync("push", force=True)
    ws.set_field_option("Surname", transform=["upper", {"rule": "replace", "find": "Ü", "replace": "UE"}])
    assert ws.mapping.field("Surname").transform_direction == "ToCRM"  # BC's default for a bidirectional field
    before = fingerprint(ws, tables=("nav_contact", "crm_contact", "coupling"))
    diffs = ws.differences()
    assert set(diffs.query("nav_field == 'Surname'").nav_no) == {"CT000001", "CT000002"}
    r = ws.sync("push")
    assert r.failed == 0
    crm = ws.crm_contact(CRM_1)
    assert crm["lastname"] == "MUELLER" and ws.nav_contact("CT000001")["Surname"] == "Müller"
    assert ws.crm_contact(CRM_2)["lastname"] == "O'BRIEN"
    cmp = ws.compare("CT000001").set_index("nav_field")
    assert not cmp.loc["Surname", "differs"]
    again = ws.sync("both")
    assert again.modified == 0 and again.changes.empty
    ws.undo(r.run_id)
    assert diff(before, fingerprint(ws, tables=("nav_contact", "crm_contact", "coupling"))) == []


def test_pull_through_fromcrm_rules():
    ws = _small()
    ws.couple("CT000001", CRM_1, sync_after="pull")
    ws.set_field_option("Job Title", transform=["trim", "title"], transform_direction="FromCRM")
    ws.import_crm(pd.DataFrame([{"contactid": CRM_1, "jobtitle": "  head of PURCHASING ",
                                 "modifiedon": "2026-01-01 00:00:00"}]))
    r = ws.sync("pull")
    assert r.modified == 1, r.errors
    assert ws.nav_contact("CT000001")["Job Title"] == "Head Of PURCHASING"
    assert ws.sync("both").changes.empty


def test_a_one_way_field_transforms_in_its_own_direction_only():
    with pytest.raises(cs.MappingError, match="must be the field's direction"):
        FieldMapping("City", "address1_city", direction="FromCRM", transform=["upper"], transform_direction="ToCRM")
    assert FieldMapping("City", "address1_city", direction="FromCRM", transform=["upper"]).transform_direction == \
        "FromCRM"
    with pytest.raises(cs.MappingError, match="cannot be combined"):
        FieldMapping("Country/Region Code", "address1_country", transform=["upper"], value_map="country")


def test_chain_by_id_equals_the_parameterized_chain():
    ws = _small()
    spec = ["trim", {"rule": "regex_replace", "find": "\\s+", "replace": " "}, {"rule": "substring", "start": 2,
                                                                                "length": 4}, "upper"]
    ws.set_field_option("City", transform=spec)
    rules = parse_rules(spec, "City")
    values = ["  a   b c d ", "x", "", "Berlin Mitte"]
    with ws.connection() as c:
        by_id = [r[0] for r in c.execute(f"SELECT {chain_sql_by_id(rules, 'v')} FROM (SELECT unnest(?::VARCHAR[]) AS v, "
                                         "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
                                         [values, values]).fetchall()]
    assert by_id == [apply_rules(rules, v) for v in values]
    assert isinstance(rules[0], Rule)
