"""Dynamics CRM Contacts: search, Coupled filter, a data grid paged over DuckDB, the record's card and the
actions: Create Contact in Dynamics NAV (one, or every selected / filtered uncoupled one), Couple with NAV
persons by match, Delete couplings (after a question)."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..crmbulk import create_nav_for
from .common import COUPLED_VALUES, Confirm, ContactList, Messages, Progress, button, esc, guarded, text
from .data import crm_name, nav_name
from .grid import GridTable, PageJump

__all__ = ["CrmContactsView", "MATCH_CHOICES"]

# Match-based coupling from the CRM side: which NAV fields must agree (priority groups, BC's Match Priority)
MATCH_CHOICES = [
    ("E-Mail", [["E-Mail"]]),
    ("First Name + Surname", [["First Name", "Surname"]]),
    ("E-Mail, else First Name + Surname", [["E-Mail"], ["First Name", "Surname"]]),
]

CARD_FIELDS = [("Name", None), ("Account", "account_name"), ("Job Title", "jobtitle"), ("E-Mail", "emailaddress1"),
               ("Phone", "telephone1"), ("Mobile Phone", "mobilephone"), ("Address", "address1_line1"),
               ("Address 2", "address1_line2"), ("Post Code", "address1_postalcode"), ("City", "address1_city"),
               ("Country/Region", "address1_country"), ("Modified On", "modifiedon")]


def _with_run(msg: str, run_id: int | None) -> str:
    """``msg (run 7; undo it in History)``, saying the undo once (some results say it themselves)."""
    if run_id is None:
        return msg
    return f"{msg} (run {run_id})" if "History" in msg else f"{msg} (run {run_id}; undo it in History)"


class CrmCard(w.VBox):
    """The selected CRM contact: its fields, its coupling and a link to it in Dynamics CRM."""

    def __init__(self, ws):
        self.ws = ws
        self.crm_id: str | None = None
        self.body = w.HTML()
        super().__init__([self.body], layout=w.Layout(display="none"))
        self.add_class("cs-crm-card")
        self.add_class("cs-box")

    def load(self, crm_id: str | None, row: dict | None = None) -> None:
        """Show ``crm_id``: from its list ``row`` when given (the page holds every column: no query), else read."""
        self.crm_id = crm_id
        if crm_id is None:
            self.layout.display = "none"
            self.body.value = ""
            return
        if row is not None:
            c = dict(row)
        else:
            c = self.ws.crm_contact(crm_id)
            acc = self.ws.sql("SELECT name FROM crm_account WHERE accountid = ?", [text(c.get("parentcustomerid"))])
            c["account_name"] = text(acc["name"].iloc[0]) if len(acc) else ""
        cells = []
        for title, key in CARD_FIELDS:
            value = crm_name(c) if key is None else c.get(key)
            if key is None or text(value):
                cells.append(f'<div class="k">{esc(title)}</div><div class="v cs-field" data-field="{esc(title)}">'
                             f'{esc(value)}</div>')
        if c.get("coupled"):
            no = text(c.get("nav_no"))
            named = self.ws.sql('SELECT "Name", "First Name", "Surname" FROM nav_contact WHERE "No." = ?', [no])
            partner = nav_name(named.iloc[0].to_dict()) if len(named) else ""
            status = (f'<div class="cs-msg-ok cs-status-coupled">Coupled to Dynamics NAV contact {esc(no)} '
                      f'{esc(partner)}</div>')
        else:
            status = '<div class="cs-msg-info cs-status-uncoupled">Not coupled to a Dynamics NAV contact</div>'
        link = (f'<a class="cs-crm-link-a" href="{esc(self.ws.crm_url(crm_id))}" target="_blank" '
                'rel="noopener noreferrer">Open in Dynamics CRM ↗</a>')
        self.body.value = (f'<div class="cs-title">CRM Contact — {esc(crm_name(c))}</div>'
                           f'<div class="cs-card-fields">{"".join(cells)}</div>{status}{link}')
        self.layout.display = "flex"


class CrmContactsView(w.VBox):
    """The Dynamics CRM Contacts window, a data grid (its headers sort and filter the whole filtered set in
    DuckDB, shift/ctrl-click several rows). The actions work on the selected rows, or with "Select all" on every contact the search
    and Coupled filter match (every page), each as one run. ``on_nav_created(no)`` is called after one NAV
    contact was created (the app opens its card), ``on_changed()`` after a bulk action changed data."""

    title = "Dynamics CRM Contacts"

    def __init__(self, ws, on_nav_created: Callable[[str], None] | None = None, page_size: int = 15,
                 on_changed: Callable[[], None] | None = None):
        self.ws = ws
        self.on_nav_created = on_nav_created
        self.on_changed = on_changed
        table = GridTable([
            ("name", "Name"), ("account_name", "Account"), ("emailaddress1", "E-Mail"), ("telephone1", "Phone"),
            ("address1_city", "City"), ("coupled_label", "Coupled"), ("nav_no", "NAV No."),
        ], key="contactid", key_title="CRM id", multi=True, on_select=self._selected, show_key=False,
            empty="No CRM contacts match.", height=f"{24 + 22 * page_size}px", fit_rows=page_size,
            on_query=self._requery, on_values=self._values,
            widths={"Name": 200, "Account": 230, "E-Mail": 310, "Phone": 150, "City": 150, "Coupled": 80,
                    "NAV No.": 100})
        table.add_class("cs-crm-table")
        self.list = ContactList(self._page, table, placeholder="Search name, e-mail, phone, account…", css="",
                                page_size=page_size, on_change=self.refresh)
        self.table = table
        self.search, self.coupled, self.pager = self.list.search, self.list.coupled, self.list.pager
        self.jump = PageJump(self.pager, self.refresh)
        self.select_all = w.Checkbox(value=False, description="Select all filtered contacts (every page)", indent=False)
        self.select_all.add_class("cs-crm-select-all")
        self.select_all.observe(self._select_all, names="value")
        self.create_nav_button = button("Create in Dynamics NAV", "cs-create-nav", style="primary")
        names = {n for f in (*ws.mapping.fields, *ws.mapping.disabled) for n in (f.nav, f.crm)}
        choices = [(t, i) for i, (t, g) in enumerate(MATCH_CHOICES) if all(n in names for grp in g for n in grp)]
        self.match_on = w.Dropdown(options=choices, value=choices[0][1] if choices else None,
                                   description="Match on", layout=w.Layout(width="330px"))
        self.match_on.add_class("cs-crm-match-on")
        self.match_button = button("Couple with NAV contacts by match", "cs-crm-match")
        self.uncouple_button = button("Delete couplings", "cs-crm-uncouple")
        self.create_nav_button.on_click(lambda _b: self.create_nav())
        self.match_button.on_click(lambda _b: self.match())
        self.uncouple_button.on_click(lambda _b: self.uncouple())
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        self.card = CrmCard(ws)
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div>'),
            self.list.filters,
            w.HBox([self.select_all, self.pager, self.jump], layout=w.Layout(align_items="center")),
            w.HTML('<div class="cs-hint">Click a row for its card; ctrl- or shift-click for several. A column\'s '
                   'header menu sorts and filters every page, with the search and the Coupled filter.</div>'),
            self.table,
            w.HBox([self.create_nav_button, self.match_on, self.match_button, self.uncouple_button],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.confirm, self.progress, self.messages, self.card,
        ])
        self.add_class("cs-crm-contacts")
        self.refresh()

    # -- data -------------------------------------------------------------------------------------
    def _page(self, **kw):
        df = self.ws.crm_contacts(**kw, order_by=self.table.order(), filters=self.table.filters())
        df["name"] = [crm_name(r) for r in df.to_dict("records")]
        df["coupled_label"] = ["Yes" if bool(c) else "No" for c in df["coupled"]]
        return df

    @guarded()
    def refresh(self) -> None:
        self.list.load()
        self.table.show_query(self.pager.total, "contact")
        self.jump.refresh()
        if self.select_all.value:
            self.table.select_all(True)
        self._selected(self.table.selected)

    def _requery(self) -> None:
        """A header sort or filter changed: the whole filtered set again, from page 1."""
        self.pager.reset()
        self.refresh()

    def _values(self, column: str) -> list[str]:
        """A header filter's values over every contact the search, the Coupled filter and the other columns'
        filters match."""
        return self.ws.list_values("crm", column, search=self.search.value.strip() or None,
                                   coupled=COUPLED_VALUES[self.coupled.value], filters=self.table.filters())

    @property
    def selected_id(self) -> str | None:
        return self.table.selected[-1] if self.table.selected else None

    def _selected(self, keys) -> None:
        self._buttons()
        self.confirm.close_box()
        self.messages.clear()  # an earlier action's message does not linger on another selection
        key = keys[-1] if keys and not self.select_all.value else None
        self.card.load(key, self.table.row(key) if key else None)

    def _select_all(self, change) -> None:
        self.table.select_all(change["new"])
        self._selected(self.table.selected)

    def _count(self) -> int:
        return self.pager.total if self.select_all.value else len(self.table.selected)

    def _buttons(self) -> None:
        n = self._count()
        what = (f" (all {n:,} filtered)" if self.select_all.value else f" ({n:,} selected)") if n else ""
        self.create_nav_button.description = f"Create in Dynamics NAV{what}"
        self.match_button.description = f"Couple with NAV contacts by match{what}"
        self.uncouple_button.description = f"Delete couplings{what}"
        for b in (self.create_nav_button, self.match_button, self.uncouple_button):
            b.disabled = not n
            b.tooltip = b.description
        if self.match_on.value is None:  # the mapping has none of the fields to match on
            self.match_button.disabled = True
            self.match_button.tooltip = "The mapping maps neither E-Mail nor First Name and Surname"

    def selection(self, coupled: bool | None = None) -> list[str]:
        """The CRM ids an action applies to, narrowed to the coupled (``True``) or uncoupled (``False``) ones:
        with "Select all" every contact the filters match (every page: one query for their keys), else the
        selected rows."""
        if not self.select_all.value:
            rows = [self.table.row(k) or {} for k in self.table.selected]
            return [text(r.get("contactid")) for r in rows if coupled is None or bool(r.get("coupled")) == coupled]
        shown = COUPLED_VALUES[self.coupled.value]
        if coupled is not None and shown is not None and shown != coupled:
            return []
        df = self.ws.crm_contacts(search=self.search.value.strip() or None,
                                  coupled=coupled if coupled is not None else shown, limit=None,
                                  filters=self.table.filters())  # the header filters too: what the list shows
        return df["contactid"].astype(str).tolist()

    def _who(self, crm_ids: list[str], n: int = 6) -> str:
        """The first ``n`` contacts by name (and NAV No. when coupled), then how many more: what a question
        names (a GUID says nothing to a steward). At most ``n`` single-row reads."""
        out = []
        for k in crm_ids[:n]:
            row = self.table.row(k) or self.ws.crm_contact(k)
            no = text(row.get("nav_no"))
            out.append(crm_name(row) + (f" ({no})" if no else ""))
        return ", ".join(out) + (f" and {len(crm_ids) - n:,} more" if len(crm_ids) > n else "")

    # -- Create in Dynamics NAV ------------------------------------------------------------------
    @guarded()
    def create_nav(self) -> None:
        self.messages.clear()
        if not self.select_all.value and len(self.table.selected) == 1:  # the card's action, as in BC
            crm_id = self.table.selected[0]
            row = self.table.row(crm_id) or {}
            if row.get("coupled"):
                nav_no = text(row.get("nav_no"))
                self.confirm.ask(
                    f"This CRM contact is already coupled to NAV contact {nav_no}. If you create a new NAV "
                    f"contact, the coupling between NAV contact {nav_no} and this CRM contact will be deleted. "
                    "Do you want to continue?", lambda: self._create(crm_id))
                return
            self._create(crm_id)
            return
        todo = self.selection(coupled=False)
        if not todo:
            self.messages.warn("None of the selected CRM contacts is uncoupled; a coupled contact already has its "
                               "NAV contact (select one alone to replace its coupling).")
            return
        left = self._count() - len(todo)
        skipped = f" ({left:,} coupled contact(s) are left as they are)" if left else ""
        self.confirm.ask(f"Create {len(todo):,} NAV contact(s) from the uncoupled CRM contacts {self._who(todo)}"
                         f"{skipped}, each coupled? One run (undo it in History). Continue?",
                         lambda: self._create_many(todo))

    @guarded(progress="Creating the contact in Dynamics NAV…")
    def _create(self, crm_id: str) -> None:
        created = self.ws.create_nav_from_crm(crm_id)
        self._done(_with_run(created.message, created.run_id))
        if self.on_nav_created:
            self.on_nav_created(str(created))

    @guarded(progress="Creating the contacts in Dynamics NAV…")
    def _create_many(self, crm_ids: list[str]) -> None:
        result = create_nav_for(self.ws, crm_ids)
        kind = "warn" if len(result.failed) else "ok"
        self._done(_with_run(result.message, result.run_id), kind)

    # -- Couple by match ---------------------------------------------------------------------------
    @guarded()
    def match(self) -> None:
        """Match-Based Coupling from the CRM side: first a dry run that says what will happen, then the run."""
        self.messages.clear()
        todo = self.selection(coupled=False)
        if not todo:
            self.messages.warn("None of the selected CRM contacts is uncoupled; there is nothing to couple.")
            return
        title, groups = MATCH_CHOICES[self.match_on.value]
        plan = self.ws.match_couple(groups, side="crm", keys=todo, dry_run=True)
        if not plan.coupled:
            self.messages.warn(f"No selected CRM contact has exactly one uncoupled NAV person with the same {title}: "
                               f"nothing to couple ({plan.message}).")
            return
        self.confirm.ask(f"Couple by {title}: {plan.coupled:,} of {len(todo):,} uncoupled CRM contact(s) ({self._who(todo)}) "
                         "have exactly "
                         f"one matching uncoupled NAV person and will be coupled to it; {plan.not_coupled:,} will "
                         "not (no match or several). No field is changed. One run (undo it in History). Continue?",
                         lambda: self._match(groups, todo))

    @guarded(progress="Coupling by match…")
    def _match(self, groups, crm_ids: list[str]) -> None:
        result = self.ws.match_couple(groups, side="crm", keys=crm_ids)
        msg = result.message if result.message.startswith("Match-based") else f"Match-based coupling: {result.message}"
        self._done(_with_run(msg, result.run_id))

    # -- Delete couplings ------------------------------------------------------------------------------
    @guarded()
    def uncouple(self) -> None:
        self.messages.clear()
        crm_ids = self.selection(coupled=True)
        if not crm_ids:
            self.messages.warn("None of the selected CRM contacts is coupled.")
            return
        nos = self._nav_nos(crm_ids)
        self.confirm.ask(f"Delete the couplings of {len(nos):,} CRM contact(s) — {self._who(crm_ids)} — to their NAV "
                         "contacts? "
                         "No data is deleted; one run (undo it in History). Continue?",
                         lambda: self._uncouple(nos))

    def _nav_nos(self, crm_ids: list[str]) -> list[str]:
        if not self.select_all.value:
            return [text((self.table.row(k) or {}).get("nav_no")) for k in crm_ids]
        df = self.ws.crm_contacts(search=self.search.value.strip() or None, coupled=True, limit=None,
                                  filters=self.table.filters())
        return df["nav_no"].astype(str).tolist()

    @guarded(progress="Deleting the couplings…")
    def _uncouple(self, nos: list[str]) -> None:
        result = self.ws.delete_couplings(nos)
        self._done(_with_run(str(result), result.run_id))

    def _done(self, msg: str, kind: str = "ok") -> None:
        self.select_all.value = False
        self.refresh()
        self.messages.show(msg, kind)
        if self.on_changed:
            self.on_changed()
