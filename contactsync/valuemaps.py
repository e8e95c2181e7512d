"""Value maps and the SQL of a field's options (transforms, value maps, not null, clear on failure).

A value map translates a field's values between the systems, e.g. NAV ``DE`` <-> CRM ``Germany``: a table per
map (``value_map_entry``, one row per direction and key) that the sync plan joins, set-based. NAV values are
the map's keys as NAV stores them; CRM values compare case-insensitively, and ``aliases`` are further CRM
spellings read as a NAV value (never written). A value that is not in the map fails the record naming the
value and the map: a raw value is never written through.

The default mapping's ``country`` map is ``builtin = "iso3166"``: ISO 3166-1 alpha-2 codes <-> the English
short names of pycountry (``DE`` <-> ``Germany``), with every alpha-2 and alpha-3 code and the official and
common names accepted as CRM aliases. An existing workspace whose CRM country column holds codes (what
contactsync wrote before) therefore sees its pairs as equal: nothing fails and nothing is rewritten until a
country changes, and the next write sends the English name. Free text no alias knows (``Deutschland``) fails
that record when it must be read, naming the value and the map; add it as an alias (``ws.set_value_map``).

BC reference: a field whose NAV side has a table relation (Country/Region Code -> table 9 "Country/Region") is
checked by ``Validate Field`` (the field's OnValidate) when a value comes from Dataverse; a value map is that
check made explicit, in both directions.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from .errors import MappingError, shorten
from .sqlbuild import INVISIBLE, norm

__all__ = ["BUILTINS", "ValueMap", "clear_on_failure_sql", "crm_comparable_sql", "fail_messages_sql", "install",
           "nav_comparable_sql", "not_null_act", "pull_value_sql", "push_value_sql", "rule_id", "set_map_field",
           "uses_params"]

BUILTINS = ("iso3166",)


def _key(value: str) -> str:
    """The Python twin of the SQL key (NFC, invisible characters removed, trimmed, upper-cased); the keys the
    database uses are computed in SQL (:func:`install`), this one only finds duplicates early."""
    return unicodedata.normalize("NFC", value.translate({ord(c): None for c in INVISIBLE})).strip().upper()


@lru_cache(maxsize=4)
def _builtin(name: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    import pycountry

    pairs, aliases, seen = [], [], set()
    for c in pycountry.countries:
        pairs.append((c.alpha_2, c.name))
        seen.add(_key(c.name))
    for c in pycountry.countries:
        for alias in (c.alpha_2, c.alpha_3, getattr(c, "official_name", None), getattr(c, "common_name", None)):
            if alias and _key(alias) not in seen:
                seen.add(_key(alias))
                aliases.append((alias, c.alpha_2))
    return tuple(pairs), tuple(aliases)


def _pairs(value, what: str, name: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = list(value.items())
    out = []
    for i, item in enumerate(value):
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable):
            raise MappingError(f"value map {name!r}: {what} entry #{i + 1} must be a pair [a, b], got {shorten(item)}")
        item = tuple(item)
        if len(item) != 2 or not all(isinstance(v, str) and v.strip() for v in item):
            raise MappingError(f"value map {name!r}: {what} entry #{i + 1} must be two non-empty texts, "
                               f"got {shorten(list(item))}")
        if any("\x00" in v for v in item):
            raise MappingError(f"value map {name!r}: {what} entry #{i + 1} holds a NUL character")
        out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class ValueMap:
    """``pairs``: (NAV value, CRM value), one per NAV value and per CRM value; ``aliases``: (CRM spelling, NAV
    value), read only; ``builtin``: a packaged map the pairs add to (a pair for the same NAV value replaces the
    built-in one)."""

    name: str
    pairs: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    builtin: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise MappingError(f"a value map needs a non-empty name, got {self.name!r}")
        if self.builtin is not None and self.builtin not in BUILTINS:
            raise MappingError(f"value map {self.name!r}: builtin {self.builtin!r} is not one of {BUILTINS}")
        object.__setattr__(self, "pairs", _pairs(self.pairs, "pairs", self.name))
        object.__setattr__(self, "aliases", _pairs(self.aliases, "aliases", self.name))
        if not self.pairs and self.builtin is None:
            raise MappingError(f"value map {self.name!r} is empty: give pairs = [[NAV value, CRM value], ...] "
                               "or a builtin")
        self.entries()  # validates: one CRM value per NAV value and one NAV value per CRM spelling

    @classmethod
    def from_dict(cls, name: str, spec) -> ValueMap:
        if not isinstance(spec, Mapping):
            raise MappingError(f"value map {name!r} must be a table with pairs (and aliases, builtin), got "
                               f"{shorten(spec)}")
        unknown = sorted(set(spec) - {"pairs", "aliases", "builtin"})
        if unknown:
            raise MappingError(f"value map {name!r}: unknown keys {unknown}; allowed: aliases, builtin, pairs")
        return cls(name, spec.get("pairs") or (), spec.get("aliases") or (), spec.get("builtin"))

    def to_dict(self) -> dict:
        d: dict = {}
        if self.builtin:
            d["builtin"] = self.builtin
        if self.pairs:
            d["pairs"] = [list(p) for p in self.pairs]
        if self.aliases:
            d["aliases"] = [list(a) for a in self.aliases]
        return d

    def entries(self) -> tuple[dict[str, str], dict[str, str]]:
        """(NAV value -> CRM value, CRM spelling -> NAV value), keyed by their comparable (upper-cased) form;
        a MappingError names a value mapped two ways. Computed once per distinct map (copies: callers may keep
        them)."""
        fwd, back = _entries(self.name, self.pairs, self.aliases, self.builtin)
        return dict(fwd), dict(back)

    @property
    def map_id(self) -> int:
        return rule_id(("map", self.name))


@lru_cache(maxsize=64)
def _entries(name, pairs, aliases, builtin) -> tuple[dict[str, str], dict[str, str]]:
    """:meth:`ValueMap.entries` of the map with these fields (validated pairs and aliases)."""
    from types import SimpleNamespace

    self = SimpleNamespace(name=name, pairs=pairs, aliases=aliases, builtin=builtin)
    base_pairs, base_aliases = _builtin(self.builtin) if self.builtin else ((), ())
    own = {_key(n) for n, _ in self.pairs}
    pairs = [p for p in base_pairs if _key(p[0]) not in own] + list(self.pairs)
    fwd: dict[str, tuple[str, str]] = {}
    back: dict[str, tuple[str, str]] = {}
    for nav, crm in pairs:
        k = _key(nav)
        if k in fwd:
            raise MappingError(f"value map {self.name!r}: NAV value {shorten(nav)} is mapped twice "
                               f"({shorten(fwd[k][1])} and {shorten(crm)}); keep one")
        fwd[k] = (nav, crm)
        c = _key(crm)
        if c in back and _key(back[c][1]) != k:
            raise MappingError(f"value map {self.name!r}: CRM value {shorten(crm)} is mapped from two NAV "
                               f"values ({shorten(back[c][1])} and {shorten(nav)}); a CRM value must read as "
                               "one NAV value")
        back[c] = (crm, nav)
    navs = {k: nav for k, (nav, _) in fwd.items()}
    for alias, nav in [*base_aliases, *self.aliases]:
        if _key(nav) not in navs:
            if (alias, nav) in base_aliases:  # a built-in alias of a code the pairs replaced
                continue
            raise MappingError(f"value map {self.name!r}: alias {shorten(alias)} reads as NAV value "
                               f"{shorten(nav)}, which the map does not have; add the pair first")
        c = _key(alias)
        if c in back and _key(back[c][1]) != _key(nav):
            if (alias, nav) in base_aliases:
                continue  # a pair of the user's own wins over a built-in alias
            raise MappingError(f"value map {self.name!r}: CRM spelling {shorten(alias)} already reads as "
                               f"{shorten(back[c][1])}; it cannot also read as {shorten(nav)}")
        back.setdefault(c, (alias, navs[_key(nav)]))
    return ({k: crm for k, (_, crm) in fwd.items()}, {k: nav for k, (_, nav) in back.items()})


def rule_id(key) -> int:
    """A stable 62-bit id for a map or a rule (an integer the SQL names it by: code-made, never user text)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "big") >> 2


# -- the workspace tables ----------------------------------------------------------------------------------
def install(con, mapping) -> None:
    """Write the mapping's value maps and transform rule parameters to ``value_map_entry`` and
    ``transform_param`` (schema 6), replacing what was there: set-based, one statement per table. Called
    wherever the mapping is stored (``schema.ensure``)."""
    maps, keys, vals, sides, names = [], [], [], [], []
    for vm in mapping.value_maps:
        fwd, back = vm.entries()
        for side, entries in (("nav", fwd), ("crm", back)):
            for k, v in entries.items():
                maps.append(vm.map_id)
                names.append(vm.name)
                sides.append(side)
                keys.append(k)
                vals.append(v)
    con.execute("DELETE FROM value_map_entry")
    if maps:
        key_sql = f"upper(trim({norm('k')}))"
        con.execute(
            f"INSERT INTO value_map_entry SELECT map_id, map, side, {key_sql}, v FROM (SELECT unnest(?::BIGINT[]) "
            "AS map_id, unnest(?::VARCHAR[]) AS map, unnest(?::VARCHAR[]) AS side, unnest(?::VARCHAR[]) AS k, "
            "unnest(?::VARCHAR[]) AS v)", [maps, names, sides, keys, vals])
        dup = con.execute("SELECT map, side, k FROM value_map_entry GROUP BY ALL HAVING count(*) > 1 LIMIT 3").fetchall()
        if dup:
            raise MappingError(f"value map {dup[0][0]!r}: {'NAV' if dup[0][1] == 'nav' else 'CRM'} value "
                               f"{shorten(dup[0][2])} has two entries once normalized; keep one")
    ids, finds, repls, starts, lengths = [], [], [], [], []
    for f in (*mapping.fields, *mapping.disabled):
        for r in f.transform:
            rid = rule_id(r.to_dict())
            if rid not in ids:
                ids.append(rid)
                finds.append(r.find)
                repls.append(r.replace or "")
                starts.append(r.start)
                lengths.append(r.length)
    con.execute("DELETE FROM transform_param")
    if ids:
        con.execute("INSERT INTO transform_param SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[])",
                    [ids, finds, repls, starts, lengths])


# -- a field's SQL -----------------------------------------------------------------------------------------
def uses_params(f) -> bool:
    """Whether the field's values need more than its raw text to compare (a transform or a value map)."""
    return bool(f.transform) or f.value_map is not None


def _map_id(f) -> int:
    return rule_id(("map", f.value_map))


def _forward(f, raw: str) -> str:
    """The CRM value a NAV value maps to, NULL when it is not in the map (SQL)."""
    return (f"(SELECT e.v FROM value_map_entry e WHERE e.map_id = {_map_id(f)} AND e.side = 'nav' "
            f"AND e.k = upper(trim({norm(raw)})))")


def _back(f, raw: str) -> str:
    """The NAV value a CRM value reads as, NULL when it is not in the map (SQL)."""
    return (f"(SELECT e.v FROM value_map_entry e WHERE e.map_id = {_map_id(f)} AND e.side = 'crm' "
            f"AND e.k = upper(trim({norm(raw)})))")


def _transformed(f, raw: str, side: str) -> str:
    """``raw`` through the field's rules when they are written to ``side``'s destination, else ``raw``."""
    from .transforms import chain_sql_by_id

    if f.transform and f.transform_direction == side:
        return chain_sql_by_id(f.transform, raw)
    return raw


def nav_comparable_sql(f, raw: str) -> str:
    """A NAV value in the form it is compared in: through the ``ToCRM`` rules (what CRM would receive); a
    value-mapped one upper-cased (map keys compare case-insensitively)."""
    if f.value_map:
        return f"upper({norm(raw)})"
    return norm(_transformed(f, raw, "ToCRM"), f.code or bool(f.lookup))


def crm_comparable_sql(f, raw: str) -> str | None:
    """A CRM value in the form it is compared in, or None for the caller's own (a lookup): through the
    ``FromCRM`` rules; a value-mapped one as the NAV value it reads as ('#' + the value when unmapped, which
    equals no NAV value)."""
    if f.lookup:
        return None
    if f.value_map:
        return (f"CASE WHEN {norm(raw)} = '' THEN '' ELSE upper(coalesce({_back(f, raw)}, '#' || {norm(raw)})) END")
    return norm(_transformed(f, raw, "FromCRM"), f.code)


def push_value_sql(f, src: str) -> str:
    """The value a push writes to CRM from the NAV value ``src`` (NULL = empty; NULL for an unmapped value,
    which fails the record)."""
    if f.value_map:
        return f"CASE WHEN {norm(src)} = '' THEN NULL ELSE {_forward(f, src)} END"
    return f"nullif(CAST({_transformed(f, src, 'ToCRM')} AS VARCHAR), '')"


def pull_value_sql(f, src: str) -> str:
    """The value a pull writes to NAV from the CRM value ``src`` (never NULL, except an unmapped value)."""
    if f.value_map:
        v = f"CASE WHEN {norm(src)} = '' THEN '' ELSE {_back(f, src)} END"
    else:
        v = f"coalesce(CAST({_transformed(f, src, 'FromCRM')} AS VARCHAR), '')"
    return f"upper({v})" if f.code else v


def fail_messages_sql(f, k: str) -> tuple[list[str], list]:
    """Failure messages (SQL over the plan's columns) of the field with plan key ``k``: a value its map does not have; none when
    the field clears such values instead (``clear_on_failure``)."""
    if not f.value_map or f.clear_on_failure:
        return [], []
    from .validate import shorten_sql

    push = (f"CASE WHEN act_{k} = 'push' AND pushv_{k} IS NULL AND {norm(f'nraw_{k}')} <> '' THEN ? || ': ' || "
            f"{shorten_sql(f'nraw_{k}')} || ' is not in the value map ' || ? || ', so it cannot be sent to CRM. Add "
            f"it to the map (ws.set_value_map), or correct it in NAV.' END")
    pull = (f"CASE WHEN act_{k} = 'pull' AND pullv_{k} IS NULL AND {norm(f'craw_{k}')} <> '' THEN ? || ': ' || "
            f"{shorten_sql(f'craw_{k}')} || ' is not in the value map ' || ? || ', so it cannot be brought to NAV. Add "
            f"it to the map as a pair or an alias (ws.set_value_map), or correct it in CRM.' END")
    return [push, pull], [f.nav, repr(f.value_map), f.crm, repr(f.value_map)]


def clear_on_failure_sql(m, rel) -> list[tuple[str, list]]:
    """Statements over ``_plan0`` (after the e-mail check, before the status) for the fields with
    ``clear_on_failure`` (BC's Clear Value on Failed Sync): a value that would fail the record (not in its value
    map, longer than the NAV field, not an e-mail address) is written as empty instead and the rest of the
    record goes on. The cleared field's last-synced value becomes empty, so the next run tries the source value
    again and, while it still fails, finds the destination already empty and writes nothing."""
    from .validate import over_length_sql

    stmts: list[tuple[str, list]] = []
    for k, f in zip(m.plan_keys, m.fields):
        if not f.clear_on_failure or f.lookup:
            continue
        push_bad, pull_bad, params = [], [], []
        if f.value_map:
            push_bad.append(f"(pushv_{k} IS NULL AND {norm(f'nraw_{k}')} <> '')")
            pull_bad.append(f"(pullv_{k} IS NULL AND {norm(f'craw_{k}')} <> '')")
        if f.validate == "email":
            push_bad.append(f"pushv_{k} IN (SELECT v FROM {rel.bad_email})")
            pull_bad.append(f"pullv_{k} IN (SELECT v FROM {rel.bad_email})")
        if f.max_length:
            pull_bad.append(over_length_sql(f"pullv_{k}"))
        if push_bad:
            stmts.append((f"UPDATE {rel.plan0} SET pushv_{k} = NULL, nb_{k} = '', act_{k} = CASE WHEN "
                          f"coalesce(craw_{k}, '') = '' THEN 'none' ELSE 'push' END "
                          f"WHERE act_{k} = 'push' AND ({' OR '.join(push_bad)})", []))
        if pull_bad:
            params = [f.max_length, f.max_length] if f.max_length else []
            stmts.append((f"UPDATE {rel.plan0} SET pullv_{k} = '', nb_{k} = '', act_{k} = CASE WHEN "
                          f"coalesce(nraw_{k}, '') = '' THEN 'none' ELSE 'pull' END "
                          f"WHERE act_{k} = 'pull' AND ({' OR '.join(pull_bad)})", params))
    return stmts


def set_map_field(mapping, name: str, pairs=None, *, aliases=None, builtin=None, field: str | None = None):
    """The mapping with value map ``name`` defined (or replaced) from ``pairs``/``aliases``/``builtin`` and, with
    ``field``, that field mapped through it."""
    from dataclasses import replace

    vm = ValueMap(name, pairs or (), aliases or (), builtin)  # a dict NAV -> CRM is read as its items
    maps = tuple(v for v in mapping.value_maps if v.name != name) + (vm,)
    fields = tuple(mapping.fields) + tuple(mapping.disabled)
    if field is not None:
        target = mapping.any_field(field)
        fields = tuple(replace(f, value_map=name) if f is target else f for f in fields)
    return replace(mapping, value_maps=maps, fields=fields, disabled=())


def not_null_act(f, k: str, act: str) -> str:
    """BC's Not Null: the action ``act`` (SQL) of the field with plan key ``k``, except that an empty value is never written
    (the destination keeps its value; a push of an empty NAV value, a pull of an empty CRM value)."""
    if not f.not_null:
        return act
    return (f"CASE WHEN ({act}) = 'push' AND nv_{k} = '' THEN 'none' WHEN ({act}) = 'pull' AND cv_{k} = '' "
            f"THEN 'none' ELSE ({act}) END")
