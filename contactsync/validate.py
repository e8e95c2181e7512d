"""Value checks done in Python on the (distinct, few) values a run is about to write."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

__all__ = ["email_problem", "email_shape_sql", "invalid_emails", "invalid_emails_shaped", "over_length_sql",
           "shorten_sql", "utf16_length", "utf16_length_sql"]

#: the plain shape most addresses have: an ASCII dot-atom local part of common characters (a subset of
#: email-validator's ``DOT_ATOM_TEXT``), one @, an ASCII domain of letters, digits, dots and hyphens
_LOCAL = "[A-Za-z0-9_%+'-]+"
EMAIL_SHAPE_RE = f"{_LOCAL}(\\.{_LOCAL})*@[A-Za-z0-9.-]+"
_SHAPE_LITERAL = "'" + EMAIL_SHAPE_RE.replace("'", "''") + "'"
_EMAIL_MAX_LENGTH = 254  # email_validator.rfc_constants.EMAIL_MAX_LENGTH (the whole address, in octets)


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


def email_shape_sql(expr: str) -> str:
    """SQL: the domain of ``expr`` when the address has the plain shape (:data:`EMAIL_SHAPE_RE`, at most 254
    characters, a local part of at most 64), else NULL. For such an address email-validator's verdict is its
    domain's: a plain local part is valid, so the address is valid exactly when ``a@<domain>`` is (checked
    once per distinct domain by :func:`invalid_emails_shaped`)."""
    return (f"CASE WHEN strlen({expr}) <= {_EMAIL_MAX_LENGTH} AND regexp_full_match({expr}, {_SHAPE_LITERAL}) "
            f"AND strlen(split_part({expr}, '@', 1)) <= 64 THEN split_part({expr}, '@', 2) END")


def invalid_emails_shaped(rows: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """:func:`invalid_emails` of ``(value, domain)`` rows, ``domain`` from :func:`email_shape_sql`: a plain
    address is judged by its domain (each distinct one validated once), any other by email-validator itself.
    The verdicts are email-validator's (``tests/test_email_shape.py`` compares them); 10k new addresses took
    1.8 s one by one."""
    bad: list[tuple[str, str]] = []
    domain_ok: dict[str, bool] = {}
    for v, domain in rows:
        if domain is not None:
            ok = domain_ok.get(domain)
            if ok is None:
                ok = domain_ok[domain] = email_problem("a@" + domain) is None
            if ok:
                continue
        p = email_problem(v)
        if p is not None:
            bad.append((v, p))
    return bad


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
