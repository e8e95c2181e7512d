"""Matching benchmark: ``python -m bench.matching [--sets febrl1,febrl2,febrl3,febrl4,generator,lookalike]
[--n 10000] [--seed 101] [--big 100000] [--no-splink]``.

Per labelled set: precision, recall and F1 of contactsync's ``suggested`` (the default decision) and of its
``match`` (auto-acceptable), the best F1
over thresholds, the blocking recall, seconds (training on the set included); the safety rules
(look-alike, conflict) off as a second contactsync row; Splink's default pipeline (EM-trained, threshold 0.5, one-to-one) and BC's
exact rules (``match_couple``: e-mail, then first name + surname) as baselines. Nothing is tuned on a
reported set: the model trains unsupervised on each set; the packaged prior, the margin and the
thresholds come from the generator's tuning seed 11 (``python -m bench.matching.prior``), reported seeds
are 101 and up. One untimed warm-up run on a small generated set (seed 7) comes first. Then times
``suggest_couplings`` (training included) on ``--big`` x ``--big``.
"""

from __future__ import annotations

import argparse
import time

from contactsync import linkage

from . import febrl, splink_method
from .evaluate import best_f1, blocking_recall, run_bc_exact, run_contactsync, score, workspace
from .generate import make

SETS = ("febrl1", "febrl2", "febrl3", "febrl4", "generator", "lookalike")


def labelled(name: str, n: int, seed: int):
    if name.startswith("febrl"):
        return febrl.benchmark(name)
    if name == "generator":
        return make(n, seed=seed)
    return make(n, seed=seed + 1, hard_rate=1.0)  # every CRM-only contact a relative, colleague or namesake


def evaluate(name: str, n: int, seed: int, splink: bool = True) -> list:
    b = labelled(name, n, seed)
    ws = workspace(b)
    size = f"{len(b.truth):,} of {min(len(b.nav_contact), len(b.crm_contact)):,}"
    rows = []
    s, sec = run_contactsync(ws)
    br = blocking_recall(ws, b.truth)
    bf = best_f1(s, b.truth)
    hard = set(b.crm_contact["contactid"]) - set(b.truth["crm_id"])
    d = s[s["suggested"]]
    rows.append(score("contactsync default decision (`suggested`; Splink model trained on the set)", size, d,
                      b.truth, sec, best_f1=bf, blocking_recall=br,
                      lookalikes_accepted=int(d["crm_id"].isin(hard).sum())))
    m = s[s["match"]]
    rows.append(score("contactsync auto-acceptable (`match`: margin, no look-alike)", size, m, b.truth,
                      sec, best_f1=bf, blocking_recall=br, lookalikes_accepted=int(m["crm_id"].isin(hard).sum())))
    off = s[(s["rank"] == 1) & (s["margin"] >= linkage.MARGIN) & (s["score"] >= 0.5)]
    rows.append(score("contactsync, safety rules off (look-alike, conflict)", size, off, b.truth, sec, best_f1=bf,
                      blocking_recall=br, lookalikes_accepted=int(off["crm_id"].isin(hard).sum())))
    if splink and splink_method.available():
        nav, crm = splink_method.normalized(ws)
        pred, sec = splink_method.run(nav, crm, one_to_one=True)
        rows.append(score("Splink default pipeline (EM, 0.5, one-to-one)", size, pred, b.truth, sec,
                          lookalikes_accepted=int(pred["crm_id"].isin(hard).sum())))
    pred, sec = run_bc_exact(ws)
    rows.append(score("BC rules (exact e-mail, then exact first+last name)", size, pred, b.truth, sec,
                      lookalikes_accepted=int(pred["crm_id"].isin(hard).sum())))
    ws.close()
    for r in rows:
        r.method = f"{name}: {r.method}"
    return rows


def warm_up(splink: bool) -> None:
    """One untimed run of both methods on a small generated set: the first set's seconds are not Python's
    imports and DuckDB's first queries."""
    b = make(400, seed=7)
    ws = workspace(b)
    run_contactsync(ws)
    if splink and splink_method.available():
        splink_method.run(*splink_method.normalized(ws))
    ws.close()


def big(n: int, seed: int) -> dict:
    b = make(n, seed=seed)
    t = time.perf_counter()
    ws = workspace(b)
    load = time.perf_counter() - t
    s, sec = run_contactsync(ws)
    m = s[s["suggested"]]
    sc = score("contactsync", n, m, b.truth, sec)
    t = time.perf_counter()
    again = ws.suggest_couplings()
    stored = time.perf_counter() - t
    ws.close()
    return {"n": n, "import_s": round(load, 1), "suggest_s": round(sec, 1), "stored_model_s": round(stored, 1),
            "precision": sc.precision, "recall": sc.recall, "f1": sc.f1, "rows": len(again)}


def fmt(v) -> str:
    return "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def table(rows) -> str:
    out = ["| set: method | true pairs of records | precision | recall | F1 | best F1 | blocking recall | "
           "look-alikes accepted | seconds |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.method} | {r.n} | {r.precision:.4f} | {r.recall:.4f} | {r.f1:.4f} | {fmt(r.best_f1)} | "
                   f"{fmt(r.blocking_recall)} | {fmt(r.lookalikes_accepted)} | {r.seconds:.2f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--n", type=int, default=10_000, help="NAV persons (and CRM contacts) of the generated sets")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--big", type=int, default=100_000, help="size of the timing run (0: skip)")
    ap.add_argument("--no-splink", action="store_true")
    a = ap.parse_args(argv)
    warm_up(not a.no_splink)
    rows = []
    for name in a.sets.split(","):
        rows += evaluate(name.strip(), a.n, a.seed, splink=not a.no_splink)
        print(table(rows[-5:]), flush=True)
    print("\n" + table(rows))
    if a.big:
        r = big(a.big, a.seed + 2)
        print(f"\n{r['n']:,} x {r['n']:,} uncoupled contacts: suggest_couplings {r['suggest_s']} s with training "
              f"({r['stored_model_s']} s with the stored model; precision {r['precision']:.4f}, recall "
              f"{r['recall']:.4f}, F1 {r['f1']:.4f}; import {r['import_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
