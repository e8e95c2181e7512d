"""Widget views for the steward: every seed procedure over a :class:`~contactsync.Workspace`.

>>> from contactsync.ui import StewardApp, open_workspace
>>> app = StewardApp(open_workspace(":memory:"))  # doctest: +SKIP
"""

from ..extras import Extra, require

require(Extra.APP, "ipywidgets", what="contactsync.ui (the steward app's widgets)")

from .app import StewardApp, default_workspace_path, open_workspace
from .common import RowTable, esc
from .crm_contacts import CrmContactsView
from .dialogs import CompanyCouplingDialog, CouplingDialog, SyncNowDialog
from .differences import DifferencesView
from .errors import ErrorsView
from .fullsync import FullSyncView
from .history import HistoryView
from .mapping import MappingView
from .nav_contacts import ContactCard, NavContactsView

__all__ = ["CompanyCouplingDialog", "ContactCard", "CouplingDialog", "CrmContactsView", "DifferencesView", "ErrorsView",
           "FullSyncView", "HistoryView", "MappingView", "NavContactsView", "RowTable", "StewardApp", "SyncNowDialog",
           "default_workspace_path", "esc", "open_workspace"]
