"""The live flow walked as a steward would, on ``contactsync demo --live`` (not a test: the note's screenshots).

``python tests/live_walk.py`` starts ``contactsync demo --live`` (the stand-ins of Dataverse and Business Central
on the sample data, a workspace connected and pulled), runs ``contactsync sync`` as the steward would in a
terminal, has a CRM user change one record through the Web API meanwhile (a PATCH with the demo token), then
in chromium on the steward app: Connections (status, test, outbox), Deliver (per-record results, the 412),
Synchronization Errors (the record "changed in CRM since the pull"), Pull with progress. Screenshots go to
``tests/artifacts/live-walk-*.png``; what each step showed is printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ART = ROOT / "tests" / "artifacts"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="cs-live-walk-"))
    ws_path = tmp / "live.duckdb"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp / "rt"),
               JUPYTER_DATA_DIR=str(tmp / "data"), PYTHONUNBUFFERED="1")
    demo = subprocess.Popen([str(BIN / "contactsync"), "demo", "--live", "-w", str(ws_path), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    out, info = [], None
    while info is None:
        line = demo.stdout.readline()
        if not line:
            raise SystemExit(f"demo --live ended: {demo.stderr.read()}")
        out.append(line)
        try:
            info = json.loads("".join(out))
        except ValueError:
            continue
    env[info["token_env"]] = info["token"]
    print("demo --live:", {k: v for k, v in info.items() if k != "token"})
    sync = subprocess.run([str(BIN / "contactsync"), "sync", "-w", str(ws_path), "-d", "push", "--force", "--json"],
                          capture_output=True, text=True, env=env, check=True)
    counts = json.loads(sync.stdout)
    print("sync push --force:", {k: counts.get(k) for k in ("run_id", "modified", "unchanged", "failed")})
    # a CRM user changes one of the records the run changed, after the pull: its ETag moves on
    import contactsync as cs

    with cs.Workspace.open(ws_path) as ws:
        box = ws.outbox(status="pending", limit=None)
        target = box["key"].iloc[0]
    headers = {"Authorization": f"Bearer {info['token']}", "If-Match": "*", "Content-Type": "application/json"}
    r = httpx.patch(f"{info['crm_url']}/api/data/v9.2/contacts({target})", headers=headers,
                    json={"jobtitle": "Changed in CRM by a colleague"})
    print("CRM user's PATCH:", r.status_code, "on", target, "| outbox pending:", len(box))
    port = _free_port()
    voila = subprocess.Popen([str(BIN / "voila"), "notebooks/steward.ipynb", "--no-browser", "--Voila.ip=127.0.0.1",
                              f"--port={port}", "--Voila.port_retries=0"], cwd=ROOT,
                             env=dict(env, CONTACTSYNC_WORKSPACE=str(ws_path)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import socket

        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(90_000)
            expect.set_options(timeout=90_000)
            page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
            page.locator(".cs-crm-contacts .cs-grid-ready").first.wait_for(timeout=120_000)

            def tab(title):
                page.locator(".cs-tabs .lm-TabBar-tab", has_text=title).click()

            def shot(name, what):
                page.screenshot(path=str(ART / f"live-walk-{name}.png"), full_page=True)
                print(f"{name}: {what}")

            tab("Connections")
            view = page.locator(".cs-connections")
            expect(view.locator(".cs-outbox-table")).to_contain_text("to send")
            view.locator(".cs-conn-test").click()
            expect(view.locator(".cs-message")).to_contain_text("signed in")
            shot("1-connections", view.locator(".cs-message").inner_text()[:160].replace("\n", " "))
            view.locator(".cs-conn-deliver").click()
            results = view.locator(".cs-delivery-results")
            expect(results).to_contain_text("delivered")
            expect(view.locator(".cs-outbox-table")).to_contain_text("changed remotely")
            shot("2-delivered", results.inner_text()[:200].replace("\n", " "))
            row = view.locator(".cs-outbox-table .cs-row", has=page.locator(".cs-outbox-changed_remotely"))
            row.scroll_into_view_if_needed()
            page.screenshot(path=str(ART / "live-walk-2b-changed-remotely.png"))
            print("2b-changed-remotely:", row.inner_text().replace("\n", " | "))
            tab("Synchronization Errors")
            expect(page.locator("body")).to_contain_text("2 failed")      # the grid itself is a canvas
            page.wait_for_timeout(1500)
            with cs.Workspace.open(ws_path) as ws:
                listed = ws.sync_errors()[["crm_id", "state", "message"]].to_dict("records")
            shot("3-errors-412", f"errors list: {listed}")
            tab("Connections")
            view.locator(".cs-conn-pull").click()
            expect(view.locator(".cs-pull-progress")).to_contain_text("done")
            expect(view.locator(".cs-progress")).to_be_hidden()      # the pull's refresh is done too
            shot("4-pulled", view.locator(".cs-message").inner_text()[:200].replace("\n", " "))
            browser.close()
    finally:
        os.killpg(voila.pid, signal.SIGTERM)
        os.killpg(demo.pid, signal.SIGTERM)
        voila.wait(20)
        demo.wait(20)
    with cs.Workspace.open(ws_path) as ws:
        print("outbox by status:", ws.outbox(limit=None)["status"].value_counts().to_dict())
        print("CRM record after the re-pull:", ws.crm_contact(target)["jobtitle"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
