"""NAV Contacts list and the Contact card with its "Dynamics CRM" group."""

from __future__ import annotations

import ipywidgets as w

from .common import (
    Column,
    Confirm,
    ContactList,
    Messages,
    Progress,
    RowTable,
    button,
    close_tree,
    esc,
    guarded,
    html_table,
    text,
    yes_no,
)
from .data import DIRECTION_WORDS, KIND_WORDS, account_of, crm_name, nav_name, record_history
from .dialogs import CompanyCouplingDialog, CouplingDialog, SyncNowDialog

__all__ = ["CARD_FIELDS", "ContactCard", "NavContactsView"]

CARD_FIELDS = ["No.", "Type", "First Name", "Middle Name", "Surname", "Company No.", "Company Name", "Job Title", "Address", "Address 2",
               "Post Code", "City", "County", "Country/Region Code", "E-Mail", "Phone No.", "Mobile Phone No.",
               "Fax No.", "Home Page", "SystemModifiedAt", "Last Date Modified", "Last Time Modified"]


class ContactCard(w.VBox):
    """One NAV contact: its fields, its coupling status and the Dynamics CRM actions. ``on_changed()`` is
    called after an action changed data (lists refresh)."""

    def __init__(self, ws, on_changed=None):
        self.ws = ws
        self.on_changed = on_changed
        self.no: str | None = None
        self.contact: dict = {}
        self.heading = w.HTML()
        self.fields = w.HTML()
        self.fields.add_class("cs-card-fields-html")
        self.status = w.HTML()
        self.status.add_class("cs-coupling-status")
        self.create_crm_button = button("Create Contact in Dynamics CRM", "cs-create-crm")
        self.setup_coupling_button = button("Set Up Coupling", "cs-setup-coupling")
        self.delete_coupling_button = button("Delete Coupling", "cs-delete-coupling")
        self.sync_now_button = button("Synchronize Now", "cs-sync-now")
        self.crm_link = w.HTML()
        self.crm_link.add_class("cs-crm-link")
        self.nav_link = w.HTML()
        self.nav_link.add_class("cs-nav-link")
        self.confirm = Confirm()
        self.is_company = False
        self.create_crm_button.on_click(lambda _b: self.create_crm())
        self.setup_coupling_button.on_click(lambda _b: self.open_coupling())
        self.delete_coupling_button.on_click(lambda _b: self.delete_coupling())
        self.sync_now_button.on_click(lambda _b: self.open_sync_now())
        self.group = w.VBox([
            w.HTML('<b>Dynamics CRM</b>'),
            w.HBox([self.create_crm_button, self.setup_coupling_button, self.delete_coupling_button,
                    self.sync_now_button, self.crm_link, self.nav_link],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.confirm,
        ])
        self.group.add_class("cs-crm-group")
        self.group.add_class("cs-group")
        self.history = w.HTML()
        self.history.add_class("cs-record-history")
        self.dialog_area = w.VBox([])
        self.dialog: CouplingDialog | CompanyCouplingDialog | SyncNowDialog | None = None
        self.messages = Messages()
        self.progress = Progress()
        super().__init__([self.heading, self.fields, self.status, self.group, self.progress, self.messages,
                          self.dialog_area, self.history], layout=w.Layout(display="none"))
        self.add_class("cs-contact-card")
        self.add_class("cs-box")

    # -- showing -----------------------------------------------------------------------------------
    @guarded()
    def load(self, no: str, keep_message: bool = False) -> None:
        c = self.ws.nav_contact(no)
        self.no, self.contact = text(c.get("No.")) or no, c
        if not keep_message:
            self.messages.clear()
        self.heading.value = (f'<div class="cs-title">Contact Card — {esc(self.no)} · {esc(nav_name(c))}</div>')
        cells = []
        for f in CARD_FIELDS:
            if f in c and (text(c.get(f)) or f not in ("Last Date Modified", "Last Time Modified",
                                                       "SystemModifiedAt")):
                cells.append(f'<div class="k">{esc(f)}</div><div class="v cs-field" data-field="{esc(f)}">'
                             f'{esc(c.get(f))}</div>')
        self.is_company = text(c.get("Type")) == "Company"
        what = "account" if self.is_company else "contact"
        if self.is_company:  # a company couples to a CRM account (its own coupling, not a contact's)
            acc = account_of(self.ws, self.no)
            c["coupled"], c["crm_id"] = acc is not None, (text(acc.get("accountid")) if acc else None)
            partner = text(acc.get("name")) if acc else ""
        coupled = bool(c.get("coupled"))
        crm_id = text(c.get("crm_id"))
        if coupled and not self.is_company:
            partner = crm_name(self.ws.crm_contact(crm_id))
        yes = (f'<span class="cs-yes">Yes</span> — {esc(partner)}' if coupled else '<span class="cs-no">No</span>')
        cells.append(f'<div class="k">Coupled</div><div class="v cs-field" data-field="Coupled">{yes}</div>')
        self.fields.value = f'<div class="cs-card-fields">{"".join(cells)}</div>'
        if coupled:
            self.status.value = (f'<div class="cs-msg-ok cs-status-coupled" title="{esc(crm_id)}">Coupled to '
                                 f'Dynamics CRM {what} {esc(partner)} ({esc(crm_id)})</div>')
            url = self.ws.crm_url(crm_id)
            if self.is_company:
                url = url.replace("etn=contact", "etn=account")
            self.crm_link.value = (f'<a class="cs-crm-link-a" href="{esc(url)}" target="_blank" '
                                   f'rel="noopener noreferrer">{what.capitalize()} ↗</a>')
        else:
            self.status.value = (f'<div class="cs-msg-info cs-status-uncoupled">Not coupled to a Dynamics CRM '
                                 f'{what}</div>')
            self.crm_link.value = (f'<span class="cs-hint" title="Couple the {what} first">'
                                   f'{what.capitalize()}</span>')
        self.nav_link.value = (f'<a class="cs-nav-link-a" href="{esc(self.ws.nav_url(self.no))}" target="_blank" '
                               'rel="noopener noreferrer">Open in Dynamics NAV ↗</a>')
        self.create_crm_button.disabled = coupled or self.is_company
        self.create_crm_button.tooltip = ("A company is coupled to an existing CRM account with Set Up Coupling"
                                          if self.is_company else self.create_crm_button.description)
        self.delete_coupling_button.disabled = not coupled
        self.sync_now_button.disabled = not coupled or self.is_company
        self.sync_now_button.tooltip = ("The mapping synchronizes persons; a company's fields are not synchronized"
                                        if self.is_company else self.sync_now_button.description)
        self.history.value = self._history_html(crm_id if coupled and not self.is_company else None)
        self.confirm.close_box()
        self.close_dialog()
        self.layout.display = "flex"

    def _history_html(self, crm_id: str | None) -> str:
        """The card's History: what changed when, by which run (this contact and its CRM contact)."""
        h = record_history(self.ws, self.no, crm_id)
        if h.empty:
            return '<div class="cs-group"><b>History</b> <span class="cs-hint">No run changed this contact yet.</span></div>'
        h = h.copy()
        h["where"] = h["side"].map({"nav": "Dynamics NAV", "crm": "Dynamics CRM", "coupling": "Coupling"})
        h["run"] = [f"{r}{' (undone)' if u else ''}" for r, u in zip(h["run_id"], h["undone"])]
        h["what"] = [KIND_WORDS.get(text(k), text(k)) + (f", {DIRECTION_WORDS.get(text(d), text(d))}" if text(d) else "")
                     for k, d in zip(h["kind"], h["direction"])]
        cols = [("run", "Run"), ("started_at", "When (UTC)"), ("what", "Action"), ("where", "Side"), ("field", "Field"),
                ("old_value", "Old value"), ("new_value", "New value")]
        return ('<div class="cs-group"><b>History</b> <span class="cs-hint">(newest first; undo a run in the History '
                f'tab)</span>{html_table(h, cols, max_rows=50)}</div>')

    @property
    def coupled(self) -> bool:
        return bool(self.contact.get("coupled"))

    def close_dialog(self) -> None:
        old = list(self.dialog_area.children)
        self.dialog = None
        self.dialog_area.children = []
        for d in old:
            close_tree(d)

    def _changed(self, message: str, kind: str = "ok") -> None:
        self.load(self.no, keep_message=True)
        self.messages.show(message, kind)
        if self.on_changed:
            self.on_changed()

    # -- actions -----------------------------------------------------------------------------------
    @guarded(progress="Creating the contact in Dynamics CRM…")
    def create_crm(self) -> None:
        created = self.ws.create_crm_from_nav(self.no)
        self._changed(created.message)

    def delete_coupling(self) -> None:
        self.messages.clear()
        what = "account" if self.is_company else "contact"
        self.confirm.ask(f"Delete the coupling of {self.no} {nav_name(self.contact)} to its Dynamics CRM {what}? "
                         "No data is deleted; you can undo this in History.", self._delete_coupling)

    @guarded(progress="Deleting the coupling…")
    def _delete_coupling(self) -> None:
        result = self.ws.uncouple_company(self.no) if self.is_company else self.ws.uncouple(self.no)
        self._changed(f"{result} (You can undo this in History.)")

    @guarded()
    def open_coupling(self) -> CouplingDialog | CompanyCouplingDialog:
        self.messages.clear()
        self.close_dialog()
        dialog = CompanyCouplingDialog if self.is_company else CouplingDialog
        self.dialog = dialog(self.ws, self.no, on_done=self._dialog_done, on_cancel=self.close_dialog)
        self.dialog_area.children = [self.dialog]
        return self.dialog

    @guarded()
    def open_sync_now(self) -> SyncNowDialog:
        self.messages.clear()
        self.close_dialog()
        self.dialog = SyncNowDialog(self.ws, self.no, on_done=self._dialog_done, on_cancel=self.close_dialog)
        self.dialog_area.children = [self.dialog]
        return self.dialog

    def _dialog_done(self, result) -> None:
        msgs = self.dialog.messages if self.dialog is not None else None
        kind, msg = (msgs.kind or "ok", msgs.text) if msgs is not None and msgs.text else ("ok", str(result))
        self._changed(msg, kind)


class NavContactsView(w.VBox):
    """The Contacts list (NAV); choosing a row opens its card below."""

    title = "Contacts (Dynamics NAV)"

    def __init__(self, ws, on_changed=None, page_size: int = 12):
        self.ws = ws
        table = RowTable([
            Column("No.", "No.", "90px"),
            Column("Type", "Type", "70px"),
            Column("Name", "Name", "1.4fr"),
            Column("Company Name", "Company", "1.4fr"),
            Column("City", "City", "1fr"),
            Column("E-Mail", "E-Mail", "1.6fr"),
            Column("coupled", "Coupled", "70px", yes_no),
        ], key="No.", on_select=self._selected, empty="No NAV contacts match.")
        table.add_class("cs-nav-table")
        self.list = ContactList(self._page, table, placeholder="Search No., name, company, e-mail, phone…",
                                css="nav-", page_size=page_size, on_change=self.refresh)
        self.search, self.coupled, self.table, self.pager = (self.list.search, self.list.coupled, self.list.table,
                                                             self.list.pager)
        self.messages = Messages()
        self.card = ContactCard(ws, on_changed=self._card_changed)
        self._external_changed = on_changed
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div>'),
            self.list.filters, self.table, self.pager, self.messages, self.card,
        ])
        self.add_class("cs-nav-contacts")
        self.refresh()

    def _page(self, **kw):
        """A page of NAV contacts; a company's Coupled is its coupling to a CRM account."""
        df = self.ws.nav_contacts(**kw)
        companies = df["Type"] == "Company" if "Type" in df else None
        if companies is not None and companies.any():
            coupled = set(self.ws.accounts()["nav_no"].dropna().astype(str))
            df.loc[companies, "coupled"] = df.loc[companies, "No."].astype(str).isin(coupled)
        return df

    @guarded()
    def refresh(self) -> None:
        self.list.load()

    def _selected(self, keys) -> None:
        if keys:
            self.card.load(keys[0])

    def open_contact(self, no: str) -> None:
        """Show the card of ``no`` (and find it in the list)."""
        self.search.value = no  # refreshes the list to that contact
        if no in self.table.checkboxes and not self.table.checkboxes[no].value:
            self.table.select(no)
        else:
            self.card.load(no)

    def _card_changed(self) -> None:
        self.refresh()
        if self._external_changed:
            self._external_changed()
