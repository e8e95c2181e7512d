"""History: runs with their counts, a run's field changes, Undo with confirmation."""

from __future__ import annotations

import ipywidgets as w

from .common import (
    Column,
    Confirm,
    Messages,
    Progress,
    RowTable,
    button,
    esc,
    field_labels,
    guarded,
    html_table,
    message_html,
    text,
)
from .data import DIRECTION_WORDS, KIND_WORDS, contacts_label, errors_text, run_contacts

__all__ = ["COUNT_WORDS", "HistoryView"]


def _when(v, _r) -> str:
    s = text(v)
    return esc(s[:19])


def _flag(v, _r) -> str:
    return "yes" if text(v) in ("True", "1") else ""


def _what(run) -> str:
    kind = text(run.get("kind"))
    words = KIND_WORDS.get(kind, kind.capitalize())
    d = DIRECTION_WORDS.get(text(run.get("direction")))
    return words + (f" ({d})" if d else "") + (" — dry run" if text(run.get("dry_run")) in ("True", "1") else "")


COUNT_WORDS = [("inserted", "created"), ("modified", "changed"), ("unchanged", "unchanged"), ("skipped", "skipped"),
               ("failed", "failed"), ("coupled", "coupled"), ("uncoupled", "uncoupled")]


def _outcome(run) -> str:
    parts = []
    for col, word in COUNT_WORDS:
        try:
            n = int(run.get(col) or 0)
        except (TypeError, ValueError):
            n = 0
        if n:
            parts.append(f"{n} {word}")
    return ", ".join(parts) or "nothing changed"


def _outcome_html(v, run) -> str:
    s = esc(v)
    return f'<span class="cs-run-failed" style="color:#8a1010">{s}</span>' if text(run.get("failed")) not in (
        "", "0") else s


def _tip(v, _r) -> str:
    """A cell that may be cut: its full text as a tooltip."""
    return f'<span title="{esc(v)}">{esc(v)}</span>'


class HistoryView(w.VBox):
    title = "History"

    def __init__(self, ws, on_changed=None, max_runs: int = 200, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.max_runs = max_runs
        self.table = RowTable([
            Column("run_id", "Run", "50px"),
            Column("what", "What", "1.3fr", _tip),
            Column("started_at", "Started (UTC)", "150px", _when),
            Column("contacts", "Contacts", "1.6fr", _tip),
            Column("outcome", "Result", "1.4fr", _outcome_html),
            Column("undone", "Undone", "60px", _flag),
            Column("note", "Note", "1.2fr", _tip),
        ], key="run_id", on_select=self._selected, empty="No runs yet.")
        self.table.add_class("cs-history-table")
        self.refresh_button = button("Refresh", "cs-history-refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.changes = w.HTML()
        self.changes.add_class("cs-run-changes")
        self.undo_button = button("Undo run", "cs-undo", style="warning")
        self.undo_button.disabled = True
        self.undo_button.on_click(lambda _b: self.undo())
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div><div class="cs-hint">Newest first. Select a run to '
                   'see its field changes.</div>'),
            w.HBox([self.refresh_button]), self.table, w.HBox([self.undo_button]), self.confirm, self.progress, self.messages,
            self.changes,
        ])
        self.add_class("cs-history")
        if autoload:
            self.refresh()

    @guarded()
    def refresh(self) -> None:
        runs = self.ws.runs().sort_values("run_id", ascending=False).head(self.max_runs)
        named = run_contacts(self.ws, int(runs["run_id"].min())) if len(runs) else {}
        runs["contacts"] = [contacts_label(*named.get(int(r), (0, []))) for r in runs["run_id"]]
        recs = runs.to_dict("records")
        runs["what"] = [_what(r) for r in recs]
        runs["outcome"] = [_outcome(r) for r in recs]
        runs["run_id"] = runs["run_id"].astype(str)
        self.table.set_rows(runs)
        self._selected(self.table.selected)

    @property
    def run_id(self) -> int | None:
        return int(self.table.selected[0]) if self.table.selected else None

    @guarded()
    def _selected(self, keys) -> None:
        self.confirm.close_box()
        self.messages.clear()
        if not keys:
            self.undo_button.disabled = True
            self.changes.value = ""
            return
        run = self.table.row(keys[0]) or {}
        self.undo_button.disabled = text(run.get("undone")) in ("True", "1") or run.get("kind") == "undo" \
            or text(run.get("dry_run")) in ("True", "1")
        head = ""
        try:
            failed = int(run.get("failed") or 0)
        except (TypeError, ValueError):
            failed = 0
        if failed:
            errs = self.ws.errors(int(keys[0]))
            head = message_html(f"Run {keys[0]}: {failed} record(s) failed: {errors_text(errs, limit=20)}.", "error")
        ch = self.ws.changes(int(keys[0]))
        if ch.empty:
            what = _outcome(run)
            tail = "" if failed else (f'<div class="cs-hint">Run {esc(keys[0])} changed no field values'
                                      f'{" (" + esc(what) + ")" if what != "nothing changed" else ""}.</div>')
            self.changes.value = head + tail
            return
        ch = ch.copy()
        ch["where"] = ch["side"].map({"nav": "Dynamics NAV", "crm": "Dynamics CRM"}).fillna(ch["side"])
        partner = self._nav_nos(ch.loc[ch["side"] == "crm", "key"].unique().tolist())
        ch["contact"] = ch["key"].where(ch["side"] == "nav", ch["key"].map(partner)).fillna("")
        labels = field_labels(self.ws.mapping)
        ch["field"] = ch["field"].map(lambda f: labels.get(f, f) if isinstance(f, str) else f)
        # the record by name (its NAV contact's, or its CRM contact's / account's); the key when it has none
        names = self._names(ch)
        ch["record"] = [names.get((sd, k)) or text(k) for sd, k in zip(ch["side"], ch["key"])]
        cols = [("where", "Side"), ("contact", "NAV No."), ("record", "Record"), ("field", "Field"),
                ("old_value", "Old value"),
                ("new_value", "New value")] + ([("op", "Change")] if "op" in ch else [])
        self.changes.value = head + (f'<div class="cs-title" style="font-size:14px">Changes of run {esc(keys[0])} '
                              f'({len(ch)})</div>' + html_table(ch, cols, max_rows=300))

    def _names(self, ch) -> dict[tuple[str, str], str]:
        """The names of the records a run's changes name, by (side, key): one query (a run of 20k pairs names
        20k records); none for a record deleted since."""
        keys = [[text(k) for k in ch.loc[ch["side"] == sd, "key"].unique()] for sd in ("nav", "crm", "account")]
        df = self.ws.sql(
            """SELECT 'nav' AS side, "No." AS k, "Name" AS name FROM nav_contact WHERE "No." IN (SELECT unnest(?::VARCHAR[]))
               UNION ALL SELECT 'crm', contactid, coalesce(nullif(trim(fullname), ''), trim(concat_ws(' ', firstname,
                 lastname))) FROM crm_contact WHERE contactid IN (SELECT unnest(?::VARCHAR[]))
               UNION ALL SELECT 'account', accountid, name FROM crm_account WHERE accountid IN
                 (SELECT unnest(?::VARCHAR[]))""", keys)
        return {(sd, k): n for sd, k, n in zip(df["side"], df["k"], df["name"]) if isinstance(n, str) and n.strip()}

    def _nav_nos(self, crm_ids: list) -> dict[str, str]:
        """The NAV contacts coupled to the CRM records a run's changes name: one query for all of them (a run
        of 20k pairs names 20k records; blank when an account or a record deleted since)."""
        if not crm_ids:
            return {}
        df = self.ws.sql("SELECT crm_id, min(nav_no) AS nav_no FROM coupling WHERE crm_id IN "
                         "(SELECT unnest(?::VARCHAR[])) GROUP BY crm_id", [[text(k) for k in crm_ids]])
        return dict(zip(df["crm_id"], df["nav_no"]))

    def undo(self) -> None:
        run_id = self.run_id
        if run_id is None:
            self.messages.warn("Select a run first.")
            return
        run = self.table.row(str(run_id)) or {}
        kind = text(run.get("kind"))
        about = ", ".join(p for p in (KIND_WORDS.get(kind, kind).lower(), DIRECTION_WORDS.get(text(run.get("direction"))),
                                      text(run.get("contacts")), text(run.get("note"))) if p)
        self.confirm.ask(f"Undo run {run_id}{f' ({about})' if about else ''}? The old values are restored where "
                         "the records have not changed since.", lambda: self._undo(run_id))

    @guarded(progress="Undoing…")
    def _undo(self, run_id: int) -> None:
        self.messages.clear()
        result = self.ws.undo(run_id)
        self.refresh()
        self.messages.ok(str(result))
        if self.on_changed:
            self.on_changed()
