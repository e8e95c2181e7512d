"""Shared use (issue 7.2), with two real processes: the steward app holds the workspace mid-action
while a scheduled CLI run syncs the same file. Either both succeed in turn, or the second is told the
workspace is busy and by what (exit 3, one line) — and the file is never damaged."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import CRM_1, couple_two, crm_frame, fill_small
from wschecksum import diff, fingerprint

import contactsync as cs

# the "steward app": opens the workspace, starts an action (an import) and keeps the file for a while
HOLDER = r"""
import sys, time
import pandas as pd
import contactsync as cs
ws = cs.Workspace.open(sys.argv[1])
with ws.hold():
    ws.import_nav(pd.DataFrame({"No.": ["CT000001"], "Type": ["Person"], "Job Title": ["Held by the app"],
                                "SystemModifiedAt": ["2026-01-01 10:00:00"]}))
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
time.sleep(float(sys.argv[3]))  # the app stays open, without holding the file
ws.close()
"""


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "shared.duckdb"
    with cs.Workspace.open(p) as ws:
        couple_two(fill_small(ws))
    return p


def _holder(path, hold: float, linger: float = 0.0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(hold), str(linger)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "holding", (line, proc.stderr.read())
    return proc


def _cli_sync(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "contactsync.cli", *extra, "sync", "-w", str(path),
                           "--direction", "push", "--json"], capture_output=True, text=True, timeout=120)


def _job_title(path, table="crm_contact", col="jobtitle", key="contactid", value=CRM_1):
    with cs.Workspace.open(path) as ws:
        return ws.sql(f'SELECT "{col}" AS v FROM {table} WHERE "{key}" = ?', [value])["v"].iloc[0]


def test_both_succeed_in_turn(path):
    """The app holds the file for a moment; the CLI waits (busy timeout) and then syncs the app's change."""
    app = _holder(path, hold=1.5, linger=3)
    t0 = time.monotonic()
    out = _cli_sync(path, "--busy-timeout", "30")
    waited = time.monotonic() - t0
    app_out, app_err = app.communicate(timeout=60)
    assert app.returncode == 0, app_err
    assert out.returncode == 0, out.stderr
    assert waited >= 1.0, "the CLI did not wait for the app"
    # the CLI ran after the app's import and pushed it
    assert _job_title(path) == "Held by the app"
    with cs.Workspace.open(path) as ws:
        runs = ws.runs()
        assert list(runs["kind"].iloc[-2:]) == ["import", "sync"]
        assert runs["ended_at"].notna().all()
        assert int(runs["modified"].iloc[-1]) == 1


def test_second_is_told_busy_and_by_what(path):
    app = _holder(path, hold=20)
    try:
        t0 = time.monotonic()
        out = _cli_sync(path, "--busy-timeout", "1")
        assert time.monotonic() - t0 < 15
        assert out.returncode == 3, (out.returncode, out.stderr)
        err = out.stderr.strip()
        assert len(err.splitlines()) == 1, err
        assert "busy" in err and str(path) in err
        assert f"PID {app.pid}" in err or "by " in err, err  # names the holder
        assert "Traceback" not in out.stderr
        # the API says the same, as a WorkspaceBusyError
        with pytest.raises(cs.WorkspaceBusyError, match="busy") as info:
            cs.Workspace.open(path, busy_timeout=0.5)
        assert info.value.context.get("holder"), str(info.value)
    finally:
        app.kill()
        app.wait()
    # the app was killed mid-hold, after its import committed: the file opens and has the import, and the
    # refused sync wrote nothing
    with cs.Workspace.open(path) as ws:
        runs = ws.runs()
        assert list(runs["kind"].iloc[-1:]) == ["import"]
        assert ws.sql("""SELECT "Job Title" AS v FROM nav_contact WHERE "No." = 'CT000001'""")["v"].iloc[0] \
            == "Held by the app"
    assert _job_title(path) == "Einkauf"


def test_cli_holding_and_app_waiting_leave_one_consistent_file(path):
    """The other way round, several times: the CLI syncs while the app keeps importing; every action
    either runs in turn or is refused as busy; every run in the file is finished and whole."""
    with cs.Workspace.open(path) as ws:
        start = fingerprint(ws)
    procs = [subprocess.Popen([sys.executable, "-m", "contactsync.cli", "--busy-timeout", "20", "sync", "-w",
                               str(path), "--direction", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for d in ("push", "pull", "both")]
    ok = 0
    with cs.Workspace.open(path, busy_timeout=20) as ws:
        for i in range(3):
            ws.import_crm(crm_frame().assign(jobtitle=f"CRM title {i}", modifiedon=f"2026-02-0{i + 1} 10:00:00"))
            ok += 1
    codes = [p.wait(timeout=120) for p in procs]
    assert all(c in (0, 3) for c in codes), [p.stderr.read() for p in procs]
    with cs.Workspace.open(path) as ws:
        runs = ws.runs()
        assert runs["ended_at"].notna().all()
        assert (runs["kind"] == "sync").sum() == codes.count(0)
        assert (runs["kind"] == "import").sum() - 3 == ok  # the fixture made 3 imports
        # every run is whole: each sync's change log matches its counts, nothing half-written
        for run_id in runs.loc[runs["kind"] == "sync", "run_id"]:
            assert ws.changes(int(run_id))["key"].nunique() <= 2
        assert diff(start, fingerprint(ws))
