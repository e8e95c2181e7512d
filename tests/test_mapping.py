"""The mapping: BC's default, validation, TOML/YAML round trips."""

import dataclasses

import pytest

import contactsync as cs
from contactsync.mapping import Condition, FieldMapping


def test_default_mapping_is_bc_contact_mapping():
    m = cs.default_mapping()
    pairs = {f.nav: f.crm for f in m.fields}
    assert pairs["First Name"] == "firstname" and pairs["Company No."] == "parentcustomerid"
    assert pairs["Country/Region Code"] == "address1_country"
    lengths = {f.nav: f.max_length for f in m.fields}
    assert lengths["Address"] == 100 and lengths["Address 2"] == 50 and lengths["Post Code"] == 20
    assert lengths["Country/Region Code"] == 10 and lengths["E-Mail"] == 80 and lengths["Surname"] == 30
    assert {f.nav for f in m.fields if f.code} >= {"Post Code", "Country/Region Code"}
    assert all(f.direction == "Bidirectional" for f in m.fields)
    assert len(m.fields) == 16


def test_mapping_is_frozen_and_validated():
    m = cs.default_mapping()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "x"
    with pytest.raises(cs.MappingError, match="direction"):
        FieldMapping("City", "address1_city", direction="Sideways")
    with pytest.raises(cs.MappingError, match="mapped twice"):
        m.with_fields([*m.fields, FieldMapping("City", "address2_city")])
    with pytest.raises(cs.MappingError, match="operator"):
        Condition("Type", "LIKE", "P%")
    with pytest.raises(cs.MappingError, match="one-way"):
        FieldMapping("Salutation Code", "salutation", constant="Mr")


def test_toml_round_trip(tmp_path):
    m = cs.default_mapping()
    path = cs.save_mapping(m, tmp_path / "mapping.toml")
    assert cs.load_mapping(path) == m


def test_yaml_mapping(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: contact\n"
        "nav: {table: nav_contact, key: 'No.', modified: SystemModifiedAt,\n"
        "      filter: [{column: Type, op: '=', value: Person}]}\n"
        "crm: {table: crm_contact, key: contactid, modified: modifiedon}\n"
        "fields:\n"
        "  - {nav: 'First Name', crm: firstname, max_length: 30}\n"
        "  - {nav: 'Surname', crm: lastname, direction: ToCRM}\n", encoding="utf-8")
    m = cs.load_mapping(path)
    assert [f.direction for f in m.fields] == ["Bidirectional", "ToCRM"]
    with cs.Workspace.open(":memory:", mapping=path) as ws:
        assert ws.mapping == m


def test_bad_column_is_named_with_a_suggestion(tmp_path):
    m = cs.default_mapping()
    bad = m.with_fields([FieldMapping("Frist Name", "firstname"), FieldMapping("Surname", "lastnme")])
    with pytest.raises(cs.MappingError) as err:
        cs.Workspace.open(":memory:", mapping=bad)
    text = str(err.value)
    assert "'Frist Name'" in text and "'First Name'" in text
    assert "'lastnme'" in text and "'lastname'" in text


def test_unparseable_or_incomplete_file(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text("this is = = not toml")
    with pytest.raises(cs.MappingError, match="cannot be parsed"):
        cs.load_mapping(p)
    p.write_text("name = 'contact'\n")
    with pytest.raises(cs.MappingError, match="missing"):
        cs.load_mapping(p)
    with pytest.raises(cs.MappingError, match="does not exist"):
        cs.load_mapping(tmp_path / "none.toml")


def test_mapping_is_kept_in_the_workspace(tmp_path):
    m = cs.default_mapping()
    small = m.with_fields(m.fields[:3])
    path = tmp_path / "w.duckdb"
    cs.Workspace.open(path, mapping=small).close()
    with cs.Workspace.open(path) as ws:
        assert ws.mapping == small
