"""Issue 12, finding 4 (class: one time base, UTC, everywhere): runs and the modified-on a sync stamps are
UTC whatever the machine's zone; with couplings imported from BC (their last-synced times with offsets),
a NAV edit made after the last sync is seen as newer, so a CRM edit of the same field is a conflict, not
a silent overwrite."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from conftest import CRM_1, fill_small

import contactsync as cs


@pytest.fixture
def far_zone():
    """This process in UTC+14 (the zone furthest from UTC), restored afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_runs_and_sync_stamps_are_utc_in_any_zone(far_zone):
    with fill_small(cs.Workspace.open(":memory:")) as ws:
        ws.couple("CT000001", CRM_1)
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Chef",
                                     "SystemModifiedAt": "2030-01-01T00:00:00+00:00"}]))
        res = ws.sync("push", force=True)
        utc_now = datetime.now(timezone.utc).replace(tzinfo=None)
        run = ws.runs().set_index("run_id").loc[res.run_id]
        assert abs(run.started_at.to_pydatetime() - utc_now) < timedelta(minutes=5)
        stamped = ws.crm_contact(CRM_1)["modifiedon"]
        assert abs(pd.Timestamp(stamped).to_pydatetime() - utc_now) < timedelta(minutes=5)


def test_couplings_from_bc_with_offsets_keep_a_newer_nav_edit_newer(far_zone):
    """BC exports 'Last Synch. Modified On' with an offset. A NAV edit an hour after that instant (written in
    UTC) must be seen as newer and sent; read without the offset (10:00 instead of 08:00 UTC) it looked
    older than the last sync, and the edit was never sent."""
    with fill_small(cs.Workspace.open(":memory:")) as ws:
        ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Leitung Einkauf",
                                     "SystemModifiedAt": "2026-05-01T09:00:00Z"}]))          # after the sync
        ws.import_crm(pd.DataFrame([{"contactid": CRM_1, "modifiedon": "2026-05-01T09:00:00+03:00"}]))  # 06:00Z
        ws.import_couplings(pd.DataFrame([{
            "No.": "CT000001", "contactid": CRM_1,
            "Last Synch. Modified On": "2026-05-01T10:00:00+02:00",        # 08:00 UTC
            "Last Synch. CRM Modified On": "2026-05-01T08:00:00+00:00"}]))
        res = ws.sync("push")
        assert res.modified == 1, (res, res.changes)
        assert ws.crm_contact(CRM_1)["jobtitle"] == "Leitung Einkauf"
