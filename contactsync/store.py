"""The DuckDB store: where connections are opened, transactions run and statements execute.

A file workspace holds its connection only for the length of an action (or of a
:meth:`Store.hold` block), so a notebook and a scheduled run can share one file. On a lock the
store retries briefly, then raises :class:`WorkspaceBusyError` naming the holder.

Every statement of the package runs through :meth:`Connection.execute`, the one execution chokepoint:
it labels the statement (``label=`` or, by default, the calling function and line, e.g.
``sync.plan:312``), adds the label and the statement to a failing statement's DuckDB error (as an
exception note, so the error keeps its type), and, when tracing is on, records statement, rows and
time. Tracing: ``CONTACTSYNC_TRACE=1`` in the environment logs each statement to the
``contactsync.sql`` logger (on stderr if logging is not configured); ``with contactsync.trace() as t:``
collects them (``t.frame()``, ``t.summary()``).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from . import checkpoint as _checkpoint
from .errors import WorkspaceBusyError, WorkspaceError

__all__ = ["Connection", "Statement", "Store", "Trace", "check_duckdb_file", "trace"]

log = logging.getLogger("contactsync.sql")

_LOCK_RE = re.compile(r"could not set lock|conflicting lock|\block\b", re.I)  # not "block at location"
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


# -- the execution chokepoint ---------------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    """One traced statement: its label (``module.function:line`` unless given), the SQL, the rows it
    returned or changed (``None`` when DuckDB does not say, e.g. DDL) and its seconds."""
    label: str
    sql: str
    rows: int | None
    seconds: float


@dataclass
class Trace:
    """The statements run inside a :func:`trace` block, in order."""
    statements: list[Statement] = field(default_factory=list)

    def frame(self):
        import pandas as pd

        return pd.DataFrame([(s.label, s.rows, s.seconds, s.sql) for s in self.statements],
                            columns=["label", "rows", "seconds", "sql"])

    def summary(self):
        """Per label: statements, rows and seconds, slowest first."""
        df = self.frame()
        return (df.groupby("label", sort=False).agg(statements=("sql", "size"), rows=("rows", "sum"),
                                                    seconds=("seconds", "sum"))
                .sort_values("seconds", ascending=False).reset_index())

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.statements)

    def __str__(self) -> str:
        lines = [f"{len(self.statements)} statement(s), {self.seconds:.3f} s"]
        lines += [f"{s.seconds * 1000:9.1f} ms {'' if s.rows is None else s.rows:>9} rows  {s.label}"
                  for s in self.statements]
        return "\n".join(lines)


_TRACES: contextvars.ContextVar[tuple[Trace, ...]] = contextvars.ContextVar("contactsync_traces", default=())


@contextmanager
def trace():
    """Collect every statement the package runs in this block (this thread / task), with rows and time::

        with contactsync.trace() as t:
            ws.sync("push")
        print(t.summary())
    """
    t = Trace()
    token = _TRACES.set(_TRACES.get() + (t,))
    try:
        yield t
    finally:
        _TRACES.reset(token)


def _env_trace() -> bool:
    return os.environ.get("CONTACTSYNC_TRACE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _caller_label(depth: int = 2) -> str:
    """``module.function:line`` of the package frame that called :meth:`Connection.execute` (frames of
    this module are skipped)."""
    f = sys._getframe(depth)
    while f is not None and f.f_globals.get("__name__") in (__name__, "contextlib"):
        f = f.f_back
    if f is None:
        return "?"
    mod = f.f_globals.get("__name__", "?").removeprefix("contactsync.")
    return f"{mod}.{f.f_code.co_qualname}:{f.f_lineno}"


_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.I)
_CTAS = re.compile(r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE\s+(\"[^\"]+\"|\w+)\s.*?\bAS\b",
                   re.I | re.S)


def _short_sql(sql: str, limit: int = 600) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} characters)"


class _CountedResult:
    """A DML statement's result while tracing: its row count was read to trace it, so it is handed back
    from here (the underlying result is consumed)."""

    def __init__(self, con: Connection, rows: list):
        self._con = con
        self._rows = rows

    def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def df(self):
        import pandas as pd

        return pd.DataFrame(self.fetchall(), columns=["Count"])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class Connection:
    """A DuckDB connection whose :meth:`execute` is the package's one execution chokepoint (see the
    module's docstring). Everything else is DuckDB's own connection (``raw``), unchanged."""

    __slots__ = ("raw",)

    def __init__(self, raw: duckdb.DuckDBPyConnection):
        self.raw = raw

    def execute(self, sql: str, params: Any = None, *, label: str | None = None) -> Any:
        traces = _TRACES.get()
        if not traces and not _env_trace():
            try:
                return self.raw.execute(sql) if params is None else self.raw.execute(sql, params)
            except duckdb.Error as exc:
                exc.add_note(f"contactsync statement {label or _caller_label()}: {_short_sql(sql)}")
                raise
        label = label or _caller_label()
        t0 = time.perf_counter()
        try:
            res = self.raw.execute(sql) if params is None else self.raw.execute(sql, params)
            rows: int | None = None
            out: Any = res
            if _DML.match(sql):
                counted = res.fetchall()
                rows = int(counted[0][0]) if counted and counted[0] and isinstance(counted[0][0], int) else None
                out = _CountedResult(self, counted)
            else:
                m = _CTAS.match(sql)
                if m:
                    rows = self.raw.execute(f"SELECT count(*) FROM {m.group(1)}").fetchall()[0][0]
        except duckdb.Error as exc:
            exc.add_note(f"contactsync statement {label}: {_short_sql(sql)}")
            raise
        st = Statement(label, sql, rows, time.perf_counter() - t0)
        for t in traces:
            t.statements.append(st)
        if _env_trace():
            _log_statement(st)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return f"<contactsync Connection {self.raw!r}>"


def _log_statement(st: Statement) -> None:
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("contactsync.sql %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    log.info("%8.1f ms %9s rows  %s  %s", st.seconds * 1000, "" if st.rows is None else st.rows, st.label,
             _short_sql(st.sql, 300))


def _quiet(con: duckdb.DuckDBPyConnection) -> Connection:
    """DuckDB draws a progress bar on stdout for a query over 2 s, which would break
    `contactsync ... --json`; the CLI and the views report progress themselves. Inside a Jupyter kernel
    without ipywidgets (the core install's papermill runs) the bar is already off and DuckDB refuses
    any change to the setting, so it is changed only when on."""
    (on,) = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0]  # fetchall: no open result
    if on:
        con.execute("SET enable_progress_bar = false")
    return Connection(con)


class Store:
    def __init__(self, path: str | Path = ":memory:", *, busy_timeout: float = 5.0):
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._con: Connection | None = None
        self._depth = 0
        self._in_tx = False
        if self.in_memory:
            self._con = _quiet(duckdb.connect(":memory:"))

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> Connection:
        check_duckdb_file(self.path)
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                return self._open()
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

    def _open(self) -> Connection:
        """A connection to the file with DuckDB's own checkpoints off (:meth:`_release` checkpoints behind a
        journal). A file a checkpoint left torn (DuckDB: "Corrupt database file") is mended from the journal
        first (contactsync.checkpoint.recover), and opened again."""
        try:
            con = _quiet(duckdb.connect(self.path))
        except duckdb.Error as exc:
            if _LOCK_RE.search(str(exc)) or not _checkpoint.journal_path(self.path).exists():
                raise
            _checkpoint.recover(self.path)
            con = _quiet(duckdb.connect(self.path))
        for stmt in _checkpoint.WAL_ONLY:
            con.execute(stmt, label="store.wal_only")
        return con

    def _release(self, con: Connection) -> None:
        """Close ``con``, folding the WAL into the file behind a journal first (contactsync.checkpoint)."""
        try:
            _checkpoint.checkpoint(con, self.path)
        finally:
            con.close()

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
                self._release(con)

    def connection(self):
        """Context manager yielding a connection for one action."""
        return self.hold()

    @contextmanager
    def transaction(self, *, rollback: bool = False):
        """One user action = one transaction: commit on success, roll back on any error. ``rollback=True``:
        roll back at the end too (a dry run's rehearsal: the run is made, read, and not kept)."""
        with self.hold() as con:
            if self._in_tx:  # nested: part of the caller's transaction
                if rollback:
                    raise RuntimeError("a rolled-back transaction cannot be nested in another")
                yield con
                return
            lock = None if self.in_memory else _file_lock(self.path)
            if lock is not None and not lock.acquire(timeout=self.busy_timeout):
                raise WorkspaceBusyError(
                    f"workspace {self.path!r} is busy: another action in this program (another Workspace object "
                    "on the same file) is still running. Wait for it to finish, then try again.")
            try:
                con.execute("BEGIN TRANSACTION", label="store.begin")
                self._in_tx = True
                try:
                    yield con
                except BaseException as exc:
                    self._in_tx = False
                    try:
                        con.execute("ROLLBACK", label="store.rollback")
                    except duckdb.Error:
                        pass
                    if isinstance(exc, duckdb.TransactionException) and _CONFLICT_RE.search(str(exc)):
                        raise self._conflict(exc) from exc
                    raise
                else:
                    self._in_tx = False
                    if rollback:
                        con.execute("ROLLBACK", label="store.rollback")
                        return
                    try:
                        con.execute("COMMIT", label="store.commit")
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
            con.execute("BEGIN TRANSACTION READ ONLY", label="store.begin_read_only")
            self._in_tx = True
            try:
                yield con
            finally:
                self._in_tx = False
                try:
                    con.execute("ROLLBACK", label="store.rollback")
                except duckdb.TransactionException:  # a failed statement may already have ended it
                    pass

    def close(self):
        if self._con is not None:
            if self.in_memory:
                self._con.close()
            else:
                self._release(self._con)
            self._con = None
            self._depth = 0
