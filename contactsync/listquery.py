"""A contact list's page in an order and with column filters the steward chose (a grid header's sort or
filter), over the whole filtered set: the search and the Coupled filter of :mod:`contactsync.search`,
then the column filters, ordered by the chosen columns and then the key, ``LIMIT``/``OFFSET``: one query.

A column is a column of the contact table or one of the list's derived columns (:data:`DERIVED`: the
coupled partner, ``coupled``, ``coupled_label``, CRM ``name`` and ``account_name``). An unknown column
raises :class:`~contactsync.errors.ContactSyncError` naming the known ones; identifiers go through
:func:`~contactsync.sqlbuild.q`, values are parameters.

Order: text case- and accent-insensitively (then exactly, for a stable order among "a" and "A"), blank text and NULL
last in either direction, then the key ascending. Filters compare the shown text (NULL as blank); ``contains``,
``startswith`` and ``endswith`` ignore case.

Builders return SQL and never touch a connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .errors import ContactSyncError, shorten
from .search import INDEXES, SearchIndex, _where
from .sqlbuild import q

__all__ = ["ColumnFilter", "DERIVED", "FilterOp", "SortKey", "columns_sql", "distinct_sql", "known_columns",
           "page_sql", "parse_filters", "parse_order"]


class FilterOp(StrEnum):
    """The header filters ipydatagrid's menu offers that translate to SQL (its operator names)."""
    IN = "in"
    CONTAINS = "contains"
    STRING_CONTAINS = "stringContains"
    NOT_CONTAINS = "!contains"
    EQUALS = "="
    NOT_EQUALS = "!="
    STARTS_WITH = "startswith"
    ENDS_WITH = "endswith"
    EMPTY = "empty"
    NOT_EMPTY = "notempty"


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class ColumnFilter:
    column: str
    op: FilterOp
    value: object = None


_COUPLED_COMPANY = f"EXISTS (SELECT 1 FROM coupling cc WHERE cc.entity = 'company' AND cc.nav_no = t.{q('No.')})"
_IS_COMPANY = f"t.{q('Type')} = 'Company'"
#: the list's columns that are not the contact table's: (SQL over index ``s`` and contact ``t``, type)
DERIVED: dict[str, dict[str, tuple[str, str]]] = {
    "nav": {
        "crm_id": ("s.partner", "VARCHAR"),
        # a company's Coupled is its coupling to a CRM account (as the NAV list shows it)
        "coupled": (f"CASE WHEN {_IS_COMPANY} THEN {_COUPLED_COMPANY} ELSE s.partner IS NOT NULL END",
                    "BOOLEAN"),
        "coupled_label": (f"CASE WHEN (CASE WHEN {_IS_COMPANY} THEN {_COUPLED_COMPANY} "
                          "ELSE s.partner IS NOT NULL END) THEN 'Yes' ELSE 'No' END", "VARCHAR"),
    },
    "crm": {
        "nav_no": ("s.partner", "VARCHAR"),
        "coupled": ("s.partner IS NOT NULL", "BOOLEAN"),
        "coupled_label": ("CASE WHEN s.partner IS NULL THEN 'No' ELSE 'Yes' END", "VARCHAR"),
        "account_name": ("s.account_name", "VARCHAR"),
        # as contactsync.ui.data.crm_name: first and last name, else the full name, else the id
        "name": ("coalesce(nullif(concat_ws(' ', nullif(t.firstname, ''), nullif(t.lastname, '')), ''), "
                 "nullif(t.fullname, ''), t.contactid)", "VARCHAR"),
    },
}


def columns_sql(ix: SearchIndex) -> tuple[str, list]:
    """The contact table's columns and types (to validate a request against)."""
    return ("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' ORDER BY ordinal_position", [ix.source])


def known_columns(ix: SearchIndex, table_columns: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Every column a list request may name: ``{name: (sql, type)}``."""
    out = {name: (f"t.{q(name)}", str(kind)) for name, kind in table_columns}
    out.update(DERIVED[ix.side])
    return out


def _expr(known: Mapping[str, tuple[str, str]], column: object, what: str) -> tuple[str, str]:
    if not isinstance(column, str) or column not in known:
        names = ", ".join(sorted(known))
        raise ContactSyncError(f"cannot {what} by column {shorten(column)}: the list has no such column; use one of "
                               f"{shorten(names, 300)}")
    return known[column]


def parse_order(order_by) -> list[SortKey]:
    """``order_by`` as given to ``Workspace.nav_contacts``: ``[(column, descending), ...]`` or ``SortKey``\\ s."""
    if order_by is None:
        return []
    if isinstance(order_by, (str, bytes)) or not isinstance(order_by, Sequence):
        raise ContactSyncError(f"order_by must be a list of (column, descending) pairs, got {shorten(order_by)}; "
                               "e.g. order_by=[('City', True)]")
    out = []
    for item in order_by:
        if isinstance(item, SortKey):
            out.append(item)
            continue
        if (not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2
                or not isinstance(item[1], bool)):
            raise ContactSyncError(f"order_by entry {shorten(item)} is not a (column, descending) pair; "
                                   "e.g. ('City', False) for A to Z")
        out.append(SortKey(item[0], item[1]))
    return out


def parse_filters(filters) -> list[ColumnFilter]:
    """``filters``: ``[(column, operator, value), ...]`` (operators of :class:`FilterOp`) or ``ColumnFilter``\\ s."""
    if filters is None:
        return []
    if isinstance(filters, (str, bytes)) or not isinstance(filters, Sequence):
        raise ContactSyncError(f"filters must be a list of (column, operator, value), got {shorten(filters)}; "
                               "e.g. filters=[('City', 'in', ['Berlin'])]")
    out = []
    for item in filters:
        if isinstance(item, ColumnFilter):
            out.append(item)
            continue
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise ContactSyncError(f"filter {shorten(item)} is not a (column, operator, value) triple")
        column, op, value = item
        try:
            op = FilterOp(op)
        except ValueError:
            raise ContactSyncError(f"filter operator {shorten(op)} is not one of "
                                   f"{', '.join(o.value for o in FilterOp)}") from None
        out.append(ColumnFilter(column, op, value))
    return out


def _shown(sql: str) -> str:
    return f"coalesce(CAST({sql} AS VARCHAR), '')"


def _filter_sql(known, f: ColumnFilter) -> tuple[str, list]:
    sql, _kind = _expr(known, f.column, "filter")
    shown = _shown(sql)
    op, v = f.op, f.value
    if op in (FilterOp.EMPTY, FilterOp.NOT_EMPTY):
        return (f"{shown} {'=' if op == FilterOp.EMPTY else '<>'} ''", [])
    if op == FilterOp.IN:
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
            raise ContactSyncError(f"filter 'in' on {f.column!r} needs a list of values, got {shorten(v)}")
        return f"list_contains(?::VARCHAR[], {shown})", [["" if x is None else str(x) for x in v]]
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise ContactSyncError(f"filter {op.value!r} on {f.column!r} needs a text value, got {shorten(v)}")
    v = str(v)
    if op == FilterOp.EQUALS:
        return f"{shown} = ?", [v]
    if op == FilterOp.NOT_EQUALS:
        return f"{shown} <> ?", [v]
    low = f"lower({shown})"
    if op in (FilterOp.CONTAINS, FilterOp.STRING_CONTAINS):
        return f"contains({low}, lower(?))", [v]
    if op == FilterOp.NOT_CONTAINS:
        return f"NOT contains({low}, lower(?))", [v]
    if op == FilterOp.STARTS_WITH:
        return f"starts_with({low}, lower(?))", [v]
    return f"ends_with({low}, lower(?))", [v]


def _base(ix: SearchIndex, known, *, search, coupled, filters: Sequence[ColumnFilter]) -> tuple[str, list]:
    """``FROM`` index ``s`` joined to the contacts ``t`` ``WHERE`` every filter holds, and its parameters."""
    where, terms = _where(search, coupled)
    conds, params = [where], list(terms)
    for f in filters:
        sql, p = _filter_sql(known, f)
        conds.append(sql)
        params += p
    return (f"FROM {q(ix.table)} s JOIN {q(ix.source)} t ON t.{q(ix.key)} = s.key WHERE {' AND '.join(conds)}",
            params)


def _order_terms(known, order: Sequence[SortKey]) -> list[tuple[str, str]]:
    """``(sql, 'ASC'|'DESC NULLS LAST'...)`` per sort term: text case-insensitively then exactly, blank last."""
    parts = []
    for k in order:
        sql, kind = _expr(known, k.column, "sort")
        d = ("DESC" if k.descending else "ASC") + " NULLS LAST"
        if kind.upper() == "VARCHAR":
            parts += [(f"lower(strip_accents(nullif({sql}, '')))", d), (f"nullif({sql}, '')", d)]
        else:
            parts.append((sql, d))
    return parts


def page_sql(side: str, table_columns: Sequence[tuple[str, str]], *, search: str | None, coupled: bool | None,
             order: Sequence[SortKey], filters: Sequence[ColumnFilter], limit: int | None, offset: int
             ) -> tuple[str, list]:
    """One query: the page's contact rows (``t.*``) with ``_partner``, the index's shown columns and ``_total``
    (the count of the whole filtered set), in the chosen order then the key. The filtered set is read once
    with only its sort values; the page's rows are then joined by key."""
    ix = INDEXES[side]
    known = known_columns(ix, table_columns)
    base, params = _base(ix, known, search=search, coupled=coupled, filters=filters)
    terms = _order_terms(known, order)
    cols = "".join(f", {sql} AS _o{i}" for i, (sql, _d) in enumerate(terms))
    by = ", ".join([*(f"_o{i} {d}" for i, (_s, d) in enumerate(terms)), "key ASC"])
    shown = "".join(f", s.{q(name)}" for name, _ in ix.shown)
    shown_p = "".join(f", p.{q(name)}" for name, _ in ix.shown)
    by_p = ", ".join([*(f"p._o{i} {d}" for i, (_s, d) in enumerate(terms)), "p.key ASC"])
    sql = (f"WITH m AS MATERIALIZED (SELECT s.key, s.partner{shown}{cols} {base}), "
           f"p AS (SELECT * FROM m ORDER BY {by} LIMIT ? OFFSET ?) "
           f"SELECT t.*, p.partner AS _partner{shown_p}, (SELECT count(*) FROM m) AS _total "
           f"FROM p JOIN {q(ix.source)} t ON t.{q(ix.key)} = p.key ORDER BY {by_p}")
    return sql, [*params, limit if limit is not None else 2**62, offset]


def distinct_sql(side: str, table_columns: Sequence[tuple[str, str]], column: str, *, search: str | None,
                 coupled: bool | None, filters: Sequence[ColumnFilter], limit: int = 500) -> tuple[str, list]:
    """The distinct shown values of ``column`` over the filtered set (the other columns' filters applied), at
    most ``limit``, in order: what a header's value filter offers."""
    ix = INDEXES[side]
    known = known_columns(ix, table_columns)
    sql, _kind = _expr(known, column, "filter")
    others = [f for f in filters if f.column != column]
    base, params = _base(ix, known, search=search, coupled=coupled, filters=others)
    return (f"SELECT DISTINCT {_shown(sql)} AS v {base} ORDER BY lower(v), v LIMIT ?", [*params, limit])


# -- executors (a connection inside the caller's transaction) -----------------------------------------
def _table_columns(con, side: str) -> list[tuple[str, str]]:
    return con.execute(*columns_sql(INDEXES[side])).fetchall()


def fetch_page(con, side: str, *, search: str | None, coupled: bool | None, order_by=None, filters=None,
               limit: int | None, offset: int):
    """A list page as ``Workspace.nav_contacts`` / ``crm_contacts`` return it (the contact's columns, the index's
    shown columns, ``coupled``, the partner column; ``attrs["total"]``), in the order and with the filters asked
    for. Bad requests raise before anything is read."""
    ix = INDEXES[side]
    order, flt = parse_order(order_by), parse_filters(filters)
    table = _table_columns(con, side)
    sql, params = page_sql(side, table, search=search, coupled=coupled, order=order, filters=flt,
                           limit=limit, offset=offset)
    df = con.execute(sql, params).df()
    if len(df):
        total = int(df["_total"].iloc[0])
    else:  # past the end (or nothing matches): the count alone
        base, p = _base(ix, known_columns(ix, table), search=search, coupled=coupled, filters=flt)
        total = int(con.execute(f"SELECT count(*) {base}", p).fetchone()[0])
    partner = df.pop("_partner").astype(object)
    df = df.drop(columns=["_total"])
    df["coupled"] = partner.notna().astype(bool)
    df[ix.partner] = partner.where(partner.notna(), None)
    df.attrs["total"] = total
    return df


def fetch_values(con, side: str, column: str, *, search: str | None, coupled: bool | None, filters=None,
                 limit: int = 500) -> list[str]:
    """The distinct shown values of ``column`` over the filtered set (see :func:`distinct_sql`)."""
    sql, params = distinct_sql(side, _table_columns(con, side), column, search=search, coupled=coupled,
                               filters=parse_filters(filters), limit=limit)
    return [r[0] for r in con.execute(sql, params).fetchall()]
