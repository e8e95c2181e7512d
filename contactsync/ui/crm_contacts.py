"""Dynamics CRM Contacts: search, Coupled filter, paged table, Create Contact in Dynamics NAV."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from .common import Column, Confirm, ContactList, Messages, Progress, RowTable, button, esc, guarded, text, yes_no

__all__ = ["CrmContactsView"]


def _name(_v, row) -> str:
    return esc(" ".join(p for p in (text(row.get("firstname")), text(row.get("middlename")),
                                    text(row.get("lastname"))) if p))


class CrmContactsView(w.VBox):
    """The Dynamics CRM Contacts window. ``on_nav_created(no)`` is called after a NAV contact was created
    (the app opens its card)."""

    title = "Dynamics CRM Contacts"

    def __init__(self, ws, on_nav_created: Callable[[str], None] | None = None, page_size: int = 15):
        self.ws = ws
        self.on_nav_created = on_nav_created
        table = RowTable([
            Column("fullname", "Name", "1.3fr", _name),
            Column("account_name", "Account", "1.2fr"),
            Column("emailaddress1", "E-Mail", "1.6fr"),
            Column("telephone1", "Phone", "1fr"),
            Column("address1_city", "City", "0.9fr"),
            Column("coupled", "Coupled", "70px", yes_no),
            Column("nav_no", "NAV No.", "90px"),
        ], key="contactid", on_select=self._selected, empty="No CRM contacts match.")
        table.add_class("cs-crm-table")
        self.list = ContactList(ws.crm_contacts, table, placeholder="Search name, e-mail, phone, account…", css="",
                                page_size=page_size, on_change=self.refresh)
        self.table = table
        self.search, self.coupled, self.pager = self.list.search, self.list.coupled, self.list.pager
        self.create_nav_button = button("Create Contact in Dynamics NAV", "cs-create-nav", style="primary")
        self.create_nav_button.disabled = True
        self.create_nav_button.on_click(lambda _b: self.create_nav())
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div>'),
            self.list.filters,
            self.table, self.pager,
            w.HBox([self.create_nav_button]),
            self.confirm, self.progress, self.messages,
        ])
        self.add_class("cs-crm-contacts")
        self.refresh()

    # -- data -------------------------------------------------------------------------------------
    @guarded()
    def refresh(self) -> None:
        self.list.load()
        self._selected(self.table.selected)

    @property
    def selected_id(self) -> str | None:
        return self.table.selected[0] if self.table.selected else None

    def _selected(self, keys) -> None:
        self.create_nav_button.disabled = not keys
        self.confirm.close_box()
        self.messages.clear()  # an earlier action's message does not linger on another selection

    # -- Create Contact in Dynamics NAV ----------------------------------------------------------
    @guarded()
    def create_nav(self) -> None:
        crm_id = self.selected_id
        if crm_id is None:
            self.messages.warn("Select a CRM contact first.")
            return
        row = self.table.row(crm_id) or {}
        if row.get("coupled"):
            nav_no = text(row.get("nav_no"))
            self.confirm.ask(
                f"This CRM contact is already coupled to NAV contact {nav_no}. If you create a new NAV "
                f"contact, the coupling between NAV contact {nav_no} and this CRM contact will be deleted. "
                "Do you want to continue?", lambda: self._create(crm_id))
            return
        self._create(crm_id)

    @guarded(progress="Creating the contact in Dynamics NAV…")
    def _create(self, crm_id: str) -> None:
        created = self.ws.create_nav_from_crm(crm_id)
        self.refresh()
        self.messages.ok(created.message)
        if self.on_nav_created:
            self.on_nav_created(str(created))
