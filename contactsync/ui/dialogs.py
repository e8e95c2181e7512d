"""The per-contact dialogs: Dynamics CRM Contact Coupling and Synchronize Now."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import pandas as pd

from .common import Confirm, Messages, Progress, button, esc, field_labels, guarded, html_table, message_html, text
from .data import DEST_CHANGED, compare_pair, crm_label, errors_text, result_text

__all__ = ["CompanyCouplingDialog", "CouplingDialog", "NO_SYNC", "SYNC_AFTER_OPTIONS", "SYNC_NOW_OPTIONS",
           "SyncNowDialog", "account_label", "changes_html", "coupled_records_html"]

NO_SYNC = "no"  # a Dropdown whose value is None shows blank: "No" needs a value of its own
SYNC_AFTER_OPTIONS = [("No", NO_SYNC), ("Yes - Use the Dynamics NAV Data", "push"),
                      ("Yes - Use the Dynamics CRM Data", "pull")]
SYNC_NOW_OPTIONS = [("Send updated data to Dynamics CRM", "push"), ("Get updated data from Dynamics CRM", "pull")]


def coupled_records_html(df: pd.DataFrame | None, *, new: bool = False) -> str:
    """The Coupled Records FastTab: field | Dynamics NAV Contact | Dynamics CRM Contact, differences marked."""
    if df is None or df.empty:
        return '<div class="cs-hint">Choose a CRM contact to see its values next to the NAV contact.</div>'
    rows = []
    for r in df.to_dict("records"):
        differs = bool(r.get("differs")) and not new
        crm = '<i class="cs-hint">(new contact)</i>' if new else esc(r.get("crm_value"))
        mark = ' <span title="differs">≠</span>' if differs else ""
        rows.append(f'<tr{" class=cs-diff" if differs else ""}><td>{esc(r.get("nav_field"))}{mark}</td>'
                    f'<td>{esc(r.get("nav_value"))}</td><td>{esc(r.get("crm_field"))}</td><td>{crm}</td></tr>')
    n = 0 if new else int(df["differs"].fillna(False).astype(bool).sum())
    summary = ("" if new else f'<div class="cs-hint">{n} of {len(df)} mapped field(s) differ '
               f'(highlighted).</div>')
    return ('<div class="cs-title" style="font-size:14px">Coupled Records</div>' + summary +
            '<table class="cs-t cs-coupled-records-table"><tr><th>Field</th><th>Dynamics NAV Contact</th>'
            '<th>CRM attribute</th><th>Dynamics CRM Contact</th></tr>' + "".join(rows) + "</table>")


class CouplingDialog(w.VBox):
    """Dynamics CRM Contact Coupling for NAV contact ``no``. ``on_done(result)`` after OK succeeded,
    ``on_cancel()`` after Cancel."""

    def __init__(self, ws, no: str, on_done: Callable | None = None, on_cancel: Callable | None = None,
                 picker_size: int = 50):
        self.ws = ws
        self.no = no
        self.on_done = on_done
        self.on_cancel = on_cancel
        self.picker_size = picker_size
        self.messages = Messages()
        self.progress = Progress()
        self.confirm = Confirm()
        nav = ws.nav_contact(no)
        self.current_crm_id = text(nav.get("crm_id")) or None
        self.search = w.Text(placeholder="Search CRM contacts…", description="Contact", continuous_update=False,
                             layout=w.Layout(width="420px"))
        self.search.add_class("cs-coupling-search")
        self.picker = w.Select(options=[], rows=8, layout=w.Layout(width="820px"))
        self.picker.add_class("cs-coupling-picker")
        self.create_new = w.Checkbox(value=False, description="Create New Contact", indent=False)
        self.create_new.add_class("cs-create-new")
        self.sync_after = w.Dropdown(options=SYNC_AFTER_OPTIONS, value=NO_SYNC, description="Synchronize After Coupling",
                                     style={"description_width": "190px"}, layout=w.Layout(width="480px"))
        self.sync_after.add_class("cs-sync-after")
        self.coupled_records = w.HTML()
        self.coupled_records.add_class("cs-coupled-records")
        self.ok = button("OK", "cs-coupling-ok", style="primary", width="90px")
        self.cancel = button("Cancel", "cs-coupling-cancel", width="90px")
        self.ok.on_click(lambda _b: self.submit())
        self.cancel.on_click(lambda _b: self.on_cancel and self.on_cancel())
        self.search.observe(lambda _c: self.refresh_picker(), names="value")
        self.picker.observe(lambda _c: self.refresh_records(), names="value")
        self.create_new.observe(self._create_new_changed, names="value")
        name = text(nav.get("Name"))
        status = (f"Currently coupled to the CRM contact {esc(crm_label(ws.crm_contact(self.current_crm_id)))}."
                  if self.current_crm_id else "Not coupled yet.")
        super().__init__([
            w.HTML(f'<div class="cs-title">Dynamics CRM Contact Coupling — {esc(no)} {esc(name)}</div>'
                   f'<div class="cs-hint">{status}</div>'),
            w.HBox([self.search]), self.picker, self.create_new, self.sync_after,
            self.coupled_records, w.HBox([self.ok, self.cancel]), self.confirm, self.progress, self.messages,
        ])
        self.add_class("cs-coupling-dialog")
        self.add_class("cs-box")
        self.refresh_picker()

    @property
    def sync_after_direction(self) -> str | None:
        """``None`` (No), ``"push"`` (Use the Dynamics NAV Data) or ``"pull"`` (Use the Dynamics CRM Data)."""
        return None if self.sync_after.value == NO_SYNC else self.sync_after.value

    @property
    def crm_id(self) -> str | None:
        return self.picker.value

    @guarded()
    def refresh_picker(self) -> None:
        df = self.ws.crm_contacts(search=self.search.value.strip() or None, limit=self.picker_size)
        options = [(crm_label(r), r["contactid"]) for r in df.to_dict("records")]
        keep = self.picker.value
        if self.current_crm_id and not any(v == self.current_crm_id for _, v in options) and not self.search.value:
            cur = self.ws.crm_contact(self.current_crm_id)
            options.insert(0, (crm_label(cur), self.current_crm_id))
        self.picker.options = options
        values = [v for _, v in options]
        if keep in values:
            self.picker.value = keep
        elif self.current_crm_id in values and not self.search.value:
            self.picker.value = self.current_crm_id
        else:
            self.picker.value = None
        self.refresh_records()

    def _create_new_changed(self, change) -> None:
        if change["new"]:
            self.sync_after.value = "push"
            self.sync_after.disabled = True
            self.picker.disabled = self.search.disabled = True
        else:
            self.sync_after.disabled = False
            self.sync_after.value = NO_SYNC
            self.picker.disabled = self.search.disabled = False
        self.refresh_records()

    @guarded()
    def refresh_records(self) -> None:
        if self.create_new.value:
            df = compare_pair(self.ws, self.no, self.current_crm_id) if self.current_crm_id else None
            if df is None:
                nav = self.ws.nav_contact(self.no)
                df = pd.DataFrame([{"nav_field": f.nav, "crm_field": f.crm, "nav_value": nav.get(f.nav),
                                    "crm_value": None, "differs": False} for f in self.ws.mapping.fields])
            self.coupled_records.value = coupled_records_html(df, new=True)
            return
        if not self.crm_id:
            self.coupled_records.value = coupled_records_html(None)
            return
        self.coupled_records.value = coupled_records_html(compare_pair(self.ws, self.no, self.crm_id))

    @guarded()
    def submit(self) -> None:
        if self.create_new.value:
            self._couple(None, create=True, replace=False)
            return
        crm_id = self.crm_id
        if not crm_id:
            self.messages.warn("Select the CRM contact to couple to, or check Create New Contact.")
            return
        if crm_id == self.current_crm_id:
            if self.sync_after.value == NO_SYNC:
                self.messages.show(f"{self.no} is already coupled to this CRM contact; nothing to change.", "info")
                return
            self._resync(self.sync_after.value)
            return
        other = text(self.ws.crm_contact(crm_id).get("nav_no")) or None
        notes = []
        if self.current_crm_id:
            notes.append(f"NAV contact {self.no} is coupled to CRM contact {self.current_crm_id}; that coupling "
                         "will be deleted.")
        if other:
            notes.append(f"The CRM contact is coupled to NAV contact {other}; that coupling will be deleted.")
        if notes:
            self.confirm.ask(" ".join(notes) + " Do you want to continue?",
                             lambda: self._couple(crm_id, create=False, replace=True))
            return
        self._couple(crm_id, create=False, replace=False)

    @guarded(progress="Coupling…")
    def _couple(self, crm_id, *, create: bool, replace: bool) -> None:
        if create:
            result = self.ws.couple(self.no, create_new=True, sync_after="push")
        else:
            result = self.ws.couple(self.no, crm_id, sync_after=self.sync_after_direction,
                                    replace=replace)
        self.messages.ok(str(result))
        if self.on_done:
            self.on_done(result)

    @guarded(progress="Synchronizing…")
    def _resync(self, direction: str) -> None:
        result = self.ws.sync(direction, nos=[self.no], force=True)
        kind, msg = result_text(result)
        self.messages.show(msg, kind)
        if result.failed:
            return
        if self.on_done:
            self.on_done(result)


def changes_html(changes: pd.DataFrame, mapped: set[str] | None = None, labels: dict[str, str] | None = None) -> str:
    """The planned field changes; with ``mapped``, only those fields (modified-at stamps are left out);
    ``labels``: the fields' names as the steward reads them (:func:`field_labels`)."""
    if changes is not None and mapped is not None and not changes.empty:
        changes = changes[changes["field"].isin(mapped)]
    if changes is None or changes.empty:
        return '<div class="cs-hint">Nothing to change: the mapped fields already match.</div>'
    df = changes.copy()
    df["where"] = df["side"].map({"nav": "Dynamics NAV", "crm": "Dynamics CRM"}).fillna(df["side"])
    if labels:
        df["field"] = df["field"].map(lambda f: labels.get(f, f))
    return html_table(df, [("where", "Changes in"), ("field", "Field"), ("old_value", "Current value"),
                           ("new_value", "New value")], css_class="cs-changes")


class SyncNowDialog(w.VBox):
    """Synchronize Now for coupled NAV contact ``no``: choose the direction, see the changes first (a dry
    run), a warning when the destination changed since the last sync, then OK."""

    def __init__(self, ws, no: str, on_done: Callable | None = None, on_cancel: Callable | None = None):
        self.ws = ws
        self.no = no
        self.on_done = on_done
        self.on_cancel = on_cancel
        self.messages = Messages()
        self.progress = Progress()
        self.direction = w.RadioButtons(options=SYNC_NOW_OPTIONS, value=None, layout=w.Layout(width="auto"))
        self.direction.add_class("cs-sync-direction")
        self.warning = w.HTML()
        self.warning.add_class("cs-sync-warning")
        self.preview = w.HTML('<div class="cs-hint">Choose what to synchronize to see what will change.</div>')
        self.preview.add_class("cs-sync-preview")
        self.ok = button("OK", "cs-sync-ok", style="primary", width="90px")
        self.ok.disabled = True
        self.cancel = button("Cancel", "cs-sync-cancel", width="90px")
        self.ok.on_click(lambda _b: self.run())
        self.cancel.on_click(lambda _b: self.on_cancel and self.on_cancel())
        self.direction.observe(lambda _c: self.refresh_preview(), names="value")
        self.planned = None
        super().__init__([
            w.HTML(f'<div class="cs-title">Synchronize Now — {esc(no)}</div>'),
            self.direction, self.warning, self.preview, w.HBox([self.ok, self.cancel]), self.progress,
            self.messages,
        ])
        self.add_class("cs-sync-dialog")
        self.add_class("cs-box")

    @guarded(progress="Working out what will change…")
    def refresh_preview(self) -> None:
        d = self.direction.value
        self.warning.value = ""
        self.messages.clear()
        if d is None:
            self.ok.disabled = True
            return
        plan = self.ws.sync(d, nos=[self.no], force=True, dry_run=True)
        self.planned = plan
        mapped = {f.nav for f in self.ws.mapping.fields} | {f.crm for f in self.ws.mapping.fields}
        if plan.failed:  # the run would fail: say why before OK, in the record's words
            self.preview.value = message_html(
                f"This contact cannot be synchronized yet: {errors_text(plan.errors)}. Nothing will change until "
                "that is corrected.", "error")
            self.preview.add_class("cs-sync-preview-fails")
            self.ok.disabled = True
            return
        self.preview.remove_class("cs-sync-preview-fails")
        skipped = ""
        if plan.skipped and len(plan.skips):
            skipped = message_html(f"It will be skipped: {errors_text(plan.skips)}.", "warn")
        self.preview.value = (skipped + '<div class="cs-hint">What will change:</div>' +
                              changes_html(plan.changes, mapped, field_labels(self.ws.mapping)))
        diffs = self.ws.differences(nos=[self.no])
        dest = DEST_CHANGED[d]
        changed = diffs[diffs["state"].isin(dest)] if "state" in diffs else diffs.iloc[0:0]
        if len(changed):
            where = "Dynamics CRM" if d == "push" else "Dynamics NAV"
            fields = ", ".join(sorted(set(map(str, changed["nav_field"]))))
            self.warning.value = (
                f'<div class="cs-msg-warn">{esc(where)} changed since the last synchronization '
                f'({esc(fields)}). Those changes will be overwritten.</div>')
        self.ok.disabled = False

    @guarded(progress="Synchronizing…")
    def run(self) -> None:
        d = self.direction.value
        if d is None:
            self.messages.warn("Choose Send updated data to Dynamics CRM or Get updated data from Dynamics CRM.")
            return
        result = self.ws.sync(d, nos=[self.no], force=True)
        kind, msg = result_text(result)
        self.messages.show(msg, kind)
        if result.failed:
            return
        self.ok.disabled = True
        if self.on_done:
            self.on_done(result)


def account_label(row: dict) -> str:
    extra = [x for x in (text(row.get("accountnumber")), text(row.get("address1_city"))) if x]
    label = text(row.get("name")) or text(row.get("accountid"))
    label += f" — {', '.join(extra)}" if extra else ""
    if text(row.get("nav_no")):
        label += f"  [coupled to {text(row.get('nav_no'))}]"
    return label


class CompanyCouplingDialog(w.VBox):
    """Dynamics CRM Account Coupling for NAV company ``no``: pick an account, OK (asks first when either side
    is coupled elsewhere). ``on_done(result)`` after OK succeeded, ``on_cancel()`` after Cancel."""

    def __init__(self, ws, no: str, on_done: Callable | None = None, on_cancel: Callable | None = None,
                 picker_size: int = 50):
        self.ws, self.no, self.on_done, self.on_cancel, self.picker_size = ws, no, on_done, on_cancel, picker_size
        self.messages = Messages()
        self.progress = Progress()
        self.confirm = Confirm()
        nav = ws.nav_contact(no)
        acc = ws.accounts()
        mine = acc[acc["nav_no"] == no]
        self.current_account = text(mine.iloc[0]["accountid"]) if len(mine) else None
        self.search = w.Text(placeholder="Search CRM accounts by name, number, city…", description="Account",
                             continuous_update=True, layout=w.Layout(width="420px"))
        self.search.add_class("cs-account-search")
        self.picker = w.Select(options=[], rows=8, layout=w.Layout(width="820px"))
        self.picker.add_class("cs-account-picker")
        self.ok = button("OK", "cs-account-ok", style="primary", width="90px")
        self.cancel = button("Cancel", "cs-account-cancel", width="90px")
        self.ok.on_click(lambda _b: self.submit())
        self.cancel.on_click(lambda _b: self.on_cancel and self.on_cancel())
        self.search.observe(lambda _c: self.refresh_picker(), names="value")
        status = (f"Currently coupled to the account {esc(text(mine.iloc[0]['name']))}." if len(mine)
                  else "Not coupled yet.")
        super().__init__([
            w.HTML(f'<div class="cs-title">Dynamics CRM Account Coupling — {esc(no)} {esc(text(nav.get("Name")))}'
                   f'</div><div class="cs-hint">{status}</div>'),
            w.HBox([self.search]), self.picker, w.HBox([self.ok, self.cancel]), self.confirm, self.progress,
            self.messages,
        ])
        self.add_class("cs-account-coupling-dialog")
        self.add_class("cs-box")
        self.refresh_picker()

    @guarded()
    def refresh_picker(self) -> None:
        acc = self.ws.accounts()
        q = self.search.value.strip().casefold()
        if q:
            hay = (acc["name"].fillna("").astype(str) + " " + acc["accountnumber"].fillna("").astype(str) + " " +
                   acc["address1_city"].fillna("").astype(str)).str.casefold()
            acc = acc[hay.str.contains(q, regex=False)]
        recs = acc.head(self.picker_size).to_dict("records")
        self.picker.options = [(account_label(r), text(r["accountid"])) for r in recs]
        values = [v for _, v in self.picker.options]
        self.picker.value = self.current_account if self.current_account in values else None

    @guarded()
    def submit(self) -> None:
        account = self.picker.value
        if not account:
            self.messages.warn("Select the CRM account to couple to.")
            return
        if account == self.current_account:
            self.messages.show(f"{self.no} is already coupled to this account; nothing to change.", "info")
            return
        acc = self.ws.accounts()
        row = acc[acc["accountid"] == account].iloc[0].to_dict()
        other = text(row.get("nav_no"))
        notes = []
        if self.current_account:
            notes.append(f"Company {self.no} is coupled to another account; that coupling will be deleted.")
        if other:
            notes.append(f"The account {text(row.get('name'))} is coupled to company {other}; that coupling will be "
                         "deleted.")
        if notes:
            self.confirm.ask(" ".join(notes) + " Do you want to continue?", lambda: self._couple(account, True))
            return
        self._couple(account, False)

    @guarded(progress="Coupling…")
    def _couple(self, account: str, replace: bool) -> None:
        result = self.ws.couple_company(self.no, account, replace=replace)
        names = dict(zip(self.ws.accounts()["accountid"].astype(str), self.ws.accounts()["name"]))
        self.messages.ok(f"Company {self.no} is coupled to the Dynamics CRM account {text(names.get(account))}. "
                         "(You can undo this in History.)")
        if self.on_done:
            self.on_done(result)
