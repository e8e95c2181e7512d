"""Value checks done in Python on the (distinct, few) values a run is about to write."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

__all__ = ["email_problem", "invalid_emails", "over_length_sql", "shorten_sql", "utf16_length", "utf16_length_sql"]


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


def utf16_length(value: str) -> int:
    """A text's length as Business Central counts it: UTF-16 code units (a character above U+FFFF, such as
    most emoji, counts 2)."""
    return len(value.encode("utf-16-le")) // 2


def utf16_length_sql(expr: str) -> str:
    """SQL: :func:`utf16_length` of ``expr`` (its characters, plus one for each above U+FFFF)."""
    return f"(length({expr}) + length(regexp_replace({expr}, '[^\\x{{10000}}-\\x{{10FFFF}}]', '', 'g')))"


def over_length_sql(expr: str) -> str:
    """SQL with two parameters (the limit, twice): ``expr`` is longer than the limit in UTF-16 units. Its UTF-8 byte
    length is never below its UTF-16 length, so only the rare long values are counted."""
    return f"(strlen({expr}) > ? AND {utf16_length_sql(expr)} > ?)"


def shorten_sql(expr: str, limit: int = 80) -> str:
    """SQL: ``expr`` quoted for a message, cut to about ``limit`` characters with its full length said
    (as :func:`contactsync.errors.shorten`)."""
    keep = limit - 3
    return (f"CASE WHEN length({expr}) <= {keep} THEN '''' || {expr} || '''' "
            f"ELSE '''' || left({expr}, {keep}) || '…'' (' || format('{{:,}}', length({expr})) || ' characters)' END")
