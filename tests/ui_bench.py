"""A large workspace for the steward app's speed tests: ``contactsync.sample`` bench data, every person
coupled and synced, then a steward's day of changes (as the bench does it, in plain SQL):

- every 10th NAV person: Job Title and Mobile Phone No. changed since the last sync;
- every 100th pair (n % 100 == 0, a subset of the above): the CRM job title changed too (both changed);
- every 100th pair (n % 100 == 5): CRM Address 2 changed (a pull).

At ``persons=200_000`` that is 22,000 differing pairs, 20,000 of them on Mobile Phone No.
"""

from __future__ import annotations

from pathlib import Path

import contactsync as cs
from contactsync.sample import generate

CHANGED_AT = "2030-02-02 09:00:00"


def _slice(mod: int, rem: int) -> str:
    return f"\"Type\" = 'Person' AND CAST(regexp_extract(\"No.\", '(\\d+)$', 1) AS BIGINT) % {mod} = {rem}"


def _pairs_of(mod: int, rem: int) -> str:
    return (f"SELECT c.crm_id FROM coupling c JOIN nav_contact n ON n.\"No.\" = c.nav_no "
            f"WHERE c.entity = 'contact' AND {_slice(mod, rem)}")


def build(path: Path, persons: int) -> Path:
    """Write the workspace file at ``path`` (a new file) and return ``path``."""
    data = generate(persons, scenario="bench", seed=7)
    with cs.Workspace.open(path) as ws, ws.hold():
        ws.import_accounts(data.crm_account)
        ws.import_nav(data.nav_contact)
        ws.import_crm(data.crm_contact)
        ws.import_couplings(data.company_couplings, entity="company")
        ws.import_couplings(data.contact_couplings)
        ws.sync("push", force=True)
        ws.sql(f"""UPDATE nav_contact SET "Job Title" = 'Category Manager',
                     "Mobile Phone No." = '+45 20 ' || lpad(regexp_extract("No.", '(\\d+)$', 1), 8, '0'),
                     "SystemModifiedAt" = TIMESTAMP '{CHANGED_AT}' WHERE {_slice(10, 0)}""", write=True)
        ws.sql(f"UPDATE crm_contact SET jobtitle = 'Procurement Lead', modifiedon = TIMESTAMP '{CHANGED_AT}' "
               f"WHERE contactid IN ({_pairs_of(100, 0)})", write=True)
        ws.sql(f"UPDATE crm_contact SET address1_line2 = 'Floor 3', modifiedon = TIMESTAMP '{CHANGED_AT}' "
               f"WHERE contactid IN ({_pairs_of(100, 5)})", write=True)
    return path


def measure(path: Path, reps: int = 3) -> dict:
    """Medians of ``reps`` (each with the 1-minute load average beside it) on the workspace ``build`` wrote
    at ``path``: the Differences view's refresh in the kernel, ``ws.differences`` alone, the full comparison it
    replaced (``compare.differences_full_sql``), and the bulk action (Send the whole Mobile Phone No. filter,
    20k pairs at 200k, confirmed, with the refresh after it) on a fresh copy each time."""
    import os
    import shutil
    import statistics
    import time

    from contactsync import compare
    from contactsync.ui import DifferencesView

    def timed(fn) -> tuple[float, float]:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0, os.getloadavg()[0]

    def med(runs: list[tuple[float, float]]) -> dict:
        return {"median_s": round(statistics.median(t for t, _ in runs), 3),
                "runs": [{"s": round(t, 3), "load_1min": round(load, 2)} for t, load in runs]}

    out: dict = {"persons": None, "reps": reps}
    with cs.Workspace.open(path) as ws:
        out["persons"] = int(ws.sql("SELECT count(*) AS n FROM coupling WHERE entity = 'contact'")["n"].iloc[0])
        view = DifferencesView(ws, autoload=False)
        out["view_refresh"] = med([timed(view.refresh) for _ in range(reps)])
        out["differing_pairs"] = len(view._pairs)
        out["differences"] = med([timed(ws.differences) for _ in range(reps)])
        with ws.connection() as con:
            sql, params = compare.differences_full_sql(ws.mapping)
            out["differences_full_before"] = med([timed(lambda: con.execute(sql, params).fetchall())
                                                  for _ in range(reps)])
    runs, parts = [], []
    for i in range(reps):
        copy = path.with_name(f"{path.stem}-action{i}.duckdb")
        shutil.copyfile(path, copy)
        with cs.Workspace.open(copy) as ws:
            view = DifferencesView(ws)
            view.field.value = "Mobile Phone No."
            view.select_all.value = True
            n = len(view.selection())
            t_ask = timed(view.push_button.click)
            real_sync, spent = ws.sync, {}

            def sync(*a, _real=real_sync, _spent=spent, **kw):
                t0 = time.perf_counter()
                try:
                    return _real(*a, **kw)
                finally:
                    _spent["sync_s"] = round(time.perf_counter() - t0, 3)

            ws.sync = sync  # type: ignore[method-assign]
            t_yes = timed(view.confirm.yes.click)
            assert view.messages.kind == "ok", view.messages.text
            runs.append((t_ask[0] + t_yes[0], t_yes[1]))
            parts.append({"pairs": n, "question_s": round(t_ask[0], 3), "confirmed_s": round(t_yes[0], 3), **spent})
        copy.unlink()
    out["bulk_send_20k"] = {**med(runs), "parts": parts}
    return out


if __name__ == "__main__":  # python tests/ui_bench.py 200000 [reps]: build, measure, write bench/results/
    import datetime
    import json
    import sys
    import tempfile

    n, reps = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(build(Path(tmp) / "ui.duckdb", n), reps)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    target = Path(__file__).resolve().parents[1] / "bench" / "results" / f"differences-{n}-{stamp}.json"
    target.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
