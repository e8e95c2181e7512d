"""The fast e-mail check (validate.email_shape_sql + invalid_emails_shaped) gives email-validator's verdicts.

A run validates each distinct address it is about to write. A plain address (ASCII dot-atom local part, one @)
is judged by its domain, once per distinct domain; any other address by email-validator itself. These tests
generate addresses near every edge of that shape and compare the verdicts with email-validator's."""

from __future__ import annotations

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactsync.validate import email_problem, email_shape_sql, invalid_emails_shaped

#: pieces that sit on the shape's edges: dots, hyphens, quotes, a second @, spaces, non-ASCII, special-use and
#: numeric top-level domains, long labels
PIECES = ["a", "Z", "0", "9", ".", "..", "@", "-", "_", "+", "%", "'", '"', " ", "é", "ß", "/", "!", "<", ">",
          "example", "com", "de", "localhost", "test", "invalid", "123", "x" * 30, "y" * 63, "q" * 64, "xn--bcher-kva",
          "\u200b", "\t", "ä.de", "[1.2.3.4]"]
addresses = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join)
plain = st.builds(lambda loc, dom, tld: f"{loc}@{dom}.{tld}",
                  st.one_of(st.from_regex(r"[A-Za-z0-9_%+'-]{1,70}(\.[A-Za-z0-9_%+'-]{1,10}){0,3}", fullmatch=True),
                            st.lists(st.sampled_from(list("aZ0.-_+'%") + ["..", "é", " ", "@"]), min_size=1,
                                     max_size=8).map("".join)),
                  st.from_regex(r"[A-Za-z0-9-]{1,70}(\.[A-Za-z0-9-]{0,5}){0,2}", fullmatch=True),
                  st.sampled_from(["com", "de", "x1", "1", "", "test", "arpa", "c-o", "co-"]))


def verdicts(values: list[str]) -> dict[str, str | None]:
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT v, {email_shape_sql('v')} FROM (SELECT unnest(?::VARCHAR[]) AS v)",
                           [values]).fetchall()
    finally:
        con.close()
    bad = dict(invalid_emails_shaped(rows))
    return {v: bad.get(v) for v in values}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(addresses, plain), min_size=1, max_size=25, unique=True))
def test_the_fast_check_gives_email_validators_verdict(values):
    got = verdicts(values)
    for v in values:
        assert (got[v] is None) == (email_problem(v) is None), v
        if got[v] is not None:
            assert got[v] == email_problem(v)


def test_plain_addresses_are_judged_by_their_domain_once():
    values = [f"p{i}@example.com" for i in range(2000)] + ["a@localhost", "b@host.invalid", "c..d@example.com"]
    email_problem.cache_clear()
    got = verdicts(values)
    assert [v for v, p in got.items() if p] == ["a@localhost", "b@host.invalid", "c..d@example.com"]
    # the 2000 plain addresses cost one validation of their domain, not 2000
    assert email_problem.cache_info().currsize <= 10
