"""Value checks done in Python on the (distinct, few) values a run is about to write."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


@lru_cache(maxsize=65536)
def email_problem(value: str) -> str | None:
    """None if ``value`` is a valid e-mail address (or empty), else the validator's reason."""
    if value is None or value == "":
        return None
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def invalid_emails(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(v, p) for v in values if (p := email_problem(v)) is not None]
