"""Editing a workspace's mapping: field options, value maps, the whole mapping (``Workspace.set_field_option``,
``set_value_map``, ``set_mapping``, ``field_options``).

Every edit builds a new :class:`~contactsync.mapping.TableMapping` (validated as any loaded one) and stores it
in one transaction with its last-synced columns, views, value maps and rule parameters
(``schema.ensure``); an invalid edit raises a :class:`MappingError` and leaves the workspace as it was.
"""

from __future__ import annotations

from dataclasses import fields as dc_fields
from dataclasses import replace

import pandas as pd

from .errors import MappingError
from .mapping import FieldMapping, TableMapping, field_to_dict

__all__ = ["FIELD_OPTIONS", "field_options", "set_field_option", "set_mapping", "set_value_map"]

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
