"""A list page per call, as the CLI or a fresh app process does it: open the workspace file, one page of 100 NAV
contacts, close (issue 13 item 5: at 1M, <= 60 ms median). Measured on a copy of the workspace (the first open of a
copy may write once: what contactsync verified at open), for the first page and the page at offset 5000, with and
without a search, each the median of ``--reps`` calls after one warm-up, split into open (``Workspace.open``) and
page (the list call, its connection's close included).

    python -m bench.listpage WORKSPACE.duckdb [--reps 15] [--search meyer] [--out FILE]

The figure goes to ``bench/results/listpage-<NAV contacts>-<stamp>.json`` with the machine's load average (the machine's
cores are shared: say it with the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import contactsync as cs

CASES = (("first page", 0, None), ("offset 5000", 5000, None), ("search, first page", 0, "search"),
         ("search, offset 5000", 5000, "search"))


def once(path: str, offset: int, search: str | None) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    ws = cs.Workspace.open(path)
    t1 = time.perf_counter()
    with ws:
        rows = len(ws.nav_contacts(limit=100, offset=offset, search=search))
    return t1 - t0, time.perf_counter() - t1, rows


def measure(path: str, reps: int, term: str) -> list[dict]:
    out = []
    for name, offset, search in CASES:
        s = term if search else None
        once(path, offset, s)
        runs = [once(path, offset, s) for _ in range(reps)]
        med = [statistics.median(r[i] for r in runs) * 1000 for i in range(2)]
        total = statistics.median(r[0] + r[1] for r in runs) * 1000
        out.append({"case": name, "offset": offset, "search": s, "total_ms": round(total, 1),
                    "open_ms": round(med[0], 1), "page_ms": round(med[1], 1), "rows": runs[0][2], "reps": reps})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.listpage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workspace", type=Path)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--search", default="meyer")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / a.workspace.name)
        shutil.copy(a.workspace, path)
        with cs.Workspace.open(path) as ws:
            contacts = int(ws.sql("SELECT count(*) AS n FROM nav_contact")["n"].iloc[0])
        load = os.getloadavg()
        rows = measure(path, a.reps, a.search)
        load_after = os.getloadavg()
    result = {"bench": "listpage", "nav_contacts": contacts, "load_before": load, "load_after": load_after,
              "cpus": os.cpu_count(), "cases": rows}
    for r in rows:
        print(f"{r['case']:22s} total {r['total_ms']:7.1f} ms  open {r['open_ms']:6.1f}  page {r['page_ms']:6.1f}  "
              f"rows {r['rows']}")
    print(f"load {load[0]:.2f} -> {load_after[0]:.2f}")
    out = a.out or Path(__file__).parent / "results" / f"listpage-{contacts}-{time.strftime('%Y%m%d-%H%M')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
