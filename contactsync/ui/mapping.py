"""Table mapping (Business Central's *Integration Table Mapping* and *Integration Field Mapping* pages): the
table's direction and its conflict and deletion strategies, the field mappings with their options, and the
value maps — shown, edited and saved to the workspace through the engine.

Every edit goes to the engine (``ws.set_strategies``, ``ws.set_field_option``, ``ws.set_value_map``,
``ws.set_mapping``), which validates it as it validates a mapping file: an invalid edit shows the engine's
message and changes nothing.

Transformation rules are written as the list shows them, rules in order separated by ``>``:
``trim > replace(find='-', replace=' ') > substring(start=1, length=30)`` (:func:`parse_rules_text`).
"""

from __future__ import annotations

import ast
import dataclasses
import re

import ipywidgets as w

from ..errors import MappingError, shorten
from ..mapping import DIRECTIONS, VALIDATORS, Condition, FieldMapping, TableMapping
from ..mappingops import delete_value_map, delete_value_map_entries, set_filters
from ..strategies import DeletionConflict, UpdateConflict
from ..transforms import RuleKind
from ..valuemaps import BUILTINS
from .common import Column, Confirm, Messages, Progress, RowTable, button, esc, guarded, text, yes_no

__all__ = ["DELETION_WORDS", "DIRECTION_WORDS", "MappingView", "OPTION_WORDS", "UPDATE_WORDS", "filter_lines", "filter_text", "pairs_text",
           "parse_filter_text", "parse_pairs", "parse_rules_text", "rules_text", "table_direction"]

DIRECTION_WORDS = {"Bidirectional": "Bidirectional", "ToCRM": "To Dynamics CRM", "FromCRM": "From Dynamics CRM"}
UPDATE_WORDS = {
    UpdateConflict.NONE: "Skip and report the record (nothing overwritten)",
    UpdateConflict.SEND: "Send data update to Dynamics CRM (NAV wins)",
    UpdateConflict.GET: "Get data update from Dynamics CRM (CRM wins)",
}
DELETION_WORDS = {
    DeletionConflict.NONE: "Fail the record (report it in Synchronization Errors)",
    DeletionConflict.RESTORE: "Restore records (re-create the deleted one)",
    DeletionConflict.REMOVE_COUPLING: "Remove coupling",
}
NONE = ""  # a dropdown's "(none)" / "(default)" choice: the option is reset to its default


def table_direction(m: TableMapping) -> str:
    """The table's direction from its enabled fields: one direction when all share it, else Bidirectional."""
    dirs = {f.direction for f in m.fields}
    return dirs.pop() if len(dirs) == 1 else "Bidirectional"


def filter_text(conditions) -> str:
    """A table filter as a steward reads it: ``Type = 'Person'; statecode = 0`` (``(none)`` for no filter)."""
    def value(v):
        return "(" + ", ".join(repr(x) for x in v) + ")" if isinstance(v, tuple) else repr(v)
    return "; ".join(f"{c.column} {c.op}" + ("" if c.value is None and c.op.startswith("is") else
                                              f" {value(c.value)}") for c in conditions) or "(none)"


def filter_lines(conditions) -> str:
    """A table filter for its editor: one condition a line, as :func:`parse_filter_text` reads it back."""
    def value(v):
        return "(" + ", ".join(repr(x) for x in v) + ")" if isinstance(v, tuple) else repr(v)

    def column(c):  # a name holding an operator word or a quote is written in double quotes
        return f'"{c}"' if re.search(r"\s(in|not|is|references)\s|[=<>\"']", f" {c} ") else c
    return "\n".join(f"{column(c.column)} {c.op}" + ("" if c.op in ("is empty", "is not empty") else f" {value(c.value)}")
                     for c in conditions)


_FILTER_HINT = ("write one condition a line: Column = 'value', Column <> 'value', Column in ('a', 'b'), "
                "Column not in ('a', 'b'), Column is empty, Column is not empty (a column name with spaces needs no "
                "quotes; put it in double quotes if it holds an operator word)")
_COND = re.compile(r'^(?:"(?P<q>[^"]+)"|(?P<c>.+?))\s*(?:\s(?P<u>is not empty|is empty)'
                   r'|\s(?P<w>not in|in|references)\s+(?P<wv>.+)|(?P<s><>|=)\s*(?P<sv>.+))$')


def parse_filter_text(value: str, what: str) -> list[Condition]:
    """Lines as :func:`filter_lines` writes them -> conditions (blank lines ignored; an empty text: no filter).
    A value is a quoted text, a number or, for ``in``, a list in parentheses; an unquoted word is read as text.
    A line that is no condition raises a MappingError naming the line and how to write it."""
    out = []
    for i, line in enumerate((value or "").splitlines(), 1):
        if not line.strip():
            continue
        hit = _COND.match(line.strip())
        if hit is None:
            raise MappingError(f"{what}, line {i}: cannot read {shorten(line)}: {_FILTER_HINT}")
        column = (hit["q"] or hit["c"]).strip()
        op = hit["u"] or hit["w"] or hit["s"]
        raw = (hit["wv"] or hit["sv"] or "").strip()
        val = None
        if raw:
            try:
                val = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                if op in ("in", "not in"):
                    raise MappingError(f"{what}, line {i}: {op} needs a list in parentheses, e.g. {column} {op} "
                                       f"('a', 'b'); got {shorten(raw)}") from None
                val = raw  # an unquoted word: text
            if op in ("in", "not in") and not isinstance(val, (tuple, list)):
                val = (val,)
            if isinstance(val, (dict, set)):
                raise MappingError(f"{what}, line {i}: cannot read the value {shorten(raw)}: {_FILTER_HINT}")
        try:
            out.append(Condition(column, op, val))
        except MappingError as exc:
            raise MappingError(f"{what}, line {i}: {exc}") from None
    return out


def rules_text(rules) -> str:
    return " > ".join(str(r) for r in rules)


def _literal(node: ast.expr, where: str):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise MappingError(f"{where}: a parameter's value must be text in quotes or a number, got "
                           f"{shorten(ast.unparse(node))}") from None


def parse_rules_text(value: str, field: str) -> list | None:
    """``"trim > replace(find='-', replace=' ')"`` as the engine's rule specs (``None`` for empty: no rules).
    A text that is not rules raises a MappingError saying how to write them; the engine checks each rule."""
    value = (value or "").strip()
    if not value:
        return None
    hint = ("write rules in order separated by '>', e.g. trim > replace(find='-', replace=' '); the rules are "
            + ", ".join(k.value for k in RuleKind))
    try:
        tree = ast.parse(value, mode="eval").body
    except SyntaxError:
        raise MappingError(f"field {field!r}: cannot read the transformation rules {shorten(value)}: {hint}") from None
    parts = [tree.left, *tree.comparators] if isinstance(tree, ast.Compare) else [tree]
    if isinstance(tree, ast.Compare) and not all(isinstance(op, ast.Gt) for op in tree.ops):
        raise MappingError(f"field {field!r}: cannot read the transformation rules {shorten(value)}: {hint}")
    specs: list = []
    for i, node in enumerate(parts, 1):
        where = f"field {field!r}, transform rule #{i}"
        if isinstance(node, ast.Name):
            specs.append(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
            spec = {"rule": node.func.id}
            for kw in node.keywords:
                if kw.arg is None:
                    raise MappingError(f"{where}: name each parameter, e.g. find='-'")
                spec[kw.arg] = _literal(kw.value, where)
            specs.append(spec)
        else:
            raise MappingError(f"{where}: cannot read {shorten(ast.unparse(node))}: {hint}")
    return specs


def pairs_text(pairs) -> str:
    return "\n".join(f"{a} = {b}" for a, b in pairs)


def parse_pairs(value: str, what: str) -> list[tuple[str, str]]:
    """Lines ``left = right`` (split at the first ``=``; blank lines ignored)."""
    out = []
    for i, line in enumerate((value or "").splitlines(), 1):
        if not line.strip():
            continue
        if "=" not in line:
            raise MappingError(f"{what}, line {i}: write one pair a line as 'NAV value = CRM value', got "
                               f"{shorten(line)}")
        left, right = line.split("=", 1)
        out.append((left.strip(), right.strip()))
    return out


OPTION_WORDS = {"direction": "direction", "enabled": "enabled", "constant": "constant value", "validate": "validate",
                "clear_on_failure": "clear value on failed sync", "not_null": "not null", "max_length": "max. length",
                "transform": "transformation rule", "transform_direction": "transformation direction",
                "value_map": "value map", "update_conflict": "update conflicts"}


def _said(option: str, value) -> str:
    """A stored option's value in a steward's words."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if option == "transform":
        return rules_text(value) or "(none)"
    if option in ("direction", "transform_direction"):
        return DIRECTION_WORDS.get(text(value), "(default)")
    if option == "update_conflict":
        return UPDATE_WORDS[UpdateConflict(value)] if value else "the table's"
    return text(value) or "(none)"


def _opt(value) -> str:
    return text(value) if value not in (None, "") else ""


class FieldEditor(w.VBox):
    """The options of one field mapping, editable; :meth:`changes` is what differs from the stored field."""

    def __init__(self, on_save, on_cancel):
        dw = {"description_width": "170px"}
        lay = w.Layout(width="460px")
        self.heading = w.HTML()
        self.direction = w.Dropdown(options=[(DIRECTION_WORDS[d], d) for d in DIRECTIONS], description="Direction",
                                    style=dw, layout=lay)
        self.enabled = w.Checkbox(description="Enabled (Status)", indent=False)
        self.constant = w.Text(description="Constant value", placeholder="(none: the source value)", style=dw,
                               layout=lay)
        self.validate = w.Dropdown(options=[("(none)", NONE), *[(v, v) for v in VALIDATORS]],
                                   description="Validate", style=dw, layout=lay)
        self.clear_on_failure = w.Checkbox(description="Clear value on failed sync", indent=False)
        self.not_null = w.Checkbox(description="Not null", indent=False)
        self.max_length = w.Text(description="Max. length", placeholder="(none)", style=dw, layout=lay)
        self.transform = w.Text(description="Transformation rule", placeholder="e.g. trim > upper", style=dw,
                                layout=w.Layout(width="640px"))
        self.transform_direction = w.Dropdown(
            options=[("(the field's direction)", NONE), ("To Dynamics CRM", "ToCRM"), ("From Dynamics CRM", "FromCRM")],
            description="Transformation direction", style=dw, layout=lay)
        self.value_map = w.Dropdown(options=[("(none)", NONE)], description="Value map", style=dw, layout=lay)
        self.update_conflict = w.Dropdown(
            options=[("(the table's)", NONE), *[(UPDATE_WORDS[u], u.value) for u in UpdateConflict]],
            description="Update conflicts", style=dw, layout=w.Layout(width="640px"))
        for name in ("direction", "enabled", "constant", "validate", "clear_on_failure", "not_null", "max_length",
                     "transform", "transform_direction", "value_map", "update_conflict"):
            getattr(self, name).add_class(f"cs-fm-{name.replace('_', '-')}")
        self.save = button("Save field", "cs-fm-save", style="primary")
        self.cancel = button("Close", "cs-fm-cancel")
        self.save.on_click(lambda _b: on_save())
        self.cancel.on_click(lambda _b: on_cancel())
        self.field: FieldMapping | None = None
        super().__init__([
            self.heading, self.direction, w.HBox([self.enabled, self.clear_on_failure, self.not_null]),
            self.constant, self.validate, self.max_length, self.transform, self.transform_direction,
            self.value_map, self.update_conflict, w.HBox([self.save, self.cancel]),
        ], layout=w.Layout(display="none"))
        self.add_class("cs-field-editor")
        self.add_class("cs-box")

    def load(self, f: FieldMapping, value_maps) -> None:
        self.field = f
        self.heading.value = (f'<div class="cs-title" style="font-size:14px">Field mapping {esc(f.nav)} ↔ '
                              f'{esc(f.crm)}</div>')
        self.value_map.options = [("(none)", NONE), *[(v.name, v.name) for v in value_maps]]
        self.direction.value = f.direction
        self.enabled.value = bool(f.enabled)
        self.constant.value = _opt(f.constant)
        self.validate.value = _opt(f.validate)
        self.clear_on_failure.value = bool(f.clear_on_failure)
        self.not_null.value = bool(f.not_null)
        self.max_length.value = _opt(f.max_length)
        self.transform.value = rules_text(f.transform)
        self.transform_direction.value = _opt(f.transform_direction)
        self.value_map.value = _opt(f.value_map)
        self.update_conflict.value = _opt(f.update_conflict)
        self.layout.display = "flex"

    def hide(self) -> None:
        self.field = None
        self.layout.display = "none"

    def changes(self) -> dict:
        """The options the steward changed, as ``set_field_option`` takes them (``None``: back to the default)."""
        f = self.field
        if f is None:
            return {}
        out: dict = {}
        if self.direction.value != f.direction:
            out["direction"] = self.direction.value
        if self.enabled.value != bool(f.enabled):
            out["enabled"] = self.enabled.value
        for name in ("constant", "validate", "transform_direction", "value_map", "update_conflict"):
            new = getattr(self, name).value
            new = new.strip() if isinstance(new, str) and name == "constant" else new
            if new != _opt(getattr(f, name)):
                out[name] = new or None
        for name in ("clear_on_failure", "not_null"):
            if getattr(self, name).value != bool(getattr(f, name)):
                out[name] = getattr(self, name).value
        ml = self.max_length.value.strip()
        if ml != _opt(f.max_length):
            out["max_length"] = None if not ml else int(ml) if ml.isdigit() else ml
        if self.transform.value.strip() != rules_text(f.transform):
            out["transform"] = parse_rules_text(self.transform.value, f.nav)
        return out


class ValueMapEditor(w.VBox):
    """A value map's name, built-in map, pairs and aliases (editable as text), its entries to delete one by one,
    and Delete value map (after a question naming the fields that use it)."""

    def __init__(self, on_save, on_cancel, on_delete_entries=None, on_delete_map=None):
        dw = {"description_width": "120px"}
        self.name = w.Text(description="Name", style=dw, layout=w.Layout(width="360px"))
        self.builtin = w.Dropdown(options=[("(none)", NONE), *[(b, b) for b in BUILTINS]], description="Built in",
                                  style=dw, layout=w.Layout(width="360px"))
        self.pairs = w.Textarea(description="Pairs", placeholder="one a line: NAV value = CRM value", style=dw,
                                layout=w.Layout(width="560px", height="120px"))
        self.aliases = w.Textarea(description="CRM aliases", placeholder="one a line: CRM spelling = NAV value",
                                  style=dw, layout=w.Layout(width="560px", height="80px"))
        self.field = w.Dropdown(options=[("(no field)", NONE)], description="Map the field", style=dw,
                                layout=w.Layout(width="360px"))
        for name in ("name", "builtin", "pairs", "aliases", "field"):
            getattr(self, name).add_class(f"cs-vm-{name}")
        self.entries = w.SelectMultiple(options=[], description="Entries", rows=6, style=dw,
                                        layout=w.Layout(width="560px"))
        self.entries.add_class("cs-vm-entries")
        self.delete_entries = button("Delete selected entries", "cs-vm-delete-entries")
        self.delete_map = button("Delete value map", "cs-vm-delete", style="danger")
        self.delete_entries.on_click(lambda _b: on_delete_entries and on_delete_entries())
        self.delete_map.on_click(lambda _b: on_delete_map and on_delete_map())
        self.entries.observe(lambda _c: self._entry_buttons(), names="value")
        self.delete_box = w.VBox([
            w.HTML('<div class="cs-hint">To delete entries, select them below (ctrl or shift for several); '
                   'Delete value map removes the whole map.</div>'),
            self.entries, w.HBox([self.delete_entries, self.delete_map])])
        self.confirm = Confirm()
        self.confirm.add_class("cs-vm-confirm")
        self.save = button("Save value map", "cs-vm-save", style="primary")
        self.cancel = button("Close", "cs-vm-cancel")
        self.save.on_click(lambda _b: on_save())
        self.cancel.on_click(lambda _b: on_cancel())
        super().__init__([self.name, self.builtin, self.pairs, self.aliases, self.field,
                          w.HBox([self.save, self.cancel]), self.delete_box, self.confirm],
                         layout=w.Layout(display="none"))
        self.add_class("cs-vm-editor")
        self.add_class("cs-box")

    def load(self, vm, fields) -> None:
        self.name.value = vm.name if vm else ""
        self.name.disabled = vm is not None  # a map's name is its identity (fields refer to it)
        self.builtin.value = (vm.builtin or NONE) if vm else NONE
        self.pairs.value = pairs_text(vm.pairs) if vm else ""
        self.aliases.value = pairs_text(vm.aliases) if vm else ""
        self.field.options = [("(no field)", NONE), *[(f.nav, f.nav) for f in fields]]
        self.field.value = NONE
        self.entries.options = ([(f"Pair: {a} = {b}", ("pair", a)) for a, b in vm.pairs]
                                + [(f"CRM alias: {a} → {b}", ("alias", a)) for a, b in vm.aliases]) if vm else []
        self.entries.value = ()
        self.delete_box.layout.display = "flex" if vm is not None else "none"
        self._entry_buttons()
        self.confirm.close_box()
        self.layout.display = "flex"

    def _entry_buttons(self) -> None:
        n = len(self.entries.value)
        self.delete_entries.disabled = not n
        self.delete_entries.description = f"Delete {n} selected entr{'y' if n == 1 else 'ies'}" if n else \
            "Delete selected entries"

    def hide(self) -> None:
        self.confirm.close_box()
        self.layout.display = "none"


class MappingView(w.VBox):
    title = "Table Mapping"

    def __init__(self, ws, on_changed=None, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.table_info = w.HTML()
        self.table_info.add_class("cs-tm-info")
        dw = {"description_width": "150px"}
        self.update_conflict = w.Dropdown(options=[(UPDATE_WORDS[u], u.value) for u in UpdateConflict],
                                          description="Update conflicts", style=dw, layout=w.Layout(width="560px"))
        self.update_conflict.add_class("cs-tm-update")
        self.deletion_conflict = w.Dropdown(options=[(DELETION_WORDS[d], d.value) for d in DeletionConflict],
                                            description="Deletion conflicts", style=dw,
                                            layout=w.Layout(width="560px"))
        self.deletion_conflict.add_class("cs-tm-deletion")
        self.save_strategies = button("Save strategies", "cs-tm-save-strategies", style="primary")
        self.save_strategies.on_click(lambda _b: self.set_strategies())
        self.all_direction = w.Dropdown(options=[(DIRECTION_WORDS[d], d) for d in DIRECTIONS],
                                        description="Direction", style=dw, layout=w.Layout(width="400px"))
        self.all_direction.add_class("cs-tm-direction")
        self.apply_direction = button("Set for every field", "cs-tm-apply-direction")
        self.apply_direction.on_click(lambda _b: self.set_direction())
        self.fields = RowTable([
            Column("nav", "NAV field", "1.1fr"), Column("crm", "CRM field", "1.1fr"),
            Column("direction_words", "Direction", "1fr"), Column("enabled", "Enabled", "62px", yes_no),
            Column("constant", "Constant", "0.7fr"), Column("validate", "Validate", "66px"),
            Column("clear_on_failure", "Clear on failure", "128px", yes_no),
            Column("not_null", "Not null", "64px", yes_no), Column("transform", "Transformation rule", "1.4fr"),
            Column("transform_direction_words", "Rule direction", "1fr"), Column("value_map", "Value map", "0.7fr"),
            Column("update_conflict", "Conflicts", "70px"), Column("max_length", "Max. len.", "70px"),
        ], key="nav", on_select=self._field_selected, empty="No field mappings.")
        self.fields.add_class("cs-fm-table")
        self.editor = FieldEditor(self.save_field, self._close_editor)
        self.maps = RowTable([
            Column("name", "Value map", "1fr"), Column("builtin", "Built in", "0.6fr"),
            Column("pairs", "Pairs", "60px"), Column("aliases", "Aliases", "60px"),
            Column("used_by", "Fields", "1.4fr"),
        ], key="name", on_select=self._map_selected, empty="No value maps.")
        self.maps.add_class("cs-vm-table")
        self.new_map = button("New value map", "cs-vm-new")
        self.new_map.on_click(lambda _b: self.open_map(None))
        self.map_editor = ValueMapEditor(self.save_map, self._close_map, self.delete_entries, self.delete_map)
        fw = {"description_width": "220px"}
        self.nav_filter = w.Textarea(description="Table filter (NAV)", style=fw, placeholder="(none: every record)",
                                     layout=w.Layout(width="640px", height="64px"))
        self.nav_filter.add_class("cs-tm-nav-filter-edit")
        self.crm_filter = w.Textarea(description="Integration table filter (CRM)", style=fw,
                                     placeholder="(none: every record)", layout=w.Layout(width="640px", height="64px"))
        self.crm_filter.add_class("cs-tm-crm-filter-edit")
        self.save_filters = button("Save filters", "cs-tm-save-filters", style="primary")
        self.save_filters.on_click(lambda _b: self.set_filters())
        self.filter_messages = Messages()  # under the filters (where the steward clicked Save)
        self.filter_messages.add_class("cs-tm-filter-message")
        self.confirm = Confirm()
        self.messages = Messages()  # the table's direction and strategies
        self.field_messages = Messages()  # under the field editor (where the steward clicked Save)
        self.field_messages.add_class("cs-fm-message")
        self.map_messages = Messages()  # under the value-map editor
        self.map_messages.add_class("cs-vm-message")
        self.progress = Progress()
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div><div class="cs-hint">How contacts map between '
                   'Dynamics NAV and Dynamics CRM. Changes are checked and saved to the workspace; the next '
                   'synchronization uses them.</div>'),
            self.table_info,
            w.HBox([self.all_direction, self.apply_direction], layout=w.Layout(align_items="center")),
            self.update_conflict, self.deletion_conflict, w.HBox([self.save_strategies]),
            self.confirm, self.progress, self.messages,
            w.HTML('<div class="cs-title" style="font-size:14px">Table filters</div><div class="cs-hint">Which '
                   "records take part, one condition a line (all must hold): Column = 'value', Column &lt;&gt; "
                   "'value', Column in ('a', 'b'), Column is empty, Column is not empty.</div>"),
            self.nav_filter, self.crm_filter, w.HBox([self.save_filters]), self.filter_messages,
            w.HTML('<div class="cs-title" style="font-size:14px">Field mappings</div><div class="cs-hint">Select a '
                   'field to edit its options.</div>'),
            self.fields, self.editor, self.field_messages,
            w.HTML('<div class="cs-title" style="font-size:14px">Value maps</div><div class="cs-hint">Translate a '
                   "field's values between the systems (e.g. DE = Germany).</div>"),
            self.maps, w.HBox([self.new_map]), self.map_editor, self.map_messages,
        ])
        self.add_class("cs-mapping")
        if autoload:
            self.refresh()

    # -- reading ---------------------------------------------------------------------------------------------
    @guarded()
    def refresh(self) -> None:
        m = self.ws.mapping
        direction = table_direction(m)
        mixed = len({f.direction for f in m.fields}) > 1
        self.table_info.value = (
            f'<div class="cs-box"><b>{esc(m.name)}</b>: Dynamics NAV table <b>{esc(m.nav_table)}</b> (key '
            f'{esc(m.nav_key)}) ↔ Dynamics CRM table <b>{esc(m.crm_table)}</b> (key {esc(m.crm_key)}). '
            f'Direction: <b class="cs-tm-direction-value">{esc(DIRECTION_WORDS[direction])}</b>'
            + (" (the fields have different directions)" if mixed else "") + f'. {len(m.fields)} field(s) enabled'
            + (f", {len(m.disabled)} disabled" if m.disabled else "") + ".<br>"
            f'Table filter (NAV): <span class="cs-tm-nav-filter">{esc(filter_text(m.nav_filter))}</span>; '
            f'integration table filter (CRM): <span class="cs-tm-crm-filter">{esc(filter_text(m.crm_filter))}</span>.'
            "</div>")
        self.all_direction.value = direction
        self.nav_filter.value = filter_lines(m.nav_filter)
        self.crm_filter.value = filter_lines(m.crm_filter)
        self.update_conflict.value = m.update_conflict
        self.deletion_conflict.value = m.deletion_conflict
        opts = self.ws.field_options()
        recs = opts.to_dict("records")
        for r in recs:
            r["direction_words"] = DIRECTION_WORDS.get(r["direction"], r["direction"])
            r["transform_direction_words"] = DIRECTION_WORDS.get(text(r.get("transform_direction")), "")
            r["max_length"] = text(r.get("max_length")).removesuffix(".0")
        self.fields.set_rows(recs)
        used: dict[str, list[str]] = {}
        for f in (*m.fields, *m.disabled):
            if f.value_map:
                used.setdefault(f.value_map, []).append(f.nav)
        self.maps.set_rows([{"name": v.name, "builtin": v.builtin or "", "pairs": len(v.pairs),
                             "aliases": len(v.aliases), "used_by": ", ".join(used.get(v.name, []))}
                            for v in m.value_maps])
        if self.editor.field is not None:  # reload the open field as stored
            self.editor.load(m.any_field(self.editor.field.nav), m.value_maps)

    def _saved(self, msg: str, where: Messages | None = None) -> None:
        self.refresh()
        (where or self.messages).ok(msg)
        if self.on_changed:
            self.on_changed()

    # -- the table -------------------------------------------------------------------------------------------
    def set_strategies(self) -> None:
        self.messages.clear()
        m = self.ws.mapping
        if (self.update_conflict.value, self.deletion_conflict.value) == (m.update_conflict, m.deletion_conflict):
            self.messages.warn("The strategies are as saved: nothing to change.")
            return
        self._set_strategies(self.update_conflict.value, self.deletion_conflict.value)

    @guarded(progress="Saving…")
    def _set_strategies(self, update: str, deletion: str) -> None:
        self.ws.set_strategies(update_conflict=update, deletion_conflict=deletion)
        self._saved(f"Saved: update conflicts — {UPDATE_WORDS[UpdateConflict(update)]}; deletion conflicts — "
                    f"{DELETION_WORDS[DeletionConflict(deletion)]}.")

    def set_direction(self) -> None:
        self.messages.clear()
        d = self.all_direction.value
        m = self.ws.mapping
        change = [f.nav for f in (*m.fields, *m.disabled) if f.direction != d]
        if not change:
            self.messages.warn(f"Every field is already {DIRECTION_WORDS[d]}.")
            return
        self.confirm.ask(f"Set the direction of {len(change)} field(s) — {', '.join(change[:8])}"
                         f"{' and more' if len(change) > 8 else ''} — to {DIRECTION_WORDS[d]}?",
                         lambda: self._set_direction(d))

    @guarded(progress="Saving…")
    def _set_direction(self, d: str) -> None:
        m = self.ws.mapping
        every = tuple(dataclasses.replace(f, direction=d) for f in (*m.fields, *m.disabled))
        self.ws.set_mapping(dataclasses.replace(m, fields=every, disabled=()))
        self._saved(f"Saved: every field's direction is {DIRECTION_WORDS[d]}.")

    # -- table filters ---------------------------------------------------------------------------------------
    @guarded("filter_messages", progress="Checking and saving…")
    def set_filters(self) -> None:
        """Save the two table filters as typed (one transaction); a bad line or a condition that keeps no record
        shows the engine's message and changes nothing."""
        self.filter_messages.clear()
        m = self.ws.mapping
        nav = tuple(parse_filter_text(self.nav_filter.value, "Table filter (NAV)"))
        crm = tuple(parse_filter_text(self.crm_filter.value, "Integration table filter (CRM)"))
        if (nav, crm) == (m.nav_filter, m.crm_filter):
            self.filter_messages.warn("The filters are as saved: nothing to change.")
            return
        _stored, checks = set_filters(self.ws, nav=list(nav) if nav != m.nav_filter else None,
                                      crm=list(crm) if crm != m.crm_filter else None)
        kept = {c.side: c for c in checks}
        said = "; ".join(f"{what} keeps {kept[s].kept:,} of {kept[s].total:,} {rec}s"
                         for s, what, rec in (("nav", "the NAV table filter", "NAV contact"),
                                              ("crm", "the CRM filter", "CRM contact")))
        out = sum(c.coupled_out for c in checks)
        left = (f" {out:,} coupled contact(s) are outside them now: synchronization skips their pairs (saying why) "
                "until the filters take them in again." if out else "")
        self._saved(f"Saved the table filters: {said}. The next synchronization uses them.{left}",
                    self.filter_messages)

    # -- fields ----------------------------------------------------------------------------------------------
    def _field_selected(self, keys) -> None:
        self.field_messages.clear()
        if not keys:
            self.editor.hide()
            return
        m = self.ws.mapping
        self.editor.load(m.any_field(keys[0]), m.value_maps)

    def _close_editor(self) -> None:
        self.fields.select_all(False)
        self.editor.hide()

    def open_field(self, name: str) -> FieldEditor:
        """Select field ``name`` and load its stored options into the editor (an unsaved edit is dropped)."""
        m = self.ws.mapping
        f = m.any_field(name)
        self.fields.select(f.nav)
        self.editor.load(f, m.value_maps)
        return self.editor

    @guarded("field_messages", progress="Checking and saving…")
    def save_field(self) -> None:
        self.field_messages.clear()
        f = self.editor.field
        if f is None:
            self.field_messages.warn("Select a field first.")
            return
        changes = self.editor.changes()
        if not changes:
            self.field_messages.warn(f"{f.nav}: nothing changed.")
            return
        stored = self.ws.set_field_option(f.nav, **changes)
        said = "; ".join(f"{OPTION_WORDS.get(k, k)}: {_said(k, getattr(stored, k))}" for k in changes)
        self._saved(f"Saved {f.nav} — {said}.", self.field_messages)

    # -- value maps ------------------------------------------------------------------------------------------
    def _map_selected(self, keys) -> None:
        if keys:
            self.open_map(keys[0])

    def open_map(self, name: str | None, keep_message: bool = False) -> ValueMapEditor:
        if not keep_message:
            self.map_messages.clear()
        m = self.ws.mapping
        vm = m.value_map_named(name) if name else None
        if name is None:
            self.maps.select_all(False)
        self.map_editor.load(vm, (*m.fields, *m.disabled))
        return self.map_editor

    def _close_map(self) -> None:
        self.maps.select_all(False)
        self.map_editor.hide()

    def _open_name(self) -> str | None:
        e = self.map_editor
        return e.name.value.strip() if e.name.disabled else None  # a stored map is open

    @guarded("map_messages")
    def delete_entries(self) -> None:
        self.map_messages.clear()
        name, chosen = self._open_name(), list(self.map_editor.entries.value)
        if name is None or not chosen:
            self.map_messages.warn("Select the entries to delete first.")
            return
        labels = [lbl for lbl, v in self.map_editor.entries.options if v in chosen]
        self.map_editor.confirm.ask(f"Delete {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'} of value map "
                                    f"{name} ({'; '.join(labels[:6])}{' and more' if len(labels) > 6 else ''})? "
                                    "The other entries stay.",
                                    lambda: self._delete_entries(name, chosen))

    @guarded("map_messages", progress="Checking and saving…")
    def _delete_entries(self, name: str, chosen: list) -> None:
        delete_value_map_entries(self.ws, name, pairs=[k for t, k in chosen if t == "pair"],
                                 aliases=[k for t, k in chosen if t == "alias"])
        self._saved(f"Deleted {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'} of value map {name}.",
                    self.map_messages)
        self.open_map(name, keep_message=True)

    @guarded("map_messages")
    def delete_map(self) -> None:
        self.map_messages.clear()
        name = self._open_name()
        if name is None:
            self.map_messages.warn("Open a saved value map first.")
            return
        m = self.ws.mapping
        users = [f.nav for f in (*m.fields, *m.disabled) if f.value_map == name]
        also = (f" {', '.join(users)} {'is' if len(users) == 1 else 'are'} mapped through it and will no longer be "
                "translated." if users else "")
        self.map_editor.confirm.ask(f"Delete value map {name}?{also}", lambda: self._delete_map(name))

    @guarded("map_messages", progress="Saving…")
    def _delete_map(self, name: str) -> None:
        users = [f.nav for f in (*self.ws.mapping.fields, *self.ws.mapping.disabled) if f.value_map == name]
        delete_value_map(self.ws, name, unmap_fields=True)
        self.map_editor.hide()
        self._saved(f"Deleted value map {name}" + (f"; {', '.join(users)} no longer use(s) a value map" if users
                                                    else "") + ".", self.map_messages)

    @guarded("map_messages", progress="Checking and saving…")
    def save_map(self) -> None:
        self.map_messages.clear()
        e = self.map_editor
        name = e.name.value.strip()
        pairs = parse_pairs(e.pairs.value, f"value map {name!r}, pairs")
        aliases = parse_pairs(e.aliases.value, f"value map {name!r}, aliases")
        self.ws.set_value_map(name, pairs, aliases=aliases, builtin=e.builtin.value or None,
                              field=e.field.value or None)
        self._saved(f"Saved value map {name}: {len(pairs)} pair(s), {len(aliases)} alias(es)"
                    + (f", built in {e.builtin.value}" if e.builtin.value else "")
                    + (f"; {e.field.value} is mapped through it" if e.field.value else "") + ".", self.map_messages)
