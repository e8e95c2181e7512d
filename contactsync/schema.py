"""The workspace schema: tables, their column types, the DDL that creates them, and :func:`ensure`, which
creates or upgrades a workspace (called by ``Workspace.open``)."""

from __future__ import annotations

import functools
import hashlib

from . import search
from .mapping import TableMapping
from .sqlbuild import q

__all__ = ["COUPLING_COLUMNS", "FINGERPRINT_COLUMNS", "CRM_ACCOUNT_COLUMNS", "CRM_CONTACT_COLUMNS", "NAV_CONTACT_COLUMNS", "RECORD_TABLES",
           "SCHEMA_VERSION", "UNIQUE_KEYS", "CATALOG_SQL", "all_columns", "catalog_digest", "check_unique_keys", "duplicate_keys_sql", "ensure", "mapping_ddl", "pipeline_ddl",
           "schema_ddl", "unique_keys_ddl", "upgrade_ddl", "views_ddl"]

# 2: the contact lists' search index (contactsync.search); 3: its text skips blank fields, one sort-key
# column; 4: coupling after-images as key + fingerprint (coupling_log.row_md5); 5: unique keys enforced by
# the database (unique indexes on every record table's key, on each side of a coupling, on run ids)
SCHEMA_VERSION = 6

NAV_CONTACT_COLUMNS: dict[str, str] = {
    "No.": "VARCHAR", "Type": "VARCHAR", "Company No.": "VARCHAR", "Company Name": "VARCHAR",
    "Name": "VARCHAR", "First Name": "VARCHAR", "Middle Name": "VARCHAR", "Surname": "VARCHAR",
    "Job Title": "VARCHAR", "Address": "VARCHAR", "Address 2": "VARCHAR", "Post Code": "VARCHAR",
    "City": "VARCHAR", "County": "VARCHAR", "Country/Region Code": "VARCHAR", "E-Mail": "VARCHAR",
    "Phone No.": "VARCHAR", "Mobile Phone No.": "VARCHAR", "Fax No.": "VARCHAR", "Home Page": "VARCHAR",
    "SystemModifiedAt": "TIMESTAMP", "Last Date Modified": "DATE", "Last Time Modified": "TIME",
}
CRM_CONTACT_COLUMNS: dict[str, str] = {
    "contactid": "VARCHAR", "firstname": "VARCHAR", "middlename": "VARCHAR", "lastname": "VARCHAR",
    "fullname": "VARCHAR", "jobtitle": "VARCHAR", "address1_line1": "VARCHAR", "address1_line2": "VARCHAR",
    "address1_postalcode": "VARCHAR", "address1_city": "VARCHAR", "address1_stateorprovince": "VARCHAR",
    "address1_country": "VARCHAR", "emailaddress1": "VARCHAR", "telephone1": "VARCHAR",
    "mobilephone": "VARCHAR", "fax": "VARCHAR", "websiteurl": "VARCHAR", "parentcustomerid": "VARCHAR",
    "modifiedon": "TIMESTAMP", "statecode": "INTEGER",
}
CRM_ACCOUNT_COLUMNS: dict[str, str] = {
    "accountid": "VARCHAR", "name": "VARCHAR", "accountnumber": "VARCHAR", "telephone1": "VARCHAR",
    "websiteurl": "VARCHAR", "address1_city": "VARCHAR", "address1_country": "VARCHAR",
    "modifiedon": "TIMESTAMP", "statecode": "INTEGER",
}

#: The record tables: name -> (key column, columns, required columns for an import, side)
RECORD_TABLES = {
    "nav_contact": ("No.", NAV_CONTACT_COLUMNS, ("No.", "Type"), "nav"),
    "crm_contact": ("contactid", CRM_CONTACT_COLUMNS, ("contactid",), "crm"),
    "crm_account": ("accountid", CRM_ACCOUNT_COLUMNS, ("accountid",), "crm"),
}

COUPLING_COLUMNS: dict[str, str] = {
    "entity": "VARCHAR NOT NULL", "nav_no": "VARCHAR NOT NULL", "crm_id": "VARCHAR NOT NULL",
    "coupled_at": "TIMESTAMP", "nav_synced_modified": "TIMESTAMP", "crm_synced_modified": "TIMESTAMP",
    "last_synced_at": "TIMESTAMP", "last_result_nav": "VARCHAR", "last_result_crm": "VARCHAR",
    "skipped": "BOOLEAN DEFAULT false", "nav_missing": "BOOLEAN DEFAULT false",
    "crm_missing": "BOOLEAN DEFAULT false",
}


#: Keys the database enforces: index name -> (table, key columns). A second row with one of these keys is
#: refused by DuckDB itself (a ConstraintException), whatever code path tries to write it.
UNIQUE_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "nav_contact_key": ("nav_contact", ("No.",)),
    "crm_contact_key": ("crm_contact", ("contactid",)),
    "crm_account_key": ("crm_account", ("accountid",)),
    "coupling_nav_key": ("coupling", ("entity", "nav_no")),
    "coupling_crm_key": ("coupling", ("entity", "crm_id")),
    "run_key": ("run", ("run_id",)),
}


def unique_keys_ddl() -> list[str]:
    return [f"CREATE UNIQUE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({', '.join(q(c) for c in cols)})"
            for name, (table, cols) in UNIQUE_KEYS.items()]


def duplicate_keys_sql(table: str, cols: tuple[str, ...]) -> str:
    """The first duplicated keys of ``table`` (to name them when an old workspace cannot get its index)."""
    key_sql = " || ' / ' || ".join(f"CAST({q(c)} AS VARCHAR)" for c in cols)
    return (f"SELECT {key_sql} AS k, count(*) AS n FROM {q(table)} GROUP BY ALL HAVING count(*) > 1 "
            "ORDER BY 1 LIMIT 10")


def _create_table(name: str, columns: dict[str, str]) -> str:
    cols = ", ".join(f"{q(c)} {t}" for c, t in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {q(name)} ({cols})"


def schema_ddl() -> list[str]:
    """DDL for a new workspace (idempotent)."""
    stmts = [
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        _create_table("nav_contact", NAV_CONTACT_COLUMNS),
        _create_table("crm_contact", CRM_CONTACT_COLUMNS),
        _create_table("crm_account", CRM_ACCOUNT_COLUMNS),
        _create_table("coupling", COUPLING_COLUMNS),
        _create_table("coupling_log", {"run_id": "BIGINT", "image": "VARCHAR", **{
            c: t.replace(" NOT NULL", "").replace(" DEFAULT false", "") for c, t in COUPLING_COLUMNS.items()},
            "row_md5": "UBIGINT"}),
        "CREATE SEQUENCE IF NOT EXISTS run_seq START 1",
        _create_table("run", {
            "run_id": "BIGINT", "kind": "VARCHAR", "direction": "VARCHAR", "started_at": "TIMESTAMP",
            "ended_at": "TIMESTAMP", "dry_run": "BOOLEAN", "force": "BOOLEAN", "inserted": "BIGINT",
            "modified": "BIGINT", "unchanged": "BIGINT", "skipped": "BIGINT", "failed": "BIGINT",
            "coupled": "BIGINT", "uncoupled": "BIGINT", "undone_by": "BIGINT", "undoes": "BIGINT",
            "note": "VARCHAR",
        }),
        _create_table("change_log", {
            "run_id": "BIGINT", "side": "VARCHAR", "key": "VARCHAR", "field": "VARCHAR",
            "old_value": "VARCHAR", "new_value": "VARCHAR", "op": "VARCHAR",
        }),
        _create_table("run_error", {
            "run_id": "BIGINT", "nav_no": "VARCHAR", "crm_id": "VARCHAR", "message": "VARCHAR",
        }),
        _create_table("run_conflict", {
            "run_id": "BIGINT", "nav_no": "VARCHAR", "crm_id": "VARCHAR", "nav_field": "VARCHAR",
            "crm_field": "VARCHAR", "nav_value": "VARCHAR", "crm_value": "VARCHAR", "base_value": "VARCHAR",
        }),
    ]
    return stmts + schema6_ddl() + unique_keys_ddl() + search.ddl()


def schema6_ddl() -> list[str]:
    """Tables and columns added in schema 6 (idempotent: also the upgrade from 5). Each block belongs to
    one feature; add to your own block only."""
    stmts: list[str] = []
    # --- sync toolset (issue 15: strategies, skipped records, errors list) ---
    # per coupling: its latest run's outcome (sync_state 'failed' | 'skipped', with message and run), the
    # consecutive runs that failed it with the same message (fail_streak) and whether that made it Skipped
    # until retried (excluded: BC's CRM Integration Record "Skipped"); on coupling_log too (undo restores them)
    for table in ("coupling", "coupling_log"):
        for col, typ in (("sync_state", "VARCHAR"), ("sync_message", "VARCHAR"), ("sync_run_id", "BIGINT"),
                         ("fail_streak", "INTEGER"), ("excluded", "BOOLEAN")):
            stmts.append(f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(col)} {typ}")
    # resolved update conflicts: how ('send' | 'get'); NULL = not resolved (Skipped)
    stmts.append("ALTER TABLE run_conflict ADD COLUMN IF NOT EXISTS resolution VARCHAR")
    # every Skipped record of a run with why (reason 'conflict' | 'filter' | 'excluded')
    stmts.append("CREATE TABLE IF NOT EXISTS run_skip (run_id BIGINT, nav_no VARCHAR, crm_id VARCHAR, "
                 "reason VARCHAR, message VARCHAR)")
    # couplings to a deleted record a run handled by its deletion-conflict strategy (uncoupled | restored |
    # not restored); undo may put these couplings back although their record is gone (they were so before)
    stmts.append("CREATE TABLE IF NOT EXISTS run_deletion (run_id BIGINT, nav_no VARCHAR, crm_id VARCHAR, "
                 "deleted VARCHAR, action VARCHAR, new_key VARCHAR, message VARCHAR)")
    # --- mapping options, transformation rules, value maps (issue 15) ---
    # the mapping's value maps (contactsync.valuemaps: side 'nav' = NAV value -> CRM value, side 'crm' = CRM
    # spelling -> NAV value, k in comparable form) and its transform rules' parameters by rule id; both are
    # rewritten from the mapping whenever it is stored (valuemaps.install)
    stmts += [
        "CREATE TABLE IF NOT EXISTS value_map_entry (map_id BIGINT, map VARCHAR, side VARCHAR, k VARCHAR, v VARCHAR)",
        "CREATE TABLE IF NOT EXISTS transform_param (rule_id BIGINT, find VARCHAR, repl VARCHAR, start BIGINT, "
        "len BIGINT)",
    ]
    # --- the run pipeline (issue 13): the narrow pass continues from the last one ---
    # the contact couplings (by NAV No.) the last narrow pass left not in step: the next one reads them again
    # with the pairs whose records or couplings changed since (contactsync.sync.delta_since)
    stmts.append(PENDING_DDL)
    # --- live connections, outbox, delivery (issue 17) ---
    stmts += [
        # one connection per side: its settings as JSON (URL, sign-in kind, ids, field names; never a secret)
        # and its pull state (delta link or watermark)
        "CREATE TABLE IF NOT EXISTS live_connection (side VARCHAR PRIMARY KEY, config VARCHAR, created_at TIMESTAMP,"
        " delta_link VARCHAR, watermark TIMESTAMP, last_pull_at TIMESTAMP, last_pull_run BIGINT)",
        # what the workspace knows of each remote record: its id there and the ETag of the version last seen
        "CREATE TABLE IF NOT EXISTS live_record (side VARCHAR, key VARCHAR, remote_id VARCHAR, etag VARCHAR,"
        " seen_at TIMESTAMP, deleted BOOLEAN DEFAULT false, PRIMARY KEY (side, key))",
        "CREATE SEQUENCE IF NOT EXISTS outbox_seq START 1",
        # a run's changes for a live side, one row per record, filled in the run's transaction
        "CREATE TABLE IF NOT EXISTS outbox (item_id BIGINT, run_id BIGINT, side VARCHAR, key VARCHAR, op VARCHAR,"
        " new_values VARCHAR, old_values VARCHAR, status VARCHAR, attempts INTEGER DEFAULT 0, message VARCHAR,"
        " delivery_run BIGINT, queued_at TIMESTAMP, done_at TIMESTAMP)",
        "CREATE UNIQUE INDEX IF NOT EXISTS outbox_key ON outbox (item_id)",
    ]
    # --- run pipeline (issue 13: pair fingerprints) ---
    stmts += pipeline_ddl(set(), set())
    return stmts


#: per coupling, the fingerprints of its two records when a run last left the pair in step (sync.fingerprint_sql):
#: a pair whose records still have them needs no comparison; NULL = compare it. On coupling_log too (undo).
FINGERPRINT_COLUMNS = {"nav_fp": "UBIGINT", "crm_fp": "UBIGINT"}


#: the table the narrow pass keeps between runs (contactsync.sync.remember_pass)
PENDING_DDL = "CREATE TABLE IF NOT EXISTS sync_pending (nav_no VARCHAR)"


def pipeline_ddl(coupling_cols: set[str], log_cols: set[str], tables: set[str] | None = None) -> list[str]:
    """The fingerprint columns and the narrow pass's table a workspace lacks (also for one made at schema 6
    before they existed)."""
    stmts = [f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(col)} {typ}"
             for table, have in (("coupling", coupling_cols), ("coupling_log", log_cols))
             for col, typ in FINGERPRINT_COLUMNS.items() if col not in have]
    if tables is not None and "sync_pending" not in tables:
        stmts.append(PENDING_DDL)
    return stmts


def upgrade_ddl(version: int) -> list[str]:
    """What a workspace of schema ``version`` needs before this one reads it (the search index is
    rebuilt separately)."""
    stmts = []
    if version < 4:
        stmts.append("ALTER TABLE coupling_log ADD COLUMN IF NOT EXISTS row_md5 UBIGINT")
    if version < 5:
        stmts += unique_keys_ddl()
    if version < 6:
        stmts += schema6_ddl()
    return stmts


def check_unique_keys(con, path: str) -> None:
    """Before an old workspace gets its unique indexes: name the keys that are already duplicated
    (schema 4 and older had no constraint, and one way of numbering could write a No. twice)."""
    from .errors import WorkspaceError

    for table, cols in UNIQUE_KEYS.values():
        dups = con.execute(duplicate_keys_sql(table, cols)).fetchall()
        if dups:
            listed = ", ".join(f"{k} ({n}×)" for k, n in dups)
            raise WorkspaceError(
                f"workspace {path!r} has duplicated keys in {table} ({', '.join(cols)}): {listed}. This contactsync "
                "enforces unique keys; open it with the previous version and remove or renumber the duplicates "
                f"(e.g. ws.sql(..., write=True)), then open it again.", table=table, keys=[k for k, _ in dups])


def mapping_ddl(mapping: TableMapping, existing: set[str], existing_log: set[str]) -> list[str]:
    """Columns the coupling tables need for the mapping's last-synced values."""
    stmts = []
    for f in mapping.fields:
        if f.base_column not in existing:
            stmts.append(f"ALTER TABLE coupling ADD COLUMN {q(f.base_column)} VARCHAR")
        if f.base_column not in existing_log:
            stmts.append(f"ALTER TABLE coupling_log ADD COLUMN {q(f.base_column)} VARCHAR")
    return stmts


def views_ddl(mapping: TableMapping) -> list[str]:
    """Views for ad hoc SQL: each coupled NAV and CRM row side by side."""
    m = mapping
    return [
        f"""CREATE OR REPLACE VIEW coupled_contact AS
            SELECT c.nav_no, c.crm_id, n.*, r.*
            FROM coupling c
            JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = c.nav_no
            JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = c.crm_id
            WHERE c.entity = 'contact'""",
        """CREATE OR REPLACE VIEW coupled_company AS
            SELECT c.nav_no, c.crm_id, n."Name" AS nav_name, a.name AS crm_name
            FROM coupling c
            LEFT JOIN nav_contact n ON n."No." = c.nav_no
            LEFT JOIN crm_account a ON a.accountid = c.crm_id
            WHERE c.entity = 'company'""",
    ]


#: the open path's one catalogue query: every table's CREATE statement (its columns, their types and constraints) and
#: every index's, with their database and schema, and the current database. Two catalogue functions over names and
#: stored SQL, unfiltered (DuckDB's filter on a catalogue function, ``duckdb_columns()`` or ``information_schema``
#: each cost 2-4x as much, at every open); :func:`catalog_digest` keeps this workspace's ``main`` schema
CATALOG_SQL = (
    "SELECT 'T', database_name, schema_name, table_name, sql FROM duckdb_tables() "
    "UNION ALL SELECT 'I', database_name, schema_name, index_name || ' ON ' || table_name, sql FROM duckdb_indexes() "
    "UNION ALL SELECT 'D', current_database(), NULL, NULL, NULL")
#: the meta entries the open path reads, in one query
_META_KEYS = ("schema_version", "mapping", "mapping_digest", "open_verified")
#: bump when ``ensure``'s checks change: a workspace verified by an older set of checks is checked again
_CHECKS = "ensure-1"


def catalog_digest(con) -> tuple[str, bool, int]:
    """(digest of the ``main`` schema's tables' and indexes' definitions, whether ``meta`` exists, number of tables)."""
    rows = con.execute(CATALOG_SQL).fetchall()
    here = next(db for kind, db, *_ in rows if kind == "D")
    mine = sorted(f"{kind} {name} {sql or ''}" for kind, db, schema, name, sql in rows
                  if kind != "D" and db == here and schema == "main")
    tables = [name for kind, db, schema, name, _ in rows if kind == "T" and db == here and schema == "main"]
    return hashlib.sha256("\n".join(mine).encode()).hexdigest(), "meta" in tables, len(tables)


def _verified(catalog: str, mapping_digest: str) -> str:
    return hashlib.sha256(f"{_CHECKS}\n{SCHEMA_VERSION}\n{catalog}\n{mapping_digest}".encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _parse_mapping(toml: str) -> TableMapping:
    """The stored mapping (a frozen TableMapping: one parse per text per process, not one per open)."""
    import tomllib

    return TableMapping.from_dict(tomllib.loads(toml))


def ensure(con, mapping: TableMapping | None, path: str) -> TableMapping:
    """Make the database on ``con`` a workspace of this schema, in the caller's transaction.

    A new (empty) database gets the tables; an older workspace is upgraded (its search index rebuilt);
    a newer one, another DuckDB database or one with duplicated keys is refused (:class:`WorkspaceError`
    naming ``path``). ``mapping`` (``None``: the stored one, else Business Central's default) is
    validated against the tables, gets its last-synced columns and views, and is stored. Returns it.

    The open path (the app opens the file for every action) is three queries when nothing changed: the catalogue's
    digest (:data:`CATALOG_SQL`), ``meta``, and the search index's row counts. The mapping's checks against the
    tables (its columns there, its last-synced columns, the fingerprint columns) ran when the workspace was last
    opened with this catalogue and this mapping: ``meta.open_verified`` holds a digest of both, and they are run
    again whenever it differs (another tool renamed a column, dropped or added a table or an index; a new mapping;
    a new contactsync). The schema version and the index's counts are read at every open.
    """
    from .errors import WorkspaceError
    from .mapping import default_mapping

    catalog, has_meta, tables = catalog_digest(con)
    stored: dict[str, str] = {}
    if has_meta:
        stored = dict(con.execute("SELECT key, value FROM meta WHERE list_contains(?::VARCHAR[], key)",
                                  [list(_META_KEYS)]).fetchall())
        version = int(stored["schema_version"]) if "schema_version" in stored else None
        if version is None:
            raise WorkspaceError(f"{path!r} is a DuckDB file but not a contactsync workspace")
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"workspace {path!r} was written by a newer contactsync (schema {version}; this one "
                f"reads up to {SCHEMA_VERSION}). Upgrade contactsync: pip install -U contactsync.")
        if version < 5:
            check_unique_keys(con, path)
        if version < SCHEMA_VERSION:  # schema 1 had no search index
            for stmt in upgrade_ddl(version) + search.ddl():
                con.execute(stmt)
        if version < SCHEMA_VERSION or not search.in_step(con):
            search.rebuild(con)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
    else:
        others = tables or con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
                                       ).fetchone()[0]  # views too
        if others:
            raise WorkspaceError(f"{path!r} is a DuckDB database that is not a contactsync workspace; "
                                 "choose a new file name")
        for stmt in schema_ddl():
            con.execute(stmt)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    if mapping is None:
        toml = stored.get("mapping") or default_mapping().to_toml()
        mapping = _parse_mapping(toml)
    else:
        toml = mapping.to_toml()
    views = views_ddl(mapping)
    # what the mapping derives (columns, views, value-map tables) is written only when it changed: opening
    # an unchanged workspace is a read (the app opens the file for every action)
    digest = hashlib.sha256("\n".join([str(SCHEMA_VERSION), toml, *views]).encode()).hexdigest()
    if (stored.get("mapping") == toml and stored.get("mapping_digest") == digest
            and stored.get("open_verified") == _verified(catalog, digest)):
        return mapping  # this catalogue was checked against this mapping when it was last opened
    columns = all_columns(con)
    mapping.validate_columns({t: columns.get(t, {}) for t in RECORD_TABLES})
    added = mapping_ddl(mapping, set(columns.get("coupling", {})), set(columns.get("coupling_log", {})))
    added += pipeline_ddl(set(columns.get("coupling", {})), set(columns.get("coupling_log", {})), set(columns))
    if added or stored.get("mapping") != toml or stored.get("mapping_digest") != digest:
        for stmt in added + views:
            con.execute(stmt)
        from . import valuemaps

        valuemaps.install(con, mapping)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('mapping', ?), ('mapping_digest', ?)", [toml, digest])
    catalog = catalog_digest(con)[0]  # after the DDL above
    con.execute("INSERT OR REPLACE INTO meta VALUES ('open_verified', ?)", [_verified(catalog, digest)])
    return mapping


def all_columns(con) -> dict[str, dict[str, str]]:
    """Every table of the workspace (``main`` schema, temp tables included as ``table_columns`` does) with its
    columns and types, in one catalog query."""
    out: dict[str, dict[str, str]] = {}
    for table, name, dtype in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' "
            "ORDER BY table_name, column_index").fetchall():
        out.setdefault(table, {})[name] = dtype
    return out
