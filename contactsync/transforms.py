"""Transformation rules of a field mapping, as Business Central's *Transformation Rule* (table 1237).

A field's ``transform`` is a chain of rules applied in order (BC's "Next Transformation Rule") to the source
value on its way to the other side, in the field's ``transform_direction`` (BC's "Transformation Direction":
``ToCRM`` = ToIntegrationTable, ``FromCRM`` = FromIntegrationTable). A sync compares the transformed source
with the destination and writes the transformed value, so a rule works on the whole table in SQL (one
expression per field, never a Python loop over rows).

The rule types and their BC semantics (BCApps ``src/Layers/W1/BaseApp/System/DataExchange/Transformations``):

- ``upper``/``lower`` (``UpperCase``/``LowerCase``), ``trim`` (``DelChr(OldValue, '<>')``: leading and
  trailing spaces only), ``remove_non_alphanumeric`` (letters and digits kept), codeunit 1244
  *Transform. Rule - Basic*;
- ``title`` (``TextInfo.ToTitleCase``: each space-separated word gets an upper-case first letter and the
  rest lower-case; a word already all upper-case is an acronym and kept), codeunit *Transform. Rule -
  Formatting*;
- ``replace`` (``String.Replace``: every occurrence, case-sensitive) and ``regex_replace`` (``Regex.Replace``
  with ``IgnoreCase``: every match, case-insensitive; the pattern is RE2 syntax and the replacement names
  groups ``\\1``), codeunit 1249 *Transform. Rule - Replace*;
- ``substring`` (``CopyStr(OldValue, Start Position, Length)``: 1-based, ``length`` omitted = to the end),
  codeunit *Transform. Rule - Substring*.

Rules are validated when the mapping loads: an unknown type, a missing or extra parameter, or a pattern that
does not compile is a :class:`MappingError` naming the field and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from .errors import MappingError, shorten
from .sqlbuild import q

__all__ = ["Rule", "RuleKind", "apply_rules", "chain_sql", "chain_sql_by_id", "parse_rules", "rules_to_list"]


class RuleKind(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    TITLE = "title"
    TRIM = "trim"
    REPLACE = "replace"
    REGEX_REPLACE = "regex_replace"
    SUBSTRING = "substring"
    REMOVE_NON_ALPHANUMERIC = "remove_non_alphanumeric"


#: the parameters each rule takes (required, optional)
_PARAMS: dict[RuleKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    RuleKind.UPPER: ((), ()), RuleKind.LOWER: ((), ()), RuleKind.TITLE: ((), ()), RuleKind.TRIM: ((), ()),
    RuleKind.REMOVE_NON_ALPHANUMERIC: ((), ()),
    RuleKind.REPLACE: (("find",), ("replace",)),
    RuleKind.REGEX_REPLACE: (("find",), ("replace",)),
    RuleKind.SUBSTRING: (("start",), ("length",)),
}


@dataclass(frozen=True)
class Rule:
    """One transformation rule: its type and parameters."""

    rule: RuleKind
    find: str | None = None
    replace: str | None = None
    start: int | None = None
    length: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in (("rule", self.rule.value), ("find", self.find), ("replace", self.replace),
                                  ("start", self.start), ("length", self.length)) if v is not None}

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "rule")
        return f"{self.rule.value}({args})" if args else self.rule.value


def _rule(spec, field: str, pos: int) -> Rule:
    where = f"field {field!r}, transform rule #{pos}"
    if isinstance(spec, Rule):
        spec = spec.to_dict()
    if isinstance(spec, str):
        spec = {"rule": spec}
    if not isinstance(spec, Mapping) or "rule" not in spec:
        raise MappingError(f"{where}: a rule is a rule name or a table with 'rule' (one of "
                           f"{', '.join(k.value for k in RuleKind)}), got {shorten(spec)}")
    try:
        kind = RuleKind(spec["rule"])
    except ValueError:
        raise MappingError(f"{where}: unknown rule {shorten(spec['rule'])}; the rules are "
                           f"{', '.join(k.value for k in RuleKind)}") from None
    where = f"field {field!r}, transform rule #{pos} ({kind.value})"
    required, optional = _PARAMS[kind]
    extra = sorted(set(spec) - {"rule", *required, *optional})
    if extra:
        allowed = ", ".join([*required, *optional]) or "no parameters"
        raise MappingError(f"{where}: unknown parameter(s) {extra}; it takes {allowed}")
    missing = [p for p in required if spec.get(p) in (None, "")]
    if missing:
        raise MappingError(f"{where}: needs {' and '.join(repr(p) for p in missing)} (not empty)")
    values = {p: spec.get(p) for p in (*required, *optional)}
    for p in ("find", "replace"):
        if values.get(p) is not None and not isinstance(values[p], str):
            raise MappingError(f"{where}: {p!r} must be text, got {shorten(values[p])}")
    for p in ("start", "length"):
        v = values.get(p)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise MappingError(f"{where}: {p!r} must be a whole number of at least 1 (characters, 1 = the first), "
                               f"got {shorten(v)}")
    if kind == RuleKind.REGEX_REPLACE:
        problem = _regex_problem(values["find"], values.get("replace") or "")
        if problem:
            raise MappingError(f"{where}: the pattern {shorten(values['find'])} does not compile ({problem}). "
                               "Patterns are RE2 syntax (https://github.com/google/re2/wiki/Syntax); fix it in "
                               "the mapping.")
    return Rule(kind, **{k: v for k, v in values.items()})


@lru_cache(maxsize=256)
def _regex_problem(pattern: str, replacement: str) -> str | None:
    """Why DuckDB's RE2 refuses ``pattern`` (compiled once on a throwaway in-memory database), else None."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SELECT regexp_replace('', ?, ?, 'gi')", [pattern, replacement]).fetchall()
    except duckdb.Error as exc:
        return str(exc).split("\n")[0].removeprefix("Invalid Input Error: ")
    finally:
        con.close()
    return None


def parse_rules(specs, field: str) -> tuple[Rule, ...]:
    """A chain of rules from a mapping file's ``transform`` (a rule name, a table, or a list of them)."""
    if specs is None:
        return ()
    if isinstance(specs, (str, Rule, Mapping)):
        specs = [specs]
    if not isinstance(specs, Iterable):
        raise MappingError(f"field {field!r}: transform must be a list of rules, got {shorten(specs)}")
    return tuple(_rule(s, field, i + 1) for i, s in enumerate(specs))


def rules_to_list(rules: Iterable[Rule]) -> list[dict]:
    return [r.to_dict() for r in rules]


def _one_sql(r: Rule, x: str) -> tuple[str, list]:
    """SQL for one rule over the VARCHAR expression ``x`` (never null) and its parameters."""
    if r.rule == RuleKind.UPPER:
        return f"upper({x})", []
    if r.rule == RuleKind.LOWER:
        return f"lower({x})", []
    if r.rule == RuleKind.TRIM:
        return f"trim({x}, ' ')", []
    if r.rule == RuleKind.TITLE:
        return (f"array_to_string(list_transform(string_split({x}, ' '), lambda w: CASE WHEN w = upper(w) AND "
                f"w <> lower(w) THEN w ELSE upper(left(w, 1)) || lower(substr(w, 2)) END), ' ')"), []
    if r.rule == RuleKind.REMOVE_NON_ALPHANUMERIC:
        return f"regexp_replace({x}, '[^\\p{{L}}\\p{{N}}]', '', 'g')", []
    if r.rule == RuleKind.REPLACE:
        return f"replace({x}, CAST(? AS VARCHAR), CAST(? AS VARCHAR))", [r.find, r.replace or ""]
    if r.rule == RuleKind.REGEX_REPLACE:
        return f"regexp_replace({x}, CAST(? AS VARCHAR), CAST(? AS VARCHAR), 'gi')", [r.find, r.replace or ""]
    if r.rule == RuleKind.SUBSTRING:
        if r.length is None:
            return f"substr({x}, CAST(? AS BIGINT))", [r.start]
        return f"substr({x}, CAST(? AS BIGINT), CAST(? AS BIGINT))", [r.start, r.length]
    raise AssertionError(r.rule)


def chain_sql(rules: Iterable[Rule], expr: str) -> tuple[str, list]:
    """SQL applying ``rules`` in order to ``expr`` (null is treated as empty text) and its parameters, in the
    order they appear in the SQL text."""
    params: list = []
    sql = f"coalesce(CAST({expr} AS VARCHAR), '')"
    for r in rules:
        inner_params = params
        sql, own = _one_sql(r, sql)
        params = inner_params + own  # the inner expression comes first in the text
    return sql, params


def _param(rid: int, column: str) -> str:
    return f"(SELECT p.{q(column)} FROM transform_param p WHERE p.rule_id = {int(rid)})"


def chain_sql_by_id(rules: Iterable[Rule], expr: str) -> str:
    """:func:`chain_sql` without parameters: each rule's find/replace/start/length is read from the workspace's
    ``transform_param`` table by the rule's id (``valuemaps.install`` writes it with the mapping), so the
    expression can appear any number of times in a query."""
    from .valuemaps import rule_id

    sql = f"coalesce(CAST({expr} AS VARCHAR), '')"
    for r in rules:
        rid = rule_id(r.to_dict())
        if r.rule == RuleKind.REPLACE:
            sql = f"replace({sql}, {_param(rid, 'find')}, {_param(rid, 'repl')})"
        elif r.rule == RuleKind.REGEX_REPLACE:
            sql = f"regexp_replace({sql}, {_param(rid, 'find')}, {_param(rid, 'repl')}, 'gi')"
        elif r.rule == RuleKind.SUBSTRING:
            sql = (f"substr({sql}, {_param(rid, 'start')})" if r.length is None
                   else f"substr({sql}, {_param(rid, 'start')}, {_param(rid, 'len')})")
        else:
            sql, _ = _one_sql(r, sql)
    return sql


def apply_rules(rules: Iterable[Rule], value: str | None) -> str:
    """The rules applied in Python (a reference for tests and previews; runs use :func:`chain_sql`). The regex
    rule needs the pattern to mean the same in Python's ``re`` as in RE2 (true for the common subset)."""
    import re

    v = value or ""
    for r in rules:
        if r.rule == RuleKind.UPPER:
            v = v.upper()
        elif r.rule == RuleKind.LOWER:
            v = v.lower()
        elif r.rule == RuleKind.TRIM:
            v = v.strip(" ")
        elif r.rule == RuleKind.TITLE:
            v = " ".join(w if (w == w.upper() and w != w.lower()) else w[:1].upper() + w[1:].lower()
                         for w in v.split(" "))
        elif r.rule == RuleKind.REMOVE_NON_ALPHANUMERIC:
            import unicodedata

            v = "".join(c for c in v if unicodedata.category(c)[0] in "LN")
        elif r.rule == RuleKind.REPLACE:
            v = v.replace(r.find or "", r.replace or "")
        elif r.rule == RuleKind.REGEX_REPLACE:
            v = re.sub(r.find or "", (r.replace or "").replace("\\0", "\\g<0>"), v, flags=re.IGNORECASE)
        elif r.rule == RuleKind.SUBSTRING:
            start = (r.start or 1) - 1
            v = v[start:] if r.length is None else v[start:start + r.length]
    return v
