"""The steward app at 200k coupled persons (50k in CI) with 22,000 differing pairs, in a real browser: Differences
refresh and a bulk action on the whole filtered set (20,000 pairs, one field), timed from the click to what
the steward sees; the old table takes no clicks while the kernel compares. The timings are printed and
written to tests/artifacts/differences-200k.json (the machine's load decides them; the bounds here are
the ones the app must never cross even on a busy CI machine, the targets are in the issue)."""

from __future__ import annotations

import json
import os
import time

import pytest
from test_browser import (
    ARTIFACTS,
    CHROMIUM,
    _tab,
    _workspace,
    expect,
    serve_app,
    sync_playwright,
)
from test_browser import pytestmark as browser_marks
from ui_bench import build

# CI runs it at 50k to stay within its time limit; the 200k timing: CONTACTSYNC_BIG_PERSONS=200000
PERSONS = int(os.environ.get("CONTACTSYNC_BIG_PERSONS", "50000"))
pytestmark = [*(browser_marks if isinstance(browser_marks, list) else [browser_marks]), pytest.mark.slow]

WATCH = """() => {
  const t = document.querySelector('.cs-diff-table');
  window.__busy = [];
  window.__long = 0;  // the browser's own share: main-thread long tasks (the grid's canvas paint), in ms
  new PerformanceObserver(l => l.getEntries().forEach(e => { window.__long += e.duration; }))
    .observe({type: 'longtask'});
  new MutationObserver(() => {
    const on = t.classList.contains('cs-busy');
    const last = window.__busy.length ? window.__busy[window.__busy.length - 1] : null;
    if (!last || last.on !== on)
      window.__busy.push({on, at: performance.now(), pointer: getComputedStyle(t).pointerEvents});
  }).observe(t, {attributes: true, attributeFilter: ['class']});
}"""


@pytest.fixture(scope="module")
def served_big(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("voila-big")
    ws_path = build(tmp / "big.duckdb", PERSONS)
    with serve_app(ws_path, tmp) as url:
        yield url, ws_path


def _refresh_timed(page) -> tuple[float, list]:
    page.evaluate(WATCH)
    t0 = page.evaluate("performance.now()")
    page.locator("button.cs-diff-refresh").click()
    page.wait_for_function("window.__busy.length >= 2 && !window.__busy[window.__busy.length - 1].on",
                           timeout=120_000)
    marks = page.evaluate("window.__busy")
    marks.append({"long_tasks_ms": page.evaluate("window.__long")})
    return (marks[-2]["at"] - t0) / 1000, marks


def test_differences_at_200k_refresh_and_bulk_action(served_big):
    url, ws_path = served_big
    with _workspace(ws_path) as ws:
        d = ws.differences()
        mobile = set(d.loc[d["nav_field"] == "Mobile Phone No.", "nav_no"])
        title = set(d.loc[d["nav_field"] == "Job Title", "nav_no"])
        runs_before = len(ws.runs())
    assert len(mobile) == PERSONS // 10
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.set_default_timeout(120_000)
        try:
            page.goto(url, timeout=120_000)
            page.locator(".cs-crm-contacts .cs-grid-ready").first.wait_for(timeout=180_000)
            t0 = time.monotonic()
            _tab(page, "Differences")
            view = page.locator(".cs-differences")
            view.locator(".cs-datagrid canvas").first.wait_for()
            page.wait_for_function("document.querySelector('.cs-diff-summary').innerText.includes('pair(s)')")
            timings["first_open_s"] = round(time.monotonic() - t0, 2)
            total = len(mobile | title | set(d["nav_no"]))
            expect(view.locator(".cs-diff-pager")).to_contain_text(f"of {total:,}")

            secs, marks = _refresh_timed(page)
            timings["refresh_s"] = round(secs, 2)
            timings["refresh_browser_long_tasks_s"] = round(marks.pop()["long_tasks_ms"] / 1000, 2)
            # while the kernel compared, the old table took no clicks
            assert marks[0]["on"] and marks[0]["pointer"] == "none", marks

            t0 = time.monotonic()
            view.locator(".cs-diff-field select").select_option("Mobile Phone No.")
            page.wait_for_function(f"document.querySelector('.cs-diff-summary').innerText.startsWith("
                                   f"'{len(mobile):,} of')")
            timings["filter_s"] = round(time.monotonic() - t0, 2)
            t0 = time.monotonic()
            view.locator(".cs-diff-pager button.cs-next").click()
            page.wait_for_function("document.querySelector('.cs-diff-pager').innerText.includes('501–1000')")
            timings["next_page_s"] = round(time.monotonic() - t0, 2)

            view.locator(".cs-diff-select-all input").check()
            push = view.locator("button.cs-diff-push")
            page.wait_for_function(f"document.querySelector('button.cs-diff-push').innerText.includes("
                                   f"'{len(mobile):,} selected')")
            push.click()
            expect(view.locator(".cs-confirm")).to_contain_text("contact(s)")
            question = view.locator(".cs-confirm").inner_text()
            assert f"Mobile Phone No. of {len(mobile):,} contact(s)" in question and "Job Title" not in question
            page.screenshot(path=str(ARTIFACTS / "13-differences-200k-bulk-confirm.png"), full_page=True)
            t0 = time.monotonic()
            view.locator(".cs-confirm-yes").click()
            view.locator(".cs-message", has_text="Synchronization completed").wait_for(timeout=180_000)
            timings["bulk_push_with_refresh_s"] = round(time.monotonic() - t0, 2)
            page.screenshot(path=str(ARTIFACTS / "14-differences-200k-bulk-done.png"), full_page=True)

            # undo from the app
            _tab(page, "History")
            hist = page.locator(".cs-history")
            hist.locator(".cs-history-table .cs-row").first.wait_for()
            hist.locator(".cs-history-table .cs-row").first.locator(".cs-row-select input").click()
            hist.locator(".cs-run-changes table").wait_for()
            t0 = time.monotonic()
            hist.locator("button.cs-undo").click()
            hist.locator(".cs-confirm-yes").click()
            hist.locator(".cs-message", has_text="undone").wait_for(timeout=180_000)
            timings["undo_s"] = round(time.monotonic() - t0, 2)
        finally:
            browser.close()
    load = os.getloadavg()[0]  # the timings scale with the machine's load (2 cores shared here)
    (ARTIFACTS / "differences-200k.json").write_text(json.dumps({"persons": PERSONS, "load_1min": load, **timings},
                                                                indent=1))
    print(timings)
    with _workspace(ws_path) as ws:
        runs = ws.runs()
        assert len(runs) == runs_before + 2  # the push and its undo
        d = ws.differences()
        assert set(d.loc[d["nav_field"] == "Mobile Phone No.", "nav_no"]) == mobile  # undone
        assert set(d.loc[d["nav_field"] == "Job Title", "nav_no"]) == title  # never touched
        push_run = int(runs["run_id"].max()) - 1
        assert (ws.changes(push_run)["field"] == "mobilephone").sum() == len(mobile)
    # bounds no machine should cross (the targets, 1 s and 3 s, are reported, not asserted)
    assert timings["filter_s"] < 20 and timings["next_page_s"] < 20
    assert timings["refresh_s"] < 30 and timings["bulk_push_with_refresh_s"] < 120 and timings["undo_s"] < 120
