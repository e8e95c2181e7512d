"""A run's changes as something to send: the :class:`ChangeSet` a :class:`Sink` consumes, and the outbox.

Every run logs its field changes (``change_log``); :func:`queue_outbox` copies them — one row per record, set
based, in the run's own transaction — into the ``outbox`` for every side that has a live connection
(``live_connection``). Runs that brought data *in* from a system (imports, live pulls, and undos of them)
are not sent back. Undo is a run like any other: its change log goes out the same way.

This module knows tables, not connectors: the live connectors (``contactsync.live``) read the outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import pandas as pd

__all__ = ["Change", "ChangeSet", "OutboxStatus", "Sink", "change_set", "outbox_frame", "queue_outbox", "values_of"]


class OutboxStatus(str, Enum):
    PENDING = "pending"                   # not sent yet (or to be sent again: a transient failure)
    DELIVERED = "delivered"
    CHANGED_REMOTELY = "changed_remotely"  # 412: the record changed in the other system since the pull
    REJECTED = "rejected"                 # 4xx: the service refused it (its message kept)
    SUPERSEDED = "superseded"             # not sent: the record changed remotely before (re-pulled)


@dataclass(frozen=True)
class Change:
    """One record's change in one run: ``op`` insert | update | delete, the new and old field values."""

    side: str
    key: str
    op: str
    new_values: dict = field(default_factory=dict)
    old_values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeSet:
    run_id: int
    changes: tuple[Change, ...]

    def for_side(self, side: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.side == side)

    def __len__(self) -> int:
        return len(self.changes)


class Sink(Protocol):
    """Something that takes a run's changes (the live connectors' outbox; a file export)."""

    def consume(self, changes: ChangeSet) -> None: ...


#: the key an insert's or delete's field-less change-log row gets in the JSON values (dropped when read)
_OP = "@op"

#: fields the services set themselves (never sent, so never queued): Dataverse's modifiedon/fullname, BC's
#: SystemModifiedAt; the keys are not fields
READ_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "crm": frozenset({"modifiedon", "fullname", "contactid"}),
    "nav": frozenset({"SystemModifiedAt", "No."}),
}


def _read_only_sql() -> str:
    pairs = ", ".join(f"('{s}', '{f}')" for s, fs in sorted(READ_ONLY_FIELDS.items()) for f in sorted(fs))
    return f"(l.side, l.field) NOT IN (SELECT * FROM (VALUES {pairs}))"


def values_of(text: str) -> dict:
    """A queued record's field values (JSON text) without the marker of a field-less row."""
    d = json.loads(text) if text else {}
    d.pop(_OP, None)
    return d


def _grouped_sql(where: str) -> str:
    return f"""SELECT l.run_id, l.side, l.key,
                 CASE WHEN bool_or(l.op = 'insert') THEN 'insert' WHEN bool_or(l.op = 'delete') THEN 'delete'
                      ELSE 'update' END AS op,
                 CAST(json_group_object(coalesce(l.field, '{_OP}'), l.new_value) AS VARCHAR) AS new_values,
                 CAST(json_group_object(coalesce(l.field, '{_OP}'), l.old_value) AS VARCHAR) AS old_values
               FROM change_log l WHERE {where} GROUP BY l.run_id, l.side, l.key"""


def change_set(con, run_id: int) -> ChangeSet:
    """The run's changes, one :class:`Change` per record (sides ``nav``, ``crm``, ``account``)."""
    rows = con.execute(_grouped_sql("l.run_id = ?") + " ORDER BY l.side, l.key", [run_id]).fetchall()
    return ChangeSet(run_id, tuple(Change(s, k, op, values_of(n), values_of(o)) for _, s, k, op, n, o in rows))


def queue_outbox(con, run_id: int) -> int:
    """Queue the run's changes for the sides with a live connection (nothing when there is none). Returns
    the number of records queued. Called by ``history.finish_run``, inside the run's transaction."""
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'live_connection' "
                      "AND table_schema = 'main'").fetchone()[0]
    if not has or not con.execute("SELECT count(*) FROM live_connection").fetchone()[0]:
        return 0
    inbound = con.execute(
        """SELECT r.kind = 'import' OR (r.kind = 'undo' AND coalesce(u.kind = 'import', false))
           FROM run r LEFT JOIN run u ON u.run_id = r.undoes WHERE r.run_id = ?""", [run_id]).fetchone()
    if inbound is None or inbound[0]:
        return 0
    return con.execute(
        f"""INSERT INTO outbox (item_id, run_id, side, key, op, new_values, old_values, status, attempts, queued_at)
            SELECT nextval('outbox_seq'), g.*, 'pending', 0, now()::TIMESTAMP FROM ({_grouped_sql(
            "l.run_id = ? AND l.side IN (SELECT side FROM live_connection) AND (l.field IS NULL OR "
            + _read_only_sql() + ")")} ORDER BY l.side, l.key) g""",
        [run_id]).fetchone()[0]


def outbox_frame(con, *, status: str | None = None, side: str | None = None, limit: int | None = 1000
                 ) -> pd.DataFrame:
    where, params = ["true"], []
    if status:
        where.append("status = ?")
        params.append(status)
    if side:
        where.append("side = ?")
        params.append(side)
    lim = f" LIMIT {int(limit)}" if limit else ""
    return con.execute(f"SELECT item_id, run_id, side, key, op, status, attempts, message, new_values, old_values, "
                       f"delivery_run, queued_at, done_at FROM outbox WHERE {' AND '.join(where)} ORDER BY item_id{lim}",
                       params).df()
