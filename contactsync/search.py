"""The contact lists' search index: one row per contact with its lower-cased search text, its coupled
partner and its sort key, so a list page at a million contacts reads one narrow, uncompressed text
column (not every searchable column, lower-cased and concatenated per row, joined to the couplings).

The index is derived data, kept in step by the writers:

- every run refreshes the rows it touched (:func:`refresh_run`, called by ``history.finish_run``):
  records it changed in a listed column and the contacts of an account whose name it changed get new
  rows; a contact whose coupling alone changed gets its ``partner`` column updated in place (a coupling
  import of a million pairs rewrites one narrow column, not a million wide rows, and keeps the sort order);
- ``Workspace.sql(..., write=True)`` and a workspace written by an older contactsync rebuild it
  (:func:`rebuild`); so does ``Workspace.reindex()`` / ``contactsync reindex`` after the file was
  changed with another tool. Opening a workspace rebuilds it when its row counts disagree.

A build writes the rows in sort-key order, so the scan of a first page skips every row group whose sort
keys cannot make it; a refresh appends its rows (in order among themselves). After many large runs
those appended row groups are read by every page; ``reindex`` puts them back in order.

Builders return SQL and never touch a connection; the executors at the end run them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .sqlbuild import INVISIBLE, q, visible_nfc

__all__ = ["CRM_SEARCH", "INDEXES", "INDEX_FORM", "KEY_INDEXES", "NARROW_SPAN", "NAV_SEARCH", "PHONE_COLUMNS", "SearchIndex", "bounds_query", "ddl",
           "drift", "drift_sql", "fold", "fold_sql", "in_step", "is_filtered", "key_span_sql", "needles", "phone_digits", "page_query", "page_rows", "rebuild", "rebuild_sql", "refresh_run",
           "refresh_sql", "repartner_sql", "repartnered_sql", "rows_sql", "search_alternatives", "search_form", "touched_sql"]

PHONE_COLUMNS = frozenset({"telephone1", "mobilephone", "Phone No.", "Mobile Phone No."})
# DIN 5007-2 (German phone-book spelling): the umlauts as two letters
_UMLAUTS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"))


def fold_sql(expr: str) -> str:
    """The folded form of lower-cased ``expr`` in SQL: accents stripped (DuckDB ``strip_accents``), ß as ss."""
    return f"replace(strip_accents({expr}), 'ß', 'ss')"


CRM_SEARCH = ("firstname", "middlename", "lastname", "emailaddress1", "telephone1", "mobilephone")
NAV_SEARCH = ("No.", "Name", "First Name", "Surname", "E-Mail", "Phone No.", "Mobile Phone No.", "Company Name")


@dataclass(frozen=True)
class SearchIndex:
    side: str  # 'crm' | 'nav'
    table: str  # the index table
    source: str  # the contact table
    key: str
    partner: str  # the coupled partner's key column in ``coupling``
    own: str  # this side's key column in ``coupling``
    sort: tuple[str, ...]  # list order before the key
    columns: tuple[str, ...]  # searched columns of the contact
    shown: tuple[tuple[str, str], ...] = ()  # (name, expression) listed with the contact, kept in the index



INDEXES = {
    "crm": SearchIndex("crm", "crm_contact_search", "crm_contact", "contactid", "nav_no", "crm_id",
                       ("lastname", "firstname"), CRM_SEARCH, (("account_name", "a.name"),)),
    "nav": SearchIndex("nav", "nav_contact_search", "nav_contact", "No.", "crm_id", "nav_no", (), NAV_SEARCH),
}
# key lookups (compare, cards, page rows by key) go through these ART indexes
KEY_INDEXES = (("nav_contact_key", "nav_contact", "No."), ("crm_contact_key", "crm_contact", "contactid"),
               ("crm_account_key", "crm_account", "accountid"))


def _table_ddl(ix: SearchIndex) -> str:
    shown = "".join(f"{q(name)} VARCHAR, " for name, _ in ix.shown)
    return (f"CREATE TABLE IF NOT EXISTS {q(ix.table)} (key VARCHAR, partner VARCHAR, {shown}"
            "sortkey VARCHAR USING COMPRESSION uncompressed, text VARCHAR USING COMPRESSION uncompressed)")


def ddl() -> list[str]:
    """The index tables (text and sort key stored uncompressed: scanning them is 2-4x as fast) and the key
    indexes."""
    out = [_table_ddl(ix) for ix in INDEXES.values()]
    out += [f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({q(col)})" for name, table, col in KEY_INDEXES]
    return out


def _rows_sql(ix: SearchIndex, where: str = "") -> str:
    """The index rows of the contacts matching ``where`` (over alias ``t``)."""
    # blank fields are left out, so "peter meyer" finds Peter Meyer with no middle name
    # in the comparable Unicode form (NFC, invisible characters removed), as the search term is
    parts = [f"nullif(trim({visible_nfc(f'CAST(t.{q(c)} AS VARCHAR)')}), '')" for c in ix.columns]
    joins = ""
    if ix.side == "crm":  # the account's name is searched with the contact
        parts.append(f"nullif(trim({visible_nfc('a.name')}), '')")
        joins = " LEFT JOIN crm_account a ON a.accountid = t.parentcustomerid"
    # list order as one string: the sort columns (NULL as U+10FFFF, after any text) and the key, joined by
    # chr(1); its byte order = ORDER BY each NULLS LAST, then the key. One column sorts faster than three.
    sortkey = "concat_ws(chr(1), " + "".join(f"coalesce(CAST(t.{q(c)} AS VARCHAR), chr(1114111)), "
                                             for c in ix.sort) + f"t.{q(ix.key)})"
    shown = "".join(f"{expr}, " for _, expr in ix.shown)
    low = f"lower(concat_ws(' ', {', '.join(parts)}))"
    # folded as search_alternatives folds a term: accents stripped, ß as ss; a text with German umlauts also
    # in its DIN 5007-2 spelling (ü as ue), so "Mueller" finds Müller; each phone also as its digits
    expanded = low
    for a, b in _UMLAUTS:
        expanded = f"replace({expanded}, '{a}', '{b}')"
    phones = [c for c in ix.columns if c in PHONE_COLUMNS]
    digits = "".join(f", nullif(regexp_replace(CAST(t.{q(c)} AS VARCHAR), '[^0-9]', '', 'g'), '')" for c in phones)
    # the extra forms after chr(31), which no term contains: a phrase never runs from one form into the next
    text = (f"concat_ws(chr(31), {fold_sql(low)}, CASE WHEN regexp_matches({low}, '[äöü]') "
            f"THEN {fold_sql(expanded)} END{digits})")
    return (f"SELECT t.{q(ix.key)}, c.{q(ix.partner)}, {shown}{sortkey} AS sortkey, {text} "
            f"FROM {q(ix.source)} t{joins} LEFT JOIN coupling c ON c.entity = 'contact' "
            f"AND c.{q(ix.own)} = t.{q(ix.key)}{' WHERE ' + where if where else ''}")


def rebuild_sql(ix: SearchIndex) -> list[str]:
    # a new table, not a DELETE of every row (whose deleted rows a later scan would still step over)
    # in sort-key order: a list page's top-N then reads the one row group its sort keys can come from
    return [f"DROP TABLE IF EXISTS {q(ix.table)}", _table_ddl(ix),
            f"INSERT INTO {q(ix.table)} {_rows_sql(ix)} ORDER BY sortkey"]


def touched_sql(ix: SearchIndex, run_id: int) -> tuple[str, list]:
    """The keys of ``ix``'s contacts whose whole index row run ``run_id`` may have changed: records it
    inserted, deleted or changed in a listed column, and (CRM) the contacts of an account it renamed, added
    or removed. (Couplings it changed: :func:`repartnered_sql`.)"""
    listed = sorted({ix.key, *ix.columns, *ix.sort} | ({"parentcustomerid"} if ix.side == "crm" else set()))
    sql = ("SELECT key FROM change_log WHERE run_id = ? AND side = ? AND (field IS NULL OR "
           "list_contains(?::VARCHAR[], field))")
    params: list = [run_id, ix.side, listed]
    if ix.side == "crm":
        sql += (" UNION SELECT contactid FROM crm_contact WHERE parentcustomerid IN (SELECT key FROM change_log "
                "WHERE run_id = ? AND side = 'account' AND (field = 'name' OR field IS NULL))")
        params.append(run_id)
    return sql, params


def repartnered_sql(ix: SearchIndex, run_id: int) -> tuple[str, list]:
    """The keys of ``ix``'s contacts whose coupled partner run ``run_id`` may have changed: couplings it
    created, deleted or replaced (an undo logs no coupling images of its own: those of the run it undoes)."""
    own, partner = q(ix.own), q(ix.partner)
    # a pair logged with both a before- and an after-image kept its partner; any other pair was created,
    # deleted or replaced
    return (f"SELECT {own} AS key FROM coupling_log WHERE entity = 'contact' AND run_id IN "
            f"(SELECT ? UNION SELECT undoes FROM run WHERE run_id = ?) GROUP BY {own}, {partner} "
            f"HAVING NOT (bool_or(image = 'before') AND bool_or(image = 'after'))", [run_id, run_id])


def drift_sql(ix: SearchIndex) -> str:
    """How many rows the index and a fresh build of it disagree on (0 when in step)."""
    return (f"SELECT count(*) FROM ((SELECT * FROM {q(ix.table)} EXCEPT ALL {_rows_sql(ix)}) "
            f"UNION ALL ({_rows_sql(ix)} EXCEPT ALL SELECT * FROM {q(ix.table)}))")


def refresh_sql(ix: SearchIndex) -> list[str]:
    """Replace the index rows of the keys in temp table ``_touched(key)``."""
    return [f"DELETE FROM {q(ix.table)} WHERE key IN (SELECT key FROM _touched)",
            f"INSERT INTO {q(ix.table)} {_rows_sql(ix, f't.{q(ix.key)} IN (SELECT key FROM _touched)')} "
            "ORDER BY sortkey"]


def repartner_sql(ix: SearchIndex) -> list[str]:
    """Set the ``partner`` column of the index rows of the keys in temp table ``_repartner(key)`` (distinct)
    from the couplings: one narrow column updated in place, the row's text and sort key untouched. The rows
    are updated by row id in row-id order: in the order of another key (the couplings' NAV order on the
    CRM index, which is in name order) each vector of the column is revisited, 25x as slow at 100k."""
    return [f"CREATE OR REPLACE TEMP TABLE _repartner_rows AS SELECT s.rowid AS rid, c.{q(ix.partner)} AS partner "
            f"FROM {q(ix.table)} s JOIN _repartner k ON k.key = s.key LEFT JOIN coupling c "
            f"ON c.entity = 'contact' AND c.{q(ix.own)} = k.key "
            f"WHERE s.partner IS DISTINCT FROM c.{q(ix.partner)} ORDER BY rid",
            f"UPDATE {q(ix.table)} AS s SET partner = r.partner FROM _repartner_rows r WHERE s.rowid = r.rid",
            "DROP TABLE _repartner_rows"]


# characters in contact text from commonest to rarest (names, e-mails, phones); any other is rarer still
_COMMON = " eanrilostdh0123456789.-cumgbkp@vyf()+jwzxq"


def needles(term: str) -> list[str]:
    """What a search for ``term`` looks for: the term, after a shorter part of it that starts at its rarest
    character when there is one. ``contains`` skips to each occurrence of a needle's first character, so
    rows without that rarer part are passed over at memchr speed and only the rest get the full test
    ("ravn": "vn" then "ravn", a 1M-contact scan in 23 ms instead of 35). Both are lower-cased by the
    query, as the index text is."""
    rank = [_COMMON.find(c) if c in _COMMON else len(_COMMON) for c in term.lower()]
    if len(rank) != len(term):  # lower() changed the length (e.g. 'İ'): search the term alone
        return [term]
    p = max(range(len(term)), key=rank.__getitem__, default=0)
    return [term[p:], term] if 0 < p < len(term) - 1 else [term]


_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)


def search_form(term: str) -> str:
    """A search term in the index text's Unicode form: NFC, invisible characters removed (so the NFD or
    zero-width-sprinkled spelling of a name finds the same contacts)."""
    return unicodedata.normalize("NFC", term.translate(_DROP_INVISIBLE))


def fold(term: str) -> str:
    """A lower-cased term folded as the index text is (:func:`fold_sql`): accents stripped, ß as ss."""
    decomposed = unicodedata.normalize("NFD", term.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
                                 ).replace("ß", "ss")


_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 ()/.-]*$")


def phone_digits(term: str) -> str | None:
    """What a phone-like term looks for among the index's phone digits: the national significant number.
    ``+49 30 1234567`` and ``0049 30 1234567`` (parsed by phonenumbers, which knows each country code's
    length) and ``030 1234567`` (the trunk prefix 0 dropped) all give ``301234567``, which every stored
    spelling of that number contains. ``None`` when the term is not a phone number (fewer than 4 digits)."""
    term = term.strip()
    if not _PHONE_LIKE.match(term):
        return None
    digits = re.sub(r"[^0-9]", "", term)
    if len(digits) < 4:
        return None
    if term.startswith("+") or digits.startswith("00"):
        import phonenumbers

        try:
            num = phonenumbers.parse("+" + digits[2:] if digits.startswith("00") else "+" + digits, None)
            return phonenumbers.national_significant_number(num) or digits
        except phonenumbers.NumberParseException:
            return digits
    return digits[1:] if digits.startswith("0") and len(digits) > 4 else digits


def search_alternatives(term: str) -> list[str]:
    """The forms a term is looked for in (any one matches): folded; with German umlauts also in their
    DIN 5007-2 spelling ("Müller" finds Muller, Müller and Mueller); a phone number as its digits."""
    low = search_form(term).lower()
    forms = [fold(low)]
    if any(a in low for a, _ in _UMLAUTS):
        expanded = low
        for a, b in _UMLAUTS:
            expanded = expanded.replace(a, b)
        forms.append(fold(expanded))
    phone = phone_digits(term)
    if phone:
        forms.append(phone)
    return list(dict.fromkeys(f for f in forms if f))


def _where(search: str | None, coupled: bool | None) -> tuple[str, list]:
    alts = search_alternatives(search) if search and search.strip() else []
    conds, terms = [], []
    if alts:
        ors = []
        for form in alts:
            n = needles(form)
            ors.append("(" + " AND ".join(["contains(text, ?)"] * len(n)) + ")")
            terms += n
        conds.append("(" + " OR ".join(ors) + ")")
    if coupled is not None:
        conds.append(f"partner IS {'NOT ' if coupled else ''}NULL")
    return " AND ".join(conds) or "true", terms


def bounds_query(ix: SearchIndex, *, search: str | None, coupled: bool | None, limit: int | None,
                 offset: int) -> tuple[str, list]:
    """The first and last sort key of the page, and the count of all matches: the text column is read
    (after the coupled filter) and only the sort keys of the matches are kept and sorted. Without a
    search, a top-N over the sort key alone: the index is stored in sort-key order, so the first pages
    read one row group."""
    where, terms = _where(search, coupled)
    page = [limit if limit is not None else 2**62, offset]
    if terms:  # the text is read once: the matches' sort keys are kept for the count and the page
        return (f"WITH m AS MATERIALIZED (SELECT sortkey FROM {q(ix.table)} WHERE {where}) "
                "SELECT min(sortkey), max(sortkey), (SELECT count(*) FROM m) "
                "FROM (SELECT sortkey FROM m ORDER BY sortkey LIMIT ? OFFSET ?)", [*terms, *page])
    return (f"SELECT min(sortkey), max(sortkey), (SELECT count(*) FROM {q(ix.table)} WHERE {where}) "
            f"FROM (SELECT sortkey FROM {q(ix.table)} WHERE {where} ORDER BY sortkey LIMIT ? OFFSET ?)", page)


def page_query(ix: SearchIndex, *, search: str | None, coupled: bool | None, lo: str, hi: str
               ) -> tuple[str, list]:
    """The page's keys, partners and shown columns in list order, given its first and last sort key from
    :func:`bounds_query`: the scan skips the row groups outside them, so only the page's rows are read."""
    where, terms = _where(search, coupled)
    cols = ", ".join(["key", "partner"] + [q(name) for name, _ in ix.shown])
    return (f"SELECT {cols} FROM {q(ix.table)} WHERE sortkey BETWEEN ? AND ? AND {where} ORDER BY sortkey",
            [lo, hi, *terms])


#: a page whose keys lie within this many contacts of each other in key order is read by a key range: the scan skips
#: every row group outside it (DuckDB's zone maps) and decompresses each vector of the range once. A wider page goes
#: through the key's ART index, which fetches each row alone (a vector of every column decompressed per row: 25 ms
#: for 100 rows at 1M, the range 10 ms). 122,880 rows are one row group.
NARROW_SPAN = 100_000


def key_span_sql(ix: SearchIndex, keys: list) -> tuple[str, list]:
    """How many of ``ix``'s contacts lie between the first and last of ``keys`` in key order, for an index whose sort
    key is the contact's key (no sort columns: the NAV list). Its rows are stored in sort-key order, so the count
    reads the row groups of that range only."""
    if ix.sort:
        raise ValueError(f"the {ix.side} index is sorted by {', '.join(ix.sort)}, not by its key")
    return f"SELECT count(*) FROM {q(ix.table)} WHERE sortkey BETWEEN ? AND ?", [min(keys), max(keys)]


def rows_sql(ix: SearchIndex, keys: list, *, span: int | None = None) -> tuple[str, list]:
    """The contacts of ``keys``, a page's in the order given. ``span``: how many contacts lie between the first and
    last key in key order (:func:`key_span_sql`), when known: within :data:`NARROW_SPAN` a key range with the keys as
    a list (a list parameter, so DuckDB does not turn it into an ART index scan); otherwise through the key's ART
    index (one lookup per key); a long list through a join. The range only narrows the scan: a row is returned
    exactly when its key is in ``keys``."""
    if len(keys) > 1000:
        return (f"SELECT t.* FROM {q(ix.source)} t JOIN (SELECT unnest(?::VARCHAR[]) AS k, "
                f"unnest(range({len(keys)})) AS pos) p ON p.k = t.{q(ix.key)} ORDER BY p.pos", [list(keys)])
    if keys and span is not None and span <= NARROW_SPAN:
        return (f"SELECT * FROM {q(ix.source)} WHERE {q(ix.key)} BETWEEN ? AND ? AND {q(ix.key)} = ANY(?::VARCHAR[]) "
                f"ORDER BY list_position(?::VARCHAR[], {q(ix.key)})", [min(keys), max(keys), list(keys), list(keys)])
    where = f"{q(ix.key)} IN ({', '.join('?' * len(keys))})" if keys else "false"
    return (f"SELECT * FROM {q(ix.source)} WHERE {where} ORDER BY list_position(?::VARCHAR[], {q(ix.key)})",
            [*keys, list(keys)])


def is_filtered(search: str | None, coupled: bool | None) -> bool:
    """Whether a list with this search and coupled filter shows fewer than all contacts."""
    return _where(search, coupled)[0] != "true"


# -- executors (a connection inside the caller's transaction) -----------------------------------------
#: the form of the index text (in ``meta``); an index of another form is rebuilt on open (``in_step``)
INDEX_FORM = "nfc-visible-folded-phones"  # bump when the text changes: workspaces rebuild


def _mark_form(con) -> None:
    if con.execute("SELECT value FROM meta WHERE key = 'search_index_form'").fetchone() != (INDEX_FORM,):
        con.execute("INSERT OR REPLACE INTO meta VALUES ('search_index_form', ?)", [INDEX_FORM])


def page_rows(con, ix: SearchIndex, keys: list, *, search: str | None, coupled: bool | None):
    """The contacts of a page's ``keys`` in that order (a DataFrame): by a key range when the page's keys are close
    together in key order (:func:`rows_sql`). Unfiltered, the NAV list's page is a run of consecutive keys; filtered,
    the index counts the contacts between its first and last key."""
    span = None
    if keys and not ix.sort:
        span = con.execute(*key_span_sql(ix, keys)).fetchone()[0] if is_filtered(search, coupled) else len(keys)
    return con.execute(*rows_sql(ix, keys, span=span)).df()


def rebuild(con) -> None:
    """Rebuild both indexes from the contact tables."""
    for ix in INDEXES.values():
        for stmt in rebuild_sql(ix):
            con.execute(stmt)
    _mark_form(con)


def refresh_run(con, run_id: int) -> None:
    """Bring the index rows of what run ``run_id`` touched up to date: new rows for the records it changed,
    the partner column for the contacts whose coupling alone it changed."""
    for ix in INDEXES.values():
        sql, params = touched_sql(ix, run_id)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _touched AS {sql}", params)
        if con.execute("SELECT count(*) FROM _touched").fetchone()[0]:
            for stmt in refresh_sql(ix):
                con.execute(stmt)
            _mark_form(con)  # an index of another form was rebuilt when the workspace was opened
        sql, params = repartnered_sql(ix, run_id)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _repartner AS SELECT DISTINCT key FROM ({sql}) "
                    "WHERE key NOT IN (SELECT key FROM _touched)", params)
        if con.execute("SELECT count(*) FROM _repartner").fetchone()[0]:
            for stmt in repartner_sql(ix):
                con.execute(stmt)
        con.execute("DROP TABLE _touched")
        con.execute("DROP TABLE _repartner")


def drift(con) -> dict[str, int]:
    """Per side, the rows on which the index disagrees with its contact table (a full comparison)."""
    return {side: con.execute(drift_sql(ix)).fetchone()[0] for side, ix in INDEXES.items()}


def in_step(con) -> bool:
    """A cheap check (one query: the workspace is opened for every action): each index has as many rows as its
    contact table, and (unless empty) the text form of this version (:data:`INDEX_FORM`)."""
    counts = ", ".join(f"(SELECT count(*) FROM {q(ix.table)}), (SELECT count(*) FROM {q(ix.source)})"
                       for ix in INDEXES.values())
    *n, form = con.execute(f"SELECT {counts}, (SELECT value FROM meta WHERE key = 'search_index_form')").fetchone()
    pairs = list(zip(n[::2], n[1::2]))
    if any(a != b for a, b in pairs):
        return False
    return form == INDEX_FORM or all(a == 0 for a, _ in pairs)
