"""The errors list across runs (BC's page *Coupled Data Synchronization Errors*, CRMSkippedRecords.Page.al),
its actions (Retry / Retry All, Find for Deleted, Restore Records, Delete Couplings) and the deletion-conflict
strategies a sync applies (BC's codeunit Integration Rec. Synch. Invoke, ``GetCoupledRecord``).

A service: it works on the connection of the caller's transaction (one user action = one run) and never
imports a front end.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from . import coupling as cp
from . import history
from .errors import NotFoundError, SyncError
from .mapping import TableMapping
from .sqlbuild import q
from .strategies import DeletionConflict, check_deletion

if TYPE_CHECKING:
    from .pipeline import Relations

__all__ = ["BC_DELETED_MESSAGE", "ERROR_COLUMNS", "delete_couplings", "find_for_deleted", "resolve_deleted", "retry", "run_issues",
           "run_note", "sync_errors"]

#: BC's ``CoupledRecordIsDeletedErr`` (codeunit Integration Rec. Synch. Invoke), %1 = the source table caption
BC_DELETED_MESSAGE = "The {record} record cannot be updated because it is coupled to a deleted record."

#: the columns of :func:`sync_errors`
ERROR_COLUMNS = ("nav_no", "crm_id", "nav_name", "crm_name", "state", "reason", "message", "run_id", "at",
                 "excluded", "fail_streak", "nav_exists", "crm_exists")


def _names(m: TableMapping) -> tuple[str, str]:
    """SQL for a NAV record's (alias n) and a CRM record's (alias r) display name."""
    nav = ("coalesce(nullif(n.\"Name\", ''), nullif(trim(concat_ws(' ', n.\"First Name\", n.\"Surname\")), ''))"
           if m.nav_table == "nav_contact" else f"CAST(n.{q(m.nav_key)} AS VARCHAR)")
    crm = ("coalesce(nullif(r.fullname, ''), nullif(trim(concat_ws(' ', r.firstname, r.lastname)), ''))"
           if m.crm_table == "crm_contact" else f"CAST(r.{q(m.crm_key)} AS VARCHAR)")
    return nav, crm


def _gone(m: TableMapping) -> tuple[str, str]:
    """SQL: the coupling c's NAV / CRM record is gone (deleted, or missing from the last full import)."""
    return (f"(n.{q(m.nav_key)} IS NULL OR coalesce(c.nav_missing, false))",
            f"(r.{q(m.crm_key)} IS NULL OR coalesce(c.crm_missing, false))")


def _joins(m: TableMapping) -> str:
    return (f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = c.nav_no "
            f"LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = c.crm_id")


def sync_errors(con, m: TableMapping, *, state: str | None = None, nos=None) -> pd.DataFrame:
    """Per contact coupling whose latest run failed or skipped it: the records on each side (names), the state
    (``failed`` | ``skipped``), why (``reason``: ``error``, ``deleted`` (coupled to a deleted record),
    ``excluded`` (Skipped after failing the same way in consecutive runs, excluded until retried),
    ``conflict``, ``filter``), the message, the run and when. One query."""
    if state not in (None, "failed", "skipped"):
        raise SyncError(f"state must be None, 'failed' or 'skipped', got {state!r}")
    nav_name, crm_name = _names(m)
    nav_gone, crm_gone = _gone(m)
    where = ["c.entity = 'contact'", "(c.sync_state IS NOT NULL OR coalesce(c.excluded, false))"]
    params: list = []
    st = "CASE WHEN coalesce(c.excluded, false) THEN 'skipped' ELSE c.sync_state END"
    if state is not None:
        where.append(f"{st} = ?")
        params.append(state)
    if nos is not None:
        where.append("c.nav_no IN (SELECT unnest(?::VARCHAR[]))")
        params.append([cp.nav_key(k) for k in ([nos] if isinstance(nos, str) else nos)])
    sql = (f"SELECT c.nav_no, c.crm_id, {nav_name} AS nav_name, {crm_name} AS crm_name, {st} AS state, "
           f"CASE WHEN coalesce(c.excluded, false) THEN 'excluded' "
           f"WHEN c.sync_state = 'failed' AND ({nav_gone} OR {crm_gone}) THEN 'deleted' "
           f"WHEN c.sync_state = 'failed' THEN 'error' ELSE coalesce(s.reason, 'conflict') END AS reason, "
           f"c.sync_message AS message, c.sync_run_id AS run_id, ru.started_at AS at, "
           f"coalesce(c.excluded, false) AS excluded, coalesce(c.fail_streak, 0) AS fail_streak, "
           f"NOT {nav_gone} AS nav_exists, NOT {crm_gone} AS crm_exists "
           f"FROM coupling c {_joins(m)} LEFT JOIN run ru ON ru.run_id = c.sync_run_id "
           f"LEFT JOIN run_skip s ON s.run_id = c.sync_run_id AND s.nav_no = c.nav_no "
           f"WHERE {' AND '.join(where)} ORDER BY ru.started_at DESC NULLS LAST, c.nav_no")
    return con.execute(sql, params).df()


def run_issues(con, m: TableMapping, run_id: int) -> pd.DataFrame:
    """What a run failed and skipped, with the records' names: ``state, nav_no, nav_name, crm_id, crm_name,
    reason, message``."""
    nav_name, crm_name = _names(m)
    return con.execute(
        f"SELECT x.state, x.nav_no, {nav_name} AS nav_name, x.crm_id, {crm_name} AS crm_name, x.reason, x.message "
        f"FROM (SELECT 'failed' AS state, nav_no, crm_id, 'error' AS reason, message FROM run_error WHERE run_id = ? "
        f"UNION ALL SELECT 'skipped', nav_no, crm_id, reason, message FROM run_skip WHERE run_id = ?) x "
        f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = x.nav_no "
        f"LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = x.crm_id ORDER BY x.state, x.nav_no, x.crm_id",
        [run_id, run_id]).df()


def run_note(con, m: TableMapping, keys: list[str], *, force: bool = True, limit: int = 3) -> str:
    """A run's note naming the contacts it was for, e.g. "Synchronize Now: CT000001 (Anna Smith)" (``force``),
    else "Synchronize: ..."."""
    nav_name, _ = _names(m)
    rows = con.execute(f"SELECT k, {nav_name} FROM (SELECT unnest(?::VARCHAR[]) AS k) s "
                       f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = s.k ORDER BY k", [keys[:limit]]).fetchall()
    named = ", ".join(f"{k} ({name})" if name else k for k, name in rows)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{'Synchronize Now' if force else 'Synchronize'}: {named}{more}"


def find_for_deleted(con, m: TableMapping) -> pd.DataFrame:
    """BC's *Find for Deleted*: the couplings whose record is gone on either side (deleted, or missing from
    the last full import): ``entity, nav_no, crm_id, nav_name, crm_name, deleted`` ('nav' | 'crm' | 'both')."""
    nav_name, crm_name = _names(m)
    nav_gone, crm_gone = _gone(m)
    contacts = (f"SELECT 'contact' AS entity, c.nav_no, c.crm_id, {nav_name} AS nav_name, {crm_name} AS crm_name, "
                f"CASE WHEN {nav_gone} AND {crm_gone} THEN 'both' WHEN {nav_gone} THEN 'nav' ELSE 'crm' END AS deleted "
                f"FROM coupling c {_joins(m)} WHERE c.entity = 'contact' AND ({nav_gone} OR {crm_gone})")
    companies = ("SELECT 'company', c.nav_no, c.crm_id, n.\"Name\", a.name, "
                 "CASE WHEN (n.\"No.\" IS NULL OR c.nav_missing) AND (a.accountid IS NULL OR c.crm_missing) THEN 'both' "
                 "WHEN n.\"No.\" IS NULL OR c.nav_missing THEN 'nav' ELSE 'crm' END FROM coupling c "
                 "LEFT JOIN nav_contact n ON n.\"No.\" = c.nav_no LEFT JOIN crm_account a ON a.accountid = c.crm_id "
                 "WHERE c.entity = 'company' AND (n.\"No.\" IS NULL OR a.accountid IS NULL OR coalesce(c.nav_missing, "
                 "false) OR coalesce(c.crm_missing, false))")
    return con.execute(f"{contacts} UNION ALL {companies} ORDER BY entity DESC, nav_no").df()


def retry(con, run_id: int | None, keys: list[str] | None, *, check: bool = True) -> int:
    """BC's *Retry* / *Retry All*: clear the Skipped flag of the named couplings (NAV No.) or of all, so the
    next run plans them again. Returns how many were Skipped. Unknown keys raise, naming them (``check``)."""
    if keys is not None and check:
        unknown = [r[0] for r in con.execute(
            "SELECT k FROM (SELECT unnest(?::VARCHAR[]) AS k) s WHERE NOT EXISTS (SELECT 1 FROM coupling c "
            "WHERE c.entity = 'contact' AND c.nav_no = s.k) ORDER BY k", [keys]).fetchall()]
        if unknown:
            raise NotFoundError(f"not coupled: {', '.join(unknown[:10])}; retry names coupled NAV contacts "
                                "(see ws.sync_errors())", keys=unknown)
    where = "c.entity = 'contact' AND coalesce(c.excluded, false)"
    params: list = []
    if keys is not None:
        where += " AND c.nav_no IN (SELECT unnest(?::VARCHAR[]))"
        params.append(keys)
    if run_id is not None:  # a dry run (no run) is rolled back: nothing to undo
        history.log_before(con, run_id, where, params)
    n = con.execute(f"UPDATE coupling c SET excluded = false, fail_streak = 0 WHERE {where}", params).fetchone()[0]
    return int(n)


def delete_couplings(con, run_id: int, keys: list[str]) -> int:
    """BC's *Delete Couplings* on the errors list: delete the contact couplings of the NAV contacts ``keys`` (one
    statement, logged for undo). Unknown keys raise, naming them. Returns how many were deleted."""
    unknown = [r[0] for r in con.execute(
        "SELECT k FROM (SELECT unnest(?::VARCHAR[]) AS k) s WHERE NOT EXISTS (SELECT 1 FROM coupling c "
        "WHERE c.entity = 'contact' AND c.nav_no = s.k) ORDER BY k", [keys]).fetchall()]
    if unknown:
        raise NotFoundError(f"not coupled: {', '.join(unknown[:10])}; nothing was deleted (refresh the list)",
                            keys=unknown)
    where = "c.entity = 'contact' AND c.nav_no IN (SELECT unnest(?::VARCHAR[]))"
    history.log_before(con, run_id, where, [keys])
    n = int(con.execute(f"DELETE FROM coupling c WHERE {where}", [keys]).fetchone()[0])
    history.add_counts(con, run_id, uncoupled=n)
    return n


def resolve_deleted(con, m: TableMapping, run_id: int, ts: datetime, strategy: str, direction: str,
                    keys: list[str] | None, *, prefix: str, width: int, rel: Relations) -> pd.DataFrame:
    """Apply a deletion-conflict strategy to the contact couplings (in ``keys``, else all) whose record is gone
    on the side ``direction`` writes to (push: CRM, pull: NAV, both: either), as BC's ``GetCoupledRecord``
    does when a job meets a coupled record that was deleted: ``remove_coupling`` deletes the coupling;
    ``restore`` re-creates the deleted side from the other (a new record, as BC's ``PrepareNewDestination``)
    and couples it. Skipped (excluded) pairs are left alone. A pair that cannot be restored keeps its
    coupling and is named in the run's ``rel.restore_fail`` (the sync's check step then fails it with why);
    the records it re-creates go through ``rel.create``.

    Returns one row per pair handled: ``nav_no, crm_id, deleted, action`` ('uncoupled' | 'restored' |
    'not restored'), ``new_key``, ``message``."""
    strategy = check_deletion(strategy)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.restore_fail} (nav_no VARCHAR, crm_id VARCHAR, message VARCHAR)")
    cols = ["nav_no", "crm_id", "deleted", "action", "new_key", "message"]
    if strategy == DeletionConflict.NONE:
        return pd.DataFrame(columns=cols)
    nav_gone, crm_gone = _gone(m)
    sides = {"push": f"{crm_gone}", "pull": f"{nav_gone}", "both": f"({nav_gone} OR {crm_gone})"}[direction]
    where, params = f"c.entity = 'contact' AND NOT coalesce(c.excluded, false) AND {sides}", []
    if keys is not None:
        where += " AND c.nav_no IN (SELECT unnest(?::VARCHAR[]))"
        params.append(keys)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _del AS SELECT c.*, CASE WHEN {nav_gone} AND {crm_gone} THEN 'both' "
                f"WHEN {nav_gone} THEN 'nav' ELSE 'crm' END AS deleted FROM coupling c {_joins(m)} WHERE {where}",
                params)
    if strategy == DeletionConflict.REMOVE_COUPLING:  # BC: RemoveCoupling in HandleOnDeletionConflictDetected
        history.log_before(con, run_id, "c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM _del)")
        n = con.execute("DELETE FROM coupling c WHERE c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM _del)"
                        ).fetchone()[0]
        history.add_counts(con, run_id, uncoupled=int(n))
        return _logged(con, run_id, con.execute(
            "SELECT nav_no, crm_id, deleted, 'uncoupled' AS action, NULL AS new_key, 'Deletion conflict handled by "
            "removing the coupling to the deleted record (the ' || CASE deleted WHEN 'nav' THEN 'NAV' WHEN 'crm' "
            "THEN 'CRM' ELSE 'NAV and CRM' END || ' contact is gone).' AS message FROM _del ORDER BY nav_no").df())
    # restore: from the side that still exists; a pair gone on both sides has nothing to restore from
    con.execute(f"INSERT INTO {rel.restore_fail} SELECT nav_no, crm_id, 'both records are deleted, so there is "
                "nothing to restore from; remove the coupling instead (Remove Coupling)' FROM _del WHERE deleted = 'both'")
    out: list[tuple] = []
    fixed_cols = [c for c in history.table_columns(con, "coupling")]
    col_sql = ", ".join(q(c) for c in fixed_cols)
    for side, lost in (("crm", "crm"), ("nav", "nav")):
        if not con.execute("SELECT count(*) FROM _del WHERE deleted = ?", [lost]).fetchone()[0]:
            continue
        history.log_before(con, run_id, "c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM _del WHERE "
                           "deleted = ?)", [lost])
        con.execute("DELETE FROM coupling c WHERE c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM _del "
                    "WHERE deleted = ?)", [lost])
        if side == "crm":  # re-create the CRM contact from the NAV person
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT nav_no FROM _del WHERE deleted = 'crm'")
            created, failures = cp.create_crm(con, m, run_id, ts, strict=False, keys=rel.create)
            old = dict(con.execute("SELECT nav_no, crm_id FROM _del WHERE deleted = 'crm'").fetchall())
            made = [(k, old[k], "crm", "restored", v, f"Deletion conflict handled by restoring the deleted record: "
                     f"CRM contact {v} created from NAV contact {k} and coupled.")
                    for k, v in created.itertuples(index=False)]
            fails = [(f[0], old.get(f[0]), f[2]) for f in failures]
        else:  # re-create the NAV person from the CRM contact
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT crm_id FROM _del WHERE deleted = 'nav'")
            created, failures = cp.create_nav(con, m, run_id, ts, strict=False, keys=rel.create, prefix=prefix,
                                              width=width)
            old = dict(con.execute("SELECT crm_id, nav_no FROM _del WHERE deleted = 'nav'").fetchall())
            made = [(old[v], v, "nav", "restored", k, f"Deletion conflict handled by restoring the deleted record: "
                     f"NAV contact {k} created from CRM contact {v} and coupled.")
                    for k, v in created.itertuples(index=False)]
            fails = [(old.get(f[1]), f[1], f[2]) for f in failures]
        out += made
        if fails:  # not restored: the coupling is put back as it was; the sync fails the pair with why
            fdf = pd.DataFrame(fails, columns=["nav_no", "crm_id", "message"])
            con.register("_restore_fail_df", fdf)
            con.execute(f"INSERT INTO {rel.restore_fail} SELECT nav_no, crm_id, message FROM _restore_fail_df")
            con.unregister("_restore_fail_df")
            con.execute(f"INSERT INTO coupling ({col_sql}) SELECT {col_sql} FROM _del WHERE nav_no IN "
                        f"(SELECT nav_no FROM {rel.restore_fail})")
            # create_* counted and listed them as this run's failures: the sync's plan reports them instead
            n = con.execute(f"DELETE FROM run_error WHERE run_id = ? AND (nav_no IN (SELECT nav_no FROM {rel.restore_fail}) "
                            f"OR crm_id IN (SELECT crm_id FROM {rel.restore_fail}))", [run_id]).fetchone()[0]
            history.add_counts(con, run_id, failed=-int(n))
    fails = con.execute(f"SELECT nav_no, crm_id, message FROM {rel.restore_fail} ORDER BY nav_no").fetchall()
    out += [(k, c, "both" if "both records" in msg else None, "not restored", None, msg) for k, c, msg in fails]
    return _logged(con, run_id, pd.DataFrame(out, columns=cols))


def _logged(con, run_id: int, frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the run's handled deletions (``run_deletion``); returns ``frame``."""
    if len(frame):
        con.register("_run_deletion_df", frame)
        con.execute("INSERT INTO run_deletion SELECT ?, nav_no, crm_id, deleted, action, new_key, message "
                    "FROM _run_deletion_df", [run_id])
        con.unregister("_run_deletion_df")
    return frame
