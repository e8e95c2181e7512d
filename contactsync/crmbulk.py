"""Bulk actions of the Dynamics CRM Contacts list that the Workspace has only for one record.

:func:`create_nav_for`: *Create Contact in Dynamics NAV* for many CRM contacts at once — the uncoupled ones
among them get a new NAV person each (under the company coupled to their account), coupled, in one
transaction and one run; the coupled ones are left as they are (the single-record action asks before it
replaces a coupling; a bulk action never does). Set-based: the keys go in as one registered frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from . import coupling as cp
from . import history, pipeline
from .errors import ContactSyncError, NotFoundError
from .sqlbuild import q

__all__ = ["BulkCreated", "create_nav_for"]


@dataclass(frozen=True)
class BulkCreated:
    """What :func:`create_nav_for` did: ``created`` (``crm_id``, ``nav_no``), ``failed`` (``crm_id``,
    ``message``: why no NAV contact could be made), ``already_coupled`` (left as they were)."""

    run_id: int | None
    created: pd.DataFrame = field(repr=False)
    failed: pd.DataFrame = field(repr=False)
    already_coupled: int = 0

    @property
    def message(self) -> str:
        parts = [f"{len(self.created):,} NAV contact(s) created and coupled"]
        if self.already_coupled:
            parts.append(f"{self.already_coupled:,} already coupled, left as they are")
        if len(self.failed):
            first = "; ".join(f"{r.crm_id}: {str(r.message).rstrip('.')}" for r in self.failed.head(3).itertuples())
            more = f"; and {len(self.failed) - 3:,} more" if len(self.failed) > 3 else ""
            parts.append(f"{len(self.failed):,} not created ({first}{more})")
        return ", ".join(parts) + "."

    def __str__(self) -> str:
        return self.message


def create_nav_for(ws, crm_ids: Iterable[str]) -> BulkCreated:
    """Create a NAV person for each uncoupled CRM contact of ``crm_ids``, coupled; one run (undo it with
    ``ws.undo(result.run_id)``). A contact that cannot get one (no parent account, account not coupled to a
    NAV company) is listed in ``failed``; the others are still created. Nothing to create: no run."""
    if isinstance(crm_ids, str):
        crm_ids = [crm_ids]
    keys = sorted({cp.crm_key(k) for k in crm_ids})
    if not keys:
        raise ContactSyncError("choose at least one CRM contact to create in Dynamics NAV")
    m = ws.mapping
    settings = ws.settings._all()
    ts = history.now_utc()
    frame = pd.DataFrame({"crm_id": pd.Series(keys, dtype=object)})
    with ws.transaction() as con:
        rel = pipeline.Relations()
        con.register("_cs_bulk_keys", frame)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.scope} AS SELECT CAST(crm_id AS VARCHAR) AS crm_id "
                        "FROM _cs_bulk_keys")
        finally:
            con.unregister("_cs_bulk_keys")
        missing = con.execute(f"SELECT s.crm_id FROM {rel.scope} s WHERE NOT EXISTS (SELECT 1 FROM {q(m.crm_table)} r "
                              f"WHERE r.{q(m.crm_key)} = s.crm_id) ORDER BY 1 LIMIT 1").fetchone()
        if missing:
            rel.drop(con)
            raise NotFoundError(f"CRM contact {missing[0]!r} does not exist; refresh the list and choose again")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT s.crm_id FROM {rel.scope} s "
                    "WHERE NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.crm_id = s.crm_id)")
        todo = con.execute(f"SELECT count(*) FROM {rel.create}").fetchone()[0]
        already = len(keys) - todo
        if not todo:
            rel.drop(con)
            return BulkCreated(None, pd.DataFrame(columns=["crm_id", "nav_no"]),
                               pd.DataFrame(columns=["crm_id", "message"]), already)
        run_id = history.start_run(con, "create", direction="pull", note=f"NAV contacts from {todo:,} CRM contact(s)")
        made, failures = cp.create_nav(con, m, run_id, ts, strict=False, keys=rel.create,
                                       prefix=settings["nav_no_prefix"], width=int(settings["nav_no_width"]))
        rel.drop(con)
        created = made[["crm_id", "nav_no"]].reset_index(drop=True) if len(made) else pd.DataFrame(
            columns=["crm_id", "nav_no"])
        failed = pd.DataFrame([(f[1], f[2]) for f in failures], columns=["crm_id", "message"])
        history.finish_run(con, run_id, note=f"{len(created):,} NAV contact(s) created from Dynamics CRM")
    return BulkCreated(run_id, created, failed, already)
