"""Read-side services: compare one pair and the differences of all pairs (the lists: ``search``).

Each is one set-based query built here and executed by the caller's connection.
"""

from __future__ import annotations

from . import valuemaps
from .mapping import TableMapping
from .sqlbuild import norm, q

__all__ = ["compare_sql", "differences_sql"]


def _pair_values(m: TableMapping, i: int, f) -> tuple[str, str, str | None, str | None]:
    """(nav value, crm value, nav comparable, crm comparable) expressions over aliases n, r, cr."""
    code = f.code or bool(f.lookup)
    nav_v = f"CAST(n.{q(f.nav)} AS VARCHAR)"
    crm_v = f"CAST(r.{q(f.crm)} AS VARCHAR)"
    nav_c: str | None = norm(nav_v, code)
    crm_c: str | None
    if f.lookup:
        crm_c = (f"upper(coalesce(cr.nav_no, CASE WHEN coalesce({crm_v}, '') = '' THEN '' "
                 f"ELSE '#' || {crm_v} END))")
    else:
        crm_c = norm(crm_v, code)
    if valuemaps.uses_params(f):  # compared as a sync compares them: through its transform rules / value map
        nav_c, crm_c = valuemaps.nav_comparable_sql(f, nav_v), valuemaps.crm_comparable_sql(f, crm_v)
    return nav_v, crm_v, nav_c, crm_c


def _pairs_from(m: TableMapping) -> str:
    lk = m.lookup_field
    j = (f" LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.{q(lk.crm)}" if lk else "")
    return j


def compare_sql(m: TableMapping) -> tuple[str, list]:
    """One row per mapped field for one pair; params: [nav_no, crm_id, the lookup's coupled NAV value]
    + field names. One row of the pair, unnested into a struct per field."""
    structs, params = [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v, nav_c, crm_c = _pair_values(m, i, f)
        structs.append(f"{{'pos': {i}, 'nav_field': CAST(? AS VARCHAR), 'crm_field': CAST(? AS VARCHAR), "
                       f"'direction': CAST(? AS VARCHAR), 'nav_value': {nav_v}, 'crm_value': {crm_v}, "
                       f"'differs': {nav_c} <> {crm_c}}}")
        params += [f.nav, f.crm, f.direction]
    # the CRM lookup's coupled NAV value (e.g. the account's company) is looked up by the caller
    sql = (f"SELECT u.nav_field, u.crm_field, u.direction, u.nav_value, u.crm_value, u.differs FROM ("
           f"SELECT unnest([{', '.join(structs)}]) AS u FROM (SELECT 1) AS one "
           f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = ? "
           f"LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = ? "
           f"LEFT JOIN (SELECT CAST(? AS VARCHAR) AS nav_no) cr ON true) ORDER BY u.pos")
    return sql, params


def differences_sql(m: TableMapping, scope: str | None = None) -> tuple[str, list]:
    """All coupled pairs x differing fields, long format, one query; ``scope``: only the NAV keys in this
    relation (a run pipeline scope's ``rel.scope``)."""
    parts, params, maybe = [], [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v, nav_c, crm_c = _pair_values(m, i, f)
        # a pair can differ only where the raw text differs ('' and null alike): a cheap test over every pair,
        # the comparable form and the struct only for the pairs it keeps (20k of 200k: 0.5 s instead of 1.9 s)
        raw_differs = f"coalesce({nav_v}, '') <> coalesce({crm_v}, '')"
        maybe.append(f"{nav_c} <> {crm_c}" if f.lookup or valuemaps.uses_params(f) else raw_differs)
        base = f"c.{q(f.base_column)}"
        # which side changed since the last sync: as the sync decides it (values, else modified-on)
        n_mod = f"n.{q(m.nav_modified)}" if m.nav_modified else "NULL"
        c_mod = f"r.{q(m.crm_modified)}" if m.crm_modified else "NULL"
        nav_chg = (f"CASE WHEN {base} IS NOT NULL THEN {nav_c} <> {base} ELSE (c.nav_synced_modified IS NULL "
                   f"OR {n_mod} IS NULL OR {n_mod} > c.nav_synced_modified) END")
        crm_chg = (f"CASE WHEN {base} IS NOT NULL THEN {crm_c} <> {base} ELSE (c.crm_synced_modified IS NULL "
                   f"OR {c_mod} IS NULL OR {c_mod} > c.crm_synced_modified) END")
        state = (f"CASE WHEN ({nav_chg}) AND ({crm_chg}) THEN 'both changed' WHEN {nav_chg} THEN 'NAV changed' "
                 f"WHEN {crm_chg} THEN 'CRM changed' ELSE 'differs' END")
        # equal raw text is equal (a lookup's raw values are keys of two systems): the comparable form,
        # costly on non-ASCII text, only where the raw values differ
        fast = "" if f.lookup or valuemaps.uses_params(f) else f"WHEN NOT ({raw_differs}) THEN NULL "
        parts.append(f"CASE {fast}WHEN {nav_c} <> {crm_c} THEN {{'pos': {i}, 'nav_field': CAST(? AS VARCHAR), "
                     f"'crm_field': CAST(? AS VARCHAR), 'nav_value': {nav_v}, 'crm_value': {crm_v}, "
                     f"'state': {state}}} END")
        params += [f.nav, f.crm]
    scope = f" AND nav_no IN (SELECT nav_no FROM {scope})" if scope else ""
    # one pass over the pairs (not one join per field): the differing fields' structs, unnested
    sql = (f"WITH pairs AS (SELECT * FROM coupling WHERE entity = 'contact'{scope}) "
           f"SELECT nav_no, crm_id, u.nav_field, u.crm_field, u.nav_value, u.crm_value, true AS differs, u.state "
           f"FROM (SELECT c.nav_no, c.crm_id, unnest(list_filter([{', '.join(parts)}], lambda x: x IS NOT NULL)) AS u "
           f"FROM pairs c JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = c.nav_no "
           f"JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = c.crm_id{_pairs_from(m)} "
           f"WHERE {' OR '.join(maybe) or 'false'}) ORDER BY nav_no, u.pos")
    return sql, params
