"""Extras: a missing one is a clear error naming its ``pip install``; ``contactsync app`` checks before
serving; pyproject's extras are the ones the code names, and the core carries no front end."""

from __future__ import annotations

import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from contactsync import ContactSyncError
from contactsync.cli import main
from contactsync.extras import Extra, MissingExtraError, missing, require
from contactsync.notebooks import STEWARD

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# names no one installs: a leading "zz_cs_missing_" and an identifier tail
absent_module = st.from_regex(r"zz_cs_missing_[a-z][a-z0-9_]{0,20}", fullmatch=True)


@given(extra=st.sampled_from(list(Extra)), module=absent_module)
def test_a_missing_module_names_the_extra_to_install(extra, module):
    with pytest.raises(MissingExtraError) as info:
        require(extra, "duckdb", module)
    msg = str(info.value)
    assert f"pip install 'contactsync[{extra.value}]'" in msg
    assert module in msg and "duckdb" not in msg.split(" needs ", 1)[1]  # only the missing one is named
    assert isinstance(info.value, ContactSyncError) and isinstance(info.value, ImportError)
    assert info.value.context == {"extra": extra.value, "modules": [module]}


def test_installed_modules_pass():
    require(Extra.APP, "duckdb", "click")  # no error
    assert missing("duckdb", "zz_cs_missing_x", "zz_cs_missing_x.sub") == ["zz_cs_missing_x", "zz_cs_missing_x.sub"]


def test_widgets_without_the_app_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "contactsync.ui" or m.startswith("contactsync.ui.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'contactsync[app]'")):
        import contactsync.ui  # noqa: F401


def test_app_without_the_app_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "voila", None)
    ws = tmp_path / "s.duckdb"
    res = CliRunner().invoke(main, ["app", "-w", str(ws), "--demo"])
    assert res.exit_code == 2, res.output
    assert "pip install 'contactsync[app]'" in res.stderr and "voila" in res.stderr
    assert not ws.exists()  # checked before anything is created


@pytest.fixture
def no_exec(monkeypatch):
    """Record what `contactsync app` would hand over to Voilà instead of replacing the test process."""
    calls = []

    def fake_execve(path, argv, env):
        calls.append((path, argv, env))
        raise SystemExit(0)

    monkeypatch.setattr("os.execve", fake_execve)
    return calls


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_refuses_a_missing_workspace_unless_demo(tmp_path, no_exec):
    ws = tmp_path / "new.duckdb"
    res = CliRunner().invoke(main, ["app", "-w", str(ws)])
    assert res.exit_code == 2 and "does not exist" in res.stderr and "--demo" in res.stderr
    assert not ws.exists() and not no_exec

    port = _free_port()
    res = CliRunner().invoke(main, ["app", "-w", str(ws), "--demo", "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert f"Steward app: http://127.0.0.1:{port}/" in res.stdout
    (path, argv, env) = no_exec[0]
    assert argv[:3] == [sys.executable, "-m", "voila"] and argv[3] == str(STEWARD)
    assert f"--Voila.port={port}" in argv and "--Voila.port_retries=0" in argv
    # kernels of closed tabs are culled (issue 16, item 8)
    assert "--MappingKernelManager.cull_idle_timeout=600" in argv and "--MappingKernelManager.cull_connected=False" in argv
    assert env["CONTACTSYNC_WORKSPACE"] == str(ws.resolve())
    from contactsync import Workspace

    with Workspace.open(ws) as w:  # the demo workspace was built before serving
        assert w.crm_contacts(limit=1).attrs["total"] > 0

    own = tmp_path / "mine.ipynb"  # a user's own notebook, on the existing workspace (no --demo needed now)
    own.write_text(STEWARD.read_text(encoding="utf-8"), encoding="utf-8")
    res = CliRunner().invoke(main, ["app", "-w", str(ws), "--notebook", str(own), "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert no_exec[1][1][3] == str(own)


def test_app_refuses_a_taken_port_and_a_memory_workspace(tmp_path, no_exec):
    ws = tmp_path / "s.duckdb"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = CliRunner().invoke(main, ["app", "-w", str(ws), "--demo", "--port", str(port)])
    assert res.exit_code == 2 and f"127.0.0.1:{port}" in res.stderr and "--port" in res.stderr
    res = CliRunner().invoke(main, ["app", "-w", ":memory:", "--demo"])
    assert res.exit_code == 2 and "workspace file" in res.stderr
    assert not no_exec


def test_pyproject_extras_match_the_code():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {e.value for e in Extra}
    test = " ".join(extras["test"])
    assert all(e.value in test for e in Extra if e is not Extra.TEST), "the test extra holds every other extra"


# what each core dependency is imported as, or why it is there without an import
IMPORT_NAME = {"tomli-w": "tomli_w", "pyyaml": "yaml", "email-validator": "email_validator"}
INDIRECT = {"pyarrow": "pandas' Parquet engine (sample files, exports)",
            "ipykernel": "the kernel papermill runs sync_run.ipynb in",
            "jinja2": "pandas' Styler (the report's changes chart)"}


def test_core_dependencies_are_used_and_carry_no_front_end():
    deps = [re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in PYPROJECT["project"]["dependencies"]]
    assert not {"jupyterlab", "voila", "ipywidgets", "splink", "rapidfuzz"} & set(deps)
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "contactsync").rglob("*.py"))
    unused = [d for d in deps if d not in INDIRECT
              and not re.search(rf"^\s*(import|from) {IMPORT_NAME.get(d, d)}\b", code, re.M)]
    assert not unused, f"core dependencies nothing in contactsync/ imports: {unused}"
