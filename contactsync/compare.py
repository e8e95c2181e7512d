"""Read-side services: compare one pair and the differences of all pairs (the lists: ``search``).

Each is one set-based query built here and executed by the caller's connection.
"""

from __future__ import annotations

from . import valuemaps
from .mapping import TableMapping
from .sqlbuild import norm, q

__all__ = ["compare_sql", "differences_full_sql", "differences_sql"]

EMPTY = "''"


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


def _derived(f) -> bool:
    """A field whose comparable form is not its raw text's (a lookup, a transform, a value map): equal raw
    text does not make it equal, nor different raw text different."""
    return bool(f.lookup) or valuemaps.uses_params(f)


def _side_values(m: TableMapping) -> tuple[list[tuple[str, str, str | None, str | None]], str, str]:
    """Per field (nav value, crm value, nav comparable, crm comparable) over aliases n, r, cr, and the joins
    (NAV side, CRM side) that give a transformed or value-mapped field its comparable form: computed once per
    distinct raw value (a value map's lookup per row cost 0.5 s at 200k), joined back on the raw value."""
    out, njoins, cjoins = [], [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v, nav_c, crm_c = _pair_values(m, i, f)
        if valuemaps.uses_params(f) and not f.lookup:
            # (``raw_value``, not ``v``: a value map's subquery has a column ``v`` of its own)
            njoins.append(f" LEFT JOIN (SELECT raw_value, {valuemaps.nav_comparable_sql(f, 'raw_value')} AS cmp "
                          f"FROM (SELECT DISTINCT CAST({q(f.nav)} AS VARCHAR) AS raw_value FROM {q(m.nav_table)})) "
                          f"nm{i} ON nm{i}.raw_value IS NOT DISTINCT FROM {nav_v}")
            cjoins.append(f" LEFT JOIN (SELECT raw_value, {valuemaps.crm_comparable_sql(f, 'raw_value')} AS cmp "
                          f"FROM (SELECT DISTINCT CAST({q(f.crm)} AS VARCHAR) AS raw_value FROM {q(m.crm_table)})) "
                          f"cm{i} ON cm{i}.raw_value IS NOT DISTINCT FROM {crm_v}")
            nav_c, crm_c = f"nm{i}.cmp", f"cm{i}.cmp"
        out.append((nav_v, crm_v, nav_c, crm_c))
    return out, "".join(njoins), "".join(cjoins)


def differences_sql(m: TableMapping, scope: str | None = None, label: str | None = None) -> tuple[str, list]:
    """All coupled pairs x differing fields, long format (``nav_no, crm_id, nav_field, crm_field, nav_value,
    crm_value, differs, state``, ordered by ``nav_no`` and field), one query; ``scope``: only the NAV keys in
    this relation (a run pipeline scope's ``rel.scope``); ``label``: a NAV column read for the differing pairs
    only, as ``name`` (the view's labels, in the same query).

    Two steps in the one statement, so the cost of the wide part grows with the differing pairs, not the table:

    1. ``x``, narrow, over every pair: each side's row reduced to its key, one hash of the raw text of its
       plain fields ('' and null alike) and the comparable form of its derived fields (lookups, transforms,
       value maps); a pair is a candidate when the hashes or a derived field differ. Equal raw text is
       equal, so a pair whose hashes agree has no plain field that differs (barring a 64-bit hash
       collision, the same trust the sync's fingerprints place in ``hash``).
    2. ``w``: the candidates' values, last-synced values and modified-ons (20k of 200k), then one branch per
       field keeping the pairs where the field's comparable forms differ, with its state (which side changed
       since the last sync, as the sync decides it: values, else modified-on).

    Same rows as :func:`differences_full_sql` (the equivalence property in tests/test_lists_compare.py)."""
    vals, njoins, cjoins = _side_values(m)
    plain = [i for i, f in enumerate(m.fields) if not _derived(f)]
    derived = [i for i, f in enumerate(m.fields) if _derived(f)]
    nsel = [f"hash({', '.join(f'coalesce({vals[i][0]}, {EMPTY})' for i in plain)}) AS h" if plain else "0 AS h"]
    csel = [f"hash({', '.join(f'coalesce({vals[i][1]}, {EMPTY})' for i in plain)}) AS h" if plain else "0 AS h"]
    nsel += [f"{vals[i][2]} AS d{i}" for i in derived]
    csel += [f"{vals[i][3]} AS d{i}" for i in derived]
    differ = " OR ".join(["nn.h <> rr.h", *(f"nn.d{i} <> rr.d{i}" for i in derived)])
    in_scope = f" AND c.nav_no IN (SELECT nav_no FROM {scope})" if scope else ""
    # a scoped call reads and hashes only its pairs' records (a card's one pair at 200k: not 400k rows hashed)
    nav_rows = f" WHERE n.{q(m.nav_key)} IN (SELECT nav_no FROM {scope})" if scope else ""
    crm_rows = (f" WHERE r.{q(m.crm_key)} IN (SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no IN "
                f"(SELECT nav_no FROM {scope}))" if scope else "")
    cand = (f"SELECT c.nav_no, c.crm_id{''.join(f', nn.d{i} AS nd{i}, rr.d{i} AS cd{i}' for i in derived)}\n"
            f"  FROM coupling c\n"
            f"  JOIN (SELECT n.{q(m.nav_key)} AS k, {', '.join(nsel)} FROM {q(m.nav_table)} n{njoins}{nav_rows}) nn "
            f"ON nn.k = c.nav_no\n"
            f"  JOIN (SELECT r.{q(m.crm_key)} AS k, {', '.join(csel)} FROM {q(m.crm_table)} r{_pairs_from(m)}{cjoins}"
            f"{crm_rows}) rr ON rr.k = c.crm_id\n"
            f"  WHERE c.entity = 'contact'{in_scope} AND ({differ})")
    n_mod = f"n.{q(m.nav_modified)}" if m.nav_modified else "NULL::TIMESTAMP"
    c_mod = f"r.{q(m.crm_modified)}" if m.crm_modified else "NULL::TIMESTAMP"
    cols = ["x.nav_no", "x.crm_id", f"{n_mod} AS n_mod", f"{c_mod} AS c_mod", "c.nav_synced_modified AS n_synced",
            "c.crm_synced_modified AS c_synced", f"{f'n.{q(label)}' if label else 'NULL'} AS label"]
    branches, params = [], []
    for i, f in enumerate(m.fields):
        nav_v, crm_v = vals[i][0], vals[i][1]
        cols += [f"{nav_v} AS nv{i}", f"{crm_v} AS cv{i}", f"c.{q(f.base_column)} AS b{i}"]
        if _derived(f):
            cols += [f"x.nd{i} AS nc{i}", f"x.cd{i} AS cc{i}"]
            nav_c, crm_c, keep = f"w.nc{i}", f"w.cc{i}", f"w.nc{i} <> w.cc{i}"
        else:
            code = bool(f.code)
            nav_c, crm_c = norm(f"w.nv{i}", code), norm(f"w.cv{i}", code)
            # equal raw text is equal: the comparable form, costly on non-ASCII text, only where it differs
            keep = f"coalesce(w.nv{i}, '') <> coalesce(w.cv{i}, '') AND {nav_c} <> {crm_c}"
        base = f"w.b{i}"
        nav_chg = (f"CASE WHEN {base} IS NOT NULL THEN {nav_c} <> {base} ELSE (w.n_synced IS NULL "
                   f"OR w.n_mod IS NULL OR w.n_mod > w.n_synced) END")
        crm_chg = (f"CASE WHEN {base} IS NOT NULL THEN {crm_c} <> {base} ELSE (w.c_synced IS NULL "
                   f"OR w.c_mod IS NULL OR w.c_mod > w.c_synced) END")
        state = (f"CASE WHEN ({nav_chg}) AND ({crm_chg}) THEN 'both changed' WHEN {nav_chg} THEN 'NAV changed' "
                 f"WHEN {crm_chg} THEN 'CRM changed' ELSE 'differs' END")
        branches.append(f"SELECT w.nav_no, w.crm_id, {i} AS pos, CAST(? AS VARCHAR) AS nav_field, "
                        f"CAST(? AS VARCHAR) AS crm_field, w.nv{i} AS nav_value, w.cv{i} AS crm_value, "
                        f"{state} AS state, w.label FROM w WHERE {keep}")
        params += [f.nav, f.crm]
    if not branches:
        return ("SELECT NULL::VARCHAR AS nav_no, NULL::VARCHAR AS crm_id, NULL::VARCHAR AS nav_field, "
                "NULL::VARCHAR AS crm_field, NULL::VARCHAR AS nav_value, NULL::VARCHAR AS crm_value, "
                f"true AS differs, NULL::VARCHAR AS state{', NULL::VARCHAR AS name' if label else ''} WHERE false"), []
    sql = (f"WITH x AS MATERIALIZED (\n{cand}),\n"
           f"w AS MATERIALIZED (\n  SELECT {', '.join(cols)}\n  FROM x\n"
           f"  JOIN coupling c ON c.entity = 'contact' AND c.nav_no = x.nav_no\n"
           f"  JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = x.nav_no\n"
           f"  JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = x.crm_id)\n"
           f"SELECT nav_no, crm_id, nav_field, crm_field, nav_value, crm_value, true AS differs, state"
           f"{', CAST(label AS VARCHAR) AS name' if label else ''} FROM (\n"
           + "\nUNION ALL\n".join(branches) + "\n) ORDER BY nav_no, pos")
    return sql, params


def differences_full_sql(m: TableMapping, scope: str | None = None) -> tuple[str, list]:
    """The reference for :func:`differences_sql` (same rows, same order): every pair's every field compared in
    one pass, with no narrowing first (4.2 s at 200k pairs under load where :func:`differences_sql` takes 1.6 s).
    Kept for the equivalence property (tests/test_lists_compare.py)."""
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
