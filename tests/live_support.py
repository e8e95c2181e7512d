"""Helpers of the live-connector tests (test_live_*.py): a test server on the small data and a workspace
connected to it."""

from __future__ import annotations

import pandas as pd
from conftest import ACC_A, ACC_B, CRM_1, CRM_2, account_frame, crm_frame, nav_frame

import contactsync as cs
from contactsync.live.connections import CUSTOM_NAV_FIELDS, StaticTokenCredential
from contactsync.live.testserver import LiveTestServer

TOKEN = "tok-9f2c1d7e-SECRET-5a44b0"


def server(**kw) -> LiveTestServer:
    srv = LiveTestServer(token=TOKEN, **kw).start()
    srv.seed(nav=nav_frame(), crm=crm_frame(), accounts=account_frame())
    return srv


def cred(token: str = TOKEN) -> StaticTokenCredential:
    return StaticTokenCredential(token)


def connected(srv: LiveTestServer, path=":memory:", *, couple: bool = True, **crm_options) -> cs.Workspace:
    """A workspace connected to both services, pulled once, companies coupled; with ``couple`` also
    CT000001 <-> CRM_1 and CT000002 <-> CRM_2 (no sync)."""
    ws = cs.Workspace.open(path)
    ws.import_accounts(account_frame())
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="CS_LIVE_TOKEN",
               **crm_options)
    ws.connect("nav", srv.nav_custom_url, credential=cred(), auth="static_token_env", secret_env="CS_LIVE_TOKEN",
               fields=CUSTOM_NAV_FIELDS)
    ws.pull("crm", credential=cred())
    ws.pull("nav", credential=cred())
    ws.couple_company("C00001", ACC_A)
    ws.couple_company("C00002", ACC_B)
    if couple:
        ws.couple("CT000001", CRM_1, sync_after="push")
        ws.couple("CT000002", CRM_2, sync_after="push")
        ws.deliver(credential=cred())
    return ws


def many_crm(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "contactid": [f"dddddddd-0000-4000-8000-{i:012d}" for i in range(start, start + n)],
        "firstname": [f"First{i}" for i in range(start, start + n)],
        "lastname": [f"Last{i}" for i in range(start, start + n)],
        "emailaddress1": [f"p{i}@example.com" for i in range(start, start + n)],
        "parentcustomerid": ACC_A, "statecode": 0,
    })
