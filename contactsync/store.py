"""The DuckDB store: where connections are opened, transactions run and statements execute.

A file workspace holds its connection only for the length of an action (or of a
:meth:`Store.hold` block), so a notebook and a scheduled run can share one file. On a lock the
store retries briefly, then raises :class:`WorkspaceBusyError` naming the holder.
"""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import WorkspaceBusyError, WorkspaceError

__all__ = ["Store", "check_duckdb_file"]

_LOCK_RE = re.compile(r"lock", re.I)
_CONFLICT_RE = re.compile(r"conflict", re.I)

# One writer at a time per workspace file in this process. DuckDB locks a file against other processes,
# but two Workspace objects on one file in one process share DuckDB's database: their transactions would
# overlap and one would fail with DuckDB's raw "Conflict on update!". They wait for each other instead.
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()

#: What a file that is not a workspace looks like, by its first bytes, to name it in the error
_NOT_DUCKDB = ((b"PAR1", "a Parquet file"), (b"PK\x03\x04", "an Excel (.xlsx) or other zip file"),
               (b"SQLite format 3", "an SQLite database"))


def _file_lock(path: str) -> threading.RLock:
    key = os.path.realpath(path)
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.RLock())


def check_duckdb_file(path: str) -> None:
    """Refuse, before DuckDB touches it, an existing non-empty file that is not a DuckDB database (DuckDB's
    files carry ``DUCK`` at byte 8): a CSV, Parquet or Excel file given where a workspace belongs."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return
    with open(p, "rb") as f:
        head = f.read(16)
    if head[8:12] == b"DUCK":
        return
    kind = next((name for magic, name in _NOT_DUCKDB if head.startswith(magic)), None)
    if kind is None:
        try:
            head.decode("utf-8")
            kind = "a text file (CSV, JSON, ...)"
        except UnicodeDecodeError:
            kind = "not a DuckDB database"
    raise WorkspaceError(
        f"{path!r} is not a contactsync workspace: it is {kind}. A workspace is a DuckDB file (e.g. "
        f"workspace.duckdb); to load this file into one, import it: ws.import_nav({path!r}) or ws.import_crm(...) "
        "(CLI: contactsync import nav FILE -w workspace.duckdb).", path=path)


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """DuckDB draws a progress bar on stdout for a query over 2 s, which would break
    `contactsync ... --json`; the CLI and the views report progress themselves. Inside a Jupyter kernel
    without ipywidgets (the core install's papermill runs) the bar is already off and DuckDB refuses
    any change to the setting, so it is changed only when on."""
    (on,) = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0]  # fetchall: no open result
    if on:
        con.execute("SET enable_progress_bar = false")
    return con


class Store:
    def __init__(self, path: str | Path = ":memory:", *, busy_timeout: float = 5.0):
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._con: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._in_tx = False
        if self.in_memory:
            self._con = _quiet(duckdb.connect(":memory:"))

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        check_duckdb_file(self.path)
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                return _quiet(duckdb.connect(self.path))
            except duckdb.IOException as exc:
                text = str(exc)
                if not _LOCK_RE.search(text):
                    raise WorkspaceError(
                        f"cannot open workspace {self.path!r}: {text}. Check the path and that it is a "
                        "contactsync workspace (a DuckDB file)."
                    ) from exc
                if time.monotonic() >= deadline:
                    holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
                    by = f" by {holder.group(1)} (PID {holder.group(2)})" if holder else ""
                    raise WorkspaceBusyError(
                        f"workspace {self.path!r} is busy: it is in use{by}. Wait for that run to finish "
                        "(or close the other notebook/app), then try again.",
                        holder=holder.group(0)[8:] if holder else None,
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise WorkspaceError(
                    f"cannot open workspace {self.path!r}: {exc}. Is it a contactsync workspace "
                    "(a DuckDB file) written by this version of DuckDB?"
                ) from exc

    @contextmanager
    def hold(self):
        """Keep one connection open across several actions (re-entrant)."""
        if self._con is None:
            self._con = self._connect()
        self._depth += 1
        try:
            yield self._con
        finally:
            self._depth -= 1
            if self._depth == 0 and not self.in_memory:
                con, self._con = self._con, None
                con.close()

    def connection(self):
        """Context manager yielding a connection for one action."""
        return self.hold()

    @contextmanager
    def transaction(self):
        """One user action = one transaction: commit on success, roll back on any error."""
        with self.hold() as con:
            if self._in_tx:  # nested: part of the caller's transaction
                yield con
                return
            lock = None if self.in_memory else _file_lock(self.path)
            if lock is not None and not lock.acquire(timeout=self.busy_timeout):
                raise WorkspaceBusyError(
                    f"workspace {self.path!r} is busy: another action in this program (another Workspace object "
                    "on the same file) is still running. Wait for it to finish, then try again.")
            try:
                con.execute("BEGIN TRANSACTION")
                self._in_tx = True
                try:
                    yield con
                except BaseException as exc:
                    self._in_tx = False
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:
                        pass
                    if isinstance(exc, duckdb.TransactionException) and _CONFLICT_RE.search(str(exc)):
                        raise self._conflict(exc) from exc
                    raise
                else:
                    self._in_tx = False
                    try:
                        con.execute("COMMIT")
                    except duckdb.TransactionException as exc:
                        raise self._conflict(exc) from exc
            finally:
                if lock is not None:
                    lock.release()

    def _conflict(self, exc: Exception) -> WorkspaceBusyError:
        return WorkspaceBusyError(
            f"workspace {self.path!r}: another action changed the same records at the same time, so this one was "
            f"not written (nothing of it is kept). Try it again. ({str(exc).splitlines()[0]})")

    @contextmanager
    def read_only(self):
        """A transaction the database itself keeps read-only (DuckDB's ``BEGIN TRANSACTION READ ONLY``:
        any statement that would write a table, a sequence or the catalog fails), always rolled back."""
        with self.hold() as con:
            if self._in_tx:
                raise WorkspaceError("a read-only query cannot run inside another action's transaction")
            con.execute("BEGIN TRANSACTION READ ONLY")
            self._in_tx = True
            try:
                yield con
            finally:
                self._in_tx = False
                try:
                    con.execute("ROLLBACK")
                except duckdb.TransactionException:  # a failed statement may already have ended it
                    pass

    def close(self):
        if self._con is not None:
            self._con.close()
            self._con = None
            self._depth = 0
