"""Full synchronization review, as Business Central's *CRM Full Synch. Review Line* (table 5373, page Dataverse
Full Synch. Review): per entity an initial recommendation from the data, and the run that carries it out.

BC's ``GetInitialSynchRecommendation``: both tables empty -> "No Records Found"; both have records -> "Couple
Records" (``Start`` runs match-based coupling); else -> "Full Synchronization" (``Start`` enqueues the full
sync job that creates every record on the empty side). contactsync counts the *uncoupled* records in scope (the
mapping's filters; for accounts: NAV companies and CRM accounts), so the review also says what is left to do
after a first run (every record coupled -> "No Records Found").

- ``accounts``: Couple Records couples each uncoupled NAV company to the one uncoupled CRM account of the same
  name (trimmed, case-insensitive; a name found twice on either side is left out and listed). contactsync
  creates no accounts or companies: Full Synchronization of accounts is refused with what to do.
- ``contacts``: Couple Records is BC's match-based coupling on E-Mail, then First Name + Surname + company
  (``Workspace.match_couple``); Full Synchronization creates the empty side's contacts from the other side and
  couples them (``sync(direction, create_missing=True)``: NAV -> CRM is a push, CRM -> NAV a pull).

Each run is one transaction and one undoable run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from . import history
from .errors import ContactSyncError
from .sqlbuild import filter_sql, q

__all__ = ["ENTITIES", "CONTACT_MATCH_GROUPS", "FullSyncResult", "Recommendation", "review", "run"]

ENTITIES = ("accounts", "contacts")
#: the match-based coupling a contacts' Couple Records runs (priority groups, as Workspace.match_couple)
CONTACT_MATCH_GROUPS = [["E-Mail"], ["First Name", "Surname", "Company No."]]


class Recommendation(StrEnum):
    """BC's Initial Synch Recommendation option captions."""

    COUPLE = "Couple Records"
    FULL = "Full Synchronization"
    NONE = "No Records Found"


@dataclass(frozen=True)
class FullSyncResult:
    entity: str
    recommendation: str
    run_id: int | None
    coupled: int = 0
    inserted: int = 0
    dry_run: bool = False
    message: str = ""
    #: records left uncoupled with why (accounts: a name found twice or on one side only)
    left: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    #: contacts' Full Synchronization: the records that failed (``nav_no, crm_id, message``), a dry run's too
    failed: int = 0
    errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def __str__(self) -> str:
        return self.message


def _recommend(nav: int, crm: int) -> Recommendation:
    if nav == 0 and crm == 0:
        return Recommendation.NONE
    if nav and crm:
        return Recommendation.COUPLE
    return Recommendation.FULL


def _counts(con, m) -> dict[str, tuple[int, int, int]]:
    """entity -> (uncoupled NAV, uncoupled CRM, coupled) in scope."""
    nf, nfp = filter_sql("n", m.nav_filter)
    cf, cfp = filter_sql("r", m.crm_filter)
    acc_active = ("WHERE coalesce(a.statecode, 0) = 0"
                  if "statecode" in history.table_columns(con, "crm_account") else "")
    row = con.execute(
        f"""SELECT
              (SELECT count(*) FROM nav_contact n WHERE n."Type" = 'Company' AND NOT EXISTS
                 (SELECT 1 FROM coupling c WHERE c.entity = 'company' AND c.nav_no = n."No.")),
              (SELECT count(*) FROM crm_account a {acc_active} {'AND' if acc_active else 'WHERE'} NOT EXISTS
                 (SELECT 1 FROM coupling c WHERE c.entity = 'company' AND c.crm_id = a.accountid)),
              (SELECT count(*) FROM coupling WHERE entity = 'company'),
              (SELECT count(*) FROM {q(m.nav_table)} n WHERE ({nf}) AND NOT EXISTS
                 (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.nav_no = n.{q(m.nav_key)})),
              (SELECT count(*) FROM {q(m.crm_table)} r WHERE ({cf}) AND NOT EXISTS
                 (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.crm_id = r.{q(m.crm_key)})),
              (SELECT count(*) FROM coupling WHERE entity = 'contact')""", nfp + cfp).fetchone()
    return {"accounts": row[0:3], "contacts": row[3:6]}


def _action(entity: str, rec: Recommendation, nav: int) -> str:
    if rec == Recommendation.NONE:
        return "nothing to do"
    if entity == "accounts":
        return ("couple NAV companies to CRM accounts of the same name" if rec == Recommendation.COUPLE else
                "create the missing side by hand (contactsync creates no accounts or companies), then couple")
    if rec == Recommendation.COUPLE:
        return "match-based coupling on E-Mail, then First Name + Surname + Company No."
    return "create CRM contacts from NAV persons (push)" if nav else "create NAV persons from CRM contacts (pull)"


def review(ws) -> pd.DataFrame:
    """One row per entity: ``entity, nav_uncoupled, crm_uncoupled, coupled, recommendation, action``."""
    with ws.connection() as con:
        counts = _counts(con, ws.mapping)
    rows = []
    for entity in ENTITIES:
        nav, crm, coupled = counts[entity]
        rec = _recommend(nav, crm)
        rows.append({"entity": entity, "nav_uncoupled": int(nav), "crm_uncoupled": int(crm), "coupled": int(coupled),
                     "recommendation": rec.value, "action": _action(entity, rec, nav)})
    return pd.DataFrame(rows)


def _couple_accounts(ws, dry_run: bool) -> FullSyncResult:
    key = "upper(trim(coalesce({}, '')))"
    nav_name, crm_name = key.format('n."Name"'), key.format("a.name")
    with ws.transaction() as con:
        run_id = history.start_run(con, "couple", note="full synchronization review: couple accounts by name")
        acc_active = ("AND coalesce(a.statecode, 0) = 0"
                      if "statecode" in history.table_columns(con, "crm_account") else "")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _fs_nav AS SELECT n."No." AS nav_no, {nav_name} AS k, n."Name" AS name
                FROM nav_contact n WHERE n."Type" = 'Company' AND {nav_name} <> '' AND NOT EXISTS
                (SELECT 1 FROM coupling c WHERE c.entity = 'company' AND c.nav_no = n."No.")""")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _fs_crm AS SELECT a.accountid AS crm_id, {crm_name} AS k, a.name AS name
                FROM crm_account a WHERE {crm_name} <> '' {acc_active} AND NOT EXISTS
                (SELECT 1 FROM coupling c WHERE c.entity = 'company' AND c.crm_id = a.accountid)""")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _fs_pairs AS
               SELECT n.nav_no, r.crm_id FROM _fs_nav n JOIN _fs_crm r USING (k)
               WHERE n.k IN (SELECT k FROM _fs_nav GROUP BY k HAVING count(*) = 1)
                 AND n.k IN (SELECT k FROM _fs_crm GROUP BY k HAVING count(*) = 1)""")
        left = con.execute(
            """SELECT 'nav' AS side, nav_no AS key, name, CASE WHEN k IN (SELECT k FROM _fs_nav GROUP BY k
                 HAVING count(*) > 1) OR k IN (SELECT k FROM _fs_crm GROUP BY k HAVING count(*) > 1)
                 THEN 'the name is not unique' ELSE 'no CRM account of that name' END AS reason
               FROM _fs_nav WHERE nav_no NOT IN (SELECT nav_no FROM _fs_pairs)
               UNION ALL
               SELECT 'crm', crm_id, name, CASE WHEN k IN (SELECT k FROM _fs_nav GROUP BY k HAVING count(*) > 1)
                 OR k IN (SELECT k FROM _fs_crm GROUP BY k HAVING count(*) > 1) THEN 'the name is not unique'
                 ELSE 'no NAV company of that name' END
               FROM _fs_crm WHERE crm_id NOT IN (SELECT crm_id FROM _fs_pairs) ORDER BY 1, 2""").df()
        n = con.execute("SELECT count(*) FROM _fs_pairs").fetchone()[0]
        con.execute("INSERT INTO coupling (entity, nav_no, crm_id, coupled_at) SELECT 'company', nav_no, crm_id, ? "
                    "FROM _fs_pairs", [history.now_utc()])
        history.mark_created(con, run_id, "SELECT 'company', nav_no, crm_id FROM _fs_pairs")
        history.add_counts(con, run_id, coupled=n)
        message = (f"Couple Records (accounts): {n} NAV compan{'y' if n == 1 else 'ies'} coupled to the CRM account "
                   f"of the same name; {len(left)} record(s) left uncoupled (see .left).")
        history.finish_run(con, run_id, note=message)
        result = FullSyncResult("accounts", Recommendation.COUPLE.value, None if dry_run else run_id, coupled=n,
                                dry_run=dry_run, message=message, left=left)
        if dry_run:
            raise _Rollback(result)
    return result


class _Rollback(Exception):
    def __init__(self, result):
        super().__init__("dry run")
        self.result = result


def run(ws, entity: str, *, dry_run: bool = False) -> FullSyncResult:
    """Carry out the review's recommendation for ``entity`` ('accounts' or 'contacts'): one run."""
    if entity not in ENTITIES:
        raise ContactSyncError(f"entity must be one of {ENTITIES}, got {entity!r}")
    row = review(ws).set_index("entity").loc[entity]
    rec = Recommendation(row["recommendation"])
    if rec == Recommendation.NONE:
        return FullSyncResult(entity, rec.value, None, dry_run=dry_run,
                              message=f"No Records Found ({entity}): no uncoupled records on either side; nothing run.")
    if entity == "accounts":
        if rec == Recommendation.FULL:
            side = "CRM accounts" if row["nav_uncoupled"] else "NAV companies"
            raise ContactSyncError(
                f"Full Synchronization (accounts): only one side has uncoupled records, and contactsync creates no "
                f"{side}. Create them in that system, import them (import_accounts / import_nav), then run the "
                "review again: it will recommend Couple Records.")
        try:
            return _couple_accounts(ws, dry_run)
        except _Rollback as planned:
            return planned.result
    if rec == Recommendation.COUPLE:
        res = ws.match_couple(CONTACT_MATCH_GROUPS, dry_run=dry_run)
        n = int(getattr(res, "coupled", 0) or 0)
        return FullSyncResult(entity, rec.value, getattr(res, "run_id", None), coupled=n, dry_run=dry_run,
                              message=f"Couple Records (contacts): {getattr(res, 'message', res)}")
    direction = "push" if row["nav_uncoupled"] else "pull"
    res = ws.sync(direction, create_missing=True, dry_run=dry_run)
    what = "CRM contacts from NAV persons" if direction == "push" else "NAV persons from CRM contacts"
    return FullSyncResult(entity, rec.value, res.run_id, coupled=res.coupled, inserted=res.inserted, dry_run=dry_run,
                          failed=res.failed, errors=res.errors,
                          message=f"Full Synchronization (contacts): {res.inserted} {what} created and coupled; "
                                  f"{res.failed} failed (see the run's errors). {res.message}")
