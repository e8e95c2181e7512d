"""The errors contactsync raises. Every user error is a :class:`ContactSyncError` whose
message says what was wrong and how to fix it; the workspace is then unchanged."""

from __future__ import annotations

__all__ = ["ContactSyncError", "CouplingError", "ImportFileError", "MappingError", "NotFoundError", "SyncError",
           "UndoError", "WorkspaceBusyError", "WorkspaceError", "shorten"]


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


def shorten(value, limit: int = 80) -> str:
    """A value as an error message quotes it: ``repr`` of at most ``limit`` characters, with the full
    length said when it was cut (a 10,000-character cell must not flood the message)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    n = len(value) if isinstance(value, str) else len(text)
    return f"{text[: limit - 1]}… ({n:,} characters)"
