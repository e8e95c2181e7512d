"""A list page per call (issue 13 item 5): the page queries (bounds, page, rows by a key range or by the key's
index) show exactly what a plain ORDER BY ... LIMIT/OFFSET over the filtered set shows, and the open path's
catalogue digest still notices a file another tool changed."""

from __future__ import annotations

import random
from unittest import mock

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync import search
from contactsync.schema import SCHEMA_VERSION

# keys around the edges of the byte order the key range relies on (DuckDB compares UTF-8 bytes, Python code points)
_KEY_CHARS = "0123459AZ-./ÄÉ€"
_WORDS = ["meyer", "Meier", "Müller", "Mueller", "Schmidt", "Özil", "ravn", "", None]


def _nav_rows(draw_keys: list[str], rnd: random.Random) -> pd.DataFrame:
    rows = [{"No.": "CO", "Type": "Company", "Company No.": "CO", "Name": "Meyer AG", "SystemModifiedAt": "2025-01-01"}]
    for k in draw_keys:
        rows.append({"No.": k, "Type": "Person", "Company No.": "CO",
                     "First Name": rnd.choice(_WORDS), "Surname": rnd.choice(_WORDS), "City": rnd.choice(_WORDS),
                     "E-Mail": rnd.choice([None, f"{k.lower()}@example.com"]),
                     "SystemModifiedAt": "2025-01-02 10:00:00"})
    return pd.DataFrame(rows)


def _crm_rows(n: int, rnd: random.Random) -> pd.DataFrame:
    return pd.DataFrame([{"contactid": f"{rnd.getrandbits(128):032x}", "firstname": rnd.choice(_WORDS),
                          "lastname": rnd.choice(_WORDS), "emailaddress1": None, "modifiedon": "2025-01-02 10:00:00",
                          "statecode": 0} for _ in range(n)])


def _reference(ws: cs.Workspace, side: str, search_term: str | None, coupled: bool | None, limit: int | None,
               offset: int) -> tuple[pd.DataFrame, int]:
    """The page by plain SQL: the filtered set (the index's own match condition: this compares paging, not the
    search's semantics, which test_ui_search covers) ordered as the list is, LIMIT/OFFSET; coupled from the
    coupling table itself."""
    ix = search.INDEXES[side]
    where, terms = search._where(search_term, None)
    src, key = ix.source, ix.key
    order = ", ".join([f't."{c}" NULLS LAST' for c in ix.sort] + [f't."{key}"'])
    coupled_sql = (f"EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.{ix.own} = t.\"{key}\")")
    cond = f"({where})" + ("" if coupled is None else f" AND {'' if coupled else 'NOT '}{coupled_sql}")
    base = (f'FROM {src} t JOIN {ix.table} s ON s.key = t."{key}" WHERE {cond.replace("text", "s.text")}')
    total = ws.sql(f"SELECT count(*) AS n {base}", terms)["n"].iloc[0]
    page = ws.sql(f"SELECT t.*, {coupled_sql} AS coupled {base} ORDER BY {order} LIMIT ? OFFSET ?",
                  [*terms, limit if limit is not None else 2**62, offset])
    return page, int(total)


# (side, search, coupled, limit, offset, NARROW_SPAN): mostly pages with rows in them
_QUERY = st.tuples(st.sampled_from(["nav", "nav", "crm"]),
                   st.sampled_from([None, None, "", "e", "mey", "Meyer", "müller", "Mueller", "zzz"]),
                   st.sampled_from([None, None, True, False]), st.sampled_from([None, 100, 7, 3, 1, 0]),
                   st.sampled_from([0, 0, 1, 2, 5, 13, 45]), st.sampled_from([0, 3, 10**6]))


@pytest.mark.slow  # ~35 s under load (15 generated workspaces of up to 40 contacts, up to 12 pages each)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(st.text(_KEY_CHARS, min_size=1, max_size=6), min_size=0, max_size=40, unique=True),
       seed=st.integers(0, 2**32), queries=st.lists(_QUERY, min_size=1, max_size=12))
def test_a_page_is_the_plain_sql_page(keys, seed, queries):
    """Generated workspaces whose contact table is not in key order (two imports, each shuffled), some couplings;
    pages with every search / coupled filter / limit / offset, the key range's threshold (NARROW_SPAN) moved so
    both ways of fetching the rows are taken: each page equals the plain SQL page row for row, with the same total
    and coupled flags."""
    rnd = random.Random(seed)
    keys = [k for k in keys if k.strip()]
    first, later = keys[: len(keys) // 2], keys[len(keys) // 2:]
    rnd.shuffle(first)
    rnd.shuffle(later)
    with cs.Workspace.open(":memory:") as ws:
        crm = _crm_rows(len(keys) // 2 + 1, rnd)
        ws.import_crm(crm)
        for part in (first, later):
            if part:
                ws.import_nav(_nav_rows(part, rnd))
        pairs = list(zip(rnd.sample(keys, min(len(keys), len(crm)) // 2), crm["contactid"]))
        if pairs:
            ws.import_couplings(pd.DataFrame({"No.": [a for a, _ in pairs], "contactid": [b for _, b in pairs]}))
        for side, term, coupled, limit, offset, narrow in queries:
            with mock.patch.object(search, "NARROW_SPAN", narrow):
                got = (ws.nav_contacts if side == "nav" else ws.crm_contacts)(
                    search=term, coupled=coupled, limit=limit, offset=offset)
            want, total = _reference(ws, side, term, coupled, limit, offset)
            key = search.INDEXES[side].key
            assert got.attrs["total"] == total
            assert list(got[key]) == list(want[key])
            assert list(got["coupled"]) == list(want["coupled"])
            cols = [c for c in want.columns if c != "coupled"]
            pd.testing.assert_frame_equal(_plain(got[cols]), _plain(want[cols]), check_dtype=False)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True).astype(object)
    return df.where(df.notna(), None)


def test_the_nav_page_is_read_by_a_key_range(tmp_path):
    """The NAV list's page (its sort key is the key) is fetched with the key range (the scan skips the other row
    groups), a CRM page (sorted by name, keys anywhere) through the key list alone."""
    with cs.Workspace.open(tmp_path / "w.duckdb") as ws:
        ws.import_nav(_nav_rows([f"CT{i:04d}" for i in range(300)], random.Random(1)))
        with cs.trace() as t:
            page = ws.nav_contacts(limit=10, offset=51)  # after the company CO
        assert list(page["No."]) == [f"CT{i:04d}" for i in range(50, 60)]
        rows = [s.sql for s in t.statements if s.label.startswith("search.page_rows")]
        assert len(rows) == 1 and "BETWEEN" in rows[0], rows
        with cs.trace() as t:
            ws.nav_contacts(search="meyer", limit=10)
        labels = [s.label for s in t.statements]
        assert sum(lb.startswith("search.page_rows") for lb in labels) == 2  # the span, then the rows


# -- the open path -----------------------------------------------------------------------------------------------

@pytest.fixture
def opened(tmp_path):
    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as ws:
        ws.import_nav(_nav_rows(["CT0001", "CT0002"], random.Random(2)))
    cs.Workspace.open(path).close()  # verified once: the next opens take the fast path
    return path


def _open_statements(path) -> list[str]:
    with cs.trace() as t:
        cs.Workspace.open(path).close()
    return [s.label for s in t.statements if not s.label.startswith("store.")]


def test_an_unchanged_workspace_opens_in_three_queries(opened):
    labels = _open_statements(opened)
    assert len(labels) == 3, labels
    assert not any("all_columns" in lb for lb in labels)


def _alter(path, *stmts):
    con = duckdb.connect(str(path))
    for s in stmts:
        con.execute(s)
    con.close()


def test_a_renamed_column_is_still_refused(opened):
    _alter(opened, "DROP VIEW coupled_contact", "DROP INDEX nav_contact_key",  # DuckDB alters no table with those
           'ALTER TABLE nav_contact RENAME COLUMN "E-Mail" TO "Email"')
    with pytest.raises(cs.ContactSyncError, match="E-Mail"):
        cs.Workspace.open(opened)


def test_a_newer_schema_is_still_refused(opened):
    _alter(opened, f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
    with pytest.raises(cs.WorkspaceError, match="newer contactsync"):
        cs.Workspace.open(opened)


def test_a_dropped_fingerprint_column_or_table_is_put_back(opened):
    """What the open path adds to a workspace that lacks it (the pipeline's columns and table) is added again when
    another tool dropped it: the catalogue's digest changed, so the checks run."""
    _alter(opened, "ALTER TABLE coupling_log DROP COLUMN nav_fp", "DROP TABLE sync_pending")
    assert len(_open_statements(opened)) > 3
    con = duckdb.connect(str(opened))
    cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'coupling_log'"
                                      ).fetchall()}
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "nav_fp" in cols and "sync_pending" in tables
    assert len(_open_statements(opened)) == 3  # verified again


def test_a_dropped_index_changes_the_digest(opened):
    con = duckdb.connect(str(opened))
    from contactsync.schema import catalog_digest

    before = catalog_digest(con)[0]
    con.execute("DROP INDEX nav_contact_key")
    after = catalog_digest(con)[0]
    con.close()
    assert before != after
    assert len(_open_statements(opened)) > 3


def test_rows_written_by_another_tool_still_rebuild_the_index(opened):
    """Data is not in the catalogue: the index's counts are read at every open."""
    _alter(opened, """INSERT INTO nav_contact ("No.", "Type", "Surname") VALUES ('CT0003', 'Person', 'Ravn')""")
    with cs.Workspace.open(opened) as ws:
        assert list(ws.nav_contacts(search="ravn")["No."]) == ["CT0003"]


def test_the_list_page_bench_writes_its_figure(tmp_path):
    from bench import listpage

    path = tmp_path / "w.duckdb"
    with cs.Workspace.open(path) as ws:
        ws.import_nav(_nav_rows([f"CT{i:04d}" for i in range(20)], random.Random(3)))
    out = tmp_path / "lp.json"
    assert listpage.main([str(path), "--reps", "1", "--out", str(out)]) == 0
    import json

    got = json.loads(out.read_text())
    assert got["nav_contacts"] == 21
    with cs.Workspace.open(path) as ws:
        found = len(ws.nav_contacts(search="meyer"))
    assert [c["rows"] for c in got["cases"]] == [21, 0, found, 0]  # 20 persons and their company
    assert all(c["total_ms"] > 0 for c in got["cases"])


def _other_process(path):
    """A child process with DuckDB loaded that tries to open ``path`` for each line it reads (prints ok / locked)."""
    import subprocess
    import sys

    code = ("import sys, duckdb\nprint('ready', flush=True)\nfor _ in sys.stdin:\n    try:\n"
            f"        duckdb.connect({str(path)!r}).close(); print('ok', flush=True)\n"
            "    except duckdb.Error: print('locked', flush=True)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def _try(child) -> str:
    child.stdin.write("go\n")
    child.stdin.flush()
    return child.stdout.readline().strip()


def test_a_refused_open_releases_the_file_at_once(opened):
    _alter(opened, f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
    child = _other_process(opened)
    try:
        with pytest.raises(cs.WorkspaceError, match="newer contactsync"):
            cs.Workspace.open(opened)
        assert _try(child) == "ok"
    finally:
        child.stdin.close()
        child.wait(timeout=60)
