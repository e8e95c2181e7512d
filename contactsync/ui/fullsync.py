"""Full synchronization review (Business Central's page 5373 *Dataverse Full Synch. Review*): one row per table
mapping (accounts, contacts) with the uncoupled records on each side, the engine's recommendation and what it
does; Preview (a dry run: nothing is kept) and Run (one undoable run), with the result on the row.
"""

from __future__ import annotations

import ipywidgets as w

from ..fullsync import Recommendation
from .common import Column, Confirm, Messages, Progress, RowTable, button, esc, guarded, text
from .data import errors_text

__all__ = ["ENTITY_WORDS", "FullSyncView", "full_sync_text"]

ENTITY_WORDS = {"accounts": "Accounts (NAV companies ↔ CRM accounts)", "contacts": "Contacts (NAV persons ↔ CRM contacts)"}


def _wrap(value, _row) -> str:
    """A cell whose text wraps (this table has a row per table mapping: the whole text fits)."""
    return f'<span style="white-space: normal">{esc(value)}</span>'


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def full_sync_text(result, row: dict) -> tuple[str, str]:
    """A full-sync result (``ws.run_full_sync``) in a steward's words, with its kind for :class:`Messages`.
    ``row``: the review row it was run from (the uncoupled counts before the run)."""
    planned = bool(result.dry_run)
    will = "will be " if planned else ""
    were = "will not be" if planned else "were not"
    rec = result.recommendation
    if rec == Recommendation.NONE:
        return "info", "No Records Found: every record is coupled; nothing to do."
    if result.entity == "accounts":
        parts = [f"{_plural(result.coupled, 'NAV company', 'NAV companies')} {will}coupled to the CRM account of the "
                 "same name."]
        left = result.left
        kind = "ok"
        if left is not None and len(left):
            kind = "warn"
            named = "; ".join(f"{text(r['key'])} {text(r['name'])} ({text(r['reason'])})"
                              for r in left.head(5).to_dict("records"))
            more = f"; and {len(left) - 5:,} more" if len(left) > 5 else ""
            parts.append(f"{len(left):,} left uncoupled: {named}{more}. Couple them on the company's card.")
        return kind, " ".join(parts)
    if rec == Recommendation.COUPLE:
        left = max(0, int(row.get("nav_uncoupled") or 0) - int(result.coupled))
        msg = (f"{_plural(result.coupled, 'NAV person', 'NAV persons')} {will}coupled to CRM contacts matched on "
               "E-Mail, then First Name + Surname + company.")
        if left:
            msg += (f" {_plural(left, 'NAV person', 'NAV persons')} {'will stay' if planned else 'stayed'} uncoupled "
                    "(no single match): couple them in Review matches or on the card.")
        return ("ok" if not left else "warn"), msg
    what = "CRM contacts from NAV persons" if int(row.get("nav_uncoupled") or 0) else "NAV persons from CRM contacts"
    msg = f"{result.inserted:,} {what} {will}created and coupled."
    failed = int(getattr(result, "failed", 0) or 0)
    if failed:
        errs = getattr(result, "errors", None)
        why = f": {errors_text(errs)}" if errs is not None and len(errs) else ""
        msg += f" {failed:,} {were} created{why}."
        return ("error" if not result.inserted else "warn"), msg
    return "ok", msg


class FullSyncView(w.VBox):
    title = "Full Synchronization"

    def __init__(self, ws, on_changed=None, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.results: dict[str, tuple[str, str]] = {}  # entity -> (kind, text) of its last preview or run
        self.rows: dict[str, dict] = {}
        self.table = RowTable([
            Column("table", "Table mapping", "1.2fr", _wrap),
            Column("nav_uncoupled", "Uncoupled in NAV", "150px"), Column("crm_uncoupled", "Uncoupled in CRM", "150px"),
            Column("coupled", "Coupled", "70px"), Column("recommendation", "Recommendation", "1fr"),
            Column("action", "What it does", "1.6fr", _wrap), Column("result", "Result", "2fr", self._result_cell),
        ], key="entity", on_select=self._selected, empty="No table mappings.")
        self.table.add_class("cs-fs-table")
        self.refresh_button = button("Refresh", "cs-fs-refresh")
        self.preview_button = button("Preview (dry run)", "cs-fs-preview")
        self.run_button = button("Run", "cs-fs-run", style="primary")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.preview_button.on_click(lambda _b: self.preview())
        self.run_button.on_click(lambda _b: self.run())
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        super().__init__([
            w.HTML('<div class="cs-title">Full Synchronization Review</div><div class="cs-hint">Per table mapping, '
                   'what is left uncoupled and what to do: Couple Records when both sides have records, Full '
                   'Synchronization when only one side has them. Select a row, Preview it (nothing is kept), then '
                   'Run it.</div>'),
            w.HBox([self.refresh_button]), self.table,
            w.HBox([self.preview_button, self.run_button]), self.confirm, self.progress, self.messages,
        ])
        self.add_class("cs-fullsync")
        if autoload:
            self.refresh()

    def _result_cell(self, value, row) -> str:
        kind, msg = self.results.get(text(row.get("entity")), ("", ""))
        return (f'<span class="cs-fs-result cs-fs-{esc(kind)}" style="white-space: normal">{esc(msg)}</span>'
                if msg else "")

    @guarded(progress="Counting the uncoupled records…")
    def refresh(self) -> None:
        df = self.ws.full_sync_review()
        recs = df.to_dict("records")
        for r in recs:
            r["table"] = ENTITY_WORDS.get(r["entity"], r["entity"])
            r["result"] = self.results.get(r["entity"], ("", ""))[1]
        self.rows = {r["entity"]: r for r in recs}
        self.table.set_rows(recs)
        self._selected(self.table.selected)

    def _runnable(self, row: dict | None) -> str:
        """Why ``row`` cannot run ("" when it can)."""
        if row is None:
            return "Select a table mapping first."
        if row["recommendation"] == Recommendation.NONE:
            return "No Records Found: every record is coupled; nothing to run."
        if row["entity"] == "accounts" and row["recommendation"] == Recommendation.FULL:
            side = "CRM accounts" if row["nav_uncoupled"] else "NAV companies"
            return (f"Full Synchronization of accounts: only one side has uncoupled records, and contactsync creates no "
                    f"{side}. Create them in that system, import its export into the workspace, then Refresh: the "
                    "review then recommends Couple Records.")
        return ""

    def _selected(self, keys) -> None:
        row = self.rows.get(keys[0]) if keys else None
        why = self._runnable(row)
        self.preview_button.disabled = self.run_button.disabled = bool(why)
        self.run_button.description = f"Run {row['recommendation']}" if row and not why else "Run"
        if row is not None and why:
            self.messages.show(why, "info")
        else:
            self.messages.clear()

    def _row(self) -> dict | None:
        keys = self.table.selected
        row = self.rows.get(keys[0]) if keys else None
        why = self._runnable(row)
        if why:
            self.messages.warn(why)
            return None
        return row

    def preview(self) -> None:
        row = self._row()
        if row is not None:
            self._run(row, dry_run=True)

    def run(self) -> None:
        row = self._row()
        if row is None:
            return
        self.confirm.ask(f"Run {row['recommendation']} for {ENTITY_WORDS[row['entity']].lower()}: {row['action']} "
                         f"({_plural(int(row['nav_uncoupled']), 'uncoupled record', 'uncoupled records')} in NAV, "
                         f"{int(row['crm_uncoupled']):,} in CRM)? One run (undo it in History).",
                         lambda: self._run(row, dry_run=False))

    @guarded(progress="Running…")
    def _run(self, row: dict, *, dry_run: bool) -> None:
        self.confirm.close_box()
        result = self.ws.run_full_sync(row["entity"], dry_run=dry_run)
        kind, msg = full_sync_text(result, row)
        head = "Preview (nothing was kept): " if dry_run else ""
        self.results[row["entity"]] = (kind, head + msg)
        self.refresh()
        if result.run_id is not None and not dry_run:
            msg = f"{msg.rstrip('. ')} (run {result.run_id}; undo it in History)."
        self.messages.show(head + msg, kind)
        if not dry_run and self.on_changed:
            self.on_changed()
