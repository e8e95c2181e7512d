"""notebooks/sync_run.ipynb run headless through papermill (as a scheduler runs it), and through
``contactsync report``, with several parameter sets; assertions on the DuckDB file afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from click.testing import CliRunner
from conftest import query, scalar

from contactsync.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "sync_run.ipynb"


def execute(tmp_path, **parameters) -> tuple[Path, dict]:
    out = tmp_path / "out" / "sync_run.ipynb"
    out.parent.mkdir(exist_ok=True)
    summary = tmp_path / "out" / "summary.json"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"output_json": str(summary), **parameters},
                        progress_bar=False, cwd=str(tmp_path))
    return out, json.loads(summary.read_text())


def outputs_text(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", "") or "")
            parts.extend(str(v) for v in o.get("data", {}).values())
            parts.append(o.get("evalue", "") or "")
    return "\n".join(parts)


def error_outputs(nb_path: Path) -> list:
    nb = nbformat.read(nb_path, as_version=4)
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_dry_run(wpath, tmp_path):
    runs = scalar(wpath, "SELECT count(*) FROM run")
    crm = query(wpath, "SELECT * FROM crm_contact ORDER BY contactid")
    out, s = execute(tmp_path, workspace=str(wpath), dry_run=True)
    assert s["status"] == "ok" and s["dry_run"] is True and s["run_id"] is None
    assert s["counts"]["modified"] > 0
    assert scalar(wpath, "SELECT count(*) FROM run") == runs
    assert query(wpath, "SELECT * FROM crm_contact ORDER BY contactid") == crm
    text = outputs_text(out)
    assert "dry run (nothing written)" in text and "Conflicts" in text and "Changes per field" in text
    assert not error_outputs(out)


def test_push(wpath, tmp_path):
    out, s = execute(tmp_path, workspace=str(wpath), direction="push")
    assert s["status"] == "ok" and s["run_id"] is not None and s["direction"] == "push"
    row = query(wpath, "SELECT kind, direction, modified, skipped, failed FROM run WHERE run_id = ?", [s["run_id"]])
    assert row == [("sync", "push", s["counts"]["modified"], s["counts"]["skipped"], s["counts"]["failed"])]
    pushed = query(wpath, "SELECT key, field, new_value FROM change_log WHERE run_id = ? AND side = 'crm' "
                          "AND field = 'telephone1'", [s["run_id"]])
    assert pushed
    for key, _, new in pushed:
        assert scalar(wpath, "SELECT telephone1 FROM crm_contact WHERE contactid = ?", [key]) == new
    assert f"run id: {s['run_id']}" in outputs_text(out)


def test_pull_of_a_list_of_records(wpath, tmp_path):
    nos = [r[0] for r in query(wpath, "SELECT nav_no FROM coupling WHERE entity = 'contact' ORDER BY 1 LIMIT 5")]
    out, s = execute(tmp_path, workspace=str(wpath), direction="pull", records=nos)
    assert s["records"] == nos and sum(s["counts"].values()) == len(nos)
    assert scalar(wpath, "SELECT direction FROM run WHERE run_id = ?", [s["run_id"]]) == "pull"
    changed_keys = {r[0] for r in query(wpath, "SELECT DISTINCT key FROM change_log WHERE run_id = ?", [s["run_id"]])}
    assert changed_keys <= set(nos)


def test_failing_run_raises_and_keeps_the_notebook_with_the_error(wpath, tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute(tmp_path, workspace=str(wpath), direction="push", fail_on_conflict=True)
    assert err.value.ename == "RunFailed" and "skipped on a conflict" in err.value.evalue
    out = tmp_path / "out" / "sync_run.ipynb"
    errors = error_outputs(out)
    assert len(errors) == 1 and errors[0]["ename"] == "RunFailed"
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["status"] == "conflicts" and s["exit_code"] == 1
    # conflicting records were skipped, the rest applied in that run
    assert scalar(wpath, "SELECT modified FROM run WHERE run_id = ?", [s["run_id"]]) == s["counts"]["modified"] > 0


def test_unknown_parameter_stops_before_any_work(wpath, tmp_path):
    runs = scalar(wpath, "SELECT count(*) FROM run")
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute(tmp_path, workspace=str(wpath), dirction="push", dry_run="yes")
    assert err.value.ename == "ParameterError"
    assert "unknown parameter 'dirction' (did you mean 'direction'?)" in err.value.evalue
    assert "dry_run must be True or False, got 'yes' (str)" in err.value.evalue
    assert scalar(wpath, "SELECT count(*) FROM run") == runs
    assert not (tmp_path / "out" / "summary.json").exists()


def test_bad_record_fails_with_an_error_summary(wpath, tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute(tmp_path, workspace=str(wpath), records=["CT999999"])
    assert err.value.ename == "SyncError"
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["status"] == "error" and s["exit_code"] == 2 and "CT999999" in s["message"]


# -- contactsync report -----------------------------------------------------------------------
def test_cli_report_writes_a_dated_folder(wpath, tmp_path):
    reports = tmp_path / "reports"
    res = CliRunner().invoke(main, ["report", "-w", str(wpath), "-d", "push", "-o", str(reports), "--json"])
    assert res.exit_code == 0, (res.stdout, res.stderr)
    data = json.loads(res.stdout)
    (folder,) = reports.iterdir()
    assert folder.name[:4].isdigit() and len(folder.name) >= 17  # YYYY-MM-DD_HHMMSS
    assert Path(data["notebook"]) == folder / "sync_run.ipynb"
    s = json.loads((folder / "summary.json").read_text())
    assert s["run_id"] == data["run_id"] and s["status"] == "ok"
    assert scalar(wpath, "SELECT kind FROM run WHERE run_id = ?", [s["run_id"]]) == "sync"
    executed = nbformat.read(folder / "sync_run.ipynb", as_version=4)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_cli_report_failing_run_exits_1(wpath, tmp_path):
    reports = tmp_path / "reports"
    res = CliRunner().invoke(main, ["report", "-w", str(wpath), "-d", "pull", "--fail-on-error", "-o", str(reports)])
    assert res.exit_code == 1, (res.stdout, res.stderr)
    line, = [ln for ln in res.stderr.splitlines() if ln.startswith("contactsync: error:")]
    assert "RunFailed" in line and "sync_run.ipynb" in line
    (folder,) = reports.iterdir()
    assert error_outputs(folder / "sync_run.ipynb")
    assert json.loads((folder / "summary.json").read_text())["status"] == "failed"


# -- the README's scheduler commands, as written ----------------------------------------------
def readme_commands() -> list[tuple[list[str], int]]:
    """``$ contactsync ...`` and ``$ papermill ...`` lines of the README's headless section, each with
    the exit code the README shows (a following ``$ echo $?``), else 0."""
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Scheduled and headless runs", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines()]
    cmds = []
    for i, ln in enumerate(lines):
        if ln.startswith(("$ contactsync ", "$ papermill ")):
            code = 0
            rest = [x for x in lines[i + 1:] if x.startswith("$ ")]
            if rest and rest[0] == "$ echo $?":
                code = int(lines[lines.index(rest[0], i + 1) + 1])
            cmds.append((shlex.split(ln[2:].split("  #")[0]), code))
    return cmds


def test_readme_scheduler_commands_work_as_written(tmp_path, monkeypatch):
    from papermill.cli import papermill as papermill_cli

    cmds = readme_commands()
    assert len(cmds) >= 8 and any(c[0][0] == "papermill" for c in cmds)
    for d in ("data", "notebooks"):
        (tmp_path / d).symlink_to(ROOT / d)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONTACTSYNC_WORKSPACE", raising=False)
    runner = CliRunner()
    for argv, code in cmds:
        if argv[0] == "papermill":
            res = runner.invoke(papermill_cli, argv[1:])
        else:
            res = runner.invoke(main, argv[1:])
        assert res.exit_code == code, (argv, res.exit_code, res.stdout, res.stderr)
    assert scalar(tmp_path / "workspace.duckdb", "SELECT count(*) FROM run WHERE kind = 'sync'") >= 4
    assert json.loads((tmp_path / "reports" / "nightly.json").read_text())["records"] == ["CT000002", "CT000003"]
    assert len(list((tmp_path / "reports").glob("20*/sync_run.ipynb"))) == 1
