"""The ``contactsync`` CLI through click's CliRunner: every command, its output, its errors and exit
codes, and what it leaves in the DuckDB file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import fill_small, query, scalar

import contactsync as cs
from contactsync.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.delenv("CONTACTSYNC_WORKSPACE", raising=False)
    return CliRunner()


def run(runner, *args, code=0, env=None):
    res = runner.invoke(main, [str(a) for a in args], env=env)
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr, res.exception)
    assert "Traceback" not in res.stdout + res.stderr
    return res


def run_json(runner, *args, code=0):
    return json.loads(run(runner, *args, "--json", code=code).stdout)


def one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("contactsync: error: ")
    return lines[0]


def n_runs(path) -> int:
    return scalar(path, "SELECT count(*) FROM run")


def crm_value(path, crm_id, col):
    return scalar(path, f'SELECT "{col}" FROM crm_contact WHERE contactid = ?', [crm_id])


def nav_value(path, no, col):
    return scalar(path, f'SELECT "{col}" FROM nav_contact WHERE "No." = ?', [no])


def partner(path, no):
    rows = query(path, "SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no = ?", [no])
    return rows[0][0] if rows else None


# -- the group --------------------------------------------------------------------------------
COMMANDS = ["init", "import", "couple", "uncouple", "sync", "diff", "runs", "undo", "export", "report", "demo",
            "backup", "restore", "match", "reindex", "app", "mapping", "full-sync",
            "connect", "pull", "push", "outbox", "errors", "deleted", "strategies"]


def test_help_lists_every_command_and_exit_codes(runner):
    res = run(runner, "--help")
    for c in COMMANDS:
        assert re.search(rf"^\s+{c}\s", res.stdout, re.M), c
    assert "Exit codes" in res.stdout and "CONTACTSYNC_WORKSPACE" in res.stdout
    assert set(COMMANDS) == set(main.commands)


def test_version(runner):
    assert cs.__version__ in run(runner, "--version").stdout


def test_unknown_command_is_usage_error(runner):
    res = run(runner, "frobnicate", code=2)
    assert "No such command" in res.stderr


# -- init / demo ------------------------------------------------------------------------------
def test_init_creates_workspace(runner, tmp_path):
    path = tmp_path / "new.duckdb"
    data = run_json(runner, "init", "-w", path, "--set", "crm_base_url=https://org.crm4.dynamics.com")
    assert data["created"] is True and path.is_file()
    assert scalar(path, "SELECT count(*) FROM nav_contact") == 0
    assert scalar(path, "SELECT value FROM meta WHERE key = 'setting:crm_base_url'") == "https://org.crm4.dynamics.com"
    again = run(runner, "init", "-w", path)
    assert "already exists" in again.stdout


def test_init_workspace_from_env_var(runner, tmp_path):
    path = tmp_path / "env.duckdb"
    run(runner, "init", env={"CONTACTSYNC_WORKSPACE": str(path)})
    assert path.is_file()


def test_init_bad_setting_creates_nothing(runner, tmp_path):
    path = tmp_path / "new.duckdb"
    res = run(runner, "init", "-w", path, "--set", "crm_base_url=ftp://x", code=2)
    assert "http(s) URL" in one_error_line(res)
    assert not path.exists()
    res = run(runner, "init", "-w", path, "--set", "nonsense", code=2)
    assert "KEY=VALUE" in res.stderr


def test_init_on_a_folder_or_a_foreign_file(runner, tmp_path):
    res = run(runner, "init", "-w", tmp_path / "nofolder" / "w.duckdb", code=2)
    assert "does not exist" in one_error_line(res)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INT)")
    con.close()
    res = run(runner, "init", "-w", other, code=2)
    assert "not a contactsync workspace" in one_error_line(res)


def test_demo_builds_the_sample_workspace(runner, tmp_path):
    path = tmp_path / "demo.duckdb"
    data = run_json(runner, "demo", "-w", path)
    assert data["created"] is True
    assert data["nav_contacts"] == scalar(path, "SELECT count(*) FROM nav_contact") == 280
    assert data["crm_contacts"] == scalar(path, "SELECT count(*) FROM crm_contact")
    assert data["coupled_contacts"] == scalar(path, "SELECT count(*) FROM coupling WHERE entity = 'contact'") > 0
    again = run_json(runner, "demo", "-w", path)
    assert again["created"] is False and again["nav_contacts"] == 280


# -- a missing or busy workspace --------------------------------------------------------------
@pytest.mark.parametrize("args", [["sync"], ["diff"], ["runs"], ["undo", "1"], ["export", "crm", "x.csv"],
                                  ["couple", "CT000001", "abc"], ["uncouple", "CT000001"], ["backup", "b.duckdb"],
                                  ["import", "nav", str(DATA / "nav_contacts.csv")], ["match", "suggest"],
                                  ["report", "--dry-run"]])
def test_missing_workspace_is_an_error_not_a_new_file(runner, tmp_path, args):
    path = tmp_path / "none.duckdb"
    res = run(runner, *args, "-w", path, code=2)
    assert "does not exist" in one_error_line(res) and "contactsync init" in res.stderr
    assert not path.exists()


def test_busy_workspace_exits_3(runner, wpath):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(60)", str(wpath)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        res = run(runner, "--busy-timeout", "0.3", "sync", "-w", wpath, code=3)
        assert "busy" in one_error_line(res)
        assert time.monotonic() - t0 < 10
    finally:
        holder.kill()
        holder.wait()
    run(runner, "sync", "-w", wpath, "--dry-run")  # free again


def test_internal_error_is_one_line_exit_4(runner, wpath, monkeypatch):
    def boom(self):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cs.Workspace, "runs", boom)
    res = run(runner, "runs", "-w", wpath, code=4)
    assert "internal error: RuntimeError: kaboom" in one_error_line(res)
    res = runner.invoke(main, ["--debug", "runs", "-w", str(wpath)])
    assert isinstance(res.exception, RuntimeError)


# -- import -----------------------------------------------------------------------------------
def test_import_updates_the_workspace(runner, wpath, tmp_path):
    nav = pd.read_csv(DATA / "nav_contacts.csv", dtype=str, keep_default_na=False)
    nav.loc[nav["No."] == "CT000002", "Job Title"] = "Chief Tester"
    f = tmp_path / "nav.csv"
    nav.to_csv(f, index=False)
    data = run_json(runner, "import", "nav", f, "-w", wpath)
    (imp,) = data["imports"]
    assert (imp["inserted"], imp["updated"], imp["rejected"]) == (0, 1, 0)
    assert nav_value(wpath, "CT000002", "Job Title") == "Chief Tester"
    text = run(runner, "import", "nav", f, "-w", wpath).stdout
    assert "0 inserted, 0 updated, 280 unchanged, 0 rejected" in text


def test_import_several_files_and_accounts(runner, wpath):
    data = run_json(runner, "import", "accounts", DATA / "crm_accounts.csv", DATA / "crm_accounts.csv", "-w", wpath)
    n = scalar(wpath, "SELECT count(*) FROM crm_account")
    assert [i["unchanged"] for i in data["imports"]] == [n, n]


def test_import_on_error_skip_reports_rejections(runner, wpath, tmp_path):
    f = tmp_path / "crm.csv"
    f.write_text("contactid,firstname,lastname,parentcustomerid\n"
                 "dddddddd-0000-0000-0000-000000000001,Ann,Bee,\n"
                 ",No,Key,\n")
    res = run(runner, "import", "crm", f, "--on-error", "skip", "-w", wpath)
    assert "1 inserted" in res.stdout and "1 rejected" in res.stdout
    assert scalar(wpath, "SELECT count(*) FROM crm_contact WHERE contactid = ?",
                  ["dddddddd-0000-0000-0000-000000000001"]) == 1
    before = scalar(wpath, "SELECT count(*) FROM crm_contact")
    res = run(runner, "import", "crm", f, "-w", wpath, code=2)
    one_error_line(res)
    assert scalar(wpath, "SELECT count(*) FROM crm_contact") == before


def test_import_bad_files(runner, wpath, tmp_path):
    res = run(runner, "import", "nav", tmp_path / "nope.csv", "-w", wpath, code=2)
    assert "does not exist" in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    res = run(runner, "import", "nav", bad, "-w", wpath, code=2)
    assert "lacks required column" in one_error_line(res)
    res = run(runner, "import", "leads", bad, "-w", wpath, code=2)
    assert "Invalid value" in res.stderr


def test_import_couplings(runner, wpath, tmp_path):
    no = "CT000002"
    crm_id = partner(wpath, no)
    run(runner, "uncouple", no, "-w", wpath)
    assert partner(wpath, no) is None
    f = tmp_path / "pairs.csv"
    pd.DataFrame({"No.": [no], "contactid": [crm_id]}).to_csv(f, index=False)
    data = run_json(runner, "import", "couplings", f, "-w", wpath)
    assert data["imports"][0]["inserted"] == 1
    assert partner(wpath, no) == crm_id


# -- couple / uncouple ------------------------------------------------------------------------
def test_couple_and_uncouple_one_pair(runner, wpath):
    no = "CT000002"
    crm_id = partner(wpath, no)
    res = run_json(runner, "uncouple", no, "-w", wpath)
    assert res["nav_no"] == no and res["crm_id"] == crm_id and partner(wpath, no) is None
    res = run_json(runner, "couple", no, crm_id, "-w", wpath)
    assert partner(wpath, no) == crm_id
    assert scalar(wpath, "SELECT kind FROM run WHERE run_id = ?", [res["run_id"]]) == "couple"
    res = run(runner, "uncouple", "--crm-id", crm_id, "-w", wpath)
    assert "deleted" in res.stdout and partner(wpath, no) is None


def test_couple_with_sync_after_and_replace(runner, wpath):
    no = "CT000002"
    crm_id = partner(wpath, no)
    run(runner, "uncouple", no, "-w", wpath)
    res = run(runner, "couple", no, crm_id, "--sync-after", "push", "-w", wpath)
    assert "Synchronization completed" in res.stdout
    res = run(runner, "couple", "CT000003", crm_id, "-w", wpath, code=2)
    one_error_line(res)
    run(runner, "couple", "CT000003", crm_id, "--replace", "-w", wpath)
    assert partner(wpath, "CT000003") == crm_id and partner(wpath, no) is None


def test_couple_file_of_pairs(runner, wpath, tmp_path):
    pairs = query(wpath, "SELECT nav_no, crm_id FROM coupling WHERE entity = 'contact' ORDER BY nav_no LIMIT 3")
    for no, _ in pairs:
        run(runner, "uncouple", no, "-w", wpath)
    f = tmp_path / "pairs.csv"
    pd.DataFrame(pairs, columns=["No.", "contactid"]).to_csv(f, index=False)
    data = run_json(runner, "couple", "--file", f, "-w", wpath)
    assert data["inserted"] == 3
    assert all(partner(wpath, no) == crm for no, crm in pairs)


def test_couple_file_is_all_or_nothing(runner, wpath, tmp_path):
    (no, crm), = query(wpath, "SELECT nav_no, crm_id FROM coupling WHERE entity = 'contact' ORDER BY nav_no LIMIT 1")
    run(runner, "uncouple", no, "-w", wpath)
    f = tmp_path / "pairs.csv"
    pd.DataFrame({"No.": [no, "CT999999"], "contactid": [crm, "dddddddd-0000-0000-0000-000000000009"]}).to_csv(
        f, index=False)
    res = run(runner, "couple", "--file", f, "-w", wpath, code=2)
    one_error_line(res)
    assert partner(wpath, no) is None


def test_couple_company(runner, wpath):
    no, acc = query(wpath, "SELECT nav_no, crm_id FROM coupling WHERE entity = 'company' ORDER BY 1 LIMIT 1")[0]
    run(runner, "uncouple", no, "--company", "-w", wpath)
    assert scalar(wpath, "SELECT count(*) FROM coupling WHERE entity = 'company' AND nav_no = ?", [no]) == 0
    res = run(runner, "couple", no, acc, "--company", "-w", wpath)
    assert "is coupled to account" in res.stdout
    assert scalar(wpath, "SELECT crm_id FROM coupling WHERE entity = 'company' AND nav_no = ?", [no]) == acc


def test_couple_create_new(runner, wpath):
    no = scalar(wpath, """SELECT n."No." FROM nav_contact n JOIN coupling cc ON cc.entity = 'company'
                          AND cc.nav_no = n."Company No." WHERE n."Type" = 'Person' AND n."No." NOT IN
                          (SELECT nav_no FROM coupling WHERE entity = 'contact') ORDER BY 1 LIMIT 1""")
    data = run_json(runner, "couple", no, "--create-new", "-w", wpath)
    assert partner(wpath, no) == data["crm_id"]
    assert crm_value(wpath, data["crm_id"], "lastname") == nav_value(wpath, no, "Surname")


@pytest.mark.parametrize("args, text", [
    (["couple"], "give NO and CRM_ID"),
    (["couple", "CT000002"], "CRM contact id"),
    (["couple", "CT000002", "x", "--file", "f.csv"], "not both"),
    (["couple", "--file", "nope.csv"], "does not exist"),
    (["uncouple"], "NAV No. or --crm-id"),
])
def test_couple_usage_errors(runner, wpath, args, text):
    res = run(runner, *args, "-w", wpath, code=2)
    assert text in res.stderr


def test_couple_unknown_records(runner, wpath):
    res = run(runner, "couple", "CT999999", "cccccccc-0000-0000-0000-000000000001", "-w", wpath, code=2)
    assert "CT999999" in one_error_line(res)
    res = run(runner, "uncouple", "CT999999", "-w", wpath, code=2)
    one_error_line(res)


# -- sync -------------------------------------------------------------------------------------
def test_sync_dry_run_writes_nothing(runner, wpath):
    runs = n_runs(wpath)
    crm = query(wpath, "SELECT * FROM crm_contact ORDER BY contactid")
    data = run_json(runner, "sync", "--dry-run", "-w", wpath)
    assert data["dry_run"] is True and data["run_id"] is None and data["status"] == "ok"
    assert data["counts"]["modified"] > 0 and data["conflicts_total"] > 0 and data["errors_total"] > 0
    assert n_runs(wpath) == runs
    assert query(wpath, "SELECT * FROM crm_contact ORDER BY contactid") == crm


def test_sync_push_writes_the_planned_changes(runner, wpath):
    with cs.Workspace.open(wpath) as ws:
        plan = ws.sync("push", dry_run=True)
    data = run_json(runner, "sync", "--direction", "push", "-w", wpath)
    assert data["status"] == "ok" and data["exit_code"] == 0
    assert data["counts"] == {**plan.counts(), "coupled": 0}
    run_id = data["run_id"]
    assert scalar(wpath, "SELECT kind || ':' || direction FROM run WHERE run_id = ?", [run_id]) == "sync:push"
    assert scalar(wpath, "SELECT modified FROM run WHERE run_id = ?", [run_id]) == plan.modified
    changed = plan.changes[(plan.changes["side"] == "crm") & (plan.changes["field"] == "telephone1")]
    assert len(changed)
    for row in changed.itertuples():
        assert crm_value(wpath, row.key, "telephone1") == row.new_value
    again = run_json(runner, "sync", "--direction", "push", "-w", wpath)
    assert again["counts"]["modified"] == 0


def test_sync_pull_text_output(runner, wpath):
    res = run(runner, "sync", "-d", "pull", "-w", wpath)
    assert res.stdout.startswith("Synchronization completed")
    assert "Conflicts (" in res.stdout and "Failed records (" in res.stdout and "Changes per field:" in res.stdout
    assert scalar(wpath, "SELECT direction FROM run ORDER BY run_id DESC LIMIT 1") == "pull"


def test_sync_records_and_search(runner, wpath):
    data = run_json(runner, "sync", "--no", "CT000002", "--no", "CT000003", "-w", wpath)
    assert data["records"] == ["CT000002", "CT000003"]
    assert sum(data["counts"].values()) == 2
    name = nav_value(wpath, "CT000002", "Surname")
    data = run_json(runner, "sync", "--search", name, "--dry-run", "-w", wpath)
    assert "CT000002" in data["records"]


@pytest.mark.parametrize("args, text", [
    (["--no", "CT999999"], "CT999999 (does not exist)"),
    (["--search", "zzzz-no-such-contact"], "matches no coupled NAV contact"),
    (["--force"], "choose direction 'push' or 'pull'"),
])
def test_sync_bad_input(runner, wpath, args, text):
    runs = n_runs(wpath)
    res = run(runner, "sync", *args, "-w", wpath, code=2)
    assert text in one_error_line(res)
    assert n_runs(wpath) == runs


def test_sync_bad_direction(runner, wpath):
    res = run(runner, "sync", "--direction", "sideways", "-w", wpath, code=2)
    assert "'sideways' is not one of" in res.stderr


def test_sync_uncoupled_record_names_create_missing_option(runner, wpath):
    run(runner, "uncouple", "CT000002", "-w", wpath)
    res = run(runner, "sync", "--no", "CT000002", "-w", wpath, code=2)
    assert "--create-missing" in one_error_line(res)


def test_sync_fail_on_conflict_and_error(runner, wpath, tmp_path, demo_template):
    data = run_json(runner, "sync", "-d", "pull", "--fail-on-error", "-w", wpath, code=1)
    assert data["status"] == "failed" and data["counts"]["failed"] > 0
    assert scalar(wpath, "SELECT failed FROM run WHERE run_id = ?", [data["run_id"]]) == data["counts"]["failed"]
    # a fresh copy: a pull run advances the NAV side's last-synced state of records it did not touch, so
    # pending NAV changes would no longer be pushed (reported as a core issue)
    wpath = shutil.copyfile(demo_template, tmp_path / "w2.duckdb")
    summary = tmp_path / "s.json"
    data = run_json(runner, "sync", "-d", "push", "--fail-on-conflict", "--summary", summary, "-w", wpath, code=1)
    assert data["status"] == "conflicts" and data["exit_code"] == 1 and data["counts"]["skipped"] > 0
    assert json.loads(summary.read_text())["run_id"] == data["run_id"]
    # the rest was applied
    assert scalar(wpath, "SELECT modified FROM run WHERE run_id = ?", [data["run_id"]]) > 0
    # not asked: exit 0 despite conflicts and failures
    data = run_json(runner, "sync", "-d", "both", "--dry-run", "-w", wpath)
    assert data["counts"]["skipped"] and data["counts"]["failed"]


def test_sync_create_missing(runner, wpath):
    uncoupled = scalar(wpath, """SELECT count(*) FROM nav_contact n JOIN coupling cc ON cc.entity = 'company'
                                 AND cc.nav_no = n."Company No." WHERE n."Type" = 'Person' AND n."No." NOT IN
                                 (SELECT nav_no FROM coupling WHERE entity = 'contact')""")
    assert uncoupled > 0
    data = run_json(runner, "sync", "-d", "push", "--create-missing", "-w", wpath)
    assert data["counts"]["inserted"] > 0
    assert scalar(wpath, "SELECT inserted FROM run WHERE run_id = ?", [data["run_id"]]) >= 0


# -- diff / runs / undo / export --------------------------------------------------------------
def test_diff(runner, wpath):
    rows = run_json(runner, "diff", "-w", wpath)
    with cs.Workspace.open(wpath) as ws:
        assert len(rows) == len(ws.differences())
    assert {"nav_no", "crm_id", "nav_field", "crm_field", "nav_value", "crm_value"} <= set(rows[0])
    rows = run_json(runner, "diff", "CT000012", "-w", wpath)
    assert rows and {r["nav_no"] for r in rows} == {"CT000012"}
    res = run(runner, "diff", "CT000012", "-w", wpath)
    assert "differing field(s) in 1 coupled pair(s)" in res.stdout
    rows = run_json(runner, "diff", "CT000012", "--all-fields", "-w", wpath)
    assert {r["nav_field"] for r in rows} >= {"First Name", "Surname", "E-Mail"}


def test_diff_errors(runner, wpath):
    res = run(runner, "diff", "CT999999", "-w", wpath, code=2)
    assert "CT999999" in one_error_line(res)
    res = run(runner, "diff", "--all-fields", "-w", wpath, code=2)
    assert "exactly one NO" in res.stderr


def test_runs_and_run_detail(runner, wpath):
    sync = run_json(runner, "sync", "-d", "push", "-w", wpath)
    rows = run_json(runner, "runs", "-w", wpath)
    assert rows[-1]["run_id"] == sync["run_id"] and rows[-1]["kind"] == "sync"
    assert len(run_json(runner, "runs", "--limit", "2", "-w", wpath)) == 2
    detail = run_json(runner, "runs", str(sync["run_id"]), "-w", wpath)
    assert detail["run"]["modified"] == sync["counts"]["modified"]
    assert len(detail["changes"]) == scalar(wpath, "SELECT count(*) FROM change_log WHERE run_id = ?",
                                            [sync["run_id"]])
    assert len(detail["errors"]) == sync["counts"]["failed"]
    assert "Changes (" in run(runner, "runs", str(sync["run_id"]), "-w", wpath).stdout
    res = run(runner, "runs", "999", "-w", wpath, code=2)
    assert "run 999 does not exist" in one_error_line(res)


def test_undo(runner, wpath):
    before = query(wpath, "SELECT * EXCLUDE (modifiedon) FROM crm_contact ORDER BY contactid")
    sync = run_json(runner, "sync", "-d", "push", "-w", wpath)
    assert query(wpath, "SELECT * EXCLUDE (modifiedon) FROM crm_contact ORDER BY contactid") != before
    data = run_json(runner, "undo", str(sync["run_id"]), "-w", wpath)
    assert data["undone"] == sync["run_id"] and "was undone" in data["message"]
    assert query(wpath, "SELECT * EXCLUDE (modifiedon) FROM crm_contact ORDER BY contactid") == before
    assert scalar(wpath, "SELECT undone_by FROM run WHERE run_id = ?", [sync["run_id"]]) == data["run_id"]
    res = run(runner, "undo", str(sync["run_id"]), "-w", wpath, code=2)
    assert "already undone" in one_error_line(res)
    res = run(runner, "undo", "12345", "-w", wpath, code=2)
    assert "does not exist" in one_error_line(res)
    run(runner, "undo", "abc", "-w", wpath, code=2)


def test_export(runner, wpath, tmp_path):
    sync = run_json(runner, "sync", "-d", "push", "-w", wpath)
    out = tmp_path / "crm_changes.csv"
    data = run_json(runner, "export", "crm", out, "-w", wpath)
    df = pd.read_csv(out, dtype=str)
    assert data["rows"] == len(df) == sync["counts"]["modified"]
    assert "contactid" in df.columns
    out2 = tmp_path / "nav.json"
    res = run(runner, "export", "nav", out2, "--since-run", str(sync["run_id"]), "--neutralize", "-w", wpath)
    assert "wrote 0 record(s)" in res.stdout
    res = run(runner, "export", "crm", tmp_path / "x.txt", "-w", wpath, code=2)
    assert ".csv, .parquet, .xlsx or .json" in one_error_line(res)
    res = run(runner, "export", "erp", tmp_path / "x.csv", "-w", wpath, code=2)


# -- backup / restore -------------------------------------------------------------------------
def test_backup_and_restore(runner, wpath, tmp_path):
    b = tmp_path / "backup.duckdb"
    run(runner, "backup", b, "-w", wpath)
    assert scalar(b, "SELECT count(*) FROM nav_contact") == 280
    res = run(runner, "backup", b, "-w", wpath, code=2)
    assert "exists" in one_error_line(res)
    sync = run_json(runner, "sync", "-d", "push", "-w", wpath)
    res = run(runner, "restore", b, "-w", wpath, code=2)
    assert "--overwrite" in one_error_line(res)
    data = run_json(runner, "restore", b, "--overwrite", "-w", wpath)
    assert data["nav_contacts"] == 280
    assert scalar(wpath, "SELECT count(*) FROM run WHERE run_id = ?", [sync["run_id"]]) == 0
    new = tmp_path / "restored.duckdb"
    run(runner, "restore", b, "-w", new)
    assert scalar(new, "SELECT count(*) FROM coupling") == scalar(b, "SELECT count(*) FROM coupling")
    res = run(runner, "restore", tmp_path / "nope.duckdb", "-w", new, code=2)
    assert "does not exist" in one_error_line(res)


# -- match ------------------------------------------------------------------------------------
def test_match_couple_dry_run_and_real(runner, wpath):
    before = scalar(wpath, "SELECT count(*) FROM coupling WHERE entity = 'contact'")
    dry = run_json(runner, "match", "couple", "--on", "E-Mail", "--on", "First Name,Surname", "--dry-run",
                   "-w", wpath)
    assert dry["run_id"] is None and dry["coupled"] > 0
    assert scalar(wpath, "SELECT count(*) FROM coupling WHERE entity = 'contact'") == before
    real = run_json(runner, "match", "couple", "--on", "E-Mail", "--on", "First Name,Surname", "-w", wpath)
    assert real["coupled"] == dry["coupled"]
    assert scalar(wpath, "SELECT count(*) FROM coupling WHERE entity = 'contact'") == before + real["coupled"]
    res = run(runner, "match", "couple", "--on", "Shoe Size", "-w", wpath, code=2)
    assert "not a mapped field" in one_error_line(res)


def test_match_suggest_and_accept(runner, wpath, tmp_path):
    out = tmp_path / "suggestions.csv"
    rows = run_json(runner, "match", "suggest", "--top", "1", "--out", out, "-w", wpath)
    matches = [r for r in rows if r["match"]]
    assert matches
    review = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "accept" in review.columns
    review["accept"] = "false"
    review.loc[review["nav_no"] == matches[0]["nav_no"], "accept"] = "true"
    review.to_csv(out, index=False)
    data = run_json(runner, "match", "accept", out, "-w", wpath)
    assert data["coupled"] == 1
    assert partner(wpath, matches[0]["nav_no"]) == matches[0]["crm_id"]
    res = run(runner, "match", "accept", tmp_path / "nope.csv", "-w", wpath, code=2)
    assert "does not exist" in res.stderr


# -- report (fast paths; the papermill runs are in test_sync_run_notebook.py) -----------------
def test_report_bad_parameters_run_nothing(runner, wpath, tmp_path):
    out = tmp_path / "reports"
    res = run(runner, "report", "--nav-file", tmp_path / "nope.csv", "-o", out, "-w", wpath, code=2)
    assert "nav_file" in one_error_line(res)
    res = run(runner, "report", "--force", "-o", out, "-w", wpath, code=2)
    assert "choose direction" in one_error_line(res)
    res = run(runner, "report", "-d", "sideways", "-o", out, "-w", wpath, code=2)
    assert not out.exists()


# -- README -----------------------------------------------------------------------------------
def _all_commands(group, prefix="contactsync"):
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        yield full
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, full)


def test_every_cli_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c for c in _all_commands(main) if c not in readme]
    assert not missing, f"README.md does not mention: {missing}"


def test_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    from contactsync import cli

    with cli._progress(["import nav", "sync"], "sync") as step:  # not a terminal: silent
        step("import nav")
        step("sync")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with cli._progress(["import nav", "sync"], "sync") as step:
        step("import nav")
        step("sync")
    err = capsys.readouterr().err
    assert "sync:" in err and "/2" in err and "import nav" in err


def test_reindex_after_another_tool_changed_the_file(runner, tmp_path):
    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as w:
        fill_small(w)
    con = duckdb.connect(str(path))
    con.execute("UPDATE nav_contact SET \"Surname\" = 'Quixote' WHERE \"No.\" = 'CT000004'")
    con.close()
    with cs.Workspace.open(path) as w:
        assert w.nav_contacts(search="quixote").empty  # the index does not know the edit
    res = run(runner, "reindex", "-w", str(path), "--json")
    assert json.loads(res.stdout)["nav_contacts"] == 6
    with cs.Workspace.open(path) as w:
        assert w.nav_contacts(search="quixote")["No."].tolist() == ["CT000004"]
