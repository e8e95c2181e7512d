"""Run the matching methods on a labelled set and score them against the truth."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from contactsync import Workspace, linkage
from contactsync.matching import _arrow_table, prepared

from .generate import Benchmark


@dataclass
class Score:
    method: str
    n: int
    precision: float
    recall: float
    f1: float
    seconds: float
    predicted: int
    true_pairs: int
    best_f1: float | None = None
    blocking_recall: float | None = None
    lookalikes_accepted: int | None = None

    def row(self) -> dict:
        return self.__dict__.copy()


def prf(pred: set, true: set) -> tuple[float, float, float]:
    tp = len(pred & true)
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(method: str, n: int, predicted: pd.DataFrame, truth: pd.DataFrame, seconds: float, **extra) -> Score:
    pred = set(zip(predicted["nav_no"], predicted["crm_id"]))
    true = set(zip(truth["nav_no"], truth["crm_id"]))
    p, r, f = prf(pred, true)
    return Score(method, n, round(p, 4), round(r, 4), round(f, 4), round(seconds, 2), len(pred), len(true),
                 **extra)


def best_f1(scored: pd.DataFrame, truth: pd.DataFrame, col: str = "score") -> float:
    """The best F1 over every threshold, on the one-to-one pairs (greedy by score, as a steward would)."""
    if scored.empty:
        return 0.0
    s = scored.sort_values(col, ascending=False)
    s = s.drop_duplicates("nav_no").drop_duplicates("crm_id")
    true = set(zip(truth["nav_no"], truth["crm_id"]))
    hit = [(a, b) in true for a, b in zip(s["nav_no"], s["crm_id"])]
    tp = pd.Series(hit, dtype=float).cumsum().to_numpy()
    k = pd.Series(range(1, len(hit) + 1)).to_numpy()
    prec, rec = tp / k, tp / max(1, len(true))
    f1 = 2 * prec * rec / (prec + rec + 1e-12)
    return round(float(f1.max()), 4)


def workspace(b: Benchmark) -> Workspace:
    ws = Workspace.open(":memory:")
    ws.import_nav(b.nav_contact)
    ws.import_accounts(b.crm_account)
    ws.import_crm(b.crm_contact)
    if len(b.company_couplings):
        ws.import_couplings(b.company_couplings, entity="company")
    return ws


def blocking_recall(ws, truth: pd.DataFrame) -> float:
    """Share of the true pairs that at least one of contactsync's blocking rules puts together."""
    with ws.connection() as con:
        nav, crm = (_arrow_table(x) for x in prepared(con, ws.mapping))
    sc = linkage.session(nav, crm)
    try:
        sc.register("truth", truth[["nav_no", "crm_id"]])
        cond = " OR ".join("(" + r.replace("l.", "a.").replace("r.", "b.") + ")" for r in linkage.BLOCKING_RULES)
        found = sc.execute(f"""SELECT count(*) FROM truth t JOIN nav a ON a.id = t.nav_no
                               JOIN crm b ON b.id = t.crm_id WHERE {cond}""").fetchall()[0][0]
    finally:
        sc.close()
    return round(found / len(truth), 4) if len(truth) else 1.0


def run_contactsync(ws, *, retrain: bool = True) -> tuple[pd.DataFrame, float]:
    """contactsync's suggestions (the model trained on the workspace first), all scored pairs."""
    t = time.perf_counter()
    s = ws.suggest_couplings(min_score=0.0, top=10, retrain=retrain)
    return s, time.perf_counter() - t


def run_bc_exact(ws) -> tuple[pd.DataFrame, float]:
    """BC parity rules: e-mail, then first name + surname (exact, case-insensitive)."""
    t = time.perf_counter()
    r = ws.match_couple([["E-Mail"], ["First Name", "Surname"]], dry_run=True)
    d = r.details
    return d[d["status"] == "coupled"], time.perf_counter() - t


def errors(predicted: pd.DataFrame, b: Benchmark) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(false positives, missed true pairs) with the corruptions of the missed ones."""
    pred = predicted[["nav_no", "crm_id"]].assign(p=True)
    t = b.truth.assign(t=True)
    j = pred.merge(t, on=["nav_no", "crm_id"], how="outer")
    return j[j["t"].isna()], j[j["p"].isna()]
