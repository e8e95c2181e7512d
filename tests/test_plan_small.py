"""A small plan is built without DuckDB's filter pushdown (``contactsync.sync.SMALL_PLAN``): the same plan as
with it, and the setting never outlives the statement (a held connection runs other SQL after the plan)."""

from __future__ import annotations

from unittest import mock

import pandas as pd
from conftest import CRM_1, CRM_2, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_delta_pass import outcome

import contactsync as cs
from contactsync import sync

VALUES = st.sampled_from(["", "Müller", "x@example.com", "Berlin", "not an e-mail", "Zoë", "A" * 60])
EDITS = st.lists(st.tuples(st.sampled_from(["nav", "crm"]), st.integers(0, 1),
                           st.sampled_from(["city", "email", "title"]), VALUES), max_size=5)
NAV_COL = {"city": "City", "email": "E-Mail", "title": "Job Title"}
CRM_COL = {"city": "address1_city", "email": "emailaddress1", "title": "jobtitle"}
PAIRS = [("CT000001", CRM_1), ("CT000002", CRM_2)]


def _setting(ws) -> str:
    return ws.sql("SELECT current_setting('disabled_optimizers') AS s")["s"][0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=EDITS, direction=st.sampled_from(["push", "pull", "both"]))
def test_a_small_plan_is_the_plan_with_filter_pushdown(edits, direction):
    with fill_small(cs.Workspace.open(":memory:")) as ws:
        for no, crm_id in PAIRS:
            ws.couple(no, crm_id)
        ws.sync("push")
        for side, i, field, value in edits:
            no, crm_id = PAIRS[i]
            if side == "nav":
                ws.import_nav(pd.DataFrame([{"No.": no, "Type": "Person", NAV_COL[field]: value}]))
            else:
                ws.import_crm(pd.DataFrame([{"contactid": crm_id, CRM_COL[field]: value}]))
        small = outcome(ws.sync(direction, dry_run=True))
        with mock.patch.object(sync, "SMALL_PLAN", -1):  # no plan is small: the pushdown stays on
            assert outcome(ws.sync(direction, dry_run=True)) == small


def test_the_setting_does_not_outlive_the_plan(tmp_path):
    with fill_small(cs.Workspace.open(tmp_path / "w.duckdb")) as ws, ws.hold():
        ws.couple("CT000001", CRM_1, sync_after="push")
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "City": "Köln"}]))
        with cs.trace() as t:
            r = ws.sync("push")
        assert r.modified == 1
        assert any("disabled_optimizers" in s.sql for s in t.statements)  # the small plan took the setting
        assert _setting(ws) == ""  # ... and gave it back on the same (held) connection
