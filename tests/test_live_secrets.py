"""No credential reaches the workspace file, a log or an error message — through a whole live session with
failures (wrong token, throttling, a lost connection, a rejection)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from live_support import TOKEN, connected, cred, server

import contactsync as cs
from contactsync.live.connections import Connection, LiveConnectionError, StaticTokenCredential
from contactsync.live.testserver import Fault


def test_no_secret_in_workspace_logs_or_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)   # every logger, httpx and httpcore included
    srv = server()
    messages = []
    try:
        path = tmp_path / "w.duckdb"
        ws = connected(srv, path)
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Lead"}]))
        ws.sync("push")
        srv.inject(Fault.STATUS, service="crm", status=429, retry_after=0.1, times=1)
        srv.inject(Fault.DROP, service="crm", after=0)
        ws.deliver(credential=cred())
        srv.maxlen["jobtitle"] = 2
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Longer"}]))
        ws.sync("push")
        d = ws.deliver(credential=cred())
        messages += d.outcomes["message"].tolist()
        for bad in ("wrong-" + TOKEN, TOKEN[::-1]):
            with pytest.raises(LiveConnectionError) as e:
                ws.pull("crm", credential=cred(bad))
            messages.append(str(e.value))
        with pytest.raises(LiveConnectionError) as e:
            ws.connect("crm", srv.crm_url, credential=cred(), client_secret=TOKEN)
        messages.append(str(e.value))
        with pytest.raises(LiveConnectionError) as e:
            ws.connect("crm", srv.crm_url, credential=cred(), auth="client_secret_env", tenant_id="t",
                       client_id="c", secret_env=TOKEN)
        messages.append(str(e.value))
        messages += [repr(cred()), repr(Connection(side="crm", url=srv.crm_url))]
        ws.close()
    finally:
        srv.stop()
    blob = path.read_bytes() + (path.with_suffix(".duckdb.wal").read_bytes() if path.with_suffix(
        ".duckdb.wal").exists() else b"")
    for secret in (TOKEN, TOKEN[::-1], "wrong-" + TOKEN):
        assert secret.encode() not in blob
        assert all(secret not in m for m in messages if m)
        assert secret not in caplog.text
    assert "refused the sign-in" in " ".join(messages)
    assert "exceeded the maximum" in " ".join(messages)
    # the workspace knows how to sign in (kind, variable name), never with what
    with cs.Workspace.open(path) as w:
        config = w.sql("SELECT config FROM live_connection ORDER BY side")["config"].tolist()
    assert all("CS_LIVE_TOKEN" in c and TOKEN not in c for c in config)


def test_static_token_comes_from_the_environment(monkeypatch):
    from contactsync.live.connections import credential_for

    conn = Connection(side="crm", url="http://127.0.0.1:1/crm", auth="static_token_env", secret_env="CS_T")
    with pytest.raises(LiveConnectionError, match="CS_T is not set"):
        credential_for(conn)
    monkeypatch.setenv("CS_T", TOKEN)
    c = credential_for(conn)
    assert isinstance(c, StaticTokenCredential) and c.get_token(conn.scope).token == TOKEN
    assert TOKEN not in repr(c) and TOKEN not in conn.to_json()
    with pytest.raises(LiveConnectionError, match="must start with https://"):
        Connection(side="crm", url="http://crm.example.com")
