"""The SQL chokepoint (issue 13 item 2): every statement of the package is labelled, can be traced
(statement, rows, time) with ``contactsync.trace()`` or ``CONTACTSYNC_TRACE=1``, and a failing statement's
DuckDB error names its label and SQL without changing the error's type."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import CRM_1, couple_two

import contactsync as cs
from contactsync.store import Connection, Store

PKG = Path(cs.__file__).parent


def test_a_sync_traces_its_statements_with_labels_rows_and_time(ws):
    couple_two(ws)
    ws.sql("UPDATE nav_contact SET \"City\" = 'Bonn' WHERE \"No.\" = 'CT000001'", write=True)
    with cs.trace() as t:
        r = ws.sync("push")
    assert r.modified == 1
    labels = [s.label for s in t.statements]
    assert labels[0] == "store.begin" and labels[-1] == "store.commit"
    assert any(lb.startswith("sync.plan:") for lb in labels)
    assert any(lb.startswith("sync.apply") for lb in labels)
    # the write of the one changed CRM contact is traced with its row count
    updates = [s for s in t.statements if s.sql.lstrip().startswith('UPDATE "crm_contact"')]
    assert updates and sum(s.rows or 0 for s in updates) == 1
    assert all(s.seconds >= 0 for s in t.statements)
    summary = t.summary()
    assert list(summary.columns) == ["label", "statements", "rows", "seconds"]
    assert summary.statements.sum() == len(t.statements)
    assert "statement(s)" in str(t)


def test_tracing_keeps_results_the_callers_read(ws):
    """A traced DML statement's count is read for the trace and still handed to the caller."""
    with ws.transaction() as con, cs.trace() as t:
        n = con.execute("UPDATE nav_contact SET \"City\" = \"City\" WHERE \"Type\" = 'Person'").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM nav_contact").fetchall()
    assert n == 4 and rows[0][0] == 6
    assert [s.rows for s in t.statements][0] == 4


def test_a_trace_outside_its_block_collects_nothing(ws):
    with cs.trace() as t:
        ws.nav_contacts()
    n = len(t.statements)
    assert n > 0
    ws.nav_contacts()
    assert len(t.statements) == n


def test_a_failing_statement_names_its_label_and_sql_and_keeps_its_type(tmp_path):
    st = Store(tmp_path / "w.duckdb")
    with st.connection() as con:
        with pytest.raises(duckdb.CatalogException) as info:
            con.execute("SELECT * FROM no_such_table", label="test.missing")
    notes = getattr(info.value, "__notes__", [])
    assert any("test.missing" in n and "no_such_table" in n for n in notes)
    st.close()


def test_a_failing_package_statement_is_labelled_by_its_function(ws):
    with ws.transaction() as con:
        with pytest.raises(duckdb.Error) as info:
            con.execute("SELECT nope FROM nav_contact")
    assert any("test_trace.test_a_failing_package_statement_is_labelled_by_its_function" in n
               for n in info.value.__notes__)


def test_contactsync_trace_env_logs_every_statement(tmp_path):
    code = ("import sys; sys.path.insert(0, 'tests'); import contactsync as cs; from conftest import fill_small, "
            "couple_two; w = couple_two(fill_small(cs.Workspace.open(':memory:'))); w.sync('push', nos=['CT000001'])")
    env = {**os.environ, "CONTACTSYNC_TRACE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("contactsync.sql")]
    assert len(lines) > 20
    assert any(" sync.plan:" in ln for ln in lines) and any("store.commit" in ln for ln in lines)
    # off by default
    env.pop("CONTACTSYNC_TRACE")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                           cwd=Path(__file__).parent.parent)
    assert quiet.returncode == 0 and "contactsync.sql" not in quiet.stderr


def test_every_workspace_connection_is_the_chokepoint(ws, tmp_path):
    with ws.connection() as con:
        assert isinstance(con, Connection)
    with cs.Workspace.open(tmp_path / "f.duckdb") as w, w.transaction() as con:
        assert isinstance(con, Connection)
    assert CRM_1  # the fixture's data is there to be traced


def test_no_module_opens_duckdb_behind_the_chokepoint():
    """``duckdb.connect`` of a file appears only where its connection is wrapped in the chokepoint; a throwaway
    in-memory database of its own (Splink's scratch session, a regex check) is not the workspace."""
    allowed_raw: set[tuple[str, str]] = set()
    found = []
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        parents = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "duckdb"):
                parent = parents.get(node)
                wrapped = (isinstance(parent, ast.Call) and getattr(parent.func, "id", None) in ("Connection", "_quiet"))
                scratch = not node.args or (isinstance(node.args[0], ast.Constant) and node.args[0].value == ":memory:")
                fn = parent
                while fn is not None and not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    fn = parents.get(fn)
                where = (path.name, fn.name if fn else "<module>")
                if not wrapped and not scratch and where not in allowed_raw:
                    found.append(f"{path.relative_to(PKG)}:{node.lineno} in {where[1]}")
    assert not found, f"duckdb.connect outside the chokepoint: {found}"


def test_opening_an_unchanged_workspace_writes_nothing(tmp_path):
    """The app opens the file for every action: a second open with the same mapping only reads; a changed
    mapping is written (its columns, views and value maps) and then read again the fast way."""
    path = tmp_path / "w.duckdb"
    cs.Workspace.open(path).close()
    writes = ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP")

    def written(**kw):
        with cs.trace() as t:
            cs.Workspace.open(path, **kw).close()
        return [s.label for s in t.statements if s.sql.lstrip().upper().startswith(writes)]

    assert written() == []
    m = cs.default_mapping()
    m2 = m.with_fields([f for f in m.fields if f.nav != "Fax No."])
    assert written(mapping=m2)  # a new mapping is stored
    assert written() == []
    with cs.Workspace.open(path) as w:
        assert "Fax No." not in [f.nav for f in w.mapping.fields]
