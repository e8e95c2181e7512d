"""Crash safety (issue 7.1): a sync killed with SIGKILL at a random moment leaves the workspace
openable and exactly as before the run or exactly as after it — never in between.

One 200k-contact workspace (the bench sample, coupled and synced once, then 10% of the NAV persons
changed) is built per session. A reference run gives the "after" state and the run's duration D;
each trial copies the base file, starts the same sync in a subprocess (clock frozen, so the after
state is reproducible to the byte), kills it after a seeded random delay in [0, D], then opens
the workspace and compares table fingerprints (row count + sum of row hashes per table).

CONTACTSYNC_CRASH_TRIALS (default 20) and CONTACTSYNC_CRASH_SEED change the trials.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from wschecksum import diff, fingerprint

import contactsync as cs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")]

PERSONS = 200_000
TRIALS = int(os.environ.get("CONTACTSYNC_CRASH_TRIALS", "20"))
SEED = int(os.environ.get("CONTACTSYNC_CRASH_SEED", "20260701"))

# The sync run in the child process, with a frozen clock: run timestamps, modified-on stamps and the
# change log's new values are then the same in every run, so "after" is one exact state.
CHILD = r"""
import sys
from datetime import datetime
import contactsync.history as h
import contactsync.workspace as w
FIXED = datetime(2026, 7, 1, 12, 0, 0)
class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED
h.datetime = _Frozen
w._now = lambda: FIXED
ws = w.Workspace.open(sys.argv[1])
print("ready", flush=True)
import os
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # DuckDB's progress bar must not fill the unread pipe
r = ws.sync("push")
ws.close()
print("done", r.modified, file=sys.stderr, flush=True)
"""


def _open_cleanly(path: Path) -> dict:
    """Open the workspace with the package (WAL replayed, schema checked); return its fingerprint."""
    with cs.Workspace.open(path) as ws, ws.hold():
        assert int(ws.sql("SELECT count(*) AS n FROM nav_contact")["n"].iloc[0]) > PERSONS
        return fingerprint(ws)


def _start(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # stderr is read only by the reference run; the children print little to it
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"sync child did not start: {line!r} {proc.stderr.read()}")
    return proc


@pytest.fixture(scope="session")
def crash_base(tmp_path_factory):
    """(base file, fingerprint before, fingerprint after, sync duration in seconds)."""
    from contactsync.sample import generate

    folder = tmp_path_factory.mktemp("crash")
    base = folder / "base.duckdb"
    s = generate(PERSONS, scenario="bench")
    with cs.Workspace.open(base) as ws, ws.hold():
        ws.import_accounts(s.crm_account)
        ws.import_nav(s.nav_contact)
        ws.import_crm(s.crm_contact)
        ws.import_couplings(s.company_couplings, entity="company")
        ws.import_couplings(s.contact_couplings, entity="contact")
        ws.sync("both")  # settle: every coupling now has its last-synced values
        nav = s.nav_contact
        changed = nav[nav["Type"] == "Person"].sample(frac=0.10, random_state=7)[["No.", "Type", "Job Title"]]
        changed = changed.assign(**{"Job Title": changed["Job Title"] + " (changed)",
                                    "SystemModifiedAt": pd.Timestamp("2026-06-01")})
        assert ws.import_nav(changed).updated == PERSONS // 10
    before = _open_cleanly(base)

    ref = folder / "reference.duckdb"
    shutil.copyfile(base, ref)
    proc = _start(ref)
    t0 = time.monotonic()  # from "ready": the sync itself, open to close
    out, err = proc.communicate(timeout=600)
    duration = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert err.split()[-2:] == ["done", str(PERSONS // 10)], err[-500:]
    after = _open_cleanly(ref)
    assert diff(before, after), "the reference sync changed nothing"
    return base, before, after, duration


def test_sigkill_during_sync_leaves_before_or_after(crash_base, tmp_path, record_property):
    base, before, after, duration = crash_base
    rng = random.Random(SEED)
    outcomes = []
    for trial in range(TRIALS):
        path = tmp_path / f"trial{trial}.duckdb"
        shutil.copyfile(base, path)
        delay = rng.uniform(0, duration)
        proc = _start(path)
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            finished = False
        got = _open_cleanly(path)
        if got == before:
            outcomes.append("before")
        elif got == after:
            outcomes.append("after")
        else:
            pytest.fail(f"trial {trial} (killed at {delay:.2f}s of ~{duration:.1f}s): the workspace is neither "
                        f"the state before nor after the run; tables {diff(got, before)} differ from before "
                        f"and {diff(got, after)} from after")
        if finished:
            outcomes[-1] += " (finished)"
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    summary = {k: outcomes.count(k) for k in sorted(set(outcomes))}
    record_property("crash_trials", TRIALS)
    record_property("crash_outcomes", summary)
    print(f"\n{TRIALS} SIGKILL trials over a {duration:.1f}s sync: {summary}")
    # the seeded delays must actually hit the run, not only its end
    assert outcomes.count("before") >= TRIALS // 4, summary
