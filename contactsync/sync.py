"""Synchronization: plan (one set-based query over all coupled pairs), then apply.

The plan computes, for every coupled pair in scope and every mapped field, whether each side
changed since the last sync (against the last-synced value, or the modified-on when there is
none), and the action: push, pull, conflict or none. Records then get one status: Failed,
Skipped (a conflict), Modified or Unchanged. Applying is a fixed number of statements: log
changes, update CRM, update NAV, update couplings, record conflicts and errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from . import history, valuemaps
from .errors import SyncError
from .mapping import TableMapping
from .sqlbuild import condition_sql, filter_sql, norm, q
from .strategies import field_strategy, resolve_action
from .validate import email_shape_sql, invalid_emails_shaped, over_length_sql, shorten_sql, utf16_length_sql
from .vocab import Action, Direction, Outcome, sql_list

if TYPE_CHECKING:
    from .pipeline import Plan, Relations, Scope

__all__ = ["DIRECTIONS", "NAME_PARTS", "SyncResult", "adopt_sql", "apply", "bc_name_sql", "build_candidates_sql",
           "build_names_sql", "build_plan_sql", "build_status_sql", "check_direction", "counts", "derived_names", "filter_reason_sql",
           "fingerprint_salt", "fingerprint_sql", "names_kept", "plan", "plan_frames", "skip_frame", "check"]

DIRECTIONS = tuple(d.value for d in Direction)

#: the plan's vocabulary as SQL lists (contactsync.vocab): the actions that write, the outcomes that keep a pair in
#: step, the errors list's states
WRITES = sql_list((Action.PUSH, Action.PULL))
KEPT = sql_list((Outcome.MODIFIED, Outcome.UNCHANGED))
LISTED = sql_list((Outcome.FAILED, Outcome.SKIPPED))


@dataclass(frozen=True)
class SyncResult:
    run_id: int | None
    direction: str
    dry_run: bool = False
    inserted: int = 0
    modified: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    coupled: int = 0
    #: couplings the run removed (deletion-conflict strategy ``remove_coupling``)
    uncoupled: int = 0
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    changes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    #: one row per Skipped record: ``nav_no, crm_id, reason`` ('conflict' | 'filter' | 'excluded'), ``message``
    skips: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    #: couplings to a deleted record the deletion-conflict strategy handled: ``nav_no, crm_id, deleted``
    #: ('nav' | 'crm' | 'both'), ``action`` ('uncoupled' | 'restored' | 'not restored'), ``new_key``, ``message``
    deletions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @property
    def message(self) -> str:
        """"Synchronization completed", with what needs attention when records failed or were skipped."""
        issues = []
        if self.failed:
            issues.append(f"{self.failed} record(s) failed (see .errors)")
        if self.skipped:
            by = self.skips["reason"].value_counts().to_dict() if "reason" in self.skips else {}
            if by.get("filter"):
                issues.append(f"{by['filter']} skipped: left out by the mapping's filters (see .skips)")
            if by.get("excluded"):
                issues.append(f"{by['excluded']} skipped after repeated failures until retried (see .skips)")
            if by.get("deleted"):
                issues.append(f"{by['deleted']} skipped: coupled to a deleted record (see .skips)")
            n = self.skipped - by.get("filter", 0) - by.get("excluded", 0) - by.get("deleted", 0)
            if n:
                issues.append(f"{n} skipped on a conflict (see .conflicts)")
        if "action" in self.deletions:
            acts = self.deletions["action"].value_counts().to_dict()
            for act, text in (("restored", "restored from the other side (coupled to a deleted record)"),
                              ("uncoupled", "uncoupled: coupled to a deleted record")):
                if acts.get(act):
                    issues.append(f"{acts[act]} {text}")
        return "Synchronization completed" + (": " + "; ".join(issues) if issues else "")

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("inserted", "modified", "unchanged", "skipped", "failed")}

    def __str__(self) -> str:
        c = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        run = "dry run" if self.dry_run else f"run {self.run_id}"
        return f"{self.message} ({run}, {self.direction}: {c})"


NAME_PARTS = ("First Name", "Middle Name", "Surname")


def derived_names(m: TableMapping) -> tuple[bool, bool]:
    """Whether a pull recomputes NAV's ``Name`` (from First/Middle/Surname) and ``Company Name`` (from the
    company contact), as Business Central's Contact table does when those fields are validated; not when the
    mapping maps the field itself."""
    if m.nav_table != "nav_contact":
        return False, False
    mapped = {f.nav for f in m.fields}
    name = "Name" not in mapped and any(f.nav in NAME_PARTS and f.from_crm for f in m.fields)
    lk = m.lookup_field
    coname = "Company Name" not in mapped and lk is not None and lk.from_crm and lk.nav == "Company No."
    return name, coname


def names_kept(m: TableMapping) -> bool:
    return any(derived_names(m))


def bc_name_sql(first: str, middle: str, surname: str) -> str:
    """BC's ``Contact.CalculatedName``: First Name, then " " + Middle Name and " " + Surname where not
    empty, leading spaces removed, cut to Name's 100 characters (``CopyStr``)."""
    return (f"left(ltrim(concat({first}, CASE WHEN {middle} <> '' THEN ' ' || {middle} ELSE '' END, "
            f"CASE WHEN {surname} <> '' THEN ' ' || {surname} ELSE '' END), ' '), 100)")


def build_names_sql(m: TableMapping, rel: Relations) -> list[str]:
    """Statements (pure) adding to ``_plan0`` the ``Name`` and ``Company Name`` a pull leaves the NAV record
    with (``new_name``, ``new_coname``): BC recomputes Name when a name part is validated
    (``Name := CalculatedName()`` in the OnValidate of First Name, Middle Name and Surname) and Company Name
    when Company No. is (``InheritCompanyToPersonData``: the company contact's Name, else cleared)."""
    pk = m.plan_keys
    name, coname = derived_names(m)
    if not (name or coname):
        return []
    idx = {f.nav: i for i, f in enumerate(m.fields) if f.from_crm}
    stmts = [f"ALTER TABLE {rel.plan0} ADD COLUMN new_name VARCHAR", f"ALTER TABLE {rel.plan0} ADD COLUMN new_coname VARCHAR"]
    parts = []
    for part, now in zip(NAME_PARTS, ("n_first", "n_middle", "n_surname")):
        i = idx.get(part)
        parts.append(f"coalesce(CASE WHEN act_{pk[i]} = 'pull' THEN pullv_{pk[i]} ELSE {now} END, '')" if i is not None
                     else f"coalesce({now}, '')")
    pulled = " OR ".join(f"act_{pk[idx[p]]} = 'pull'" for p in NAME_PARTS if p in idx) or "false"
    new_name = f"CASE WHEN {pulled} THEN {bc_name_sql(*parts)} ELSE n_name END" if name else "n_name"
    k = idx.get("Company No.") if coname else None
    new_coname = f"CASE WHEN act_{pk[k]} = 'pull' THEN '' ELSE n_coname END" if k is not None else "n_coname"
    stmts.append(f"UPDATE {rel.plan0} SET new_name = {new_name}, new_coname = {new_coname}")
    if k is not None:
        stmts.append(f"UPDATE {rel.plan0} SET new_coname = coalesce(co.\"Name\", '') FROM nav_contact co "
                     f"WHERE {rel.plan0}.act_{pk[k]} = 'pull' AND co.\"No.\" = {rel.plan0}.pullv_{pk[k]}")
    return stmts


def _actions(f, direction: str, force: bool, differ: str, nav_chg: str, crm_chg: str,
             conflict: str = "conflict") -> str:
    """The action of field ``f``; ``conflict``: what a conflict on it becomes (``'conflict'``: the record is
    Skipped; ``'push'``/``'pull'``: resolved by the update-conflict strategy, see :mod:`contactsync.strategies`)."""
    bi = f.direction == "Bidirectional"
    if direction == "push":
        if not f.to_crm:
            return "'none'"
        if force:
            return f"CASE WHEN {differ} THEN 'push' ELSE 'none' END"
        if bi:
            return (f"CASE WHEN {differ} AND {nav_chg} AND {crm_chg} THEN '{conflict}' "
                    f"WHEN {differ} AND {nav_chg} THEN 'push' ELSE 'none' END")
        return f"CASE WHEN {differ} AND {nav_chg} THEN 'push' ELSE 'none' END"
    if direction == "pull":
        if not f.from_crm:
            return "'none'"
        if force:
            return f"CASE WHEN {differ} THEN 'pull' ELSE 'none' END"
        if bi:
            return (f"CASE WHEN {differ} AND {nav_chg} AND {crm_chg} THEN '{conflict}' "
                    f"WHEN {differ} AND {crm_chg} THEN 'pull' ELSE 'none' END")
        return f"CASE WHEN {differ} AND {crm_chg} THEN 'pull' ELSE 'none' END"
    # both
    if bi:
        return (f"CASE WHEN NOT {differ} THEN 'none' WHEN {nav_chg} AND {crm_chg} THEN '{conflict}' "
                f"WHEN {nav_chg} THEN 'push' WHEN {crm_chg} THEN 'pull' ELSE 'none' END")
    if f.to_crm:
        return f"CASE WHEN {differ} AND {nav_chg} THEN 'push' ELSE 'none' END"
    return f"CASE WHEN {differ} AND {crm_chg} THEN 'pull' ELSE 'none' END"


def _nv_sql(f, raw: str) -> str:
    """A NAV value in its comparable form (constants are handled by the caller): through the field's ToCRM
    transform rules; a value-mapped one case-insensitive (contactsync.valuemaps)."""
    return valuemaps.nav_comparable_sql(f, raw)


def _cv_sql(f, raw: str, lookup_as_nav: str) -> str:
    """A CRM value in its comparable NAV form; a company lookup through the company coupling; a value-mapped
    one as the NAV value it reads as; through the field's FromCRM transform rules."""
    if f.lookup:
        return (f"upper(coalesce({lookup_as_nav}, CASE WHEN {raw} IS NULL OR {raw} = '' THEN '' "
                f"ELSE '#' || {raw} END))")
    return valuemaps.crm_comparable_sql(f, raw)


def _derived(f) -> bool:
    """A field whose comparable form is not its raw text's: a lookup, a transform, a value map."""
    return bool(f.lookup) or valuemaps.uses_params(f)


def fingerprint_sql(m: TableMapping, side: str) -> str:
    """A record's fingerprint (UBIGINT, over the aliases ``n``/``cn`` for NAV, ``r``/``cr`` for CRM): the raw
    values of the side's mapped fields and filter columns, its company lookup, and whether a ``references``
    filter holds, seeded by the first parameter (:func:`fingerprint_salt`: the mapping, its value maps and
    transform rules). Kept on the coupling when a run leaves the pair in step (``nav_fp``, ``crm_fp``): a pair
    whose two records still have those fingerprints is in step, and no run compares its values again."""
    alias, lookup = ("n", "cn.crm_id") if side == "nav" else ("r", "cr.nav_no")
    conds = m.nav_filter if side == "nav" else m.crm_filter
    cols = [f.nav if side == "nav" else f.crm for f in m.fields]
    cols += [c.column for c in conds if c.column not in cols]
    parts = ["?::UBIGINT", *(f"{alias}.{q(c)}" for c in dict.fromkeys(cols))]
    if m.lookup_field is not None:
        parts.append(lookup)
    parts += [condition_sql(alias, c)[0] for c in conds if c.op == "references"]
    return f"hash({', '.join(parts)})"


def fingerprint_salt(con, m: TableMapping) -> int:
    """What a fingerprint depends on beyond the records: the mapping (fields, options, filters), the
    contents of its value maps and transform rules, and the workspace's fingerprint epoch (renewed when
    ``sql(write=True)`` changed tables behind contactsync's back). Any change to them makes every pair
    compared once."""
    row = con.execute(
        "SELECT hash(?::VARCHAR, (SELECT value FROM meta WHERE key = ?),\n"
        "  (SELECT string_agg(concat_ws(chr(31), map, side, k, v), chr(30) ORDER BY map, side, k, v) FROM value_map_entry),\n"
        "  (SELECT string_agg(concat_ws(chr(31), rule_id, find, repl, start, len), chr(30) "
        "ORDER BY rule_id, find, repl, start, len) FROM transform_param))", [m.to_toml(), "fingerprint_epoch"]).fetchone()
    return int(row[0])


def build_candidates_sql(m: TableMapping, delta: str | None = None) -> tuple[str, list]:
    """The narrow first pass (pure) over every contact coupling: what each pair needs from a run, without
    comparing the values of pairs that are known to be in step. Its rows (``nav_no, crm_id, todo, n_mod,
    c_mod, nfp, cfp, n_scope``) are the pairs with something to do:

    - ``todo = 'plan'``: the wide plan decides (a record gone or left out by a filter, an errors-list state,
      or a record whose fingerprint changed since the pair was last in step and whose values now differ);
    - ``todo = 'adopt'``: in step without a plan: both records keep the fingerprints of the last run that
      left the pair in step and only a modified-on moved, or the values agree field by field (a coupling just
      imported, both sides changed alike); the run records the last-synced values, modified-ons and
      fingerprints (:func:`adopt_sql`).

    Pairs with neither are Unchanged and untouched. ``n_scope`` counts every pair in scope (a pair the filters
    leave out is Skipped, not dropped). Not for mappings with constants (their value is not in a record).

    ``delta``: the (quoted) relation of the pairs that may have changed since the last narrow pass
    (:func:`delta_sql`); only they, and only their records, are read (the others are in step as that pass
    left them)."""
    lk = m.lookup_field
    nav_mod = f"n.{q(m.nav_modified)}" if m.nav_modified else "NULL::TIMESTAMP"
    crm_mod = f"r.{q(m.crm_modified)}" if m.crm_modified else "NULL::TIMESTAMP"
    nf, nfp = filter_sql("n", m.nav_filter)
    cf, cfp = filter_sql("r", m.crm_filter)
    n_lk = (f" LEFT JOIN coupling cn ON cn.entity = 'company' AND cn.nav_no = n.{q(lk.nav)}" if lk else "")
    c_lk = (f" LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.{q(lk.crm)}" if lk else "")
    eqs = []
    for f in m.fields:
        nraw, craw = f"CAST(n.{q(f.nav)} AS VARCHAR)", f"CAST(r.{q(f.crm)} AS VARCHAR)"
        nv, cv = _nv_sql(f, nraw), _cv_sql(f, craw, "cr.nav_no")
        # a field without transform, value map or lookup: equal raw text is equal (the comparable form is
        # computed only where the raw values differ)
        eqs.append(f"({nv} = {cv})" if _derived(f) else f"(CASE WHEN {nraw} IS NOT DISTINCT FROM {craw} THEN true "
                                                         f"ELSE {nv} = {cv} END)")
    # (a pair with anything in the errors list's columns is the plan's: it alone writes those)
    flagged = ("nn.k IS NULL OR rr.k IS NULL OR NOT nn.ok OR NOT rr.ok OR c.nav_missing OR c.crm_missing OR "
               "coalesce(c.excluded, false) OR c.sync_state IS NOT NULL OR c.sync_message IS NOT NULL OR "
               "coalesce(c.fail_streak, 0) <> 0 OR coalesce(c.skipped, false)")
    same_mod = ("c.nav_synced_modified IS NOT DISTINCT FROM nn.mod AND "
                "c.crm_synced_modified IS NOT DISTINCT FROM rr.mod")
    # 1. narrow: keys, modified-ons, fingerprints and flags of every pair; 2. the values, compared only for
    # the pairs whose fingerprints do not vouch for them
    pre = (f"CASE WHEN {flagged} THEN 'plan' "
           f"WHEN c.nav_fp = nn.fp AND c.crm_fp = rr.fp THEN CASE WHEN {same_mod} THEN NULL ELSE 'adopt' END "
           f"ELSE 'check' END")
    only_x = f" AND c.nav_no IN (SELECT nav_no FROM {delta})" if delta else ""
    only_n = f" WHERE n.{q(m.nav_key)} IN (SELECT nav_no FROM {delta})" if delta else ""
    only_r = f" WHERE r.{q(m.crm_key)} IN (SELECT crm_id FROM {delta})" if delta else ""
    n_scope = "SELECT count(*) AS n FROM coupling WHERE entity = 'contact'" if delta else "SELECT count(*) AS n FROM x"
    sql = f"""WITH x AS MATERIALIZED (
    SELECT c.nav_no, c.crm_id, nn.mod AS n_mod, rr.mod AS c_mod, nn.fp AS nfp, rr.fp AS cfp, {pre} AS pre
    FROM coupling c
    LEFT JOIN (SELECT n.{q(m.nav_key)} AS k, {nav_mod} AS mod, ({nf}) IS TRUE AS ok,
                      {fingerprint_sql(m, 'nav')} AS fp
               FROM {q(m.nav_table)} n{n_lk}{only_n}) nn ON nn.k = c.nav_no
    LEFT JOIN (SELECT r.{q(m.crm_key)} AS k, {crm_mod} AS mod, ({cf}) IS TRUE AS ok,
                      {fingerprint_sql(m, 'crm')} AS fp
               FROM {q(m.crm_table)} r{c_lk}{only_r}) rr ON rr.k = c.crm_id
    WHERE c.entity = 'contact'{only_x}),
n_scope AS ({n_scope})
SELECT nav_no, crm_id, pre AS todo, n_mod, c_mod, nfp, cfp, (SELECT n FROM n_scope) AS n_scope
FROM x WHERE pre IN ('plan', 'adopt')
UNION ALL
SELECT x.nav_no, x.crm_id, CASE WHEN {' AND '.join(eqs) or 'true'} THEN 'adopt' ELSE 'plan' END, x.n_mod, x.c_mod,
       x.nfp, x.cfp, (SELECT n FROM n_scope)
FROM x JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = x.nav_no
JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = x.crm_id{c_lk}
WHERE x.pre = 'check'"""
    return sql, [*nfp, "SALT", *cfp, "SALT"]


#: ``meta`` key of the last narrow pass: ``[run id, salt, company couplings' digest]`` (JSON)
NARROW_MARK = "narrow_mark"
#: the company couplings, as one number (a person's fingerprint holds its company's coupled account)
COMPANIES_SQL = ("SELECT hash(coalesce(string_agg(nav_no || chr(31) || crm_id, chr(30) ORDER BY nav_no, crm_id), '')) "
                 "FROM coupling WHERE entity = 'company'")


def only_contactsync_writes(con) -> bool:
    """The steward's word that no other tool writes the file (a write with another DuckDB client is in no log)."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", ["setting:only_contactsync_writes"]).fetchone()
    return row == ("yes",)


def delta_since(con, m: TableMapping, salt: int, companies: int) -> int | None:
    """The run whose narrow pass the next one may continue from, or None (it reads every pair).

    A pair the last narrow pass (run R) left in step stays in step until its records or its coupling change.
    Every change to a record is in the change log and every change to a coupling in the coupling log (the run
    that made it, after R: the search index relies on the same), and R kept the pairs it left not in step
    (``sync_pending``). So the next pass need read only those pairs (:func:`delta_sql`), unless something else
    moved: the mapping, its value maps or transform rules, or ``sql(write=True)`` (the salt); a company coupling
    (in a person's fingerprint); an undo (it puts couplings back without logging them); ``reindex()`` (the step
    after editing the file with another tool). Only with the setting ``only_contactsync_writes = "yes"``: a
    write by another DuckDB client is in no log, and only a pass over every pair sees it."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [NARROW_MARK]).fetchone()
    if row is None or not only_contactsync_writes(con):
        return None
    try:
        run, mark_salt, mark_companies = json.loads(row[0])
    except (ValueError, TypeError):
        return None
    if str(mark_salt) != str(salt) or str(mark_companies) != str(companies):
        return None
    undone = con.execute("SELECT count(*) FROM run WHERE run_id > ? AND (kind = ? OR undoes IS NOT NULL)",
                         [run, "undo"]).fetchone()[0]
    return None if undone else int(run)


def delta_sql(m: TableMapping, since: int) -> tuple[str, list]:
    """The pairs (``nav_no, crm_id``) that may have changed since the narrow pass of run ``since``: those it
    left not in step, those with anything in the errors list's columns or no fingerprint yet, those whose
    record (either side) or coupling a later run changed, and those whose record refers to an account a later
    run added, changed or removed (a ``references`` filter)."""
    refs: list[str] = []
    params: list = [since] * 4
    for conds, table, key, pair_key in ((m.nav_filter, m.nav_table, m.nav_key, "nav_no"),
                                        (m.crm_filter, m.crm_table, m.crm_key, "crm_id")):
        for cond in conds:
            if cond.op == "references":
                refs.append(f"\n  OR c.{pair_key} IN (SELECT t.{q(key)} FROM {q(table)} t WHERE t.{q(cond.column)} IN "
                            "(SELECT key FROM change_log WHERE run_id > ? AND side = ?))")
                params += [since, "account"]
    return ("""SELECT c.nav_no, c.crm_id FROM coupling c
WHERE c.entity = 'contact' AND (
  c.nav_fp IS NULL OR c.crm_fp IS NULL OR coalesce(c.nav_missing, false) OR coalesce(c.crm_missing, false)
  OR coalesce(c.excluded, false) OR c.sync_state IS NOT NULL OR c.sync_message IS NOT NULL
  OR coalesce(c.fail_streak, 0) <> 0 OR coalesce(c.skipped, false)
  OR c.nav_no IN (SELECT nav_no FROM sync_pending)
  OR c.nav_no IN (SELECT key FROM change_log WHERE run_id > ? AND side = 'nav')
  OR c.crm_id IN (SELECT key FROM change_log WHERE run_id > ? AND side = 'crm')
  OR c.nav_no IN (SELECT nav_no FROM coupling_log WHERE run_id > ? AND entity = 'contact')
  OR c.crm_id IN (SELECT crm_id FROM coupling_log WHERE run_id > ? AND entity = 'contact')""" + "".join(refs) + ")",
            params)


def filter_reason_sql(alias: str, conditions, record: str) -> tuple[str, list]:
    """SQL (and its parameters) for why the record ``alias`` is left out by the filter ``conditions``: the
    reason of the first condition it fails with its value, e.g. "CRM contact is inactive (statecode=1)";
    NULL when it passes."""
    whens, params = [], []
    for cond in conditions:
        test, tparams = condition_sql(alias, cond)
        has = f"coalesce(CAST({alias}.{q(cond.column)} AS VARCHAR), '')"  # SQL: the record's value
        shown = (f"CASE WHEN {has} = '' THEN ? || ' is empty' ELSE ? || '=' || "
                 f"CASE WHEN length({has}) > 40 THEN left({has}, 39) || '…' ELSE {has} END END")
        whens.append(f"WHEN ({test}) IS NOT TRUE THEN ? || ' (' || {shown} || ')'")
        params += [*tparams, cond.reason(record), cond.column, cond.column]
    return (f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"), params


def _scope_sql(m: TableMapping, rel: Relations, scoped: bool, lookups: bool = True,
               candidates: bool = False) -> tuple[str, list]:
    """``FROM ... WHERE ...`` of the coupled pairs in scope (aliases c, n, r; cn, cr for the lookup)."""
    params: list = []
    lk = m.lookup_field
    joins = ""
    if lk and lookups:  # company couplings are one-to-one: these joins never change the row count
        joins = (f" LEFT JOIN coupling cn ON cn.entity = 'company' AND cn.nav_no = n.{q(lk.nav)}"
                 f" LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.{q(lk.crm)}")
    where = "c.entity = 'contact'"  # every coupled pair: those the filters leave out are Skipped, with why
    if scoped:
        where += f" AND c.nav_no IN (SELECT nav_no FROM {rel.scope})"
    elif candidates:
        where += f" AND c.nav_no IN (SELECT nav_no FROM {rel.cand})"
    nav_src, crm_src = q(m.nav_table), q(m.crm_table)
    if candidates:  # only the candidates' rows enter the joins' hash tables
        nav_src = f"(SELECT * FROM {nav_src} WHERE {q(m.nav_key)} IN (SELECT nav_no FROM {rel.cand}))"
        crm_src = f"(SELECT * FROM {crm_src} WHERE {q(m.crm_key)} IN (SELECT crm_id FROM {rel.cand}))"
    elif scoped:  # the same for the named records (a Synchronize Now of one contact built hash tables of all)
        nav_src = f"(SELECT * FROM {nav_src} WHERE {q(m.nav_key)} IN (SELECT nav_no FROM {rel.scope}))"
        crm_src = (f"(SELECT * FROM {crm_src} WHERE {q(m.crm_key)} IN (SELECT s.crm_id FROM coupling s "
                   f"WHERE s.entity = 'contact' AND s.nav_no IN (SELECT nav_no FROM {rel.scope})))")
    return (f"FROM coupling c "
            f"LEFT JOIN {nav_src} n ON n.{q(m.nav_key)} = c.nav_no "
            f"LEFT JOIN {crm_src} r ON r.{q(m.crm_key)} = c.crm_id{joins} WHERE {where}"), params


def _keep_sql(m: TableMapping) -> str:
    """Over the plan: the pairs a run can change (an action, a failure, or a coupling to update).
    Every other pair is Unchanged with its coupling left as is, so the plan keeps only these
    (a superset of the rows ``apply`` reads) and counts the others (``_plan_n``)."""
    pk = m.plan_keys
    n = range(len(m.fields))
    return " OR ".join([
        "coalesce(nav_gone, false)", "coalesce(crm_gone, false)", "nfilt IS NOT NULL", "cfilt IS NOT NULL",
        "excl", "prev_state IS NOT NULL",
        *(f"act_{pk[i]} <> 'none'" for i in n),
        "nav_synced_modified IS DISTINCT FROM n_mod", "crm_synced_modified IS DISTINCT FROM c_mod",
        # nb_i differs from b_i only on an action, a never-synced field, or a value both sides now agree on
        # (the same rows as "nb_i IS DISTINCT FROM b_i" plus never-synced ones; cheaper than nb_i's CASE)
        *(f"(b_{pk[i]} IS NULL OR (nv_{pk[i]} = cv_{pk[i]} AND nv_{pk[i]} <> b_{pk[i]}))" for i in n),
        # a pair whose fingerprints the run records (or forgets)
        "old_nfp IS DISTINCT FROM (CASE WHEN instep THEN nfp0 END)",
        "old_cfp IS DISTINCT FROM (CASE WHEN instep THEN cfp0 END)",
    ])


def build_plan_sql(m: TableMapping, rel: Relations, direction: str, force: bool, scoped: bool,
                   candidates: bool = False, filters: bool = True,
                   only: frozenset[str] | None = None) -> tuple[str, list]:
    """The plan query (pure): one row per coupled pair in scope with per-field values and actions.
    ``only``: the NAV names of the fields the run may change; the others are left as they are (their last-synced
    values too, so a later run still sees their changes)."""
    pk = m.plan_keys
    nav_mod = f"n.{q(m.nav_modified)}" if m.nav_modified else "NULL::TIMESTAMP"
    crm_mod = f"r.{q(m.crm_modified)}" if m.crm_modified else "NULL::TIMESTAMP"
    nav_side = "(nav_synced_modified IS NULL OR n_mod IS NULL OR n_mod > nav_synced_modified)"
    crm_side = "(crm_synced_modified IS NULL OR c_mod IS NULL OR c_mod > crm_synced_modified)"
    inner = [
        "c.nav_no", "c.crm_id", f"{nav_mod} AS n_mod", f"{crm_mod} AS c_mod",
        f"(n.{q(m.nav_key)} IS NULL OR c.nav_missing) AS nav_gone",
        f"(r.{q(m.crm_key)} IS NULL OR c.crm_missing) AS crm_gone",
        "c.nav_synced_modified", "c.crm_synced_modified",
        # the errors list's state: Skipped after repeated failures (until retried), the latest outcome
        "coalesce(c.excluded, false) AS excl", "c.sync_state AS prev_state", "c.sync_message AS prev_msg",
        "coalesce(c.fail_streak, 0) AS prev_streak",
    ]
    if m.nav_table == "nav_contact":
        inner += ['n."Last Date Modified" AS n_ld', 'n."Last Time Modified" AS n_lt']
        if names_kept(m):
            inner += ['n."Name" AS n_name', 'n."Company Name" AS n_coname', 'n."First Name" AS n_first',
                      'n."Middle Name" AS n_middle', 'n."Surname" AS n_surname']
    # a pair the mapping's filters leave out is Skipped with the reason (an existing record only: a missing
    # one fails)
    # (not for a record being created from the other side: the plan fills it)
    nfilt, nfparams = filter_reason_sql("n", m.nav_filter if filters else (), "NAV contact")
    cfilt, cfparams = filter_reason_sql("r", m.crm_filter if filters else (), "CRM contact")
    inner += [f"CASE WHEN n.{q(m.nav_key)} IS NOT NULL THEN {nfilt} END AS nfilt",
              f"CASE WHEN r.{q(m.crm_key)} IS NOT NULL THEN {cfilt} END AS cfilt"]
    fparams = nfparams + cfparams
    for i, f in enumerate(m.fields):
        nav_raw = f"n.{q(f.nav)}"
        crm_raw = f"r.{q(f.crm)}"
        inner += [f"CAST({nav_raw} AS VARCHAR) AS nraw_{pk[i]}", f"CAST({crm_raw} AS VARCHAR) AS craw_{pk[i]}",
                  f"c.{q(f.base_column)} AS b_{pk[i]}"]
        if f.lookup:
            inner += ["cn.crm_id AS lk_nav_as_crm", "cr.nav_no AS lk_crm_as_nav"]
    # the records' fingerprints as read (the salt is bound by plan())
    inner += [f"{fingerprint_sql(m, 'nav')} AS nfp0", f"{fingerprint_sql(m, 'crm')} AS cfp0",
              "c.nav_fp AS old_nfp", "c.crm_fp AS old_cfp"]
    fparams = fparams + ["SALT", "SALT"]
    from_where, params = _scope_sql(m, rel, scoped, candidates=candidates)
    src = f"SELECT {', '.join(inner)} {from_where}"

    # second level: normalized values, changes, actions, new values
    cols = ["*"]
    cparams: list = []
    for i, f in enumerate(m.fields):
        code = f.code or bool(f.lookup)
        if f.constant is not None and f.direction == "ToCRM":
            nv = norm("CAST(? AS VARCHAR)", code)
            cparams.append(f.constant)
        else:
            nv = _nv_sql(f, f"nraw_{pk[i]}")
        if f.constant is not None and f.direction == "FromCRM" and not f.lookup:
            cv = norm("CAST(? AS VARCHAR)", code)
            cparams.append(f.constant)
        else:
            cv = _cv_sql(f, f"craw_{pk[i]}", "lk_crm_as_nav")
        cols += [f"{nv} AS nv_{pk[i]}", f"{cv} AS cv_{pk[i]}"]
    lvl2 = f"SELECT {', '.join(cols)} FROM ({src})"
    cols3 = ["*"]
    for i, f in enumerate(m.fields):
        differ = f"(nv_{pk[i]} <> cv_{pk[i]})"
        nav_chg = f"(CASE WHEN b_{pk[i]} IS NOT NULL THEN nv_{pk[i]} <> b_{pk[i]} ELSE {nav_side} END)"
        crm_chg = f"(CASE WHEN b_{pk[i]} IS NOT NULL THEN cv_{pk[i]} <> b_{pk[i]} ELSE {crm_side} END)"
        resolved = "conflict" if force or f.direction != "Bidirectional" else resolve_action(field_strategy(m, f),
                                                                                               direction)
        act = "'none'" if only is not None and f.nav not in only else _actions(f, direction, force, differ, nav_chg,
                                                                                crm_chg, resolved)
        # rc_i: a conflict the strategy resolved (logged in run_conflict with both values)
        rc = (f"({differ} AND {nav_chg} AND {crm_chg})" if resolved != "conflict" and (only is None or f.nav in only)
              else "false")
        act = valuemaps.not_null_act(f, pk[i], act)  # Not Null: an empty value is never written
        cols3 += [f"{nav_chg} AS nchg_{pk[i]}", f"{crm_chg} AS cchg_{pk[i]}", f"{act} AS act_{pk[i]}", f"{rc} AS rc_{pk[i]}"]
        # value written to CRM on push / to NAV on pull
        if f.lookup:
            cols3.append(f"lk_nav_as_crm AS pushv_{pk[i]}")
            cols3.append(f"lk_crm_as_nav AS pullv_{pk[i]}")
        else:
            push_src = f"nv_{pk[i]}" if f.constant is not None else f"nraw_{pk[i]}"
            pull_src = f"cv_{pk[i]}" if f.constant is not None else f"craw_{pk[i]}"
            # through the field's transform rules or value map (contactsync.valuemaps)
            cols3.append(f"{valuemaps.push_value_sql(f, push_src)} AS pushv_{pk[i]}")
            cols3.append(f"{valuemaps.pull_value_sql(f, pull_src)} AS pullv_{pk[i]}")
    lvl3 = f"SELECT {', '.join(cols3)} FROM ({lvl2})"
    # the last-synced value each field gets if the record is synced: the agreed value; or, never synced
    # here, the value of the side that did not change (it still holds what was last synced)
    cols4, pend_nav, pend_crm = ["*"], [], []
    for i, _f in enumerate(m.fields):
        cols4.append(
            f"CASE WHEN act_{pk[i]} IN {WRITES} OR nv_{pk[i]} = cv_{pk[i]} "
            f"THEN (CASE WHEN act_{pk[i]} = 'pull' THEN cv_{pk[i]} ELSE nv_{pk[i]} END) "
            f"WHEN b_{pk[i]} IS NULL AND NOT nchg_{pk[i]} AND cchg_{pk[i]} THEN nv_{pk[i]} "
            f"WHEN b_{pk[i]} IS NULL AND nchg_{pk[i]} AND NOT cchg_{pk[i]} THEN cv_{pk[i]} ELSE b_{pk[i]} END AS nb_{pk[i]}")
        pend_nav.append(f"(b_{pk[i]} IS NULL AND nchg_{pk[i]} AND nv_{pk[i]} <> cv_{pk[i]} AND act_{pk[i]} NOT IN {WRITES} "
                        f"AND cchg_{pk[i]})")
        pend_crm.append(f"(b_{pk[i]} IS NULL AND cchg_{pk[i]} AND nv_{pk[i]} <> cv_{pk[i]} AND act_{pk[i]} NOT IN {WRITES} "
                        f"AND nchg_{pk[i]})")
    # a change with no last-synced value to compare with stays pending: the side's modified-on is not advanced
    cols4.append(f"({' OR '.join(pend_nav)}) AS pend_nav")
    cols4.append(f"({' OR '.join(pend_crm)}) AS pend_crm")
    # in step once the run is written (every field agrees, nothing left pending): its fingerprints are kept
    agree = [f"(act_{pk[i]} IN {WRITES} OR nv_{pk[i]} = cv_{pk[i]})" for i in range(len(m.fields))]
    cols4.append(f"coalesce({' AND '.join(agree) or 'true'} AND NOT ({' OR '.join(pend_nav) or 'false'}) "
                 f"AND NOT ({' OR '.join(pend_crm) or 'false'}), false) AS instep")
    sql = f"SELECT {', '.join(cols4)} FROM ({lvl3})"
    return sql, cparams + fparams + params


def build_status_sql(m: TableMapping, rel: Relations) -> tuple[str, list]:
    """Statements (pure) that add each record's failure message and status to ``_plan0`` and make it
    ``_plan``; the parameters belong to the one that sets ``fail_msg``."""
    pk = m.plan_keys
    msgs, params = [], []
    for i, f in enumerate(m.fields):
        if f.lookup:
            msgs.append(
                f"CASE WHEN act_{pk[i]} = 'push' AND nv_{pk[i]} <> '' AND pushv_{pk[i]} IS NULL THEN "
                f"'NAV company ' || nv_{pk[i]} || ' is not coupled to a CRM account: couple it first "
                f"(couple_company(''' || nv_{pk[i]} || ''', account_id))' END")
            msgs.append(
                f"CASE WHEN act_{pk[i]} = 'pull' AND craw_{pk[i]} IS NOT NULL AND craw_{pk[i]} <> '' AND pullv_{pk[i]} IS NULL "
                f"THEN 'CRM account ' || craw_{pk[i]} || ' is not coupled to a NAV company: couple it first "
                f"(couple_company(company_no, ''' || craw_{pk[i]} || '''))' END")
        if f.max_length:  # BC's Text[n] counts UTF-16 code units: an emoji counts 2
            msgs.append(
                f"CASE WHEN act_{pk[i]} = 'pull' AND {over_length_sql(f'pullv_{pk[i]}')} THEN "
                f"? || ': ' || {shorten_sql(f'pullv_{pk[i]}')} || ' has ' || {utf16_length_sql(f'pullv_{pk[i]}')} || "
                f"' characters; the NAV field holds at most ' || ? || ' (Business Central counts UTF-16 units: "
                f"an emoji counts 2). Shorten it in CRM, then sync again.' END")
            params += [f.max_length, f.max_length, f.nav, f.max_length]
        if f.validate == "email":
            msgs.append(
                f"CASE WHEN act_{pk[i]} = 'push' AND pushv_{pk[i]} IN (SELECT v FROM {rel.bad_email}) THEN "
                f"? || ': ''' || pushv_{pk[i]} || ''' is not a valid e-mail address. Correct it in NAV.' "
                f"WHEN act_{pk[i]} = 'pull' AND pullv_{pk[i]} IN (SELECT v FROM {rel.bad_email}) THEN "
                f"? || ': ''' || pullv_{pk[i]} || ''' is not a valid e-mail address. Correct it in CRM.' END")
            params += [f.nav, f.crm]
        vm_msgs, vm_params = valuemaps.fail_messages_sql(f, pk[i])  # a value its value map does not have
        msgs += vm_msgs
        params += vm_params
    n = len(m.fields)
    acts = ", ".join(f"act_{pk[i]}" for i in range(n))
    any_conflict = f"list_contains([{acts}], 'conflict')"
    any_push = f"list_contains([{acts}], 'push')"
    any_pull = f"list_contains([{acts}], 'pull')"
    # BC's CoupledRecordIsDeletedErr (codeunit Integration Rec. Synch. Invoke), %1 = the source record's table,
    # then which record is gone, and why a restore (deletion_conflict = 'restore') could not be made
    gone = ("CASE WHEN nav_gone THEN 'The CRM contact record cannot be updated because it is coupled to a deleted "
            "record. The coupled NAV contact ' || nav_no || ' no longer exists (deleted, or missing from the last full "
            "import). Restore it, or delete the coupling.' "
            "WHEN crm_gone THEN 'The NAV contact record cannot be updated because it is coupled to a deleted "
            "record. The coupled CRM contact ' || crm_id || ' no longer exists (deleted, or missing from the last full "
            "import). Restore it, or delete the coupling.' END || coalesce(' It could not be restored: ' || "
            f"(SELECT min(rf.message) FROM {rel.restore_fail} rf WHERE rf.nav_no = {rel.plan0}.nav_no), '')")
    # a gone record fails; else a pair the filters leave out is Skipped (nothing checked, nothing written)
    msg = (f"CASE WHEN excl THEN '' WHEN nav_gone OR crm_gone THEN {gone} WHEN skip_msg IS NOT NULL THEN '' "
           f"ELSE concat_ws('; ', {', '.join(msgs) if msgs else 'NULL'}) END")
    status = (f"CASE WHEN fail_msg <> '' THEN 'failed' WHEN skip_msg IS NOT NULL OR {any_conflict} THEN 'skipped' "
              f"WHEN {any_push} OR {any_pull} THEN 'modified' ELSE 'unchanged' END")
    skip = ("CASE WHEN excl THEN 'Skipped: it failed ' || prev_streak || ' runs in a row with the same error (' || "
            "coalesce(prev_msg, '') || '). Fix the cause, then retry it: ws.retry([''' || nav_no || ''']).' ELSE "
            "nullif(concat_ws('; ', nfilt, cfilt), '') || '. The mapping''s filter leaves it out, so the pair was "
            "not synchronized (change the record, or the filter, to sync it).' END")
    # set in place on the plan (cheaper than copying its ~200 columns into a new table)
    sql = [
        f"ALTER TABLE {rel.plan0} ADD COLUMN skip_msg VARCHAR",
        f"ALTER TABLE {rel.plan0} ADD COLUMN fail_msg VARCHAR",
        f"ALTER TABLE {rel.plan0} ADD COLUMN status VARCHAR",
        f"ALTER TABLE {rel.plan0} ADD COLUMN any_push BOOLEAN",
        f"ALTER TABLE {rel.plan0} ADD COLUMN any_pull BOOLEAN",
        f"UPDATE {rel.plan0} SET skip_msg = {skip}",
        f"UPDATE {rel.plan0} SET fail_msg = {msg}, any_push = {any_push}, any_pull = {any_pull}",
        f"UPDATE {rel.plan0} SET status = {status}",
        f"DROP TABLE IF EXISTS {rel.plan}",
        f"ALTER TABLE {rel.plan0} RENAME TO {rel.plan}",
    ]
    return sql, params


def _changes_sql(m: TableMapping, rel: Relations) -> tuple[str, list]:
    """The field-level changes of the plan (old/new as VARCHAR), one UNION over fields."""
    pk = m.plan_keys
    parts, params = [], []
    for i, f in enumerate(m.fields):
        parts.append(f"SELECT 'crm' AS side, crm_id AS key, ? AS field, craw_{pk[i]} AS old_value, "
                     f"pushv_{pk[i]} AS new_value FROM {rel.plan} WHERE status = 'modified' AND act_{pk[i]} = 'push'")
        parts.append(f"SELECT 'nav', nav_no, ?, nraw_{pk[i]}, pullv_{pk[i]} FROM {rel.plan} "
                     f"WHERE status = 'modified' AND act_{pk[i]} = 'pull'")
        params += [f.crm, f.nav]
    if m.crm_modified:
        parts.append(f"SELECT 'crm', crm_id, ?, CAST(c_mod AS VARCHAR), CAST(?::TIMESTAMP AS VARCHAR) FROM {rel.plan} "
                     "WHERE status = 'modified' AND any_push")
        params += [m.crm_modified, "RUN_TS"]
    if m.nav_modified:
        parts.append(f"SELECT 'nav', nav_no, ?, CAST(n_mod AS VARCHAR), CAST(?::TIMESTAMP AS VARCHAR) FROM {rel.plan} "
                     "WHERE status = 'modified' AND any_pull")
        params += [m.nav_modified, "RUN_TS"]
    for col, new in zip(("Name", "Company Name"), derived_names(m)):
        if new:  # recomputed on a pull, as BC does: logged, so undo restores it
            old = "n_name" if col == "Name" else "n_coname"
            parts.append(f"SELECT 'nav', nav_no, ?, {old}, {'new_' + old[2:]} FROM {rel.plan} WHERE status = 'modified' "
                         f"AND any_pull AND {'new_' + old[2:]} IS DISTINCT FROM {old}")
            params.append(col)
    if m.nav_table == "nav_contact":
        parts.append("SELECT 'nav', nav_no, 'Last Date Modified', CAST(n_ld AS VARCHAR), "
                     f"CAST(CAST(?::TIMESTAMP AS DATE) AS VARCHAR) FROM {rel.plan} WHERE status = 'modified' AND any_pull")
        parts.append("SELECT 'nav', nav_no, 'Last Time Modified', CAST(n_lt AS VARCHAR), "
                     f"CAST(CAST(?::TIMESTAMP AS TIME) AS VARCHAR) FROM {rel.plan} WHERE status = 'modified' AND any_pull")
        params += ["RUN_TS", "RUN_TS"]
    return " UNION ALL ".join(parts), params


def _conflicts_sql(m: TableMapping, rel: Relations) -> tuple[str, list]:
    """The plan's conflicts: Skipped ones (``resolution`` NULL) and those the update-conflict strategy
    resolved in a record the run writes (``resolution`` 'send': NAV won, 'get': CRM won), with both values."""
    pk = m.plan_keys
    parts, params = [], []
    for i, f in enumerate(m.fields):
        parts.append(f"SELECT nav_no, crm_id, ? AS nav_field, ? AS crm_field, nraw_{pk[i]} AS nav_value, "
                     f"craw_{pk[i]} AS crm_value, b_{pk[i]} AS base_value, CASE WHEN act_{pk[i]} = 'conflict' THEN NULL "
                     f"WHEN act_{pk[i]} = 'push' THEN 'send' ELSE 'get' END AS resolution FROM {rel.plan} "
                     f"WHERE (status = 'skipped' AND skip_msg IS NULL AND act_{pk[i]} = 'conflict') "
                     f"OR (status = 'modified' AND rc_{pk[i]})")
        params += [f.nav, f.crm]
    return " UNION ALL ".join(parts), params


#: a plan of at most this many pairs is built without DuckDB's filter pushdown (:func:`plan`)
SMALL_PLAN = 2000


def plan(con, m: TableMapping, sc: Scope, direction: str, *, ts: datetime, force: bool = False,
         filters: bool = True, only: frozenset[str] | None = None) -> Plan:
    """Step 2 of the run pipeline (:mod:`contactsync.pipeline`): the :class:`~contactsync.pipeline.Plan` of the
    pairs in ``sc``. A run over every pair first takes the narrow pass (:func:`build_candidates_sql`): the
    pairs whose fingerprints vouch for them are left out, those in step without a plan are kept for
    :func:`apply` to record (``rel.adopt``), and only the others enter the wide plan (``rel.plan0``).
    ``filters=False``: the mapping's filters leave no pair out (for records just created from the other side,
    which the plan fills). ``only``: the NAV names of the fields the run may change."""
    from .pipeline import Plan

    pk = m.plan_keys
    rel = sc.rel
    candidates = not sc.scoped and all(f.constant is None for f in m.fields)
    p = Plan(m, sc, direction, ts, force=force, filters=filters, only=only, candidates=candidates,
             salt=fingerprint_salt(con, m))
    if candidates:
        p.companies = int(con.execute(COMPANIES_SQL).fetchone()[0])
        p.since = delta_since(con, m, p.salt, p.companies)
    # why a deleted record could not be restored this run (contactsync.syncerrors.resolve_deleted fills it)
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {rel.restore_fail} (nav_no VARCHAR, crm_id VARCHAR, message VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.adopt} (nav_no VARCHAR, crm_id VARCHAR, n_mod TIMESTAMP, "
                "c_mod TIMESTAMP, nfp UBIGINT, cfp UBIGINT)")
    if candidates:
        if p.since is not None:  # only the pairs that may have changed since the last narrow pass
            dsql, dparams = delta_sql(m, p.since)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.delta} AS {dsql}", dparams)
        sql, params = build_candidates_sql(m, rel.delta if p.since is not None else None)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.passed} AS {sql}", _salted(params, p.salt))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.cand} AS SELECT nav_no, crm_id, n_scope FROM {rel.passed} "
                    "WHERE todo = 'plan'")
        con.execute(f"INSERT INTO {rel.adopt} SELECT nav_no, crm_id, n_mod, c_mod, nfp, cfp FROM {rel.passed} "
                    "WHERE todo = 'adopt'")
    sql, params = build_plan_sql(m, rel, direction, force, sc.scoped, candidates, filters, only)
    # the working values only the plan itself reads are not kept: storing strings is what a wide plan costs
    dropped = [f"{c}_{pk[i]}" for i, f in enumerate(m.fields) for c in ("cv", "nchg", "cchg", *(() if f.lookup else ("nv",)))]
    # For a few pairs, optimizing the plan costs more than running it, and most of that is DuckDB's filter
    # pushdown inlining every expression the WHERE names through the plan's four projections: without it a plan
    # of 10 pairs takes 0.34 s of CPU instead of 0.51 (at 10k pairs), while a plan of 20k pairs took ~15% more
    # (measured on captured statements, interleaved). So it is left out for small plans only.
    few = (len(sc.keys or ()) if sc.scoped else
           con.execute(f"SELECT count(*) FROM {rel.cand}").fetchone()[0] if candidates else None)
    small = few is not None and few <= SMALL_PLAN
    if small:
        con.execute("SET disabled_optimizers = ?", ["filter_pushdown"])
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.plan0} AS SELECT * EXCLUDE ({', '.join(dropped)})\n"
                    f"FROM ({sql})\nWHERE {_keep_sql(m)}", _salted(params, p.salt))
    finally:
        if small:
            con.execute("RESET disabled_optimizers")
    counted = candidates and con.execute(f"SELECT count(*) FROM {rel.passed}").fetchone()[0]
    if counted:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.plan_n} AS SELECT min(n_scope) AS n FROM {rel.passed}")
    elif candidates:  # every contact coupling is in scope
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.plan_n} AS SELECT count(*) AS n FROM coupling "
                    "WHERE entity = 'contact'")
    else:
        scope, sparams = _scope_sql(m, rel, sc.scoped, lookups=False)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.plan_n} AS SELECT count(*) AS n {scope}", sparams)
    return p


def check(con, p: Plan) -> Plan:
    """Step 3: check what the plan would write and give every pair its status (``rel.plan``): e-mails
    (each distinct value about to be written, once), lengths in UTF-16 units, lookups, value maps, Clear
    Value on Failed Sync, the names a pull recomputes, filters and the errors list's states."""
    m, rel = p.mapping, p.rel
    pk = m.plan_keys
    email_parts = []
    for i, f in enumerate(m.fields):
        if f.validate == "email":
            email_parts.append(f"SELECT pushv_{pk[i]} AS v FROM {rel.plan0} WHERE act_{pk[i]} = 'push' AND pushv_{pk[i]} <> ''")
            email_parts.append(f"SELECT pullv_{pk[i]} FROM {rel.plan0} WHERE act_{pk[i]} = 'pull' AND pullv_{pk[i]} <> ''")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.bad_email} (v VARCHAR, problem VARCHAR)")
    if email_parts:
        # each distinct address once; a plain one judged by its domain (validate.invalid_emails_shaped)
        union = " UNION ".join(email_parts)
        bad = invalid_emails_shaped(con.execute(f"SELECT v, {email_shape_sql('v')} FROM ({union})").fetchall())
        if bad:
            con.register("_bad_email_df", pd.DataFrame(bad, columns=["v", "problem"]))
            con.execute(f"INSERT INTO {rel.bad_email} SELECT v, problem FROM _bad_email_df")
            con.unregister("_bad_email_df")
    for stmt, cparams in valuemaps.clear_on_failure_sql(m, rel):  # Clear Value on Failed Sync
        con.execute(stmt, cparams)
    for stmt in build_names_sql(m, rel):
        con.execute(stmt)
    stmts, params = build_status_sql(m, rel)
    for stmt in stmts:
        con.execute(stmt, params if "fail_msg =" in stmt else [])
    p.counts = counts(con, p)
    return p


def _salted(params: list, salt: int) -> list:
    return [salt if p == "SALT" else p for p in params]


def adopt_sql(m: TableMapping, rel: Relations) -> str:
    """The UPDATE (pure; parameters: the run's time) recording the pairs of ``_sync_adopt`` as in step:
    last-synced values (the agreed values, in comparable form), modified-ons and fingerprints, as the plan
    records an Unchanged pair it touches. Their before-images are logged first (undo restores them)."""
    pk = m.plan_keys
    sets = [f"{q(f.base_column)} = a.b_{pk[i]}" for i, f in enumerate(m.fields)]
    # (its errors-list columns are clean: the narrow pass leaves any other pair to the plan)
    sets += ["nav_synced_modified = a.n_mod", "crm_synced_modified = a.c_mod", "last_synced_at = ?::TIMESTAMP",
             "nav_fp = a.nfp", "crm_fp = a.cfp"]
    vals = ", ".join(f"{_nv_sql(f, f'CAST(n.{q(f.nav)} AS VARCHAR)')} AS b_{pk[i]}" for i, f in enumerate(m.fields))
    return (f"UPDATE coupling AS c SET {', '.join(sets)}\n"
            f"FROM (SELECT t.*, {vals} FROM {rel.adopt} t JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = t.nav_no) a\n"
            f"WHERE c.entity = 'contact' AND c.nav_no = a.nav_no")


def _refingerprint_sql(m: TableMapping, rel: Relations) -> str:
    """The UPDATE (pure; parameters: the salt twice) giving the pairs a run modified and left in step the
    fingerprints of their records as written."""
    lk = m.lookup_field
    joins = (f" LEFT JOIN coupling cn ON cn.entity = 'company' AND cn.nav_no = n.{q(lk.nav)}"
             f" LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.{q(lk.crm)}" if lk else "")
    return (f"UPDATE coupling AS c SET nav_fp = x.nfp, crm_fp = x.cfp\n"
            f"FROM (SELECT p.nav_no, {fingerprint_sql(m, 'nav')} AS nfp, {fingerprint_sql(m, 'crm')} AS cfp\n"
            f"      FROM {rel.plan} p JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = p.nav_no\n"
            f"      JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = p.crm_id{joins}\n"
            f"      WHERE p.status = 'modified' AND p.instep) x\n"
            f"WHERE c.entity = 'contact' AND c.nav_no = x.nav_no")


def _sub_ts(params: list, ts: datetime) -> list:
    return [ts if p == "RUN_TS" else p for p in params]


def _update_side(con, rel: Relations, table: str, key: str, plan_key: str, action: str, fields: list[tuple[str, str]],
                 stamps: list[tuple[str, str, list]]) -> None:
    """One UPDATE writing the plan's ``action`` ('push' -> CRM, 'pull' -> NAV) values of ``fields``
    ((plan key, column)) and the modified-at ``stamps`` ((column, SQL, params))."""
    if not fields:
        return
    # only the columns some pair writes: DuckDB's UPDATE costs per column written (a delta changing two fields
    # of 100k records wrote 17 columns), and none at all when no pair writes this side
    hits = con.execute(f"SELECT count(*), {', '.join(f'bool_or(act_{k} = ?)' for k, _ in fields)} FROM {rel.plan} "
                       f"WHERE status = 'modified' AND any_{action}", [action] * len(fields)).fetchone()
    if not hits[0]:
        return
    fields = [fc for fc, hit in zip(fields, hits[1:]) if hit]
    if not fields and not stamps:
        return
    v = "pushv" if action == "push" else "pullv"
    sets = [f"{q(c)} = CASE WHEN p.act_{k} = '{action}' THEN p.{v}_{k} ELSE t.{q(c)} END" for k, c in fields]
    sets += [f"{q(c)} = {sql}" for c, sql, _ in stamps]
    params = [x for _, _, p in stamps for x in p]
    # a plain join: measured at 1M contacts, 2x faster than feeding the rows in storage order
    con.execute(f"UPDATE {q(table)} AS t SET {', '.join(sets)} FROM {rel.plan} p WHERE t.{q(key)} = p.{plan_key} "
                f"AND p.status = 'modified' AND p.any_{action}", params)


def apply(con, p: Plan, run_id: int, *, skip_after: int = 2) -> None:
    """Step 4: write the checked plan: the pairs in step (last-synced values, fingerprints), change log, CRM
    and NAV updates, coupling bases and fingerprints, conflicts, errors, skips.

    ``skip_after``: a pair failing with the same message in that many consecutive runs of it is Skipped
    (``excluded``) until retried, as BC's ``IsSameFailureRepeatedTwice`` (table CRM Integration Record) sets
    ``Skipped`` after two; 0: never."""
    m, rel, ts = p.mapping, p.rel, p.ts
    pk = m.plan_keys
    if con.execute(f"SELECT count(*) FROM {rel.adopt}").fetchone()[0]:  # pairs in step: recorded, no plan
        history.log_before(con, run_id, f"c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM {rel.adopt})")
        con.execute(adopt_sql(m, rel), [ts])
    sql, params = _changes_sql(m, rel)
    con.execute(f"INSERT INTO change_log SELECT ?, side, key, field, old_value, new_value, 'update' FROM ({sql})",
                [run_id, *_sub_ts(params, ts)])
    crm_modified = [(m.crm_modified, "?", [ts])] if m.crm_modified else []
    _update_side(con, rel, m.crm_table, m.crm_key, "crm_id", "push",
                 [(k, f.crm) for k, f in zip(m.plan_keys, m.fields) if f.to_crm], crm_modified)
    nav_modified = [(m.nav_modified, "?", [ts])] if m.nav_modified else []
    if m.nav_table == "nav_contact":
        nav_modified += [("Last Date Modified", "CAST(?::TIMESTAMP AS DATE)", [ts]),
                         ("Last Time Modified", "CAST(?::TIMESTAMP AS TIME)", [ts])]
    name, coname = derived_names(m)
    nav_modified += [("Name", "p.new_name", [])] if name else []
    nav_modified += [("Company Name", "p.new_coname", [])] if coname else []
    _update_side(con, rel, m.nav_table, m.nav_key, "nav_no", "pull",
                 [(k, f.nav) for k, f in zip(m.plan_keys, m.fields) if f.from_crm], nav_modified)
    # couplings: last-synced values become the agreed values; results and flags
    newbase = [
        (f, f"CASE WHEN p.status IN {KEPT} THEN p.nb_{pk[i]} ELSE p.b_{pk[i]} END")
        for i, f in enumerate(m.fields)
    ]
    ok = f"p.status IN {KEPT}"
    # consecutive runs failing this pair with the same message (BC compares the last job's error with this one's)
    streak = ("CASE WHEN p.excl THEN p.prev_streak WHEN p.status = 'failed' THEN CASE WHEN p.prev_state = 'failed' "
              "AND p.prev_msg = p.fail_msg THEN p.prev_streak + 1 ELSE 1 END ELSE 0 END")
    new_nmod = ("CASE WHEN p.pend_nav THEN c.nav_synced_modified "
                "WHEN p.status = 'modified' AND p.any_pull THEN ?::TIMESTAMP ELSE p.n_mod END")
    new_cmod = ("CASE WHEN p.pend_crm THEN c.crm_synced_modified "
                "WHEN p.status = 'modified' AND p.any_push THEN ?::TIMESTAMP ELSE p.c_mod END")
    # fingerprints: those read, for a pair left Unchanged in step; a modified one gets its written records' below
    new_nfp = "CASE WHEN p.instep AND p.status = 'unchanged' THEN p.nfp0 END"
    new_cfp = "CASE WHEN p.instep AND p.status = 'unchanged' THEN p.cfp0 END"
    touch = ("p.status <> 'unchanged' OR p.prev_state IS NOT NULL OR c.nav_synced_modified IS DISTINCT FROM p.n_mod OR "
             f"c.crm_synced_modified IS DISTINCT FROM p.c_mod OR c.nav_fp IS DISTINCT FROM ({new_nfp}) OR "
             f"c.crm_fp IS DISTINCT FROM ({new_cfp}) OR "
             + " OR ".join(f"p.b_{pk[i]} IS DISTINCT FROM ({expr})" for i, (f, expr) in enumerate(newbase)))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.touch} AS SELECT p.nav_no FROM {rel.plan} p JOIN coupling c "
                f"ON c.entity = 'contact' AND c.nav_no = p.nav_no WHERE {touch}")
    in_touch = f"c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM {rel.touch})"
    history.log_before(con, run_id, in_touch)
    # only the columns some touched pair changes are written: DuckDB's UPDATE costs per column written (a
    # delta of 100 pairs wrote 37 columns in 0.3 s); one aggregate says which
    changes = [f"bool_or(({expr}) IS DISTINCT FROM p.b_{pk[i]})" for i, (f, expr) in enumerate(newbase)]
    changes.append(f"bool_or(p.status IN {LISTED} OR p.prev_state IS NOT NULL OR p.excl OR "
                   "p.prev_msg IS NOT NULL OR p.prev_streak <> 0 OR c.skipped)")
    flags = con.execute(f"SELECT {', '.join(changes)} FROM {rel.plan} p JOIN coupling c ON c.entity = 'contact' "
                        f"AND c.nav_no = p.nav_no WHERE p.nav_no IN (SELECT nav_no FROM {rel.touch})").fetchone()
    sets, params = [f"{q(f.base_column)} = {expr}" for (f, expr), hit in zip(newbase, flags) if hit], []
    sets += [
        f"nav_synced_modified = CASE WHEN {ok} THEN {new_nmod} ELSE c.nav_synced_modified END",
        f"crm_synced_modified = CASE WHEN {ok} THEN {new_cmod} ELSE c.crm_synced_modified END",
        f"last_synced_at = CASE WHEN {ok} THEN ?::TIMESTAMP ELSE c.last_synced_at END",
        "last_result_nav = CASE WHEN p.status = 'modified' AND p.any_pull THEN 'Modified' "
        f"WHEN p.status IN {LISTED} THEN CASE p.status WHEN 'failed' THEN 'Failed' ELSE 'Skipped' END "
        "ELSE c.last_result_nav END",
        "last_result_crm = CASE WHEN p.status = 'modified' AND p.any_push THEN 'Modified' "
        f"WHEN p.status IN {LISTED} THEN CASE p.status WHEN 'failed' THEN 'Failed' ELSE 'Skipped' END "
        "ELSE c.last_result_crm END",
        f"nav_fp = {new_nfp}", f"crm_fp = {new_cfp}",
    ]
    params += [ts, ts, ts]
    if flags[-1]:  # the errors list's columns: only when a pair fails, is skipped or leaves that state
        sets += [
            "skipped = p.status = 'skipped'",
            # the errors list: the latest outcome (a Skipped pair's message is set from run_skip below)
            f"sync_state = CASE WHEN p.status IN {LISTED} THEN p.status END",
            "sync_message = CASE WHEN p.excl THEN c.sync_message WHEN p.status = 'failed' THEN p.fail_msg END",
            f"sync_run_id = CASE WHEN p.status IN {LISTED} THEN ?::BIGINT END",
            f"fail_streak = {streak}",
            f"excluded = p.excl OR (p.status = 'failed' AND ?::INTEGER > 0 AND {streak} >= ?::INTEGER)",
        ]
        params += [run_id, skip_after, skip_after]
    # a plain join here: measured at 1M pairs, 2x faster than feeding the rows in storage order
    con.execute(f"UPDATE coupling AS c SET {', '.join(sets)}\nFROM {rel.plan} p\nWHERE c.entity = 'contact' "
                f"AND c.nav_no = p.nav_no AND p.nav_no IN (SELECT nav_no FROM {rel.touch})", params)
    con.execute(_refingerprint_sql(m, rel), [p.salt, p.salt])
    sql, params = _conflicts_sql(m, rel)
    con.execute(f"INSERT INTO run_conflict SELECT ?, * FROM ({sql})", [run_id, *params])
    con.execute(f"INSERT INTO run_error SELECT ?, nav_no, crm_id, fail_msg FROM {rel.plan} WHERE status = 'failed'",
                [run_id])
    sql, params = _skips_sql(m, rel)
    con.execute(f"INSERT INTO run_skip SELECT ?, nav_no, crm_id, reason, message FROM ({sql})", [run_id, *params])
    con.execute("UPDATE coupling AS c SET sync_message = s.message FROM run_skip s WHERE s.run_id = ? "
                "AND s.reason <> 'excluded' AND c.entity = 'contact' AND c.nav_no = s.nav_no", [run_id])
    if p.candidates and only_contactsync_writes(con):  # (off: nothing would continue from it)
        remember_pass(con, p, run_id)


def remember_pass(con, p: Plan, run_id: int) -> None:
    """Keep what the next narrow pass continues from (:func:`delta_since`): the pairs this one read that the
    run did not leave in step (their fingerprints no longer vouch for them), and the mark."""
    rel = p.rel
    con.execute("DELETE FROM sync_pending")
    # a pair is in step once its coupling keeps its records' fingerprints: a pair the narrow pass adopted or
    # left alone, or a planned one Modified or Unchanged in step (apply recorded the fingerprints)
    con.execute(f"INSERT INTO sync_pending SELECT nav_no FROM {rel.cand} WHERE nav_no NOT IN "
                f"(SELECT nav_no FROM {rel.plan} WHERE instep AND status IN {KEPT})")
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [NARROW_MARK, json.dumps([run_id, str(p.salt), str(p.companies)])])


def counts(con, p: Plan) -> dict[str, int]:
    """The run's outcome counts, from the checked plan."""
    rel = p.rel
    rows = dict(con.execute(f"SELECT status, count(*) FROM {rel.plan} GROUP BY status").fetchall())
    # _plan holds the pairs a run can change; the others in scope (_plan_n) are Unchanged
    total = con.execute(f"SELECT n FROM {rel.plan_n}").fetchone()[0]
    rows["unchanged"] = total - sum(int(rows.get(k, 0)) for k in ("modified", "skipped", "failed"))
    return {k: int(rows.get(k, 0)) for k in ("modified", "unchanged", "skipped", "failed")}


def _skips_sql(m: TableMapping, rel: Relations) -> tuple[str, list]:
    """The Skipped records with why: left out by a filter (its reason), or a conflict (the fields)."""
    pk = m.plan_keys
    names = ", ".join(f"CASE WHEN act_{pk[i]} = 'conflict' THEN CAST(? AS VARCHAR) END" for i in range(len(m.fields)))
    sql = ("SELECT nav_no, crm_id, CASE WHEN excl THEN 'excluded' WHEN skip_msg IS NOT NULL THEN 'filter' "
           "ELSE 'conflict' END AS reason, "
           "coalesce(skip_msg, 'Changed on both sides since the last sync: ' || "
           f"array_to_string(list_filter([{names}], lambda x: x IS NOT NULL), ', ') || "
           f"'; nothing was overwritten (pick the value to keep in Differences)') AS message FROM {rel.plan} "
           "WHERE status = 'skipped'")
    # a conflict the strategy leaves to the other direction says so (BC: SkipRecord, the winner's job writes it)
    win = {"send": " (NAV wins: a push brings it)", "get": " (CRM wins: a pull brings it)", "none": ""}
    return sql, [f.nav + win[field_strategy(m, f).value] for f in m.fields]


def plan_frames(con, p: Plan) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(conflicts, errors, changes) of the checked plan; its Skipped records: :func:`skip_frame`."""
    m, rel, ts = p.mapping, p.rel, p.ts
    sql, params = _conflicts_sql(m, rel)
    conflicts = con.execute(f"{sql} ORDER BY nav_no, nav_field", params).df()
    errors = con.execute(f"SELECT nav_no, crm_id, fail_msg AS message FROM {rel.plan} WHERE status = 'failed' "
                         "ORDER BY nav_no").df()
    sql, params = _changes_sql(m, rel)
    changes = con.execute(f"SELECT * FROM ({sql}) ORDER BY side, key, field", _sub_ts(params, ts)).df()
    return conflicts, errors, changes


def skip_frame(con, p: Plan) -> pd.DataFrame:
    """The plan's Skipped records: ``nav_no, crm_id, reason, message``."""
    sql, params = _skips_sql(p.mapping, p.rel)
    return con.execute(f"{sql} ORDER BY nav_no", params).df()


def check_direction(direction: str, force: bool) -> None:
    if direction not in DIRECTIONS:
        raise SyncError(f"direction must be one of {DIRECTIONS} ('push' = send to CRM, 'pull' = get from CRM), "
                        f"got {direction!r}")
    if force and direction == "both":
        raise SyncError("force=True overwrites one side with the other: choose direction 'push' or 'pull'")
