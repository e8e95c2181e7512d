"""The steward app in a real browser: Voilà serves notebooks/steward.ipynb on a tmp workspace file and
Playwright drives Debian's chromium through the seed procedure, checking the DuckDB file between steps."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
XSS = "<img src=x onerror=alert(1)>"
XSS_ID = "dddddddd-0000-0000-0000-00000000bad1"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = expect = None

VOILA = Path(sys.executable).with_name("voila")

if sync_playwright is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason="playwright (python) is not installed")]
elif not Path(CHROMIUM).exists():
    pytestmark = [pytestmark, pytest.mark.skip(reason=f"chromium not found at {CHROMIUM} (apt-get install chromium)")]
elif not VOILA.exists() and not shutil.which("voila"):
    pytestmark = [pytestmark, pytest.mark.skip(reason="voila is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"voila did not listen on port {port} within {timeout}s")


@contextmanager
def serve_app(ws_path: Path, tmp: Path):
    """Voilà serving the steward app on ``ws_path`` as ``contactsync app`` serves it (its offline template, its
    environment), Jupyter's own folders under ``tmp``; yields the app's URL and stops the server after."""
    from contactsync.cli import VOILA_TEMPLATE_ARGS, voila_env

    port = _free_port()
    env = voila_env(dict(os.environ, CONTACTSYNC_WORKSPACE=str(ws_path), JUPYTER_CONFIG_DIR=str(tmp / "cfg"),
                         JUPYTER_RUNTIME_DIR=str(tmp / "rt"), JUPYTER_DATA_DIR=str(tmp / "data"), PYTHONUNBUFFERED="1"))
    cmd = [str(VOILA) if VOILA.exists() else "voila", "notebooks/steward.ipynb", "--no-browser",
           "--Voila.ip=127.0.0.1", f"--port={port}", "--Voila.port_retries=0", *VOILA_TEMPLATE_ARGS]
    log = open(tmp / "voila.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def app_page(url: str | None = None, *, width: int = 1400, height: int = 1300, timeout: int = 30_000):
    """A chromium page (dialogs dismissed and kept in ``page.dialogs``); with ``url``, the app opened and its
    CRM list drawn."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        pg = browser.new_page(viewport={"width": width, "height": height})
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        pg.set_default_timeout(timeout)
        try:
            if url:
                pg.goto(url, timeout=max(60_000, timeout))
                pg.locator(".cs-crm-contacts .cs-grid-ready").first.wait_for(timeout=max(90_000, timeout))
            yield pg
        finally:
            browser.close()


def _workspace(path: Path):
    from contactsync import Workspace

    return Workspace.open(path)


def _target_contact(ws) -> dict:
    """An uncoupled CRM contact whose account is coupled (so a NAV contact can be created for it)."""
    acc = ws.accounts()
    coupled_accounts = set(acc.loc[acc["coupled"], "accountid"])
    df = ws.crm_contacts(coupled=False, limit=None)
    df = df[df["parentcustomerid"].isin(coupled_accounts) & df["emailaddress1"].notna()
            & (df["contactid"] != XSS_ID)]
    return df.iloc[0].to_dict()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, workspace file) with Voilà serving the steward app on a workspace built from data/, plus a CRM
    contact whose name is an HTML injection attempt."""
    from contactsync.demo import build_demo

    tmp = tmp_path_factory.mktemp("voila")
    ws_path = tmp / "steward.duckdb"
    ws = build_demo(ws_path)
    acc = ws.accounts()
    account = acc.loc[acc["coupled"], "accountid"].iloc[0]
    ws.import_crm(pd.DataFrame([{"contactid": XSS_ID, "firstname": XSS, "lastname": "Injection",
                                 "emailaddress1": "xss@example.com", "parentcustomerid": account,
                                 "statecode": 0}]))
    ws.close()
    with serve_app(ws_path, tmp) as url:
        yield url, ws_path


@pytest.fixture
def page():
    with app_page() as pg:
        yield pg


def _open_app(page, url):
    page.goto(url, timeout=60_000)
    page.locator(".cs-crm-contacts .cs-grid-ready").first.wait_for(timeout=90_000)


def _search(page, css: str, text: str) -> None:
    box = page.locator(f"{css} input")
    box.fill(text)
    box.press("Enter")


def test_create_nav_contact_then_get_updated_crm_data(served, page):
    url, ws_path = served
    with _workspace(ws_path) as ws:
        target = _target_contact(ws)
    crm_id, email = target["contactid"], target["emailaddress1"]

    _open_app(page, url)
    page.screenshot(path=str(ARTIFACTS / "01-crm-contacts.png"), full_page=True)

    # CRM Contacts: only the uncoupled ones, then search for the one we want
    page.locator(".cs-coupled-filter select").select_option(label="Uncoupled")
    _search(page, ".cs-search", email)
    _click_only_crm_row(page)
    expect(page.locator(".cs-crm-card")).to_contain_text(email)
    create = page.locator("button.cs-create-nav")
    page.wait_for_function("!document.querySelector('button.cs-create-nav').disabled")
    page.screenshot(path=str(ARTIFACTS / "02-crm-contact-selected.png"), full_page=True)
    create.click()

    # the new NAV contact's card opens, coupled
    card = page.locator(".cs-contact-card")
    card.locator(".cs-status-coupled").wait_for(timeout=60_000)
    assert crm_id in card.locator(".cs-status-coupled").inner_text()
    page.screenshot(path=str(ARTIFACTS / "03-contact-card-coupled.png"), full_page=True)
    link = card.locator("a.cs-crm-link-a")
    assert link.get_attribute("target") == "_blank" and crm_id in link.get_attribute("href")

    with _workspace(ws_path) as ws:
        nav_no = ws.crm_contact(crm_id)["nav_no"]
        assert nav_no and ws.nav_contact(nav_no)["coupled"]
        old_title = ws.nav_contact(nav_no)["Job Title"]
        # a CRM value changes (as an import of a newer CRM export would bring it)
        row = ws.crm_contact(crm_id)
        row.update(jobtitle="Chief Browser Tester", modifiedon=pd.Timestamp("2031-01-01 09:00:00"))
        cols = list(ws.sql("SELECT * FROM crm_contact LIMIT 0").columns)
        ws.import_crm(pd.DataFrame([{c: row.get(c) for c in cols}]))
    assert old_title != "Chief Browser Tester"
    assert nav_no in card.locator(".cs-title").first.inner_text()

    # Synchronize Now -> Get updated data from Dynamics CRM: the change is shown first, then OK
    card.locator("button.cs-sync-now").click()
    dialog = page.locator(".cs-sync-dialog")
    dialog.get_by_text("Get updated data from Dynamics CRM").click()
    dialog.locator(".cs-sync-preview", has_text="Chief Browser Tester").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "04-synchronize-now-preview.png"), full_page=True)
    with _workspace(ws_path) as ws:
        assert ws.nav_contact(nav_no)["Job Title"] == old_title  # the preview wrote nothing
    dialog.locator("button.cs-sync-ok").click()
    card.locator(":scope > .cs-message", has_text="Synchronization completed").wait_for(timeout=60_000)
    expect(page.locator(".cs-sync-dialog")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "05-synchronization-completed.png"), full_page=True)

    with _workspace(ws_path) as ws:
        assert ws.nav_contact(nav_no)["Job Title"] == "Chief Browser Tester"
    assert "Chief Browser Tester" in card.locator(".cs-card-fields").inner_text()
    assert page.dialogs == []


def test_html_in_data_shows_as_text(served, page):
    url, _ws_path = served
    _open_app(page, url)
    _search(page, ".cs-search", "onerror")
    _click_only_crm_row(page)  # the grid draws text on a canvas; the selected contact's card is HTML
    crm_card = page.locator(".cs-crm-card")
    expect(crm_card).to_contain_text("Injection")
    assert XSS in crm_card.inner_text()  # the literal text is visible
    assert page.locator(".cs-crm-contacts img").count() == 0
    page.screenshot(path=str(ARTIFACTS / "06-html-shown-as-text.png"), full_page=True)
    # and on the card of a NAV contact created from it
    page.wait_for_function("!document.querySelector('button.cs-create-nav').disabled")
    page.locator("button.cs-create-nav").click()
    card = page.locator(".cs-contact-card")
    card.locator(".cs-status-coupled").wait_for(timeout=60_000)
    assert XSS in card.locator(".cs-card-fields").inner_text()
    assert page.locator(".cs-app img:not(.cs-reveal)").count() == 0  # (cs-reveal: the constant scroll-into-view image)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "07-card-html-as-text.png"), full_page=True)
    assert page.dialogs == [], f"a script ran: {page.dialogs}"


def _click_only_crm_row(page) -> None:
    """The CRM list is a data grid too (no row header): once the search leaves one contact, click its row."""
    page.wait_for_function("document.querySelector('.cs-crm-contacts .cs-page-label').innerText.startsWith('1–1 of 1')")
    box = page.locator(".cs-crm-contacts .cs-datagrid").bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + 20 + 11)


def _click_only_nav_row(page) -> None:
    """The NAV list is a data grid (a canvas): once the search leaves one contact, click its row by position
    (header 20 px, rows 22 px)."""
    page.wait_for_function("document.querySelector('.cs-nav-contacts .cs-page-label').innerText.startsWith('1–1 of 1')")
    box = page.locator(".cs-nav-contacts .cs-datagrid").bounding_box()
    page.mouse.click(box["x"] + 160, box["y"] + 20 + 11)


def _tab(page, title: str) -> None:
    page.locator(".cs-tabs .lm-TabBar-tab", has_text=title).click()


def test_coupling_dialog_differences_and_history(served, page):
    url, ws_path = served
    with _workspace(ws_path) as ws:
        diffs = ws.differences()
        no = diffs["nav_no"].iloc[0]
        other = diffs[diffs["nav_no"] != no]["nav_no"].iloc[0]
        crm_id = ws.nav_contact(no)["crm_id"]
        crm_values = {r["nav_field"]: r["crm_value"] for r in diffs[diffs["nav_no"] == no].to_dict("records")}
    _open_app(page, url)

    # Contacts -> card -> Set Up Coupling: the coupled CRM contact is preselected, differences highlighted
    _tab(page, "Contacts (Dynamics NAV)")
    _search(page, ".cs-nav-search", no)
    _click_only_nav_row(page)
    card = page.locator(".cs-contact-card")
    card.locator(".cs-status-coupled").wait_for()
    card.locator("button.cs-setup-coupling").click()
    dialog = page.locator(".cs-coupling-dialog")
    dialog.locator(".cs-coupled-records tr.cs-diff").first.wait_for()
    # the new dialog takes focus, and so is in view (issue 16: panels opened below the fold)
    page.wait_for_function("document.activeElement && document.activeElement.closest('.cs-coupling-dialog') !== null")
    assert _in_view(page, ".cs-coupling-dialog")
    page.locator(".cs-sync-after select").select_option(label="Yes - Use the Dynamics CRM Data")
    page.screenshot(path=str(ARTIFACTS / "08-coupling-dialog.png"), full_page=True)
    dialog.locator("button.cs-coupling-ok").click()
    card.locator(":scope > .cs-message", has_text="Synchronization completed").wait_for(timeout=60_000)
    with _workspace(ws_path) as ws:
        assert ws.nav_contact(no)["crm_id"] == crm_id
        nav = ws.nav_contact(no)
        for field, value in crm_values.items():
            if field != "Company No.":
                assert (nav[field] or "").upper() == (value or "").upper(), field
        assert no not in set(ws.differences()["nav_no"])

    # Differences: chart and table; send one pair's NAV data to CRM
    _tab(page, "Differences")
    view = page.locator(".cs-differences")
    view.locator(".cs-field-chart").wait_for()
    _search(page, ".cs-diff-filter", other)
    # the data grid draws on a canvas: one pair left, its row is clicked by position (header 20 px, rows 22)
    page.wait_for_function("document.querySelector('.cs-diff-summary').innerText.startsWith('1 of')")
    box = view.locator(".cs-datagrid").bounding_box()
    page.mouse.click(box["x"] + 160, box["y"] + 20 + 11)
    page.wait_for_function("!document.querySelector('button.cs-diff-push').disabled")
    page.screenshot(path=str(ARTIFACTS / "09-differences.png"), full_page=True)
    view.locator("button.cs-diff-push").click()
    view.locator(".cs-confirm-yes").click()
    view.locator(".cs-message", has_text="Synchronization completed").wait_for(timeout=60_000)
    with _workspace(ws_path) as ws:
        assert other not in set(ws.differences()["nav_no"])
        last = int(ws.runs()["run_id"].max())

    # History: the push run's field changes, then Undo with confirmation
    _tab(page, "History")
    hist = page.locator(".cs-history")
    hrow = hist.locator(".cs-history-table .cs-row").first
    expect(hrow.locator(".cs-grid > div").first).to_have_text(str(last), timeout=30_000)
    hrow.locator(".cs-row-select input").click()
    hist.locator(".cs-run-changes table").wait_for()
    assert other in hist.locator(".cs-run-changes").inner_text()
    hist.locator("button.cs-undo").click()
    hist.locator(".cs-confirm-yes").click()
    hist.locator(".cs-message", has_text="undone").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "10-history-undo.png"), full_page=True)
    with _workspace(ws_path) as ws:
        runs = ws.runs().set_index("run_id")
        assert bool(runs.loc[last, "undone"])
        assert other in set(ws.differences()["nav_no"])
    assert page.dialogs == []


def test_company_card_and_a_failed_run_in_history(served, page):
    """Issue 16 items 4 and 7 as a steward sees them: a company coupled to an account reads Coupled: Yes with
    the account's name; a failed run in History says it failed, with the record and why."""
    url, ws_path = served
    with _workspace(ws_path) as ws:
        acc = ws.accounts()
        company = acc.loc[acc["coupled"]].iloc[0]
        no, account_name = str(company["nav_no"]), str(company["name"])
        coupled = ws.nav_contacts(coupled=True, limit=5)
        person = str(coupled.loc[coupled["Type"] == "Person", "No."].iloc[0])
        row = ws.nav_contact(person)
        row.update({"E-Mail": "not an e-mail", "SystemModifiedAt": pd.Timestamp("2031-01-01 12:00:00")})
        cols = list(ws.sql("SELECT * FROM nav_contact LIMIT 0").columns)
        ws.import_nav(pd.DataFrame([{c: row.get(c) for c in cols}]))
        failed = ws.sync("push", nos=[person], force=True)
        assert failed.failed == 1
    _open_app(page, url)

    _tab(page, "Contacts (Dynamics NAV)")
    _search(page, ".cs-nav-search", no)
    _click_only_nav_row(page)
    card = page.locator(".cs-contact-card")
    card.locator(".cs-status-coupled", has_text=account_name).wait_for()
    assert "Yes" in card.locator('[data-field="Coupled"]').inner_text()
    assert account_name in card.locator('[data-field="Coupled"]').inner_text()
    card.locator("button.cs-setup-coupling").click()
    page.locator(".cs-account-coupling-dialog .cs-account-picker").wait_for()
    page.screenshot(path=str(ARTIFACTS / "11-company-card.png"), full_page=True)

    _tab(page, "History")
    hist = page.locator(".cs-history")
    hrow = hist.locator(".cs-history-table .cs-row").first
    expect(hrow.locator(".cs-grid > div").first).to_have_text(str(failed.run_id), timeout=30_000)
    assert person in hrow.inner_text() and "1 failed" in hrow.inner_text()
    hrow.locator(".cs-row-select input").click()
    changes = hist.locator(".cs-run-changes")
    changes.locator(".cs-msg-error").wait_for()
    said = changes.inner_text()
    assert f"Run {failed.run_id}: 1 record(s) failed: {person}:" in said and "e-mail" in said.lower()
    assert "changed no field values" not in said
    page.screenshot(path=str(ARTIFACTS / "12-history-failed-run.png"), full_page=True)
    assert page.dialogs == []


def _in_view(page, css: str) -> bool:
    return page.evaluate("""(css) => { const r = document.querySelector(css).getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight && r.height > 0; }""", css)


def test_offline_no_request_leaves_the_machine_and_icons_draw(served, page):
    """Issue 16 "icons missing offline": every request of the page goes to the Voilà server on 127.0.0.1 (the
    packaged template drops the Font Awesome CDN links), and Font Awesome draws from Voilà's own bundle."""
    from urllib.parse import urlparse

    url, _ws_path = served
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    _open_app(page, url)
    _tab(page, "Review matches")
    icon = page.locator(".cs-app i.fa-search").first
    icon.wait_for()
    page.evaluate("document.fonts.ready")
    page.wait_for_function("""document.fonts.check('900 14px "Font Awesome 5 Free"')""")
    assert icon.bounding_box()["width"] > 4  # a glyph, not an empty box
    page.screenshot(path=str(ARTIFACTS / "13-offline-icons.png"), full_page=False)
    hosts = {urlparse(u).hostname for u in asked if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"}, sorted(u for u in asked if urlparse(u).hostname != "127.0.0.1")[:10]
    assert page.dialogs == []


def test_pick_per_field_in_differences_and_focus(served, page):
    """Per-field pick as a steward does it: one pair filtered, every filtered pair selected, Pick values per
    field: the panel takes focus in view; the CRM value for each field; the question names the fields and
    takes focus; Yes writes one run of kind pick, and the pair no longer differs."""
    url, ws_path = served
    with _workspace(ws_path) as ws:
        diffs = ws.differences()
        no = diffs["nav_no"].iloc[-1]
        fields = sorted(diffs.loc[diffs["nav_no"] == no, "nav_field"])
        crm_id = ws.nav_contact(no)["crm_id"]
        runs_before = len(ws.runs())
    _open_app(page, url)
    _tab(page, "Differences")
    view = page.locator(".cs-differences")
    view.locator(".cs-field-chart").wait_for()
    _search(page, ".cs-diff-filter", no)
    page.wait_for_function("document.querySelector('.cs-diff-summary').innerText.startsWith('1 of')")
    view.locator(".cs-diff-select-all input").check()
    page.wait_for_function("!document.querySelector('button.cs-diff-pick').disabled")
    view.locator("button.cs-diff-pick").click()
    panel = view.locator(".cs-pick-panel")
    panel.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.closest('.cs-pick-panel') !== null")
    assert _in_view(page, ".cs-pick-panel")
    assert panel.locator(".cs-pick-row").count() == len(fields)
    for sel in panel.locator(".cs-pick-choice select").all():
        sel.select_option(label="Dynamics CRM value")
    page.screenshot(path=str(ARTIFACTS / "14-pick-panel.png"), full_page=False)
    panel.locator("button.cs-pick-apply").click()
    question = view.locator(".cs-confirm")
    question.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.closest('.cs-confirm-no') !== null")
    assert _in_view(page, ".cs-differences .cs-confirm")
    said = question.inner_text()
    assert all(f in said for f in fields) and "1 contact(s)" in said
    page.screenshot(path=str(ARTIFACTS / "15-pick-confirm.png"), full_page=False)
    view.locator(".cs-confirm-yes").click()
    view.locator(".cs-message", has_text="Picked values").wait_for(timeout=60_000)
    assert _in_view(page, ".cs-differences .cs-message")
    page.screenshot(path=str(ARTIFACTS / "16-pick-done.png"), full_page=False)
    with _workspace(ws_path) as ws:
        runs = ws.runs()
        assert len(runs) == runs_before + 1 and runs.iloc[-1]["kind"] == "pick"
        assert no not in set(ws.differences()["nav_no"])
        crm = ws.crm_contact(crm_id)
        assert ws.nav_contact(no)["Job Title"] == (crm["jobtitle"] or "") or "Job Title" not in fields
    assert page.dialogs == []


def test_accounts_list_couple_uncouple_and_open_the_company(served, page):
    url, ws_path = served
    with _workspace(ws_path) as ws:
        acc = ws.accounts()
        row = acc.loc[acc["coupled"]].iloc[-1]
        account_id, name, no = str(row["accountid"]), str(row["name"]), str(row["nav_no"])
    _open_app(page, url)
    _tab(page, "Dynamics CRM Accounts")
    view = page.locator(".cs-accounts")
    view.locator(".cs-acc-table .cs-row").first.wait_for()
    _search(page, ".cs-acc-search", name)
    page.wait_for_function("document.querySelectorAll('.cs-acc-table .cs-row').length === 1")
    view.locator(".cs-acc-table .cs-row-select input").click()
    page.wait_for_function("!document.querySelector('button.cs-acc-uncouple').disabled")
    view.locator("button.cs-acc-uncouple").click()
    view.locator(".cs-confirm-yes").click()
    view.locator(".cs-message", has_text="was deleted").wait_for(timeout=60_000)
    with _workspace(ws_path) as ws:
        acc = ws.accounts().set_index("accountid")
        assert not bool(acc.loc[account_id, "coupled"])
    view.locator(".cs-acc-company-search input").fill(no)
    page.wait_for_function(f"[...document.querySelectorAll('.cs-acc-company option')].some(o => o.textContent.startsWith('{no}'))")
    view.locator(".cs-acc-company select").select_option(index=0)
    page.wait_for_function("!document.querySelector('button.cs-acc-couple').disabled")
    view.locator("button.cs-acc-couple").click()
    view.locator(".cs-message", has_text=f"is coupled to the CRM account {name}").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "17-accounts.png"), full_page=False)
    with _workspace(ws_path) as ws:
        acc = ws.accounts().set_index("accountid")
        assert bool(acc.loc[account_id, "coupled"]) and acc.loc[account_id, "nav_no"] == no
    view.locator("button.cs-acc-open").click()
    page.locator(".cs-contact-card .cs-status-coupled", has_text=name).wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "18-accounts-open-company.png"), full_page=False)
    assert page.dialogs == []
