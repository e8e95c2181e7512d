"""Exact, cheap fingerprints of a workspace's content, for before/after comparisons.

One row per base table: its columns (names and types), its row count and an order-independent
sum of 64-bit row hashes. Equal fingerprints mean equal tables (up to a hash collision).
"""

from __future__ import annotations

import duckdb

_TABLES = ("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
           "AND table_type = 'BASE TABLE' ORDER BY table_name")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fingerprint_con(con, tables=None) -> dict[str, tuple]:
    names = [r[0] for r in con.execute(_TABLES).fetchall()]
    if tables is not None:
        names = [n for n in names if n in tables]
    out = {}
    for name in names:
        cols = tuple(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = ? ORDER BY ordinal_position", [name]).fetchall())
        n, h = con.execute(f"SELECT count(*), coalesce(sum(hash(_row_)::HUGEINT), 0) FROM {_q(name)} _row_"
                           ).fetchone()
        out[name] = (cols, int(n), int(h))
    return out


def fingerprint_file(path, tables=None) -> dict[str, tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return fingerprint_con(con, tables)
    finally:
        con.close()


def fingerprint(ws, tables=None) -> dict[str, tuple]:
    """Fingerprint of an open :class:`contactsync.Workspace` (file or in memory)."""
    with ws._store.connection() as con:
        return fingerprint_con(con, tables)


def diff(a: dict, b: dict) -> list[str]:
    """Names of the tables that differ between two fingerprints."""
    return sorted(t for t in set(a) | set(b) if a.get(t) != b.get(t))
