"""The fixed vocabularies of a run, as enums: the SQL, the CLI's choices, the notebooks' checked
parameters and the views' lists are derived from these (a ``StrEnum`` member equals its text, so the
API keeps taking plain strings: ``ws.sync("push")``)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Direction", "Outcome", "Side", "choices", "sql_list"]


class Direction(StrEnum):
    """Which way a run sends data: ``push`` = send updated data to CRM, ``pull`` = get it from CRM."""
    PUSH = "push"
    PULL = "pull"
    BOTH = "both"

    @classmethod
    def one_way(cls) -> tuple[Direction, ...]:
        """The directions that overwrite one side from the other (``force``, Synchronize After Coupling)."""
        return (cls.PUSH, cls.PULL)


class Side(StrEnum):
    """The two systems: NAV / Business Central and CRM / Dataverse."""
    NAV = "nav"
    CRM = "crm"


class Outcome(StrEnum):
    """What a run did with a record (BC's Integration Synch. Job counters)."""
    INSERTED = "inserted"
    MODIFIED = "modified"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    COUPLED = "coupled"
    UNCOUPLED = "uncoupled"


def choices(enum: type[StrEnum], members=None) -> list[str]:
    """The values of ``enum`` (or of ``members``), for a CLI choice or a dropdown."""
    return [m.value for m in (members if members is not None else enum)]


def sql_list(members) -> str:
    """``('push', 'pull')``: the members as an SQL list of constants (the vocabulary is fixed, never
    user data)."""
    return "(" + ", ".join("'" + m.value + "'" for m in members) + ")"
