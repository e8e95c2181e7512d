"""Live connectors end to end against the local test server (issue 17): ``python -m bench.live --n 100000``.

The test server runs in a **separate process** (its cost is the stand-in's, not the connector's, and the two
must not share one GIL); the connector runs here. Steps, each on a fresh workspace file, medians of ``--reps``:

- ``pull``: a first (full) pull of ``n`` CRM contacts — every page over HTTP, parsed, imported through the
  import path, ETags and the delta link stored: records/s is ``n`` / that time;
- ``delta``: ``n`` contacts changed remotely, then a delta pull of them;
- ``deliver``: ``n`` changes queued by a sync, delivered in ``$batch`` requests.

For each step the request count (the server's own count) and requests per 5 minutes at the measured speed,
against the services' limits (Dataverse and Business Central: 6,000 requests / 5 minutes per user).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "bench-live-token"
LIMIT_PER_5MIN = 6000
ACC = "aaaaaaaa-0000-4000-8000-000000000001"

SERVER = r"""
import sys, json
from contactsync.live.testserver import LiveTestServer
srv = LiveTestServer(token=sys.argv[1]).start()
n = int(sys.argv[2])
srv.load_crm([{"contactid": f"dddddddd-0000-4000-8000-{i:012d}", "firstname": f"First{i}", "lastname": f"Last{i}",
               "emailaddress1": f"p{i}@example.com", "jobtitle": "Buyer", "address1_city": "Berlin",
               "telephone1": f"+49 30 {i:07d}", "parentcustomerid": sys.argv[3], "statecode": 0} for i in range(n)],
             accounts=[{"accountid": sys.argv[3], "name": "Bench AG"}])
from contactsync.live.testserver import CRM_FIELDS
for rid in srv.crm.rows:                 # pre-serialized rows: the stand-in's cost is not the connector's
    srv.crm.row_json(rid, CRM_FIELDS)
print(srv.port, flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "edit_all":
        with srv.lock:
            for rid in list(srv.crm.rows):
                srv.edit("crm", rid, jobtitle=cmd["value"])
        print("ok", flush=True)
    elif cmd["op"] == "requests":
        print(json.dumps({"requests": len(srv.requests), "operations": srv.operations}), flush=True)
"""


class Server:
    def __init__(self, n: int):
        self.p = subprocess.Popen([sys.executable, "-c", SERVER, TOKEN, str(n), ACC], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/crm"

    def ask(self, op: str, **kw) -> str:
        self.p.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def requests(self) -> dict:
        return json.loads(self.ask("requests"))

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=30)


def _cred():
    from contactsync.live.connections import StaticTokenCredential

    return StaticTokenCredential(TOKEN)


def _workspace(path: Path, url: str):
    import contactsync as cs

    ws = cs.Workspace.open(path)
    ws.connect("crm", url, credential=_cred(), auth="static_token_env", secret_env="CS_BENCH_TOKEN")
    return ws


def _timed(srv: Server, fn, *args, **kw) -> tuple[float, int]:
    before = srv.requests()["requests"]
    t = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t, srv.requests()["requests"] - before


def run(n: int, reps: int, steps: list[str], profile: str | None) -> dict:
    import contactsync as cs  # noqa: F401 - imported before the timings

    out: dict = {"n": n, "reps": reps, "load_before": os.getloadavg(), "steps": {}}
    times: dict[str, list[tuple[float, int]]] = {s: [] for s in steps}
    for rep in range(reps):
        srv = Server(n)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                ws = _workspace(Path(tmp) / "bench.duckdb", srv.url)
                if profile and rep == 0:
                    import cProfile

                    cProfile.runctx("ws.pull('crm', credential=_cred())", globals(), {"ws": ws, "_cred": _cred},
                                    profile)
                    ws.close()
                    return out
                times["pull"].append(_timed(srv, ws.pull, "crm", credential=_cred()))
                if "delta" in steps:
                    srv.ask("edit_all", value=f"Rep{rep}")
                    times["delta"].append(_timed(srv, ws.pull, "crm", credential=_cred()))
                if "deliver" in steps:
                    _queue_changes(ws, n)
                    times["deliver"].append(_timed(srv, ws.deliver, credential=_cred()))
                ws.close()
        finally:
            srv.close()
        print(f"rep {rep + 1}: " + ", ".join(f"{s} {v[-1][0]:.2f} s / {v[-1][1]} req" for s, v in times.items()
                                             if v), file=sys.stderr, flush=True)
    for s, v in times.items():
        med = statistics.median(t for t, _ in v)
        reqs = int(statistics.median(r for _, r in v))
        per5 = reqs / med * 300 if med else 0.0
        out["steps"][s] = {"seconds": [round(t, 3) for t, _ in v], "median_s": round(med, 3),
                           "records_per_s": round(n / med), "requests": reqs,
                           "requests_per_5min_at_this_speed": round(per5),
                           "within_6000_per_5min": per5 <= LIMIT_PER_5MIN}
    out["load_after"] = os.getloadavg()
    return out


def _queue_changes(ws, n: int) -> None:
    """n changes of the CRM side in the outbox: one run changing every contact's city (as a sync would)."""
    with ws.transaction() as con:
        from contactsync import history

        run_id = history.start_run(con, "sync")
        con.execute("""INSERT INTO change_log (run_id, side, key, field, old_value, new_value, op)
                       SELECT ?, 'crm', contactid, 'address1_city', address1_city, 'Hamburg', 'update'
                       FROM crm_contact""", [run_id])
        con.execute("UPDATE crm_contact SET address1_city = 'Hamburg'")
        history.finish_run(con, run_id)
    assert ws.sql("SELECT count(*) n FROM outbox WHERE status = 'pending'")["n"][0] >= n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", default="pull,delta,deliver")
    ap.add_argument("--profile", help="write a cProfile of one pull to this file and stop")
    ap.add_argument("--out", help="write the JSON result here too")
    a = ap.parse_args(argv)
    res = run(a.n, a.reps, a.steps.split(","), a.profile)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
