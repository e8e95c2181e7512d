"""Coupled Data Synchronization Errors (Business Central's page 5333 ``CRMSkippedRecords``): every coupling whose
latest run failed or skipped it, with BC's actions — Retry, Retry All, Synchronize, Set Up Coupling, Delete
Couplings, Find for Deleted, and for the couplings to a deleted record Restore Records / Remove Coupling.

The list is one engine query (``ws.sync_errors``); the filters are vectorised over that frame and only the shown
page goes to the grid. Each action asks first (naming what it does and to how many), is one run of the engine
(undoable in History) and says what happened in a steward's words.
"""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from ..strategies import DeletionConflict
from .common import Confirm, Debounce, Messages, Pager, Progress, button, clear_area, guarded, text
from .data import errors_text, result_text
from .dialogs import CouplingDialog
from .grid import GridTable, frame_query

__all__ = ["ErrorsView", "REASON_WORDS", "STATE_OPTIONS", "deleted_text", "grid_height", "named", "with_run"]

#: the State filter: (label, ``ws.sync_errors(state=...)``)
STATE_OPTIONS = [("All", ""), ("Failed", "failed"), ("Skipped", "skipped")]
#: the engine's ``reason`` in a steward's words
REASON_WORDS = {
    "error": "Failed",
    "deleted": "Coupled to a deleted record",
    "excluded": "Skipped: the same failure in a row (Retry)",
    "conflict": "Skipped: changed on both sides (a conflict)",
    "filter": "Skipped: left out by the mapping's filters",
}
DELETED_WORDS = {"nav": "Dynamics NAV", "crm": "Dynamics CRM", "both": "both sides"}
SYNC_OPTIONS = [("Send the NAV data to Dynamics CRM", "push"), ("Get the CRM data into Dynamics NAV", "pull")]


def with_run(msg: str, run_id) -> str:
    """``msg`` with the run that did it: "… (run 12; undo it in History)."."""
    return f"{msg.rstrip('. ')} (run {run_id}; undo it in History)."


def grid_height(rows: int, most: int = 300) -> str:
    """A grid just tall enough for ``rows`` rows, the header and the horizontal scroll bar its eight columns need
    (17 px: without it the bar covered the last row), at most ``most`` px."""
    return f"{min(most, 34 + 17 + 22 * max(1, rows))}px"


def named(nos, names: dict, limit: int = 5) -> str:
    """``CT000002 Anna Smith, CT000005 Bo Li and 3 more``."""
    nos = list(nos)
    shown = ", ".join(f"{no} {text(names.get(no))}".strip() for no in nos[:limit])
    return shown + (f" and {len(nos) - limit:,} more" if len(nos) > limit else "")


def deleted_text(result) -> tuple[str, str]:
    """What Restore Records / Remove Coupling did (``ws.resolve_deleted``'s result), with its message kind."""
    d = result.deletions
    if d is None or d.empty:
        return "warn", "No coupling to a deleted record was handled (they may have been handled already)."
    counts = d["action"].value_counts()
    parts = []
    if counts.get("restored"):
        parts.append(f"{int(counts['restored'])} record(s) restored (re-created from the other side and coupled)")
    if counts.get("uncoupled"):
        parts.append(f"{int(counts['uncoupled'])} coupling(s) to a deleted record removed")
    kind = "ok"
    failed = d[d["action"] == "not restored"]
    if len(failed):
        kind = "error" if not parts else "warn"
        parts.append(f"{len(failed)} not restored: {errors_text(failed)}")
    return kind, "; ".join(parts) + "."


class ErrorsView(w.VBox):
    title = "Synchronization Errors"

    def __init__(self, ws, on_changed=None, page_size: int = 200, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.page_size = page_size
        self.all: pd.DataFrame = pd.DataFrame()
        self._shown: pd.DataFrame = pd.DataFrame()
        self.state = w.Dropdown(options=STATE_OPTIONS, value="", description="State", layout=w.Layout(width="200px"))
        self.state.add_class("cs-err-state")
        self.search = w.Text(placeholder="No., name, message… (as you type)", description="Search",
                             continuous_update=True, layout=w.Layout(width="320px"))
        self.search.add_class("cs-err-search")
        self.refresh_button = button("Refresh", "cs-err-refresh")
        self.summary = w.HTML()
        self.summary.add_class("cs-err-summary")
        self.select_all = w.Checkbox(value=False, description="Select all filtered records (every page)", indent=False)
        self.select_all.add_class("cs-err-select-all")
        self.table = GridTable([
            ("nav_name", "NAV contact"), ("crm_name", "CRM contact"), ("state_words", "State"),
            ("message", "Error message"), ("reason_words", "Why"), ("at", "Last run (UTC)"), ("run_id", "Run"),
        ], key="nav_no", key_title="NAV No.", multi=True, on_select=self._selected, height="300px",
            max_width=640,  # the message is what a steward reads: wide enough for most in full (a click shows any)
            on_query=self.apply_filter, on_values=self._values,  # headers sort / filter every page
            empty="No synchronization errors: every coupled record synchronized in its latest run.",
            widths={"NAV contact": 160, "CRM contact": 160, "State": 80, "Why": 270, "Error message": 420,
                    "Last run (UTC)": 150, "Run": 50})
        self.table.add_class("cs-err-table")
        self.pager = Pager(page_size, self._page)
        self.retry_button = button("Retry", "cs-err-retry", tooltip="Include the selected Skipped records in the "
                                   "next run again")
        self.retry_all_button = button("Retry All", "cs-err-retry-all",
                                       tooltip="Include every Skipped record in the next run again")
        self.sync_direction = w.Dropdown(options=SYNC_OPTIONS, value="push", layout=w.Layout(width="290px"))
        self.sync_direction.add_class("cs-err-sync-direction")
        self.sync_button = button("Synchronize", "cs-err-sync", style="primary")
        self.coupling_button = button("Set Up Coupling", "cs-err-coupling")
        self.delete_button = button("Delete Couplings", "cs-err-delete", style="warning")
        self.find_button = button("Find for Deleted", "cs-err-find-deleted")
        self.retry_button.on_click(lambda _b: self.retry())
        self.retry_all_button.on_click(lambda _b: self.retry_all())
        self.sync_button.on_click(lambda _b: self.synchronize())
        self.coupling_button.on_click(lambda _b: self.set_up_coupling())
        self.delete_button.on_click(lambda _b: self.delete_couplings())
        self.find_button.on_click(lambda _b: self.find_for_deleted())
        # Find for Deleted: the couplings whose record is gone, with Restore Records / Remove Coupling
        self.deleted: pd.DataFrame = pd.DataFrame()
        self.deleted_table = GridTable([
            ("entity_words", "Type"), ("nav_name", "NAV contact"), ("crm_id", "CRM record"),
            ("crm_name", "CRM name"), ("deleted_words", "Deleted in"),
        ], key="nav_no", key_title="NAV No.", multi=True, on_select=lambda _k: self._deleted_selected(),
            height="200px", empty="No coupling to a deleted record.",
            widths={"Type": 80, "NAV contact": 170, "CRM record": 280, "CRM name": 170, "Deleted in": 120})
        self.deleted_table.add_class("cs-deleted-table")
        self.deleted_all = w.Checkbox(value=False, description="Select all", indent=False)
        self.deleted_all.add_class("cs-deleted-select-all")
        self.deleted_all.observe(self._deleted_select_all, names="value")
        self.restore_button = button("Restore Records", "cs-deleted-restore", style="primary",
                                     tooltip="Re-create the deleted record from the other side and couple it")
        self.remove_button = button("Remove Coupling", "cs-deleted-remove", style="warning",
                                    tooltip="Delete the coupling to the deleted record")
        self.restore_button.on_click(lambda _b: self.resolve_deleted(DeletionConflict.RESTORE))
        self.remove_button.on_click(lambda _b: self.resolve_deleted(DeletionConflict.REMOVE_COUPLING))
        self.deleted_note = w.HTML()
        self.deleted_box = w.VBox([
            w.HTML('<div class="cs-title" style="font-size:14px">Couplings to deleted records</div>'),
            self.deleted_note, self.deleted_all, self.deleted_table, w.HBox([self.restore_button, self.remove_button]),
        ], layout=w.Layout(display="none"))
        self.deleted_box.add_class("cs-deleted")
        self.deleted_box.add_class("cs-box")
        self.dialog_area = w.VBox([])
        self.dialog: CouplingDialog | None = None
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._debounce = Debounce(self.apply_filter)
        self.search.observe(lambda _c: self._debounce(), names="value")
        self.state.observe(lambda _c: self.apply_filter(), names="value")
        self.select_all.observe(self._select_all, names="value")
        super().__init__([
            w.HTML('<div class="cs-title">Coupled Data Synchronization Errors</div><div class="cs-hint">Coupled '
                   'records whose latest synchronization failed or skipped them. Select records, then Retry, '
                   'Synchronize, Set Up Coupling or Delete Couplings; Find for Deleted lists the couplings whose '
                   'record was deleted.</div>'),
            w.HBox([self.state, self.search, self.refresh_button], layout=w.Layout(align_items="center")),
            self.summary, w.HBox([self.select_all, self.pager], layout=w.Layout(align_items="center")),
            self.table,
            w.HBox([self.retry_button, self.retry_all_button, self.sync_direction, self.sync_button,
                    self.coupling_button, self.delete_button, self.find_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.confirm, self.progress, self.messages, self.dialog_area, self.deleted_box,
        ])
        self.add_class("cs-errors")
        if autoload:
            self.refresh()

    # -- reading ---------------------------------------------------------------------------------------------
    @guarded(progress="Reading the errors…")
    def refresh(self) -> None:
        df = self.ws.sync_errors()
        df["state_words"] = df["state"].map({"failed": "Failed", "skipped": "Skipped"}).fillna(df["state"])
        df["reason_words"] = df["reason"].map(REASON_WORDS).fillna(df["reason"])
        # vectorised over every row (22k errors at 200k persons): only the shown page is turned into text cells
        df["at"] = pd.to_datetime(df["at"]).dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
        df["run_id"] = df["run_id"].astype("Int64").astype("string").fillna("")
        self.all = df
        self.apply_filter()
        if self.deleted_box.layout.display != "none":
            self._load_deleted()

    def filtered(self, skip: str | None = None) -> pd.DataFrame:
        d = self.all
        if d.empty:
            return d
        keep = pd.Series(True, index=d.index)
        if self.state.value:
            keep &= d["state"] == self.state.value
        words = self.search.value.strip().lower()
        if words:
            hay = d["nav_no"].astype(str)
            for col in ("nav_name", "crm_name", "crm_id", "message", "reason_words"):
                hay = hay + " " + d[col].fillna("").astype(str)
            hay = hay.str.lower()
            keep &= hay.str.contains(words, regex=False)
        # the header sort and filters, over every record the State and Search keep (bulk actions take the same)
        return frame_query(d[keep], self.table.order(), self.table.filters(), "nav_no", skip=skip)

    def _values(self, column: str) -> list[str]:
        """A header filter's values: over every record the other filters keep."""
        d = self.filtered(skip=column)
        return sorted({text(v) for v in d[column]}, key=lambda v: (v.lower(), v)) if column in d else []

    def apply_filter(self) -> None:
        self.confirm.close_box()
        self._shown = self.filtered()
        self.table.show_query(len(self._shown), "record")
        total, shown = len(self.all), len(self._shown)
        self.table.empty = ("No synchronization errors: every coupled record synchronized in its latest run."
                            if not total else f"No error matches the filter (clear State or Search to see all "
                                              f"{total:,}).")
        skipped = int((self.all["state"] == "skipped").sum()) if total else 0
        self.summary.value = (f'<div class="cs-hint">{shown:,}{f" of {total:,}" if shown != total else ""} '
                              f'record(s); {total - skipped:,} failed and {skipped:,} skipped in all.</div>')
        self.select_all.value = False
        self.pager.reset()
        self._page()

    def _page(self) -> None:
        start = self.pager.offset
        page = self._shown.iloc[start:start + self.page_size]
        self.table.grid.layout.height = grid_height(len(page))
        self.table.set_rows(page)
        if self.select_all.value:
            self.table.select_all(True)
        self.pager.update(len(self._shown), len(page))
        self._selected(self.table.selected)

    def _select_all(self, change) -> None:
        self.table.select_all(change["new"])
        self._selected(self.table.selected)

    def selection(self) -> list[str]:
        """The NAV numbers an action applies to: every filtered record with "Select all", else the chosen."""
        if self.select_all.value:
            return self._shown["nav_no"].astype(str).tolist()
        return list(self.table.selected)

    def _selected(self, keys) -> None:
        n = len(self.selection())
        for b in (self.retry_button, self.sync_button, self.delete_button):
            b.disabled = not n
        self.coupling_button.disabled = n != 1
        self.retry_all_button.disabled = self.all.empty or not bool(self.all["excluded"].any())
        what = f" ({n:,})" if n else ""
        self.retry_button.description = f"Retry{what}"
        self.sync_button.description = f"Synchronize{what}"
        self.delete_button.description = f"Delete Couplings{what}"

    def _names(self, nos) -> dict:
        d = self.all[self.all["nav_no"].isin(list(nos))] if len(self.all) else self.all
        return dict(zip(d["nav_no"], d["nav_name"].map(text))) if len(d) else {}

    def _done(self, msg: str, kind: str = "ok") -> None:
        self.refresh()
        self.messages.show(msg, kind)
        if self.on_changed:
            self.on_changed()

    def _need_selection(self) -> list[str] | None:
        self.messages.clear()
        self.close_dialog()
        nos = self.selection()
        if not nos:
            self.messages.warn("Select one or more records first.")
            return None
        return nos

    # -- actions ---------------------------------------------------------------------------------------------
    def retry(self) -> None:
        nos = self._need_selection()
        if nos is None:
            return
        sel = self.all[self.all["nav_no"].isin(nos)]
        skipped = sel.loc[sel["excluded"].astype(bool), "nav_no"].tolist()
        if not skipped:
            self.messages.warn(f"None of the {len(nos):,} selected record(s) is Skipped after repeated failures: "
                               "the next run synchronizes them anyway. Use Synchronize to run them now.")
            return
        self.confirm.ask(f"Retry {len(skipped):,} Skipped record(s) — {named(skipped, self._names(skipped))}? The "
                         "next synchronization includes them again. One run (undo it in History).",
                         lambda: self._retry(skipped))

    def retry_all(self) -> None:
        self.messages.clear()
        self.close_dialog()
        n = int(self.all["excluded"].astype(bool).sum()) if len(self.all) else 0
        if not n:
            self.messages.warn("No record is Skipped after repeated failures: nothing to retry.")
            return
        self.confirm.ask(f"Retry all {n:,} Skipped record(s)? The next synchronization includes them again. One "
                         "run (undo it in History).", lambda: self._retry(None))

    @guarded(progress="Retrying…")
    def _retry(self, nos: list[str] | None) -> None:
        result = self.ws.retry(nos)
        self._done(with_run(result.message, result.run_id))

    @guarded(progress="Checking what synchronizing would do…")
    def synchronize(self) -> None:
        nos = self._need_selection()
        if nos is None:
            return
        direction = self.sync_direction.value
        where, src = ("Dynamics CRM", "Dynamics NAV") if direction == "push" else ("Dynamics NAV", "Dynamics CRM")
        # what it would do, before it does it: a dry run of the same run (nothing is kept)
        _kind, planned = result_text(self.ws.sync(direction, nos=nos, force=True, dry_run=True), planned=True)
        self.confirm.ask(f"Synchronize {len(nos):,} record(s) — {named(nos, self._names(nos))}: the mapped fields in "
                         f"{where} are overwritten with the values from {src}. {planned} One run (undo it in "
                         "History). Continue?", lambda: self._sync(direction, nos))

    @guarded(progress="Synchronizing…")
    def _sync(self, direction: str, nos: list[str]) -> None:
        result = self.ws.sync(direction, nos=nos, force=True)
        kind, msg = result_text(result)
        self._done(with_run(msg, result.run_id), kind)

    def delete_couplings(self) -> None:
        nos = self._need_selection()
        if nos is None:
            return
        self.confirm.ask(f"Delete the couplings of {len(nos):,} record(s) — {named(nos, self._names(nos))}? No "
                         "contact is deleted in either system; they are no longer synchronized. One run (undo it "
                         "in History).", lambda: self._delete(nos))

    @guarded(progress="Deleting the couplings…")
    def _delete(self, nos: list[str]) -> None:
        result = self.ws.delete_couplings(nos)
        self._done(with_run(result.message.removesuffix(" (undo it in History)."), result.run_id))

    @guarded()
    def set_up_coupling(self) -> CouplingDialog | None:
        nos = self._need_selection()
        if nos is None:
            return None
        if len(nos) != 1:
            self.messages.warn("Set Up Coupling works on one record: select one.")
            return None
        self.dialog = CouplingDialog(self.ws, nos[0], on_done=self._dialog_done, on_cancel=self.close_dialog)
        self.dialog_area.children = [self.dialog]
        return self.dialog

    def close_dialog(self) -> None:
        self.dialog = None
        clear_area(self.dialog_area)

    def _dialog_done(self, result) -> None:
        msgs = self.dialog.messages if self.dialog is not None else None
        kind, msg = (msgs.kind or "ok", msgs.text) if msgs is not None and msgs.text else ("ok", str(result))
        self.close_dialog()
        self._done(msg, kind)

    # -- Find for Deleted ------------------------------------------------------------------------------------
    @guarded(progress="Looking for couplings to deleted records…")
    def find_for_deleted(self) -> None:
        self.messages.clear()
        self.close_dialog()
        self.deleted_box.layout.display = "flex"
        self._load_deleted()
        n = len(self.deleted)
        self.messages.show(f"Find for Deleted: {n:,} coupling(s) to a deleted record." if n else
                           "Find for Deleted: no coupling to a deleted record.", "info")

    def _load_deleted(self) -> None:
        d = self.ws.find_for_deleted()
        d["entity_words"] = d["entity"].map({"contact": "Person", "company": "Company"}).fillna(d["entity"])
        d["deleted_words"] = d["deleted"].map(DELETED_WORDS).fillna(d["deleted"])
        self.deleted = d
        companies = int((d["entity"] == "company").sum())
        self.deleted_note.value = (
            '<div class="cs-hint">Restore Records re-creates the deleted record from the other side and couples it; '
            'Remove Coupling deletes the coupling. Each is one run (undo it in History).'
            + (f" {companies} compan{'y' if companies == 1 else 'ies'}: delete its coupling on the company's card "
               "(contactsync creates no accounts or companies)." if companies else "") + "</div>")
        self.deleted_all.value = False
        self.deleted_table.grid.layout.height = grid_height(len(d), 200)
        self.deleted_table.set_rows(d, keep_selection=False)
        self._deleted_selected()

    def _deleted_select_all(self, change) -> None:
        self.deleted_table.select_all(change["new"])
        self._deleted_selected()

    def deleted_selection(self) -> list[str]:
        keys = list(self.deleted_table.selected)
        d = self.deleted
        return d.loc[d["nav_no"].isin(keys) & (d["entity"] == "contact"), "nav_no"].tolist() if len(d) else []

    def _deleted_selected(self) -> None:
        n = len(self.deleted_selection())
        self.restore_button.disabled = self.remove_button.disabled = not n
        self.restore_button.description = "Restore Records" + (f" ({n:,})" if n else "")
        self.remove_button.description = "Remove Coupling" + (f" ({n:,})" if n else "")

    def resolve_deleted(self, strategy: DeletionConflict) -> None:
        self.messages.clear()
        nos = self.deleted_selection()
        if not nos:
            self.messages.warn("Select one or more persons in the list of couplings to deleted records first.")
            return
        names = dict(zip(self.deleted["nav_no"], self.deleted["nav_name"].map(text)))
        if strategy == DeletionConflict.RESTORE:
            what = ("Restore {n} record(s) — {who}: each deleted record is created again from the other side and "
                    "coupled.")
        else:
            what = "Remove the coupling of {n} record(s) — {who} — to the deleted record?"
        self.confirm.ask(what.format(n=f"{len(nos):,}", who=named(nos, names)) + " One run (undo it in History).",
                         lambda: self._resolve(strategy, nos))

    @guarded(progress="Handling the deleted records…")
    def _resolve(self, strategy: DeletionConflict, nos: list[str]) -> None:
        result = self.ws.resolve_deleted(strategy.value, nos)
        kind, msg = deleted_text(result)
        self._done(with_run(msg, result.run_id), kind)
        self._load_deleted()
