"""Table mapping view: the table's direction and strategies, the field options and the value maps, edited
through the engine (an invalid edit shows the engine's message and changes nothing) and kept in the workspace."""

from __future__ import annotations

import html
import shutil

import pytest
from conftest import fill_small
from hypothesis import given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync.transforms import Rule, RuleKind, parse_rules
from contactsync.ui.common import live_widgets
from contactsync.ui.mapping import MappingView, pairs_text, parse_pairs, parse_rules_text, rules_text


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapping") / "template.duckdb"
    fill_small(cs.Workspace.open(path)).close()
    return path


@pytest.fixture
def path(template, tmp_path):
    p = tmp_path / "w.duckdb"
    shutil.copyfile(template, p)
    return p


@pytest.fixture
def w(path):
    ws = cs.Workspace.open(path)
    yield ws
    ws.close()


def stored(path):
    """The mapping as a new process opening the workspace sees it."""
    with cs.Workspace.open(path) as again:
        return again.mapping


def test_shows_the_table_and_every_field(w):
    v = MappingView(w)
    assert "nav_contact" in v.table_info.value and "Bidirectional" in v.table_info.value
    assert "Type = &#x27;Person&#x27;" in v.table_info.value and "statecode" in v.table_info.value
    assert [r["nav"] for r in v.fields.rows] == list(w.field_options()["nav"])
    assert v.update_conflict.value == "none" and v.deletion_conflict.value == "none"
    assert [r["name"] for r in v.maps.rows] == ["country"] and v.maps.rows[0]["builtin"] == "iso3166"


def test_edit_field_options_saved_to_the_workspace(w, path):
    v = MappingView(w)
    e = v.open_field("E-Mail")
    assert e.layout.display == "flex" and "E-Mail" in e.heading.value
    e.not_null.value = True
    e.transform.value = "trim > lower > replace(find=' ', replace='')"
    e.update_conflict.value = "get"
    e.save.click()
    assert v.field_messages.kind == "ok", v.field_messages.text
    said = v.field_messages.text
    assert said.startswith("Saved E-Mail — ") and "not null: Yes" in said and "CRM wins" in said
    assert "transformation rule: trim > lower > replace(find=' ', replace='')" in said
    f = w.mapping.field("E-Mail")
    assert (f.not_null, f.clear_on_failure, f.update_conflict) == (True, False, "get")
    assert rules_text(f.transform) == "trim > lower > replace(find=' ', replace='')"
    w.close()
    again = stored(path).field("E-Mail")
    assert again.not_null and rules_text(again.transform) == rules_text(f.transform)


def test_invalid_edits_show_the_engines_message_and_change_nothing(w, path):
    v = MappingView(w)
    before = w.field_options()
    e = v.open_field("Job Title")
    cases = [
        (lambda: setattr(e.constant, "value", "Buyer"), "a constant value needs a one-way direction"),
        (lambda: setattr(e.transform, "value", "shout"), "unknown rule 'shout'"),
        (lambda: setattr(e.transform, "value", "regex_replace(find='(', replace='')"), "does not compile"),
        (lambda: setattr(e.transform, "value", "trim >"), "cannot read the transformation rules"),
        (lambda: (setattr(e.not_null, "value", True), setattr(e.clear_on_failure, "value", True)),
         "clear_on_failure and not_null exclude each other"),
        (lambda: setattr(e.max_length, "value", "ten"), "max_length must be a positive integer"),
        (lambda: setattr(e.transform_direction, "value", "FromCRM"), "has no transform rules"),
    ]
    for edit, words in cases:
        v.open_field("Job Title")
        edit()
        e.save.click()
        assert v.field_messages.kind == "error" and words in v.field_messages.text, (words, v.field_messages.text)
        assert "Traceback" not in v.field_messages.text
        assert w.field_options().equals(before), words
    w.close()
    assert cs.Workspace.open(path).field_options().equals(before)


def test_direction_strategies_and_disable(w):
    v = MappingView(w)
    e = v.open_field("Job Title")
    e.direction.value = "ToCRM"
    e.constant.value = "Buyer"
    e.save.click()
    assert v.field_messages.kind == "ok", v.field_messages.text
    assert (w.mapping.field("Job Title").direction, w.mapping.field("Job Title").constant) == ("ToCRM", "Buyer")
    assert "different directions" in v.table_info.value
    e = v.open_field("Job Title")
    e.enabled.value = False
    e.save.click()
    assert "Job Title" in [f.nav for f in w.mapping.disabled]
    row = next(r for r in v.fields.rows if r["nav"] == "Job Title")
    assert row["enabled"] is False or row["enabled"] == 0
    v.update_conflict.value = "send"
    v.deletion_conflict.value = "restore"
    v.save_strategies.click()
    assert (w.mapping.update_conflict, w.mapping.deletion_conflict) == ("send", "restore")
    assert "NAV wins" in v.messages.text
    v.all_direction.value = "FromCRM"
    v.apply_direction.click()
    assert "to From Dynamics CRM?" in html.unescape(v.confirm.question.value)
    v.confirm.yes.click()
    assert v.messages.kind == "ok", v.messages.text
    assert {f.direction for f in (*w.mapping.fields, *w.mapping.disabled)} == {"FromCRM"}
    assert "From Dynamics CRM" in v.table_info.value
    before = w.mapping
    v.all_direction.value = "Bidirectional"
    v.apply_direction.click()
    v.confirm.yes.click()  # Job Title's constant needs a one-way direction: refused, nothing changed
    assert v.messages.kind == "error" and "a constant value needs a one-way direction" in v.messages.text
    assert w.mapping == before


def test_value_maps_view_and_edit(w, path):
    v = MappingView(w)
    v.new_map.click()
    m = v.map_editor
    m.name.value = "salutation"
    m.pairs.value = "MR = Mr.\nMRS = Mrs.\n"
    m.aliases.value = "Mister = MR"
    m.save.click()
    assert v.map_messages.kind == "ok", v.map_messages.text
    vm = w.mapping.value_map_named("salutation")
    assert vm.pairs == (("MR", "Mr."), ("MRS", "Mrs.")) and vm.aliases == (("Mister", "MR"),)
    assert "salutation" in [r["name"] for r in v.maps.rows]
    v.maps.select("salutation")
    assert m.name.disabled and "MRS = Mrs." in m.pairs.value
    m.pairs.value = "MR = Mr.\nMRS = Mr."  # two NAV values to one CRM value: the engine refuses
    before = w.mapping
    m.save.click()
    assert v.map_messages.kind == "error" and "salutation" in v.map_messages.text
    assert w.mapping == before
    m.pairs.value = "MR Mr."
    m.save.click()
    assert "write one pair a line" in v.map_messages.text
    v.maps.select("country")
    m.pairs.value = "XK = Kosovo"
    m.save.click()
    assert v.map_messages.kind == "ok" and w.mapping.value_map_named("country").builtin == "iso3166"
    w.close()
    assert stored(path).value_map_named("salutation").pairs == (("MR", "Mr."), ("MRS", "Mrs."))


def test_refresh_keeps_the_widget_count_flat(w):
    v = MappingView(w)
    v.open_field("E-Mail")
    v.maps.select("country")
    v.refresh()
    base = live_widgets()
    for _ in range(20):
        v.refresh()
    assert live_widgets() == base


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
rules = st.one_of(
    st.sampled_from([RuleKind.UPPER, RuleKind.LOWER, RuleKind.TITLE, RuleKind.TRIM,
                     RuleKind.REMOVE_NON_ALPHANUMERIC]).map(Rule),
    st.builds(lambda f, r: Rule(RuleKind.REPLACE, find=f, replace=r), texts.filter(bool), texts),
    st.builds(lambda s, n: Rule(RuleKind.SUBSTRING, start=s, length=n), st.integers(1, 99),
              st.none() | st.integers(1, 99)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rules, min_size=1, max_size=4))
def test_rules_text_round_trips(chain):
    """What the list shows is what the editor reads back: the same rules, whatever the values hold ('>', quotes)."""
    assert parse_rules(parse_rules_text(rules_text(chain), "F"), "F") == tuple(chain)


words = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="="),
                max_size=10).map(str.strip)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(words, words), max_size=5))
def test_pairs_text_round_trips(pairs):
    """A value map's pairs as the editor shows them read back as the same pairs."""
    assert parse_pairs(pairs_text(pairs), "m") == pairs
