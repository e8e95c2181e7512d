"""The package's boundaries, read from its source: services import no front end, only the store and the
workspace reach ``Workspace._store``, schema creation and upgrades live in ``schema.py``."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "contactsync"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
FRONT_END_MODULES = {"cli.py", "cli_common.py", "cli_live.py", "cli_sync.py", "mappingcli.py", "report.py"}  # and everything under ui/
FRONT_END_IMPORTS = {"ipywidgets", "papermill", "click", "voila", "IPython", "nbformat"}


def _rel(p: Path) -> str:
    return str(p.relative_to(PACKAGE))


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


SERVICES = [p for p in MODULES if p.name not in FRONT_END_MODULES and p.relative_to(PACKAGE).parts[0] != "ui"]


@pytest.mark.parametrize("path", SERVICES, ids=_rel)
def test_services_import_no_front_end(path):
    used = _imports(ast.parse(path.read_text(encoding="utf-8"))) & FRONT_END_IMPORTS
    assert not used, f"{_rel(path)} imports {sorted(used)}: services stay below the widgets, papermill and the CLI"


def test_the_scan_sees_a_front_end_import():
    assert _imports(ast.parse("def f():\n    import ipywidgets as w\nfrom click.testing import x")) == {
        "ipywidgets", "click"}


@pytest.mark.parametrize("path", [p for p in MODULES if p.name not in ("store.py", "workspace.py")], ids=_rel)
def test_only_the_store_and_the_workspace_reach_the_store(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "_store"]
    assert not hits, f"{_rel(path)} lines {hits} use ._store; use ws.transaction() / ws.connection()"


def test_workspace_open_leaves_the_schema_to_schema_py():
    from contactsync import Workspace

    src = textwrap.dedent(inspect.getsource(Workspace.open))
    sql = SQL_STATEMENT.findall(src)
    assert not sql, f"Workspace.open runs {sql}: schema creation and upgrades go in schema.ensure"
    assert "ensure_schema(" in src


SQL_STATEMENT = re.compile(r"\b(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|SEQUENCE|(?:UNIQUE\s+)?INDEX)|ALTER\s+TABLE|"
                           r"INSERT\s+(?:OR\s+REPLACE\s+)?INTO|UPDATE\s+\w+\s+SET|information_schema)\b", re.I)


def test_the_sql_scan_sees_a_statement():
    found = SQL_STATEMENT.findall('con.execute("ALTER TABLE x ADD c"); con.execute("SELECT * FROM '
                                  'information_schema.tables"); # create it first')
    assert found == ["ALTER TABLE", "information_schema"]


PUBLIC_MODULES = [p for p in MODULES if not p.name.startswith("_") or p.name == "__init__.py"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", PUBLIC_MODULES, ids=_rel)
def test_every_public_module_says_what_it_exports(path):
    import importlib

    if "ui" in path.relative_to(PACKAGE).parts:
        pytest.importorskip("ipywidgets")
    mod = importlib.import_module(_module_name(path))
    names = getattr(mod, "__all__", None)
    assert isinstance(names, list) and names, f"{_rel(path)} has no __all__"
    absent = [n for n in names if not hasattr(mod, n)]
    assert not absent, f"{_rel(path)}.__all__ names what it does not define: {absent}"
    assert len(set(names)) == len(names)
