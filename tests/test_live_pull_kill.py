"""Crash safety of a pull: a pulling process is SIGKILLed at seeded moments (while reading pages, while storing,
or not at all), the remote changing between rounds; after each kill the workspace is as before that pull or
holds all of it, and the delta link never moves past what was stored (the final pull catches everything)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from live_support import TOKEN, cred, many_crm, server

import contactsync as cs

CHILD = """
import sys, contactsync as cs
ws = cs.Workspace.open(sys.argv[1])
print("go", flush=True)
r = ws.pull("crm", progress=lambda n, p: print("page", flush=True))
print("done", r.fetched, flush=True)
"""

N, ROUNDS, EDITS = 2_000, 14, 500


def _state(path):
    with cs.Workspace.open(path) as w:
        rows = w.sql("SELECT contactid, coalesce(jobtitle, '') AS jobtitle FROM crm_contact WHERE firstname LIKE 'First%'")
        link = w.sql("SELECT delta_link FROM live_connection WHERE side = 'crm'")["delta_link"][0]
        runs = len(w.runs())
        etags = w.sql("SELECT key, etag FROM live_record WHERE side = 'crm'")
    return (dict(zip(rows["contactid"], rows["jobtitle"])), link, runs,
            dict(zip(etags["key"], etags["etag"])))


@pytest.mark.slow
def test_sigkill_during_pull_leaves_all_or_nothing(tmp_path):
    srv = server()
    try:
        ids = list(many_crm(N)["contactid"])
        srv.load_crm(many_crm(N).to_dict("records"))
        path = tmp_path / "pullkill.duckdb"
        with cs.Workspace.open(path) as ws:
            ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="CS_LIVE_TOKEN",
                       page_size=200)
        srv.latency = 0.01
        env = {**os.environ, "CS_LIVE_TOKEN": TOKEN}
        rng = random.Random(int(os.environ.get("CS_KILL_SEED", "23")))
        before = _state(path)
        kills = completed = 0
        for rnd in range(ROUNDS):
            for cid in rng.sample(ids, EDITS):           # the remote changes between pulls
                srv.edit("crm", cid, jobtitle=f"r{rnd}-{cid[-4:]}")
            remote = {cid: srv.record("crm", cid).get("jobtitle") or "" for cid in ids}
            p = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env=env, text=True)
            assert p.stdout.readline().strip() == "go"
            if rng.random() < 0.3:                       # some pulls are let finish
                p.communicate()
            else:                                        # kill after 0-12 pages and a random pause
                for _ in range(rng.randint(0, 12)):
                    p.stdout.readline()
                time.sleep(rng.uniform(0.0, 0.4))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
            killed = p.wait() == -signal.SIGKILL
            kills += killed
            after = _state(path)
            cs.Workspace.verify_backup(path)      # the file opens and every table reads to its end (no torn block)
            rows, link, runs, etags = after
            if link == before[1]:
                # not stored: exactly the state before this pull (no row, ETag or run of a half pull)
                assert not (after[0] == remote and rows != before[0]) and after == before, f"round {rnd}"
            else:
                # stored: all of it, and the new delta link stands for exactly what is now in the workspace
                completed += 1
                assert rows == remote and runs == before[2] + 1, f"round {rnd}"
                assert all(etags[c] == srv.crm.etag(c) for c in ids), f"round {rnd}"
            before = after
        assert kills >= ROUNDS // 3 and completed >= 2, (kills, completed)
        srv.latency = 0.0
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, env=env, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        rows, link, _, etags = _state(path)
        # the delta link never skipped a change: the last pull brings the workspace to the remote's state
        assert rows == {cid: srv.record("crm", cid).get("jobtitle") or "" for cid in ids}
        assert all(etags[c] == srv.crm.etag(c) for c in ids)
        print(f"kills={kills} completed={completed}")
    finally:
        srv.stop()
