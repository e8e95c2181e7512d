"""Pure SQL text helpers: they return SQL and never touch a connection.

Identifiers are quoted in exactly one place, :func:`quote_identifier`; values are always
passed as parameters by the callers.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["INVISIBLE", "col", "column_list", "condition_sql", "crm_text", "filter_sql", "nav_text", "norm", "q",
           "quote_identifier", "visible_nfc"]


def quote_identifier(name: str) -> str:
    """Quote a DuckDB identifier: ``First Name`` -> ``"First Name"``, doubling inner quotes."""
    if not isinstance(name, str) or name == "":
        raise ValueError(f"identifier must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise ValueError("identifier must not contain NUL characters")
    return '"' + name.replace('"', '""') + '"'


q = quote_identifier


def col(alias: str, name: str) -> str:
    """``alias."name"`` with the column quoted (aliases are internal constants)."""
    return f"{alias}.{q(name)}"


def column_list(names: Iterable[str], alias: str | None = None) -> str:
    return ", ".join(col(alias, n) if alias else q(n) for n in names)


def nav_text(expr: str) -> str:
    """A NAV text value as NAV means it: never null."""
    return f"coalesce({expr}, '')"


def crm_text(expr: str) -> str:
    """A Dataverse value as stored: empty means null."""
    return f"nullif({expr}, '')"


#: characters that show nothing and mean nothing in a name or address (zero-width space, non-joiner,
#: joiner, BOM / zero-width no-break space, word joiner): left out of the comparable form
INVISIBLE = "\u200b\u200c\u200d\ufeff\u2060"


def visible_nfc(expr: str) -> str:
    """Text in its comparable Unicode form: NFC, invisible characters removed. ASCII text (byte length =
    character length) is already in that form and skips the work."""
    return (f"CASE WHEN strlen({expr}) = length({expr}) THEN {expr} "
            f"ELSE nfc_normalize(translate({expr}, '{INVISIBLE}', '')) END")


def norm(expr: str, code: bool = False) -> str:
    """The comparable form of a value: '' and null are equal; NFC and NFD forms are equal and invisible
    characters do not count (:func:`visible_nfc`); Code fields compare upper-cased."""
    inner = visible_nfc(f"coalesce(CAST({expr} AS VARCHAR), '')")
    return f"upper({inner})" if code else inner


def condition_sql(alias: str, cond) -> tuple[str, list]:
    """SQL and parameters for one mapping filter condition (operators from a fixed set)."""
    c = col(alias, cond.column)
    text = f"coalesce(CAST({c} AS VARCHAR), '')"
    if cond.op == "=":
        return f"{text} = CAST(? AS VARCHAR)", [cond.value]
    if cond.op == "<>":
        return f"{text} <> CAST(? AS VARCHAR)", [cond.value]
    if cond.op in ("in", "not in"):
        marks = ", ".join("CAST(? AS VARCHAR)" for _ in cond.value) or "NULL"
        neg = "NOT " if cond.op == "not in" else ""
        return f"{text} {neg}IN ({marks})", list(cond.value)
    if cond.op == "is empty":
        return f"{text} = ''", []
    if cond.op == "is not empty":
        return f"{text} <> ''", []
    if cond.op == "references":
        return f"{c} IN (SELECT accountid FROM crm_account)", []
    raise ValueError(f"unknown operator {cond.op!r}")


def filter_sql(alias: str, conditions) -> tuple[str, list]:
    parts, params = [], []
    for cond in conditions:
        sql, p = condition_sql(alias, cond)
        parts.append(sql)
        params += p
    return (" AND ".join(f"({p})" for p in parts) or "true"), params
