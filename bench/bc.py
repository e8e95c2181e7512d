"""The BC-shaped onboarding benchmark (issue 13): ``python -m bench.bc --sizes 100000,1000000``.

The scenario is shaped like a real Business Central onboarding, not like contactsync's own bench:

1. import NAV: N persons under N/100 companies, from Parquet with ``SystemModifiedAt``;
2. import CRM: N contacts (+ the accounts), from Parquet with ``modifiedon``;
3. import couplings: N pairs as BC's CRM Integration Records (no last-synced values yet), after the
   companies were coupled to their accounts (untimed);
4. first push: nothing differs;
5. delta push 10%: 10% of the NAV persons got a newer ``SystemModifiedAt`` and a changed e-mail and city
   (imported untimed), then a push;
6. delta push 0.1%: the same with 0.1%;
7. both ways with 1% conflicts: 2% of the NAV persons changed (e-mail), 2% of the CRM contacts changed
   (e-mail for 1%: the same pairs as NAV's, a different value = a conflict; city for the other 1%);
8. undo of that both-ways run.

contactsync's copy has the setting ``only_contactsync_writes = "yes"`` (every step writes through its API), so its
syncs continue the last narrow pass (``contactsync.sync.delta_since``).

Each step runs twice on its own copy of the workspace file: through contactsync's API, and as the
**floor**: bare DuckDB SQL the way BC decides (a record changed when its modified-on is later than the
last-synced one; the field values of changed pairs compared; one set-based statement per step,
the field-level change log included), on the same tables and unique indexes. Timings are medians over
``--reps`` fresh copies; the ratio is contactsync / floor, measured in the same run. Peak memory is this
process's (both implementations run in one process per size: compare the figures of one run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

import contactsync as cs
from contactsync.mapping import default_mapping
from contactsync.sqlbuild import q

HERE = Path(__file__).resolve().parent
M = default_mapping()
T0 = datetime(2026, 11, 1, 8, 0, 0)
STEPS = ("import_nav", "import_crm", "import_couplings", "first_push", "delta_push_10", "delta_push_01",
         "both_conflicts_1", "undo")
BIDIR = [f for f in M.fields if f.direction == "Bidirectional" and not getattr(f, "lookup", None)]


# -- data -------------------------------------------------------------------------------------------

def generate(folder: Path, n: int) -> None:
    """Write the scenario's Parquet files with DuckDB (fast at 10M)."""
    folder.mkdir(parents=True, exist_ok=True)
    companies = max(1, n // 100)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    co = f"""
        SELECT 'C' || lpad(CAST(i AS VARCHAR), 7, '0') AS no,
               '00000000-0000-4000-8000-' || lpad(CAST(i AS VARCHAR), 12, '0') AS accountid,
               'Company ' || i AS name
        FROM range(1, {companies + 1}) t(i)"""
    person = f"""
        SELECT i,
               'CT' || lpad(CAST(i AS VARCHAR), 8, '0') AS no,
               '10000000-0000-4000-8000-' || lpad(CAST(i AS VARCHAR), 12, '0') AS contactid,
               1 + (i % {companies}) AS co,
               ['Anna','Ben','Clara','David','Eva','Felix','Greta','Hans','Ida','Jonas'][1 + i % 10] AS first,
               ['Meyer','Schmidt','Fischer','Weber','Wagner','Becker','Hoffmann','Koch'][1 + (i // 10) % 8]
                 || CAST(i % 997 AS VARCHAR) AS last,
               'Street ' || (i % 500) || ' ' || (i % 97) AS street,
               lpad(CAST(10000 + i % 89999 AS VARCHAR), 5, '0') AS zip,
               ['Berlin','Hamburg','Munich','Cologne','Frankfurt','Stuttgart'][1 + i % 6] AS city,
               'p' || i || '@example.com' AS email,
               '+49 30 ' || lpad(CAST(i % 10000000 AS VARCHAR), 7, '0') AS phone
        FROM range(1, {n + 1}) t(i)"""
    con.execute(f"""COPY (
        SELECT c.no AS "No.", 'Company' AS "Type", c.no AS "Company No.", c.name AS "Company Name",
               c.name AS "Name", '' AS "First Name", '' AS "Middle Name", '' AS "Surname", '' AS "Job Title",
               '' AS "Address", '' AS "Address 2", '' AS "Post Code", '' AS "City", '' AS "County",
               'DE' AS "Country/Region Code", '' AS "E-Mail", '' AS "Phone No.", '' AS "Mobile Phone No.",
               '' AS "Fax No.", '' AS "Home Page", TIMESTAMP '{T0}' AS "SystemModifiedAt"
        FROM ({co}) c
        UNION ALL
        SELECT p.no, 'Person', c.no, c.name, p.first || ' ' || p.last, p.first, '', p.last, 'Buyer',
               p.street, '', p.zip, p.city, '', 'DE', p.email, p.phone, '', '', '',
               TIMESTAMP '{T0}' + to_seconds(p.i % 86400)
        FROM ({person}) p JOIN ({co}) c ON c.no = 'C' || lpad(CAST(p.co AS VARCHAR), 7, '0')
    ) TO '{folder / "nav.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT accountid, name, no AS accountnumber, '' AS telephone1, '' AS websiteurl, '' AS address1_city,
               'DE' AS address1_country, TIMESTAMP '{T0}' AS modifiedon, 0 AS statecode FROM ({co})
    ) TO '{folder / "accounts.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT p.contactid, p.first AS firstname, NULL AS middlename, p.last AS lastname,
               p.first || ' ' || p.last AS fullname, 'Buyer' AS jobtitle, p.street AS address1_line1,
               NULL AS address1_line2, p.zip AS address1_postalcode, p.city AS address1_city,
               NULL AS address1_stateorprovince, 'DE' AS address1_country, p.email AS emailaddress1,
               p.phone AS telephone1, NULL AS mobilephone, NULL AS fax, NULL AS websiteurl,
               c.accountid AS parentcustomerid, TIMESTAMP '{T0}' + to_seconds(p.i % 86400) AS modifiedon,
               0 AS statecode
        FROM ({person}) p JOIN ({co}) c ON c.no = 'C' || lpad(CAST(p.co AS VARCHAR), 7, '0')
    ) TO '{folder / "crm.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT no AS "No.", accountid FROM ({co}))
                    TO '{folder / "company_couplings.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT no AS "No.", contactid FROM ({person}))
                    TO '{folder / "couplings.parquet"}' (FORMAT parquet)""")
    # the deltas: every k-th person
    nav = f"read_parquet('{folder / 'nav.parquet'}')"
    crm = f"read_parquet('{folder / 'crm.parquet'}')"
    num = "CAST(substr(\"No.\", 3) AS BIGINT)"
    con.execute(f"""COPY (SELECT * REPLACE ('d10.' || "E-Mail" AS "E-Mail", "City" || ' Nord' AS "City",
                                            TIMESTAMP '2026-11-02 09:00:00' AS "SystemModifiedAt")
                          FROM {nav} WHERE "Type" = 'Person' AND {num} % 10 = 0)
                    TO '{folder / "nav_delta_10.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT * REPLACE ('d01.' || "E-Mail" AS "E-Mail", "City" || ' Süd' AS "City",
                                            TIMESTAMP '2026-11-03 09:00:00' AS "SystemModifiedAt")
                          FROM {nav} WHERE "Type" = 'Person' AND {num} % 1000 = 7)
                    TO '{folder / "nav_delta_01.parquet"}' (FORMAT parquet)""")
    # both ways: NAV changes e-mail on pairs i % 100 in (3, 4); CRM changes e-mail on i % 100 = 3 (conflict)
    # and city on i % 100 = 5
    con.execute(f"""COPY (SELECT * REPLACE ('nav.' || "E-Mail" AS "E-Mail",
                                            TIMESTAMP '2026-11-04 09:00:00' AS "SystemModifiedAt")
                          FROM {nav} WHERE "Type" = 'Person' AND {num} % 100 IN (3, 4))
                    TO '{folder / "nav_delta_both.parquet"}' (FORMAT parquet)""")
    cnum = "CAST(right(contactid, 12) AS BIGINT)"
    con.execute(f"""COPY (SELECT * REPLACE (CASE WHEN {cnum} % 100 = 3 THEN 'crm.' || emailaddress1
                                                 ELSE emailaddress1 END AS emailaddress1,
                                            CASE WHEN {cnum} % 100 = 5 THEN address1_city || ' West'
                                                 ELSE address1_city END AS address1_city,
                                            TIMESTAMP '2026-11-04 10:00:00' AS modifiedon)
                          FROM {crm} WHERE {cnum} % 100 IN (3, 5))
                    TO '{folder / "crm_delta_both.parquet"}' (FORMAT parquet)""")
    con.close()


# -- contactsync ------------------------------------------------------------------------------------

class CS:
    """contactsync's public API, one action per step (each opens the file as the CLI does)."""

    def import_nav(self, path, d):
        with cs.Workspace.open(path) as ws:
            return ws.import_nav(d / "nav.parquet").inserted

    def import_crm(self, path, d):
        with cs.Workspace.open(path) as ws:
            return ws.import_crm(d / "crm.parquet").inserted

    def prep_companies(self, path, d):
        with cs.Workspace.open(path) as ws:
            ws.import_accounts(d / "accounts.parquet")
            ws.import_couplings(d / "company_couplings.parquet", entity="company")

    def import_couplings(self, path, d):
        with cs.Workspace.open(path) as ws:
            return ws.import_couplings(d / "couplings.parquet").inserted

    def push(self, path, d):
        with cs.Workspace.open(path) as ws:
            r = ws.sync("push")
            return r.modified

    def import_delta(self, path, d, name, side="nav"):
        with cs.Workspace.open(path) as ws:
            (ws.import_nav if side == "nav" else ws.import_crm)(d / name)

    def both(self, path, d):
        with cs.Workspace.open(path) as ws:
            r = ws.sync("both")
            return r.modified + r.skipped

    def undo(self, path, d):
        with cs.Workspace.open(path) as ws:
            run = int(ws.runs().query("kind == 'sync'").run_id.max())
            ws.undo(run)
            return run


# -- the floor: bare SQL, BC's way ------------------------------------------------------------------

def _nv(f, a="n"):
    return f"coalesce({a}.{q(f.nav)}, '')"


def _cv(f, a="r"):
    return f"coalesce({a}.{q(f.crm)}, '')"


FIELDS = [f for f in M.fields if getattr(f, "lookup", None) is None and f.crm != "parentcustomerid"]


class Floor:
    """One statement per step, set-based, as a plain SQL user writes BC's rules."""

    def __init__(self):
        self.run = 10_000

    def _con(self, path):
        return duckdb.connect(str(path))

    def _import(self, path, table, key, src):
        con = self._con(path)
        con.execute("BEGIN")
        dup = con.execute(f"SELECT count(*) - count(DISTINCT {q(key)}), count(*) FILTER (WHERE {q(key)} IS NULL "
                          f"OR {q(key)} = '') FROM read_parquet(?)", [str(src)]).fetchone()
        assert dup == (0, 0)
        cols = list(con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(src)]).df().columns)
        sel = ", ".join(q(c) for c in cols)
        # upsert (typed by the table) + a before-image of what it replaces, for undo
        con.execute(f"CREATE TEMP TABLE _old AS SELECT t.* FROM {q(table)} t JOIN read_parquet(?) s "
                    f"ON s.{q(key)} = t.{q(key)}", [str(src)])
        con.execute(f"INSERT OR REPLACE INTO {q(table)} ({sel}) SELECT {sel} FROM read_parquet(?)", [str(src)])
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(src)]).fetchone()[0]
        con.execute("COMMIT")
        con.close()
        return n

    def import_nav(self, path, d):
        return self._import(path, "nav_contact", "No.", d / "nav.parquet")

    def import_crm(self, path, d):
        return self._import(path, "crm_contact", "contactid", d / "crm.parquet")

    def prep_companies(self, path, d):
        CS().prep_companies(path, d)

    def import_couplings(self, path, d):
        con = self._con(path)
        con.execute("BEGIN")
        src = str(d / "couplings.parquet")
        bad = con.execute(
            "SELECT count(*) FROM read_parquet(?) s LEFT JOIN nav_contact n ON n.\"No.\" = s.\"No.\" "
            "LEFT JOIN crm_contact r ON r.contactid = s.contactid WHERE n.\"No.\" IS NULL OR r.contactid IS NULL "
            "OR n.\"Type\" <> 'Person' OR coalesce(n.\"Company No.\", '') = ''", [src]).fetchone()[0]
        assert bad == 0
        con.execute("INSERT INTO coupling (entity, nav_no, crm_id, coupled_at) SELECT 'contact', \"No.\", contactid, "
                    "now() FROM read_parquet(?)", [src])
        con.execute("COMMIT")
        n = con.execute("SELECT count(*) FROM coupling WHERE entity = 'contact'").fetchone()[0]
        con.close()
        return n

    def _sync(self, con, direction):
        """BC's decision: a side changed when its modified-on is later than the last-synced one; the
        values of changed pairs are compared field by field; both changed = a conflict, skipped."""
        self.run += 1
        differs = " OR ".join(f"{_nv(f)} <> {_cv(f)}" for f in FIELDS)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _plan AS
            SELECT c.nav_no, c.crm_id, n."SystemModifiedAt" AS n_mod, r.modifiedon AS c_mod,
                   (c.nav_synced_modified IS NULL OR n."SystemModifiedAt" > c.nav_synced_modified) AS nav_chg,
                   (c.crm_synced_modified IS NULL OR r.modifiedon > c.crm_synced_modified) AS crm_chg,
                   {", ".join(f"{_nv(f)} AS {q('n_' + f.nav)}, {_cv(f)} AS {q('c_' + f.crm)}" for f in FIELDS)},
                   ({differs}) AS differs
            FROM coupling c JOIN nav_contact n ON n."No." = c.nav_no JOIN crm_contact r ON r.contactid = c.crm_id
            WHERE c.entity = 'contact' AND ((c.nav_synced_modified IS NULL OR n."SystemModifiedAt" > c.nav_synced_modified)
               OR (c.crm_synced_modified IS NULL OR r.modifiedon > c.crm_synced_modified))""")
        if direction == "both":
            conflict = "nav_chg AND crm_chg AND differs"
            push, pull = "differs AND nav_chg AND NOT crm_chg", "differs AND crm_chg AND NOT nav_chg"
        else:  # BC's one-way sync: a changed source is transferred (a first sync compares every pair)
            conflict, push, pull = "false", "differs AND nav_chg", "false"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _act AS SELECT *, {push} AS do_push, {pull} AS do_pull, "
                    f"{conflict} AS conflict FROM _plan")
        for side, flag, table, key, pk, mk in (
                ("crm", "do_push", "crm_contact", "contactid", "crm_id", "modifiedon"),
                ("nav", "do_pull", "nav_contact", "No.", "nav_no", "SystemModifiedAt")):
            src = [(f, q("n_" + f.nav)) if side == "crm" else (f, q("c_" + f.crm)) for f in FIELDS]
            dst = [(f, q("c_" + f.crm)) if side == "crm" else (f, q("n_" + f.nav)) for f in FIELDS]
            log = " UNION ALL ".join(
                f"SELECT {self.run}, '{side}', {pk}, '{f.crm if side == 'crm' else f.nav}', {d}, {s}, 'update' "
                f"FROM _act WHERE {flag} AND {s} <> {d}" for (f, s), (_, d) in zip(src, dst))
            con.execute(f"INSERT INTO change_log (run_id, side, key, field, old_value, new_value, op) {log}")
            sets = ", ".join(f"{q(f.crm if side == 'crm' else f.nav)} = a.{s}" for f, s in src)
            con.execute(f"UPDATE {table} t SET {sets}, {q(mk)} = now()::TIMESTAMP FROM _act a "
                        f"WHERE a.{flag} AND t.{q(key)} = a.{pk}")
        con.execute("""UPDATE coupling c SET nav_synced_modified = n."SystemModifiedAt",
                           crm_synced_modified = r.modifiedon, last_synced_at = now()::TIMESTAMP
                       FROM _act a JOIN nav_contact n ON n."No." = a.nav_no JOIN crm_contact r ON r.contactid = a.crm_id
                       WHERE c.entity = 'contact' AND c.nav_no = a.nav_no AND NOT a.conflict""")
        con.execute("INSERT INTO run_conflict (run_id, nav_no, crm_id) SELECT ?, nav_no, crm_id FROM _act "
                    "WHERE conflict", [self.run])
        return con.execute("SELECT count(*) FILTER (WHERE do_push OR do_pull) + count(*) FILTER (WHERE conflict) "
                           "FROM _act").fetchone()[0]

    def _sync_run(self, path, direction):
        """One sync as one transaction, as a run is."""
        con = self._con(path)
        con.execute("BEGIN")
        n = self._sync(con, direction)
        con.execute("COMMIT")
        con.close()
        return n

    def push(self, path, d):
        return self._sync_run(path, "push")

    def import_delta(self, path, d, name, side="nav"):
        CS().import_delta(path, d, name, side)

    def both(self, path, d):
        return self._sync_run(path, "both")

    def undo(self, path, d):
        con = self._con(path)
        con.execute("BEGIN")
        run = con.execute("SELECT max(run_id) FROM change_log").fetchone()[0]
        for side, table, key, names in (("crm", "crm_contact", "contactid", [f.crm for f in FIELDS]),
                                        ("nav", "nav_contact", "No.", [f.nav for f in FIELDS])):
            pivot = ", ".join(f"max(old_value) FILTER (WHERE field = '{n}') AS {q(n)}" for n in names)
            sets = ", ".join(f"{q(n)} = CASE WHEN o.{q(n)} IS NULL THEN t.{q(n)} ELSE o.{q(n)} END" for n in names)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _old AS SELECT key, {pivot} FROM change_log "
                        f"WHERE run_id = ? AND side = '{side}' GROUP BY key", [run])
            con.execute(f"UPDATE {table} t SET {sets} FROM _old o WHERE t.{q(key)} = o.key")
        con.execute("COMMIT")
        con.close()
        return run


# -- the run ----------------------------------------------------------------------------------------

def _reset_peak() -> None:
    """Start a new peak-RSS window (Linux: ``VmHWM`` restarts from the current RSS)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: the peak then covers the process so far
        pass


def _timed(fn, *args):
    _reset_peak()
    t = time.perf_counter()
    size = fn(*args)
    return time.perf_counter() - t, size, _peak_mb()


def scenario(impl, folder: Path, work: Path, base: Path, steps=STEPS) -> dict[str, tuple[float, object, float]]:
    """The scenario once on a fresh copy of ``base`` (an empty workspace), every step timed; it stops after
    the last of ``steps`` (the steps before it run, as they prepare the later ones). Each step gives
    (seconds, result size, the process's peak RSS in MB during the step)."""
    path = work / f"{type(impl).__name__}-{time.monotonic_ns()}.duckdb"
    shutil.copyfile(base, path)
    if isinstance(impl, CS):  # every step writes through contactsync: its syncs may continue the last narrow pass
        with cs.Workspace.open(path) as ws:
            ws.settings["only_contactsync_writes"] = "yes"
    last = max(STEPS.index(s) for s in steps)
    out = {}

    def step(name, fn, *args):
        if STEPS.index(name) <= last:
            out[name] = _timed(fn, *args)
            print(f"  {type(impl).__name__} {name}: {out[name][0]:.2f} s, peak RSS {out[name][2]:,.0f} MB",
                  file=sys.stderr, flush=True)

    step("import_nav", impl.import_nav, path, folder)
    step("import_crm", impl.import_crm, path, folder)
    if last >= STEPS.index("import_couplings"):
        impl.prep_companies(path, folder)
    step("import_couplings", impl.import_couplings, path, folder)
    step("first_push", impl.push, path, folder)
    if last >= STEPS.index("delta_push_10"):
        impl.import_delta(path, folder, "nav_delta_10.parquet")
    step("delta_push_10", impl.push, path, folder)
    if last >= STEPS.index("delta_push_01"):
        impl.import_delta(path, folder, "nav_delta_01.parquet")
    step("delta_push_01", impl.push, path, folder)
    if last >= STEPS.index("both_conflicts_1"):
        impl.import_delta(path, folder, "nav_delta_both.parquet")
        impl.import_delta(path, folder, "crm_delta_both.parquet", side="crm")
    step("both_conflicts_1", impl.both, path, folder)
    step("undo", impl.undo, path, folder)
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    return {s: v for s, v in out.items() if s in steps}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_size(n: int, reps: int, data_dir: Path, steps=STEPS, impls=("floor", "cs")) -> dict:
    folder = data_dir / f"bc-{n}"
    if not (folder / "crm_delta_both.parquet").exists():
        t = time.perf_counter()
        generate(folder, n)
        print(f"[{n:,}] data generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    base = folder / "empty.duckdb"
    if not base.exists():
        cs.Workspace.open(base).close()
    results: dict[str, dict[str, list[float]]] = {s: {"cs": [], "floor": []} for s in steps}
    peaks: dict[str, dict[str, float]] = {s: {"cs": 0.0, "floor": 0.0} for s in steps}
    sizes: dict[str, dict[str, object]] = {s: {} for s in steps}
    with tempfile.TemporaryDirectory(dir=folder, prefix="work-") as work:
        for rep in range(reps):
            for name, impl in (("floor", Floor()), ("cs", CS())):
                if name not in impls:
                    continue
                for step, (sec, size, peak) in scenario(impl, folder, Path(work), base, steps).items():
                    results[step][name].append(sec)
                    sizes[step][name] = size
                    peaks[step][name] = max(peaks[step][name], peak)
                print(f"[{n:,}] rep {rep + 1} {name} done", file=sys.stderr)
    rows = {}
    med = {s: {k: statistics.median(v) if v else None for k, v in results[s].items()} for s in steps}
    for step in steps:
        c, f = med[step]["cs"], med[step]["floor"]
        rows[step] = {"cs_s": None if c is None else round(c, 3), "floor_s": None if f is None else round(f, 3),
                      "ratio": round(c / f, 2) if c is not None and f else None,
                      "cs_times": results[step]["cs"], "floor_times": results[step]["floor"],
                      "cs_peak_rss_mb": round(peaks[step]["cs"], 1),
                      "floor_peak_rss_mb": round(peaks[step]["floor"], 1), "result": sizes[step]}
    return {"n": n, "reps": reps, "steps": rows, "peak_rss_mb": round(_peak_mb(), 1),
            "load_avg": os.getloadavg()[0]}


def table(res: list[dict]) -> str:
    head = "| step | " + " | ".join(f"{r['n']:,}: contactsync / floor (ratio)" for r in res) + " |"
    lines = [head, "|---|" + "---:|" * len(res)]
    for step in res[0]["steps"]:
        cells = [" / ".join("–" if r["steps"][step][k] is None else f"{r['steps'][step][k]:.2f} s"
                            for k in ("cs_s", "floor_s"))
                 + ("" if r["steps"][step]["ratio"] is None else f" (**{r['steps'][step]['ratio']}×**)") for r in res]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bc", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "contactsync-bench-bc")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--steps", default=",".join(STEPS),
                    help=f"comma-separated steps to time (the scenario stops after the last); of {', '.join(STEPS)}")
    ap.add_argument("--impls", default="floor,cs",
                    help="which implementations run: floor, cs or both (e.g. a 10M run of contactsync alone)")
    args = ap.parse_args(argv)
    impls = tuple(i for i in ("floor", "cs") if i in args.impls.split(","))
    if not impls or set(args.impls.split(",")) - {"floor", "cs"}:
        ap.error(f"--impls takes floor, cs or floor,cs; got {args.impls!r}")
    steps = tuple(s for s in STEPS if s in args.steps.split(","))
    unknown = set(args.steps.split(",")) - set(STEPS)
    if unknown or not steps:
        ap.error(f"unknown step(s) {sorted(unknown)}; steps are {', '.join(STEPS)}")
    res = [run_size(int(s), args.reps, args.data_dir, steps, impls) for s in args.sizes.split(",")]
    print(table(res))
    out = args.out or HERE / "results" / f"bc-{args.sizes.replace(',', '-')}-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str))
    print(f"written {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
