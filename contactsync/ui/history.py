"""History: runs with their counts, a run's field changes, Undo with confirmation."""

from __future__ import annotations

import ipywidgets as w

from .common import Column, Confirm, Messages, Progress, RowTable, button, esc, guarded, html_table, text


def _when(v, _r) -> str:
    s = text(v)
    return esc(s[:19])


def _flag(v, _r) -> str:
    return "yes" if text(v) in ("True", "1") else ""


class HistoryView(w.VBox):
    title = "History"

    def __init__(self, ws, on_changed=None, max_runs: int = 200, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.max_runs = max_runs
        self._nav_of: dict[str, str] = {}
        self.table = RowTable([
            Column("run_id", "Run", "50px"),
            Column("kind", "Kind", "70px"),
            Column("direction", "Direction", "70px"),
            Column("started_at", "Started", "150px", _when),
            Column("inserted", "Ins.", "45px"),
            Column("modified", "Mod.", "45px"),
            Column("unchanged", "Unch.", "50px"),
            Column("skipped", "Skip.", "45px"),
            Column("failed", "Fail.", "45px"),
            Column("coupled", "Coup.", "50px"),
            Column("uncoupled", "Unc.", "45px"),
            Column("undone", "Undone", "60px", _flag),
            Column("note", "Note", "2fr"),
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
        self._nav_of = {}
        runs = self.ws.runs().sort_values("run_id", ascending=False).head(self.max_runs)
        runs["run_id"] = runs["run_id"].astype(str)
        self.table.set_rows(runs)
        self._selected(self.table.selected)

    @property
    def run_id(self) -> int | None:
        return int(self.table.selected[0]) if self.table.selected else None

    @guarded()
    def _selected(self, keys) -> None:
        self.confirm.close_box()
        if not keys:
            self.undo_button.disabled = True
            self.changes.value = ""
            return
        run = self.table.row(keys[0]) or {}
        self.undo_button.disabled = text(run.get("undone")) in ("True", "1") or run.get("kind") == "undo" \
            or text(run.get("dry_run")) in ("True", "1")
        ch = self.ws.changes(int(keys[0]))
        if ch.empty:
            self.changes.value = f'<div class="cs-hint">Run {esc(keys[0])} changed no field values.</div>'
            return
        ch = ch.copy()
        ch["where"] = ch["side"].map({"nav": "Dynamics NAV", "crm": "Dynamics CRM"}).fillna(ch["side"])
        ch["contact"] = [k if s_ == "nav" else self._nav_no_of(k) for s_, k in zip(ch["side"], ch["key"])]
        cols = [("where", "Side"), ("contact", "NAV No."), ("key", "Record"), ("field", "Field"),
                ("old_value", "Old value"),
                ("new_value", "New value")] + ([("op", "Change")] if "op" in ch else [])
        self.changes.value = (f'<div class="cs-title" style="font-size:14px">Changes of run {esc(keys[0])} '
                              f'({len(ch)})</div>' + html_table(ch, cols, max_rows=300))

    def _nav_no_of(self, crm_id) -> str:
        """The NAV contact coupled to a CRM record named in the change log (blank when none or gone)."""
        key = text(crm_id)
        if key not in self._nav_of:
            try:
                self._nav_of[key] = text(self.ws.crm_contact(key).get("nav_no"))
            except Exception:  # noqa: BLE001 - an account, or a record deleted since
                self._nav_of[key] = ""
        return self._nav_of[key]

    def undo(self) -> None:
        run_id = self.run_id
        if run_id is None:
            self.messages.warn("Select a run first.")
            return
        run = self.table.row(str(run_id)) or {}
        self.confirm.ask(f"Undo run {run_id} ({text(run.get('kind'))}, {text(run.get('note'))})? The old values "
                         "are restored where the records have not changed since.", lambda: self._undo(run_id))

    @guarded(progress="Undoing…")
    def _undo(self, run_id: int) -> None:
        result = self.ws.undo(run_id)
        self.refresh()
        self.messages.ok(str(result))
        if self.on_changed:
            self.on_changed()
