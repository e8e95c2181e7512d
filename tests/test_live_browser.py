"""The Connections view in a real browser (Voilà + chromium) against the live test server on the sample data:
test the connection, pull with progress, review the outbox, deliver with per-record results."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from test_browser import ARTIFACTS, CHROMIUM, ROOT, VOILA, _free_port, _open_app, _tab, _wait_port

from contactsync.live.testserver import LiveTestServer

pytestmark = pytest.mark.browser
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = expect = None
if sync_playwright is None or not os.path.exists(CHROMIUM) or not VOILA.exists():
    pytestmark = [pytestmark, pytest.mark.skip(reason="needs playwright, chromium and voila")]

TOKEN = "browser-test-token-7c1e"


@pytest.fixture
def served_live(tmp_path, monkeypatch):
    from contactsync import Workspace
    from contactsync.live.demo import prepare_live_demo

    srv = LiveTestServer(token=TOKEN).start()
    monkeypatch.setenv("CS_BROWSER_TOKEN", TOKEN)
    ws_path = tmp_path / "live.duckdb"
    try:
        prepare_live_demo(str(ws_path), srv, token_env="CS_BROWSER_TOKEN")
        with Workspace.open(ws_path) as ws:
            r = ws.sync("push", force=True)
            changed = ws.outbox(status="pending", limit=None)
            first = changed["key"].iloc[0]
            person = ws.sql("SELECT firstname, lastname FROM crm_contact WHERE contactid = ?", [first]).iloc[0]
        srv.edit("crm", first, jobtitle="Changed in CRM meanwhile")   # one will meet a 412
        port = _free_port()
        env = dict(os.environ, CONTACTSYNC_WORKSPACE=str(ws_path), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
                   JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
                   PYTHONUNBUFFERED="1", CS_BROWSER_TOKEN=TOKEN)
        log = open(tmp_path / "voila.log", "w")
        proc = subprocess.Popen([str(VOILA), "notebooks/steward.ipynb", "--no-browser", "--Voila.ip=127.0.0.1",
                                 f"--port={port}", "--Voila.port_retries=0"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_port(port, proc)
            yield f"http://127.0.0.1:{port}/", ws_path, srv, r.modified, first, tuple(person)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
            log.close()
    finally:
        srv.stop()


def test_connections_view(served_live):
    url, ws_path, srv, modified, first, person = served_live
    assert modified > 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)   # the outbox table renders row by row on a busy machine
        try:
            _open_app(page, url)
            _tab(page, "Connections")
            view = page.locator(".cs-connections")
            expect(view.locator(".cs-connections-status")).to_contain_text("change tracking")
            expect(view.locator(".cs-outbox-table")).to_contain_text("to send")
            view.locator(".cs-conn-test").click()
            expect(view.locator(".cs-message")).to_contain_text("signed in")
            view.locator(".cs-conn-pull").click()
            expect(view.locator(".cs-pull-progress")).to_contain_text("done")
            # the pull brought CRM's change of a record with a pending change: that change is held, not sent over it
            expect(view.locator(".cs-message")).to_contain_text("1 pending change(s) of records changed remotely")
            expect(view.locator(".cs-outbox-table")).to_contain_text("changed remotely")
            # the outbox names the contact; its GUID is the tooltip, not the text
            named = view.locator(f'.cs-outbox-table .cs-outbox-name[title="{first}"]')
            for part in person:
                expect(named).to_contain_text(part)
            row = view.locator(".cs-outbox-table .cs-row", has=page.locator(f'.cs-outbox-name[title="{first}"]'))
            expect(row.locator(".cs-outbox-changed_remotely")).to_be_visible()
            assert first not in row.inner_text()
            # the Fields column names what goes out: never the service-set modifiedon
            expect(view.locator(".cs-outbox-table")).not_to_contain_text("modifiedon")
            page.screenshot(path=str(ARTIFACTS / "live-1-connections.png"), full_page=True)
            view.locator(".cs-conn-deliver").click()
            results = view.locator(".cs-delivery-results")
            expect(results).to_contain_text(f"{modified - 1} delivered")
            expect(results).to_contain_text("0 pending")
            expect(view.locator(".cs-outbox-table .cs-outbox-delivered").first).to_be_visible()
            expect(view.locator(".cs-progress")).to_be_hidden()
            page.screenshot(path=str(ARTIFACTS / "live-2-delivered.png"), full_page=True)
        finally:
            browser.close()
    # the browser's clicks reached the service: CRM holds the delivered values, and the remote edit survived
    assert srv.record("crm", first)["jobtitle"] == "Changed in CRM meanwhile"
    assert sum(srv.crm.writes.values()) == modified - 1
    assert TOKEN not in (ws_path.read_bytes().decode("latin-1"))
