"""The DuckDB store: where connections are opened, transactions run and statements execute.

A file workspace holds its connection only for the length of an action (or of a
:meth:`Store.hold` block), so a notebook and a scheduled run can share one file. On a lock the
store retries briefly, then raises :class:`WorkspaceBusyError` naming the holder.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import WorkspaceBusyError, WorkspaceError

_LOCK_RE = re.compile(r"lock", re.I)


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """DuckDB draws a progress bar on stdout for a query over 2 s, which would break
    `contactsync ... --json`; the CLI and the views report progress themselves. Inside a Jupyter kernel
    without ipywidgets (the core install's papermill runs) the bar is already off and DuckDB refuses
    any change to the setting, so it is changed only when on."""
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]:
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
            con.execute("BEGIN TRANSACTION")
            self._in_tx = True
            try:
                yield con
            except BaseException:
                self._in_tx = False
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            else:
                self._in_tx = False
                con.execute("COMMIT")

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
