"""Runs, the field-level change log, coupling images, and undo.

Every change-making action is a run. Record tables log field changes
(``change_log``: side, key, field, old, new; ``op`` = update | insert | delete); couplings log
their before/after images (``coupling_log``). Undo restores both, set-based.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pandas as pd

from . import changeset, search
from .errors import NotFoundError, UndoError
from .sqlbuild import q

__all__ = ["COUNTS", "SIDE_TABLE", "TABLE_SIDE", "add_counts", "changes", "finish_run", "log_before", "mark_created",
           "now_utc", "row_md5", "runs", "start_run", "table_columns", "undo"]

SIDE_TABLE = {"nav": "nav_contact", "crm": "crm_contact", "account": "crm_account"}
TABLE_SIDE = {v: k for k, v in SIDE_TABLE.items()}
COUNTS = ("inserted", "modified", "unchanged", "skipped", "failed", "coupled", "uncoupled")


def now_utc() -> datetime:
    """The one time base of a workspace: UTC, stored naive (DuckDB TIMESTAMP). Run times, the modified-on a
    sync stamps, and every imported timestamp (offsets converted, naive values taken as UTC) use it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def start_run(con, kind: str, *, direction: str | None = None, dry_run: bool = False,
              force: bool = False, note: str | None = None) -> int:
    run_id = con.execute("SELECT nextval('run_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO run (run_id, kind, direction, started_at, dry_run, force, inserted, modified, unchanged,"
        " skipped, failed, coupled, uncoupled, note) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?)",
        [run_id, kind, direction, now_utc(), dry_run, force, note],
    )
    return run_id


def add_counts(con, run_id: int, **counts: int) -> None:
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"unknown counts {unknown}")
    if not counts:
        return
    sets = ", ".join(f"{q(c)} = {q(c)} + ?" for c in counts)
    con.execute(f"UPDATE run SET {sets} WHERE run_id = ?", [*counts.values(), run_id])


def _logged_in_run(alias: str = "c") -> str:
    """Rows this run logged, by NAV No. or by CRM id; two parameters: ``_run_params(run_id)``.
    Two EXISTS (hash joins) rather than one with an OR inside (a nested loop: quadratic)."""
    return (f"(EXISTS (SELECT 1 FROM coupling_log l WHERE l.run_id = ? AND l.entity = {alias}.entity "
            f"AND l.nav_no = {alias}.nav_no) OR EXISTS (SELECT 1 FROM coupling_log l WHERE l.run_id = ? "
            f"AND l.entity = {alias}.entity AND l.crm_id = {alias}.crm_id))")


def _run_params(run_id: int) -> list:
    return [run_id, run_id]


def log_before(con, run_id: int, where: str, params: list | None = None) -> None:
    """Keep the before-image of the coupling rows matching ``where`` (alias ``c``) that this run
    has not touched yet. Call before changing or deleting couplings."""
    cols = list(table_columns(con, "coupling"))
    col_sql = ", ".join(q(c) for c in cols)
    con.execute(
        f"INSERT INTO coupling_log (run_id, image, {col_sql}) "
        f"SELECT ?, 'before', {', '.join('c.' + q(c) for c in cols)} FROM coupling c "
        f"WHERE ({where}) AND NOT {_logged_in_run('c')}",
        [run_id, *(params or []), *_run_params(run_id)],
    )


def mark_created(con, run_id: int, select_sql: str, params: list | None = None) -> None:
    """Record couplings this run creates (``select_sql`` yields entity, nav_no, crm_id)."""
    con.execute(
        f"INSERT INTO coupling_log (run_id, image, entity, nav_no, crm_id) SELECT ?, 'created', * FROM ({select_sql})",
        [run_id, *(params or [])],
    )


def row_md5(alias: str, cols) -> str:
    """A coupling row's fingerprint (UBIGINT, the low 64 bits of an MD5) over its non-null columns as
    ``name<GS>value`` text, so a column added later (null in every old row) leaves old fingerprints valid."""
    parts = ", ".join(f"CASE WHEN {alias}.{q(c)} IS NOT NULL THEN '{c.replace(chr(39), chr(39) * 2)}' || chr(29) || "
                      f"CAST({alias}.{q(c)} AS VARCHAR) END" for c in sorted(cols))
    return f"md5_number_lower(concat_ws(chr(31), {parts}))"


def finish_run(con, run_id: int, note: str | None = None) -> None:
    """Keep the after-image of every coupling the run touched, as its key and fingerprint (enough for
    undo to see whether it changed since; a full copy of each row made a large sync's commit 1 s
    slower at 1M pairs); stamp the end time; bring the search index rows of what the run touched up
    to date."""
    cols = list(table_columns(con, "coupling"))
    con.execute(
        f"INSERT INTO coupling_log (run_id, image, entity, nav_no, crm_id, row_md5) "
        f"SELECT ?, 'after', c.entity, c.nav_no, c.crm_id, {row_md5('c', cols)} FROM coupling c "
        f"WHERE {_logged_in_run('c')}",
        [run_id, *_run_params(run_id)],
    )
    con.execute("UPDATE run SET ended_at = ?, note = coalesce(?, note) WHERE run_id = ?",
                [now_utc(), note, run_id])
    search.refresh_run(con, run_id)
    changeset.queue_outbox(con, run_id)  # the run's changes for sides with a live connection, in this transaction


def runs(con) -> pd.DataFrame:
    return con.execute(
        "SELECT run_id, kind, direction, started_at, ended_at, dry_run, force, inserted, modified, unchanged,"
        " skipped, failed, coupled, uncoupled, undone_by IS NOT NULL AS undone, undone_by, undoes, note"
        " FROM run ORDER BY run_id"
    ).df()


def changes(con, run_id: int) -> pd.DataFrame:
    _require_run(con, run_id)
    return con.execute(
        "SELECT side, key, field, old_value, new_value, op FROM change_log WHERE run_id = ? "
        "ORDER BY side, key, field NULLS FIRST",
        [run_id],
    ).df()


def _require_run(con, run_id: int) -> tuple:
    row = con.execute("SELECT run_id, kind, undone_by, undoes FROM run WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        last = con.execute("SELECT max(run_id) FROM run").fetchone()[0]
        raise NotFoundError(f"run {run_id} does not exist (the last run is {last}); see runs()")
    return row


def _key_of(table: str, columns: dict) -> str:
    from .schema import RECORD_TABLES

    return RECORD_TABLES[table][0]


#: What refers to a record of each side: (table, column, entity of a coupling that names it)
_REFERENCES = {
    "nav": ("nav_contact", "Company No.", "nav_no"),
    "crm": (None, None, "crm_id"),
    "account": ("crm_contact", "parentcustomerid", "crm_id"),
}
_COUPLING_ENTITY = {"nav": None, "crm": "contact", "account": "company"}


def _inserted_used_since(con, run_id: int, side: str, table: str, key: str) -> list[str]:
    """The records this run inserted that later work relies on: a later run (not undone) changed them,
    a coupling the run did not make names them, or a record the run did not insert refers to them.
    Deleting those would delete the later work (or leave a coupling to nothing)."""
    found: list[str] = []
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM change_log WHERE run_id = ? AND side = ? AND op = 'insert' "
                       "LIMIT 1)", [run_id, side]).fetchone()[0]:
        return found  # the run inserted no record on this side
    rows = con.execute(
        """SELECT DISTINCT l.key, min(l2.run_id) FROM change_log l
           JOIN change_log l2 ON l2.side = l.side AND l2.key = l.key AND l2.run_id > l.run_id
           JOIN run r ON r.run_id = l2.run_id AND r.undone_by IS NULL AND r.kind <> 'undo'
           WHERE l.run_id = ? AND l.side = ? AND l.op = 'insert' GROUP BY ALL ORDER BY 1 LIMIT 20""",
        [run_id, side]).fetchall()
    found += [f"{side} {k} (changed since, by run {r})" for k, r in rows]
    ref_table, ref_col, coupling_col = _REFERENCES[side]
    entity = _COUPLING_ENTITY[side]
    rows = con.execute(
        f"""SELECT DISTINCT l.key, c.nav_no, c.crm_id FROM change_log l
            JOIN coupling c ON c.{coupling_col} = l.key {"AND c.entity = ?" if entity else ""}
            WHERE l.run_id = ? AND l.side = ? AND l.op = 'insert'
              AND NOT EXISTS (SELECT 1 FROM coupling_log g WHERE g.run_id = l.run_id AND g.image = 'after'
                              AND g.entity = c.entity AND g.nav_no = c.nav_no AND g.crm_id = c.crm_id)
            ORDER BY 1 LIMIT 20""",
        [*([entity] if entity else []), run_id, side]).fetchall()
    found += [f"{side} {k} (coupled since: {n} <-> {c})" for k, n, c in rows]
    if ref_table is not None:
        ref_side = TABLE_SIDE[ref_table]
        ref_key = _key_of(ref_table, {})
        rows = con.execute(
            f"""SELECT DISTINCT l.key, min(t.{q(ref_key)}) FROM change_log l
                JOIN {q(ref_table)} t ON t.{q(ref_col)} = l.key AND t.{q(ref_key)} <> l.key
                WHERE l.run_id = ? AND l.side = ? AND l.op = 'insert'
                  AND NOT EXISTS (SELECT 1 FROM change_log i WHERE i.run_id = l.run_id AND i.side = ?
                                  AND i.op = 'insert' AND i.key = t.{q(ref_key)})
                GROUP BY ALL ORDER BY 1 LIMIT 20""",
            [run_id, side, ref_side]).fetchall()
        found += [f"{side} {k} (used since by {ref_side} {r})" for k, r in rows]
    return found


def _dangling_couplings(con, run_id: int) -> int:
    """The couplings to a record that does not exist, among those undoing ``run_id`` can affect: the couplings it
    logged (undo puts their before-images back) and those naming a record it inserted (undo deletes those).
    No other coupling or record changes in an undo, so comparing this count before and after is the same as
    comparing it over every coupling (which read all couplings and records twice: 1.4 s at 1M)."""
    return con.execute(
        """SELECT count(*) FROM coupling c WHERE
             (c.nav_no IN (SELECT nav_no FROM coupling_log WHERE run_id = ?)
              OR c.crm_id IN (SELECT crm_id FROM coupling_log WHERE run_id = ?)
              OR c.nav_no IN (SELECT key FROM change_log WHERE run_id = ? AND op = 'insert' AND side = 'nav')
              OR c.crm_id IN (SELECT key FROM change_log WHERE run_id = ? AND op = 'insert' AND side <> 'nav'))
         AND ((c.entity = 'contact' AND (NOT EXISTS (SELECT 1 FROM crm_contact r WHERE r.contactid = c.crm_id)
                                        OR NOT EXISTS (SELECT 1 FROM nav_contact n WHERE n."No." = c.nav_no)))
          OR (c.entity = 'company' AND (NOT EXISTS (SELECT 1 FROM crm_account a WHERE a.accountid = c.crm_id)
                                        OR NOT EXISTS (SELECT 1 FROM nav_contact n WHERE n."No." = c.nav_no))))""",
        [run_id] * 4).fetchone()[0]


def undo(con, run_id: int, new_run_id_factory) -> tuple[int, int]:
    """Undo ``run_id`` inside the caller's transaction. Returns (undo run id, records restored).

    Refuses, naming them, when records or couplings changed since the run.
    """
    _, kind, undone_by, _ = _require_run(con, run_id)
    if undone_by is not None:
        raise UndoError(f"run {run_id} was already undone by run {undone_by}")
    if kind == "undo":
        raise UndoError(f"run {run_id} is itself an undo; to redo, run the action again")
    changed: list[str] = []
    for side, table in SIDE_TABLE.items():
        cols = table_columns(con, table)
        key = _key_of(table, cols)
        # updates: the current value must still be the logged new value
        rows = con.execute(
            f"""SELECT DISTINCT l.key, l.field FROM change_log l
                LEFT JOIN {q(table)} t ON t.{q(key)} = l.key
                WHERE l.run_id = ? AND l.side = ? AND l.op = 'update' AND (t.{q(key)} IS NULL OR
                  CASE {' '.join(f"WHEN l.field = ? THEN CAST(t.{q(c)} AS VARCHAR)" for c in cols)} END
                  IS DISTINCT FROM l.new_value)
                ORDER BY 1 LIMIT 20""",
            [run_id, side, *cols],
        ).fetchall()
        changed += [f"{side} {k} ({f})" for k, f in rows]
        rows = con.execute(
            f"""SELECT l.key FROM change_log l LEFT JOIN {q(table)} t ON t.{q(key)} = l.key
                WHERE l.run_id = ? AND l.side = ? AND l.op = 'insert' AND t.{q(key)} IS NULL LIMIT 20""",
            [run_id, side],
        ).fetchall()
        changed += [f"{side} {k} (deleted since)" for (k,) in rows]
        changed += _inserted_used_since(con, run_id, side, table, key)
    # couplings: the current rows for the keys the run touched must equal its after-images (their
    # fingerprints; an after-image written before schema 4 is a full row, fingerprinted here)
    cols = [c for c in table_columns(con, "coupling")]
    col_sql = ", ".join(q(c) for c in cols)
    moved = con.execute(
        f"""WITH after AS MATERIALIZED (SELECT entity, nav_no, crm_id, coalesce(row_md5, {row_md5('l', cols)}) AS h
                           FROM coupling_log l WHERE run_id = ? AND image = 'after'),
                 now AS MATERIALIZED (SELECT entity, nav_no, crm_id, {row_md5('c', cols)} AS h FROM coupling c
                         WHERE {_logged_in_run("c")}),
                 diff AS ((SELECT * FROM now EXCEPT SELECT * FROM after)
                          UNION ALL (SELECT * FROM after EXCEPT SELECT * FROM now))
            SELECT DISTINCT entity, nav_no, crm_id FROM diff ORDER BY 2 LIMIT 20""",
        [run_id, *_run_params(run_id)],
    ).fetchall()
    changed += [f"coupling {e} {n} <-> {c}" for e, n, c in moved]
    if changed:
        raise UndoError(
            f"run {run_id} cannot be undone: these changed after it ran: {', '.join(changed[:10])}"
            + (" …" if len(changed) > 10 else "")
            + ". Undo the later runs first (see runs()), or change these records back by hand.",
            changed=changed,
        )

    dangling_before = _dangling_couplings(con, run_id)
    undo_id = new_run_id_factory()
    restored = 0
    for side, table in SIDE_TABLE.items():
        cols = table_columns(con, table)
        key = _key_of(table, cols)
        fields = [r[0] for r in con.execute(
            "SELECT DISTINCT field FROM change_log WHERE run_id = ? AND side = ? AND op = 'update'",
            [run_id, side]).fetchall()]
        if fields:
            pivot = ", ".join(
                f"bool_or(field = ?) AS {q('has:' + f)}, max(old_value) FILTER (WHERE field = ?) AS {q('old:' + f)},"
                f" max(new_value) FILTER (WHERE field = ?) AS {q('new:' + f)}"
                for f in fields
            )
            pivot_params = [x for f in fields for x in (f, f, f)]
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _undo AS SELECT key, {pivot} FROM change_log "
                "WHERE run_id = ? AND side = ? AND op = 'update' GROUP BY key",
                [*pivot_params, run_id, side],
            )
            # log the undo itself (the reverse changes)
            con.execute(
                "INSERT INTO change_log SELECT ?, side, key, field, new_value, old_value, 'update' "
                "FROM change_log WHERE run_id = ? AND side = ? AND op = 'update'",
                [undo_id, run_id, side],
            )
            sets = ", ".join(
                f"{q(f)} = CASE WHEN u.{q('has:' + f)} THEN CAST(u.{q('old:' + f)} AS {cols[f]}) ELSE t.{q(f)} END"
                for f in fields
            )
            n = con.execute(
                f"UPDATE {q(table)} AS t SET {sets} FROM _undo u WHERE t.{q(key)} = u.key"
            ).fetchone()[0]
            restored += n
        # records the run inserted are deleted (their values logged for a redo by hand)
        n = con.execute(
            f"""DELETE FROM {q(table)} WHERE {q(key)} IN
                (SELECT key FROM change_log WHERE run_id = ? AND side = ? AND op = 'insert')""",
            [run_id, side],
        ).fetchone()[0]
        if n:
            con.execute(
                "INSERT INTO change_log SELECT ?, side, key, field, new_value, old_value, 'delete' "
                "FROM change_log WHERE run_id = ? AND side = ? AND op = 'insert'",
                [undo_id, run_id, side],
            )
        restored += n
    # couplings: the rows the run touched become its before-images again (an undo keeps no coupling images of its
    # own: it cannot itself be undone, and the rows it puts back are exactly the run's before-images, already logged).
    # A row whose before-image has its key (entity, NAV No., CRM id) gets its other columns back in place: an UPDATE
    # of unindexed columns. Deleting and re-inserting every touched row instead made DuckDB's unique indexes on
    # the keys cost ~2 s at the commit of a 20k-pair undo. The other touched rows (created by the run, or coupled
    # to another record since) are deleted, and the before-images left without their row are inserted.
    touched = _logged_in_run("c")
    same_key = "b.entity = c.entity AND b.nav_no = c.nav_no AND b.crm_id = c.crm_id"
    keys = ("entity", "nav_no", "crm_id")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _undo_before AS SELECT {col_sql} FROM coupling_log "
                "WHERE run_id = ? AND image = 'before'", [run_id])
    others = [c for c in table_columns(con, "coupling") if c not in keys]
    # only the columns some row has to get back (a run writes a few of the ~35; DuckDB's UPDATE costs per column)
    differ = con.execute(f"SELECT {', '.join(f'coalesce(bool_or(c.{q(x)} IS DISTINCT FROM b.{q(x)}), false)' for x in others)} "
                         f"FROM coupling c JOIN _undo_before b ON {same_key}").fetchone() if others else ()
    back = [x for x, d in zip(others, differ) if d]
    if back:
        con.execute(f"UPDATE coupling AS c SET {', '.join(f'{q(x)} = b.{q(x)}' for x in back)} "
                    f"FROM _undo_before b WHERE {same_key}")
    con.execute(f"DELETE FROM coupling c WHERE {touched} AND NOT EXISTS (SELECT 1 FROM _undo_before b WHERE {same_key})",
                _run_params(run_id))
    con.execute(f"INSERT INTO coupling ({col_sql}) SELECT {col_sql} FROM _undo_before b "
                f"WHERE NOT EXISTS (SELECT 1 FROM coupling c WHERE {same_key})")
    con.execute("DROP TABLE _undo_before")
    # couplings to a record that was already gone when the run handled them (its deletion-conflict strategy,
    # run_deletion) come back as they were
    was_gone = con.execute("SELECT count(*) FROM coupling c WHERE c.entity = 'contact' AND EXISTS (SELECT 1 FROM "
                           "run_deletion d WHERE d.run_id = ? AND d.nav_no = c.nav_no AND d.crm_id = c.crm_id)",
                           [run_id]).fetchone()[0]
    if _dangling_couplings(con, run_id) - was_gone > dangling_before:  # the last guard: an undo never leaves a coupling to nothing
        raise UndoError(f"run {run_id} cannot be undone: it would leave a coupling to a record that no longer "
                        "exists. Undo the later runs first (see runs()).")
    con.execute("UPDATE run SET undone_by = ? WHERE run_id = ?", [undo_id, run_id])
    con.execute("UPDATE run SET undoes = ? WHERE run_id = ?", [run_id, undo_id])
    return undo_id, restored
