"""The benchmarked steward actions, each in three implementations.

- ``cs``: contactsync's public API (``Workspace``) in a steward's session: inside ``ws.hold()`` (the
  workspace file stays open between actions, as in the app). ``*_call`` rows: the same read actions
  without ``hold()``, where every call opens and closes the file.
- ``sql``: the floor: the same work as bare DuckDB SQL on an open connection, one set-based statement
  per step (including the field-level change log and the coupling before-images that undo needs).
- ``pandas``: what a steward writes by hand over DataFrames already in memory (loading them is not
  timed): merges, masks, a long change log.

Each implementation is ``setup(ctx) -> state`` (not timed), ``run(state) -> int`` (timed; returns a
result size: rows listed, changes logged, records restored), then ``close(state)``.
"""

from __future__ import annotations

import shutil
from datetime import datetime, time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import contactsync as cs
from contactsync.mapping import default_mapping

M = default_mapping()
FIELDS = list(enumerate(M.fields))
TS = datetime(2026, 2, 3, 12, 0, 0)
CRM_SEARCH = ("firstname", "middlename", "lastname", "emailaddress1", "telephone1", "mobilephone")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Ctx:
    def __init__(self, folder: Path, info: dict, work: Path):
        self.folder, self.info, self.work = folder, info, work
        self.n = 0

    def fresh(self, name: str) -> Path:
        """A private copy of a prepared workspace file."""
        self.n += 1
        dest = self.work / f"{Path(name).stem}-{self.n}.duckdb"
        shutil.copyfile(self.folder / name, dest)
        return dest

    def frames(self, state: str) -> dict[str, pd.DataFrame]:
        d = self.folder / "frames" / state
        return {p.stem: pd.read_parquet(p) for p in sorted(d.glob("*.parquet"))}


def _drop(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            p.unlink()


# ================================================================================ contactsync
class CS:
    source = "changed.duckdb"
    shared = False  # a fresh copy per repetition (the action writes)
    hold = True

    def setup(self, ctx):
        if self.shared and getattr(ctx, "_cs_ws", None) is not None:
            return ctx._cs_ws
        path = ctx.fresh(self.source)
        ws = cs.Workspace.open(path)
        ws.info = ctx.info
        ws._bench_hold = ws.hold() if self.hold else None
        if ws._bench_hold is not None:
            ws._bench_hold.__enter__()
        if self.shared:
            ctx._cs_ws = ws
        return ws

    def close(self, ws):
        if not self.shared:
            if ws._bench_hold is not None:
                ws._bench_hold.__exit__(None, None, None)
            ws.close()
            _drop(Path(ws.path))


class CSImportCSV(CS):
    source = "base.duckdb"
    file = "nav_export.csv"

    def setup(self, ctx):
        ws = super().setup(ctx)
        ws.src = ctx.folder / self.file
        return ws

    def run(self, ws):
        r = ws.import_nav(ws.src)
        return r.updated + r.inserted


class CSImportParquet(CSImportCSV):
    file = "nav_export.parquet"


class CSList(CS):
    shared = True

    def run(self, ws):
        df = ws.crm_contacts(search=ws.info["search"], coupled=True, limit=100)
        return df.attrs["total"]


class CSCompare(CS):
    shared = True

    def run(self, ws):
        return int(ws.compare(ws.info["compare_no"])["differs"].sum()) + 16


class CSListCall(CSList):
    hold = False


class CSCompareCall(CSCompare):
    hold = False


class CSSuggest(CS):
    """Scored suggestions between the uncoupled persons and CRM contacts (1% of the pairs)."""
    source = "unmatched.duckdb"
    shared = True  # suggesting writes nothing

    def run(self, ws):
        return int(ws.suggest_couplings()["match"].sum())  # confident one-to-one pairs


class CSDifferences(CS):
    shared = True

    def run(self, ws):
        return len(ws.differences())


class CSPush(CS):
    def run(self, ws):
        return len(ws.sync("push").changes)


class CSBoth(CS):
    def run(self, ws):
        return len(ws.sync("both").changes)


class CSUndo(CS):
    source = "synced.duckdb"

    def run(self, ws):
        u = ws.undo(ws.info["undo_run"])
        # the count of its change log, as the floor's undo returns it (not a DataFrame of 310k changes)
        return int(ws.sql("SELECT count(*) AS n FROM change_log WHERE run_id = ?", [u.run_id])["n"].item())


# ================================================================================ bare SQL floor
def _nv(i, f) -> str:
    v = f"coalesce(CAST(n.{q(f.nav)} AS VARCHAR), '')"
    return f"upper({v})" if f.code or f.lookup else v


def _cv(i, f) -> str:
    if f.lookup:
        return (f"upper(coalesce(cr.nav_no, CASE WHEN coalesce(r.{q(f.crm)}, '') = '' THEN '' "
                f"ELSE '#' || r.{q(f.crm)} END))")
    v = f"coalesce(CAST(r.{q(f.crm)} AS VARCHAR), '')"
    return f"upper({v})" if f.code else v


PAIRS = ("FROM coupling c JOIN nav_contact n ON n.\"No.\" = c.nav_no JOIN crm_contact r ON r.contactid = c.crm_id "
         "LEFT JOIN coupling cn ON cn.entity = 'company' AND cn.nav_no = n.\"Company No.\" "
         "LEFT JOIN coupling cr ON cr.entity = 'company' AND cr.crm_id = r.parentcustomerid "
         "WHERE c.entity = 'contact'")


class _Con:
    """A DuckDB connection with the run's context."""

    def __init__(self, con, info, path, folder):
        self.con, self.info, self.path, self.folder = con, info, path, folder

    def execute(self, *args):
        return self.con.execute(*args)

    def close(self):
        self.con.close()


class SQL:
    source = "changed.duckdb"
    shared = False

    def setup(self, ctx):
        if self.shared and getattr(ctx, "_sql_con", None) is not None:
            return ctx._sql_con
        path = ctx.fresh(self.source)
        con = _Con(duckdb.connect(str(path)), ctx.info, path, ctx.folder)
        if self.shared:
            ctx._sql_con = con
        return con

    def close(self, con):
        if not self.shared:
            con.close()
            _drop(con.path)

    @staticmethod
    def start_run(con, kind, direction=None) -> int:
        rid = con.execute("SELECT nextval('run_seq')").fetchone()[0]
        con.execute("INSERT INTO run (run_id, kind, direction, started_at, dry_run, force) VALUES (?, ?, ?, ?, "
                    "false, false)", [rid, kind, direction, TS])
        return rid


class SQLImportCSV(SQL):
    source = "base.duckdb"
    reader = "read_csv('{p}', all_varchar = true, header = true)"
    file = "nav_export.csv"

    def run(self, con):
        cols = [c for c in con.execute("SELECT * FROM nav_contact LIMIT 0").df().columns]
        src = self.reader.format(p=con.folder / self.file)
        file_cols = [c for c in con.execute(f"SELECT * FROM {src} LIMIT 0").df().columns]
        data = [c for c in file_cols if c != "No."]
        typed = ", ".join(
            ["upper(trim(CAST(\"No.\" AS VARCHAR))) AS \"No.\""]
            + [f"TRY_CAST({q(c)} AS TIMESTAMP) AS {q(c)}" if c == "SystemModifiedAt" else
               f"coalesce(CAST({q(c)} AS VARCHAR), '') AS {q(c)}" for c in data])
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TEMP TABLE s AS SELECT {typed} FROM {src}")
        bad = con.execute("SELECT count(*) FILTER (WHERE \"No.\" = ''), count(*) - count(DISTINCT \"No.\") FROM s"
                          ).fetchone()
        assert bad == (0, 0), bad
        rid = self.start_run(con, "import")
        differs = " OR ".join(f"s.{q(c)} IS DISTINCT FROM n.{q(c)}" for c in data)
        structs = ", ".join(f"{{'f': '{c}', 'o': CAST(n.{q(c)} AS VARCHAR), 'v': CAST(s.{q(c)} AS VARCHAR)}}"
                            for c in data)
        con.execute(
            f"""INSERT INTO change_log SELECT {rid}, 'nav', k, u.f, u.o, u.v, 'update' FROM (
                  SELECT s."No." AS k, unnest([{structs}]) AS u FROM s JOIN nav_contact n USING ("No.")
                  WHERE {differs}) WHERE u.o IS DISTINCT FROM u.v""")
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in data)
        con.execute(f"UPDATE nav_contact n SET {sets} FROM s WHERE n.\"No.\" = s.\"No.\" AND ({differs})")
        ins = [c for c in cols if c in file_cols]
        con.execute(f"INSERT INTO nav_contact ({', '.join(q(c) for c in ins)}) SELECT "
                    f"{', '.join('s.' + q(c) for c in ins)} FROM s ANTI JOIN nav_contact n USING (\"No.\")")
        n = con.execute("SELECT count(DISTINCT key) FROM change_log WHERE run_id = ?", [rid]).fetchone()[0]
        con.execute("COMMIT")
        return n  # records updated or inserted


class SQLImportParquet(SQLImportCSV):
    reader = "read_parquet('{p}')"
    file = "nav_export.parquet"


class SQLList(SQL):
    shared = True

    def run(self, con):
        text = ", ".join(f"nullif(trim(r.{q(c)}), '')" for c in CRM_SEARCH)
        df = con.execute(
            f"""SELECT r.*, a.name AS account_name, true AS coupled, c.nav_no, count(*) OVER () AS _total
                FROM crm_contact r JOIN coupling c ON c.entity = 'contact' AND c.crm_id = r.contactid
                LEFT JOIN crm_account a ON a.accountid = r.parentcustomerid
                WHERE contains(lower(concat_ws(' ', {text}, nullif(trim(a.name), ''))), lower(?))
                ORDER BY r.lastname NULLS LAST, r.firstname NULLS LAST, r.contactid LIMIT 100""",
            [con.info["search"]]).df()
        return int(df["_total"].iloc[0])


class SQLCompare(SQL):
    shared = True

    def run(self, con):
        structs = ", ".join(
            f"{{'pos': {i}, 'nav_field': '{f.nav}', 'crm_field': '{f.crm}', 'nav_value': CAST(n.{q(f.nav)} AS VARCHAR), "
            f"'crm_value': CAST(r.{q(f.crm)} AS VARCHAR), 'differs': {_nv(i, f)} <> {_cv(i, f)}}}" for i, f in FIELDS)
        df = con.execute(
            f"""SELECT u.* FROM (SELECT unnest([{structs}]) AS u {PAIRS} AND c.nav_no = ?)
                ORDER BY u.pos""", [con.info["compare_no"]]).df()
        df = pd.json_normalize(df["u"].tolist()) if "u" in df else df
        return int(df["differs"].sum()) + 16


def _diff_structs() -> str:
    out = []
    for i, f in FIELDS:
        nv, cv, b = _nv(i, f), _cv(i, f), f"c.{q(f.base_column)}"
        state = (f"CASE WHEN {b} IS NULL THEN 'never synced' WHEN {nv} <> {b} AND {cv} <> {b} THEN 'both changed' "
                 f"WHEN {nv} <> {b} THEN 'NAV changed' WHEN {cv} <> {b} THEN 'CRM changed' ELSE 'differs' END")
        out.append(f"CASE WHEN {nv} <> {cv} THEN {{'pos': {i}, 'nav_field': '{f.nav}', 'crm_field': '{f.crm}', "
                   f"'nav_value': CAST(n.{q(f.nav)} AS VARCHAR), 'crm_value': CAST(r.{q(f.crm)} AS VARCHAR), "
                   f"'state': {state}}} END")
    return ", ".join(out)


class SQLDifferences(SQL):
    shared = True

    def run(self, con):
        df = con.execute(
            f"""SELECT nav_no, crm_id, u.nav_field, u.crm_field, u.nav_value, u.crm_value, true AS differs, u.state
                FROM (SELECT c.nav_no, c.crm_id, unnest(list_filter([{_diff_structs()}], lambda x: x IS NOT NULL)) AS u
                      {PAIRS}) ORDER BY nav_no, u.pos""").df()
        return len(df)


def _act(direction: str, i, f) -> str:
    nv, cv, b = _nv(i, f), _cv(i, f), f"c.{q(f.base_column)}"
    nchg = f"(CASE WHEN {b} IS NOT NULL THEN {nv} <> {b} ELSE c.nav_synced_modified IS NULL OR n.\"SystemModifiedAt\" > c.nav_synced_modified END)"
    cchg = f"(CASE WHEN {b} IS NOT NULL THEN {cv} <> {b} ELSE c.crm_synced_modified IS NULL OR r.modifiedon > c.crm_synced_modified END)"
    if direction == "push":
        return (f"CASE WHEN {nv} = {cv} THEN 'none' WHEN {nchg} AND {cchg} THEN 'conflict' "
                f"WHEN {nchg} THEN 'push' ELSE 'none' END")
    return (f"CASE WHEN {nv} = {cv} THEN 'none' WHEN {nchg} AND {cchg} THEN 'conflict' "
            f"WHEN {nchg} THEN 'push' WHEN {cchg} THEN 'pull' ELSE 'none' END")


class SQLSync(SQL):
    direction = "push"

    def run(self, con):
        d = self.direction
        cols = ["c.nav_no", "c.crm_id", "n.\"SystemModifiedAt\" AS n_mod", "r.modifiedon AS c_mod",
                "n.\"Last Date Modified\" AS n_ld", "n.\"Last Time Modified\" AS n_lt"]
        for i, f in FIELDS:
            push_v = "cn.crm_id" if f.lookup else f"nullif(CAST(n.{q(f.nav)} AS VARCHAR), '')"
            pull_v = "cr.nav_no" if f.lookup else (f"upper(coalesce(r.{q(f.crm)}, ''))" if f.code
                                                  else f"coalesce(r.{q(f.crm)}, '')")
            cols += [f"{_act(d, i, f)} AS a{i}", f"CAST(n.{q(f.nav)} AS VARCHAR) AS n{i}",
                     f"CAST(r.{q(f.crm)} AS VARCHAR) AS r{i}", f"{push_v} AS pv{i}", f"{pull_v} AS lv{i}",
                     f"{_nv(i, f)} AS nv{i}", f"{_cv(i, f)} AS cv{i}"]
        acts = ", ".join(f"a{i}" for i, _ in FIELDS)
        con.execute("BEGIN")
        rid = self.start_run(con, "sync", d)
        # 1. the plan: only the pairs with something to do
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE p AS SELECT *, list_contains([{acts}], 'conflict') AS conflict,
                  list_contains([{acts}], 'push') AS any_push, list_contains([{acts}], 'pull') AS any_pull
                FROM (SELECT {', '.join(cols)} {PAIRS}) WHERE [{acts}] <> [{', '.join("'none'" for _ in FIELDS)}]""")
        # 2. the field-level change log
        log = ", ".join(
            f"{{'s': 'crm', 'k': crm_id, 'f': '{f.crm}', 'o': r{i}, 'v': pv{i}, 'a': a{i} = 'push'}}, "
            f"{{'s': 'nav', 'k': nav_no, 'f': '{f.nav}', 'o': n{i}, 'v': lv{i}, 'a': a{i} = 'pull'}}"
            for i, f in FIELDS)
        ts = f"TIMESTAMP '{TS}'"
        log += (f", {{'s': 'crm', 'k': crm_id, 'f': 'modifiedon', 'o': CAST(c_mod AS VARCHAR), "
                f"'v': CAST({ts} AS VARCHAR), 'a': any_push}}")
        if d == "both":
            log += "".join(
                f", {{'s': 'nav', 'k': nav_no, 'f': '{f}', 'o': CAST({o} AS VARCHAR), 'v': CAST({v} AS VARCHAR), "
                f"'a': any_pull}}" for f, o, v in (("SystemModifiedAt", "n_mod", ts),
                                                   ("Last Date Modified", "n_ld", f"CAST({ts} AS DATE)"),
                                                   ("Last Time Modified", "n_lt", f"CAST({ts} AS TIME)")))
        con.execute(f"""INSERT INTO change_log SELECT {rid}, u.s, u.k, u.f, u.o, u.v, 'update' FROM (
                          SELECT unnest(list_filter([{log}], lambda x: x.a)) AS u FROM p WHERE NOT conflict)""")
        # 3. the destinations
        sets = ", ".join(f"{q(f.crm)} = CASE WHEN p.a{i} = 'push' THEN p.pv{i} ELSE t.{q(f.crm)} END"
                         for i, f in FIELDS)
        con.execute(f"UPDATE crm_contact t SET {sets}, modifiedon = ? FROM p WHERE t.contactid = p.crm_id "
                    "AND NOT p.conflict AND p.any_push", [TS])
        if d == "both":
            sets = ", ".join(f"{q(f.nav)} = CASE WHEN p.a{i} = 'pull' THEN p.lv{i} ELSE t.{q(f.nav)} END"
                             for i, f in FIELDS)
            con.execute(f"UPDATE nav_contact t SET {sets}, \"SystemModifiedAt\" = ?, \"Last Date Modified\" = "
                        "CAST(?::TIMESTAMP AS DATE), \"Last Time Modified\" = CAST(?::TIMESTAMP AS TIME) FROM p "
                        "WHERE t.\"No.\" = p.nav_no AND NOT p.conflict AND p.any_pull", [TS, TS, TS])
        # 4. coupling before-images (for undo), then the new last-synced state
        ccols = [c for c in con.execute("SELECT * FROM coupling LIMIT 0").df().columns]
        con.execute(f"INSERT INTO coupling_log (run_id, image, {', '.join(q(c) for c in ccols)}) SELECT {rid}, "
                    f"'before', {', '.join('c.' + q(c) for c in ccols)} FROM coupling c SEMI JOIN p "
                    "ON c.entity = 'contact' AND c.nav_no = p.nav_no")
        bases = ", ".join(f"{q(f.base_column)} = CASE WHEN p.conflict THEN c.{q(f.base_column)} "
                          f"WHEN p.a{i} = 'pull' THEN p.cv{i} ELSE p.nv{i} END" for i, f in FIELDS)
        con.execute(
            f"""UPDATE coupling c SET {bases},
                  nav_synced_modified = CASE WHEN p.conflict THEN c.nav_synced_modified WHEN p.any_pull THEN ?
                                             ELSE p.n_mod END,
                  crm_synced_modified = CASE WHEN p.conflict THEN c.crm_synced_modified ELSE ? END,
                  last_result_crm = CASE WHEN p.conflict THEN 'Skipped' WHEN p.any_push THEN 'Modified'
                                         ELSE c.last_result_crm END,
                  skipped = p.conflict
                FROM p WHERE c.entity = 'contact' AND c.nav_no = p.nav_no""", [TS, TS])
        # 5. conflicts
        conf = ", ".join(f"{{'nf': '{f.nav}', 'cf': '{f.crm}', 'nv': n{i}, 'cv': r{i}, 'a': a{i} = 'conflict'}}"
                         for i, f in FIELDS)
        con.execute(f"""INSERT INTO run_conflict (run_id, nav_no, crm_id, nav_field, crm_field, nav_value, crm_value, base_value)
            SELECT {rid}, nav_no, crm_id, u.nf, u.cf, u.nv, u.cv, NULL FROM (
                          SELECT nav_no, crm_id, unnest(list_filter([{conf}], lambda x: x.a)) AS u FROM p WHERE conflict)""")
        changes = con.execute("SELECT side, key, field, old_value, new_value FROM change_log WHERE run_id = ? "
                              "ORDER BY side, key, field", [rid]).df()
        con.execute("COMMIT")
        return len(changes)


class SQLPush(SQLSync):
    direction = "push"


class SQLBoth(SQLSync):
    direction = "both"


class SQLUndo(SQL):
    source = "synced.duckdb"

    def run(self, con):
        run = con.info["undo_run"]
        con.execute("BEGIN")
        for side, table, key in (("crm", "crm_contact", "contactid"), ("nav", "nav_contact", "No.")):
            tcols = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_name = ?", [table]).fetchall())
            fields = [r[0] for r in con.execute("SELECT DISTINCT field FROM change_log WHERE run_id = ? AND side = ?",
                                                [run, side]).fetchall()]
            if not fields:
                continue
            cur = " ".join(f"WHEN '{f}' THEN CAST(t.{q(f)} AS VARCHAR)" for f in fields)
            moved = con.execute(f"SELECT count(*) FROM change_log l JOIN {table} t ON t.{q(key)} = l.key WHERE "
                                f"l.run_id = ? AND l.side = ? AND (CASE l.field {cur} END) IS DISTINCT FROM "
                                "l.new_value", [run, side]).fetchone()[0]
            assert moved == 0
            piv = ", ".join(f"bool_or(field = '{f}') AS {q('h:' + f)}, "
                            f"max(old_value) FILTER (WHERE field = '{f}') AS {q('o:' + f)}" for f in fields)
            sets = ", ".join(f"{q(f)} = CASE WHEN u.{q('h:' + f)} THEN CAST(u.{q('o:' + f)} AS {tcols[f]}) "
                             f"ELSE t.{q(f)} END" for f in fields)
            con.execute(f"UPDATE {table} t SET {sets} FROM (SELECT key, {piv} FROM change_log WHERE run_id = ? "
                        f"AND side = ? GROUP BY key) u WHERE t.{q(key)} = u.key", [run, side])
        rid = self.start_run(con, "undo")
        con.execute("INSERT INTO change_log SELECT ?, side, key, field, new_value, old_value, 'update' "
                    "FROM change_log WHERE run_id = ?", [rid, run])
        ccols = ", ".join(q(c) for c in con.execute("SELECT * FROM coupling LIMIT 0").df().columns)
        con.execute("DELETE FROM coupling c WHERE c.entity = 'contact' AND c.nav_no IN "
                    "(SELECT nav_no FROM coupling_log WHERE run_id = ? AND image = 'before')", [run])
        con.execute(f"INSERT INTO coupling ({ccols}) SELECT {ccols} FROM coupling_log WHERE run_id = ? "
                    "AND image = 'before'", [run])
        con.execute("UPDATE run SET undone_by = ? WHERE run_id = ?", [rid, run])
        n = con.execute("SELECT count(*) FROM change_log WHERE run_id = ?", [rid]).fetchone()[0]
        con.execute("COMMIT")
        return n


# ================================================================================ pandas baseline
def _norm(s: pd.Series, code: bool) -> pd.Series:
    s = s.astype(object).where(s.notna(), "").astype(str)
    return s.str.upper() if code else s


class PD:
    state = "changed"
    shared = False

    def setup(self, ctx):
        if self.shared and getattr(ctx, "_pd", None) is not None:
            return ctx._pd
        st = ctx.frames(self.state)
        st["info"], st["folder"] = ctx.info, ctx.folder
        if self.shared:
            ctx._pd = st
        return st

    def close(self, st):
        pass


def _pairs(st) -> pd.DataFrame:
    cpl = st["coupling"]
    comp = cpl[cpl["entity"] == "company"]
    pairs = (cpl[cpl["entity"] == "contact"]
             .merge(st["nav_contact"], left_on="nav_no", right_on="No.")
             .merge(st["crm_contact"], left_on="crm_id", right_on="contactid"))
    pairs["_acc_nav"] = pairs["parentcustomerid"].map(comp.set_index("crm_id")["nav_no"])
    pairs["_comp_crm"] = pairs["Company No."].map(comp.set_index("nav_no")["crm_id"])
    return pairs


def _nv_cv(pairs, f) -> tuple[pd.Series, pd.Series]:
    nv = _norm(pairs[f.nav], f.code or bool(f.lookup))
    if f.lookup:
        raw = _norm(pairs[f.crm], False)
        cv = pairs["_acc_nav"].where(pairs["_acc_nav"].notna(), np.where(raw == "", "", "#" + raw)).str.upper()
    else:
        cv = _norm(pairs[f.crm], f.code)
    return nv, cv


class PDImportCSV(PD):
    state = "base"
    file = "nav_export.csv"

    def read(self, path):
        return pd.read_csv(path, dtype=str, keep_default_na=False)

    def run(self, st):
        new = self.read(st["folder"] / self.file)
        new["No."] = new["No."].str.strip().str.upper()
        assert not new["No."].duplicated().any() and (new["No."] != "").all()
        new["SystemModifiedAt"] = pd.to_datetime(new["SystemModifiedAt"])
        old = st["nav_contact"]
        m = new.merge(old, on="No.", how="left", suffixes=("", "__old"), indicator=True)
        both = m["_merge"] == "both"
        log = []
        for c in new.columns:
            if c == "No.":
                continue
            a, b = m[c], m[c + "__old"]
            changed = both & ~((a == b) | (a.isna() & b.isna()))
            if changed.any():
                log.append(pd.DataFrame({"side": "nav", "key": m.loc[changed, "No."], "field": c,
                                         "old_value": b[changed].astype(str), "new_value": a[changed].astype(str)}))
        log = pd.concat(log, ignore_index=True) if log else pd.DataFrame()
        keep = old[~old["No."].isin(new["No."])]
        st["nav_result"] = pd.concat([keep, new], ignore_index=True)
        return int(log["key"].nunique()) + int((m["_merge"] == "left_only").sum())  # records updated or inserted


class PDImportParquet(PDImportCSV):
    file = "nav_export.parquet"

    def read(self, path):
        df = pd.read_parquet(path)
        ts = df["SystemModifiedAt"]
        df = df.astype(str).where(df.notna(), "")
        df["SystemModifiedAt"] = ts
        return df


class PDList(PD):
    shared = True

    def run(self, st):
        cpl = st["coupling"]
        crm = (st["crm_contact"]
               .merge(cpl.loc[cpl["entity"] == "contact", ["crm_id", "nav_no"]], left_on="contactid",
                      right_on="crm_id", how="left")
               .merge(st["crm_account"][["accountid", "name"]].rename(columns={"name": "account_name"}),
                      left_on="parentcustomerid", right_on="accountid", how="left"))
        text = pd.Series("", index=crm.index)  # the fields joined by one space, blank ones left out
        for c in list(CRM_SEARCH) + ["account_name"]:
            v = crm[c].fillna("").str.strip(" ")
            text = text + (" " + v).where(v != "", "")
        text = text.str[1:].str.lower()
        mask = text.str.contains(st["info"]["search"].lower(), regex=False) & crm["nav_no"].notna()
        page = crm[mask].sort_values(["lastname", "firstname", "contactid"]).head(100)
        page = page.assign(coupled=True)
        return int(mask.sum())


class PDCompare(PD):
    shared = True

    def run(self, st):
        no = st["info"]["compare_no"]
        cpl = st["coupling"]
        crm_id = cpl.loc[(cpl["entity"] == "contact") & (cpl["nav_no"] == no), "crm_id"].iloc[0]
        n = st["nav_contact"][st["nav_contact"]["No."] == no]
        r = st["crm_contact"][st["crm_contact"]["contactid"] == crm_id]
        comp = cpl[cpl["entity"] == "company"]
        n = n.assign(_acc_nav=None)
        r = r.assign(_acc_nav=r["parentcustomerid"].map(comp.set_index("crm_id")["nav_no"]))
        rows = []
        for _i, f in FIELDS:
            nv = _norm(n[f.nav], f.code or bool(f.lookup)).iloc[0]
            if f.lookup:
                cv = (r["_acc_nav"].iloc[0] or "").upper()
            else:
                cv = _norm(r[f.crm], f.code).iloc[0]
            rows.append({"nav_field": f.nav, "crm_field": f.crm, "nav_value": n[f.nav].iloc[0],
                         "crm_value": r[f.crm].iloc[0], "differs": nv != cv})
        df = pd.DataFrame(rows)
        return int(df["differs"].sum()) + 16


class PDDifferences(PD):
    shared = True

    def run(self, st):
        pairs = _pairs(st)
        out = []
        for i, f in FIELDS:
            nv, cv = _nv_cv(pairs, f)
            d = nv != cv
            if d.any():
                b = pairs.loc[d, f.base_column]
                nvd, cvd = nv[d], cv[d]
                state = np.select([b.isna(), (nvd != b) & (cvd != b), nvd != b, cvd != b],
                                  ["never synced", "both changed", "NAV changed", "CRM changed"], "differs")
                out.append(pd.DataFrame({"nav_no": pairs.loc[d, "nav_no"], "crm_id": pairs.loc[d, "crm_id"], "pos": i,
                                         "nav_field": f.nav, "crm_field": f.crm, "nav_value": pairs.loc[d, f.nav],
                                         "crm_value": pairs.loc[d, f.crm], "state": state}))
        df = pd.concat(out, ignore_index=True).sort_values(["nav_no", "pos"])
        return len(df)


class PDSync(PD):
    direction = "push"

    def run(self, st):
        pairs = _pairs(st)
        acts = {}
        vals = {}
        for i, f in FIELDS:
            nv, cv = _nv_cv(pairs, f)
            b = pairs[f.base_column]
            nchg = np.where(b.notna(), nv != b, pairs["nav_synced_modified"].isna()
                            | (pairs["SystemModifiedAt"] > pairs["nav_synced_modified"]))
            cchg = np.where(b.notna(), cv != b, pairs["crm_synced_modified"].isna()
                            | (pairs["modifiedon"] > pairs["crm_synced_modified"]))
            differ = (nv != cv).to_numpy()
            choices = ["conflict", "push"] + (["pull"] if self.direction == "both" else [])
            conds = [differ & nchg & cchg, differ & nchg] + ([differ & cchg] if self.direction == "both" else [])
            acts[i] = np.select(conds, choices, "none")
            vals[i] = (nv, cv)
        act = pd.DataFrame(acts)
        conflict = (act == "conflict").any(axis=1).to_numpy()
        log = []
        crm = st["crm_contact"].set_index("contactid")
        nav = st["nav_contact"].set_index("No.")
        cpl = st["coupling"].copy()
        cidx = pd.Series(np.arange(len(cpl)), index=cpl["nav_no"].where(cpl["entity"] == "contact"))
        for i, f in FIELDS:
            push = (acts[i] == "push") & ~conflict
            pull = (acts[i] == "pull") & ~conflict
            if push.any():
                new = pairs.loc[push, "_comp_crm"] if f.lookup else pairs.loc[push, f.nav].replace("", None)
                log.append(pd.DataFrame({"side": "crm", "key": pairs.loc[push, "crm_id"], "field": f.crm,
                                         "old_value": pairs.loc[push, f.crm], "new_value": new}))
                crm.loc[pairs.loc[push, "crm_id"], f.crm] = new.to_numpy()
                crm.loc[pairs.loc[push, "crm_id"], "modifiedon"] = TS
            if pull.any():
                new = vals[i][1][pull]
                log.append(pd.DataFrame({"side": "nav", "key": pairs.loc[pull, "nav_no"], "field": f.nav,
                                         "old_value": pairs.loc[pull, f.nav], "new_value": new}))
                nav.loc[pairs.loc[pull, "nav_no"], f.nav] = new.to_numpy()
                nav.loc[pairs.loc[pull, "nav_no"], "SystemModifiedAt"] = TS
            done = push | pull
            if done.any():
                rows = cidx[pairs.loc[done, "nav_no"]].to_numpy()
                cpl.iloc[rows, cpl.columns.get_loc(f.base_column)] = np.where(
                    pull[done], vals[i][1][done], vals[i][0][done])
        pushed = ((act == "push").any(axis=1).to_numpy()) & ~conflict
        log.append(pd.DataFrame({"side": "crm", "key": pairs.loc[pushed, "crm_id"], "field": "modifiedon",
                                 "old_value": pairs.loc[pushed, "modifiedon"].astype(str), "new_value": str(TS)}))
        pulled = ((act == "pull").any(axis=1).to_numpy()) & ~conflict
        for fld, new in (("SystemModifiedAt", str(TS)), ("Last Date Modified", str(TS.date())),
                         ("Last Time Modified", str(TS.time()))):
            if pulled.any():
                log.append(pd.DataFrame({"side": "nav", "key": pairs.loc[pulled, "nav_no"], "field": fld,
                                         "old_value": pairs.loc[pulled, fld].astype(str), "new_value": new}))
        touched = (act != "none").any(axis=1).to_numpy()
        rows = cidx[pairs.loc[touched, "nav_no"]].to_numpy()
        before = st["coupling"].iloc[rows]  # before-images for undo
        cpl.iloc[rows, cpl.columns.get_loc("skipped")] = conflict[touched]
        cpl.iloc[rows, cpl.columns.get_loc("crm_synced_modified")] = TS
        changes = pd.concat(log, ignore_index=True).sort_values(["side", "key", "field"]) if log else pd.DataFrame()
        st["result"] = (crm, nav, cpl, before, changes)
        return len(changes)


class PDPush(PDSync):
    direction = "push"


class PDBoth(PDSync):
    direction = "both"


class PDUndo(PD):
    state = "synced"

    def run(self, st):
        log = st["change_log"]
        out = {}
        for side, table, key in (("crm", "crm_contact", "contactid"), ("nav", "nav_contact", "No.")):
            t = st[table].set_index(key)
            lg = log[log["side"] == side]
            for field, g in lg.groupby("field"):
                cur, new, old = t.loc[g["key"], field].to_numpy(), g["new_value"], g["old_value"]
                if str(t[field].dtype).startswith("datetime"):  # compare instants, not their spellings
                    new, old = pd.to_datetime(new), pd.to_datetime(old)
                cur_s = pd.Series(cur).astype(object).where(pd.notna(cur), None).astype(str)
                new_s = new.astype(object).where(new.notna(), None).astype(str)
                if any(isinstance(v, time) for v in cur[:1]):  # TIME: '09:00:00.5' equals '09:00:00.500000'
                    cur_s, new_s = pd.to_timedelta(cur_s), pd.to_timedelta(new_s)
                assert (cur_s.to_numpy() == new_s.to_numpy()).all()
                t.loc[g["key"], field] = old.to_numpy()
            out[table] = t
        before = st["coupling_log"]
        before = before[before["image"] == "before"].drop(columns=["run_id", "image"])
        cpl = st["coupling"]
        cpl = pd.concat([cpl[~((cpl["entity"] == "contact") & cpl["nav_no"].isin(before["nav_no"]))], before],
                        ignore_index=True)
        reverse = log.rename(columns={"old_value": "new_value", "new_value": "old_value"})
        st["result"] = (out, cpl, reverse)
        return len(reverse)


# ================================================================================ registry
ACTIONS = {
    "import_csv": ("import NAV contacts (CSV)", CSImportCSV, SQLImportCSV, PDImportCSV),
    "import_parquet": ("import NAV contacts (Parquet)", CSImportParquet, SQLImportParquet, PDImportParquet),
    "list_page": ("CRM list page (search + coupled)", CSList, SQLList, PDList),
    "compare": ("compare one pair", CSCompare, SQLCompare, PDCompare),
    "differences": ("differences, all pairs", CSDifferences, SQLDifferences, PDDifferences),
    "push": ("incremental push", CSPush, SQLPush, PDPush),
    "sync_both": ("sync both ways (conflicts)", CSBoth, SQLBoth, PDBoth),
    "undo": ("undo of that sync", CSUndo, SQLUndo, PDUndo),
}
# contactsync only, each with the action (--actions name) it comes with: read actions called without
# ws.hold() (each call opens and closes the file), and the suggestions, which have no floor or pandas
# version here: they already run as set-based SQL, except the E.164 phone normalization (Python,
# phonenumbers) that DuckDB cannot do, and pandas has no string similarity of its own. Their quality
# and speed against BC's rules and Splink: python -m bench.matching.
EXTRA = {
    "list_page_call": ("CRM list page, per call (no hold)", CSListCall, "list_page"),
    "compare_call": ("compare one pair, per call (no hold)", CSCompareCall, "compare"),
    "suggestions": ("suggested couplings, 1% of pairs uncoupled (contactsync only)", CSSuggest, "suggestions"),
}
EXTRA_ACTIONS = tuple(dict.fromkeys(v[2] for v in EXTRA.values() if v[2] not in ACTIONS))
IMPLS = ("cs", "sql", "pandas")


def impl(action: str, which: str):
    if action in EXTRA:
        return EXTRA[action][1]()
    return ACTIONS[action][1 + IMPLS.index(which)]()
