"""NAV Contacts list and the Contact card with its "Dynamics CRM" group."""

from __future__ import annotations

import ipywidgets as w

from .common import (
    COUPLED_VALUES,
    Confirm,
    ContactList,
    Messages,
    Progress,
    button,
    clear_area,
    esc,
    guarded,
    html_table,
    text,
)
from .data import DIRECTION_WORDS, KIND_WORDS, account_of, crm_name, nav_name, record_history, result_text
from .dialogs import CompanyCouplingDialog, CouplingDialog, SyncNowDialog
from .grid import GridTable, PageJump

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
        # a CRM field by its NAV name (a steward knows "E-Mail", not "emailaddress1")
        names = {f.crm: f.nav for f in (*self.ws.mapping.fields, *self.ws.mapping.disabled)} | {
            "modifiedon": "Modified On (CRM)"}
        crm = h["side"] == "crm"
        h.loc[crm, "field"] = [names.get(text(f), text(f)) for f in h.loc[crm, "field"]]
        # a coupling's partner by name, not its GUID (one read-only query for the ids shown)
        coupling = h["side"] == "coupling"
        ids = sorted({text(v) for col in ("old_value", "new_value") for v in h.loc[coupling, col] if text(v)})
        if ids:
            people = self.ws.sql("SELECT contactid, firstname, lastname, fullname FROM crm_contact WHERE "
                                 "list_contains(?::VARCHAR[], contactid)", [ids]).to_dict("records")
            label = {text(r["contactid"]): crm_name(r) for r in people}
            for col in ("old_value", "new_value"):
                h.loc[coupling, col] = [label.get(text(v), text(v)) for v in h.loc[coupling, col]]
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
        self.dialog = None
        clear_area(self.dialog_area)

    def _changed(self, message: str, kind: str = "ok") -> None:
        self.load(self.no, keep_message=True)
        self.messages.show(message, kind)
        if self.on_changed:
            self.on_changed()

    # -- actions -----------------------------------------------------------------------------------
    @guarded(progress="Creating the contact in Dynamics CRM…")
    def create_crm(self) -> None:
        created = self.ws.create_crm_from_nav(self.no)
        run = f"run {created.run_id}; " if created.run_id is not None else ""
        self._changed(f"{created.message}: Dynamics CRM contact {nav_name(self.contact)} created and coupled to "
                      f"{self.no} ({run}undo it in History).")

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
        self.dialog.search.focus()  # the new dialog takes focus (the browser scrolls it into view)
        return self.dialog

    @guarded()
    def open_sync_now(self) -> SyncNowDialog:
        self.messages.clear()
        self.close_dialog()
        self.dialog = SyncNowDialog(self.ws, self.no, on_done=self._dialog_done, on_cancel=self.close_dialog)
        self.dialog_area.children = [self.dialog]
        self.dialog.direction.focus()  # the new dialog takes focus (the browser scrolls it into view)
        return self.dialog

    def _dialog_done(self, result) -> None:
        msgs = self.dialog.messages if self.dialog is not None else None
        kind, msg = (msgs.kind or "ok", msgs.text) if msgs is not None and msgs.text else ("ok", str(result))
        self._changed(msg, kind)


class NavContactsView(w.VBox):
    """The Contacts list (NAV) in a data grid (its headers sort and filter the whole filtered set in DuckDB,
    shift/ctrl-click several rows); choosing a row opens its card below. Send / Get / Delete couplings act on the selected contacts, or on
    every contact the search and Coupled filter match (every page), each as one run."""

    title = "Contacts (Dynamics NAV)"

    def __init__(self, ws, on_changed=None, page_size: int = 12):
        self.ws = ws
        table = GridTable([
            ("Type", "Type"), ("Name", "Name"), ("Company Name", "Company"), ("City", "City"),
            ("E-Mail", "E-Mail"), ("coupled_label", "Coupled"),
        ], key="No.", key_title="No.", multi=True, on_select=self._selected, empty="No NAV contacts match.",
            height=f"{24 + 22 * page_size}px", fit_rows=page_size, on_query=self._requery, on_values=self._values,
            widths={"Type": 80, "Name": 220, "Company": 220, "City": 140, "E-Mail": 240, "Coupled": 80})
        table.add_class("cs-nav-table")
        self.list = ContactList(self._page, table, placeholder="Search No., name, company, e-mail, phone…",
                                css="nav-", page_size=page_size, on_change=self.refresh)
        self.table = table
        self.search, self.coupled, self.pager = self.list.search, self.list.coupled, self.list.pager
        self.jump = PageJump(self.pager, self.refresh)  # 13,334 pages at 200k persons are not for Next
        self.select_all = w.Checkbox(value=False, description="Select all filtered contacts (every page)", indent=False)
        self.select_all.add_class("cs-nav-select-all")
        self.select_all.observe(self._select_all, names="value")
        self.push_button = button("Send selected to Dynamics CRM", "cs-nav-push", style="primary")
        self.pull_button = button("Get selected from Dynamics CRM", "cs-nav-pull", style="primary")
        self.uncouple_button = button("Delete couplings", "cs-nav-uncouple")
        self.push_button.on_click(lambda _b: self.bulk("push"))
        self.pull_button.on_click(lambda _b: self.bulk("pull"))
        self.uncouple_button.on_click(lambda _b: self.bulk("uncouple"))
        self.confirm = Confirm()
        self.progress = Progress()
        self.messages = Messages()
        self.card = ContactCard(ws, on_changed=self._card_changed)
        self._external_changed = on_changed
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div>'),
            self.list.filters, w.HBox([self.select_all, self.pager, self.jump], layout=w.Layout(align_items="center")),
            w.HTML('<div class="cs-hint">Click a row for its card; ctrl- or shift-click for several. A column\'s '
                   'header menu sorts and filters every page, with the search and the Coupled filter.</div>'),
            self.table,
            w.HBox([self.push_button, self.pull_button, self.uncouple_button]), self.confirm, self.progress,
            self.messages, self.card,
        ])
        self.add_class("cs-nav-contacts")
        self.refresh()

    def _page(self, **kw):
        """A page of NAV contacts; a company's Coupled is its coupling to a CRM account."""
        df = self.ws.nav_contacts(**kw, order_by=self.table.order(), filters=self.table.filters())
        companies = df["Type"] == "Company" if "Type" in df else None
        if companies is not None and companies.any():
            coupled = set(self.ws.accounts()["nav_no"].dropna().astype(str))
            df.loc[companies, "coupled"] = df.loc[companies, "No."].astype(str).isin(coupled)
        if "coupled" in df:
            df["coupled_label"] = df["coupled"].map(lambda c: "Yes" if bool(c) and text(c) != "False" else "No")
        return df

    @guarded()
    def refresh(self) -> None:
        self.list.load()
        self.table.show_query(self.pager.total, "contact")
        self.jump.refresh()
        if self.select_all.value:
            self.table.select_all(True)
        self._buttons()

    def _requery(self) -> None:
        """A header sort or filter changed: the whole filtered set again, from page 1."""
        self.pager.reset()
        self.refresh()

    def _values(self, column: str) -> list[str]:
        """A header filter's values: over every contact the search, the Coupled filter and the other columns'
        filters match."""
        return self.ws.list_values("nav", column, search=self.search.value.strip() or None,
                                   coupled=COUPLED_VALUES[self.coupled.value], filters=self.table.filters())

    def _selected(self, keys) -> None:
        self._buttons()
        self.confirm.close_box()
        if keys and not self.select_all.value:
            self.card.load(keys[-1])

    def _select_all(self, change) -> None:
        self.table.select_all(change["new"])
        self._buttons()

    def _buttons(self) -> None:
        n = self.pager.total if self.select_all.value else len(self.table.selected)
        for b in (self.push_button, self.pull_button, self.uncouple_button):
            b.disabled = not n
        what = f"{n:,} selected" if n else "selected"
        self.push_button.description = f"Send {what} to Dynamics CRM"
        self.pull_button.description = f"Get {what} from Dynamics CRM"
        self.uncouple_button.description = f"Delete couplings of {what}"

    def selection(self) -> list[str]:
        """The contacts an action applies to: every contact the filters match (every page) when "Select all" is
        on (one query for their keys), else the selected rows."""
        if not self.select_all.value:
            return list(self.table.selected)
        df = self.ws.nav_contacts(search=self.search.value.strip() or None,
                                  coupled=COUPLED_VALUES[self.coupled.value], limit=None,
                                  filters=self.table.filters())  # the header filters too: what the list shows
        return df["No."].astype(str).tolist()

    @guarded()
    def bulk(self, action: str) -> None:
        """Send / Get (Synchronize Now on each) or Delete couplings for the selection: the coupled persons among
        it, one run, after a question that names the count and the first contacts."""
        self.messages.clear()
        nos = self.selection()
        rows = self.ws.nav_contacts(coupled=True, limit=None) if self.select_all.value else None
        coupled = (set(rows.loc[rows["Type"] == "Person", "No."].astype(str)) if rows is not None else
                   {k for k in nos if (r := self.table.row(k)) and r.get("Type") == "Person" and r.get("coupled")})
        todo = [k for k in nos if k in coupled]
        if not todo:
            self.messages.warn("None of the selected contacts is a person coupled to a Dynamics CRM contact.")
            return
        left = len(nos) - len(todo)
        skipped = f" ({left:,} selected contact(s) are not coupled persons and are left as they are)" if left else ""
        first = ", ".join(todo[:8]) + (f" and {len(todo) - 8:,} more" if len(todo) > 8 else "")
        if action == "uncouple":
            q = (f"Delete the couplings of {len(todo):,} contact(s) — {first}{skipped}? No data is deleted; one run "
                 "(undo it in History). Continue?")
        else:
            where, src = (("Dynamics CRM", "Dynamics NAV") if action == "push" else ("Dynamics NAV", "Dynamics CRM"))
            q = (f"Synchronize {len(todo):,} contact(s) — {first}{skipped}: the mapped fields in {where} are "
                 f"overwritten with those from {src}. One run (undo it in History). Continue?")
        self.confirm.ask(q, lambda: self._bulk(action, todo))

    @guarded(progress="Working on the selection…")
    def _bulk(self, action: str, nos: list[str]) -> None:
        if action == "uncouple":
            result = self.ws.delete_couplings(nos)
            kind, msg = "ok", f"{result} (run {result.run_id})"
        else:
            sync = self.ws.sync(action, nos=nos, force=True)
            kind, msg = result_text(sync)
            msg += f" (run {sync.run_id}; undo it in History)"
        self.select_all.value = False
        self.refresh()
        self.messages.show(msg, kind)
        if self._external_changed:
            self._external_changed()

    def open_contact(self, no: str) -> None:
        """Show the card of ``no`` (and find it in the list)."""
        self.select_all.value = False
        self.search.value = no  # refreshes the list to that contact
        if self.table.row(no) is not None and no not in self.table.selected:
            self.table.select(no)
        else:
            self.card.load(no)

    def _card_changed(self) -> None:
        self.refresh()
        if self._external_changed:
            self._external_changed()
