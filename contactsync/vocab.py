"""The fixed vocabularies of a run, as enums: the SQL, the CLI's choices, the notebooks' checked
parameters and the views' lists are derived from these (a ``StrEnum`` member equals its text, so the
API keeps taking plain strings: ``ws.sync("push")``)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Action", "ChangeOp", "Direction", "Entity", "Outcome", "SkipReason", "Side", "Todo", "choices", "sql_list"]


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


class Action(StrEnum):
    """What a run's plan does with one field of a pair (the plan's ``act_<field>`` columns)."""
    NONE = "none"
    PUSH = "push"          # NAV's value is written to CRM
    PULL = "pull"          # CRM's value is written to NAV
    CONFLICT = "conflict"  # changed on both sides: nothing is written (Skipped)


class Todo(StrEnum):
    """The narrow pass's verdict on a pair (before the wide plan): plan it, record it as in step, or look closer."""
    PLAN = "plan"
    ADOPT = "adopt"
    CHECK = "check"


class SkipReason(StrEnum):
    """Why a run Skipped a pair (``run_skip.reason``)."""
    FILTER = "filter"
    CONFLICT = "conflict"
    EXCLUDED = "excluded"


class Entity(StrEnum):
    """What a coupling couples: a person contact to a CRM contact, a company to a CRM account."""
    CONTACT = "contact"
    COMPANY = "company"


class ChangeOp(StrEnum):
    """A ``change_log`` row's operation."""
    UPDATE = "update"
    INSERT = "insert"
    DELETE = "delete"


def choices(enum: type[StrEnum], members=None) -> list[str]:
    """The values of ``enum`` (or of ``members``), for a CLI choice or a dropdown."""
    return [m.value for m in (members if members is not None else enum)]


def sql_list(members) -> str:
    """``('push', 'pull')``: the members as an SQL list of constants (the vocabulary is fixed, never
    user data)."""
    return "(" + ", ".join("'" + m.value + "'" for m in members) + ")"
