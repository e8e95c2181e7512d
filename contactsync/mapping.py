"""The table mapping: which NAV field maps to which CRM attribute, in which direction.

Mappings are frozen dataclasses, validated on construction, loadable from TOML or YAML and
savable to TOML. :func:`default_mapping` is Business Central's contact mapping.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as _Mapping
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import MappingError

DIRECTIONS = ("Bidirectional", "ToCRM", "FromCRM")
OPERATORS = ("=", "<>", "in", "not in", "is empty", "is not empty", "references")
LOOKUPS = ("company",)
VALIDATORS = ("email",)


@dataclass(frozen=True)
class FieldMapping:
    """One NAV field <-> one CRM attribute.

    ``code``: a NAV Code field (stored upper-case, compared case-insensitively).
    ``lookup="company"``: the value is a company, translated through the company<->account coupling.
    ``constant``: written to the destination instead of the source value (one-way mappings only).
    """

    nav: str
    crm: str
    direction: str = "Bidirectional"
    max_length: int | None = None
    code: bool = False
    validate: str | None = None
    lookup: str | None = None
    constant: str | None = None
    #: this field's update-conflict strategy (``none``/``send``/``get``), over the table's (contactsync.strategies)
    update_conflict: str | None = None
    #: BC's Integration Field Mapping options (contactsync.transforms, contactsync.valuemaps): Clear Value on
    #: Failed Sync, Not Null, Status (Enabled/Disabled), Transformation Rule + Direction, and a value map's name
    clear_on_failure: bool = False
    not_null: bool = False
    enabled: bool = True
    transform: tuple = ()
    transform_direction: str | None = None
    value_map: str | None = None

    def __post_init__(self):
        for side in ("nav", "crm"):
            value = getattr(self, side)
            if not isinstance(value, str) or not value.strip():
                raise MappingError(f"field mapping needs a non-empty '{side}' column name, got {value!r}")
        if self.direction not in DIRECTIONS:
            raise MappingError(
                f"field {self.nav!r}: direction {self.direction!r} is not one of {', '.join(DIRECTIONS)}"
            )
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length <= 0):
            raise MappingError(f"field {self.nav!r}: max_length must be a positive integer")
        if self.validate is not None and self.validate not in VALIDATORS:
            raise MappingError(f"field {self.nav!r}: validate must be one of {VALIDATORS}, got {self.validate!r}")
        if self.lookup is not None and self.lookup not in LOOKUPS:
            raise MappingError(f"field {self.nav!r}: lookup must be one of {LOOKUPS}, got {self.lookup!r}")
        if self.update_conflict is not None:
            from .strategies import check_update

            object.__setattr__(self, "update_conflict",
                               check_update(self.update_conflict, f"field {self.nav!r}: update_conflict"))
        if self.constant is not None and self.direction == "Bidirectional":
            raise MappingError(
                f"field {self.nav!r}: a constant value needs a one-way direction (ToCRM or FromCRM)"
            )
        _check_options(self)

    @property
    def to_crm(self) -> bool:
        return self.direction in ("Bidirectional", "ToCRM")

    @property
    def from_crm(self) -> bool:
        return self.direction in ("Bidirectional", "FromCRM")

    @property
    def base_column(self) -> str:
        """The coupling column holding the last-synced value of this field."""
        return f"base:{self.crm}"


def plan_keys(names: Iterable[str]) -> tuple[str, ...]:
    """Plain identifiers (``[a-z0-9_]``) for ``names``, one each, distinct: see :attr:`TableMapping.plan_keys`."""
    import unicodedata

    names = list(names)
    slugs = []
    for n in names:
        ascii_ = "".join(c for c in unicodedata.normalize("NFKD", n.casefold()) if not unicodedata.combining(c))
        slugs.append(re.sub(r"[^a-z0-9]+", "_", ascii_).strip("_") or "field")
    keys: list[str] = []
    for i, s in enumerate(slugs):
        k = s if slugs.count(s) == 1 else f"{s}_{i}"
        while k in keys or (k != s and k in slugs):
            k += f"_{i}"
        keys.append(k)
    return tuple(keys)


TRANSFORM_DIRECTIONS = ("ToCRM", "FromCRM")


def _check_options(f: FieldMapping) -> None:
    """Validate (and normalize) a field's BC options; a MappingError names the field and the option."""
    from .transforms import parse_rules

    for opt in ("clear_on_failure", "not_null", "enabled"):
        if not isinstance(getattr(f, opt), bool):
            raise MappingError(f"field {f.nav!r}: {opt} must be true or false, got {getattr(f, opt)!r}")
    if f.clear_on_failure and f.not_null:  # BC: each option's OnValidate TestFields the other false
        raise MappingError(f"field {f.nav!r}: clear_on_failure and not_null exclude each other (as in BC); choose one")
    rules = parse_rules(f.transform, f.nav)
    object.__setattr__(f, "transform", rules)
    if rules:
        if f.constant is not None or f.lookup or f.value_map:
            what = "a constant" if f.constant is not None else "a company lookup" if f.lookup else "a value map"
            raise MappingError(f"field {f.nav!r}: a transform cannot be combined with {what}; use one of them")
        default = f.direction if f.direction != "Bidirectional" else "ToCRM"
        td = f.transform_direction or default
        if td not in TRANSFORM_DIRECTIONS:
            raise MappingError(f"field {f.nav!r}: transform_direction {td!r} is not one of "
                               f"{', '.join(TRANSFORM_DIRECTIONS)} (the direction the rules' output is written to)")
        if f.direction != "Bidirectional" and td != f.direction:
            raise MappingError(f"field {f.nav!r}: transform_direction {td!r} must be the field's direction "
                               f"{f.direction!r} (as BC sets it for a one-way field)")
        object.__setattr__(f, "transform_direction", td)
    elif f.transform_direction is not None:
        raise MappingError(f"field {f.nav!r}: transform_direction is set but the field has no transform rules")
    if f.value_map is not None:
        if not isinstance(f.value_map, str) or not f.value_map.strip():
            raise MappingError(f"field {f.nav!r}: value_map must name a map of the mapping's [value_maps]")
        if f.constant is not None or f.lookup:
            raise MappingError(f"field {f.nav!r}: a value map cannot be combined with "
                               f"{'a constant' if f.constant is not None else 'a company lookup'}")


def field_to_dict(f: FieldMapping) -> dict:
    """A field mapping as its mapping-file table: only the options that differ from the defaults."""
    from .transforms import rules_to_list

    d = {k: v for k, v in asdict(f).items() if v is not None and v != () and v is not False}
    d.pop("enabled", None)
    if not f.enabled:
        d["enabled"] = False
    if f.transform:
        d["transform"] = rules_to_list(f.transform)
    return d


@dataclass(frozen=True)
class Condition:
    """A filter condition, built as SQL from a fixed set of operators (never from user SQL)."""

    column: str
    op: str = "="
    value: Any = None

    def __post_init__(self):
        if not isinstance(self.column, str) or not self.column:
            raise MappingError(f"filter condition needs a column name, got {self.column!r}")
        if self.op not in OPERATORS:
            raise MappingError(f"filter on {self.column!r}: operator {self.op!r} is not one of {OPERATORS}")
        if self.op in ("in", "not in"):
            if isinstance(self.value, str) or not isinstance(self.value, Iterable):
                raise MappingError(f"filter on {self.column!r}: '{self.op}' needs a list of values")
            object.__setattr__(self, "value", tuple(self.value))
        if self.op == "references" and self.value not in ("crm_account",):
            raise MappingError(f"filter on {self.column!r}: 'references' supports only 'crm_account'")

    def reason(self, record: str) -> str:
        """Why a ``record`` (e.g. "CRM contact") that fails this condition is left out, e.g. "CRM contact is
        inactive" for ``statecode = 0``; the caller adds the record's value."""
        known = _KNOWN_REASONS.get((self.column, self.op, self.value))
        if known:
            return f"{record} {known}"
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        phrase = {"=": f"does not have {self.column} = {value!r}", "<>": f"has {self.column} = {value!r}",
                  "in": f"does not have {self.column} in {value!r}", "not in": f"has {self.column} in {value!r}",
                  "is empty": f"has a {self.column}", "is not empty": f"has no {self.column}",
                  "references": f"has a {self.column} that is not a record of {value}"}[self.op]
        return f"{record} {phrase}"


#: how the default mapping's filters explain a record they leave out
_KNOWN_REASONS = {
    ("statecode", "=", 0): "is inactive",
    ("Type", "=", "Person"): "is not a Person",
    ("Company No.", "is not empty", None): "has no company",
    ("parentcustomerid", "references", "crm_account"): "has no parent account",
}


@dataclass(frozen=True)
class TableMapping:
    """Per entity: each side's table, key, modified-on column, filter and the field mappings."""

    name: str
    nav_table: str
    nav_key: str
    nav_modified: str | None
    crm_table: str
    crm_key: str
    crm_modified: str | None
    fields: tuple[FieldMapping, ...]
    nav_filter: tuple[Condition, ...] = ()
    crm_filter: tuple[Condition, ...] = ()
    #: BC's Resolve Update / Deletion Conflicts (contactsync.strategies)
    update_conflict: str = "none"
    deletion_conflict: str = "none"
    #: named value maps (contactsync.valuemaps.ValueMap) that fields refer to by ``value_map``
    value_maps: tuple = ()
    #: the disabled field mappings (BC's Status = Disabled): kept and saved, left out of every run and compare
    disabled: tuple[FieldMapping, ...] = ()

    def __post_init__(self):
        every = (*tuple(self.fields), *tuple(self.disabled))
        object.__setattr__(self, "fields", tuple(f for f in every if f.enabled))
        object.__setattr__(self, "disabled", tuple(f for f in every if not f.enabled))
        _check_value_maps(self, every)
        object.__setattr__(self, "nav_filter", tuple(self.nav_filter))
        object.__setattr__(self, "crm_filter", tuple(self.crm_filter))
        from .strategies import check_deletion, check_update

        object.__setattr__(self, "update_conflict", check_update(self.update_conflict))
        object.__setattr__(self, "deletion_conflict", check_deletion(self.deletion_conflict))
        if not self.fields:
            raise MappingError(f"mapping {self.name!r} has no field mappings" + (
                " enabled: enable one (enabled = true)" if self.disabled else ""))
        for attr in ("nav", "crm"):
            seen: dict[str, int] = {}
            for f in every:
                seen[getattr(f, attr)] = seen.get(getattr(f, attr), 0) + 1
            dup = [k for k, n in seen.items() if n > 1]
            if dup:
                raise MappingError(f"mapping {self.name!r}: {attr.upper()} column(s) mapped twice: {dup}")
        lookups = [f for f in every if f.lookup]
        if len(lookups) > 1:
            raise MappingError(f"mapping {self.name!r}: only one company lookup field is supported")

    # -- convenience -------------------------------------------------------------------------
    def field(self, name: str) -> FieldMapping:
        for f in self.fields:
            if name in (f.nav, f.crm):
                return f
        raise MappingError(f"no mapped field named {name!r}; mapped fields: {[f.nav for f in self.fields]}")

    def any_field(self, name: str) -> FieldMapping:
        """The field mapping named ``name`` (NAV or CRM name), enabled or not."""
        for f in (*self.fields, *self.disabled):
            if name in (f.nav, f.crm):
                return f
        raise MappingError(f"no mapped field named {name!r}; mapped fields: "
                           f"{[f.nav for f in (*self.fields, *self.disabled)]}")

    def value_map_named(self, name: str):
        for vm in self.value_maps:
            if vm.name == name:
                return vm
        raise MappingError(f"mapping {self.name!r} has no value map {name!r}; its maps: "
                           f"{[vm.name for vm in self.value_maps]}")

    @property
    def lookup_field(self) -> FieldMapping | None:
        return next((f for f in self.fields if f.lookup), None)

    @cached_property
    def plan_keys(self) -> tuple[str, ...]:
        """Per field (in ``fields`` order), the name its working columns have in a run's plan: the NAV field in
        lower case with every run of other characters as ``_`` (``E-Mail`` -> ``e_mail``, so the plan has
        ``act_e_mail``, ``pushv_e_mail``...), made unique with the field's position where two would meet.
        They are plain SQL identifiers: a plan's SQL and trace read by field, and need no quoting."""
        return plan_keys(f.nav for f in self.fields)

    def with_fields(self, fields: Iterable[FieldMapping]) -> TableMapping:
        return replace(self, fields=tuple(fields))

    # -- validation against a workspace --------------------------------------------------------
    def validate_columns(self, columns: _Mapping[str, Iterable[str]]) -> None:
        """Raise :class:`MappingError` naming every column that the tables do not have."""
        problems = []
        for table, key, modified, names, conds in (
            (self.nav_table, self.nav_key, self.nav_modified, [f.nav for f in self.fields], self.nav_filter),
            (self.crm_table, self.crm_key, self.crm_modified, [f.crm for f in self.fields], self.crm_filter),
        ):
            if table not in columns:
                problems.append(f"table {table!r} does not exist (tables: {sorted(columns)})")
                continue
            have = list(columns[table])
            wanted = [key, *([modified] if modified else []), *names, *(c.column for c in conds)]
            for name in wanted:
                if name not in have:
                    close = difflib.get_close_matches(name, have, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    problems.append(f"column {name!r} is not in table {table!r}{hint}")
        if problems:
            raise MappingError(
                f"mapping {self.name!r} does not fit the workspace: " + "; ".join(problems)
                + ". Fix the column names in the mapping file (or import data that has them).",
                problems=problems,
            )

    # -- (de)serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        def clean(d):
            return {k: v for k, v in d.items() if v is not None and v != () and v is not False}

        return {
            "name": self.name,
            "nav": clean({"table": self.nav_table, "key": self.nav_key, "modified": self.nav_modified,
                          "filter": [clean(asdict(c)) | {"op": c.op} for c in self.nav_filter]}),
            "crm": clean({"table": self.crm_table, "key": self.crm_key, "modified": self.crm_modified,
                          "filter": [clean(asdict(c)) | {"op": c.op} for c in self.crm_filter]}),
            "fields": [field_to_dict(f) for f in (*self.fields, *self.disabled)],
        } | ({"value_maps": {vm.name: vm.to_dict() for vm in self.value_maps}} if self.value_maps else {}) | {k: getattr(self, k) for k in ("update_conflict", "deletion_conflict") if getattr(self, k) != "none"}

    @classmethod
    def from_dict(cls, data: _Mapping) -> TableMapping:
        try:
            nav, crm = data["nav"], data["crm"]

            def conds(items):
                return tuple(Condition(**{k: (list(v) if isinstance(v, list) else v) for k, v in c.items()})
                             for c in items or ())

            known = set(FieldMapping.__dataclass_fields__)
            fields = []
            for i, f in enumerate(data["fields"]):
                unknown = set(f) - known
                if unknown:
                    raise MappingError(f"field mapping #{i + 1}: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
                fields.append(FieldMapping(**f))
            return cls(
                name=data.get("name", "contact"),
                nav_table=nav["table"], nav_key=nav["key"], nav_modified=nav.get("modified"),
                crm_table=crm["table"], crm_key=crm["key"], crm_modified=crm.get("modified"),
                fields=tuple(fields), nav_filter=conds(nav.get("filter")), crm_filter=conds(crm.get("filter")),
                update_conflict=data.get("update_conflict", "none"),
                value_maps=_value_maps_from(data.get("value_maps")),
                deletion_conflict=data.get("deletion_conflict", "none"),
            )
        except MappingError:
            raise
        except (KeyError, TypeError) as exc:
            raise MappingError(
                f"mapping is missing or has a malformed entry ({exc}); it needs [nav] and [crm] tables with "
                "table/key and a [[fields]] list with nav/crm names"
            ) from exc

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())


def _check_value_maps(m: TableMapping, every) -> None:
    from .valuemaps import ValueMap

    maps = tuple(m.value_maps)
    for vm in maps:
        if not isinstance(vm, ValueMap):
            raise MappingError(f"mapping {m.name!r}: value_maps holds {vm!r}, not a ValueMap")
    names = [vm.name for vm in maps]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MappingError(f"mapping {m.name!r}: value map(s) defined twice: {dup}")
    for f in every:
        if f.value_map is not None and f.value_map not in names:
            raise MappingError(f"field {f.nav!r}: value map {f.value_map!r} is not defined; the mapping's maps: "
                               f"{names or 'none'} (add it under [value_maps.{f.value_map}])")
    object.__setattr__(m, "value_maps", maps)


def _value_maps_from(data) -> tuple:
    from .valuemaps import ValueMap

    if data is None:
        return ()
    if not isinstance(data, _Mapping):
        raise MappingError("value_maps must be a table of maps, e.g. [value_maps.country] with builtin = \"iso3166\" "
                           "or pairs = [[\"DE\", \"Germany\"]]")
    return tuple(ValueMap.from_dict(name, spec) for name, spec in data.items())


def default_mapping() -> TableMapping:
    """Business Central's contact mapping with its field lengths and Code fields, and the country value map."""
    from .valuemaps import ValueMap

    F = FieldMapping
    return TableMapping(
        name="contact",
        nav_table="nav_contact", nav_key="No.", nav_modified="SystemModifiedAt",
        crm_table="crm_contact", crm_key="contactid", crm_modified="modifiedon",
        fields=(
            F("First Name", "firstname", max_length=30),
            F("Middle Name", "middlename", max_length=30),
            F("Surname", "lastname", max_length=30),
            F("Job Title", "jobtitle", max_length=30),
            F("Address", "address1_line1", max_length=100),
            F("Address 2", "address1_line2", max_length=50),
            F("Post Code", "address1_postalcode", max_length=20, code=True),
            F("City", "address1_city", max_length=30),
            F("County", "address1_stateorprovince", max_length=30),
            # ISO 3166 alpha-2 code <-> English name (CRM codes and other names read as the code: valuemaps)
            F("Country/Region Code", "address1_country", max_length=10, code=True, value_map="country"),
            F("E-Mail", "emailaddress1", max_length=80, validate="email"),
            F("Fax No.", "fax", max_length=30),
            F("Home Page", "websiteurl", max_length=80),
            F("Phone No.", "telephone1", max_length=30),
            F("Mobile Phone No.", "mobilephone", max_length=30),
            F("Company No.", "parentcustomerid", max_length=20, code=True, lookup="company"),
        ),
        nav_filter=(Condition("Type", "=", "Person"), Condition("Company No.", "is not empty")),
        crm_filter=(Condition("statecode", "=", 0), Condition("parentcustomerid", "references", "crm_account")),
        value_maps=(ValueMap("country", builtin="iso3166"),),
    )


def load_mapping(path: str | Path) -> TableMapping:
    """Load a mapping from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file."""
    path = Path(path)
    if not path.exists():
        raise MappingError(f"mapping file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # parse errors of either format
        raise MappingError(f"mapping file {str(path)!r} cannot be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise MappingError(f"mapping file {str(path)!r} must hold a table/object at the top level")
    return TableMapping.from_dict(data)


def save_mapping(mapping: TableMapping, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(mapping.to_toml(), encoding="utf-8")
    return path


__all__ = ["Condition", "FieldMapping", "TableMapping", "default_mapping", "load_mapping", "save_mapping"]
