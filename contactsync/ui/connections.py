"""Connections: the live sides — test the connection, pull with progress, review the outbox, deliver with
per-record results. Credentials come from azure-identity (the connection's sign-in kind), never from here."""

from __future__ import annotations

import json

import ipywidgets as w
import pandas as pd

from ..changeset import READ_ONLY_FIELDS
from .common import Column, Messages, Progress, RowTable, button, esc, guarded, html_table, text

__all__ = ["ConnectionsView"]

_STATUS_WORDS = {"pending": "to send", "delivered": "delivered", "changed_remotely": "changed remotely",
                 "rejected": "rejected", "superseded": "not sent (superseded)"}


def _status(v, _r) -> str:
    s = text(v)
    color = {"delivered": "#1b6e20", "changed_remotely": "#8a1010", "rejected": "#8a1010"}.get(s, "#444")
    return f'<span class="cs-outbox-{esc(s)}" style="color:{color}">{esc(_STATUS_WORDS.get(s, s))}</span>'


def _tip(v, _r) -> str:
    return f'<span title="{esc(v)}">{esc(v)}</span>'


class ConnectionsView(w.VBox):
    title = "Connections"

    def __init__(self, ws, on_changed=None, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.messages = Messages()
        self.progress = Progress()
        self.status = w.HTML()
        self.status.add_class("cs-connections-status")
        self.side = w.ToggleButtons(options=[("Dynamics CRM", "crm"), ("Dynamics NAV", "nav")], value="crm")
        self.side.add_class("cs-connections-side")
        self.test_button = button("Test connection", "cs-conn-test")
        self.pull_button = button("Pull changes", "cs-conn-pull")
        self.deliver_button = button("Deliver outbox", "cs-conn-deliver", style="primary")
        self.refresh_button = button("Refresh", "cs-conn-refresh")
        self.test_button.on_click(lambda _b: self.test())
        self.pull_button.on_click(lambda _b: self.pull())
        self.deliver_button.on_click(lambda _b: self.deliver())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.pull_bar = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="240px"))
        self.pull_label = w.Label("")
        self.pull_label.add_class("cs-pull-progress")
        self.outbox = RowTable([
            Column("item_id", "#", "50px"), Column("run_id", "Run", "50px"), Column("side", "Side", "50px"),
            Column("key", "Record", "1.5fr", _tip), Column("op", "Change", "70px"),
            Column("fields", "Fields", "1.5fr", _tip), Column("status", "Status", "140px", _status),
            Column("message", "Message", "2fr", _tip),
        ], key="item_id", empty="The outbox is empty: runs on a live side queue their changes here.")
        self.outbox.add_class("cs-outbox-table")
        self.results = w.HTML()
        self.results.add_class("cs-delivery-results")
        super().__init__([
            w.HTML('<div class="cs-title">Connections</div><div class="cs-hint">The live systems this workspace '
                   'pulls from and delivers to. Sign-in goes through Microsoft Entra ID (azure-identity); no secret '
                   'is kept in the workspace.</div>'),
            self.status, self.side,
            w.HBox([self.test_button, self.pull_button, self.deliver_button, self.refresh_button]),
            w.HBox([self.pull_bar, self.pull_label]), self.progress, self.messages,
            w.HTML('<div class="cs-title" style="font-size:14px">Outbox</div>'), self.outbox, self.results,
        ])
        self.add_class("cs-connections")
        if autoload:
            self.refresh()

    @guarded()
    def refresh(self) -> None:
        conns = self.ws.sql("SELECT side, config, last_pull_at, delta_link IS NOT NULL AS tracked, watermark "
                            "FROM live_connection ORDER BY side")
        if conns.empty:
            self.status.value = ('<div class="cs-hint cs-no-connection">No live connection yet. Connect from a '
                                 'terminal: <code>contactsync connect crm https://ORG.crm.dynamics.com</code>, or try '
                                 '<code>contactsync demo --live</code>.</div>')
        else:
            rows = []
            for r in conns.to_dict("records"):
                c = json.loads(r["config"])
                rows.append({"side": {"crm": "Dynamics CRM", "nav": "Dynamics NAV"}.get(r["side"], r["side"]),
                             "url": c["url"], "sign_in": c["auth"],
                             "pull": "change tracking" if r["tracked"] else "modified-on watermark",
                             "last_pull": text(r["last_pull_at"])[:19] or "never"})
            self.status.value = html_table(pd.DataFrame(rows), [
                ("side", "Side"), ("url", "URL"), ("sign_in", "Sign-in"), ("pull", "Incremental by"),
                ("last_pull", "Last pull (UTC)")])
        box = self.ws.outbox(limit=500)
        if len(box):
            box = box.sort_values("item_id", ascending=False)
            box["fields"] = [", ".join(sorted(set(json.loads(v)) - {"@op"} - READ_ONLY_FIELDS.get(s, frozenset())))
                             for s, v in zip(box["side"], box["new_values"])]
            box["item_id"] = box["item_id"].astype(str)
            box["message"] = box["message"].fillna("")
        self.outbox.set_rows(box)
        pending = int((box["status"] == "pending").sum()) if len(box) else 0
        self.deliver_button.description = f"Deliver outbox ({pending})"

    @guarded(progress="Testing the connection…")
    def test(self) -> None:
        self.messages.ok(self.ws.test_connection(self.side.value))

    @guarded(progress="Pulling…")
    def pull(self) -> None:
        self.pull_bar.value, self.pull_label.value = 0, "starting…"

        def step(n, pages):
            self.pull_bar.max = max(self.pull_bar.max, pages + 1)
            self.pull_bar.value = pages
            self.pull_label.value = f"{n:,} record(s), page {pages}"

        r = self.ws.pull(self.side.value, progress=step)
        self.pull_bar.value = self.pull_bar.max
        self.pull_label.value = f"done: {r.fetched:,} record(s) in {r.pages} page(s)"
        self.messages.ok(str(r))
        self.refresh()
        if self.on_changed:
            self.on_changed()

    @guarded(progress="Delivering…")
    def deliver(self) -> None:
        d = self.ws.deliver()
        out = d.outcomes.copy()
        if len(out):
            out["status"] = out["status"].map(lambda s: _STATUS_WORDS.get(s, s))
        self.results.value = (f'<div class="cs-title" style="font-size:14px">Delivery (run {esc(d.run_id)}): '
                              f'{esc(str(d))}</div>' + html_table(out, [("side", "Side"), ("key", "Record"),
                                                                        ("op", "Change"), ("status", "Result"),
                                                                        ("message", "Message")], max_rows=300))
        (self.messages.ok if not (d.changed_remotely or d.rejected or d.pending) else self.messages.warn)(str(d))
        self.refresh()
        if self.on_changed:
            self.on_changed()
