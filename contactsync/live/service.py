"""The live flow: connect, test, pull (incremental, through the import path) and deliver the outbox.

Crash safety without a two-phase commit: a pull commits its rows, ETags and delta link/watermark in one
transaction (a kill before it leaves the old state, and the pull starts over). Delivery sends a batch, then
commits its outcomes; a kill in between leaves those items pending, and the resend meets the ETag the first
send produced — a 412 (or "already exists" for a create with its client-chosen id) — after which the record is
re-read: if it holds exactly what we sent, the item is delivered (nothing applied twice), otherwise it
changed remotely. Every item of one record goes out in order, one per batch.

No checkpoint while a live action runs: every connection of a pull or a delivery writes the WAL only (DuckDB's
automatic checkpoint and its checkpoint on close are off for it), and the next action that is not a live one folds
the WAL into the file. A checkpoint rewrites a metadata block the file's header still points at in place
(DuckDB's MetadataManager::Flush), so a SIGKILL inside that write left a file that no longer opened ("Corrupt
database file: computed checksum ... in block at location 12288"; bench/duckdb_torn_checkpoint.py reproduces it).
A kill during a WAL append loses at most that last, uncommitted entry, which DuckDB's replay drops by its checksum.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from .. import history
from ..changeset import OutboxStatus, outbox_frame, values_of
from ..imports import ImportResult, import_records
from ..schema import RECORD_TABLES
from ..sqlbuild import q
from .connections import Connection, LiveConnectionError, Side, check_no_secrets, credential_for, load, save
from .remote import Item, Outcome, Pulled, Remote, Transient, make_remote

__all__ = ["DeliveryResult", "PullResult", "connect", "deliver", "outbox", "pull", "test_connection"]

_TABLE = {Side.CRM: "crm_contact", Side.NAV: "nav_contact"}
_FLAG = {Side.CRM: ("crm_missing", "crm_id"), Side.NAV: ("nav_missing", "nav_no")}


@dataclass(frozen=True)
class PullResult:
    side: str
    imported: ImportResult
    fetched: int = 0
    echoes: int = 0                     # rows already known at that ETag (contactsync's own writes: not read back)
    deleted: tuple[str, ...] = ()       # workspace keys deleted remotely
    pages: int = 0
    requests: int = 0
    mode: str = ""                      # delta | watermark | full
    note: str = ""
    held: int = 0                       # pending outbox changes held because their record changed remotely

    def __str__(self) -> str:
        text = (f"pull {self.side} ({self.mode}): {self.fetched} fetched in {self.pages} page(s), {self.echoes} already "
                f"known at that version (same ETag, contactsync's own writes among them) skipped; "
                f"{self.imported.inserted} inserted, {self.imported.updated} "
                f"updated, {self.imported.unchanged} unchanged, {self.imported.rejected} rejected, "
                f"{len(self.deleted)} deleted remotely")
        return text + (f"; {self.note}" if self.note else "")


@dataclass
class DeliveryResult:
    delivered: int = 0
    changed_remotely: int = 0
    rejected: int = 0
    retried: int = 0
    pending: int = 0
    superseded: int = 0
    run_id: int | None = None
    requests: int = 0
    outcomes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["item_id", "side", "key", "op",
                                                                                 "status", "message"]), repr=False)

    def counts(self) -> dict:
        return {k: getattr(self, k) for k in ("delivered", "changed_remotely", "rejected", "retried", "pending",
                                              "superseded")}

    def __str__(self) -> str:
        return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in self.counts().items())


#: DuckDB settings of every connection a live action opens: no automatic checkpoint (the WAL's size never
#: triggers one) and none on close; both are the database's, so they end with the connection (the store opens one
#: per action) — a caller holding the file across a live action keeps them until it closes
_WAL_ONLY = ("SET checkpoint_threshold = '1TB'", "PRAGMA disable_checkpoint_on_shutdown")


@contextmanager
def _wal_only(cm):
    from .. import checkpoint

    with checkpoint.deferred(), cm as con:  # (the store's own checkpoint at close waits too)
        for stmt in _WAL_ONLY:
            con.execute(stmt, label="live.wal_only")
        yield con


def _reading(ws):
    """A connection of a live action (see the module's docstring: no checkpoint)."""
    return _wal_only(ws.connection())


def _writing(ws):
    """A transaction of a live action (see the module's docstring: no checkpoint)."""
    return _wal_only(ws.transaction())


def _remote(ws, side, credential, **kw) -> Remote:
    with _reading(ws) as con:
        conn = load(con, side)
    return make_remote(conn, credential if credential is not None else credential_for(conn), **kw)


# -- connect / test ----------------------------------------------------------------------------------
def _mapping_check(ws, conn: Connection) -> None:
    if conn.side is Side.NAV:
        lacking = [f.nav for f in ws.mapping.fields if f.nav not in conn.fields]
        if lacking:
            raise LiveConnectionError(
                f"the mapping's NAV field(s) {', '.join(repr(x) for x in lacking)} have no field on the endpoint "
                f"{conn.url}/{conn.entity_set} (Business Central's API v2.0 contact has no First Name, Middle Name, "
                "Surname or Fax No.; only displayName). Connect to an endpoint that has them — a custom API page or "
                "a published page web service — and name its fields, e.g. fields={'First Name': 'firstName', ...}; "
                "or load a mapping without them.", missing=lacking)
    else:
        from .remote import _CRM_COLUMNS

        lacking = [f.crm for f in ws.mapping.fields if f.crm not in _CRM_COLUMNS]
        if lacking:
            raise LiveConnectionError(f"the mapping's CRM attribute(s) {', '.join(lacking)} are not read by the "
                                      "Dataverse connector", missing=lacking)


def test_connection(ws, side: str, credential=None) -> str:
    """Sign in, read one row with every mapped field; say what is wrong (auth, URL, permission, missing field)."""
    with _reading(ws) as con:
        conn = load(con, side)
    _mapping_check(ws, conn)
    remote = make_remote(conn, credential if credential is not None else credential_for(conn), max_attempts=2)
    try:
        return remote.test()
    except Transient as e:
        raise LiveConnectionError(f"test connection: {side} at {conn.url} did not answer ({e}); check the URL and "
                                  "the network") from None
    finally:
        remote.close()


def connect(ws, side: str, url: str, *, credential=None, test: bool = True, **options) -> str:
    """Keep a live connection for ``side`` ('crm' | 'nav'), tested first unless ``test=False``."""
    check_no_secrets(options)
    conn = Connection(side=Side(side), url=url, **options)
    with _writing(ws) as con:
        save(con, conn)
        if test:
            _mapping_check(ws, conn)
    msg = f"connected {conn.side.value} to {conn.url}"
    if test:
        try:
            msg = test_connection(ws, side, credential)
        except LiveConnectionError:
            with _writing(ws) as con:
                con.execute("DELETE FROM live_connection WHERE side = ?", [conn.side.value])
            raise
    return msg


# -- pull --------------------------------------------------------------------------------------------
def _ts_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pull(ws, side: str, *, credential=None, full: bool = False, progress=None) -> PullResult:
    """Bring the side's changes into the workspace: Dataverse through its delta link (change tracking), else
    rows modified after the watermark minus the margin; ``full=True`` reads everything and also finds the
    records deleted remotely by a key scan. Imported through the same path as a file (same checks, a run)."""
    side_e = Side(side)
    with _reading(ws) as con:
        conn = load(con, side)
        delta_link, watermark = con.execute("SELECT delta_link, watermark FROM live_connection WHERE side = ?",
                                            [side_e.value]).fetchone()
    remote = make_remote(conn, credential if credential is not None else credential_for(conn))
    note = ""
    try:
        if side_e is Side.CRM and conn.change_tracking and not full:
            mode = "delta" if delta_link else "full"
            try:
                pulled = remote.read(delta_link=delta_link, progress=progress)
            except LiveConnectionError as e:
                if not delta_link or "expired" not in str(e).lower():
                    raise
                note = "the delta link had expired: read everything again (change tracking restarted)"
                mode = "full"
                pulled = remote.read(progress=progress)
        else:
            since = None if (full or watermark is None) else _ts_text(watermark - timedelta(seconds=conn.margin_seconds))
            mode = "watermark" if since else "full"
            pulled = remote.read(since=since, progress=progress)
    except Transient as e:
        raise LiveConnectionError(f"pull {side}: {conn.url} kept failing ({e}); nothing was changed, pull again "
                                  "later") from None
    finally:
        remote.close()
    return _store_pull(ws, conn, pulled, mode=mode, key_scan=(mode == "full"), requests=remote.requests, note=note)


def _columns(conn: Connection) -> list[str]:
    """The workspace columns a pull of this connection reads."""
    from .remote import _CRM_COLUMNS

    return list(conn.fields) if conn.side is Side.NAV else list(_CRM_COLUMNS)


def _store_pull(ws, conn: Connection, pulled: Pulled, *, mode: str, key_scan: bool, requests: int,
                note: str = "", run_note: str | None = None) -> PullResult:
    """Store a pull in one transaction, set based: the rows (without those already known at that ETag:
    contactsync's own writes and unchanged rows) through the import path, their ETags, the deletions, the
    delta link or watermark."""
    side = conn.side
    table = _TABLE[side]
    key = RECORD_TABLES[table][0]
    cols = _columns(conn)
    mapped = {c for f in ws.mapping.fields for c in (f.nav, f.crm)} | {key, "Type", "modifiedon", "SystemModifiedAt",
                                                                        "statecode", "fullname", "Name",
                                                                        "Company Name"}
    keep = [c for c in cols if c in mapped]
    arrow = pulled.table(keep)
    with _writing(ws) as con:
        con.register("_pulled_arrow", arrow)
        key_sql = f"lower(p.{q(key)})" if side is Side.CRM else f"p.{q(key)}"
        # one pass: a row already known at that ETag is an echo (contactsync's own write, or unchanged) and
        # is not imported again
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _pulled AS SELECT p.* REPLACE ({key_sql} AS {q(key)}),
                          coalesce(l.etag = p."@etag", false) AS _echo
                        FROM _pulled_arrow p LEFT JOIN live_record l ON l.side = ? AND l.key = {key_sql}
                        WHERE p.{q(key)} IS NOT NULL""", [side.value])
        con.unregister("_pulled_arrow")
        fetched, fresh_n = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT _echo) FROM _pulled").fetchone()
        if fresh_n:
            con.execute(f"CREATE OR REPLACE TEMP VIEW _pulled_fresh AS SELECT {', '.join(q(c) for c in keep)} "
                        "FROM _pulled WHERE NOT _echo")
            data = con.table("_pulled_fresh")
            res = import_records(con, table, data, code_cols=ws._code_cols(table), on_error="skip")
            run_id = int(res.run_id or 0)
        else:
            res = ImportResult(source="live pull")
            run_id = history.start_run(con, "import")
        con.execute("UPDATE run SET note = ? WHERE run_id = ?",
                    [run_note or f"pull {side.value} ({mode}) from {conn.url}", run_id])
        held = 0
        if fresh_n and run_note is None:
            # a pending change of a record that has just come in changed remotely: sending it now would
            # overwrite that change (its ETag is the new one), so it is held as changed remotely
            held = con.execute(
                f"""UPDATE outbox SET status = 'changed_remotely', done_at = now()::TIMESTAMP, message = 'changed in '
                     || ? || ' since the pull (a later pull brought that change in first; sync again to merge it)'
                   WHERE side = ? AND status = 'pending' AND key IN (SELECT {q(key)} FROM _pulled WHERE NOT _echo)""",
                ["CRM" if side is Side.CRM else "Business Central", side.value]).fetchone()[0]
        if fetched:
            con.execute(f"""INSERT OR REPLACE INTO live_record SELECT ?, p.{q(key)}, p."@id", p."@etag",
                            now()::TIMESTAMP, false FROM _pulled p""", [side.value])
        gone_ids = list(pulled.deleted)
        if key_scan and run_note is None:
            gone_ids += [r for (r,) in con.execute(
                """SELECT remote_id FROM live_record l WHERE side = ? AND NOT deleted AND NOT EXISTS
                   (SELECT 1 FROM _pulled p WHERE p."@id" = l.remote_id)""", [side.value]).fetchall()]
        deleted: list[str] = []
        if gone_ids:
            con.execute("CREATE OR REPLACE TEMP TABLE _gone AS SELECT unnest(?::VARCHAR[]) AS i", [gone_ids])
            deleted = [k for (k,) in con.execute(
                "SELECT l.key FROM live_record l JOIN _gone g ON g.i = l.remote_id WHERE l.side = ? ORDER BY 1",
                [side.value]).fetchall()]
            con.execute("UPDATE live_record SET deleted = true FROM _gone g WHERE live_record.side = ? AND "
                        "live_record.remote_id = g.i", [side.value])
            flag, col = _FLAG[side]
            cond = f"c.entity = 'contact' AND c.{q(col)} IN (SELECT l.key FROM live_record l JOIN _gone g ON g.i = " \
                   f"l.remote_id WHERE l.side = ?) AND NOT c.{q(flag)}"
            history.log_before(con, run_id, cond, [side.value])
            con.execute(f"UPDATE coupling c SET {q(flag)} = true WHERE {cond}", [side.value])
            con.execute("DROP TABLE _gone")
        if run_note is None:
            mod = "modifiedon" if side is Side.CRM else "SystemModifiedAt"
            new_mark = None
            if fetched and mod in cols:
                new_mark = con.execute(f"SELECT max(timezone('UTC', TRY_CAST({q(mod)} AS TIMESTAMPTZ))) FROM _pulled"
                                       ).fetchone()[0]
            con.execute("UPDATE live_connection SET delta_link = coalesce(?, delta_link), watermark = greatest("
                        "watermark, ?), last_pull_at = now()::TIMESTAMP, last_pull_run = ? WHERE side = ?",
                        [pulled.delta_link, new_mark, run_id, side.value])
        con.execute("DROP VIEW IF EXISTS _pulled_fresh")
        con.execute("DROP TABLE _pulled")
        if not fresh_n:
            history.finish_run(con, run_id)
    if held:
        note = "; ".join(x for x in (note, f"{held} pending change(s) of records changed remotely are held (not sent "
                                     "over the remote change)") if x)
    return PullResult(side.value, res, fetched=int(fetched), echoes=int(fetched - fresh_n),
                      deleted=tuple(deleted), pages=pulled.pages, requests=requests, mode=mode, note=note, held=held)


# -- deliver -----------------------------------------------------------------------------------------
MAX_ATTEMPTS = 5


def _pick(con, side: Side, limit: int) -> list[Item]:
    # the oldest pending item of each record (its later ones wait for the next batch), the first ``limit`` of
    # them: found on the ids and keys alone, then only those rows are read with their values and ETags (a
    # window over every pending row with its values made each batch cost as much as the whole outbox)
    rows = con.execute(
        """WITH firsts AS (SELECT min(item_id) AS item_id FROM outbox WHERE side = ? AND status = 'pending'
                           GROUP BY key ORDER BY 1 LIMIT ?)
           SELECT o.item_id, o.key, o.op, o.new_values, l.remote_id, l.etag FROM firsts f
           JOIN outbox o ON o.item_id = f.item_id LEFT JOIN live_record l ON l.side = o.side AND l.key = o.key
           ORDER BY o.item_id""", [side.value, limit]).fetchall()
    items = [Item(i, k, op, values_of(v), rid, etag) for i, k, op, v, rid, etag in rows]
    inserts = [it for it in items if it.op == "insert"]
    if inserts:
        table = _TABLE[side]
        key = RECORD_TABLES[table][0]
        cur = con.execute(f"SELECT * FROM {q(table)} WHERE {q(key)} IN (SELECT unnest(?::VARCHAR[]))",
                          [[it.key for it in inserts]]).df()
        by_key = {str(r[key]): r for r in cur.to_dict("records")}
        for it in inserts:
            row = by_key.get(it.key, {})
            it.values = {k: (None if pd.isna(v) else str(v)) for k, v in row.items() if k != key}
            if side is Side.CRM:
                it.remote_id = it.key
    return items


def deliver(ws, side: str | None = None, *, credential=None, credentials: dict | None = None,
            batch_size: int | None = None, max_batches: int | None = None, progress=None) -> DeliveryResult:
    """Send the outbox: per record delivered (new ETag kept), changed remotely (412 → re-pulled, in the errors
    list), rejected (4xx, the service's message) or left pending after bounded retries (429/5xx/lost)."""
    result = DeliveryResult()
    rows: list[dict] = []
    with _reading(ws) as con:
        sides = [Side(side)] if side else [Side(s) for (s,) in con.execute(
            "SELECT DISTINCT side FROM outbox WHERE status = 'pending' AND side IN (SELECT side FROM live_connection) "
            "ORDER BY 1").fetchall()]
    with _writing(ws) as con:
        result.run_id = history.start_run(con, "deliver", note="deliver " + ", ".join(s.value for s in sides))
    for s in sides:
        cred = (credentials or {}).get(s.value, credential)
        remote = _remote(ws, s, cred)
        size = min(batch_size or remote.conn.batch_size or remote.max_batch, remote.max_batch)
        batches = 0
        try:
            while max_batches is None or batches < max_batches:
                with _reading(ws) as con:
                    items = _pick(con, s, size)
                if not items:
                    break
                batches += 1
                if s is Side.NAV:
                    _resolve_nav_ids(remote, items)
                try:
                    outs = remote.send(items)
                except Transient as e:
                    outs = [Outcome(it.item_id, "transient", message=str(e)) for it in items]
                    _apply(ws, s, remote, items, outs, result, rows)
                    break
                _apply(ws, s, remote, items, outs, result, rows)
                if progress:
                    progress(result)
        finally:
            result.retried += remote.retries
            result.requests += remote.requests
            remote.close()
    with _writing(ws) as con:
        result.pending = con.execute("SELECT count(*) FROM outbox WHERE status = 'pending'" +
                                     (" AND side = ?" if side else ""), [Side(side).value] if side else []).fetchone()[0]
        con.execute("UPDATE run SET ended_at = ? WHERE run_id = ?", [history.now_utc(), result.run_id])
    result.outcomes = pd.DataFrame(rows, columns=["item_id", "side", "key", "op", "status", "message"])
    return result


def _resolve_nav_ids(remote: Remote, items: list[Item]) -> None:
    """Records never pulled from Business Central: find their SystemId by number (an update needs it)."""
    lost = [it for it in items if it.remote_id is None and it.op != "insert"]
    if lost:
        found = remote.fetch(lost)
        for it in lost:
            row = found.get(it.item_id)
            if row:
                it.remote_id, it.etag = row["@id"], row["@etag"]


def _apply(ws, side: Side, remote: Remote, items: list[Item], outs: list[Outcome], result: DeliveryResult,
           rows: list[dict]) -> None:
    run_id = int(result.run_id or 0)
    by_id = {it.item_id: it for it in items}
    frame = pd.DataFrame([{"item_id": o.item_id, "status": o.status, "etag": o.etag, "remote_id": o.remote_id,
                           "message": o.message, "key": by_id[o.item_id].key, "op": by_id[o.item_id].op} for o in outs])
    changed = [by_id[o.item_id] for o in outs if o.status == "changed_remotely"]
    repulled = remote.fetch(changed) if changed else {}
    with _writing(ws) as con:
        con.register("_oc", frame)
        con.execute(
            """UPDATE outbox SET attempts = outbox.attempts + 1, message = nullif(o.message, ''), delivery_run = ?,
                 status = CASE WHEN o.status = 'transient' THEN 'pending' ELSE o.status END,
                 done_at = CASE WHEN o.status = 'transient' THEN NULL ELSE now()::TIMESTAMP END
               FROM _oc o WHERE outbox.item_id = o.item_id""", [run_id])
        con.execute("""INSERT OR REPLACE INTO live_record SELECT ?, o.key, coalesce(o.remote_id, l.remote_id), o.etag,
                         now()::TIMESTAMP, o.op = 'delete' FROM _oc o LEFT JOIN live_record l ON l.side = ? AND
                         l.key = o.key WHERE o.status = 'delivered'""", [side.value, side.value])
        # later changes of a record that changed remotely are not sent over the remote change
        superseded = con.execute(
            """UPDATE outbox SET status = 'superseded', done_at = now()::TIMESTAMP, message = 'not sent: '
                 || 'an earlier change of this record met a change made in ' || ? || ' since the pull'
               WHERE side = ? AND status = 'pending' AND key IN (SELECT key FROM _oc WHERE status =
               'changed_remotely')""", [remote.label, side.value]).fetchone()[0]
        col = "crm_id" if side is Side.CRM else "nav_no"
        other = "nav_no" if side is Side.CRM else "crm_id"
        con.execute(f"""INSERT INTO run_error (run_id, {q(col)}, {q(other)}, message)
                        SELECT ?, o.key, c.{q(other)}, o.message FROM _oc o LEFT JOIN coupling c ON c.entity = 'contact'
                        AND c.{q(col)} = o.key WHERE o.status IN ('changed_remotely', 'rejected')""", [run_id])
        # the errors list (sync_errors: per coupling its latest outcome) shows them as failed, with the message
        failed = (f"c.entity = 'contact' AND c.{q(col)} IN (SELECT key FROM _oc WHERE status IN "
                  "('changed_remotely', 'rejected'))")
        if con.execute(f"SELECT count(*) FROM coupling c WHERE {failed}").fetchone()[0]:
            history.log_before(con, run_id, failed)
            con.execute(f"""UPDATE coupling c SET sync_state = 'failed', sync_message = o.message, sync_run_id = ?
                            FROM _oc o WHERE {failed} AND o.key = c.{q(col)}""", [run_id])
        n = dict(con.execute("SELECT status, count(*) FROM _oc GROUP BY 1").fetchall())
        con.unregister("_oc")
        if repulled:
            # the remote version comes in through the import path (its own run), so the next sync sees it
            pulled = Pulled(rows=list(repulled.values()))
            _store_pull(ws, remote.conn, pulled, mode="re-pull", key_scan=False, requests=0,
                        run_note=f"re-pull of {len(repulled)} {side.value} record(s) that changed remotely "
                                 f"(delivery run {result.run_id})")
        history.add_counts(con, run_id, modified=n.get("delivered", 0),
                           failed=n.get("rejected", 0) + n.get("changed_remotely", 0))
    result.delivered += n.get("delivered", 0)
    result.changed_remotely += n.get("changed_remotely", 0)
    result.rejected += n.get("rejected", 0)
    result.superseded += superseded
    rows += [{"item_id": o.item_id, "side": side.value, "key": by_id[o.item_id].key, "op": by_id[o.item_id].op,
              "status": OutboxStatus.PENDING.value if o.status == "transient" else o.status, "message": o.message}
             for o in outs]


def outbox(ws, status: str | None = None, side: str | None = None, limit: int | None = 1000) -> pd.DataFrame:
    with _reading(ws) as con:
        return outbox_frame(con, status=status, side=side, limit=limit)
