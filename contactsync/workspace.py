"""The workspace: one DuckDB file holding both sides' contacts, couplings and run history.

:class:`Workspace` is the one entry point for notebooks, widgets, the CLI and scripts. Every
method that changes data is one transaction and one run in the history.
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from . import coupling as cp
from . import history, listquery, pipeline, strategies, sync, syncerrors
from . import search as search_index
from .compare import compare_sql, differences_sql
from .errors import ContactSyncError, CouplingError, SyncError, WorkspaceError, shorten
from .imports import ImportResult, import_records
from .mapping import TableMapping, load_mapping
from .schema import SCHEMA_VERSION
from .schema import ensure as ensure_schema
from .sources import describe, load_source
from .sqlbuild import q
from .store import Connection
from .sync import SyncResult

__all__ = ["ActionResult", "Created", "DEFAULT_SETTINGS", "ExportResult", "REQUIRED_TABLES", "Settings", "Workspace",
           "is_formula"]

#: The tables every workspace has (a backup lacking one is not a workspace)
REQUIRED_TABLES = ("meta", "nav_contact", "crm_contact", "crm_account", "coupling", "coupling_log", "run",
                   "change_log", "run_error", "run_conflict")

DEFAULT_SETTINGS = {
    "crm_base_url": "https://contoso.crm.dynamics.com",
    "nav_base_url": "https://businesscentral.dynamics.com/",
    "nav_no_prefix": "CT",
    "nav_no_width": "6",
    # a record failing with the same error in this many consecutive runs is Skipped until retried (BC: 2); 0: never
    "skip_after_failures": "2",
    # "yes": only contactsync writes this file, so a sync reads only the pairs changed since the last one
    # (contactsync.sync.delta_since); "no": every sync reads every pair, and sees edits made with another tool
    "only_contactsync_writes": "no",
}


def _now() -> datetime:
    return history.now_utc()


class Created(str):
    """The new record's key (a ``str``) with the action's ``message`` and ``run_id``."""

    message: str
    run_id: int
    nav_no: str
    crm_id: str
    uncoupled: tuple

    def __new__(cls, key: str, *, message: str, run_id: int, nav_no: str, crm_id: str, uncoupled=()):
        obj = super().__new__(cls, key)
        obj.message, obj.run_id, obj.nav_no, obj.crm_id, obj.uncoupled = message, run_id, nav_no, crm_id, tuple(uncoupled)
        return obj


@dataclass(frozen=True)
class ActionResult:
    """What a coupling action did."""

    run_id: int
    message: str
    nav_no: str | None = None
    crm_id: str | None = None
    sync: SyncResult | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    formula_cells: tuple[tuple[str, str, str], ...]  # (key, column, value) a spreadsheet would run
    neutralized: bool = False

    def __str__(self) -> str:
        text = f"wrote {self.rows} record(s) to {self.path}"
        if self.formula_cells:
            verb = "neutralized" if self.neutralized else "kept exact; pass neutralize=True to neutralize them"
            text += f"; {len(self.formula_cells)} cell(s) start like a spreadsheet formula ({verb})"
        return text


class Settings(MutableMapping):
    """Workspace settings kept in the file (``meta`` table), with validated values."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def _all(self) -> dict[str, str]:
        with self._ws.connection() as con:
            stored = dict(con.execute("SELECT substr(key, 9), value FROM meta WHERE key LIKE 'setting:%'").fetchall())
        return {**DEFAULT_SETTINGS, **stored}

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __setitem__(self, key: str, value) -> None:
        value = str(value)
        if key.endswith("_base_url"):
            parsed = urllib.parse.urlparse(value)
            if (parsed.scheme not in ("http", "https") or not parsed.netloc
                    or any(ch.isspace() or ord(ch) < 32 for ch in value)):
                raise ContactSyncError(f"setting {key!r} must be an http(s) URL like "
                                       f"{DEFAULT_SETTINGS.get(key, 'https://example.com')!r}, got {value!r}")
        elif key == "nav_no_prefix" and not re.fullmatch(r"[A-Z]{0,10}", value):
            raise ContactSyncError(f"nav_no_prefix must be 0-10 upper-case letters, got {value!r}")
        elif key == "nav_no_width" and not (value.isdigit() and 1 <= int(value) <= 15):
            raise ContactSyncError(f"nav_no_width must be a number from 1 to 15, got {value!r}")
        elif key == "skip_after_failures" and not (value.isdigit() and int(value) <= 99):
            raise ContactSyncError(f"skip_after_failures must be a number from 0 (never skip) to 99, got {value!r}")
        elif key == "only_contactsync_writes" and value not in ("yes", "no"):
            raise ContactSyncError(f"only_contactsync_writes must be 'yes' or 'no', got {value!r}")
        elif key not in DEFAULT_SETTINGS:
            raise ContactSyncError(f"unknown setting {key!r}; settings are {sorted(DEFAULT_SETTINGS)}")
        if key in ("nav_no_prefix", "nav_no_width"):
            other = self._all()["nav_no_width" if key == "nav_no_prefix" else "nav_no_prefix"]
            prefix, width = (value, int(other)) if key == "nav_no_prefix" else (other, int(value))
            if len(prefix) + width > cp.NAV_NO_MAX_LENGTH:
                raise ContactSyncError(
                    f"NAV numbers {prefix!r} + {width} digits would be {len(prefix) + width} characters; NAV's "
                    f"No. holds {cp.NAV_NO_MAX_LENGTH}. Choose a shorter prefix or fewer digits.")
        with self._ws.transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ["setting:" + key, value])
            if key == "only_contactsync_writes":  # what another tool wrote while it was "no" is in no log
                con.execute("DELETE FROM meta WHERE key = ?", [sync.NARROW_MARK])

    def __delitem__(self, key: str) -> None:
        with self._ws.transaction() as con:
            con.execute("DELETE FROM meta WHERE key = ?", ["setting:" + key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Settings({self._all()!r})"


class Workspace:
    """A contactsync workspace. Open with :meth:`open`; use as a context manager."""

    def __init__(self, store, mapping: TableMapping):
        from .store import Store

        self._store: Store = store
        self.mapping = mapping
        self.settings = Settings(self)

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path = ":memory:", mapping: TableMapping | str | Path | None = None,
             *, busy_timeout: float = 5.0) -> Workspace:
        """Open (creating on first use) the workspace at ``path``; ``:memory:`` for a throwaway one.

        ``mapping``: a :class:`TableMapping` or a TOML/YAML file; it is validated against the tables
        and kept in the workspace. Without one, the workspace's stored mapping (or BC's default) is used.
        """
        from .store import Store

        if isinstance(mapping, (str, Path)):
            mapping = load_mapping(mapping)
        path = str(path)
        if path != ":memory:":
            p = Path(path)
            if p.exists() and p.is_dir():
                raise WorkspaceError(f"{path!r} is a folder; give a workspace file name like {str(p / 'workspace.duckdb')!r}")
            if not p.parent.exists():
                raise WorkspaceError(f"folder {str(p.parent)!r} does not exist; create it first")
        store = Store(path, busy_timeout=busy_timeout)
        with store.transaction() as con:  # creation, upgrades and the mapping's columns: schema.ensure
            mapping = ensure_schema(con, mapping, path)
        return cls(store, mapping)

    @property
    def path(self) -> str:
        return self._store.path

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def hold(self):
        """Keep the file open across several calls (faster; blocks other processes meanwhile)."""
        return self._store.hold()

    def transaction(self):
        """Context manager yielding the connection of one transaction (for the package's services:
        matching, connectors). Commits on success, rolls back on any error; nested calls join it."""
        return self._store.transaction()

    def connection(self):
        """Context manager yielding a connection for one read-only action (for the package's services)."""
        return self._store.connection()

    def __repr__(self) -> str:
        return f"Workspace({self.path!r})"

    # -- helpers ---------------------------------------------------------------------------------
    def _code_cols(self, table: str) -> set[str]:
        if table == "nav_contact":
            return {f.nav for f in self.mapping.fields if f.code or f.lookup}
        return set()

    # -- imports ---------------------------------------------------------------------------------
    def _import(self, table: str, src, **kw) -> ImportResult:
        with self._store.transaction() as con:
            return import_records(con, table, src, code_cols=self._code_cols(table), **kw)

    def import_nav(self, src, *, snapshot: bool = False, on_error: str = "raise",
                   add_columns: bool = False) -> ImportResult:
        """Upsert NAV contacts (companies and persons) by ``No.`` from a file or DataFrame.

        ``snapshot=True``: the source is a full export; coupled records missing from it are flagged
        (their syncs fail with a clear message) — never silently uncoupled.
        """
        return self._import("nav_contact", src, snapshot=snapshot, on_error=on_error, add_columns=add_columns)

    def import_crm(self, src, *, snapshot: bool = False, on_error: str = "raise",
                   add_columns: bool = False) -> ImportResult:
        """Upsert CRM contacts by ``contactid``."""
        return self._import("crm_contact", src, snapshot=snapshot, on_error=on_error, add_columns=add_columns)

    def import_accounts(self, src, *, snapshot: bool = False, on_error: str = "raise",
                        add_columns: bool = False) -> ImportResult:
        """Upsert CRM accounts by ``accountid``."""
        return self._import("crm_account", src, snapshot=snapshot, on_error=on_error, add_columns=add_columns)

    def import_couplings(self, src, entity: str = "contact") -> ImportResult:
        """Couple the pairs in ``src`` (``No.`` + ``contactid``, or ``accountid`` for companies), all or
        nothing. Optional ``Last Synch. Modified On`` / ``Last Synch. CRM Modified On`` columns (BC's CRM
        Integration Record) tell the sync what was already in step."""
        if entity not in ("contact", "company"):
            raise CouplingError(f"entity must be 'contact' or 'company', got {entity!r}")
        name = describe(src)
        with self._store.transaction() as con:
            loaded = load_source(con, src, "No.")
            run_id = history.start_run(con, "couple", note=f"{entity} couplings from {name}")
            inserted, unchanged = cp.import_couplings(con, run_id, self.mapping, entity, _now(), name, loaded.relation)
            history.finish_run(con, run_id)
            loaded.drop(con)
        return ImportResult(inserted=inserted, unchanged=unchanged, run_id=run_id, source=name)

    # -- coupling --------------------------------------------------------------------------------
    def couple_company(self, no: str, account_id: str, *, replace: bool = False) -> ActionResult:
        """Couple a NAV contact of Type Company to a CRM account."""
        no, account_id = cp.nav_key(no), cp.crm_key(account_id)
        with self._store.transaction() as con:
            nav = cp.fetch_nav(con, self.mapping, no)
            if nav.get("Type") != "Company":
                raise CouplingError(f"NAV contact {no} is a {nav.get('Type')} contact; only Company contacts couple "
                                    "to CRM accounts (couple persons with couple()).")
            cp.fetch_crm(con, self.mapping, account_id, "crm_account", "accountid", "CRM account")
            run_id = history.start_run(con, "couple", note=f"company {no} <-> account {account_id}")
            notes = cp.couple_pair(con, run_id, "company", no, account_id, replace=replace, ts=_now())
            history.finish_run(con, run_id)
        return ActionResult(run_id, " ".join([f"Company {no} is coupled to account {account_id}.", *notes]),
                            no, account_id)

    def _uncouple(self, entity: str, no: str | None, crm_id: str | None) -> tuple[int, str, str]:
        no = cp.nav_key(no) if no is not None else None
        crm_id = cp.crm_key(crm_id) if crm_id is not None else None
        with self._store.transaction() as con:
            run_id = history.start_run(con, "uncouple")
            n, c = cp.uncouple(con, run_id, entity, nav_no=no, crm_id=crm_id)
            history.finish_run(con, run_id)
        return run_id, n, c

    def uncouple_company(self, no: str | None = None, account_id: str | None = None) -> ActionResult:
        """Delete a company's coupling to its CRM account (logged, undoable)."""
        run_id, n, c = self._uncouple("company", no, account_id)
        return ActionResult(run_id, f"The coupling of company {n} to account {c} was deleted.", n, c)

    def couple(self, no: str, crm_id: str | None = None, *, create_new: bool = False,
               sync_after: str | None = None, replace: bool = False) -> ActionResult:
        """Set Up Coupling: couple NAV person ``no`` to CRM contact ``crm_id`` (or to a new one with
        ``create_new=True``), then optionally synchronize: ``sync_after="push"`` (Yes - Use the Dynamics
        NAV Data) or ``"pull"`` (Yes - Use the Dynamics CRM Data)."""
        no = cp.nav_key(no)
        if sync_after not in (None, "push", "pull"):
            raise SyncError(f"sync_after must be None, 'push' (use the NAV data) or 'pull' (use the CRM data), "
                            f"got {sync_after!r}")
        if create_new:
            if crm_id is not None:
                raise CouplingError("give either crm_id or create_new=True, not both")
            if sync_after == "pull":
                raise SyncError("with create_new=True the NAV data is always used (sync_after='push')")
            created = self.create_crm_from_nav(no)
            return ActionResult(created.run_id, created.message, no, str(created))
        if crm_id is None:
            raise CouplingError("choose the CRM contact to couple to (crm_id), or pass create_new=True")
        crm_id = cp.crm_key(crm_id)
        ts = _now()
        with self._store.transaction() as con:
            cp.check_person(cp.fetch_nav(con, self.mapping, no))
            cp.fetch_crm(con, self.mapping, crm_id)
            run_id = history.start_run(con, "couple", direction=sync_after, force=bool(sync_after),
                                       note=f"{no} <-> {crm_id}")
            notes = cp.couple_pair(con, run_id, "contact", no, crm_id, replace=replace, ts=ts)
            result = None
            if sync_after:
                sc = self._scope(con, [no])
                result = self._sync_in(con, run_id, sync_after, sc, force=True, ts=ts)
                sc.rel.drop(con)
                if result.failed:
                    raise SyncError(f"Coupling not made: {result.errors['message'].iloc[0]}")
            history.finish_run(con, run_id)
        msg = " ".join([f"{no} is coupled to CRM contact {crm_id}.", *notes,
                        *([result.message + "."] if result else [])])
        return ActionResult(run_id, msg, no, crm_id, result)

    def uncouple(self, no: str | None = None, crm_id: str | None = None) -> ActionResult:
        """Delete Coupling (logged, undoable)."""
        run_id, n, c = self._uncouple("contact", no, crm_id)
        return ActionResult(run_id, f"The coupling of {n} to CRM contact {c} was deleted.", n, c)

    def create_crm_from_nav(self, no: str) -> Created:
        """Create Contact in Dynamics CRM: a new CRM contact from NAV person ``no``, coupled.
        Returns the new ``contactid`` (with ``.message == "Synchronization completed"``)."""
        no = cp.nav_key(no)
        ts = _now()
        with self._store.transaction() as con:
            cp.fetch_nav(con, self.mapping, no)
            run_id = history.start_run(con, "create", direction="push", note=f"CRM contact from {no}")
            rel = pipeline.Relations()
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT ? AS nav_no", [no])
            created, _ = cp.create_crm(con, self.mapping, run_id, ts, strict=True, keys=rel.create)
            rel.drop(con)
            history.finish_run(con, run_id)
        crm_id = created["crm_id"].iloc[0]
        return Created(crm_id, message="Synchronization completed", run_id=run_id, nav_no=no, crm_id=crm_id)

    def create_nav_from_crm(self, crm_id: str) -> Created:
        """Create Contact in Dynamics NAV: a new NAV person from CRM contact ``crm_id`` under the company
        coupled to its account; coupled. If the CRM contact was coupled, that coupling is deleted (said in
        ``.message``). Returns the new ``No.``."""
        crm_id = cp.crm_key(crm_id)
        ts = _now()
        s = self.settings._all()
        with self._store.transaction() as con:
            cp.fetch_crm(con, self.mapping, crm_id)
            run_id = history.start_run(con, "create", direction="pull", note=f"NAV contact from {crm_id}")
            old = cp.partner(con, "contact", crm_id=crm_id)
            notes = []
            if old is not None:
                cp.uncouple(con, run_id, "contact", nav_no=None, crm_id=crm_id)
                notes.append(f"The coupling between NAV contact {old} and this CRM contact was deleted.")
            rel = pipeline.Relations()
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT ? AS crm_id", [crm_id])
            created, _ = cp.create_nav(con, self.mapping, run_id, ts, strict=True, keys=rel.create,
                                       prefix=s["nav_no_prefix"], width=int(s["nav_no_width"]))
            rel.drop(con)
            history.finish_run(con, run_id)
        no = created["nav_no"].iloc[0]
        msg = " ".join([f"NAV contact {no} was created and coupled.", *notes])
        return Created(no, message=msg, run_id=run_id, nav_no=no, crm_id=crm_id,
                       uncoupled=(old,) if old else ())

    # -- lists -----------------------------------------------------------------------------------
    def _list(self, side, search, coupled, limit, offset, order_by=None, filters=None) -> pd.DataFrame:
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ContactSyncError(f"limit must be a non-negative integer, got {limit!r}")
        if not isinstance(offset, int) or offset < 0:
            raise ContactSyncError(f"offset must be a non-negative integer, got {offset!r}")
        if coupled not in (None, True, False):
            raise ContactSyncError(f"coupled must be None, True or False, got {coupled!r}")
        if search is not None and not isinstance(search, str):
            raise ContactSyncError(f"search must be text, got {search!r}; pass the text to look for, e.g. search={str(search)!r}")
        if order_by or filters:  # a chosen order / column filters over the whole filtered set: contactsync.listquery
            with self._store.transaction() as con:
                return listquery.fetch_page(con, side, search=search, coupled=coupled, order_by=order_by,
                                            filters=filters, limit=limit, offset=offset)
        ix = search_index.INDEXES[side]
        with self._store.transaction() as con:  # one snapshot for the page's bounds, keys and rows
            lo, hi, total = con.execute(*search_index.bounds_query(
                ix, search=search, coupled=coupled, limit=limit, offset=offset)).fetchone()
            page = [] if lo is None else con.execute(*search_index.page_query(
                ix, search=search, coupled=coupled, lo=lo, hi=hi)).fetchall()  # (key, partner, *shown)
            keys = [r[0] for r in page]
            rows = search_index.page_rows(con, ix, keys, search=search, coupled=coupled)
        # rows arrive in list order; the page's columns join them by key (a contact another tool deleted
        # since the last reindex has no row, and must not shift its neighbours' values)
        of = {r[0]: r for r in page}
        got = [of[k] for k in rows[ix.key]]
        for i, (name, _) in enumerate(ix.shown, start=2):
            rows[name] = pd.Series([r[i] for r in got], index=rows.index, dtype=object)
        rows["coupled"] = pd.Series([r[1] is not None for r in got], index=rows.index, dtype=bool)
        rows[ix.partner] = pd.Series([r[1] for r in got], index=rows.index, dtype=object)
        rows.attrs["total"] = total
        return rows

    def crm_contacts(self, search: str | None = None, coupled: bool | None = None, limit: int | None = 100,
                     offset: int = 0, order_by=None, filters=None) -> pd.DataFrame:
        """CRM contacts with ``coupled`` and the coupled NAV ``nav_no``; search across name, e-mail, phone and
        account; paged in DuckDB. ``df.attrs["total"]`` holds the count of all matches. ``order_by``:
        ``[(column, descending), ...]`` over the whole filtered set (then the key); ``filters``:
        ``[(column, operator, value), ...]`` (``contactsync.listquery.FilterOp``), combined with the search."""
        return self._list("crm", search, coupled, limit, offset, order_by, filters)

    def nav_contacts(self, search: str | None = None, coupled: bool | None = None, limit: int | None = 100,
                     offset: int = 0, order_by=None, filters=None) -> pd.DataFrame:
        """NAV contacts with ``coupled`` and the coupled ``crm_id`` (``order_by``, ``filters``: as
        :meth:`crm_contacts`)."""
        return self._list("nav", search, coupled, limit, offset, order_by, filters)

    def list_values(self, side: str, column: str, search: str | None = None, coupled: bool | None = None,
                    filters=None, limit: int = 500) -> list[str]:
        """The distinct shown values of a list's ``column`` over its filtered set (a header's value filter)."""
        if side not in search_index.INDEXES:
            raise ContactSyncError(f"side must be 'nav' or 'crm', got {shorten(side)}")
        with self._store.transaction() as con:
            return listquery.fetch_values(con, side, column, search=search, coupled=coupled, filters=filters,
                                          limit=limit)

    def nav_contact(self, no: str) -> dict:
        """One NAV contact as a dict, with ``coupled`` and ``crm_id``."""
        no = cp.nav_key(no)
        with self._store.connection() as con:
            row = cp.fetch_nav(con, self.mapping, no)
            row["crm_id"] = cp.partner(con, "contact", nav_no=no)
        row["coupled"] = row["crm_id"] is not None
        return row

    def crm_contact(self, crm_id: str) -> dict:
        crm_id = cp.crm_key(crm_id)
        with self._store.connection() as con:
            row = cp.fetch_crm(con, self.mapping, crm_id)
            row["nav_no"] = cp.partner(con, "contact", crm_id=crm_id)
        row["coupled"] = row["nav_no"] is not None
        return row

    def accounts(self) -> pd.DataFrame:
        """CRM accounts with the coupled NAV company ``nav_no``."""
        with self._store.connection() as con:
            return con.execute(
                "SELECT a.*, c.nav_no IS NOT NULL AS coupled, c.nav_no FROM crm_account a LEFT JOIN coupling c "
                "ON c.entity = 'company' AND c.crm_id = a.accountid ORDER BY a.name").df()

    # -- compare ---------------------------------------------------------------------------------
    def compare(self, no: str | None = None, crm_id: str | None = None) -> pd.DataFrame:
        """One row per mapped field for a NAV contact and a CRM contact (its coupled one by default):
        ``nav_field, crm_field, direction, nav_value, crm_value, differs``."""
        if no is None and crm_id is None:
            raise ContactSyncError("compare needs a NAV No., a CRM id, or both")
        m = self.mapping
        with self._store.connection() as con:
            if no is not None:
                no = cp.nav_key(no)
                cp.require(con, m.nav_table, m.nav_key, no, "NAV contact")
            if crm_id is not None:
                crm_id = cp.crm_key(crm_id)
                cp.require(con, m.crm_table, m.crm_key, crm_id, "CRM contact")
            if crm_id is None:
                crm_id = cp.partner(con, "contact", nav_no=no)
                if crm_id is None:
                    raise CouplingError(f"NAV contact {no} is not coupled; name the CRM contact to compare with")
            if no is None:
                no = cp.partner(con, "contact", crm_id=crm_id)
                if no is None:
                    raise CouplingError(f"CRM contact {crm_id} is not coupled; name the NAV contact to compare with")
            lookup = None
            if m.lookup_field:  # e.g. the CRM contact's account -> its coupled NAV company
                value = con.execute(f"SELECT {q(m.lookup_field.crm)} FROM {q(m.crm_table)} WHERE {q(m.crm_key)} = ?",
                                    [crm_id]).fetchone()
                lookup = cp.partner(con, "company", crm_id=value[0]) if value and value[0] else None
            sql, params = compare_sql(m)
            # params order: the field names (in the structs) first, then the keys and the lookup
            return con.execute(sql, [*params, no, crm_id, lookup]).df()

    def differences(self, nos: Iterable[str] | None = None, *, label: str | None = None) -> pd.DataFrame:
        """All coupled pairs x differing mapped fields, long format, from one set-based query. ``label``: a NAV
        column (e.g. ``"Name"``) added as ``name``, read in the same query."""
        with self._store.connection() as con:
            if label is not None and not con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' "
                                                     "AND table_name = ? AND column_name = ?",
                                                     [self.mapping.nav_table, label]).fetchone()[0]:
                raise ContactSyncError(f"differences: label {shorten(label)} is not a column of "
                                       f"{self.mapping.nav_table}; name one, e.g. 'Name'")
            sc = self._scope(con, nos)
            sql, params = differences_sql(self.mapping, sc.rel.scope if sc.scoped else None, label=label)
            try:
                return con.execute(sql, params).df()
            finally:
                sc.rel.drop(con)

    def pick(self, picks):
        """Per-field pick: rows of (``nav_no``, ``field``, ``choice`` = ``"nav"`` | ``"crm"`` | ``"value"``,
        ``value``) set each pair's field to the NAV value, the CRM value or an edited value on both sides, as
        one undoable run; checked as a sync checks values, nothing written on a bad pick
        (:mod:`contactsync.picks`). Returns a :class:`contactsync.picks.PickResult`."""
        from .picks import run_picks

        return run_picks(self, picks)

    # -- sql -------------------------------------------------------------------------------------
    def sql(self, query: str, params=None, *, write: bool = False) -> pd.DataFrame:
        """Run ad hoc SQL over the workspace's tables and views (``coupled_contact`` pairs each coupled NAV
        and CRM row). Read-only unless ``write=True`` (then it runs as one transaction).

        Read-only is enforced by DuckDB itself: the query runs in a ``READ ONLY`` transaction that is rolled
        back, so no statement (``EXPLAIN ANALYZE DELETE ...`` included) can change a table; statements that
        are not queries (COPY, ATTACH, SET, ...) are refused before they run."""
        if not isinstance(query, str) or not query.strip():
            raise ContactSyncError("sql() needs a query string")
        with self._store.connection() as con:
            try:
                stmts = con.extract_statements(query)
            except duckdb.Error as exc:
                raise ContactSyncError(f"SQL does not parse: {exc}") from exc
            if not write:
                allowed = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
                bad = [s.type.name for s in stmts if s.type not in allowed]
                if bad:
                    raise ContactSyncError(f"sql() is read-only: {', '.join(bad)} statements are refused. Pass "
                                           "write=True to change data (it is then not in the undo history).")
                with self._store.read_only():
                    try:
                        return self._run_sql(con, query, stmts, params)
                    except duckdb.TransactionException as exc:
                        raise ContactSyncError(
                            f"sql() is read-only, and this query would write: {str(exc).splitlines()[0]}. Pass "
                            "write=True to change data (it is then not in the undo history).") from exc
            with self._store.transaction():
                try:
                    result = self._run_sql(con, query, stmts, params)
                except duckdb.TransactionException as exc:
                    raise ContactSyncError(f"SQL failed: {exc}") from exc
                search_index.rebuild(con)  # whatever it changed, the lists' search index follows
                # and the next sync compares every pair again (a pair's fingerprints vouch only for contactsync's
                # own writes: a new epoch changes every fingerprint, sync.fingerprint_salt)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint_epoch', CAST(uuid() AS VARCHAR))")
            return result

    @staticmethod
    def _run_sql(con, query, stmts, params) -> pd.DataFrame:
        try:
            if len(stmts) == 1:
                return con.execute(query, params or []).df()
            for st in stmts:
                con.execute(st)
            return pd.DataFrame()
        except duckdb.TransactionException:
            raise
        except duckdb.Error as exc:
            raise ContactSyncError(f"SQL failed: {exc}") from exc

    def reindex(self) -> None:
        """Rebuild the contact lists' search index (contactsync keeps it in step with its own writes; run
        this after changing the workspace's tables with another tool). The next sync then reads every pair again
        (those edits are in no change log)."""
        with self._store.transaction() as con:
            search_index.rebuild(con)
            con.execute("DELETE FROM meta WHERE key = ?", [sync.NARROW_MARK])

    # -- sync ------------------------------------------------------------------------------------
    def _scope(self, con, nos) -> pipeline.Scope:
        """Step 1 of the run pipeline: the NAV records ``nos`` (``None``: every contact coupling)."""
        if nos is None:
            return pipeline.scope(con)
        return pipeline.scope(con, [cp.nav_key(n) for n in ([nos] if isinstance(nos, str) else nos)])

    def _sync_in(self, con, run_id: int | None, direction: str, sc: pipeline.Scope, *, force: bool, ts: datetime,
                 dry_run: bool = False, only: frozenset[str] | None = None, conflicts: str | None = None) -> SyncResult:
        """The run pipeline over ``sc`` (:func:`contactsync.pipeline.sync_pairs`), after the deletion-conflict
        strategy; the counts go to run ``run_id`` unless ``dry_run``."""
        m = strategies.effective(self.mapping, conflicts)
        s = self.settings._all()
        keys = sc.keys
        if sc.scoped and force:  # Synchronize Now on named records: those Skipped after repeated failures go too
            syncerrors.retry(con, run_id, keys, check=False)
        deletions = syncerrors.resolve_deleted(con, m, run_id, ts, m.deletion_conflict, direction, keys,
                                               prefix=s["nav_no_prefix"], width=int(s["nav_no_width"]), rel=sc.rel)
        # the result is read from the checked plan before anything is written: a dry run returns what the run does
        planned, p = pipeline.sync_pairs(con, m, sc, direction, ts=ts, run_id=run_id, force=force, only=only,
                                         dry_run=dry_run, skip_after=int(s["skip_after_failures"]))
        c = dict(p.counts)
        restored = deletions[deletions["action"] == "restored"]
        new_nav = [k if d == "nav" else n for n, d, k in restored[["nav_no", "deleted", "new_key"]].itertuples(index=False)]
        c["unchanged"] -= sum(1 for k in new_nav if keys is None or k in keys)  # counted as inserted
        conflicts_df, errors, changes, skips = planned.conflicts, planned.errors, planned.changes, planned.skips
        if not dry_run:
            history.add_counts(con, run_id, **c)
            if len(deletions):
                changes = history.changes(con, run_id)[["side", "key", "field", "old_value", "new_value"]]
        return SyncResult(run_id=run_id, direction=direction, dry_run=dry_run, conflicts=conflicts_df, errors=errors,
                          changes=changes, skips=skips, inserted=len(restored), coupled=len(restored),
                          uncoupled=int((deletions["action"] == "uncoupled").sum()), deletions=deletions, **c)

    def sync(self, direction: str = "both", nos: Iterable[str] | None = None, *, force: bool = False,
             dry_run: bool = False, create_missing: bool = False,
             fields: Iterable[str] | None = None, conflicts: str | None = None) -> SyncResult:
        """Synchronize coupled contacts: ``"push"`` (send updated data to CRM), ``"pull"`` (get updated data
        from CRM) or ``"both"``. Incremental unless ``force``; conflicts are skipped and reported; failures
        are per record; a coupled pair the mapping's filters leave out is Skipped with why (``.skips``).
        ``dry_run`` returns exactly what the run would (counts, conflicts, errors, changes, skips) and writes
        nothing. One run = one transaction. ``fields``: only these mapped fields (NAV or CRM names) change; the
        others' differences are left as they are. ``conflicts`` (``"none"``, ``"send"``, ``"get"``): this run's
        update-conflict strategy instead of the mapping's (:mod:`contactsync.strategies`); the mapping's
        ``deletion_conflict`` applies to couplings whose record was deleted (``.deletions``)."""
        sync.check_direction(direction, force)
        if conflicts is not None:
            strategies.check_update(conflicts, "conflicts")
        only = None
        if fields is not None:
            names = [fields] if isinstance(fields, str) else list(fields)
            if not names:
                raise SyncError("fields is empty: name the mapped fields to synchronize, or leave it out for all")
            if create_missing:
                raise SyncError("fields cannot be combined with create_missing=True (a new record gets every field)")
            only = frozenset(self.mapping.field(str(n)).nav for n in names)
        ts = _now()
        return self._sync_tx(direction, nos, force=force, dry_run=dry_run, create_missing=create_missing, ts=ts,
                             only=only, conflicts=conflicts)

    def _sync_tx(self, direction, nos, *, force, dry_run, create_missing, ts, only=None, conflicts=None) -> SyncResult:
        # a dry run is the same run in a transaction rolled back at its end: nothing it wrote stays
        with self._store.transaction(rollback=dry_run) as con:
            sc = self._scope(con, nos)
            scoped_keys = sc.keys
            if sc.scoped:
                unknown = con.execute(
                    f"SELECT s.nav_no, n.\"No.\" IS NULL FROM {sc.rel.scope} s LEFT JOIN coupling c "
                    "ON c.entity = 'contact' AND c.nav_no = s.nav_no LEFT JOIN nav_contact n ON n.\"No.\" = s.nav_no "
                    "WHERE c.nav_no IS NULL ORDER BY 1").fetchall()
                if unknown and not create_missing:
                    names = ", ".join(k + (" (does not exist)" if gone else "") for k, gone in unknown[:10])
                    raise SyncError(f"not coupled: {names}. Couple them first (couple), or pass "
                                    "create_missing=True to create them in CRM.")
            # a dry run that creates records runs for real under a scratch run, then rolls back: creating
            # changes what the rest plans, so only doing it gives the real run's result
            # (so does one whose deletion-conflict strategy may restore records or remove couplings)
            rehearse = dry_run and (create_missing or self.mapping.deletion_conflict != "none")
            if rehearse:
                run_id = _scratch_run(con, direction, force)
            else:
                note = syncerrors.run_note(con, self.mapping, scoped_keys, force=force) if scoped_keys else None
                run_id = None if dry_run else history.start_run(con, "sync", direction=direction, force=force,
                                                                note=note)
            result = self._sync_in(con, run_id, direction, sc, force=force, ts=ts,
                                   dry_run=dry_run and not rehearse, only=only, conflicts=conflicts)
            if create_missing:
                result = self._create_missing(con, run_id, direction, sc, ts, result, dry_run)
            if dry_run:
                result = dataclasses.replace(result, run_id=None, dry_run=True)
            else:
                history.finish_run(con, run_id)
            sc.rel.drop(con)
        return result

    def _create_missing(self, con, run_id, direction, sc: pipeline.Scope, ts, result: SyncResult,
                        dry_run) -> SyncResult:
        m = self.mapping
        s = self.settings._all()
        inserted, failures = 0, []
        from .sqlbuild import filter_sql

        skips = result.skips
        rel = sc.rel
        if direction in ("push", "both") and sc.scoped:
            # records named in nos are each reported: one the NAV filter leaves out is Skipped with why, one
            # that does not exist fails (create_crm says so)
            why, wparams = sync.filter_reason_sql("n", m.nav_filter, "NAV contact")
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _cand0 AS SELECT s.nav_no, CASE WHEN n.{q(m.nav_key)} IS NOT NULL "
                f"THEN {why} END AS why FROM {rel.scope} s LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = s.nav_no "
                "WHERE NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.nav_no = s.nav_no)",
                wparams)
            left_out = con.execute(
                "SELECT nav_no, NULL AS crm_id, 'filter' AS reason, why || '. The mapping''s filter leaves it out, "
                "so no CRM contact was created.' AS message FROM _cand0 WHERE why IS NOT NULL ORDER BY nav_no").df()
            if len(left_out):
                skips = pd.concat([skips, left_out], ignore_index=True)
                if run_id is not None:
                    history.add_counts(con, run_id, skipped=len(left_out))
                    con.register("_left_out_df", left_out)  # kept with the run, as every skip (run_skip)
                    con.execute("INSERT INTO run_skip SELECT ?, nav_no, crm_id, reason, message FROM _left_out_df",
                                [run_id])
                    con.unregister("_left_out_df")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT nav_no FROM _cand0 WHERE why IS NULL")
            con.execute("DROP TABLE _cand0")
        elif direction in ("push", "both"):
            nf, nfp = filter_sql("n", m.nav_filter)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT n.{q(m.nav_key)} AS nav_no FROM {q(m.nav_table)} n "
                f"WHERE ({nf}) AND NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' "
                f"AND c.nav_no = n.{q(m.nav_key)})", nfp)
        if direction in ("push", "both"):
            created, fails = cp.create_crm(con, m, run_id or 0, ts, strict=False, keys=rel.create)
            inserted += len(created)
            failures += fails
        if direction in ("pull", "both") and not sc.scoped:
            cf, cfp = filter_sql("r", m.crm_filter)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT r.{q(m.crm_key)} AS crm_id FROM {q(m.crm_table)} r "
                f"WHERE ({cf}) AND NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' "
                f"AND c.crm_id = r.{q(m.crm_key)})", cfp)
            created, fails = cp.create_nav(con, m, run_id or 0, ts, strict=False, keys=rel.create,
                                           prefix=s["nav_no_prefix"], width=int(s["nav_no_width"]))
            inserted += len(created)
            failures += fails
        errors = pd.concat([result.errors, pd.DataFrame(failures, columns=["nav_no", "crm_id", "message"])],
                           ignore_index=True) if failures else result.errors
        changes = result.changes
        if run_id is not None:
            changes = history.changes(con, run_id)[["side", "key", "field", "old_value", "new_value"]]
        return SyncResult(run_id=run_id, direction=direction, dry_run=dry_run, inserted=result.inserted + inserted,
                          modified=result.modified, unchanged=result.unchanged,
                          skipped=result.skipped + len(skips) - len(result.skips),
                          failed=result.failed + len(failures), coupled=result.coupled + inserted,
                          uncoupled=result.uncoupled, conflicts=result.conflicts,
                          errors=errors, changes=changes, skips=skips, deletions=result.deletions)

    # -- history ---------------------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """One row per run: kind, direction, start/end, counts, dry run, undone."""
        with self._store.connection() as con:
            return history.runs(con)

    def changes(self, run_id: int) -> pd.DataFrame:
        """The field-level changes of a run: ``side, key, field, old_value, new_value, op``."""
        with self._store.connection() as con:
            return history.changes(con, int(run_id))

    def errors(self, run_id: int) -> pd.DataFrame:
        with self._store.connection() as con:
            return con.execute("SELECT nav_no, crm_id, message FROM run_error WHERE run_id = ? ORDER BY nav_no",
                               [int(run_id)]).df()

    def conflicts(self, run_id: int) -> pd.DataFrame:
        with self._store.connection() as con:
            return con.execute("SELECT * EXCLUDE (run_id) FROM run_conflict WHERE run_id = ? ORDER BY nav_no",
                               [int(run_id)]).df()

    # -- mapping options, value maps, full synchronization review (contactsync.mappingops, fullsync) ----------
    def set_mapping(self, mapping: TableMapping | str | Path) -> TableMapping:
        """Replace the workspace's mapping (a TableMapping or a TOML/YAML file), validated against the tables and
        stored in one transaction; a bad one raises a MappingError and changes nothing."""
        from . import mappingops

        return mappingops.set_mapping(self, load_mapping(mapping) if isinstance(mapping, (str, Path)) else mapping)

    def set_field_option(self, field: str, **options):
        """Change BC field-mapping options of ``field`` (NAV or CRM name): ``constant``, ``validate``,
        ``clear_on_failure``, ``not_null``, ``enabled``, ``transform`` (rules, chained), ``transform_direction``,
        ``value_map``, ``direction``, ``max_length``, ... (``None``: back to the default). Kept in the workspace;
        returns the stored FieldMapping. See contactsync.mappingops."""
        from . import mappingops

        return mappingops.set_field_option(self, field, **options)

    def set_value_map(self, name: str, pairs=None, *, aliases=None, builtin: str | None = None,
                      field: str | None = None) -> TableMapping:
        """Define or replace value map ``name`` (pairs NAV value -> CRM value, CRM ``aliases``, a ``builtin``
        such as ``"iso3166"``); with ``field``, map that field through it. See contactsync.valuemaps."""
        from . import mappingops

        return mappingops.set_value_map(self, name, pairs, aliases=aliases, builtin=builtin, field=field)

    def field_options(self) -> pd.DataFrame:
        """One row per field mapping (enabled or disabled) with every option: the Table mapping view's rows."""
        from . import mappingops

        return mappingops.field_options(self.mapping)

    def full_sync_review(self) -> pd.DataFrame:
        """BC's Full Synch. Review: per entity (accounts, contacts) the uncoupled records on each side and the
        recommendation (Couple Records / Full Synchronization / No Records Found). See contactsync.fullsync."""
        from . import fullsync

        return fullsync.review(self)

    def run_full_sync(self, entity: str, *, dry_run: bool = False):
        """Carry out the review's recommendation for ``entity`` ('accounts' | 'contacts'): one undoable run."""
        from . import fullsync

        return fullsync.run(self, entity, dry_run=dry_run)

    # -- strategies and the errors list (contactsync.strategies, contactsync.syncerrors) ------------------
    def set_strategies(self, *, update_conflict: str | None = None, deletion_conflict: str | None = None,
                       fields: dict[str, str | None] | None = None) -> TableMapping:
        """Set the mapping's update-conflict strategy (``"none"`` skip and report, ``"send"`` NAV wins, ``"get"``
        CRM wins), per field too (``fields={"E-Mail": "get", "City": "send"}``; ``None`` = the table's), and its
        deletion-conflict strategy (``"none"``, ``"restore"``, ``"remove_coupling"``). Kept in the workspace."""
        m = self.mapping
        new_fields = m.fields
        if fields:
            wanted = {m.field(str(name)).nav: value for name, value in fields.items()}
            new_fields = tuple(dataclasses.replace(f, update_conflict=wanted[f.nav]) if f.nav in wanted else f
                               for f in m.fields)
        m = dataclasses.replace(m, fields=new_fields, update_conflict=update_conflict or m.update_conflict,
                                deletion_conflict=deletion_conflict or m.deletion_conflict)
        return self.set_mapping(m)

    def sync_errors(self, state: str | None = None, nos: Iterable[str] | None = None) -> pd.DataFrame:
        """The errors list across runs (BC's Coupled Data Synchronization Errors): per coupling whose latest run
        failed or skipped it, ``nav_no, crm_id, nav_name, crm_name, state`` ('failed' | 'skipped'), ``reason``
        ('error', 'deleted', 'excluded', 'conflict', 'filter'), ``message, run_id, at, excluded, fail_streak,
        nav_exists, crm_exists``. Actions: :meth:`retry`, ``sync(d, nos, force=True)`` (Synchronize),
        :meth:`resolve_deleted` (Restore / Delete couplings), :meth:`uncouple`, :meth:`couple`."""
        with self._store.connection() as con:
            return syncerrors.sync_errors(con, self.mapping, state=state, nos=nos)

    def run_issues(self, run_id: int) -> pd.DataFrame:
        """What run ``run_id`` failed and skipped, with the records' names and why."""
        with self._store.connection() as con:
            return syncerrors.run_issues(con, self.mapping, int(run_id))

    def retry(self, nos: Iterable[str] | None = None) -> ActionResult:
        """Retry (``nos``) or Retry All: records Skipped after repeated failures are planned again by the next
        run. One run (undoable)."""
        keys = None if nos is None else sorted({cp.nav_key(n) for n in ([nos] if isinstance(nos, str) else nos)})
        with self._store.transaction() as con:
            run_id = history.start_run(con, "retry", note="retry " + (", ".join(keys[:5]) if keys else "all"))
            n = syncerrors.retry(con, run_id, keys)
            history.finish_run(con, run_id)
        return ActionResult(run_id, f"{n} skipped record(s) will be synchronized by the next run.")

    def delete_couplings(self, nos: Iterable[str]) -> ActionResult:
        """Delete Couplings (the errors list's action): the contact couplings of the NAV contacts ``nos``, in
        one run (undoable); an uncoupled one raises, naming it, and nothing is deleted."""
        keys = sorted({cp.nav_key(n) for n in ([nos] if isinstance(nos, str) else nos)})
        if not keys:
            raise CouplingError("name the NAV contacts whose couplings to delete")
        with self._store.transaction() as con:
            run_id = history.start_run(con, "uncouple", note=syncerrors.run_note(con, self.mapping, keys)
                                       .replace("Synchronize Now", "Delete couplings", 1))
            n = syncerrors.delete_couplings(con, run_id, keys)
            history.finish_run(con, run_id)
        return ActionResult(run_id, f"{n} coupling(s) deleted; no record was deleted (undo it in History).")

    def find_for_deleted(self) -> pd.DataFrame:
        """BC's Find for Deleted: couplings whose record is gone on either side (``deleted``: nav | crm | both)."""
        with self._store.connection() as con:
            return syncerrors.find_for_deleted(con, self.mapping)

    def resolve_deleted(self, strategy: str = "restore", nos: Iterable[str] | None = None) -> SyncResult:
        """Apply a deletion-conflict strategy (``"restore"``: re-create the deleted side from the other and
        couple it; ``"remove_coupling"``) to the contact couplings (``nos``, else all) whose record is gone.
        One run (undoable); ``.deletions`` says what happened to each."""
        strategies.check_deletion(strategy, "strategy")
        if strategy == "none":
            raise SyncError("strategy must be 'restore' or 'remove_coupling' ('none' leaves them failing)")
        s = self.settings._all()
        ts = _now()
        with self._store.transaction() as con:
            sc = self._scope(con, nos)
            run_id = history.start_run(con, "resolve_deleted", direction="both", note=f"deleted records: {strategy}")
            d = syncerrors.resolve_deleted(con, self.mapping, run_id, ts, strategy, "both", sc.keys,
                                           prefix=s["nav_no_prefix"], width=int(s["nav_no_width"]), rel=sc.rel)
            sc.rel.drop(con)
            changes = history.changes(con, run_id)[["side", "key", "field", "old_value", "new_value"]]
            history.finish_run(con, run_id)
        restored = int((d["action"] == "restored").sum())
        return SyncResult(run_id=run_id, direction="both", inserted=restored, coupled=restored,
                          uncoupled=int((d["action"] == "uncoupled").sum()), deletions=d, changes=changes)

    def undo(self, run_id: int) -> ActionResult:
        """Undo a run: restore old values and couplings, where nothing changed since (else refuse, naming
        what changed)."""
        with self._store.transaction() as con:
            undo_id, restored = history.undo(
                con, int(run_id), lambda: history.start_run(con, "undo", note=f"undo of run {run_id}"))
            history.add_counts(con, undo_id, modified=restored)
            history.finish_run(con, undo_id)
        return ActionResult(undo_id, f"Run {run_id} was undone ({restored} record change(s) restored).")

    def export_changes(self, side: str, path: str | Path, since_run: int | None = None, *,
                       neutralize: bool = False, overwrite: bool = False) -> ExportResult:
        """Write the records of ``side`` ('nav' or 'crm') created or modified by runs after ``since_run``
        (all runs by default, undone ones left out) in that system's column names, for re-import. Values
        stay exact; cells a spreadsheet would run as a formula are reported (``neutralize=True`` prefixes
        them with ``'``). An existing file is replaced only with ``overwrite=True``; the file appears
        whole (written beside it, then renamed)."""
        if side not in ("nav", "crm"):
            raise ContactSyncError(f"side must be 'nav' or 'crm', got {side!r}")
        path = Path(path)
        if path.is_dir():
            raise ContactSyncError(f"{str(path)!r} is a folder; give a file name in it, like "
                                   f"{str(path / (side + '_changes.csv'))!r}")
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".xlsx", ".json"):
            raise ContactSyncError(f"export to .csv, .parquet, .xlsx or .json, not {suffix!r}")
        if not path.parent.exists():
            raise ContactSyncError(f"folder {str(path.parent)!r} does not exist")
        if path.exists() and not overwrite:
            raise ContactSyncError(f"{str(path)!r} exists; choose a new file name, or pass overwrite=True "
                                   "to replace it")
        m = self.mapping
        table, key = (m.nav_table, m.nav_key) if side == "nav" else (m.crm_table, m.crm_key)
        with self._store.connection() as con:
            df = con.execute(
                f"""SELECT t.* FROM {q(table)} t WHERE t.{q(key)} IN (
                      SELECT l.key FROM change_log l JOIN run r USING (run_id)
                      WHERE l.side = ? AND l.run_id > ? AND r.kind NOT IN ('import', 'undo') AND r.undone_by IS NULL)
                    ORDER BY t.{q(key)}""", [side, since_run or 0]).df()
        formula = []
        for c in df.columns:
            if df[c].dtype == object or str(df[c].dtype).startswith("str"):
                s = df[c].astype("object")
                mask = s.map(is_formula)
                for k, v in zip(df.loc[mask, key], s[mask]):
                    formula.append((k, c, v))
                if neutralize and mask.any():
                    df.loc[mask, c] = "'" + s[mask]
        tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
        try:
            if suffix == ".csv":  # RFC 4180 line ends: Python's csv quotes a value with a CR or LF only
                df.to_csv(tmp, index=False, lineterminator="\r\n")  # when both are in its line terminator
            elif suffix == ".parquet":
                df.to_parquet(tmp, index=False)
            elif suffix == ".xlsx":
                df.to_excel(tmp, index=False)
                _excel_text_not_formulas(tmp)
            else:
                df.to_json(tmp, orient="records", date_format="iso", force_ascii=False, indent=1)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return ExportResult(path, len(df), tuple(formula), neutralize and bool(formula))

    # -- matching --------------------------------------------------------------------------------
    def match_couple(self, groups, *, case_sensitive=False, side: str = "nav", keys=None, create_new: bool = False,
                     sync_after: str | None = None, dry_run: bool = False):
        """Match-Based Coupling (BC): couple uncoupled records whose ``groups`` fields match exactly one
        uncoupled record on the other side; see :func:`contactsync.matching.match_couple`."""
        from . import matching

        return matching.run_match_couple(self, groups, case_sensitive=case_sensitive, side=side, keys=keys,
                                         create_new=create_new, sync_after=sync_after, dry_run=dry_run)

    def suggest_couplings(self, *, threshold: float = 0.5, min_score: float = 0.2, top: int = 5, nos=None,
                          crm_ids=None, retrain: bool = False) -> pd.DataFrame:
        """Scored candidate pairs (``nav_no, crm_id, score, match, reasons, weight, w_<field>, ...``) between
        uncoupled NAV persons and uncoupled CRM contacts, by the model trained on this workspace (trained
        and stored on first use; ``retrain=True`` trains it again); see
        :func:`contactsync.matching.suggest_couplings`."""
        from . import matching

        return matching.run_suggest(self, threshold=threshold, min_score=min_score, top=top, nos=nos,
                                    crm_ids=crm_ids, retrain=retrain)

    def train_matcher(self):
        """Train the suggestions' model (Splink, Fellegi–Sunter) on the uncoupled records and store it;
        returns it (``.parameters()``: m, u and match weight per field and level)."""
        from . import matching

        return matching.train_matcher(self)[0]

    def matcher(self):
        """The model suggestions are scored with: the stored one, else the packaged prior."""
        from . import matching

        return matching.matcher_info(self)

    def couple_matches(self, pairs, *, sync_after: str | None = None, create_in_crm=()):
        """Couple accepted pairs (a DataFrame from ``suggest_couplings`` or ``(nav_no, crm_id)`` tuples) by the
        rules of ``import_couplings`` and create CRM contacts from the NAV persons ``create_in_crm``: all or
        nothing, one run (undo with ``undo(result.run_id)``)."""
        from . import matching

        return matching.run_couple_matches(self, pairs, sync_after=sync_after, create_in_crm=create_in_crm)

    # -- backup ----------------------------------------------------------------------------------
    def backup(self, dest: str | Path) -> Path:
        """Write a consistent copy of the workspace to ``dest`` (a new file).

        The copy is written beside ``dest`` under a temporary name and renamed to ``dest`` only when it is
        complete, so an interrupted backup never leaves a file at ``dest`` that looks like a backup.
        """
        dest = Path(dest)
        if dest.exists():
            raise ContactSyncError(f"backup target {str(dest)!r} exists; choose a new file name")
        if not dest.parent.exists():
            raise ContactSyncError(f"folder {str(dest.parent)!r} does not exist")
        tmp = _partial_name(dest)
        try:
            with self._store.connection() as con:
                con.execute("ATTACH ? AS _backup", [str(tmp)])
                try:
                    con.execute("COPY FROM DATABASE memory TO _backup" if self._store.in_memory else
                                f"COPY FROM DATABASE {q(con.execute('SELECT current_database()').fetchone()[0])} "
                                "TO _backup")
                    # the store's connections never checkpoint by themselves (contactsync.checkpoint): the copy
                    # is folded into one file here (a new file: nothing to tear), before DETACH
                    con.execute("CHECKPOINT _backup")
                finally:
                    con.execute("DETACH _backup")
            _fsync(tmp)
            if dest.exists():  # appeared meanwhile: never replace it
                raise ContactSyncError(f"backup target {str(dest)!r} appeared while the backup was written; "
                                       "choose a new file name")
            os.replace(tmp, dest)
        finally:
            for leftover in (tmp, Path(str(tmp) + ".wal")):
                leftover.unlink(missing_ok=True)
        return dest

    @staticmethod
    def verify_backup(backup: str | Path) -> dict:
        """Check that ``backup`` is a complete contactsync workspace this version can read, without
        changing it (read-only): a DuckDB file, with the workspace's tables and a schema version we know,
        every table readable to its end. Returns what it found (schema version, row counts, last run);
        raises :class:`WorkspaceError` naming the problem otherwise."""
        backup = Path(backup)
        if not backup.is_file():
            raise WorkspaceError(f"backup {str(backup)!r} does not exist (or is not a file)")
        if backup.stat().st_size == 0:
            raise WorkspaceError(f"backup {str(backup)!r} is empty (0 bytes): not a backup (an interrupted copy?). "
                                 "Choose another backup file.")
        try:
            con = Connection(duckdb.connect(str(backup), read_only=True))
        except duckdb.Error as exc:
            raise WorkspaceError(f"backup {str(backup)!r} is not a contactsync workspace (not a DuckDB file this "
                                 f"version reads: {str(exc).splitlines()[0]}). Choose another backup file.") from exc
        try:
            tables = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
            missing = sorted(set(REQUIRED_TABLES) - tables)
            if missing:
                raise WorkspaceError(f"backup {str(backup)!r} is not a contactsync workspace: it lacks the tables "
                                     f"{', '.join(missing)}. Choose another backup file.")
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
            if version is None:
                raise WorkspaceError(f"backup {str(backup)!r} has no schema version: not a contactsync workspace")
            if version > SCHEMA_VERSION:
                raise WorkspaceError(f"backup {str(backup)!r} was written by a newer contactsync (schema {version}; "
                                     f"this one reads up to {SCHEMA_VERSION}). Upgrade: pip install -U contactsync.")
            # reading every table to its end checks every block's checksum
            counts = {t: con.execute(f"SELECT count(*) FROM {q(t)}").fetchone()[0] for t in REQUIRED_TABLES}
            for t in REQUIRED_TABLES:
                con.execute(f"SELECT sum(hash(COLUMNS(*))) FROM {q(t)}").fetchall()
            last_run = con.execute("SELECT max(run_id) FROM run").fetchone()[0]
        except duckdb.Error as exc:
            raise WorkspaceError(f"backup {str(backup)!r} is damaged: {str(exc).splitlines()[0]}. Choose another "
                                 "backup file.") from exc
        finally:
            con.close()
        return {"schema_version": version, "rows": counts, "last_run": last_run}

    @classmethod
    def restore(cls, backup: str | Path, dest: str | Path, *, overwrite: bool = False) -> Workspace:
        """Restore a backup into ``dest`` (refuses to overwrite unless ``overwrite=True``); returns it opened.

        The backup is verified first (:meth:`verify_backup`) and only ever read; ``dest`` is replaced in one
        rename once the restored copy is complete and opens, so a bad backup or a crash leaves ``dest`` as it was.
        """
        backup, dest = Path(backup), Path(dest)
        cls.verify_backup(backup)
        if dest.exists() and backup.resolve() == dest.resolve():
            raise ContactSyncError(f"{str(dest)!r} is the backup itself; restore into another file")
        if dest.exists() and not overwrite:
            raise ContactSyncError(f"{str(dest)!r} exists; pass overwrite=True to replace it with the backup")
        if not dest.parent.exists():
            raise ContactSyncError(f"folder {str(dest.parent)!r} does not exist")
        if dest.exists():
            from .store import Store

            probe = Store(dest, busy_timeout=1.0)  # fails with WorkspaceBusyError when in use
            with probe.connection():
                pass
            probe.close()
        tmp = _partial_name(dest)
        try:
            con = Connection(duckdb.connect(str(tmp)))
            try:  # copy through DuckDB, the backup attached read-only: its WAL is read, the file never written
                con.execute("ATTACH ? AS _source (READ_ONLY)", [str(backup)])
                con.execute("COPY FROM DATABASE _source TO " + q(con.execute("SELECT current_database()").fetchone()[0]))
                con.execute("DETACH _source")
                con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise WorkspaceError(f"backup {str(backup)!r} is damaged: {str(exc).splitlines()[0]}. Choose another "
                                     "backup file.") from exc
            finally:
                con.close()
            cls.open(tmp).close()  # upgrades an older schema in the copy; proves it opens
            _fsync(tmp)
            Path(str(dest) + ".wal").unlink(missing_ok=True)
            os.replace(tmp, dest)
        finally:
            for leftover in (tmp, Path(str(tmp) + ".wal")):
                leftover.unlink(missing_ok=True)
        return cls.open(dest)

    # -- live connections (contactsync.live; needs the live extra) -------------------------------
    def connect(self, side: str, url: str, *, credential=None, test: bool = True, **options) -> str:
        """Keep a live connection for ``side`` ('crm' | 'nav'); no secrets (azure-identity signs in)."""
        from .live import service

        return service.connect(self, side, url, credential=credential, test=test, **options)

    def test_connection(self, side: str, *, credential=None) -> str:
        from .live import service

        return service.test_connection(self, side, credential)

    def pull(self, side: str, *, credential=None, full: bool = False, progress=None):
        """Bring a live side's changes in (delta link, else watermark); returns a ``PullResult``."""
        from .live import service

        return service.pull(self, side, credential=credential, full=full, progress=progress)

    def deliver(self, side: str | None = None, *, credential=None, credentials=None, batch_size=None,
                max_batches=None, progress=None):
        """Send the outbox to the live sides; returns a ``DeliveryResult``."""
        from .live import service

        return service.deliver(self, side, credential=credential, credentials=credentials, batch_size=batch_size,
                               max_batches=max_batches, progress=progress)

    def outbox(self, status: str | None = None, side: str | None = None, limit: int | None = 1000) -> pd.DataFrame:
        from .changeset import outbox_frame

        with self._store.connection() as con:
            return outbox_frame(con, status=status, side=side, limit=limit)

    # -- deep links ------------------------------------------------------------------------------
    def crm_url(self, crm_id: str) -> str:
        """Link to the CRM contact's form."""
        base = self.settings["crm_base_url"].rstrip("/")
        query = urllib.parse.urlencode({"etn": "contact", "pagetype": "entityrecord", "id": cp.crm_key(crm_id)})
        return f"{base}/main.aspx?{query}"

    def nav_url(self, no: str) -> str:
        """Link to the NAV/BC contact card (page 5050) filtered to the contact."""
        base = self.settings["nav_base_url"]
        query = urllib.parse.urlencode({"page": "5050", "filter": f"'No.' IS '{cp.nav_key(no)}'"},
                                       quote_via=urllib.parse.quote)
        return f"{base}?{query}"


#: A number as a phone or an amount is written: a sign, digits, spaces and ( ) . / - (``+49 30 1234567``)
_NUMBER_TEXT = re.compile(r"[+-]?[0-9][0-9 ()./-]*")


def is_formula(value) -> bool:
    """Whether a spreadsheet would run the cell as a formula (OWASP's CSV injection list: a leading
    ``=``, ``+``, ``-``, ``@``, TAB or CR) — except a number written as phones and amounts are
    (``+49 30 1234567``, ``-5``), which is data, not a formula."""
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return False
    return not (value[0] in "+-" and _NUMBER_TEXT.fullmatch(value.rstrip()))


def _partial_name(dest: Path) -> Path:
    """Where a file is written before it is renamed to ``dest`` (same folder: the rename is atomic)."""
    return dest.with_name(f".{dest.name}.partial-{os.getpid()}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _excel_text_not_formulas(path: Path) -> None:
    """openpyxl stores a string starting with '=' as a formula: store every such cell as the text it is,
    so the export re-imports exactly (and Excel does not run it)."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    changed = False
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    changed = True
    if changed:
        wb.save(path)


def _scratch_run(con, direction: str, force: bool) -> int:
    """A run row for a dry run's rehearsal (rolled back with it): id 0, which no real run has, so the dry
    run takes no number from the run sequence."""
    con.execute("INSERT INTO run (run_id, kind, direction, started_at, dry_run, force, inserted, modified, unchanged, "
                "skipped, failed, coupled, uncoupled) VALUES (0, 'sync', ?, ?, true, ?, 0, 0, 0, 0, 0, 0, 0)",
                [direction, _now(), force])
    return 0
