"""contactsync.report: the checked parameters and the run behind sync_run.ipynb (without papermill)."""

from __future__ import annotations

import ast
import json
from datetime import datetime
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import scalar

from contactsync import report
from contactsync.report import ParameterError, RunFailed, SyncRunParams, check_params

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "contactsync" / "notebooks" / "sync_run.ipynb"  # package data
DATA = ROOT / "data"
NOW = datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # an export's modified-on for an edit made now




def digest(path) -> tuple:
    return tuple(scalar(path, f"SELECT count(*), md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) FROM {t} t")
                 for t in ("nav_contact", "crm_contact", "crm_account", "coupling", "run", "change_log"))


# -- parameters -------------------------------------------------------------------------------
def test_defaults_need_only_an_existing_workspace(wpath, monkeypatch, tmp_path):
    p = check_params({"workspace": str(wpath)})
    assert p == SyncRunParams(workspace=str(wpath))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match="workspace 'workspace.duckdb' does not exist"):
        check_params({})
    assert check_params({}, check_files=False) == SyncRunParams()


def test_unknown_names_are_named_with_a_hint(wpath):
    with pytest.raises(ParameterError) as err:
        check_params({"workspace": str(wpath), "dirction": "push", "dryrun": True, "zzz": 1})
    msg = str(err.value)
    assert "unknown parameter 'dirction' (did you mean 'direction'?)" in msg
    assert "unknown parameter 'dryrun' (did you mean 'dry_run'?)" in msg
    assert "unknown parameter 'zzz'" in msg
    assert len(err.value.context["problems"]) == 3


@pytest.mark.parametrize("name, value, text", [
    ("dry_run", "yes", "dry_run must be True or False, got 'yes' (str)"),
    ("dry_run", 1, "dry_run must be True or False, got 1 (int)"),
    ("fail_on_conflict", None, "fail_on_conflict must be True or False"),
    ("records", 42, "records must be None (all coupled contacts) or a list of NAV No. (str), got 42 (int)"),
    ("records", ["CT1", 2], "records must be None"),
    ("records", [], "records is an empty list"),
    ("nav_file", 3.5, "nav_file must be a path or text (str) or None, got 3.5 (float)"),
    ("direction", "sideways", "direction must be one of push, pull, both; got 'sideways'"),
    ("direction", 7, "direction must be a non-empty str"),
    ("workspace", None, "workspace must be a non-empty str"),
])
def test_wrong_types_and_values(wpath, name, value, text):
    values = {"workspace": str(wpath), name: value}
    with pytest.raises(ParameterError) as err:
        check_params(values)
    assert text in str(err.value)


def test_force_needs_one_direction_and_files_must_exist(wpath, tmp_path):
    with pytest.raises(ParameterError, match="choose direction 'push' or 'pull'"):
        check_params({"workspace": str(wpath), "force": True})
    with pytest.raises(ParameterError, match="crm_file '.*nope.csv' does not exist"):
        check_params({"workspace": str(wpath), "crm_file": str(tmp_path / "nope.csv")})
    with pytest.raises(ParameterError, match="does not exist; create it with `contactsync init`"):
        check_params({"workspace": str(tmp_path / "none.duckdb")})


def test_lenient_forms_papermill_passes(wpath):
    p = check_params({"workspace": wpath, "records": "CT000002, CT000003", "nav_file": "", "output_json": None})
    assert p.workspace == str(wpath) and p.records == ["CT000002", "CT000003"] and p.nav_file is None


def test_params_from_namespace_ignores_modules_functions_and_private_names(wpath):
    ns = {"workspace": str(wpath), "direction": "push", "report": report, "pd": pd, "f": lambda: 1,
          "_private": 1, "In": [], "Out": {}, "get_ipython": print, "SyncRunParams": SyncRunParams}
    p = report.params_from_namespace(ns, hidden={})
    assert p.direction == "push"
    with pytest.raises(ParameterError, match="unknown parameter 'direktion'"):
        report.params_from_namespace({**ns, "direktion": "push"}, hidden={})
    assert report.params_from_namespace({**ns, "shown": 1}, hidden={"shown": 1}).direction == "push"


def test_the_notebook_declares_exactly_the_parameters():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", [])
    declared = {}
    for node in ast.parse(first.source).body:
        assert isinstance(node, ast.Assign), "the parameters cell only assigns values"
        declared[node.targets[0].id] = ast.literal_eval(node.value)
    assert declared == SyncRunParams().to_dict()


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.metadata["kernelspec"]["name"] == "python3"


# -- the run ----------------------------------------------------------------------------------
def test_dry_run_writes_nothing_but_the_summary(wpath, tmp_path):
    before = digest(wpath)
    out = tmp_path / "out" / "summary.json"
    s = report.run_sync({"workspace": str(wpath), "dry_run": True, "output_json": str(out)})
    assert digest(wpath) == before
    assert s["status"] == "ok" and s["dry_run"] is True and s["run_id"] is None
    assert json.loads(out.read_text()) == json.loads(json.dumps(s, default=str))
    assert s["counts"]["modified"] > 0 and s["conflicts_total"] == len(s["conflicts"]) > 0
    assert {r["field"] for r in s["changes_per_field"]} <= {
        "firstname", "middlename", "lastname", "jobtitle", "address1_line1", "address1_line2", "address1_postalcode",
        "address1_city", "address1_stateorprovince", "address1_country", "emailaddress1", "fax", "websiteurl",
        "telephone1", "mobilephone", "parentcustomerid", "First Name", "Middle Name", "Surname", "Job Title",
        "Address", "Address 2", "Post Code", "City", "County", "Country/Region Code", "E-Mail", "Fax No.",
        "Home Page", "Phone No.", "Mobile Phone No.", "Company No."}


def test_dry_run_imports_into_a_temporary_copy(wpath, tmp_path):
    nav = pd.read_csv(DATA / "nav_contacts.csv", dtype=str, keep_default_na=False)
    nav.loc[nav["No."] == "CT000002", ["Job Title", "SystemModifiedAt"]] = ["Chief Tester", NOW]
    f = tmp_path / "nav.csv"
    nav.to_csv(f, index=False)
    before = digest(wpath)
    s = report.run_sync({"workspace": str(wpath), "nav_file": str(f), "dry_run": True, "direction": "push",
                         "records": ["CT000002"], "output_json": None})
    assert s["imports"]["nav"]["updated"] == 1
    assert s["counts"]["modified"] == 1
    assert digest(wpath) == before
    assert scalar(wpath, 'SELECT "Job Title" FROM nav_contact WHERE "No." = ?', ["CT000002"]) != "Chief Tester"


def test_push_with_import_applies_both(wpath, tmp_path):
    nav = pd.read_csv(DATA / "nav_contacts.csv", dtype=str, keep_default_na=False)
    nav.loc[nav["No."] == "CT000002", ["Job Title", "SystemModifiedAt"]] = ["Chief Tester", NOW]
    f = tmp_path / "nav.csv"
    nav.to_csv(f, index=False)
    steps = []
    p = check_params({"workspace": str(wpath), "nav_file": str(f), "direction": "push", "output_json": None})
    s = report.run_sync(p, progress=steps.append)
    assert steps == report.planned_steps(p) == ["import nav", "sync"]
    crm_id = scalar(wpath, "SELECT crm_id FROM coupling WHERE entity = 'contact' AND nav_no = 'CT000002'")
    assert scalar(wpath, "SELECT jobtitle FROM crm_contact WHERE contactid = ?", [crm_id]) == "Chief Tester"
    assert scalar(wpath, "SELECT kind FROM run WHERE run_id = ?", [s["run_id"]]) == "sync"


def test_record_filter_selects_coupled_contacts(wpath):
    s = report.run_sync({"workspace": str(wpath), "record_filter": "CT00000", "dry_run": True, "output_json": None})
    assert s["records"] and all(r.startswith("CT00000") for r in s["records"])
    with pytest.raises(ParameterError, match="matches no coupled NAV contact"):
        report.run_sync({"workspace": str(wpath), "record_filter": "no-such-thing-xyz", "output_json": None})


def test_an_error_writes_an_error_summary_and_raises(wpath, tmp_path):
    out = tmp_path / "s.json"
    runs = scalar(wpath, "SELECT count(*) FROM run")
    with pytest.raises(Exception, match="CT999999"):
        report.run_sync({"workspace": str(wpath), "records": ["CT999999"], "output_json": str(out)})
    s = json.loads(out.read_text())
    assert s["status"] == "error" and s["exit_code"] == 2 and "CT999999" in s["message"]
    assert scalar(wpath, "SELECT count(*) FROM run") == runs


def test_check_outcome(wpath):
    ok = report.run_sync({"workspace": str(wpath), "dry_run": True, "output_json": None})
    assert report.check_outcome(ok) is ok  # conflicts, but not asked to fail on them
    s = report.run_sync({"workspace": str(wpath), "dry_run": True, "fail_on_conflict": True, "output_json": None})
    assert s["status"] == "conflicts" and s["exit_code"] == 1
    with pytest.raises(RunFailed, match="skipped on a conflict") as err:
        report.check_outcome(s)
    assert err.value.summary is s
    s = report.run_sync({"workspace": str(wpath), "dry_run": True, "fail_on_error": True, "output_json": None})
    with pytest.raises(RunFailed, match="record\\(s\\) failed"):
        report.check_outcome(s)


def test_display_helpers(wpath):
    s = report.run_sync({"workspace": str(wpath), "dry_run": True, "output_json": None})
    counts = report.counts_frame(s)
    assert counts.loc["Modified", "records"] == s["counts"]["modified"]
    assert len(report.conflicts_frame(s)) == s["conflicts_total"]
    assert list(report.errors_frame(s).columns) == ["nav_no", "crm_id", "message"]
    html = report.changes_chart(s).to_html()
    assert "telephone1" in html and "linear-gradient" in html  # in-cell bars
    empty = {"counts": {}, "conflicts": [], "errors": [], "changes_per_field": []}
    assert report.conflicts_frame(empty).empty and report.changes_chart(empty).empty
    assert "dry run" in report.headline(s)


def test_run_notebook_checks_parameters_before_launching(wpath, tmp_path):
    out = tmp_path / "reports"
    with pytest.raises(ParameterError, match="unknown parameter 'dry'"):
        report.run_notebook({"workspace": str(wpath), "dry": True}, out)
    with pytest.raises(ParameterError, match="notebook .* does not exist"):
        report.run_notebook({"workspace": str(wpath)}, out, notebook=tmp_path / "none.ipynb")
    assert not out.exists()


def test_dated_folders_never_collide(tmp_path):
    t = datetime(2025, 6, 1, 3, 0, 0)
    a, b = report.dated_folder(tmp_path, t), report.dated_folder(tmp_path, t)
    assert a.name == "2025-06-01_030000" and b.name == "2025-06-01_030000-2" and a.is_dir() and b.is_dir()


def test_report_runs_the_packaged_notebook_or_the_users_own(wpath, tmp_path):
    """Without --notebook the packaged sync_run.ipynb runs (from any folder); with one, the user's."""
    from click.testing import CliRunner

    from contactsync.cli import main

    assert report.NOTEBOOK.parent.name == "notebooks" and report.NOTEBOOK.parent.parent.name == "contactsync"
    mine = nbformat.read(NOTEBOOK, as_version=4)
    mine.cells.append(nbformat.v4.new_code_cell("print('my own report cell')"))
    own = tmp_path / "my_run.ipynb"
    nbformat.write(mine, own)
    runner = CliRunner()
    for nb, name in ((None, "sync_run.ipynb"), (own, "my_run.ipynb")):
        args = ["report", "-w", str(wpath), "--dry-run", "--json", "-o", str(tmp_path / "reports")]
        res = runner.invoke(main, args + (["--notebook", str(nb)] if nb else []))
        assert res.exit_code == 0, res.stderr
        executed = Path(json.loads(res.stdout)["notebook"])
        assert executed.name == name
        printed = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                          for o in c.get("outputs", []))
        assert ("my own report cell" in printed) == (nb is not None)
