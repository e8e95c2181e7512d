"""The run pipeline: every run that synchronizes coupled pairs is one sequence of named steps.

    scope  → plan → check → apply → log → index

=========  =====================================================  ==============================
step       what it does                                           owner
=========  =====================================================  ==============================
scope      the couplings in the run: all contact couplings, or    :func:`scope`
           the named NAV records (a :class:`Scope`)
plan       the narrow pass (fingerprints: which pairs need a      :func:`contactsync.sync.plan`
           plan, which are in step) and the wide plan of the
           others, per field: values, changes, actions. The
           narrow pass continues from the last one: it reads
           only the pairs that may have changed since
           (:func:`contactsync.sync.delta_sql`)
check      the values the run would write: lengths (UTF-16),      :func:`contactsync.sync.check`
           e-mails (each distinct value once), lookups, value
           maps; filters and errors-list states; a status per
           pair (Failed, Skipped, Modified, Unchanged)
apply      change log, CRM and NAV updates, couplings (last-      :func:`contactsync.sync.apply`
           synced values, fingerprints), conflicts, errors,
           skips; what the next narrow pass continues from
           (:func:`contactsync.sync.remember_pass`)
log        the run's counts and end; its changes to the outbox   :func:`contactsync.history.finish_run`
           of a live side (:mod:`contactsync.changeset`)
index      the lists' search index for the records it changed    :func:`contactsync.search.refresh_run`
=========  =====================================================  ==============================

Each step takes and returns named objects: a :class:`Scope`, a :class:`Plan` that owns its relations
(:class:`Relations`: the temp tables it created, by name) and the run's :class:`~contactsync.sync.SyncResult`.
No step reads a table another module created except through these objects. One implementation serves
Synchronize (:meth:`Workspace.sync`), Synchronize Now (named records), Synchronize After Coupling
(:meth:`Workspace.couple`), match-then-sync (:meth:`Workspace.match_couple`) and the records a run creates
(create-missing, Create Contact in CRM / NAV): :func:`sync_pairs`.

The plan's working columns are named after their fields (:attr:`TableMapping.plan_keys
<contactsync.mapping.TableMapping.plan_keys>`): ``act_e_mail`` is the E-Mail field's action, ``pushv_city`` the
City value a push writes, ``b_city`` its last-synced value, so a traced statement reads by field.

A dry run is the same pipeline without the apply step; a rehearsal (a dry run that must create records to
know the outcome) is the whole pipeline in a transaction rolled back on purpose
(``Store.transaction(rollback=True)``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .mapping import TableMapping
from .sqlbuild import q

if TYPE_CHECKING:
    from .sync import SyncResult

__all__ = ["ROLES", "Plan", "Relations", "Scope", "scope", "scope_of", "sync_pairs"]

#: the relations of one run, by role (the step that creates each: see :class:`Relations`)
ROLES = (
    "scope",         # scope: the NAV keys of a scoped run (nav_no)
    "create",        # create: the records a run creates on the other side (nav_no, or crm_id for new NAV ones)
    "restore_fail",  # deletion strategies: why a deleted record could not be restored (nav_no, crm_id, message)
    "delta",         # plan: the pairs that may have changed since the last narrow pass (nav_no, crm_id)
    "passed",        # plan: the narrow pass over every pair (nav_no, crm_id, todo, n_mod, c_mod, nfp, cfp, n_scope)
    "cand",          # plan: the pairs the wide plan reads (todo = 'plan')
    "adopt",         # plan: the pairs in step without a plan (todo = 'adopt')
    "plan0",         # plan: the wide plan before its statuses
    "plan_n",        # plan: the pairs in scope (n)
    "bad_email",     # check: the e-mail addresses about to be written that are not valid (v, problem)
    "plan",          # check: the plan with failure/skip messages and a status per pair
    "touch",         # apply: the couplings the run updates (nav_no)
)

_seq = itertools.count(1)
_seq_lock = threading.Lock()


class Relations:
    """The temp tables of one run, each named for it (``_cs<N>_<role>``), so no two runs (nor a run and a
    module that happens to know a name) share one. An attribute gives the quoted name for SQL
    (``rel.plan`` → ``"_cs7_plan"``); :meth:`drop` removes them all when the run is over."""

    def __init__(self) -> None:
        with _seq_lock:
            self.number = next(_seq)
        self.names = {role: f"_cs{self.number}_{role}" for role in ROLES}

    def __getattr__(self, role: str) -> str:
        names = self.__dict__.get("names")
        if names is None or role not in names:
            raise AttributeError(role)
        return q(names[role])

    def drop(self, con) -> None:
        for name in self.names.values():
            con.execute(f"DROP TABLE IF EXISTS {q(name)}")

    def __repr__(self) -> str:
        return f"Relations({self.number})"


@dataclass
class Scope:
    """The couplings a run covers: ``keys`` (NAV numbers, sorted) for a scoped run, ``None`` for every
    contact coupling. A scoped run's keys are in ``rel.scope``."""

    rel: Relations
    keys: list[str] | None = None

    @property
    def scoped(self) -> bool:
        return self.keys is not None


def scope(con, keys=None, *, rel: Relations | None = None) -> Scope:
    """Step 1: the run's :class:`Scope` (``keys``: NAV numbers; ``None``: every contact coupling)."""
    rel = rel or Relations()
    if keys is None:
        return Scope(rel)
    ks = sorted({str(k) for k in ([keys] if isinstance(keys, str) else keys)})
    # one list parameter (a registered DataFrame is refused while the connection holds an unfinished result)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.scope} AS SELECT unnest(?::VARCHAR[]) AS nav_no", [ks])
    return Scope(rel, ks)


def scope_of(con, select_sql: str, params: list | None = None, *, rel: Relations | None = None) -> Scope:
    """Step 1 for a scope given as a query (its ``nav_no`` column): e.g. the pairs a run just created."""
    rel = rel or Relations()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.scope} AS SELECT DISTINCT CAST(nav_no AS VARCHAR) AS nav_no "
                f"FROM ({select_sql})", params or [])
    keys = [r[0] for r in con.execute(f"SELECT nav_no FROM {rel.scope} ORDER BY 1").fetchall()]
    return Scope(rel, keys)


@dataclass
class Plan:
    """Step 2's result: the planned run over a :class:`Scope`. It owns its relations (``rel``: the wide
    plan, the narrow pass, the pairs in step, ...), which later steps read through it."""

    mapping: TableMapping
    scope: Scope
    direction: str
    ts: datetime
    force: bool = False
    filters: bool = True
    only: frozenset[str] | None = None
    candidates: bool = False
    salt: int = 0
    #: the narrow pass continued from this run's (only the pairs changed since were read), or None (every pair)
    since: int | None = None
    #: the company couplings' digest when planned (a change makes the next narrow pass read every pair)
    companies: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rel(self) -> Relations:
        return self.scope.rel


def sync_pairs(con, m: TableMapping, sc: Scope, direction: str, *, ts: datetime, run_id: int | None,
               force: bool = False, only: frozenset[str] | None = None, filters: bool = True,
               dry_run: bool = False, skip_after: int = 2,
               before_apply: Callable[[Plan], object] | None = None) -> tuple[SyncResult, Plan]:
    """plan → check → apply (unless ``dry_run``) for the pairs of ``sc``; returns the
    :class:`~contactsync.sync.SyncResult` read from the checked plan (what the run does, or did) and the
    plan. ``before_apply(plan)``: a last look at the checked plan before it is written (the records a run
    creates drop their failed creations there). The run's log (``history.finish_run``: counts, outbox,
    search index) is the caller's, once per user action."""
    from . import sync

    p = sync.check(con, sync.plan(con, m, sc, direction, ts=ts, force=force, filters=filters, only=only))
    counts = dict(p.counts)
    conflicts, errors, changes = sync.plan_frames(con, p)
    skips = sync.skip_frame(con, p)
    if not dry_run:
        if run_id is None:
            raise ValueError("a run that is not a dry run needs its run_id")
        if before_apply is not None:
            before_apply(p)
        sync.apply(con, p, run_id, skip_after=skip_after)
    return sync.SyncResult(run_id=run_id, direction=direction, dry_run=dry_run, conflicts=conflicts, errors=errors,
                           changes=changes, skips=skips, **counts), p

