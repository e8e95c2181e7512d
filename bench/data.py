"""Benchmark workspaces: generated with ``contactsync.sample.generate(scenario="bench")``.

For one size, :func:`prepare` writes into a folder:

- ``base.duckdb``: every person coupled to an identical CRM contact, companies coupled to their
  accounts, and the synced state established by one initial ``sync("push", force=True)``;
- ``changed.duckdb``: ``base`` after the stewards' day: 10% of the NAV persons changed since the last
  sync (job title and mobile phone), 1% of the pairs changed on both sides on the same field (job
  title: a conflict), and 1% changed in CRM only (address line 2: a pull);
- ``synced.duckdb``: ``changed`` after ``sync("both")`` (run ``UNDO_RUN`` is the one undone);
- ``nav_export.csv`` / ``nav_export.parquet``: the NAV contacts of ``changed`` as NAV exports them
  (imported into ``base`` by the import action: 10% of the persons updated);
- ``frames/*.parquet``: the tables of ``changed`` and ``synced`` for the pandas baselines.

Preparation is not timed. A ``ready.json`` marker lets a later run reuse the folder.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb

import contactsync as cs
from contactsync.sample import generate

VERSION = 8  # bump when the prepared data changes shape (5: the search index rebuilt as a new table; 6: schema 3;
#             7: schema 4; 8: unmatched.duckdb for suggestions)
SEED = 42
CHANGED_AT = "2026-02-02 09:00:00"
NAV_EXPORT_COLUMNS = (
    "No.", "Type", "Company No.", "Company Name", "Name", "First Name", "Middle Name", "Surname", "Job Title",
    "Address", "Address 2", "Post Code", "City", "County", "Country/Region Code", "E-Mail", "Phone No.",
    "Mobile Phone No.", "Fax No.", "Home Page", "SystemModifiedAt",
)
TABLES = ("nav_contact", "crm_contact", "crm_account", "coupling")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _person_slice(con, mod: int, rem: int) -> str:
    """Persons whose number n (from ``CTnnnnnn``) has n % mod == rem: a deterministic spread."""
    return (f"\"Type\" = 'Person' AND TRY_CAST(regexp_extract(\"No.\", '(\\d+)$', 1) AS BIGINT) % {mod} = {rem}")


def _change_day(path: Path) -> dict:
    """Apply the day's changes to the workspace file at ``path`` (plain SQL; not timed)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("BEGIN")
        # 10% of NAV persons: job title + mobile phone changed since the last sync
        n_nav = con.execute(
            f"""UPDATE nav_contact SET "Job Title" = 'Category Manager',
                  "Mobile Phone No." = '+45 20 ' || lpad(regexp_extract("No.", '(\\d+)$', 1), 8, '0'),
                  "SystemModifiedAt" = TIMESTAMP '{CHANGED_AT}'
                WHERE {_person_slice(con, 10, 0)}""").fetchone()[0]
        # 1% of pairs: the same field (job title) changed in CRM too -> conflict
        n_conf = con.execute(
            f"""UPDATE crm_contact SET jobtitle = 'Procurement Lead', modifiedon = TIMESTAMP '{CHANGED_AT}'
                WHERE contactid IN (SELECT c.crm_id FROM coupling c JOIN nav_contact n ON n."No." = c.nav_no
                                    WHERE c.entity = 'contact' AND {_person_slice(con, 100, 0)})""").fetchone()[0]
        # 1% of pairs changed in CRM only -> pulled by a sync both ways
        n_crm = con.execute(
            f"""UPDATE crm_contact SET address1_line2 = 'Floor 3', modifiedon = TIMESTAMP '{CHANGED_AT}'
                WHERE contactid IN (SELECT c.crm_id FROM coupling c JOIN nav_contact n ON n."No." = c.nav_no
                                    WHERE c.entity = 'contact' AND {_person_slice(con, 100, 5)})""").fetchone()[0]
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"nav_changed": n_nav, "conflicts": n_conf, "crm_changed": n_crm}


def _export(src: Path, dest: Path, tables: tuple[str, ...] = TABLES, extra: dict[str, str] | None = None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(src), read_only=True)
    try:
        for t in tables:
            con.execute(f"COPY (SELECT * FROM {_q(t)}) TO '{dest / (t + '.parquet')}' (FORMAT parquet)")
        for name, sql in (extra or {}).items():
            con.execute(f"COPY ({sql}) TO '{dest / (name + '.parquet')}' (FORMAT parquet)")
    finally:
        con.close()


def prepare(size: int, folder: Path, *, log=print) -> dict:
    """Build (or reuse) the benchmark folder for ``size`` persons; returns its description."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "ready.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("version") == VERSION and info.get("size") == size:
            return info
    t0 = time.perf_counter()
    data = generate(size, scenario="bench", seed=SEED)
    log(f"  generated {size:,} persons in {time.perf_counter() - t0:.1f} s")
    base = folder / "base.duckdb"
    for p in folder.glob("*.duckdb*"):
        p.unlink()
    t1 = time.perf_counter()
    with cs.Workspace.open(base) as ws, ws.hold():
        ws.import_accounts(data.crm_account)
        ws.import_nav(data.nav_contact)
        ws.import_crm(data.crm_contact)
        ws.import_couplings(data.company_couplings, entity="company")
        ws.import_couplings(data.contact_couplings)
        init = ws.sync("push", force=True)  # the synced state: last-synced values of every pair
    del data
    log(f"  base workspace in {time.perf_counter() - t1:.1f} s ({init})")
    changed = folder / "changed.duckdb"
    shutil.copyfile(base, changed)
    day = _change_day(changed)
    with cs.Workspace.open(changed) as ws:  # the day's changes were written with plain SQL
        ws.reindex()
    # the NAV export of the changed day, in NAV's column names
    con = duckdb.connect(str(changed), read_only=True)
    cols = ", ".join(_q(c) for c in NAV_EXPORT_COLUMNS)
    con.execute(f"COPY (SELECT {cols} FROM nav_contact ORDER BY \"No.\") TO '{folder / 'nav_export.csv'}' "
                "(HEADER, DELIMITER ',')")
    con.execute(f"COPY (SELECT {cols} FROM nav_contact ORDER BY \"No.\") TO '{folder / 'nav_export.parquet'}' "
                "(FORMAT parquet)")
    con.close()
    _export(base, folder / "frames" / "base")
    _export(changed, folder / "frames" / "changed")
    synced = folder / "synced.duckdb"
    shutil.copyfile(changed, synced)
    with cs.Workspace.open(synced) as ws:
        both = ws.sync("both")
    _export(synced, folder / "frames" / "synced",
            extra={"change_log": f"SELECT * FROM change_log WHERE run_id = {both.run_id}",
                   "coupling_log": f"SELECT * FROM coupling_log WHERE run_id = {both.run_id}"})
    # suggestions: the synced state with 1% of the person pairs uncoupled (every 100th NAV No.)
    unmatched = folder / "unmatched.duckdb"
    shutil.copyfile(base, unmatched)
    con = duckdb.connect(str(unmatched))
    uncoupled = con.execute(
        "DELETE FROM coupling WHERE entity = 'contact' AND nav_no IN (SELECT nav_no FROM (SELECT nav_no, "
        "row_number() OVER (ORDER BY nav_no) AS i FROM coupling WHERE entity = 'contact') WHERE i % 100 = 0)"
    ).fetchone()[0]
    con.close()
    with cs.Workspace.open(unmatched) as ws:  # couplings deleted with plain SQL
        ws.reindex()
    con = duckdb.connect(str(changed), read_only=True)
    probe = con.execute(
        "SELECT n.\"No.\", c.crm_id, lower(r.lastname) FROM nav_contact n JOIN coupling c ON c.nav_no = n.\"No.\" "
        "JOIN crm_contact r ON r.contactid = c.crm_id WHERE n.\"Type\" = 'Person' ORDER BY n.\"No.\" "
        "LIMIT 1 OFFSET ?", [size // 2]).fetchone()
    con.close()
    info = {"version": VERSION, "size": size, "seed": SEED, **day, "undo_run": both.run_id,
            "both": both.counts(), "compare_no": probe[0], "compare_crm_id": probe[1], "search": probe[2],
            "uncoupled": uncoupled,
            "prepare_s": round(time.perf_counter() - t0, 1)}
    marker.write_text(json.dumps(info, indent=1))
    log(f"  prepared in {info['prepare_s']} s: {day}, sync both {both.counts()}")
    return info
