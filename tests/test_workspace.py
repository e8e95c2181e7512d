"""Opening workspaces, schema versioning, settings, deep links and ad hoc SQL."""

import subprocess
import sys

import duckdb
import pytest

import contactsync as cs
from contactsync.schema import SCHEMA_VERSION


def test_open_creates_schema_and_reopens(tmp_path):
    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as ws:
        assert ws.nav_contacts().empty
        ws.settings["crm_base_url"] = "https://acme.crm4.dynamics.com"
    with cs.Workspace.open(path) as ws:
        assert ws.settings["crm_base_url"] == "https://acme.crm4.dynamics.com"
        tables = set(ws.sql("SELECT table_name FROM information_schema.tables")["table_name"])
        assert {"nav_contact", "crm_contact", "crm_account", "coupling", "run", "change_log"} <= tables


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    cs.Workspace.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    with pytest.raises(cs.WorkspaceError, match="newer contactsync"):
        cs.Workspace.open(path)


def test_foreign_duckdb_file_is_refused(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INT)")
    con.close()
    with pytest.raises(cs.WorkspaceError, match="not a contactsync workspace"):
        cs.Workspace.open(path)


def test_not_a_database_file(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, I am a text file")
    with pytest.raises(cs.WorkspaceError):
        cs.Workspace.open(path)


def test_missing_folder_and_folder_path(tmp_path):
    with pytest.raises(cs.WorkspaceError, match="does not exist"):
        cs.Workspace.open(tmp_path / "nope" / "w.duckdb")
    with pytest.raises(cs.WorkspaceError, match="is a folder"):
        cs.Workspace.open(tmp_path)


def test_connection_is_released_between_actions(tmp_path):
    path = tmp_path / "w.duckdb"
    ws = cs.Workspace.open(path)
    ws.nav_contacts()
    con = duckdb.connect(str(path))  # would fail with a lock error if ws still held the file
    con.close()
    ws.close()


def test_busy_workspace_gives_clear_error(tmp_path):
    import subprocess
    import sys
    import time

    path = tmp_path / "w.duckdb"
    cs.Workspace.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); "
                               "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        with pytest.raises(cs.WorkspaceBusyError, match="busy") as err:
            cs.Workspace.open(path, busy_timeout=0.5)
        assert time.monotonic() - t0 < 10
        assert "python" in str(err.value).lower() or "PID" in str(err.value)
    finally:
        holder.kill()
        holder.wait()


def test_settings_validate_urls_and_names(ws):
    with pytest.raises(cs.ContactSyncError, match="http"):
        ws.settings["crm_base_url"] = "javascript:alert(1)"
    with pytest.raises(cs.ContactSyncError, match="unknown setting"):
        ws.settings["colour"] = "blue"
    assert ws.settings["nav_no_prefix"] == "CT"


def test_deep_links_are_url_encoded(ws):
    ws.settings["crm_base_url"] = "https://acme.crm.dynamics.com/"
    url = ws.crm_url("{CCCCCCCC-0000-0000-0000-000000000001}")
    assert url == ("https://acme.crm.dynamics.com/main.aspx?etn=contact&pagetype=entityrecord"
                   "&id=cccccccc-0000-0000-0000-000000000001")
    url = ws.nav_url("ct000042")
    assert url.startswith("https://businesscentral.dynamics.com/?page=5050&filter=")
    assert "%27No.%27%20IS%20%27CT000042%27" in url


def test_sql_is_read_only_by_default(ws):
    before = ws.sql("SELECT count(*) AS n FROM nav_contact")["n"].iloc[0]
    with pytest.raises(cs.ContactSyncError, match="read-only"):
        ws.sql("DELETE FROM nav_contact")
    with pytest.raises(cs.ContactSyncError, match="read-only"):
        ws.sql("SELECT 1; DROP TABLE nav_contact")
    assert ws.sql("SELECT count(*) AS n FROM nav_contact")["n"].iloc[0] == before
    df = ws.sql('SELECT "No." FROM nav_contact WHERE "City" = ?', ["Berlin"])
    assert list(df["No."]) == ["CT000001"]
    with pytest.raises(cs.ContactSyncError, match="SQL failed"):
        ws.sql("SELECT * FROM no_such_table")


def test_sql_write_opt_in(ws):
    ws.sql("UPDATE nav_contact SET \"City\" = 'Bonn' WHERE \"No.\" = 'CT000001'", write=True)
    assert ws.nav_contact("CT000001")["City"] == "Bonn"


def test_coupled_contact_view(synced):
    df = synced.sql("SELECT nav_no, crm_id, \"Surname\", lastname FROM coupled_contact ORDER BY nav_no")
    assert list(df["nav_no"]) == ["CT000001", "CT000002"]
    assert list(df["lastname"]) == ["Müller", "O'Brien"]


def test_quote_identifier():
    assert cs.quote_identifier('Country/Region Code') == '"Country/Region Code"'
    assert cs.quote_identifier('a"b') == '"a""b"'
    with pytest.raises(ValueError):
        cs.quote_identifier("")


def test_long_queries_draw_no_progress_bar_on_stdout(tmp_path):
    """DuckDB's own progress bar (a query over 2 s, in a process that is not under pytest) goes to stdout,
    where it would corrupt `contactsync ... --json`."""
    code = ("import sys, contactsync as cs\n"
            "with cs.Workspace.open(sys.argv[1]) as ws:\n"
            "    print(ws.sql('SELECT count(*) AS n FROM range(1000000000) t(i) WHERE i % 7 = 3')['n'].item())\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.duckdb")], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert out == "142857143\n"
