"""Editing a workspace's mapping: field options, value maps, the whole mapping (``Workspace.set_field_option``,
``set_value_map``, ``set_mapping``, ``field_options``).

Every edit builds a new :class:`~contactsync.mapping.TableMapping` (validated as any loaded one) and stores it
in one transaction with its last-synced columns, views, value maps and rule parameters
(``schema.ensure``); an invalid edit raises a :class:`MappingError` and leaves the workspace as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import fields as dc_fields

import pandas as pd

from .errors import MappingError, shorten
from .mapping import Condition, FieldMapping, TableMapping, field_to_dict
from .sqlbuild import condition_sql, filter_sql, q

__all__ = ["FIELD_OPTIONS", "FilterCheck", "delete_value_map", "delete_value_map_entries", "field_options",
           "set_field_option", "set_filters", "set_mapping", "set_value_map"]

#: the options ``set_field_option`` changes (a field's names are its identity and stay)
FIELD_OPTIONS = tuple(f.name for f in dc_fields(FieldMapping) if f.name not in ("nav", "crm"))


def set_mapping(ws, mapping: TableMapping) -> TableMapping:
    """Validate ``mapping`` against the workspace's tables and store it (one transaction); returns it."""
    from .schema import ensure

    if not isinstance(mapping, TableMapping):
        raise MappingError(f"set_mapping needs a TableMapping (e.g. contactsync.load_mapping(path)), got "
                           f"{type(mapping).__name__}")
    with ws.transaction() as con:
        stored = ensure(con, mapping, ws.path)
    ws.mapping = stored
    return stored


def _rebuilt(m: TableMapping, fields) -> TableMapping:
    return replace(m, fields=tuple(fields), disabled=())


def set_field_option(ws, field: str, **options) -> FieldMapping:
    """Change options of the mapped field ``field`` (its NAV or CRM name): any of :data:`FIELD_OPTIONS`, e.g.
    ``transform=["trim", {"rule": "replace", "find": "-", "replace": " "}]``, ``not_null=True``,
    ``enabled=False``, ``value_map="country"`` (``None`` resets an option to its default). Returns the field
    mapping as stored."""
    if not options:
        raise MappingError(f"set_field_option({field!r}) needs at least one option: {', '.join(FIELD_OPTIONS)}")
    unknown = sorted(set(options) - set(FIELD_OPTIONS))
    if unknown:
        raise MappingError(f"unknown field option(s) {unknown}; the options are {', '.join(FIELD_OPTIONS)}")
    m = ws.mapping
    target = m.any_field(field)
    defaults = {f.name: f.default for f in dc_fields(FieldMapping)}
    values = {k: (defaults[k] if v is None else v) for k, v in options.items()}
    if "transform" in values and values["transform"] == defaults["transform"]:
        values.setdefault("transform_direction", None)
    new = replace(target, **values)
    every = (*m.fields, *m.disabled)
    stored = set_mapping(ws, _rebuilt(m, (new if f is target else f for f in every)))
    return stored.any_field(target.nav)


def set_value_map(ws, name: str, pairs=None, *, aliases=None, builtin: str | None = None,
                  field: str | None = None) -> TableMapping:
    """Define (or replace) value map ``name``: ``pairs`` of (NAV value, CRM value) — a list of pairs or a dict
    NAV -> CRM —, ``aliases`` (CRM spelling, NAV value) read only, ``builtin`` (``"iso3166"``) under them;
    with ``field``, map that field through it. Returns the stored mapping."""
    from .valuemaps import set_map_field

    return set_mapping(ws, set_map_field(ws.mapping, name, pairs, aliases=aliases, builtin=builtin, field=field))


def field_options(mapping: TableMapping) -> pd.DataFrame:
    """One row per field mapping (enabled or not): ``nav, crm, direction`` and every option, the transform as
    text (``trim > replace(find='-')``) — the table a mapping view shows."""
    rows = []
    for f in (*mapping.fields, *mapping.disabled):
        d = field_to_dict(f)
        row = {"nav": f.nav, "crm": f.crm}
        for opt in FIELD_OPTIONS:
            row[opt] = getattr(f, opt)
        row["transform"] = " > ".join(str(r) for r in f.transform)
        row["options"] = ", ".join(k for k in d if k not in ("nav", "crm", "direction"))
        rows.append(row)
    return pd.DataFrame(rows)


# -- table filters ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterCheck:
    """What a side's filter keeps of its table: ``kept`` of ``total`` records; ``coupled_out``: coupled contacts it
    leaves out (their pairs are no longer synchronized)."""

    side: str
    kept: int
    total: int
    coupled_out: int = 0


_SIDE_WORDS = {"nav": ("NAV table filter", "NAV contact"), "crm": ("CRM integration table filter", "CRM contact")}


def _conditions(value, side: str) -> tuple[Condition, ...]:
    what = _SIDE_WORDS[side][0]
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise MappingError(f"the {what} must be a list of conditions (Condition or {{'column', 'op', 'value'}}), got "
                           f"{shorten(value)}")
    out = []
    for i, c in enumerate(value, 1):
        if isinstance(c, Condition):
            out.append(c)
        elif isinstance(c, dict) and set(c) <= {"column", "op", "value"}:
            try:
                out.append(Condition(**c))
            except MappingError as exc:
                raise MappingError(f"{what}, condition #{i}: {exc}") from None
        else:
            raise MappingError(f"{what}, condition #{i}: write it as {{'column': 'Type', 'op': '=', 'value': "
                               f"'Person'}}, got {shorten(c)}")
    return tuple(out)


def _values_hint(con, table: str, c: Condition) -> str:
    """`` (Type holds 'Company', 'Person')``: the column's most common values, compared as text as filters are."""
    if c.op in ("references",):
        return ""
    rows = con.execute(f"SELECT coalesce(CAST({q(c.column)} AS VARCHAR), '') AS v, count(*) AS n FROM {q(table)} "
                       "GROUP BY v ORDER BY n DESC, v LIMIT 6").fetchall()
    shown = ", ".join("(empty)" if v == "" else repr(v) for v, _n in rows[:5])
    return f" ({c.column} holds {'e.g. ' if len(rows) > 5 else ''}{shown})"


def set_filters(ws, *, nav=None, crm=None) -> tuple[TableMapping, list[FilterCheck]]:
    """Replace the NAV table filter and/or the CRM integration table filter (BC's *Table Filter* / *Integration
    Table Filter*): lists of :class:`~contactsync.mapping.Condition` (or dicts ``column, op, value``), all ANDed;
    ``None`` keeps a side as it is, ``[]`` removes its filter. Validated as a mapping file is (known column,
    operator) and against the data: a condition that keeps none of a side's records (a typo in a value, most
    likely) is refused, naming it. One transaction; returns the stored mapping and what each filter keeps."""
    from .schema import ensure

    if nav is None and crm is None:
        raise MappingError("set_filters needs nav=[...] and/or crm=[...] (a list of conditions; [] for none)")
    m = ws.mapping
    new = replace(m, nav_filter=m.nav_filter if nav is None else _conditions(nav, "nav"),
                  crm_filter=m.crm_filter if crm is None else _conditions(crm, "crm"))
    checks = []
    with ws.transaction() as con:
        stored = ensure(con, new, ws.path)
        for side, table, conds in (("nav", new.nav_table, new.nav_filter), ("crm", new.crm_table, new.crm_filter)):
            total = con.execute(f"SELECT count(*) FROM {q(table)}").fetchone()[0]
            if total:
                for c in conds:
                    sql, params = condition_sql("t", c)
                    if not con.execute(f"SELECT count(*) FROM {q(table)} t WHERE {sql}", params).fetchone()[0]:
                        what, record = _SIDE_WORDS[side]
                        raise MappingError(f"{what}: the condition {c.column} {c.op} {shorten(c.value)} keeps none of "
                                           f"the {total:,} {record}s; check the value{_values_hint(con, table, c)}")
            sql, params = filter_sql("t", conds)
            kept = con.execute(f"SELECT count(*) FROM {q(table)} t WHERE {sql}", params).fetchone()[0]
            key, col = (new.nav_key, "nav_no") if side == "nav" else (new.crm_key, "crm_id")
            out = con.execute(f"SELECT count(*) FROM coupling c JOIN {q(table)} t ON t.{q(key)} = c.{q(col)} "
                              f"WHERE c.entity = 'contact' AND NOT ({sql})", params).fetchone()[0]
            checks.append(FilterCheck(side, kept, total, out))
    ws.mapping = stored
    return stored, checks


# -- deleting value maps --------------------------------------------------------------------------------------
def delete_value_map(ws, name: str, *, unmap_fields: bool = False) -> TableMapping:
    """Delete value map ``name``. A field still mapped through it is refused (named), unless ``unmap_fields``: then
    those fields lose their value map in the same transaction. Returns the stored mapping."""
    m = ws.mapping
    m.value_map_named(name)  # names the maps there are
    every = (*m.fields, *m.disabled)
    users = [f.nav for f in every if f.value_map == name]
    if users and not unmap_fields:
        raise MappingError(f"value map {name!r} is used by {', '.join(users)}; set their value map to (none) first, "
                           "or delete it with unmap_fields=True")
    fields = tuple(replace(f, value_map=None) if f.value_map == name else f for f in every)
    return set_mapping(ws, replace(m, fields=fields, disabled=(), value_maps=tuple(v for v in m.value_maps
                                                                                  if v.name != name)))


def delete_value_map_entries(ws, name: str, *, pairs=(), aliases=()) -> TableMapping:
    """Delete entries of value map ``name``: ``pairs`` by their NAV value, ``aliases`` by their CRM spelling (as
    stored). An alias reading as a deleted pair's NAV value must go with it (named if not); the last entry of a
    map without a built-in one cannot go (delete the map). Returns the stored mapping."""
    m = ws.mapping
    vm = m.value_map_named(name)
    pairs, aliases = list(pairs), list(aliases)
    if not pairs and not aliases:
        raise MappingError(f"value map {name!r}: choose the entries to delete")
    have_p, have_a = {p[0] for p in vm.pairs}, {a[0] for a in vm.aliases}
    unknown = [p for p in pairs if p not in have_p] + [a for a in aliases if a not in have_a]
    if unknown:
        raise MappingError(f"value map {name!r} has no entry {shorten(unknown[0])}; refresh and choose again")
    left_p = tuple(p for p in vm.pairs if p[0] not in pairs)
    left_a = tuple(a for a in vm.aliases if a[0] not in aliases)
    gone = {p.upper() for p in pairs}
    orphans = [a for a, nav in left_a if nav.upper() in gone]
    if orphans and not vm.builtin:
        raise MappingError(f"value map {name!r}: the alias(es) {', '.join(orphans)} read as a NAV value you delete; "
                           "delete them too")
    if not left_p and not vm.builtin:
        raise MappingError(f"value map {name!r} would have no entries left; delete the whole value map instead")
    from .valuemaps import ValueMap

    new = ValueMap(name, left_p, left_a, vm.builtin)
    return set_mapping(ws, replace(m, value_maps=tuple(new if v.name == name else v for v in m.value_maps)))
