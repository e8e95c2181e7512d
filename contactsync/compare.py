"""Read-side services: the contact lists with their Coupled flag, compare and differences.

Each is one set-based query built here and executed by the caller's connection.
"""

from __future__ import annotations

from .mapping import TableMapping
from .sqlbuild import norm, q

CRM_SEARCH = ("firstname", "middlename", "lastname", "emailaddress1", "telephone1", "mobilephone")
NAV_SEARCH = ("No.", "Name", "First Name", "Surname", "E-Mail", "Phone No.", "Mobile Phone No.", "Company Name")


def _search_sql(alias: str, columns, extra: tuple[str, ...] = (), *, per_column: bool = False) -> str:
    parts = [f"coalesce(CAST({alias}.{q(c)} AS VARCHAR), '')" for c in columns] + list(extra)
    if per_column:  # same matches for a term without a space (it cannot span the ' ' separator); no concat
        return "(" + " OR ".join(f"contains(lower({p}), lower(?))" for p in parts) + ")"
    return f"contains(lower(concat_ws(' ', {', '.join(parts)})), lower(?))"


# the account name, searched before the join: accounts whose name matches (one parameter)
_ACCOUNT_MATCH = ("r.parentcustomerid IN (SELECT accountid FROM crm_account "
                  "WHERE contains(lower(coalesce(CAST(name AS VARCHAR), '')), lower(?)))")


def _per_column(search) -> bool:
    return isinstance(search, str) and " " not in search


def list_params(side: str, search, columns: set[str]) -> list:
    """The search parameters of :func:`list_sql` (the term, once per place it is matched)."""
    if not search:
        return []
    if not _per_column(search):
        return [search]
    cols = [c for c in (CRM_SEARCH if side == "crm" else NAV_SEARCH) if c in columns]
    return [search] * (len(cols) + (1 if side == "crm" else 0))


def list_sql(side: str, m: TableMapping, *, search: bool | str, coupled: bool | None, columns: set[str]) -> str:
    """The paged list query for ``side`` ('crm' or 'nav'); params: ``list_params(...)`` + [limit, offset].

    Two stages, so a page of a large table stays cheap: the matching rows' row ids and sort keys
    (search and Coupled filter), then the page's rows fetched by row id with their coupling (and account).
    A search term without a space is matched column by column (the same rows, without concatenating
    every row's text); the account name through the matching accounts."""
    crm = side == "crm"
    table, key, alias = (m.crm_table, m.crm_key, "r") if crm else (m.nav_table, m.nav_key, "n")
    cols = [c for c in (CRM_SEARCH if crm else NAV_SEARCH) if c in columns]
    conds = []
    if search and crm and _per_column(search):
        conds.append(f"({_search_sql('r', cols, per_column=True)[:-1]} OR {_ACCOUNT_MATCH}))")
    elif search and crm:
        conds.append(_search_sql("r", cols, ("coalesce((SELECT name FROM crm_account a WHERE a.accountid = "
                                             "r.parentcustomerid), '')",)))
    elif search:
        conds.append(_search_sql("n", cols, per_column=_per_column(search)))
    partner_col = "crm_id" if crm else "nav_no"
    if coupled is not None:
        conds.append(("" if coupled else "NOT ") + f"EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' "
                     f"AND c.{partner_col} = {alias}.{q(key)})")
    sort = [c for c in (("lastname", "firstname") if crm else ()) if c in columns] + [key]
    order = ", ".join(f"{q(c)} NULLS LAST" for c in sort)
    total = f"(SELECT count(*) FROM {q(table)})" if not conds else "(SELECT count(*) FROM hits)"
    hits = (f"SELECT {alias}.rowid AS _rid, {', '.join(f'{alias}.{q(c)}' for c in sort)} FROM {q(table)} {alias} "
            f"WHERE {' AND '.join(conds) or 'true'}")
    own, other = ("crm_id", "nav_no") if crm else ("nav_no", "crm_id")
    extra = (", (SELECT a.name FROM crm_account a WHERE a.accountid = x.parentcustomerid) AS account_name"
             if crm else "")
    return (f"WITH hits AS ({hits}), page AS (SELECT _rid FROM hits ORDER BY {order} LIMIT ? OFFSET ?), "
            f"x AS MATERIALIZED (SELECT * FROM {q(table)} WHERE rowid IN (SELECT _rid FROM page)), "
            # the page's couplings through a semi-join on the few keys (not a hash join over all couplings)
            f"c AS (SELECT {own}, {other} FROM coupling WHERE entity = 'contact' AND {own} IN "
            f"(SELECT {q(key)} FROM x)) "
            f"SELECT x.*{extra}, c.{other} IS NOT NULL AS coupled, c.{other} AS {other}, {total} AS _total "
            f"FROM x LEFT JOIN c ON c.{own} = x.{q(key)} "
            f"ORDER BY {', '.join(f'x.{q(c)} NULLS LAST' for c in sort)}")


def _pair_values(m: TableMapping, i: int, f) -> tuple[str, str, str, str]:
    """(nav value, crm value, nav comparable, crm comparable) expressions over aliases n, r, cr."""
    code = f.code or bool(f.lookup)
    nav_v = f"CAST(n.{q(f.nav)} AS VARCHAR)"
    crm_v = f"CAST(r.{q(f.crm)} AS VARCHAR)"
    nav_c = norm(nav_v, code)
    if f.lookup:
        crm_c = (f"upper(coalesce(cr.nav_no, CASE WHEN coalesce({crm_v}, '') = '' THEN '' "
                 f"ELSE '#' || {crm_v} END))")
    else:
        crm_c = norm(crm_v, code)
    return nav_v, crm_v, nav_c, crm_c


def _pairs_from(m: TableMapping) -> str:
    lk = m.lookup_field
    j = (f" LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.{q(lk.crm)}" if lk else "")
    return j


def compare_sql(m: TableMapping) -> tuple[str, list]:
    """One row per mapped field for one pair; params: [nav_no, crm_id] + field names."""
    exprs, parts, params = [], [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v, nav_c, crm_c = _pair_values(m, i, f)
        exprs.append(f"{nav_v} AS nv_{i}, {crm_v} AS cv_{i}, {nav_c} <> {crm_c} AS d_{i}")
        parts.append(f"SELECT {i} AS pos, ? AS nav_field, ? AS crm_field, ? AS direction, nv_{i} AS nav_value, "
                     f"cv_{i} AS crm_value, d_{i} AS differs FROM p")
        params += [f.nav, f.crm, f.direction]
    cr = _pairs_from(m) or " LEFT JOIN (SELECT NULL AS nav_no) cr ON true"
    sql = (f"WITH p AS (SELECT {', '.join(exprs)} FROM (SELECT 1) AS one "
           f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = ? "
           f"LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = ?{cr}) "
           f"SELECT nav_field, crm_field, direction, nav_value, crm_value, differs FROM ({' UNION ALL '.join(parts)}) "
           f"ORDER BY pos")
    return sql, params


def differences_sql(m: TableMapping, scoped: bool = False) -> tuple[str, list]:
    """All coupled pairs x differing fields, long format, one query."""
    parts, params = [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v, nav_c, crm_c = _pair_values(m, i, f)
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
        parts.append(f"CASE WHEN {nav_c} <> {crm_c} THEN {{'pos': {i}, 'nav_field': CAST(? AS VARCHAR), "
                     f"'crm_field': CAST(? AS VARCHAR), 'nav_value': {nav_v}, 'crm_value': {crm_v}, "
                     f"'state': {state}}} END")
        params += [f.nav, f.crm]
    scope = " AND nav_no IN (SELECT nav_no FROM _scope)" if scoped else ""
    # one pass over the pairs (not one join per field): the differing fields' structs, unnested
    sql = (f"WITH pairs AS (SELECT * FROM coupling WHERE entity = 'contact'{scope}) "
           f"SELECT nav_no, crm_id, u.nav_field, u.crm_field, u.nav_value, u.crm_value, true AS differs, u.state "
           f"FROM (SELECT c.nav_no, c.crm_id, unnest(list_filter([{', '.join(parts)}], lambda x: x IS NOT NULL)) AS u "
           f"FROM pairs c JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = c.nav_no "
           f"JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = c.crm_id{_pairs_from(m)}) ORDER BY nav_no, u.pos")
    return sql, params
