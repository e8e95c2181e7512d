"""The live CLI as a steward runs it: ``contactsync demo --live`` serves the stand-ins on the sample data;
``sync``, ``push``, ``pull``, ``outbox``, ``connect`` against them from another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from contactsync.cli import main
from contactsync.live.demo import DEMO_TOKEN, DEMO_TOKEN_ENV


@pytest.fixture
def live_demo(tmp_path):
    path = tmp_path / "live.duckdb"
    p = subprocess.Popen([sys.executable, "-m", "contactsync", "demo", "--live", "--json", "-w", str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr.readline().strip() == "ready", p.stderr.read()
    out = []
    while True:
        line = p.stdout.readline()
        out.append(line)
        if line.strip() == "}":
            break
    info = json.loads("".join(out))
    yield path, info
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)


def run(*args, **env):
    r = CliRunner().invoke(main, [*args], env={DEMO_TOKEN_ENV: DEMO_TOKEN, **env}, catch_exceptions=False)
    return r


@pytest.mark.slow
def test_demo_live_flow(live_demo):
    path, info = live_demo
    assert info["crm_pulled"] > 100 and info["nav_pulled"] > 100
    w = str(path)
    r = run("sync", "-w", w, "--direction", "push", "--force", "--json")
    modified = json.loads(r.output)["counts"]["modified"]
    assert modified > 0
    r = run("outbox", "-w", w, "--status", "pending", "--json", "--limit", "1000")
    assert len(json.loads(r.output)) == modified
    r = run("push", "-w", w, "--json")
    res = json.loads(r.output)
    assert r.exit_code == 0 and res["delivered"] == modified and res["pending"] == 0
    r = run("pull", "crm", "-w", w, "--json")
    pulled = json.loads(r.output)
    assert pulled["mode"] == "delta" and pulled["updated"] == 0 and pulled["echoes"] == pulled["fetched"]
    # a connection test that fails says why, and keeps nothing
    r = run("connect", "nav", info["nav_url"].replace("contoso/contactsync/v1.0", "v2.0"), "-w", w,
            "--auth", "static_token_env", "--secret-env", DEMO_TOKEN_ENV)
    assert r.exit_code != 0 and "First Name" in r.output
    r = run("connect", "crm", info["crm_url"], "-w", w, "--auth", "static_token_env", "--secret-env", "NOT_SET_X")
    assert r.exit_code != 0 and "NOT_SET_X is not set" in r.output
    assert DEMO_TOKEN not in os.environ.get("CONTACTSYNC_WORKSPACE", "")
