"""Security (issue 7.4): identifiers only through the one quoting function and checked against the
schema; values only as parameters; no eval of user text; data HTML-escaped in the views; deep-link
base URLs only http(s); exports exact for re-import but reporting (and on request neutralizing) cells a
spreadsheet would run as formulas."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ACC_A, CRM_1, CRM_3, account_frame, crm_frame, nav_frame

import contactsync as cs
from contactsync.workspace import is_formula

PKG = Path(cs.__file__).parent
SOURCES = sorted(PKG.rglob("*.py"))
# an f-string is SQL (or a SQL fragment) when it has a SQL keyword, a SQL function or a placeholder
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|FROM|WHERE|JOIN|SET|VALUES|ATTACH|COPY|"
                       r"CASE|WHEN|THEN|ELSE|END|AND|OR|NOT|NULL|AS|ON|IS|IN|CAST|DISTINCT|LIKE|ILIKE"
                       r")\b|\b(coalesce|nullif|upper|lower|trim|concat_ws|list_contains)\(|[=(,]\s*\?")
# attributes that carry names from a mapping or values from a user
IDENT_ATTRS = {"nav", "crm", "nav_table", "crm_table", "nav_key", "crm_key", "nav_modified", "crm_modified",
               "base_column", "column"}
VALUE_ATTRS = {"value", "constant"}
# local names that hold an identifier in this code base, and names that hold user values
IDENT_NAMES = {"table", "key", "column", "field", "col", "t"}
VALUE_NAMES = {"value", "values", "no", "nos", "crm_id", "account_id", "search", "query", "text_value", "path",
               "dest"}


def _sql_fstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL_WORDS.search(literal):
                yield node


def _problem(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Attribute) and expr.attr in IDENT_ATTRS:
        return "an identifier not quoted with q()/quote_identifier/col()"
    if isinstance(expr, ast.Attribute) and expr.attr in VALUE_ATTRS:
        return "a value interpolated instead of passed as a parameter"
    if isinstance(expr, ast.Name) and expr.id in IDENT_NAMES:
        return "an identifier not quoted with q()/quote_identifier/col()"
    if isinstance(expr, ast.Name) and expr.id in VALUE_NAMES:
        return "a value interpolated instead of passed as a parameter"
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and expr.value.id in ("row", "params"):
        return "a value interpolated instead of passed as a parameter"
    return None


def sql_interpolation_problems(sources=SOURCES) -> list[str]:
    found = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _sql_fstrings(tree):
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    why = _problem(part.value)
                    if why:
                        found.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {{{ast.unparse(part.value)}}} "
                                     f"is {why}")
    return found


def test_sql_fstrings_interpolate_identifiers_only_through_the_quoting_function():
    problems = sql_interpolation_problems()
    assert not problems, "\n".join(problems)


def test_the_scan_catches_a_raw_identifier_and_a_raw_value(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(con, m, f, value):\n'
                   '    con.execute(f"SELECT {f.nav} FROM {q(m.nav_table)}")\n'
                   '    con.execute(f"SELECT * FROM t WHERE x = \'{value}\'")\n'
                   '    con.execute(f"SELECT {q(f.nav)} FROM t WHERE x = ?", [value])\n')
    import contactsync as pkg

    global PKG
    old, PKG = PKG, tmp_path.parent
    try:
        problems = sql_interpolation_problems([bad])
    finally:
        PKG = old
    assert len(problems) == 2 and "f.nav" in problems[0] and "value" in problems[1], problems
    assert pkg


def test_quote_identifier_is_the_one_quoting_function():
    q = cs.quote_identifier
    assert q('x"; DROP TABLE nav_contact; --') == '"x""; DROP TABLE nav_contact; --"'
    for bad in ("", None, "a\x00b"):
        with pytest.raises(ValueError):
            q(bad)
    # no other module defines its own quoting
    others = [p for p in SOURCES if p.name != "sqlbuild.py" and re.search(r"""replace\('"', '""'\)""", p.read_text())]
    assert not others, others


def test_no_eval_or_exec_of_text():
    calls = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in ("eval", "exec", "compile") and not (isinstance(node.func, ast.Attribute)
                                                                and getattr(node.func.value, "id", "") == "re"):
                    calls.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
                if name in ("query", "eval") and isinstance(node.func, ast.Attribute) and \
                        getattr(node.func.value, "id", "") in ("pd", "df"):
                    calls.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
                if name == "load" and getattr(getattr(node.func, "value", None), "id", "") in ("yaml", "pickle"):
                    calls.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]} (use safe_load)")
    assert not calls, calls


@pytest.fixture
def hostile():
    """A workspace whose data tries HTML, formulas and SQL."""
    ws = cs.Workspace.open(":memory:")
    ws.import_accounts(account_frame().assign(name="<script>alert('acc')</script>"))
    ws.import_nav(nav_frame().assign(**{"Company Name": "<b>Co</b>"}))
    crm = crm_frame()
    crm.loc[0, "lastname"] = "<script>alert(1)</script>"
    crm.loc[0, "jobtitle"] = "=HYPERLINK(\"http://evil\",\"x\")"
    crm.loc[0, "telephone1"] = "+49 30 1234567"
    crm.loc[0, "address1_city"] = "@SUM(A1)"
    crm.loc[0, "address1_line1"] = "-2+3"
    crm.loc[2, "lastname"] = "x'); DROP TABLE nav_contact; --"
    ws.import_crm(crm)
    ws.couple_company("C00001", ACC_A)
    ws.couple("CT000001", CRM_1, sync_after="pull")
    yield ws
    ws.close()


def test_values_are_parameters_everywhere_users_give_them(hostile):
    ws = hostile
    tables = set(ws.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    for search in ["x'); DROP TABLE nav_contact; --", "%' OR '1'='1", "\\", '"', "'"]:
        ws.crm_contacts(search=search)
        ws.nav_contacts(search=search)
    assert len(ws.crm_contacts(search="%' OR '1'='1")) == 0
    with pytest.raises(cs.ContactSyncError):
        ws.couple("CT000001'; DROP TABLE coupling; --", CRM_3)
    with pytest.raises(cs.ContactSyncError):
        ws.sync("push", nos=["x' OR '1'='1"])
    with pytest.raises(cs.ContactSyncError, match="read-only"):
        ws.sql("DROP TABLE nav_contact")
    with pytest.raises(cs.ContactSyncError, match="read-only"):
        ws.sql("SELECT 1; DELETE FROM nav_contact")
    assert set(ws.sql("SELECT table_name FROM information_schema.tables")["table_name"]) == tables
    assert ws.sql("SELECT lastname FROM crm_contact WHERE contactid = ?", [CRM_3])["lastname"].iloc[0] \
        == "x'); DROP TABLE nav_contact; --"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript://x/%0aalert(1)", "data:text/html,<script>",
                                 "file:///etc/passwd", "//evil.example", "ftp://x.example", "https://", "vbscript:x",
                                 " https://x.example", "https://x.example\njavascript:alert(1)"])
def test_deep_link_base_urls_must_be_http(url):
    with cs.Workspace.open(":memory:") as ws:
        with pytest.raises(cs.ContactSyncError, match="http"):
            ws.settings["crm_base_url"] = url
        with pytest.raises(cs.ContactSyncError, match="http"):
            ws.settings["nav_base_url"] = url
        assert ws.crm_url(CRM_1).startswith("https://")


def test_deep_links_encode_hostile_keys():
    with cs.Workspace.open(":memory:") as ws:
        ws.settings["crm_base_url"] = "https://org.crm4.dynamics.com/"
        url = ws.nav_url("CT'1&x=<y>")
        assert "<" not in url and "&x=" not in url and " " not in url and "'" not in url.split("filter=")[1]
        assert ws.crm_url(CRM_1) == ("https://org.crm4.dynamics.com/main.aspx?etn=contact&pagetype=entityrecord"
                                     f"&id={CRM_1}")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json", ".parquet"])
def test_export_is_exact_reports_formulas_and_neutralizes_on_request(hostile, tmp_path, suffix):
    ws = hostile
    exact = ws.export_changes("nav", tmp_path / f"nav{suffix}")
    cells = {(k, c): v for k, c, v in exact.formula_cells}
    assert cells[("CT000001", "Job Title")].startswith("=HYPERLINK")
    assert ("CT000001", "Phone No.") not in cells  # a phone number is data, not a formula
    assert cells[("CT000001", "City")] == "@SUM(A1)"
    assert cells[("CT000001", "Address")] == "-2+3"
    assert "formula" in str(exact) and "neutralize" in str(exact)
    # exact: re-imported into a fresh workspace, the values come back unchanged
    with cs.Workspace.open(":memory:") as fresh:
        fresh.import_nav(tmp_path / f"nav{suffix}")
        row = fresh.sql("""SELECT * FROM nav_contact WHERE "No." = 'CT000001'""").iloc[0]
        for (_, col), v in cells.items():
            assert row[col] == v, (col, row[col], v)
    # neutralized: no cell starts like a formula any more, and the report says so
    safe = ws.export_changes("nav", tmp_path / f"nav_safe{suffix}", neutralize=True)
    assert safe.neutralized and len(safe.formula_cells) == len(exact.formula_cells)
    with cs.Workspace.open(":memory:") as fresh:
        fresh.import_nav(tmp_path / f"nav_safe{suffix}")
        df = fresh.sql("SELECT * FROM nav_contact")
        for c in df.columns:
            if df[c].dtype == object or str(df[c].dtype).startswith("str"):
                assert not df[c].dropna().astype(str).map(is_formula).any(), c
        assert df.loc[df["No."] == "CT000001", "Job Title"].iloc[0] == "'=HYPERLINK(\"http://evil\",\"x\")"
        assert df.loc[df["No."] == "CT000001", "Phone No."].iloc[0] == "+49 30 1234567"


def _html_of(widget) -> str:
    """All the HTML a widget tree would send to the browser."""
    import ipywidgets as w

    out = []
    seen = set()

    def walk(x):
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, (w.HTML, w.HTMLMath)):
            out.append(x.value)
        for attr in ("children",):
            for child in getattr(x, attr, ()) or ():
                walk(child)
        for v in vars(x).values() if hasattr(x, "__dict__") else ():
            if isinstance(v, w.Widget):
                walk(v)
            elif isinstance(v, (list, tuple)):
                for item in v:
                    if isinstance(item, w.Widget):
                        walk(item)

    walk(widget)
    return "\n".join(out)


def test_every_view_escapes_data(hostile):
    ui = pytest.importorskip("contactsync.ui")
    ws = hostile
    app = ui.StewardApp(ws)
    for i in range(len(app.views)):
        app.tabs.selected_index = i
        getattr(app.views[i], "refresh", lambda: None)()
    app.nav_contacts.open_contact("CT000001")
    html = _html_of(app)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "&lt;script&gt;alert(&#x27;acc&#x27;)" in html, \
        "the hostile data was not rendered at all"
    assert "<script>alert" not in html
    assert "<b>Co</b>" not in html
    assert not re.search(r"<[a-z]+[^>]*\son\w+=", html.replace("&lt;", "")), "an event handler attribute got through"
