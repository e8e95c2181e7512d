"""Run the matching methods on a benchmark and score them against the truth."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from contactsync import Workspace

from .generate import Benchmark, load


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

    def row(self) -> dict:
        return self.__dict__.copy()


def score(method: str, n: int, predicted: pd.DataFrame, truth: pd.DataFrame, seconds: float) -> Score:
    pred = set(zip(predicted["nav_no"], predicted["crm_id"]))
    true = set(zip(truth["nav_no"], truth["crm_id"]))
    tp = len(pred & true)
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(method, n, round(precision, 4), round(recall, 4), round(f1, 4), round(seconds, 2), len(pred),
                 len(true))


def workspace(b: Benchmark) -> Workspace:
    ws = Workspace.open(":memory:")
    load(ws, b)
    return ws


def run_contactsync(ws) -> tuple[pd.DataFrame, float]:
    t = time.perf_counter()
    s = ws.suggest_couplings()
    return s[s["match"]], time.perf_counter() - t


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
