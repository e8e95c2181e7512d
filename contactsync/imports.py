"""Set-based upsert of NAV contacts, CRM contacts and CRM accounts from any source.

Pipeline: load the source as all-VARCHAR (``sources``), stage it with row numbers and
normalized keys, collect every bad row in one query, then update and insert in one statement
each, logging field changes for undo. All inside the caller's transaction.

Timestamps are UTC: text with an offset or zone is converted, naive text is taken as UTC (see
:mod:`contactsync.sources`). Two file columns onto one field (the Web API's ``_parentcustomerid_value``
beside ``parentcustomerid``) are resolved per row: the non-empty value wins, and a row where both are
non-empty and differ is rejected naming both. A snapshot's rejected rows still count as present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import history
from .errors import ImportFileError
from .schema import RECORD_TABLES
from .sources import LoadedSource, describe, load_source, time_has_zone_sql, utc_time_sql, utc_timestamp_sql
from .sqlbuild import q

__all__ = ["CONFLICT", "ImportResult", "import_records"]

# Dataverse Web API names of lookups -> attribute names
_ALIASES = {"_parentcustomerid_value": "parentcustomerid"}
#: the reason of a row whose two columns for one field (the lookup form and the name) disagree
CONFLICT = "conflicting values"


@dataclass(frozen=True)
class ImportResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    missing: int = 0
    run_id: int | None = None
    source: str = ""
    ignored_columns: tuple[str, ...] = ()
    rejections: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def __str__(self) -> str:
        text = (f"{self.source}: {self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.rejected} rejected")
        if self.missing:
            text += f", {self.missing} coupled records missing from the snapshot (flagged)"
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return text


def _key_expr(table: str, expr: str) -> str:
    if table == "nav_contact":
        return f"nullif(upper(trim({expr})), '')"
    return f"nullif(lower(trim(trim({expr}), '{{}}')), '')"


def _value_expr(table: str, col: str, dtype: str, expr: str, code_cols: set[str]) -> str:
    """Typed, normalized value of a staged VARCHAR column (NULL where it does not parse)."""
    if dtype == "TIMESTAMP":
        return utc_timestamp_sql(expr)
    if dtype == "TIME":
        return utc_time_sql(expr)
    if dtype == "DATE":
        return f"TRY_CAST(nullif(trim({expr}), '') AS DATE)"
    if col == "statecode":
        return (f"CASE lower(trim(coalesce({expr}, '0'))) WHEN '' THEN 0 WHEN '0' THEN 0 WHEN 'active' THEN 0 "
                f"WHEN '1' THEN 1 WHEN 'inactive' THEN 1 END")
    if table == "nav_contact":
        if col == "Type":
            return f"CASE lower(trim({expr})) WHEN 'person' THEN 'Person' WHEN 'company' THEN 'Company' END"
        if col in code_cols:
            return f"upper(coalesce({expr}, ''))"
        return f"coalesce({expr}, '')"
    if col == "parentcustomerid":
        return _key_expr("crm_contact", expr)
    return f"nullif({expr}, '')"


def _instant_sql(raw) -> str:
    """SQL: NAV's Last Date Modified + Last Time Modified as one UTC instant (a time with an offset is
    converted with its date; one without is taken as UTC; no time is midnight)."""
    date, time = raw("Last Date Modified"), raw("Last Time Modified")
    both = f"trim({date}) || ' ' || trim({time})"
    return (f"CASE WHEN {time_has_zone_sql(time)} THEN {utc_timestamp_sql(both)} "
            f"ELSE TRY_CAST(nullif(trim({date}), '') AS DATE) + coalesce({utc_time_sql(time)}, TIME '00:00') END")


def import_records(con, table: str, src, *, code_cols: set[str], snapshot: bool = False,
                   on_error: str = "raise", add_columns: bool = False) -> ImportResult:
    if on_error not in ("raise", "skip"):
        raise ImportFileError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    key, _, required, _ = RECORD_TABLES[table]
    name = describe(src)
    loaded = load_source(con, src, key)
    file_cols = list(loaded.columns)
    table_cols = history.table_columns(con, table)
    lower_map = {c.lower(): c for c in table_cols}
    # every file column onto its table column; several may land on one (the Web API's
    # _parentcustomerid_value beside parentcustomerid, or two spellings of a name): resolved per row below
    sources_of: dict[str, list[str]] = {}
    ignored = []
    for c in file_cols:
        t = _ALIASES.get(c.lower(), c)
        tcol = t if t in table_cols else lower_map.get(t.lower())
        if tcol is None:
            if add_columns:
                con.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(t)} VARCHAR")
                table_cols[t] = "VARCHAR"
                lower_map[t.lower()] = tcol = t
            else:
                ignored.append(c)
                continue
        sources_of.setdefault(tcol, []).append(c)
    present = set(sources_of)
    missing_req = [r for r in required if r not in present]
    if missing_req:
        raise ImportFileError(
            f"{name} lacks required column(s) {missing_req} for {table}; its columns are {file_cols[:30]}. "
            f"Export with these columns (names as {'NAV' if table == 'nav_contact' else 'Dataverse'} names them).",
            source=name, columns=missing_req,
        )
    derive_ts = table == "nav_contact" and "SystemModifiedAt" not in present and "Last Date Modified" in present

    # typed values with row numbers (1 = first data row), in one pass over the source; the raw text is
    # kept beside them only for the columns the checks below quote
    checked = [t for t in sources_of if t != key and (table_cols[t] in ("TIMESTAMP", "DATE", "TIME")
                                                      or t in ("statecode", "Type"))]
    raw_kept = [key, *checked]
    multi = {t: cs for t, cs in sources_of.items() if len(cs) > 1}

    def filled(c: str) -> str:
        return f"nullif(trim({q(c)}), '') IS NOT NULL"

    def raw(t: str) -> str:
        """The source text of ``t``: its column's, or of several the first non-empty one (a blank never
        wins over a value)."""
        cs = sources_of[t]
        if len(cs) == 1:
            return q(cs[0])
        return ("CASE " + " ".join(f"WHEN {filled(c)} THEN {q(c)}" for c in cs)
                + f" ELSE coalesce({', '.join(q(c) for c in cs)}) END")

    def value(t: str, text: str) -> str:
        if t == key:
            return _key_expr(table, text)
        if t in ("Last Date Modified", "Last Time Modified") and {"Last Date Modified", "Last Time Modified"} <= present:
            # a time with an offset and its date name one instant: both are stored as its UTC date and time
            zoned = f"{time_has_zone_sql(raw('Last Time Modified'))} AND nullif(trim({raw('Last Date Modified')}), '') IS NOT NULL"
            plain = _value_expr(table, t, table_cols[t], text, code_cols)
            return f"CASE WHEN {zoned} THEN CAST({_instant_sql(raw)} AS {table_cols[t]}) ELSE {plain} END"
        return _value_expr(table, t, table_cols[t], text, code_cols)

    # rows keep the source's order (DuckDB preserves insertion order): a row's number is its rank by rowid,
    # computed only for the rows a check names
    typed = [f"{value(t, raw(t))} AS {q(t)}" for t in sources_of]
    if derive_ts:
        if "Last Time Modified" in present:
            typed.append(f"{_instant_sql(raw)} AS \"SystemModifiedAt\"")
        else:
            typed.append(f"TRY_CAST(nullif(trim({raw('Last Date Modified')}), '') AS DATE) + TIME '00:00' "
                         "AS \"SystemModifiedAt\"")
    typed += [f"{raw(t)} AS {q('raw:' + t)}" for t in raw_kept]
    for t, cs in multi.items():
        # a row whose columns for one field hold different non-empty values is rejected, naming them
        chosen = value(t, raw(t))
        typed.append(" OR ".join(f"({filled(c)} AND {value(t, q(c))} IS DISTINCT FROM {chosen})" for c in cs)
                     + f" AS {q('raw:conflict:' + t)}")
        typed.append(f"concat_ws(' | ', {', '.join(q(c) for c in cs)}) AS {q('raw:both:' + t)}")
    typed_sql = f"SELECT {', '.join(typed)} FROM {loaded.relation}"

    # the row checks besides the keys': (column named, value quoted, reason, condition of a bad row)
    row_checks: list[tuple[str, str, str, str]] = []
    for t in checked:
        what = {"TIMESTAMP": "unparseable timestamp", "DATE": "unparseable date", "TIME": "unparseable time"}
        reason = what.get(table_cols[t], "invalid value")
        blank_ok = "" if t == "Type" else f" AND trim({q('raw:' + t)}) <> ''"
        cond = f"{q(t)} IS NULL" + ("" if t == "Type" else f" AND ({q('raw:' + t)} IS NOT NULL{blank_ok})")
        row_checks.append((t, q("raw:" + t), reason, cond))
    for t, cs in multi.items():
        row_checks.append((f"{' and '.join(repr(c) for c in cs)} (both for {t!r})", q("raw:both:" + t), CONFLICT,
                           q("raw:conflict:" + t)))

    def checks_sql(rel: str) -> tuple[str, list]:
        """Every bad row of ``rel`` (by rowid), in one query."""
        checks = [
            f"SELECT rowid AS _rid, ? AS col, {q('raw:' + key)} AS value, 'empty key' AS reason FROM {rel} "
            f"WHERE {q(key)} IS NULL",
            f"SELECT rowid, ? , {q(key)}, 'duplicate key' FROM {rel} WHERE {q(key)} IN "
            f"(SELECT {q(key)} FROM {rel} WHERE {q(key)} IS NOT NULL GROUP BY 1 HAVING count(*) > 1)",
        ]
        params: list = [key, key]
        for col, value_sql, reason, cond in row_checks:
            checks.append(f"SELECT rowid, ?, {value_sql}, ? FROM {rel} WHERE {cond}")
            params += [col, reason]
        return " UNION ALL ".join(checks), params

    # into an empty table (an onboarding), a clean source is checked and inserted straight from a view of its
    # typed values: every row is new, nothing is staged. Otherwise (or once a check fails) the typed rows are
    # staged once for the checks, the classification, the change log and the writes.
    streamed = not snapshot and con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {q(table)} LIMIT 1)").fetchone()[0] == 0
    if streamed:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _typed_v AS {typed_sql}")
        # one scan: no empty key, no key twice, no bad value
        bad_any = " OR ".join([f"{q(key)} IS NULL", *(f"({cond})" for *_, cond in row_checks)])
        streamed = con.execute(f"SELECT count(*) FILTER (WHERE {bad_any}) = 0 AND count({q(key)}) = "
                               f"count(DISTINCT {q(key)}) FROM _typed_v").fetchone()[0]
        if not streamed:
            con.execute("DROP VIEW _typed_v")
    if streamed:
        return _insert_streamed(con, table, key, table_cols, name, tuple(ignored), loaded)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {typed_sql}")
    sql, params = checks_sql("_typed")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _bad AS {sql}", params)
    n_bad_rows = con.execute("SELECT count(DISTINCT _rid) FROM _bad").fetchone()[0]
    rejections = pd.DataFrame(columns=["row", "column", "value", "reason"])
    if n_bad_rows:
        con.execute("CREATE OR REPLACE TEMP TABLE _bad AS SELECT n._row, b.* FROM _bad b JOIN (SELECT rowid AS _rid, "
                    "row_number() OVER (ORDER BY rowid) AS _row FROM _typed) n USING (_rid)")
        summary = con.execute(
            "SELECT reason, col, count(*) AS n, list(_row ORDER BY _row)[:5] AS rows, "
            "list(DISTINCT left(coalesce(value, ''), CASE reason WHEN ? THEN 100 ELSE 40 END))[:3] AS vals "
            "FROM _bad GROUP BY ALL ORDER BY n DESC", [CONFLICT]
        ).fetchall()
        if on_error == "raise":
            parts = []
            for reason, col, n, rows, vals in summary:
                rows_txt = ", ".join(str(r) for r in rows) + (" …" if n > 5 else "")
                vals_txt = f" (values {vals})" if reason != "empty key" else ""
                where = f"in columns {col}" if reason == CONFLICT else f"in column {col!r}"
                parts.append(f"{n} row(s) with {reason} {where}{vals_txt} at data row(s) {rows_txt}")
            raise ImportFileError(
                f"{name} was not imported: " + "; ".join(parts)
                + ". Fix the file, or import with on_error='skip' to leave these rows out. Nothing was changed.",
                source=name, problems=summary,
            )
        rejections = con.execute(
            "SELECT _row AS row, col AS column, value, reason FROM _bad ORDER BY _row").df()
    if snapshot:
        # the records the snapshot holds, rejected rows included: a rejected row is not a deleted record
        con.execute(f"CREATE OR REPLACE TEMP TABLE _present AS SELECT DISTINCT {q(key)} AS k FROM _typed "
                    f"WHERE {q(key)} IS NOT NULL")
    if n_bad_rows:
        con.execute("DELETE FROM _typed WHERE rowid IN (SELECT _rid FROM _bad)")

    cols = [c for c in con.execute("SELECT * FROM _typed LIMIT 0").df().columns
            if not c.startswith("raw:")]
    data_cols = [c for c in cols if c != key]
    # classify
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _class AS
            SELECT s.{q(key)} AS k, t.{q(key)} IS NULL AS is_new,
                   {('(' + ' OR '.join(f's.{q(c)} IS DISTINCT FROM t.{q(c)}' for c in data_cols) + ')') if data_cols else 'false'} AS is_changed
            FROM _typed s LEFT JOIN {q(table)} t ON t.{q(key)} = s.{q(key)}"""
    )
    inserted, updated, unchanged = con.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new AND is_changed),"
        " count(*) FILTER (WHERE NOT is_new AND NOT is_changed) FROM _class").fetchone()
    n_rows = inserted + updated + unchanged

    run_id = history.start_run(con, "import", note=f"{table} from {name}")
    side = history.TABLE_SIDE[table]
    if updated and data_cols:
        # one join over the changed records, one struct per column (not one join per column)
        fields = ", ".join(
            f"{{'f': ?, 'o': CAST(t.{q(c)} AS VARCHAR), 'n': CAST(s.{q(c)} AS VARCHAR), "
            f"'d': s.{q(c)} IS DISTINCT FROM t.{q(c)}}}" for c in data_cols)
        con.execute(
            f"INSERT INTO change_log SELECT ?, ?, k, u.f, u.o, u.n, 'update' FROM ("
            f"SELECT s.{q(key)} AS k, unnest([{fields}]) AS u FROM _typed s JOIN _class c ON c.k = s.{q(key)} "
            f"AND c.is_changed AND NOT c.is_new JOIN {q(table)} t ON t.{q(key)} = s.{q(key)}) WHERE u.d",
            [run_id, side, *data_cols])
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in data_cols)
        con.execute(
            f"UPDATE {q(table)} AS t SET {sets} FROM _typed s JOIN _class k ON k.k = s.{q(key)} "
            f"WHERE t.{q(key)} = s.{q(key)} AND k.is_changed AND NOT k.is_new")
    if inserted:
        # every row new (a first import): no join to pick them
        new = "" if inserted == n_rows else f" JOIN _class k ON k.k = s.{q(key)} WHERE k.is_new"
        con.execute(
            f"INSERT INTO {q(table)} ({', '.join(q(c) for c in table_cols)}) SELECT {_fill(table, table_cols, cols)} "
            f"FROM _typed s{new}")
        con.execute(
            "INSERT INTO change_log SELECT ?, ?, k, NULL, NULL, NULL, 'insert' FROM _class WHERE is_new",
            [run_id, side])
    missing = 0
    if snapshot and table in ("nav_contact", "crm_contact", "crm_account"):
        entity = "company" if table == "crm_account" else None
        flag = "nav_missing" if table == "nav_contact" else "crm_missing"
        keycol = "nav_no" if table == "nav_contact" else "crm_id"
        ent_cond = "c.entity = 'company'" if entity else ("c.entity = 'contact'" if table == "crm_contact" else "true")
        cond = (f"{ent_cond} AND (c.{flag} IS DISTINCT FROM "
                f"(c.{keycol} NOT IN (SELECT k FROM _present)))")
        history.log_before(con, run_id, cond)
        missing = con.execute(
            f"SELECT count(*) FROM coupling c WHERE {ent_cond} AND c.{keycol} NOT IN (SELECT k FROM _present)"
        ).fetchone()[0]
        con.execute(f"UPDATE coupling c SET {flag} = (c.{keycol} NOT IN (SELECT k FROM _present)) WHERE {cond}")
    history.add_counts(con, run_id, inserted=inserted, modified=updated, unchanged=unchanged,
                       failed=int(n_bad_rows))
    history.finish_run(con, run_id)
    _drop_staging(con, loaded)
    return ImportResult(inserted=inserted, updated=updated, unchanged=unchanged, rejected=int(n_bad_rows),
                        missing=missing, run_id=run_id, source=name, ignored_columns=tuple(ignored),
                        rejections=rejections)


def _fill(table: str, table_cols: dict[str, str], cols: list[str]) -> str:
    """The values of a new row, per table column: the staged one, else NAV text '' (never null), statecode 0,
    or NULL."""
    fill = []
    for c, dtype in table_cols.items():
        if c in cols:
            fill.append(f"s.{q(c)}")
        elif table == "nav_contact" and dtype == "VARCHAR":
            fill.append("''")
        elif c == "statecode":
            fill.append("0")
        else:
            fill.append("NULL")
    return ", ".join(fill)


def _drop_staging(con, loaded: LoadedSource) -> None:
    for t in ("_typed", "_bad", "_class", "_present"):
        con.execute(f"DROP TABLE IF EXISTS {q(t)}")
    con.execute("DROP VIEW IF EXISTS _typed_v")
    loaded.drop(con)


def _insert_streamed(con, table: str, key: str, table_cols: dict[str, str], name: str,
                     ignored: tuple[str, ...], loaded: LoadedSource) -> ImportResult:
    """Insert every row of the checked view ``_typed_v`` into the empty ``table``, as one run (its change log:
    one 'insert' row per record, which undo deletes)."""
    cols = [c for c in con.execute("SELECT * FROM _typed_v LIMIT 0").df().columns if not c.startswith("raw:")]
    run_id = history.start_run(con, "import", note=f"{table} from {name}")
    inserted = con.execute(
        f"INSERT INTO {q(table)} ({', '.join(q(c) for c in table_cols)}) SELECT {_fill(table, table_cols, cols)} "
        "FROM _typed_v s").fetchone()[0]
    con.execute(f"INSERT INTO change_log SELECT ?, ?, {q(key)}, NULL, NULL, NULL, 'insert' FROM {q(table)}",
                [run_id, history.TABLE_SIDE[table]])
    history.add_counts(con, run_id, inserted=inserted)
    history.finish_run(con, run_id)
    _drop_staging(con, loaded)
    return ImportResult(inserted=inserted, run_id=run_id, source=name, ignored_columns=ignored,
                        rejections=pd.DataFrame(columns=["row", "column", "value", "reason"]))
