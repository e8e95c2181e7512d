"""The steward app: every seed procedure as a tab over one Workspace."""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as w

from .accounts import AccountsView
from .common import STYLE, esc
from .connections import ConnectionsView
from .crm_contacts import CrmContactsView
from .differences import DifferencesView
from .errors import ErrorsView
from .fullsync import FullSyncView
from .history import HistoryView
from .mapping import MappingView
from .nav_contacts import NavContactsView
from .review import ReviewView

__all__ = ["ENV_WORKSPACE", "StewardApp", "default_workspace_path", "open_workspace"]

ENV_WORKSPACE = "CONTACTSYNC_WORKSPACE"


def default_workspace_path() -> str:
    """``$CONTACTSYNC_WORKSPACE``, else ``workspace/steward.duckdb`` in the checkout, else ``:memory:``."""
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return env
    from ..demo import data_dir

    d = data_dir()
    if d is None:
        return ":memory:"
    folder = d.parent / "workspace"
    folder.mkdir(exist_ok=True)
    return str(folder / "steward.duckdb")


def open_workspace(path: str | Path | None = None):
    """Open the steward's workspace; a new one is filled with the bundled sample data on first use."""
    from ..demo import build_demo

    return build_demo(str(path) if path else default_workspace_path())


class StewardApp(w.VBox):
    """Tabs: Dynamics CRM Contacts, Contacts (NAV, with the card, coupling and Synchronize Now dialogs),
    Differences, Review matches, History."""

    def __init__(self, ws):
        self.ws = ws
        self.crm_contacts = CrmContactsView(ws, on_nav_created=self.open_nav_contact, on_changed=self._changed)
        self.nav_contacts = NavContactsView(ws, on_changed=self._changed)
        # compared and listed when first shown: opening the app stays fast on a large workspace
        self.differences = DifferencesView(ws, on_changed=self._changed, autoload=False)
        self.history = HistoryView(ws, on_changed=self._changed, autoload=False)
        self.review = ReviewView(ws, on_changed=self._changed)  # scores when first shown
        self.views = [self.crm_contacts, self.nav_contacts, self.differences, self.review, self.history]
        # BC's Coupled Data Synchronization Errors, Table Mapping, Full Synch. Review (issue 16): load when first shown
        self.errors = ErrorsView(ws, on_changed=self._changed, autoload=False)
        self.mapping = MappingView(ws, on_changed=self._changed, autoload=False)
        self.fullsync = FullSyncView(ws, on_changed=self._changed, autoload=False)
        self.views += [self.errors, self.mapping, self.fullsync]
        self.accounts = AccountsView(ws, on_open_company=self.open_nav_contact, on_changed=self._changed, autoload=False)
        self.views.append(self.accounts)  # CRM accounts with their company couplings (issue 16)
        self.views.append(ConnectionsView(ws, on_changed=self._changed, autoload=False))  # live (issue 17)
        self.tabs = w.Tab(children=self.views)
        for i, v in enumerate(self.views):
            self.tabs.set_title(i, v.title)
        self.tabs.add_class("cs-tabs")
        self._stale: set[int] = {self.views.index(v) for v in (self.differences, self.review, self.history)} | {len(self.views) - 1}
        self._stale |= {self.views.index(v) for v in (self.errors, self.mapping, self.fullsync)}
        self._stale.add(self.views.index(self.accounts))
        self.tabs.observe(self._tab_changed, names="selected_index")
        head = w.HTML(STYLE + f'<div class="cs-title" style="font-size:18px">Contact synchronization — '
                      f'Dynamics NAV ↔ Dynamics CRM</div><div class="cs-hint">Workspace: {esc(ws.path)}</div>')
        super().__init__([head, self.tabs])
        self.add_class("cs-app")

    def show(self, view) -> None:
        self.tabs.selected_index = self.views.index(view)

    def open_nav_contact(self, no: str) -> None:
        """Open NAV contact ``no``'s card (after Create Contact in Dynamics NAV)."""
        self._changed()
        self.show(self.nav_contacts)
        self.nav_contacts.open_contact(no)

    def _changed(self) -> None:
        current = self.tabs.selected_index
        self._stale = {i for i in range(len(self.views)) if i != current}

    def _tab_changed(self, change) -> None:
        i = change["new"]
        if i is not None and i in self._stale:
            self._stale.discard(i)
            self.views[i].refresh()
