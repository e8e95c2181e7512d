"""Connections: the live sides — test the connection, pull with progress, review the outbox, deliver with
per-record results. Credentials come from azure-identity (the connection's sign-in kind), never from here."""

from __future__ import annotations

import json

import ipywidgets as w
import pandas as pd

from ..changeset import READ_ONLY_FIELDS
from .common import Column, Messages, Progress, button, esc, guarded, html_table, text

__all__ = ["ConnectionsView"]

_STATUS_WORDS = {"pending": "to send", "delivered": "delivered", "changed_remotely": "changed remotely",
                 "rejected": "rejected", "superseded": "not sent (superseded)"}


def _status(v, _r) -> str:
    s = text(v)
    color = {"delivered": "#1b6e20", "changed_remotely": "#8a1010", "rejected": "#8a1010"}.get(s, "#444")
    return f'<span class="cs-outbox-{esc(s)}" style="color:{color}">{esc(_STATUS_WORDS.get(s, s))}</span>'


def _tip(v, _r) -> str:
    return f'<span title="{esc(v)}">{esc(v)}</span>'


def _record(v, r) -> str:
    """The contact's name (the record's GUID or number in the tooltip; the GUID itself when there is no name)."""
    name = text(r.get("name"))
    return (f'<span class="cs-outbox-name" title="{esc(v)}">{esc(name)}</span>' if name
            else f'<span class="cs-outbox-key" title="{esc(v)}">{esc(v)}</span>')


#: per outbox item, the contact's name and NAV No.: a CRM contact's own name and its coupled NAV person's number,
#: a NAV person's name and number (one query over the items shown)
_NAMES_SQL = """
SELECT o.item_id,
       CASE WHEN o.side = 'crm' THEN coalesce(nullif(trim(concat_ws(' ', c.firstname, c.middlename, c.lastname)), ''),
                                              c.fullname)
            ELSE coalesce(nullif(trim(n."Name"), ''), nullif(trim(concat_ws(' ', n."First Name", n."Surname")), ''))
       END AS name,
       CASE WHEN o.side = 'crm' THEN k.nav_no ELSE o.key END AS nav_no
FROM outbox o
LEFT JOIN crm_contact c ON o.side = 'crm' AND lower(c.contactid) = lower(o.key)
LEFT JOIN coupling k ON o.side = 'crm' AND k.entity = 'contact' AND lower(k.crm_id) = lower(o.key)
LEFT JOIN nav_contact n ON n."No." = CASE WHEN o.side = 'crm' THEN k.nav_no ELSE o.key END
WHERE o.item_id IN (SELECT unnest(?::BIGINT[]))
QUALIFY row_number() OVER (PARTITION BY o.item_id ORDER BY k.nav_no NULLS LAST) = 1
"""


def outbox_names(ws, item_ids) -> pd.DataFrame:
    """``item_id, name, nav_no`` of the outbox items ``item_ids`` (a name or number unknown: empty)."""
    names = ws.sql(_NAMES_SQL, [[int(i) for i in item_ids]])
    return names.astype({"item_id": "int64"}).fillna({"name": "", "nav_no": ""})


#: the outbox table's columns (cells escaped by their formatters; a cell's full text in its tooltip)
OUTBOX_COLUMNS = (
    Column("item_id", "#", "44px"), Column("run_id", "Run", "44px"), Column("side", "Side", "44px"),
    Column("key", "Contact", "22%", _record), Column("nav_no", "NAV No.", "100px"), Column("op", "Change", "64px"),
    Column("fields", "Fields", "18%", _tip), Column("status", "Status", "160px", _status),
    Column("message", "Message", "30%", _tip),
)
_OUTBOX_EMPTY = "The outbox is empty: runs on a live side queue their changes here."
_OUTBOX_STYLE = ("<style>.cs-outbox-grid { table-layout: fixed; width: 100%; } .cs-outbox-grid td { overflow: hidden; "
                 "text-overflow: ellipsis; white-space: nowrap; }</style>")


def outbox_html(rows: pd.DataFrame) -> str:
    """The outbox as one HTML table: a row per item (``data-item``: its id), every value escaped."""
    if rows.empty:
        return f'<div class="cs-hint">{esc(_OUTBOX_EMPTY)}</div>'
    cols = "".join(f'<col style="width:{c.width}">' for c in OUTBOX_COLUMNS)
    head = "".join(f"<th>{esc(c.title)}</th>" for c in OUTBOX_COLUMNS)
    body = "".join(f'<tr class="cs-row" data-item="{esc(r["item_id"])}">'
                   + "".join(f'<td title="{esc(c.tip(r))}">{c.cell(r)}</td>' for c in OUTBOX_COLUMNS) + "</tr>"
                   for r in rows.to_dict("records"))
    return f'{_OUTBOX_STYLE}<table class="cs-t cs-outbox-grid"><colgroup>{cols}</colgroup><tr>{head}</tr>{body}</table>'


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
        # one HTML widget, not a widget per row: a refresh replaces its value in one message, so the browser never
        # shows the table between its old rows' closing and its new rows' creation (on a slow machine that left
        # only the header for a minute), and 500 rows are one widget instead of 2,500
        self.outbox = w.HTML()
        self.outbox_rows = pd.DataFrame()
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
            box = box.merge(outbox_names(self.ws, box["item_id"]), on="item_id", how="left").fillna(
                {"name": "", "nav_no": ""})
            box["fields"] = [", ".join(sorted(set(json.loads(v)) - {"@op"} - READ_ONLY_FIELDS.get(s, frozenset())))
                             for s, v in zip(box["side"], box["new_values"])]
            box["item_id"] = box["item_id"].astype(str)
            box["message"] = box["message"].fillna("")
        self.outbox_rows = box
        self.outbox.value = outbox_html(box)
        pending = int((box["status"] == "pending").sum()) if len(box) else 0
        self.deliver_button.description = f"Deliver outbox ({pending})"
        # nothing to deliver, or no connection to test or pull from: the buttons say so by being off
        self.deliver_button.disabled = pending == 0 or conns.empty
        self.test_button.disabled = self.pull_button.disabled = conns.empty
        self.test_button.tooltip = "Connect first (see above)" if conns.empty else "Test connection"
        self.pull_button.tooltip = "Connect first (see above)" if conns.empty else "Pull changes"

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
            out = out.merge(outbox_names(self.ws, out["item_id"]), on="item_id", how="left")
        else:
            out = out.assign(name="", nav_no="")
        self.results.value = (f'<div class="cs-title" style="font-size:14px">Delivery (run {esc(d.run_id)}): '
                              f'{esc(str(d))}</div>' + html_table(
                                  out.fillna({"name": "", "nav_no": ""}),
                                  [("side", "Side"), ("name", "Contact"), ("nav_no", "NAV No."), ("op", "Change"),
                                   ("status", "Result"), ("message", "Message"), ("key", "Record id")], max_rows=300))
        (self.messages.ok if not (d.changed_remotely or d.rejected or d.pending) else self.messages.warn)(str(d))
        self.refresh()
        if self.on_changed:
            self.on_changed()
