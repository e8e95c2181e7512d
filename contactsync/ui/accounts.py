"""Dynamics CRM Accounts: every CRM account with its Coupled flag and coupled NAV company, search, couple to a NAV
company or delete the coupling, and open the NAV company's card.

Accounts are few next to contacts (one per company), so the list is read once per refresh (``ws.accounts()``, one
query) and searched and paged in pandas with the same accent/ß folding as the contact search."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import pandas as pd

from ..search import fold
from ..sqlbuild import q
from .common import (
    COUPLED_OPTIONS,
    COUPLED_VALUES,
    Column,
    Confirm,
    Debounce,
    Messages,
    Pager,
    Progress,
    RowTable,
    button,
    esc,
    guarded,
    text,
    yes_no,
)

__all__ = ["AccountsView", "company_options"]


def company_options(ws, search: str = "", limit: int = 200) -> list[tuple[str, str]]:
    """Uncoupled NAV companies as ``(label, No.)`` for the coupling picker (one read-only query)."""
    m = ws.mapping
    term = f"%{search.strip()}%"
    df = ws.sql(
        f"SELECT n.{q(m.nav_key)} AS no, n.\"Name\" AS name FROM {q(m.nav_table)} n WHERE n.\"Type\" = 'Company' "
        f"AND NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'company' AND c.nav_no = n.{q(m.nav_key)}) "
        f"AND (n.{q(m.nav_key)} ILIKE ? OR n.\"Name\" ILIKE ?) ORDER BY n.{q(m.nav_key)} LIMIT ?",
        [term, term, int(limit)])
    return [(f"{r['no']} {text(r['name'])}".strip(), r["no"]) for r in df.to_dict("records")]


class AccountsView(w.VBox):
    """The Dynamics CRM Accounts list. ``on_open_company(no)`` opens a NAV company's card (the app's Contacts
    tab); ``on_changed()`` after a coupling changed."""

    title = "Dynamics CRM Accounts"

    def __init__(self, ws, on_open_company: Callable[[str], None] | None = None,
                 on_changed: Callable[[], None] | None = None, page_size: int = 15, autoload: bool = True):
        self.ws = ws
        self.on_open_company = on_open_company
        self.on_changed = on_changed
        self.all = pd.DataFrame()
        self.search = w.Text(placeholder="Search account name, NAV No.…", description="Search",
                             continuous_update=True, layout=w.Layout(width="360px"))
        self.search.add_class("cs-acc-search")
        self.coupled = w.Dropdown(options=COUPLED_OPTIONS, value="all", description="Coupled",
                                  layout=w.Layout(width="220px"))
        self.coupled.add_class("cs-acc-coupled-filter")
        self.table = RowTable([
            Column("name", "Account", "1.6fr"),
            Column("accountid", "Account ID", "1.6fr"),
            Column("coupled", "Coupled", "70px", yes_no),
            Column("nav_no", "NAV No.", "100px"),
            Column("nav_name", "NAV name", "1.4fr"),
        ], key="accountid", on_select=self._selected, empty="No CRM accounts match.")
        self.table.add_class("cs-acc-table")
        self.pager = Pager(page_size, self._page)
        self.pager.add_class("cs-acc-pager")
        self.company = w.Dropdown(options=[], value=None, description="Couple to NAV company",
                                  style={"description_width": "170px"}, layout=w.Layout(width="500px"))
        self.company.add_class("cs-acc-company")
        self.company_search = w.Text(placeholder="find a NAV company…", continuous_update=True,
                                     layout=w.Layout(width="200px"))
        self.company_search.add_class("cs-acc-company-search")
        self.couple_button = button("Couple", "cs-acc-couple", style="primary")
        self.uncouple_button = button("Delete Coupling", "cs-acc-uncouple")
        self.open_button = button("Open NAV company card", "cs-acc-open")
        self.crm_link = w.HTML()
        self.crm_link.add_class("cs-acc-crm-link")
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        self._debounce = Debounce(self._refilter)
        self.search.observe(lambda _c: self._debounce(), names="value")
        self.coupled.observe(lambda _c: self._refilter(), names="value")
        self.company_search.observe(lambda _c: self._companies(), names="value")
        self.couple_button.on_click(lambda _b: self.couple())
        self.uncouple_button.on_click(lambda _b: self.uncouple())
        self.open_button.on_click(lambda _b: self.open_company())
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div><div class="cs-hint">CRM accounts are the CRM side of NAV '
                   'company contacts: a person\'s company is sent and received through this coupling.</div>'),
            w.HBox([self.search, self.coupled], layout=w.Layout(align_items="center")),
            self.table, self.pager,
            w.HBox([self.company, self.company_search, self.couple_button], layout=w.Layout(align_items="center")),
            w.HBox([self.uncouple_button, self.open_button, self.crm_link], layout=w.Layout(align_items="center")),
            self.confirm, self.progress, self.messages,
        ])
        self.add_class("cs-accounts")
        self._selected(())
        if autoload:
            self.refresh()

    # -- reading ---------------------------------------------------------------------------------------------
    @guarded()
    def refresh(self) -> None:
        acc = self.ws.accounts()
        m = self.ws.mapping
        names = self.ws.sql(f"SELECT {q(m.nav_key)} AS nav_no, \"Name\" AS nav_name FROM {q(m.nav_table)} "
                            "WHERE \"Type\" = 'Company'")
        self.all = acc.merge(names, how="left", on="nav_no") if len(acc) else acc.assign(nav_name=None)
        self._refilter()
        self._companies()

    def filtered(self) -> pd.DataFrame:
        d = self.all
        if d.empty:
            return d
        keep = pd.Series(True, index=d.index)
        want = COUPLED_VALUES[self.coupled.value]
        if want is not None:
            keep &= d["coupled"].astype(bool) == want
        term = fold(self.search.value.strip())
        if term:
            hay = (d["name"].fillna("") + " " + d["nav_no"].fillna("") + " " + d["nav_name"].fillna("") + " "
                   + d["accountid"].fillna("")).map(fold)
            keep &= hay.str.contains(term, regex=False)
        return d[keep]

    def _refilter(self) -> None:
        self.pager.reset()
        self._page()

    def _page(self) -> None:
        d = self.filtered()
        start = self.pager.offset
        page = d.iloc[start:start + self.pager.page_size]
        self.table.set_rows(page)
        self.pager.update(len(d), len(page))
        self._selected(self.table.selected)

    def _companies(self) -> None:
        opts = company_options(self.ws, self.company_search.value)
        keep = self.company.value
        self.company.options = opts
        self.company.value = keep if keep in [v for _, v in opts] else (opts[0][1] if opts else None)

    @property
    def selected(self) -> dict | None:
        return self.table.row(self.table.selected[0]) if self.table.selected else None

    def _selected(self, _keys) -> None:
        row = self.selected
        coupled = bool(row and row.get("coupled"))
        self.couple_button.disabled = row is None or coupled
        self.uncouple_button.disabled = self.open_button.disabled = not coupled
        self.confirm.close_box()
        if row is None:
            self.crm_link.value = ""
            return
        url = self.ws.crm_url(text(row["accountid"])).replace("etn=contact", "etn=account")
        self.crm_link.value = (f'<a class="cs-acc-crm-link-a" href="{esc(url)}" target="_blank" '
                               'rel="noopener noreferrer">Account in Dynamics CRM ↗</a>')

    # -- acting ----------------------------------------------------------------------------------------------
    @guarded(progress="Coupling…")
    def couple(self) -> None:
        self.messages.clear()
        row = self.selected
        if row is None:
            self.messages.warn("Select a CRM account first.")
            return
        if not self.company.value:
            self.messages.warn("Choose the NAV company to couple it to (every NAV company is coupled already, or none "
                               "matches the search).")
            return
        label = dict((v, k) for k, v in self.company.options).get(self.company.value, self.company.value)
        self.ws.couple_company(self.company.value, text(row["accountid"]))
        self._done(f"NAV company {label} is coupled to the CRM account {text(row['name'])}. (You can undo this in "
                   "History.)")

    def uncouple(self) -> None:
        self.messages.clear()
        row = self.selected
        if row is None or not row.get("coupled"):
            self.messages.warn("Select a coupled CRM account first.")
            return
        what = f"the CRM account {text(row['name'])} to NAV company {text(row['nav_no'])} {text(row.get('nav_name'))}"
        self.confirm.ask(f"Delete the coupling of {what.strip()}? No data is deleted; you can undo this in History. "
                         "Persons of this company cannot be created on the other side until it is coupled again.",
                         lambda: self._uncouple(text(row["accountid"]), what.strip()))

    @guarded(progress="Deleting the coupling…")
    def _uncouple(self, account_id: str, what: str) -> None:
        self.ws.uncouple_company(account_id=account_id)
        self._done(f"The coupling of {what} was deleted. (You can undo this in History.)")

    def _done(self, message: str) -> None:
        keep = self.table.selected
        self.refresh()
        if keep and keep[0] in self.table.checkboxes:
            self.table.select(keep[0])
        self.messages.ok(message)
        if self.on_changed:
            self.on_changed()

    def open_company(self) -> None:
        row = self.selected
        if row is not None and row.get("coupled") and self.on_open_company:
            self.on_open_company(text(row["nav_no"]))
