"""A scheduled run takes its mapping options (issue 15: field options, transformation rules, value maps,
strategies) from a mapping file: ``sync_run.ipynb``'s ``mapping_file`` parameter, checked before anything
runs; a dry run does not keep it."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest
from conftest import query, scalar

import contactsync as cs
from contactsync import report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "sync_run.ipynb"


def _upper_city_mapping(wpath: Path, dest: Path) -> Path:
    """The workspace's own mapping with City upper-cased on its way to CRM."""
    with cs.Workspace.open(wpath) as w:
        f = w.mapping.field("City")
        m = w.mapping.with_fields([
            cs.FieldMapping(**{**{k: getattr(f, k) for k in f.__dataclass_fields__}, "transform": ("upper",),
                               "transform_direction": "ToCRM"}) if g.nav == "City" else g
            for g in w.mapping.fields])
    return cs.save_mapping(m, dest)


def test_a_run_uses_the_mapping_file_and_keeps_it(wpath, tmp_path):
    mfile = _upper_city_mapping(wpath, tmp_path / "mapping.toml")
    s = report.run_sync({"workspace": str(wpath), "direction": "push", "force": True, "mapping_file": str(mfile),
                         "output_json": None})
    assert s["status"] == "ok" and s["counts"]["modified"] > 0
    cities = [r[0] for r in query(wpath, "SELECT DISTINCT r.address1_city FROM coupling c JOIN crm_contact r "
                                         "ON r.contactid = c.crm_id WHERE c.entity = 'contact' "
                                         "AND coalesce(r.address1_city, '') <> '' AND c.nav_no NOT IN "
                                         "(SELECT nav_no FROM run_error WHERE run_id = ?)", [s["run_id"]])]
    assert cities and [c for c in cities if c != c.upper()] == []
    with cs.Workspace.open(wpath) as w:  # kept: the next run (or the app) uses it
        assert [r.rule for r in w.mapping.field("City").transform] == ["upper"]


def test_a_dry_run_with_a_mapping_file_keeps_neither(wpath, tmp_path):
    mfile = _upper_city_mapping(wpath, tmp_path / "mapping.toml")
    crm = query(wpath, "SELECT * FROM crm_contact ORDER BY contactid")
    runs = scalar(wpath, "SELECT count(*) FROM run")
    s = report.run_sync({"workspace": str(wpath), "direction": "push", "force": True, "dry_run": True,
                         "mapping_file": str(mfile), "output_json": None})
    assert s["status"] == "ok" and s["counts"]["modified"] > 0
    assert query(wpath, "SELECT * FROM crm_contact ORDER BY contactid") == crm
    assert scalar(wpath, "SELECT count(*) FROM run") == runs
    with cs.Workspace.open(wpath) as w:
        assert not w.mapping.field("City").transform


def test_a_bad_mapping_file_is_named_before_anything_runs(wpath, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(_upper_city_mapping(wpath, tmp_path / "m.toml")).read_text().replace(
        '"upper"', '{ rule = "regex_replace", find = "(", replace = "" }'))
    runs = scalar(wpath, "SELECT count(*) FROM run")
    with pytest.raises(report.ParameterError, match=r"mapping_file .*bad\.toml.*City"):
        report.check_params({"workspace": str(wpath), "mapping_file": str(bad)})
    with pytest.raises(report.ParameterError, match="mapping_file .*does not exist"):
        report.check_params({"workspace": str(wpath), "mapping_file": str(tmp_path / "nope.toml")})
    assert scalar(wpath, "SELECT count(*) FROM run") == runs


@pytest.mark.slow
def test_the_notebook_takes_mapping_file(wpath, tmp_path):
    mfile = _upper_city_mapping(wpath, tmp_path / "mapping.toml")
    out, summary = tmp_path / "out.ipynb", tmp_path / "summary.json"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={
        "workspace": str(wpath), "direction": "push", "force": True, "mapping_file": str(mfile),
        "output_json": str(summary)}, progress_bar=False, cwd=str(tmp_path))
    s = json.loads(summary.read_text())
    assert s["status"] == "ok" and s["parameters"]["mapping_file"] == str(mfile)
    with cs.Workspace.open(wpath) as w:
        assert [r.rule for r in w.mapping.field("City").transform] == ["upper"]
