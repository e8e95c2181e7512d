"""contactsync: keep contacts consistent between an ERP (Dynamics NAV / Business Central) and a CRM
(Dynamics CRM / Dataverse), from Jupyter, papermill, a CLI or SQL.

>>> import contactsync
>>> ws = contactsync.Workspace.open(":memory:")
"""

from .errors import (
    ContactSyncError,
    CouplingError,
    ImportFileError,
    MappingError,
    NotFoundError,
    SyncError,
    UndoError,
    WorkspaceBusyError,
    WorkspaceError,
)
from .imports import ImportResult
from .mapping import Condition, FieldMapping, TableMapping, default_mapping, load_mapping, save_mapping
from .sqlbuild import quote_identifier
from .store import Trace, trace
from .sync import SyncResult
from .workspace import ActionResult, Created, ExportResult, Workspace

__version__ = "0.1.0"

__all__ = [
    "ActionResult", "Condition", "ContactSyncError", "CouplingError", "Created", "ExportResult", "FieldMapping",
    "ImportFileError", "ImportResult", "MappingError", "NotFoundError", "SyncError", "SyncResult", "TableMapping",
    "UndoError", "Workspace", "WorkspaceBusyError", "WorkspaceError", "default_mapping", "load_mapping",
    "quote_identifier", "save_mapping", "Trace", "trace",
]
