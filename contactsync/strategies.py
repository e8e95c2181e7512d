"""Conflict strategies of a table mapping, as Business Central's Integration Table Mapping has them.

``update_conflict`` (BC's "Resolve Update Conflicts", enum 5338 *Integration Update Conflict Resolution*):
what a sync does when a bidirectional field changed on both sides to different values — ``none`` (BC's
blank: the record is Skipped and the conflict reported, nothing overwritten), ``send`` (BC's "Send data
update to integration table": NAV wins), ``get`` (BC's "Get data update from integration table": CRM
wins). Beyond BC it can be set per field (``FieldMapping.update_conflict``), which wins over the table's.

``deletion_conflict`` (BC's "Resolve Deletion Conflicts", enum 5337): what a sync does with a coupling whose
record is gone on one side — ``none`` (Failed: "... coupled to a deleted record"), ``restore`` (re-create the
deleted side from the other and couple the new record), ``remove_coupling`` (delete the coupling).

Pure: no database, no front end.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

__all__ = ["DeletionConflict", "UpdateConflict", "check_deletion", "check_update", "effective", "field_strategy",
           "resolve_action"]


class UpdateConflict(StrEnum):
    NONE = "none"
    SEND = "send"  # NAV wins (BC: Send Update to Integration)
    GET = "get"    # CRM wins (BC: Get Update from Integration)


class DeletionConflict(StrEnum):
    NONE = "none"
    RESTORE = "restore"                  # BC: Restore Records
    REMOVE_COUPLING = "remove_coupling"  # BC: Remove Coupling (caption "Delete coupling")


def _check(enum, value, what: str, allow_none: bool):
    if value is None and allow_none:
        return None
    try:
        return enum(value).value
    except ValueError:
        from .errors import MappingError

        raise MappingError(f"{what} must be one of {[e.value for e in enum]}, got {value!r}") from None


def check_update(value, what: str = "update_conflict", *, allow_none: bool = False) -> str | None:
    """``value`` as an :class:`UpdateConflict` value, or a MappingError naming the allowed ones."""
    return _check(UpdateConflict, value, what, allow_none)


def check_deletion(value, what: str = "deletion_conflict") -> str:
    return _check(DeletionConflict, value, what, False)


def field_strategy(m, f) -> UpdateConflict:
    """The update-conflict strategy of field ``f`` of mapping ``m``: its own, else the table's."""
    return UpdateConflict(f.update_conflict or m.update_conflict)


def effective(m, conflicts: str | None):
    """The mapping a run uses: ``conflicts`` (a per-run override, e.g. the CLI's ``--conflicts``) replaces
    the table's strategy and every field's; ``None`` keeps the mapping's."""
    if conflicts is None:
        return m
    value = check_update(conflicts, "conflicts")
    return replace(m, update_conflict=value, fields=tuple(replace(f, update_conflict=None) for f in m.fields))


def resolve_action(strategy: UpdateConflict, direction: str) -> str:
    """The action of a conflicting field: ``'push'``, ``'pull'`` or ``'conflict'`` (the record is Skipped).

    As BC's ``HandleOnUpdateConflictDetected`` (codeunit CRM Integration Management): the winning side's
    run overwrites the other side (``ForceModify``); a run from the losing side skips the record
    (``SkipRecord := true``), so the winner's run brings its value later."""
    if strategy == UpdateConflict.SEND and direction in ("push", "both"):
        return "push"
    if strategy == UpdateConflict.GET and direction in ("pull", "both"):
        return "pull"
    return "conflict"
