"""Issue 15 items 4 and 5: Skipped like BC, retry like Census; one errors list across runs.

BC's source (microsoft/BCApps, src/Layers/W1/BaseApp/Integration/): table ``CRM Integration Record``,
SetLastSynchResultFailed: when the last result was a Failure, ``Skipped := IsSameFailureRepeatedTwice(...)``,
which compares the error message of the last job with this job's (equal and not empty); page
``CRM Skipped Records`` (caption "Coupled Data Synchronization Errors"): Retry / Retry All set Skipped to false,
Synchronize, Set Up Coupling, Delete Couplings, Find for Deleted, Restore Records.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CRM_1, CRM_2, couple_two, fill_small

import contactsync as cs

BAD_MAIL = {"No.": "CT000002", "Type": "Person", "E-Mail": "not-an-email", "SystemModifiedAt": "2026-06-01 10:00:00"}


@pytest.fixture
def w():
    ws = couple_two(fill_small(cs.Workspace.open(":memory:")))
    ws.import_nav(pd.DataFrame([BAD_MAIL]))
    yield ws
    ws.close()


def test_same_failure_twice_is_skipped_until_retried(w):
    first, second = w.sync("push"), w.sync("push")
    assert (first.failed, second.failed) == (1, 1)
    e = w.sync_errors().set_index("nav_no").loc["CT000002"]
    assert (e.state, e.reason, bool(e.excluded), e.fail_streak) == ("skipped", "excluded", True, 2)
    third = w.sync("push")
    assert (third.failed, third.skipped) == (0, 1)
    skip = third.skips.set_index("nav_no").loc["CT000002"]
    assert skip.reason == "excluded" and "failed 2 runs in a row" in skip.message and "not-an-email" in skip.message
    retried = w.retry(["CT000002"])
    assert "1 skipped record" in retried.message
    assert w.runs().set_index("run_id").loc[retried.run_id, "kind"] == "retry"
    again = w.sync("push")
    assert again.failed == 1, "a retried record is planned again"


def test_different_errors_in_consecutive_runs_are_not_skipped(w):
    w.sync("push")
    w.import_nav(pd.DataFrame([BAD_MAIL | {"E-Mail": "also bad", "SystemModifiedAt": "2026-06-02 10:00:00"}]))
    w.sync("push")
    e = w.sync_errors().set_index("nav_no").loc["CT000002"]
    assert (e.state, bool(e.excluded), e.fail_streak) == ("failed", False, 1)


def test_a_success_clears_the_errors_list_row(w):
    w.sync("push")
    w.import_nav(pd.DataFrame([BAD_MAIL | {"E-Mail": "ok@obrien.ie", "SystemModifiedAt": "2026-06-02 10:00:00"}]))
    r = w.sync("push")
    assert r.modified == 1 and w.sync_errors().empty


@pytest.mark.parametrize(("threshold", "runs_until_skipped"), [("1", 1), ("3", 3), ("0", None)])
def test_threshold_setting(w, threshold, runs_until_skipped):
    w.settings["skip_after_failures"] = threshold
    for i in range(1, 5):
        w.sync("push")
        excluded = bool(w.sync_errors().set_index("nav_no").loc["CT000002", "excluded"])
        assert excluded == (runs_until_skipped is not None and i >= runs_until_skipped), (threshold, i)
    with pytest.raises(cs.ContactSyncError, match="skip_after_failures must be a number from 0"):
        w.settings["skip_after_failures"] = "two"


def test_retry_all_and_undo(w):
    w.sync("push")
    w.sync("push")
    before = w.sql("SELECT * FROM coupling ORDER BY nav_no")
    res = w.retry()
    assert not w.sync_errors()["excluded"].any()
    w.undo(res.run_id)
    pd.testing.assert_frame_equal(w.sql("SELECT * FROM coupling ORDER BY nav_no"), before)
    with pytest.raises(cs.NotFoundError, match="not coupled: CT000003"):
        w.retry(["CT000003"])


def test_synchronize_now_takes_a_skipped_record_along(w):
    w.sync("push")
    w.sync("push")
    r = w.sync("push", nos=["CT000002"], force=True)
    assert r.failed == 1 and r.skipped == 0, "Synchronize Now on a Skipped record synchronizes it"
    note = w.runs().set_index("run_id").loc[r.run_id, "note"]
    assert note == "Synchronize Now: CT000002 (Siobhán O'Brien)"


def test_errors_list_names_both_sides_and_the_run(w):
    w.import_crm(pd.DataFrame([{"contactid": CRM_1, "statecode": 1, "modifiedon": "2026-06-01 10:00:00"}]))
    r = w.sync("push")
    e = w.sync_errors().set_index("nav_no")
    assert set(e.index) == {"CT000001", "CT000002"}
    row = e.loc["CT000002"]
    assert (row.crm_id, row.nav_name, row.crm_name, row.state, row.reason, row.run_id) == (
        CRM_2, "Siobhán O'Brien", "Siobhán O'Brien", "failed", "error", r.run_id)
    assert "not a valid e-mail address" in row.message and pd.notna(row.at)
    # the filter skip is stored (run_skip) and listed with its reason
    f = e.loc["CT000001"]
    assert (f.state, f.reason) == ("skipped", "filter") and "inactive" in f.message
    assert w.sync_errors(state="failed").nav_no.tolist() == ["CT000002"]
    stored = w.sql("SELECT reason, message FROM run_skip WHERE run_id = ?", [r.run_id])
    assert stored.reason.tolist() == ["filter"] and "inactive" in stored.message[0]


def test_run_issues_explain_a_failed_run(w):
    r = w.sync("push")
    issues = w.run_issues(r.run_id)
    assert issues[["state", "nav_no", "nav_name", "crm_id"]].values.tolist() == [
        ["failed", "CT000002", "Siobhán O'Brien", CRM_2]]
    assert "not-an-email" in issues.message[0]


def test_errors_list_actions_delete_and_set_up_coupling(w):
    w.sync("push")
    w.uncouple("CT000002")  # Delete coupling: the row goes with it
    assert w.sync_errors().empty
    w.couple("CT000002", CRM_2)  # Set Up Coupling: a new coupling starts clean
    assert w.sync_errors().empty
    with pytest.raises(cs.ContactSyncError, match="state must be"):
        w.sync_errors(state="broken")


def test_cli_errors_retry_deleted_strategies(tmp_path):
    """What a steward types: set the strategies, sync with a per-run override, list errors, retry, find deleted."""
    import json

    from click.testing import CliRunner

    from contactsync.cli import main

    path = tmp_path / "w.duckdb"
    with couple_two(fill_small(cs.Workspace.open(path))) as ws:
        ws.import_nav(pd.DataFrame([BAD_MAIL]))
    r = CliRunner()

    def run(*args, code=0):
        res = r.invoke(main, [*args, "-w", str(path)])
        assert res.exit_code == code, (res.stdout, res.stderr)
        return res.stdout

    out = json.loads(run("strategies", "--update-conflict", "send", "--field", "E-Mail=get", "--json"))
    assert out == {"update_conflict": "send", "deletion_conflict": "none", "fields": {"E-Mail": "get"}}
    assert "Invalid value for '--conflicts'" in r.invoke(main, ["sync", "-w", str(path), "--conflicts", "nav"]).stderr
    run("sync", "-d", "push", "--conflicts", "none")
    run("sync", "-d", "push")
    listed = json.loads(run("errors", "--json"))["errors"]
    assert [(e["nav_no"], e["state"], e["reason"]) for e in listed] == [("CT000002", "skipped", "excluded")]
    assert "1 skipped record(s) will be synchronized" in run("errors", "--retry", "CT000002")
    assert "not both" in r.invoke(main, ["errors", "-w", str(path), "--retry", "X", "--retry-all"]).stderr
    assert "(none)" in run("deleted")


def test_a_record_left_out_of_create_missing_is_kept_with_the_run(w):
    """Synchronize Now with create_missing on a person without a company: Skipped with why, and stored."""
    r = w.sync("push", nos=["CT000003"], create_missing=True)
    assert r.skipped == 1
    issues = w.run_issues(r.run_id)
    assert issues[["state", "nav_no", "reason"]].values.tolist() == [["skipped", "CT000003", "filter"]]
    assert "has no company" in issues.message[0]
