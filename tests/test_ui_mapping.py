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


# -- table filters ---------------------------------------------------------------------------------------------
def test_table_filters_edited_validated_and_saved(w, path):
    v = MappingView(w)
    assert v.nav_filter.value == "Type = 'Person'\nCompany No. is not empty"
    assert v.crm_filter.value == "statecode = 0\nparentcustomerid references 'crm_account'"
    before = w.mapping
    bad = [
        ("nav_filter", "Type = 'Person'\nCity ~ 'Berlin'", "Table filter (NAV), line 2: cannot read"),
        ("nav_filter", "Surname in Müller", "in needs a list in parentheses"),
        ("nav_filter", "Nickname = 'Bob'", "column 'Nickname' is not in table 'nav_contact'"),
        ("nav_filter", "Type = 'Persn'", "keeps none of the 6 NAV contacts"),
        ("crm_filter", "statecode = 0\nparentcustomerid references 'nav_contact'", "supports only 'crm_account'"),
    ]
    for box, value, words in bad:
        v.refresh()
        getattr(v, box).value = value
        v.save_filters.click()
        assert v.filter_messages.kind == "error" and words in v.filter_messages.text, (value, v.filter_messages.text)
        assert "Traceback" not in v.filter_messages.text
        assert w.mapping == before and stored(path) == before, value
    v.refresh()
    v.save_filters.click()
    assert v.filter_messages.kind == "warn" and "nothing to change" in v.filter_messages.text
    v.nav_filter.value = "Type = 'Person'\nCompany No. is not empty\nCountry/Region Code in ('DE', 'IE')"
    v.save_filters.click()
    assert v.filter_messages.kind == "ok", v.filter_messages.text
    kept = len(w.sql("""SELECT 1 FROM nav_contact WHERE "Type" = 'Person' AND "Company No." <> ''
                        AND "Country/Region Code" IN ('DE', 'IE')"""))
    assert f"keeps {kept} of 6 NAV contacts" in v.filter_messages.text
    want = (*before.nav_filter, cs.mapping.Condition("Country/Region Code", "in", ("DE", "IE")))
    assert w.mapping.nav_filter == want and w.mapping.crm_filter == before.crm_filter
    assert "Country/Region Code in" in html.unescape(v.table_info.value)
    w.close()
    assert stored(path).nav_filter == want


columns = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "Zs"), include_characters="._-/"),
                  min_size=1, max_size=14).map(str.strip).filter(bool)
column_names = st.one_of(columns, st.sampled_from(["Sign in Date", "is", "not in use", "Company No."]))
values = st.one_of(st.integers(-99, 99), st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                                 max_size=8))
conditions = st.one_of(
    st.builds(cs.mapping.Condition, column_names, st.sampled_from(["=", "<>"]), values),
    st.builds(cs.mapping.Condition, column_names, st.sampled_from(["in", "not in"]),
              st.lists(values, min_size=1, max_size=3).map(tuple)),
    st.builds(cs.mapping.Condition, column_names, st.sampled_from(["is empty", "is not empty"])),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(conditions, max_size=4))
def test_filter_text_round_trips(conds):
    """A filter as its editor shows it reads back as the same conditions (names with spaces and operator words,
    quotes in values)."""
    from contactsync.ui.mapping import filter_lines, parse_filter_text

    assert parse_filter_text(filter_lines(conds), "f") == conds


# -- deleting value-map entries and value maps ----------------------------------------------------------------
def test_value_map_entries_and_whole_maps_are_deleted_after_a_question(w, path):
    w.set_value_map("salutation", [("MR", "Mr."), ("MRS", "Mrs."), ("DR", "Dr.")], aliases=[("Mister", "MR")])
    v = MappingView(w)
    e = v.open_map("salutation")
    assert [lbl for lbl, _ in e.entries.options] == ["Pair: MR = Mr.", "Pair: MRS = Mrs.", "Pair: DR = Dr.",
                                                     "CRM alias: Mister → MR"]
    assert e.delete_entries.disabled and e.delete_box.layout.display == "flex"
    e.entries.value = (("pair", "MRS"),)
    e.delete_entries.click()
    assert e.confirm.is_open and "MRS = Mrs." in e.confirm.question.value
    e.confirm.no.click()
    assert len(w.mapping.value_map_named("salutation").pairs) == 3
    e.delete_entries.click()
    e.confirm.yes.click()
    assert v.map_messages.kind == "ok", v.map_messages.text
    assert w.mapping.value_map_named("salutation").pairs == (("MR", "Mr."), ("DR", "Dr."))
    assert [lbl for lbl, _ in e.entries.options] == ["Pair: MR = Mr.", "Pair: DR = Dr.", "CRM alias: Mister → MR"]
    before = w.mapping
    for chosen, words in [((("pair", "MR"),), "the alias(es) Mister read as a NAV value you delete"),
                          ((("pair", "MR"), ("pair", "DR"), ("alias", "Mister")), "delete the whole value map")]:
        e.entries.value = chosen
        e.delete_entries.click()
        e.confirm.yes.click()
        assert v.map_messages.kind == "error" and words in v.map_messages.text, v.map_messages.text
        assert w.mapping == before and stored(path) == before
    # a whole map: the question names the field mapped through it, which loses it in the same save
    e = v.open_map("country")
    e.delete_map.click()
    assert e.confirm.is_open and "Country/Region Code is mapped through it" in e.confirm.question.value
    e.confirm.yes.click()
    assert v.map_messages.kind == "ok", v.map_messages.text
    assert [vm.name for vm in w.mapping.value_maps] == ["salutation"]
    assert w.mapping.field("Country/Region Code").value_map is None and e.layout.display == "none"
    assert [r["name"] for r in v.maps.rows] == ["salutation"]
    w.close()
    again = stored(path)
    assert [vm.name for vm in again.value_maps] == ["salutation"] and again.field("Country/Region Code").value_map is None


def test_deleting_a_used_value_map_through_the_api_names_its_fields(w):
    from contactsync.mappingops import delete_value_map, delete_value_map_entries

    before = w.mapping
    with pytest.raises(cs.ContactSyncError, match="used by Country/Region Code; set their value map to"):
        delete_value_map(w, "country")
    with pytest.raises(cs.ContactSyncError, match="has no value map 'nope'"):
        delete_value_map(w, "nope")
    with pytest.raises(cs.ContactSyncError, match="choose the entries"):
        delete_value_map_entries(w, "country")
    with pytest.raises(cs.ContactSyncError, match="has no entry"):
        delete_value_map_entries(w, "country", pairs=["XX"])
    assert w.mapping == before


def test_a_filter_that_leaves_coupled_contacts_out_says_so_and_sync_skips_them(w):
    from conftest import CRM_1

    w.couple("CT000001", CRM_1, sync_after="push")
    v = MappingView(w)
    v.nav_filter.value += "\nCity <> 'Berlin'"
    v.save_filters.click()
    assert v.filter_messages.kind == "ok", v.filter_messages.text
    assert "1 coupled contact(s) are outside them now" in v.filter_messages.text
    assert w.nav_contact("CT000001")["City"] == "Berlin"
    result = w.sync("push", nos=["CT000001"], force=True)
    assert result.skipped == 1 and result.modified == 0
