"""Coupling rules and record creation: couple, uncouple, companies, bulk coupling import,
and creating a contact on one side from the other. Everything runs inside the caller's
transaction and run, set-based (a fixed number of statements whatever the row count)."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd

from . import history, pipeline
from .errors import CouplingError, NotFoundError
from .mapping import TableMapping
from .sources import utc_timestamp_sql
from .sqlbuild import q

__all__ = ["NAV_NO_MAX_LENGTH", "PERSON_RULE", "check_person", "couple_pair", "create_crm", "create_nav", "crm_key",
           "fetch_crm", "fetch_nav", "import_couplings", "nav_key", "next_numbers", "partner", "require", "uncouple"]

PERSON_RULE = ("You can only couple NAV contacts that are type Person and assigned to a company "
               "(set its Company No. in NAV first).")


def nav_key(no) -> str:
    if no is None or str(no).strip() == "":
        raise NotFoundError("a NAV contact No. is needed (e.g. 'CT000042')")
    return str(no).strip().upper()


def crm_key(crm_id) -> str:
    if crm_id is None or str(crm_id).strip() == "":
        raise NotFoundError("a CRM contact id (GUID) is needed")
    return str(crm_id).strip().strip("{}").strip().lower()


def _missing(what: str, value: str) -> NotFoundError:
    hint = "the No." if what.startswith("NAV") else "the id"
    return NotFoundError(f"{what} {value!r} does not exist; import it first or check {hint}")


def require(con, table: str, key: str, value: str, what: str) -> None:
    """Raise NotFoundError unless the record exists (a key lookup, nothing fetched)."""
    if con.execute(f"SELECT 1 FROM {q(table)} WHERE {q(key)} = ? LIMIT 1", [value]).fetchone() is None:
        raise _missing(what, value)


def fetch_nav(con, m: TableMapping, no: str) -> dict:
    row = con.execute(f"SELECT * FROM {q(m.nav_table)} WHERE {q(m.nav_key)} = ?", [no]).df()
    if row.empty:
        raise _missing("NAV contact", no)
    return row.iloc[0].to_dict()


def fetch_crm(con, m: TableMapping, crm_id: str, table: str | None = None, key: str | None = None,
              what: str = "CRM contact") -> dict:
    row = con.execute(f"SELECT * FROM {q(table or m.crm_table)} WHERE {q(key or m.crm_key)} = ?", [crm_id]).df()
    if row.empty:
        raise _missing(what, crm_id)
    return row.iloc[0].to_dict()


def partner(con, entity: str, *, nav_no: str | None = None, crm_id: str | None = None) -> str | None:
    if nav_no is not None:
        row = con.execute("SELECT crm_id FROM coupling WHERE entity = ? AND nav_no = ?", [entity, nav_no]).fetchone()
    else:
        row = con.execute("SELECT nav_no FROM coupling WHERE entity = ? AND crm_id = ?", [entity, crm_id]).fetchone()
    return row[0] if row else None


def check_person(nav: dict) -> None:
    if nav.get("Type") != "Person" or not (nav.get("Company No.") or "").strip():
        kind = nav.get("Type") or "no type"
        raise CouplingError(f"NAV contact {nav.get('No.')} is a {kind} contact"
                            f"{'' if kind != 'Person' else ' without a company'}. {PERSON_RULE}")


def couple_pair(con, run_id: int, entity: str, nav_no: str, crm_id: str, *, replace: bool, ts: datetime) -> list[str]:
    """Insert one coupling, enforcing one-to-one. Returns notes on couplings replaced."""
    notes = []
    current = partner(con, entity, nav_no=nav_no)
    other = partner(con, entity, crm_id=crm_id)
    if current == crm_id:
        raise CouplingError(f"{nav_no} is already coupled to {crm_id}; nothing to do")
    what = "CRM contact" if entity == "contact" else "CRM account"
    if current is not None and not replace:
        raise CouplingError(f"NAV {'contact' if entity == 'contact' else 'company'} {nav_no} is already coupled to "
                            f"{what} {current}. Delete that coupling first, or pass replace=True to replace it.")
    if other is not None and not replace:
        raise CouplingError(f"{what} {crm_id} is already coupled to NAV contact {other}. Delete that coupling "
                            f"first, or pass replace=True to replace it.")
    if current is not None:
        notes.append(f"The coupling of {nav_no} to {current} was deleted.")
    if other is not None and other != nav_no:
        notes.append(f"The coupling of {crm_id} to {other} was deleted.")
    where = "c.entity = ? AND (c.nav_no = ? OR c.crm_id = ?)"
    params = [entity, nav_no, crm_id]
    history.log_before(con, run_id, where, params)
    n = con.execute(f"DELETE FROM coupling c WHERE {where}", params).fetchone()[0]
    con.execute("INSERT INTO coupling (entity, nav_no, crm_id, coupled_at) VALUES (?, ?, ?, ?)",
                [entity, nav_no, crm_id, ts])
    history.mark_created(con, run_id, "SELECT ?, ?, ?", [entity, nav_no, crm_id])
    history.add_counts(con, run_id, coupled=1, uncoupled=n)
    return notes


def uncouple(con, run_id: int, entity: str, *, nav_no: str | None, crm_id: str | None) -> tuple[str, str]:
    if nav_no is None and crm_id is None:
        raise CouplingError("name the coupling to delete: a NAV No. or a CRM id")
    row = con.execute(
        "SELECT nav_no, crm_id FROM coupling WHERE entity = ? AND (nav_no = ? OR crm_id = ?)",
        [entity, nav_no, crm_id]).fetchall()
    if not row:
        raise NotFoundError(f"{nav_no or crm_id} is not coupled; nothing to delete")
    if nav_no is not None and crm_id is not None and (nav_no, crm_id) not in row:
        raise CouplingError(f"{nav_no} is not coupled to {crm_id} (couplings found: {row})")
    where = "c.entity = ? AND (c.nav_no = ? OR c.crm_id = ?)"
    params = [entity, nav_no, crm_id]
    history.log_before(con, run_id, where, params)
    con.execute(f"DELETE FROM coupling c WHERE {where}", params)
    history.add_counts(con, run_id, uncoupled=len(row))
    return row[0]


def import_couplings(con, run_id: int, m: TableMapping, entity: str, ts: datetime, name: str,
                     source: str) -> tuple[int, int]:
    """Couple the pairs in ``source`` (a relation: a loaded source's view, or a parenthesized query) all or
    nothing. Returns (inserted, unchanged).

    One pass stages the keys and stamps, one aggregate checks every rule, one insert couples; only a file
    with a problem pays for the per-row messages (which name the first rows by their row number)."""
    crm_col = "contactid" if entity == "contact" else "accountid"
    cols = [c for c in con.execute(f"SELECT * FROM {source} LIMIT 0").df().columns]
    missing = [c for c in ("No.", crm_col) if c not in cols]
    if missing:
        raise CouplingError(f"{name} lacks column(s) {missing}; a coupling file has 'No.' and '{crm_col}' "
                            "(and optionally 'Last Synch. Modified On', 'Last Synch. CRM Modified On')")
    opt = {"Last Synch. Modified On": "nsm", "Last Synch. CRM Modified On": "csm"}
    ts_sel = "".join(f", {utc_timestamp_sql(q(c))} AS {a}, {q(c)} AS {a}_raw" for c, a in opt.items() if c in cols)
    # the staged rows keep the source's order (DuckDB preserves insertion order): rows numbered by rowid
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cp AS SELECT
            nullif(upper(trim("No.")), '') AS nav_no, nullif(lower(trim(trim({q(crm_col)}), '{{}}')), '') AS crm_id
            {ts_sel} FROM {source}""")
    nsm, csm = (f"p.{a}" if c in cols else "NULL::TIMESTAMP" for c, a in opt.items())
    bad_ts = " OR ".join(f"(p.{a} IS NULL AND coalesce(trim(p.{a}_raw), '') <> '')"
                         for c, a in opt.items() if c in cols) or "false"
    if entity == "contact":
        nav_ok = "n.\"Type\" = 'Person' AND coalesce(n.\"Company No.\", '') <> ''"
        nav_rule = "is not a Person with a company"
        crm_table, crm_k = m.crm_table, m.crm_key
    else:
        nav_ok = "n.\"Type\" = 'Company'"
        nav_rule = "is not a Company contact"
        crm_table, crm_k = "crm_account", "accountid"
    # every rule but the duplicates, per row (NULL = fine); the joins are shared by the check and the messages
    rule = f"""CASE
                WHEN p.nav_no IS NULL OR p.crm_id IS NULL THEN 'empty No. or id'
                WHEN n."No." IS NULL THEN 'NAV contact ' || p.nav_no || ' does not exist'
                WHEN NOT ({nav_ok}) THEN 'NAV contact ' || p.nav_no || ' {nav_rule}'
                WHEN r.{q(crm_k)} IS NULL THEN 'CRM record ' || p.crm_id || ' does not exist'
                WHEN {bad_ts} THEN 'unparseable Last Synch. timestamp'
                WHEN c1.crm_id IS NOT NULL AND c1.crm_id <> p.crm_id
                  THEN p.nav_no || ' is already coupled to ' || c1.crm_id
                WHEN c2.nav_no IS NOT NULL AND c2.nav_no <> p.nav_no
                  THEN p.crm_id || ' is already coupled to ' || c2.nav_no
              END"""
    joins = f"""FROM _cp p
              LEFT JOIN nav_contact n ON n."No." = p.nav_no
              LEFT JOIN {q(crm_table)} r ON r.{q(crm_k)} = p.crm_id
              LEFT JOIN coupling c1 ON c1.entity = ? AND c1.nav_no = p.nav_no
              LEFT JOIN coupling c2 ON c2.entity = ? AND c2.crm_id = p.crm_id"""
    total, n_bad, n_same, dup_nav, dup_crm = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE ({rule}) IS NOT NULL),
                   count(*) FILTER (WHERE c1.crm_id = p.crm_id),
                   count(p.nav_no) - count(DISTINCT p.nav_no), count(p.crm_id) - count(DISTINCT p.crm_id)
            {joins}""", [entity, entity]).fetchone()
    if n_bad or dup_nav or dup_crm:
        problems = con.execute(
            f"""SELECT _row, msg FROM (
                  SELECT row_number() OVER (ORDER BY p.rowid) AS _row, CASE
                    WHEN p.nav_no IS NULL OR p.crm_id IS NULL THEN 'empty No. or id'
                    WHEN count(*) OVER (PARTITION BY p.nav_no) > 1 THEN 'No. ' || p.nav_no || ' appears more than once'
                    WHEN count(*) OVER (PARTITION BY p.crm_id) > 1 THEN 'id ' || p.crm_id || ' appears more than once'
                    ELSE {rule} END AS msg
                  {joins})
                WHERE msg IS NOT NULL ORDER BY _row""",
            [entity, entity]).fetchall()
        shown = "; ".join(f"row {r}: {msg}" for r, msg in problems[:5])
        raise CouplingError(
            f"{name}: {len(problems)} coupling(s) rejected, none imported: {shown}"
            + (" …" if len(problems) > 5 else "") + ". Fix the file (or uncouple first) and import again.",
            problems=problems)
    inserted = total - n_same
    if inserted:
        # every pair passed: a pair is either new or coupled already (as it is); with none of the latter (an
        # onboarding) every staged pair is new
        new = "_cp"
        if n_same:
            new = "_cpnew"
            con.execute("CREATE OR REPLACE TEMP TABLE _cpnew AS SELECT p.* FROM _cp p WHERE NOT EXISTS "
                        "(SELECT 1 FROM coupling c WHERE c.entity = ? AND c.nav_no = p.nav_no)", [entity])
        con.execute("INSERT INTO coupling (entity, nav_no, crm_id, coupled_at, nav_synced_modified, "
                    f"crm_synced_modified) SELECT ?, p.nav_no, p.crm_id, ?, {nsm}, {csm} FROM {new} p", [entity, ts])
        history.mark_created(con, run_id, f"SELECT ?, nav_no, crm_id FROM {new}", [entity])
        con.execute("DROP TABLE IF EXISTS _cpnew")
    con.execute("DROP TABLE _cp")
    history.add_counts(con, run_id, coupled=inserted, unchanged=total - inserted)
    return inserted, total - inserted


def _fail(con, run_id: int, rows: list[tuple]) -> None:
    if rows:
        con.register("_fail_df", pd.DataFrame(rows, columns=["nav_no", "crm_id", "message"]))
        con.execute("INSERT INTO run_error SELECT ?, nav_no, crm_id, message FROM _fail_df", [run_id])
        con.unregister("_fail_df")
        history.add_counts(con, run_id, failed=len(rows))


def _drop_failed_creations(con, p, strict: bool) -> list[tuple]:
    """After a scoped force plan over new records: raise (strict) or remove the failed creations."""
    failed = con.execute(f"SELECT nav_no, crm_id, fail_msg FROM {p.rel.plan} WHERE status = 'failed' "
                         "ORDER BY 1").fetchall()
    if failed and strict:
        raise CouplingError(failed[0][2], errors=failed)
    return failed


def create_crm(con, m: TableMapping, run_id: int, ts: datetime, *, strict: bool, keys: str
               ) -> tuple[pd.DataFrame, list]:
    """Create CRM contacts for the NAV persons in the caller's relation ``keys`` (a quoted temp table name,
    column ``nav_no``); couple; push NAV data.

    Returns (created pairs, failures)."""
    lk = m.lookup_field
    company_check = ""
    if lk:
        company_check = (
            f"WHEN cc.crm_id IS NULL THEN 'Company ' || n.{q(lk.nav)} || ' (' || coalesce(co.\"Name\", '?') || ') "
            f"is not coupled to a CRM account. Couple the company first: couple_company(''' || n.{q(lk.nav)} || "
            f"''', account_id).'")
    bad = con.execute(
        f"""SELECT s.nav_no, NULL, CASE
              WHEN n.{q(m.nav_key)} IS NULL THEN 'NAV contact ' || s.nav_no || ' does not exist.'
              WHEN n."Type" <> 'Person' OR coalesce(n."Company No.", '') = ''
                THEN 'NAV contact ' || s.nav_no || ' is not a Person with a company. {PERSON_RULE.replace("'", "''")}'
              WHEN c.crm_id IS NOT NULL THEN 'NAV contact ' || s.nav_no || ' is already coupled to CRM contact '
                || c.crm_id || '. Delete that coupling first, or use Synchronize Now.'
              {company_check}
            END AS msg
            FROM {keys} s LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = s.nav_no
            LEFT JOIN coupling c ON c.entity = 'contact' AND c.nav_no = s.nav_no
            {'LEFT JOIN coupling cc ON cc.entity = ' + "'company'" + ' AND cc.nav_no = n.' + q(lk.nav) if lk else ''}
            {'LEFT JOIN nav_contact co ON co."No." = n.' + q(lk.nav) if lk else ''}
            WHERE msg IS NOT NULL ORDER BY 1""").fetchall()
    if bad and strict:
        raise CouplingError(bad[0][2], errors=bad)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _mk AS SELECT nav_no, CAST(uuid() AS VARCHAR) AS crm_id FROM {keys}")
    if bad:
        con.register("_bad_df", pd.DataFrame([b[0] for b in bad], columns=["nav_no"]))
        con.execute("DELETE FROM _mk WHERE nav_no IN (SELECT nav_no FROM _bad_df)")
        con.unregister("_bad_df")
    extra = [c for c in ("statecode",) if c in history.table_columns(con, m.crm_table)]
    mod = [m.crm_modified] if m.crm_modified else []
    cols = [m.crm_key, *extra, *mod]
    vals = ["crm_id", *(["0"] * len(extra)), *(["?"] * len(mod))]
    con.execute(f"INSERT INTO {q(m.crm_table)} ({', '.join(q(c) for c in cols)}) SELECT {', '.join(vals)} FROM _mk",
                [ts] * len(mod))
    return _couple_created(con, m, run_id, ts, "crm", "push", strict, bad)


def _couple_created(con, m, run_id, ts, side, direction, strict, bad):
    con.execute("INSERT INTO change_log SELECT ?, ?, CASE WHEN ? = 'crm' THEN crm_id ELSE nav_no END, "
                "NULL, NULL, NULL, 'insert' FROM _mk", [run_id, side, side])
    con.execute("INSERT INTO coupling (entity, nav_no, crm_id, coupled_at) SELECT 'contact', nav_no, crm_id, ? "
                "FROM _mk", [ts])
    history.mark_created(con, run_id, "SELECT 'contact', nav_no, crm_id FROM _mk")
    # the new pairs are filled by the run pipeline (its own scope and plan)
    sc = pipeline.scope_of(con, "SELECT nav_no FROM _mk")
    failed: list[tuple] = []

    def drop_failed(p) -> None:
        failed.extend(_drop_failed_creations(con, p, strict))
        if failed:
            _forget_failed(con, m, run_id, side, p.rel.plan)

    pipeline.sync_pairs(con, m, sc, direction, ts=ts, run_id=run_id, force=True, filters=False,
                        before_apply=drop_failed)
    sc.rel.drop(con)
    created = con.execute("SELECT nav_no, crm_id FROM _mk ORDER BY nav_no").df()
    history.add_counts(con, run_id, inserted=len(created), coupled=len(created))
    # a record that could not be created is named by the record it was to be made from (its tentative key
    # on the new side was never kept)
    failures = [(b[0], b[1], b[2]) for b in bad] + [
        (None if side == "nav" else f[0], None if side == "crm" else f[1], f[2]) for f in failed]
    _fail(con, run_id, failures)
    return created, failures


def _forget_failed(con, m, run_id, side, plan_t) -> None:
    """The creations the check step failed are undone before the run is written: record, coupling, log."""
    table, key, col = ((m.crm_table, m.crm_key, "crm_id") if side == "crm" else (m.nav_table, m.nav_key, "nav_no"))
    con.execute(f"DELETE FROM {q(table)} WHERE {q(key)} IN (SELECT {q(col)} FROM {plan_t} WHERE status = 'failed')")
    con.execute("DELETE FROM coupling WHERE entity = 'contact' AND nav_no IN "
                f"(SELECT nav_no FROM {plan_t} WHERE status = 'failed')")
    con.execute(f"DELETE FROM change_log WHERE run_id = ? AND op = 'insert' AND side = ? AND key IN "
                f"(SELECT {q(col)} FROM {plan_t} WHERE status = 'failed')", [run_id, side])
    con.execute("DELETE FROM coupling_log WHERE run_id = ? AND image = 'created' AND nav_no IN "
                f"(SELECT nav_no FROM {plan_t} WHERE status = 'failed')", [run_id])
    con.execute(f"DELETE FROM _mk WHERE nav_no IN (SELECT nav_no FROM {plan_t} WHERE status = 'failed')")
    con.execute(f"DELETE FROM {plan_t} WHERE status = 'failed'")


#: BC's Contact."No." is Code[20]
NAV_NO_MAX_LENGTH = 20


def next_numbers(con, prefix: str, width: int, count: int) -> int:
    """The last number in use of the series ``prefix`` + ``width`` digits (new ones follow it).

    Only keys of exactly that shape belong to the series, so a generated No. (always ``width`` digits)
    can equal no other key: not a longer one (``CT1000000`` beside ``CT999999``), not one of another
    shape. A series without room for ``count`` more numbers is an error, never a wrapped or cut number
    (BC: "You cannot assign new numbers from the number series ...").
    """
    if len(prefix) + width > NAV_NO_MAX_LENGTH:
        raise CouplingError(
            f"NAV numbers {prefix!r} + {width} digits would be {len(prefix) + width} characters; NAV's No. holds "
            f"{NAV_NO_MAX_LENGTH}. Set ws.settings['nav_no_prefix'] or ['nav_no_width'] shorter.")
    pattern = "^" + re.escape(prefix) + "[0-9]{" + str(width) + "}$"
    last = con.execute(
        "SELECT coalesce(max(CAST(substr(\"No.\", ?) AS HUGEINT)), 0) FROM nav_contact WHERE regexp_full_match(\"No.\", ?)",
        [len(prefix) + 1, pattern]).fetchone()[0]
    highest = 10 ** width - 1
    if last + count > highest:
        first, end = prefix + "1".zfill(width), prefix + str(highest)
        raise CouplingError(
            f"the NAV number series {first}..{end} has {highest - last} number(s) left, {count} needed "
            f"(last used: {prefix}{str(last).zfill(width)}). Start a new series: set ws.settings['nav_no_prefix'] "
            f"to another prefix, or ws.settings['nav_no_width'] to more digits (prefix + digits <= "
            f"{NAV_NO_MAX_LENGTH}).", series=prefix, width=width, left=highest - last, needed=count)
    return int(last)


def create_nav(con, m: TableMapping, run_id: int, ts: datetime, *, strict: bool, keys: str, prefix: str = "CT",
               width: int = 6) -> tuple[pd.DataFrame, list]:
    """Create NAV persons for the CRM contacts in the caller's relation ``keys`` (a quoted temp table name,
    column ``crm_id``), under the company coupled to
    their parent account; couple; pull CRM data. Returns (created pairs, failures)."""
    lk = m.lookup_field
    if lk is None:
        raise CouplingError("the mapping has no company lookup field; NAV persons need a company")
    bad = con.execute(
        f"""SELECT NULL, s.crm_id, CASE
              WHEN r.{q(m.crm_key)} IS NULL THEN 'CRM contact ' || s.crm_id || ' does not exist.'
              WHEN coalesce(r.{q(lk.crm)}, '') = '' THEN 'CRM contact ' || s.crm_id || ' has no parent account; '
                || 'a NAV person must belong to a company. Set its account in CRM first.'
              WHEN cc.nav_no IS NULL THEN 'CRM account ' || coalesce(a.name, '') || ' (' || r.{q(lk.crm)}
                || ') is not coupled to a NAV company. Couple it first: couple_company(company_no, '''
                || r.{q(lk.crm)} || ''').'
            END AS msg
            FROM {keys} s LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = s.crm_id
            LEFT JOIN coupling cc ON cc.entity = 'company' AND cc.crm_id = r.{q(lk.crm)}
            LEFT JOIN crm_account a ON a.accountid = r.{q(lk.crm)}
            WHERE msg IS NOT NULL ORDER BY 2""").fetchall()
    if bad and strict:
        raise CouplingError(bad[0][2], errors=bad)
    todo = con.execute(
        f"""SELECT count(*) FROM {keys} s JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = s.crm_id
            JOIN coupling cc ON cc.entity = 'company' AND cc.crm_id = r.{q(lk.crm)}""").fetchone()[0]
    start = next_numbers(con, prefix, width, todo) if todo else 0
    # printf pads and never cuts (lpad cuts: CT + lpad('1000000', 6) was CT100000, an existing contact)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mk AS
            SELECT ? || printf('%0' || ? || 'd', ? + row_number() OVER (ORDER BY s.crm_id)) AS nav_no,
                   s.crm_id, cc.nav_no AS company_no, co."Name" AS company_name
            FROM {keys} s JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = s.crm_id
            JOIN coupling cc ON cc.entity = 'company' AND cc.crm_id = r.{q(lk.crm)}
            LEFT JOIN nav_contact co ON co."No." = cc.nav_no""",
        [prefix, width, start])
    cols = history.table_columns(con, m.nav_table)
    fill = []
    for c, dtype in cols.items():
        if c == m.nav_key:
            fill.append("nav_no")
        elif c == "Type":
            fill.append("'Person'")
        elif c == "Company Name":
            fill.append("coalesce(company_name, '')")
        elif c == lk.nav:
            fill.append("company_no")
        elif c == m.nav_modified:
            fill.append("?::TIMESTAMP")
        elif dtype == "VARCHAR":
            fill.append("''")
        else:
            fill.append("NULL")
    con.execute(f"INSERT INTO {q(m.nav_table)} ({', '.join(q(c) for c in cols)}) SELECT {', '.join(fill)} FROM _mk",
                [ts] if m.nav_modified in cols else [])
    # the pull that fills the new person also sets its Name (BC's CalculatedName), logged with the run
    return _couple_created(con, m, run_id, ts, "nav", "pull", strict, bad)
