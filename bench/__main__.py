"""Run the benchmark: ``python -m bench`` (or ``make bench``).

    python -m bench                          # 100k and 1M contacts, 5 repetitions
    python -m bench --sizes 100000 --reps 3
    python -m bench --quick                  # 10k contacts, 2 repetitions (the CI smoke run)

Every (action, implementation) runs in its own process (peak memory = that process's max RSS);
timings are medians over the repetitions. The table is printed and written as JSON under
``bench/results/`` (``--out`` to choose the file). Prepared workspaces are kept under
``--data-dir`` (default: a temporary folder, removed at the end) and reused when present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from .actions import ACTIONS, EXTRA, EXTRA_ACTIONS, IMPLS
from .data import prepare

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 1.5  # contactsync at most 1.5x its floor
TARGET_VS_PANDAS = 5.0  # and at least 5x faster than pandas
TARGET_LIST_MS = 50.0
TARGET_SYNC_MB = 2048.0
RATIO_ACTIONS = ("import_csv", "import_parquet", "compare", "differences", "push", "sync_both", "undo")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    import duckdb
    import pandas

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
            "load_avg_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def run_one(action: str, which: str, folder: Path, reps: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "bench.worker", action, which, str(folder), str(reps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"action": action, "impl": which, "error": err}
    return json.loads(lines[-1])


def summarize(size: int, measured: list[dict]) -> list[dict]:
    by = {(m["action"], m["impl"]): m for m in measured}
    rows = []
    labels = {k: v[0] for k, v in {**ACTIONS, **EXTRA}.items()}
    for action, label in labels.items():
        if not any(m["action"] == action for m in measured):
            continue
        row = {"size": size, "action": action, "label": label}
        for which in IMPLS:
            m = by.get((action, which))
            if m is None:
                continue
            if "error" in m:
                row[f"{which}_error"] = m["error"]
                continue
            row[f"{which}_s"] = statistics.median(m["times"])
            row[f"{which}_times"] = [round(t, 4) for t in m["times"]]
            row[f"{which}_result"] = m["result"]
            row[f"{which}_peak_mb"] = m["peak_rss_mb"]
            row[f"{which}_base_mb"] = m["base_rss_mb"]
        if row.get("cs_s") and row.get("sql_s"):
            row["vs_floor"] = row["cs_s"] / row["sql_s"]
        if row.get("cs_s") and row.get("pandas_s"):
            row["pandas_vs_cs"] = row["pandas_s"] / row["cs_s"]
        rows.append(row)
    return rows


def _fmt_s(v) -> str:
    if v is None:
        return "—"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def table(rows: list[dict]) -> str:
    head = ("| contacts | action | contactsync | DuckDB floor | pandas | × floor | pandas ÷ cs | cs peak RSS |\n"
            "|---:|---|---:|---:|---:|---:|---:|---:|")
    out = [head]
    for r in rows:
        out.append(
            f"| {r['size']:,} | {r['label']} | {_fmt_s(r.get('cs_s'))} | {_fmt_s(r.get('sql_s'))} | "
            f"{_fmt_s(r.get('pandas_s'))} | "
            f"{r['vs_floor']:.2f} |" if r.get("vs_floor") is not None else
            f"| {r['size']:,} | {r['label']} | {_fmt_s(r.get('cs_s'))} | {_fmt_s(r.get('sql_s'))} | "
            f"{_fmt_s(r.get('pandas_s'))} | — |")
        out[-1] += (f" {r['pandas_vs_cs']:.1f}× |" if r.get("pandas_vs_cs") is not None else " — |")
        out[-1] += (f" {r['cs_peak_mb']:.0f} MB |" if r.get("cs_peak_mb") is not None else " — |")
    return "\n".join(out)


def targets(rows: list[dict]) -> list[dict]:
    """Each target, per size, met or not."""
    out = []
    for r in rows:
        if r["action"] in RATIO_ACTIONS and r.get("vs_floor") is not None:
            out.append({"size": r["size"], "target": f"{r['action']}: ≤ {TARGET_RATIO}× floor",
                        "value": round(r["vs_floor"], 2), "met": r["vs_floor"] <= TARGET_RATIO})
        if r["action"] in RATIO_ACTIONS and r.get("pandas_vs_cs") is not None:
            out.append({"size": r["size"], "target": f"{r['action']}: ≥ {TARGET_VS_PANDAS}× faster than pandas",
                        "value": round(r["pandas_vs_cs"], 1), "met": r["pandas_vs_cs"] >= TARGET_VS_PANDAS})
        if r["action"] == "list_page" and r.get("cs_s") is not None:
            out.append({"size": r["size"], "target": f"list page median < {TARGET_LIST_MS:.0f} ms",
                        "value": round(r["cs_s"] * 1000, 1), "met": r["cs_s"] * 1000 < TARGET_LIST_MS})
        if r["action"] in ("push", "sync_both") and r.get("cs_peak_mb") is not None:
            out.append({"size": r["size"], "target": f"{r['action']}: peak memory < 2 GB",
                        "value": r["cs_peak_mb"], "met": r["cs_peak_mb"] < TARGET_SYNC_MB})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated person counts")
    p.add_argument("--reps", type=int, default=5, help="repetitions per timing (median reported)")
    p.add_argument("--quick", action="store_true", help="10k persons, 2 repetitions (CI smoke)")
    every = [*ACTIONS, *EXTRA_ACTIONS]
    p.add_argument("--actions", default=",".join(every), help="comma-separated subset of " + ",".join(every))
    p.add_argument("--impls", default=",".join(IMPLS), help="comma-separated subset of " + ",".join(IMPLS))
    p.add_argument("--data-dir", type=Path, default=None, help="keep prepared workspaces here (reused)")
    p.add_argument("--out", type=Path, default=None, help="JSON results file (default: bench/results/...)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per (action, implementation)")
    a = p.parse_args(argv)
    sizes = [10_000] if a.quick else [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    reps = 2 if a.quick and a.reps == 5 else a.reps
    actions = [x for x in a.actions.split(",") if x]
    impls = [x for x in a.impls.split(",") if x]
    unknown = [x for x in actions if x not in every] + [x for x in impls if x not in IMPLS]
    if unknown:
        p.error(f"unknown action/implementation: {unknown}")
    data_dir = a.data_dir or Path(tempfile.mkdtemp(prefix="contactsync-bench-"))
    started = datetime.now()
    results = {"started": started.isoformat(timespec="seconds"), "machine": machine(), "reps": reps,
               "sizes": sizes, "prepared": {}, "rows": [], "measurements": []}
    try:
        for size in sizes:
            folder = data_dir / str(size)
            print(f"== {size:,} contacts ({folder})", flush=True)
            info = prepare(size, folder, log=lambda s: print(s, flush=True))
            results["prepared"][str(size)] = info
            measured = []
            todo = [(x, w) for x in actions if x in ACTIONS for w in impls]
            todo += [(x, "cs") for x, v in EXTRA.items() if "cs" in impls and v[2] in actions]
            for action, which in todo:
                t = time.perf_counter()
                m = run_one(action, which, folder, reps, a.timeout)
                m["size"] = size
                measured.append(m)
                what = (f"error: {m['error']}" if "error" in m else
                        f"median {_fmt_s(statistics.median(m['times']))}, result {m['result']}, "
                        f"peak {m['peak_rss_mb']:.0f} MB")
                print(f"  {action:15} {which:7} {what} ({time.perf_counter() - t:.0f} s)", flush=True)
            results["measurements"] += measured
            results["rows"] += summarize(size, measured)
    finally:
        if a.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    results["targets"] = targets(results["rows"])
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    text = table(results["rows"])
    print()
    print(text)
    print()
    for t in results["targets"]:
        print(f"  {'met   ' if t['met'] else 'MISSED'} {t['size']:>9,}  {t['target']}: {t['value']}")
    out = a.out or HERE / "results" / f"bench-{'-'.join(str(s) for s in sizes)}-{started:%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {out}")
    return 0 if all("error" not in m for m in results["measurements"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
