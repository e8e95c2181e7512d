"""The errors contactsync raises. Every user error is a :class:`ContactSyncError` whose
message says what was wrong and how to fix it; the workspace is then unchanged."""

from __future__ import annotations


class ContactSyncError(Exception):
    """Base class of every error a user can cause. ``context`` carries structured details."""

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.context = context


class WorkspaceError(ContactSyncError):
    """The workspace file cannot be opened (newer schema, damaged, not a workspace)."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace file."""


class ImportFileError(ContactSyncError):
    """An import file or DataFrame was rejected."""


class MappingError(ContactSyncError):
    """A mapping is invalid or does not fit the workspace's tables."""


class NotFoundError(ContactSyncError):
    """A record, run or coupling named by the caller does not exist."""


class CouplingError(ContactSyncError):
    """A coupling rule was broken (type, company, one-to-one)."""


class SyncError(ContactSyncError):
    """A synchronization could not start (bad direction, bad record list)."""


class UndoError(ContactSyncError):
    """A run cannot be undone (changed since, already undone)."""
