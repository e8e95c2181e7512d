"""Live pull against the local test server, through real sockets: paging, delta links, deletions, watermark,
echo suppression, the connection test saying what is wrong, retries of 429s."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, CRM_3
from hypothesis import given, settings
from hypothesis import strategies as st
from live_support import connected, cred, many_crm, server

import contactsync as cs
from contactsync.live.connections import LiveConnectionError
from contactsync.live.testserver import Fault


@pytest.fixture
def srv():
    s = server()
    yield s
    s.stop()


def test_paging_follows_next_links_and_imports_everything(srv):
    srv.load_crm(many_crm(2_345).to_dict("records"))
    ws = cs.Workspace.open(":memory:")
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T", page_size=1000)
    pages = []
    r = ws.pull("crm", credential=cred(), progress=lambda n, p: pages.append((n, p)))
    assert r.pages == 3 and r.fetched == 2_348 and r.imported.inserted == 2_348
    assert [p for _, p in pages] == [1, 2, 3] and pages[-1][0] == 2_348
    assert ws.sql("SELECT count(*) n FROM crm_contact")["n"][0] == 2_348
    # every row's ETag is kept
    assert ws.sql("SELECT count(*) n FROM live_record WHERE side = 'crm' AND etag LIKE 'W/%'")["n"][0] == 2_348
    assert r.mode == "full" and ws.sql("SELECT delta_link FROM live_connection")["delta_link"][0]


def test_delta_link_brings_changes_new_rows_and_deletions(srv):
    ws = connected(srv)
    srv.edit("crm", CRM_1, jobtitle="Head of Purchasing")
    srv.load_crm(many_crm(1).to_dict("records"))
    srv.remove("crm", CRM_2)      # coupled to CT000002
    srv.remove("crm", CRM_3)      # not coupled
    r = ws.pull("crm", credential=cred())
    assert r.mode == "delta"
    assert (r.imported.updated, r.imported.inserted) == (1, 1)
    assert set(r.deleted) == {CRM_2, CRM_3}
    assert ws.crm_contact(CRM_1)["jobtitle"] == "Head of Purchasing"
    flagged = ws.sql("SELECT crm_id FROM coupling WHERE entity = 'contact' AND crm_missing")["crm_id"].tolist()
    assert flagged == [CRM_2]     # a coupled record deleted remotely is flagged, never silently uncoupled
    # the pull is one run, undoable like an import
    assert ws.runs()["note"].iloc[-1].startswith("pull crm (delta)")
    again = ws.pull("crm", credential=cred())
    assert again.fetched == 0 and again.deleted == ()


def test_expired_delta_token_reads_everything_again(srv):
    ws = connected(srv)
    srv.inject(Fault.EXPIRE_DELTA)
    srv.edit("crm", CRM_1, jobtitle="Changed")
    r = ws.pull("crm", credential=cred())
    assert r.mode == "full" and "expired" in r.note
    assert ws.crm_contact(CRM_1)["jobtitle"] == "Changed"
    assert r.echoes == 2          # the two others came back unchanged (same ETag): not imported again


def test_watermark_pull_of_business_central_reads_only_recent_rows(srv):
    ws = connected(srv)
    row = srv.find_nav("CT000001")
    srv.edit("nav", row["id"], jobTitle="Buyer")
    r = ws.pull("nav", credential=cred())
    assert r.mode == "watermark"
    assert r.imported.updated == 1 and ws.nav_contact("CT000001")["Job Title"] == "Buyer"
    # the filter asked only for rows after the watermark minus the margin
    last_get = [p for s, m, p in srv.requests if s == "bc" and m == "GET"][-1]
    assert "contacts" in last_get


def test_key_scan_finds_business_central_deletions(srv):
    ws = connected(srv)
    srv.remove("nav", srv.find_nav("CT000002")["id"])
    assert ws.pull("nav", credential=cred()).deleted == ()      # a watermark read cannot see deletions
    r = ws.pull("nav", credential=cred(), full=True)
    assert r.deleted == ("CT000002",)
    assert ws.sql("SELECT nav_missing FROM coupling WHERE nav_no = 'CT000002'")["nav_missing"][0]


def test_own_writes_are_not_read_back_as_changes(srv):
    ws = connected(srv)
    ws.import_nav(pd.DataFrame([{"No.": "CT000001", "Type": "Person", "Job Title": "Purchasing lead"}]))
    ws.sync("push")
    d = ws.deliver(credential=cred())
    assert d.delivered >= 1 and d.changed_remotely == d.rejected == 0
    runs_before = len(ws.runs())
    r = ws.pull("crm", credential=cred())
    assert r.fetched >= 1 and r.echoes == r.fetched
    assert r.imported.updated == 0 and r.imported.inserted == 0
    assert len(ws.runs()) == runs_before + 1 and ws.outbox(status="pending").empty


def test_throttled_pages_are_retried_after_retry_after(srv):
    ws = connected(srv)
    srv.edit("crm", CRM_1, jobtitle="X")
    srv.inject(Fault.STATUS, service="crm", status=429, retry_after=0.2, times=2, method="GET")
    r = ws.pull("crm", credential=cred())
    assert r.imported.updated == 1 and r.requests == 3


def test_slow_pages_report_progress(srv):
    srv.load_crm(many_crm(30).to_dict("records"))
    ws = cs.Workspace.open(":memory:")
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T", page_size=10)
    srv.inject(Fault.SLOW, service="crm", seconds=0.1, times=-1)
    seen = []
    ws.pull("crm", credential=cred(), progress=lambda n, p: seen.append(n))
    assert seen == [10, 20, 30, 33]


def test_pull_that_keeps_failing_changes_nothing(srv):
    ws = connected(srv)
    srv.edit("crm", CRM_1, jobtitle="X")
    before = ws.sql("SELECT delta_link FROM live_connection WHERE side = 'crm'")["delta_link"][0]
    n_runs = len(ws.runs())
    srv.inject(Fault.STATUS, service="crm", status=503, times=-1)
    with pytest.raises(LiveConnectionError, match="kept failing"):
        ws.pull("crm", credential=cred())
    assert len(ws.runs()) == n_runs
    assert ws.sql("SELECT delta_link FROM live_connection WHERE side = 'crm'")["delta_link"][0] == before
    srv.clear_faults()
    assert ws.pull("crm", credential=cred()).imported.updated == 1


# -- the connection test says what is wrong -------------------------------------------------------------
def test_connection_test_names_the_problem(srv):
    ws = cs.Workspace.open(":memory:")
    with pytest.raises(LiveConnectionError, match="refused the sign-in"):
        ws.connect("crm", srv.crm_url, credential=cred("wrong"), auth="static_token_env", secret_env="T")
    assert ws.sql("SELECT count(*) n FROM live_connection")["n"][0] == 0    # a failed test keeps nothing
    with pytest.raises(LiveConnectionError, match="no such resource"):
        ws.connect("nav", srv.nav_url.replace(srv.company_id, "00000000-0000-0000-0000-000000000000"),
                   credential=cred(), auth="static_token_env", secret_env="T",
                   fields={k: v for k, v in __import__("contactsync.live.connections", fromlist=["x"])
                           .CUSTOM_NAV_FIELDS.items()})
    srv.inject(Fault.STATUS, service="crm", status=403, times=1)
    with pytest.raises(LiveConnectionError, match="denied permission .*prvReadContact"):
        ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T")
    srv.inject(Fault.MISSING_FIELD, service="crm", field="jobtitle")
    with pytest.raises(LiveConnectionError, match="lacks a field .*jobtitle"):
        ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T")
    with pytest.raises(LiveConnectionError, match="did not answer"):
        ws.connect("crm", "http://127.0.0.1:9/crm", credential=cred(), auth="static_token_env", secret_env="T")


def test_api_v2_contact_lacks_the_name_fields(srv):
    ws = cs.Workspace.open(":memory:")
    with pytest.raises(LiveConnectionError, match=r"'First Name'.*no field on the endpoint .*api/v2\.0"):
        ws.connect("nav", srv.nav_url, credential=cred(), auth="static_token_env", secret_env="T")
    # a custom API page that has them is fine, and so is a field the page names differently
    ws.connect("nav", srv.nav_custom_url, credential=cred(), auth="static_token_env", secret_env="T",
               fields={**__import__("contactsync.live.connections", fromlist=["x"]).CUSTOM_NAV_FIELDS})
    srv.inject(Fault.MISSING_FIELD, service="nav", field="faxNo")
    with pytest.raises(LiveConnectionError, match="faxNo"):
        ws.test_connection("nav", credential=cred())


def test_pull_uses_the_import_checks(srv):
    srv.load_crm([{"contactid": "dddddddd-0000-4000-8000-00000000abcd", "firstname": "A", "statecode": "bogus"}])
    ws = cs.Workspace.open(":memory:")
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T")
    r = ws.pull("crm", credential=cred())
    # the bad row is rejected by the import path's checks, as from a file; the others come in
    assert (r.imported.inserted, r.imported.rejected) == (3, 1)
    assert r.imported.rejections["column"].tolist() == ["statecode"]


# -- the page reader: Arrow's JSON reader and json.loads give the same rows ----------------------------
_TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", " ", '"', "\\", "\n", "é", "😀", "@odata.nextLink"]))


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({"firstname": _TEXT, "lastname": _TEXT, "jobtitle": _TEXT,
                                            "statecode": st.integers(0, 1)}), max_size=8),
       gone=st.lists(st.uuids(), max_size=2), link=st.sampled_from([None, "http://127.0.0.1/next?$skiptoken=x%27"]))
def test_property_arrow_page_reader_equals_json(rows, gone, link):
    from contactsync.live.connections import Connection
    from contactsync.live.remote import Pulled, _PageParser, make_remote

    value = [{"@odata.etag": f'W/"{i}"', "contactid": f"DDDDDDDD-0000-4000-8000-{i:012d}", **r}
             for i, r in enumerate(rows)]
    value += [{"@odata.context": "x/$metadata#contacts/$deletedEntity", "id": str(g).upper(), "reason": "deleted"}
              for g in gone]
    page = {"@odata.context": "x/$metadata#contacts", "value": value, **({"@odata.nextLink": link} if link else {})}
    content = json.dumps(page).encode()
    remote = make_remote(Connection(side="crm", url="http://127.0.0.1:1/crm"), cred())
    try:
        parser = _PageParser(remote)
        fast, slow = Pulled(), Pulled()
        assert parser._arrow(content, fast) == {"@odata.nextLink": link, "@odata.deltaLink": None}
        slow.rows = [remote.row_of(r) for r in value if "@odata.context" not in r]
        slow.deleted = [str(g).lower() for g in gone]
        cols = list(remote.columns())
        assert fast.table(cols).to_pylist() == slow.table(cols).to_pylist()
        assert fast.deleted == slow.deleted
    finally:
        remote.close()


# -- client-side pacing: the services' requests per window are honoured ----------------------------------
def _most_in_window(times: list[float], window: float) -> int:
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def test_pacing_keeps_requests_within_the_connections_window(srv):
    srv.load_crm(many_crm(9).to_dict("records"))                  # 12 rows: 12 pages of one row
    ws = cs.Workspace.open(":memory:")
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T", page_size=1,
               rate_limit=4, rate_window_seconds=1)
    first = len(srv.request_times)
    r = ws.pull("crm", credential=cred())
    times = srv.request_times[first:]
    assert r.fetched == 12 and len(times) == r.requests == 12
    # at most 4 requests arrived in any window (a little shorter than a second: arrival jitter), so the pull
    # took 3 windows
    assert _most_in_window(times, 0.95) <= 4 and times[-1] - times[0] >= 1.9
    # batches count as the operations they hold when the connection says so
    with ws.transaction() as con:
        from contactsync import history

        run = history.start_run(con, "sync")
        con.execute("INSERT INTO change_log SELECT ?, 'crm', contactid, 'jobtitle', jobtitle, 'Buyer', 'update' "
                    "FROM crm_contact WHERE firstname LIKE 'First%'", [run])
        con.execute("UPDATE crm_contact SET jobtitle = 'Buyer' WHERE firstname LIKE 'First%'")
        history.finish_run(con, run)
    ws.connect("crm", srv.crm_url, credential=cred(), auth="static_token_env", secret_env="T", test=False,
               batch_size=3, rate_limit=3, rate_window_seconds=1, rate_counts_operations=True)
    first = len(srv.request_times)
    d = ws.deliver(credential=cred())
    times = srv.request_times[first:]
    assert d.delivered == 9 and len(times) == 3 and times[-1] - times[0] >= 1.9   # 3 operations per window


def test_pacing_is_a_setting_with_a_clear_error():
    from contactsync.live.connections import Connection

    assert Connection(side="crm", url="https://org.crm4.dynamics.com").rate_limit == 6000
    assert Connection(side="crm", url="https://org.crm4.dynamics.com", rate_limit=None).rate_limit is None
    with pytest.raises(LiveConnectionError, match="rate_limit .* at least 1"):
        Connection(side="nav", url="https://api.businesscentral.dynamics.com/v2.0/x", rate_limit=0)
