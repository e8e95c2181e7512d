"""``Workspace.sync(..., fields=[...])``: a run limited to some mapped fields changes exactly those; the other
fields' differences stay as they were and a later run still synchronizes them (issue 16 item 3: Differences
filtered to one field must not overwrite another)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CRM_1, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs

NAV_TO_CRM = {"Job Title": "jobtitle", "Address": "address1_line1", "City": "address1_city",
              "E-Mail": "emailaddress1", "Phone No.": "telephone1"}
NEW = {"Job Title": "Leiter Einkauf", "Address": "Hauptstr. 1", "City": "Potsdam", "E-Mail": "new@mueller.de",
       "Phone No.": "+49 331 99"}


def _edit(ws, table, key, values, stamp):
    if table == "nav":
        row = ws.nav_contact(key)
        row.update(values, SystemModifiedAt=pd.Timestamp(stamp))
        cols = list(ws.sql("SELECT * FROM nav_contact LIMIT 0").columns)
        ws.import_nav(pd.DataFrame([{c: row.get(c) for c in cols}]))
    else:
        row = ws.crm_contact(key)
        row.update(values, modifiedon=pd.Timestamp(stamp))
        cols = list(ws.sql("SELECT * FROM crm_contact LIMIT 0").columns)
        ws.import_crm(pd.DataFrame([{c: row.get(c) for c in cols}]))


def _prepared(changed, direction, synced_first):
    ws = fill_small(cs.Workspace.open(":memory:"))
    ws.couple("CT000001", CRM_1, sync_after="push" if synced_first else None)
    if direction == "push":
        _edit(ws, "nav", "CT000001", {f: NEW[f] for f in changed}, "2030-01-01 12:00:00")
    else:
        _edit(ws, "crm", CRM_1, {NAV_TO_CRM[f]: NEW[f] for f in changed}, "2030-01-01 12:00:00")
    return ws


def _dest(ws, direction, field):
    return ws.crm_contact(CRM_1)[NAV_TO_CRM[field]] if direction == "push" else ws.nav_contact("CT000001")[field]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changed=st.sets(st.sampled_from(sorted(NEW)), min_size=1),
       chosen=st.sets(st.sampled_from(sorted(NEW)), min_size=1),
       direction=st.sampled_from(["push", "pull"]), synced_first=st.booleans(), by_crm_name=st.booleans())
def test_a_field_limited_run_changes_exactly_those_fields(changed, chosen, direction, synced_first, by_crm_name):
    ws = _prepared(changed, direction, synced_first)
    twin = _prepared(changed, direction, synced_first)  # the same edits, without the limited run
    try:
        before = {f: _dest(ws, direction, f) for f in NEW}
        names = [NAV_TO_CRM[f] if by_crm_name else f for f in chosen]
        plan = ws.sync(direction, nos=["CT000001"], force=True, fields=names, dry_run=True)
        result = ws.sync(direction, nos=["CT000001"], force=True, fields=names)
        assert result.counts() == plan.counts()
        assert result.modified == (1 if changed & chosen else 0)
        for f in NEW:
            assert _dest(ws, direction, f) == (NEW[f] if f in changed & chosen else before[f]), f
        logged = set(ws.changes(result.run_id)["field"])
        allowed = set(chosen) | {NAV_TO_CRM[f] for f in chosen}
        assert not (logged & (set(NEW) | set(NAV_TO_CRM.values()))) - allowed
        assert set(ws.differences(nos=["CT000001"])["nav_field"]) >= (changed - chosen)
        # the fields it left out fare in the next ordinary (incremental) run as if it had not run
        ws.sync(direction)
        twin.sync(direction)
        for f in set(NEW) - chosen:
            assert _dest(ws, direction, f) == _dest(twin, direction, f), f
        # and a forced run of everything brings every field over
        ws.sync(direction, force=True)
        for f in NEW:
            assert _dest(ws, direction, f) == (NEW[f] if f in changed else before[f]), f
    finally:
        ws.close()
        twin.close()


def test_fields_must_be_mapped_and_not_empty(synced):
    before = len(synced.runs())
    with pytest.raises(cs.ContactSyncError, match="Fax"):
        synced.sync("push", nos=["CT000001"], force=True, fields=["Faxx"])
    with pytest.raises(cs.ContactSyncError, match="fields is empty"):
        synced.sync("push", nos=["CT000001"], force=True, fields=[])
    assert len(synced.runs()) == before
