"""Match-based coupling (Business Central parity) and scored coupling suggestions.

Two services over the workspace's connection, both set-based in DuckDB:

* :func:`match_couple` — BC's *Match-Based Coupling*: match uncoupled records on chosen fields in
  priority groups (fields in a group are ANDed, groups are tried in order), case-insensitive unless
  asked, empty values never match; couple only where exactly one uncoupled candidate matches, on both
  sides; optionally create new records for the unmatched and synchronize after coupling.
* :func:`suggest_couplings` — scored candidate pairs for the records no exact rule can couple (typos,
  swapped first/last names, accents, missing values, e-mail case and spacing, phone formatting).
  Candidates are found by blocking (several cheap equi-joins in DuckDB), then every pair is scored
  field by field with Fellegi-Sunter-style evidence weights (log2 Bayes factors) summed and turned into
  a probability. The method and its weights were chosen on the labelled benchmark in
  ``bench/matching`` (see the README, section *Matching*).
* :func:`couple_matches` — couple accepted pairs through the same coupling rules as
  ``Workspace.import_couplings``: all or nothing, one run.

Nothing here opens connections or transactions: the :class:`~contactsync.Workspace` methods do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import pandas as pd

from . import coupling as cp
from . import history, pipeline
from .errors import ContactSyncError, CouplingError
from .mapping import TableMapping
from .sqlbuild import filter_sql, q
from .sync import SyncResult

__all__ = ["CoupleResult", "DEFAULT_THRESHOLD", "MatchResult", "REASONS", "ROLES", "email_sql", "fold_name",
           "lk_company", "match_couple", "matcher_info", "name_sql", "normalize_groups", "normalize_phone",
           "pairs_frame", "prepared", "run_couple_matches", "run_match_couple", "run_suggest", "suggest_couplings",
           "sync_scoped", "text_sql", "train_matcher"]

REASONS = ("none", "several", "already coupled", "not eligible")
DEFAULT_THRESHOLD = 0.5


# ================================================================================================ results
@dataclass(frozen=True)
class MatchResult:
    """What a match-based coupling did.

    ``details``: one row per record considered — ``nav_no``, ``crm_id``, ``status`` (``coupled``,
    ``created`` or ``not coupled``), ``reason`` (for ``not coupled``: ``none``, ``several``,
    ``already coupled`` or ``not eligible``), ``group`` (1-based priority group that matched) and
    ``candidates`` (how many uncoupled candidates that group found).
    """

    run_id: int | None
    coupled: int = 0
    created: int = 0
    not_coupled: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    details: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    sync: SyncResult | None = field(default=None, repr=False, compare=False)

    @property
    def message(self) -> str:
        parts = [f"{self.coupled} coupled"]
        if self.created:
            parts.append(f"{self.created} created and coupled")
        why = ", ".join(f"{n} {r}" for r, n in self.reasons.items() if n)
        parts.append(f"{self.not_coupled} not coupled" + (f" ({why})" if why else ""))
        if self.failed:
            parts.append(f"{self.failed} failed")
        return "Match-based coupling: " + "; ".join(parts) + "."

    def __str__(self) -> str:
        return self.message


# ====================================================================================== field resolution
def _resolve(m: TableMapping, name: str):
    for f in m.fields:
        if name.strip().lower() in (f.nav.lower(), f.crm.lower()):
            return f
    raise ContactSyncError(f"cannot match on {name!r}: it is not a mapped field. Mapped fields: "
                           f"{', '.join(f.nav for f in m.fields)} (or their CRM names)")


def normalize_groups(m: TableMapping, groups) -> list[list]:
    """``groups`` as given by a user -> list of lists of FieldMappings.

    Accepts a field name (one group), a list of names (one group, ANDed), a list of lists (priority
    groups in order) or a mapping ``{field: priority}`` (BC's Match Priority; equal priorities ANDed,
    lower first)."""
    if isinstance(groups, str):
        groups = [[groups]]
    elif isinstance(groups, Mapping):
        by_prio: dict = {}
        for name, prio in groups.items():
            by_prio.setdefault(prio, []).append(name)
        groups = [by_prio[p] for p in sorted(by_prio)]
    else:
        groups = list(groups or [])
        if groups and all(isinstance(g, str) for g in groups):
            groups = [groups]
    out = []
    for g in groups:
        names = [g] if isinstance(g, str) else list(g)
        if not names:
            continue
        out.append([_resolve(m, n) for n in names])
    if not out:
        raise ContactSyncError("choose at least one field to match on, e.g. groups=[['E-Mail'], "
                               "['First Name', 'Surname']]")
    return out


def _match_expr(alias: str, side: str, f, case_sensitive: bool) -> str:
    """The comparable value of one field; NULL when empty (so it never matches)."""
    if f.lookup:  # Company No. <-> parentcustomerid, through the company<->account coupling
        if side == "nav":
            return (f"(SELECT cc.crm_id FROM coupling cc WHERE cc.entity = 'company' "
                    f"AND cc.nav_no = {alias}.{q(f.nav)})")
        return f"nullif(lower(trim(CAST({alias}.{q(f.crm)} AS VARCHAR))), '')"
    v = f"trim(CAST({alias}.{q(f.nav if side == 'nav' else f.crm)} AS VARCHAR))"
    if not case_sensitive or f.code:
        v = f"lower({v})"
    return f"nullif({v}, '')"


def _case_set(case_sensitive, m: TableMapping) -> set[str]:
    if case_sensitive is True:
        return {f.nav for f in m.fields}
    if not case_sensitive:
        return set()
    names = [case_sensitive] if isinstance(case_sensitive, str) else list(case_sensitive)
    return {_resolve(m, n).nav for n in names}


# ============================================================================= match-based coupling
def match_couple(con, m: TableMapping, run_id: int, ts: datetime, groups, *, case_sensitive=False,
                 side: str = "nav", keys: Iterable[str] | None = None, create_new: bool = False,
                 sync_after: str | None = None, nav_no_prefix: str = "CT", nav_no_width: int = 6) -> MatchResult:
    """BC's Match-Based Coupling, set-based, inside the caller's transaction and run.

    ``side``: whose records are coupled ('nav': NAV persons look for CRM contacts; 'crm': the other way);
    ``keys``: only these records of that side (default: all its uncoupled ones). A record is coupled
    at the first priority group where it has exactly one uncoupled candidate and that candidate has no
    other record of ``side`` matching it in that group. A record with several candidates in a group is
    not coupled (reason ``several``) and lower groups are not tried for it — as BC, never a guess.
    """
    if side not in ("nav", "crm"):
        raise ContactSyncError(f"side must be 'nav' or 'crm', got {side!r}")
    if sync_after not in (None, "push", "pull"):
        raise ContactSyncError(f"sync_after must be None, 'push' or 'pull', got {sync_after!r}")
    glist = normalize_groups(m, groups)
    cs = _case_set(case_sensitive, m)
    other = "crm" if side == "nav" else "nav"
    tab = {"nav": (m.nav_table, m.nav_key, m.nav_filter), "crm": (m.crm_table, m.crm_key, m.crm_filter)}
    ccol = {"nav": "nav_no", "crm": "crm_id"}
    keyfn = cp.nav_key if side == "nav" else cp.crm_key

    # every key column for every group: k{g}_{i}
    def prepared(s: str, scoped: bool) -> tuple[str, list]:
        table, key, filt = tab[s]
        fsql, fparams = filter_sql("t", filt)
        cols = ", ".join(f"{_match_expr('t', s, f, f.nav in cs)} AS k{g}_{i}"
                         for g, grp in enumerate(glist) for i, f in enumerate(grp))
        scope = " AND t.{k} IN (SELECT key FROM _mc_scope)".format(k=q(key)) if scoped else ""
        return (f"SELECT CAST(t.{q(key)} AS VARCHAR) AS key, {cols} FROM {q(table)} t WHERE ({fsql}){scope} "
                f"AND NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' "
                f"AND c.{ccol[s]} = t.{q(key)})"), fparams

    scoped = keys is not None
    if scoped:
        klist = sorted({keyfn(k) for k in ([keys] if isinstance(keys, str) else keys)})
        con.register("_mc_scope_df", pd.DataFrame({"key": pd.Series(klist, dtype=object)}))
        con.execute("CREATE OR REPLACE TEMP TABLE _mc_scope AS SELECT CAST(key AS VARCHAR) AS key FROM _mc_scope_df")
        con.unregister("_mc_scope_df")
    sql, p = prepared(side, scoped)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _mc_d AS {sql}", p)
    sql, p = prepared(other, False)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _mc_o AS {sql}", p)
    # the outcome per driving record; filled group by group
    con.execute("CREATE OR REPLACE TEMP TABLE _mc_out (key VARCHAR, okey VARCHAR, status VARCHAR, reason VARCHAR, "
                "grp INTEGER, candidates INTEGER)")
    for g, grp in enumerate(glist):
        on = " AND ".join(f"d.k{g}_{i} = o.k{g}_{i}" for i in range(len(grp)))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _mc_hit AS
                SELECT d.key, o.key AS okey FROM _mc_d d JOIN _mc_o o ON {on}
                WHERE d.key NOT IN (SELECT key FROM _mc_out)
                  AND o.key NOT IN (SELECT okey FROM _mc_out WHERE okey IS NOT NULL AND status = 'coupled')""")
        con.execute(
            f"""INSERT INTO _mc_out
                SELECT key, CASE WHEN nd = 1 AND max(no_) = 1 THEN any_value(okey) END,
                       CASE WHEN nd = 1 AND max(no_) = 1 THEN 'coupled' ELSE 'not coupled' END,
                       CASE WHEN nd = 1 AND max(no_) = 1 THEN NULL ELSE 'several' END, {g + 1},
                       greatest(nd, max(no_))
                FROM (SELECT key, okey, count(*) OVER (PARTITION BY key) AS nd,
                             count(*) OVER (PARTITION BY okey) AS no_ FROM _mc_hit)
                GROUP BY key, nd""")
    # no uncoupled candidate in any group: 'already coupled' when a coupled record would have matched
    table_o, key_o, _ = tab[other]
    kcols = ", ".join(f"{_match_expr('t', other, f, f.nav in cs)} AS k{g}_{i}"
                      for g, grp in enumerate(glist) for i, f in enumerate(grp))
    coupled_o = (f"SELECT {kcols} "
                 f"FROM {q(table_o)} t JOIN coupling c ON c.entity = 'contact' AND c.{ccol[other]} = t.{q(key_o)}")
    any_group = " OR ".join("(" + " AND ".join(f"d.k{g}_{i} = o.k{g}_{i}" for i in range(len(grp))) + ")"
                            for g, grp in enumerate(glist))
    con.execute(
        f"""INSERT INTO _mc_out
            SELECT d.key, NULL, 'not coupled',
                   CASE WHEN EXISTS (SELECT 1 FROM ({coupled_o}) o WHERE {any_group}) THEN 'already coupled'
                        ELSE 'none' END, NULL, 0
            FROM _mc_d d WHERE d.key NOT IN (SELECT key FROM _mc_out)""")
    if scoped:  # asked-for records that were not drivers: coupled already, or outside the filter
        table, key, _ = tab[side]
        con.execute(
            f"""INSERT INTO _mc_out
                SELECT s.key, NULL, 'not coupled',
                       CASE WHEN c.{ccol[side]} IS NOT NULL THEN 'already coupled' ELSE 'not eligible' END, NULL, 0
                FROM _mc_scope s LEFT JOIN coupling c ON c.entity = 'contact' AND c.{ccol[side]} = s.key
                WHERE s.key NOT IN (SELECT key FROM _mc_d)""")

    # couple: the same rules as import_couplings, all or nothing
    nav_c, crm_c = ("key", "okey") if side == "nav" else ("okey", "key")
    accepted = f"""(SELECT {nav_c} AS "No.", {crm_c} AS contactid FROM _mc_out WHERE status = 'coupled')"""
    coupled, _ = cp.import_couplings(con, run_id, m, "contact", ts, "match-based coupling", accepted)

    created_n, failures = 0, []
    if create_new:
        rel = pipeline.Relations()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT key AS {ccol[side]} FROM _mc_out "
                    "WHERE status = 'not coupled' AND reason = 'none'")
        if side == "nav":
            made, failures = cp.create_crm(con, m, run_id, ts, strict=False, keys=rel.create)
            made = made.rename(columns={"nav_no": "key", "crm_id": "okey"})
        else:
            made, failures = cp.create_nav(con, m, run_id, ts, strict=False, keys=rel.create, prefix=nav_no_prefix,
                                           width=nav_no_width)
            made = made.rename(columns={"crm_id": "key", "nav_no": "okey"})
        rel.drop(con)
        created_n = len(made)
        if created_n:
            con.register("_mc_made_df", made[["key", "okey"]])
            con.execute("UPDATE _mc_out o SET okey = m.okey, status = 'created', reason = NULL "
                        "FROM _mc_made_df m WHERE o.key = m.key")
            con.unregister("_mc_made_df")

    result_sync = None
    if sync_after and coupled:
        sc = pipeline.scope_of(con, f"SELECT {nav_c} AS nav_no FROM _mc_out WHERE status = 'coupled'")
        result_sync = sync_scoped(con, m, run_id, ts, sync_after, sc)

    nav_sel, crm_sel = ("key", "okey") if side == "nav" else ("okey", "key")
    details = con.execute(
        f"SELECT {nav_sel} AS nav_no, {crm_sel} AS crm_id, status, reason, grp AS \"group\", candidates "
        "FROM _mc_out ORDER BY status, key").df()
    reasons = {r: int((details["reason"] == r).sum()) for r in REASONS}
    not_coupled = int((details["status"] == "not coupled").sum())
    return MatchResult(run_id=run_id, coupled=int(coupled), created=created_n, not_coupled=not_coupled,
                       reasons={r: n for r, n in reasons.items() if n}, failed=len(failures), details=details,
                       sync=result_sync)


def sync_scoped(con, m: TableMapping, run_id: int, ts: datetime, direction: str, sc: pipeline.Scope) -> SyncResult:
    """Force-synchronize the pairs of ``sc`` (Synchronize After Coupling), through the run pipeline."""
    result, p = pipeline.sync_pairs(con, m, sc, direction, ts=ts, run_id=run_id, force=True)
    history.add_counts(con, run_id, **p.counts)
    p.rel.drop(con)
    return result


# ======================================================================================= suggestions
# roles of the fields that the scorer reads (NAV names of the default mapping)
ROLES = {
    "first": "First Name", "middle": "Middle Name", "last": "Surname", "email": "E-Mail", "phone": "Phone No.",
    "mobile": "Mobile Phone No.", "street": "Address", "post": "Post Code", "city": "City",
    "country": "Country/Region Code", "job": "Job Title", "street2": "Address 2", "county": "County",
}

_TRANSLIT = (("ø", "o"), ("ß", "ss"), ("æ", "ae"), ("đ", "d"), ("ł", "l"), ("œ", "oe"), ("ı", "i"), ("þ", "th"))


def name_sql(expr: str) -> str:
    """Normalized name in SQL: lower-case, accents and punctuation dropped ('O'Brien' -> 'obrien')."""
    v = f"lower(coalesce(CAST({expr} AS VARCHAR), ''))"
    for a, b in _TRANSLIT:
        v = f"replace({v}, '{a}', '{b}')"
    return f"nullif(regexp_replace(strip_accents({v}), '[^a-z]', '', 'g'), '')"


def fold_name(value) -> str | None:
    """:func:`name_sql` in Python: 'O'Brien' -> 'obrien', 'Jürgen' -> 'jurgen', 'Strauß' -> 'strauss'."""
    import unicodedata

    v = str(value or "").lower()
    for a, b in _TRANSLIT:
        v = v.replace(a, b)
    v = "".join(ch for ch in unicodedata.normalize("NFKD", v) if not unicodedata.combining(ch))
    return re.sub("[^a-z]", "", v) or None


def email_sql(expr: str) -> str:
    return f"nullif(lower(regexp_replace(coalesce(CAST({expr} AS VARCHAR), ''), '\\s', '', 'g')), '')"


def text_sql(expr: str) -> str:
    """Normalized text (streets, post codes, cities): lower-case, transliterated, accents and punctuation
    dropped ('Hauptstraße 5' -> 'hauptstrasse5')."""
    v = f"lower(coalesce(CAST({expr} AS VARCHAR), ''))"
    for a, b in _TRANSLIT:
        v = f"replace({v}, '{a}', '{b}')"
    return f"nullif(regexp_replace(strip_accents({v}), '[^a-z0-9]', '', 'g'), '')"


_PHONE_JUNK = re.compile(r"[^\d+]")
_TRUNK = re.compile(r"\(0\)")


@lru_cache(maxsize=1024)
def _region_rule(region: str | None):
    """(calling code, national prefix, national number pattern) of a region whose trunk-prefix rule is plain
    (from phonenumbers' metadata), or None when its numbers need phonenumbers' full parser."""
    from phonenumbers.phonemetadata import PhoneMetadata

    md = PhoneMetadata.metadata_for_region(region) if region else None
    if md is None or md.national_prefix_transform_rule or md.general_desc is None:
        return None
    npfx = md.national_prefix or ""
    if md.national_prefix_for_parsing not in (None, npfx):
        return None
    return str(md.country_code), npfx, re.compile(md.general_desc.national_number_pattern)


@lru_cache(maxsize=1024)
def _cc_rule(cc: str):
    import phonenumbers

    return _region_rule(phonenumbers.region_code_for_country_code(int(cc)))


def _national(rule, number: str) -> str | None:
    """The national significant number as phonenumbers finds it: the trunk prefix stripped unless the
    number is only viable with it; None for the cases left to the full parser (leading zeros)."""
    _cc, npfx, pattern = rule
    if npfx and number.startswith(npfx):
        stripped = number[len(npfx):]
        if not (pattern.fullmatch(number) and not pattern.fullmatch(stripped)):
            number = stripped
    if len(number) < 4 or number.startswith("0"):
        return None
    return number


def _e164_fast(compact: str, region: str | None) -> str | None:
    """phonenumbers' E.164 without its parser, for plain numbers; None where the parser must decide."""
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    if compact.startswith("+"):
        digits = compact[1:]
        if not digits.isdigit():
            return None
        for n in (1, 2, 3):
            cc = digits[:n]
            if int(cc) in COUNTRY_CODE_TO_REGION_CODE:
                rule = _cc_rule(cc)
                nsn = _national(rule, digits[n:]) if rule else None
                return None if nsn is None else "+" + cc + nsn
        return None
    rule = _region_rule(region)
    if rule is None or not compact.isdigit():
        return None
    nsn = _national(rule, compact)
    return None if nsn is None else "+" + rule[0] + nsn


@lru_cache(maxsize=1_000_000)
def _e164(compact: str, region: str | None) -> str | None:
    import phonenumbers

    fast = _e164_fast(compact, region)
    if fast is not None:
        return fast
    try:
        p = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        p = None
    if p is None or not p.national_number:
        digits = compact.lstrip("+")
        return ("#" + digits[-9:]) if len(digits) >= 7 else None  # unparseable: compare the last 9 digits
    lead = "0" * (p.number_of_leading_zeros or 1) if p.italian_leading_zero else ""
    return f"+{p.country_code}{lead}{p.national_number}"


def normalize_phone(value, region: str | None = None) -> str | None:
    """A phone number in E.164 (``+441134960806``) with ``phonenumbers``; ``region`` (ISO country code)
    is the default for numbers written without a country prefix. None when there is no number."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = _TRUNK.sub("", str(value))
    if "x" in text.lower():  # extensions: drop
        text = re.split(r"(?i)\s*(?:ext\.?|x)\s*\d+\s*$", text)[0]
    compact = _PHONE_JUNK.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if len(compact.lstrip("+")) < 5:
        return None
    reg = (str(region).strip().upper() if region else None) or None
    if reg is not None and not re.fullmatch(r"[A-Z]{2}", reg):
        reg = None
    return _e164(compact, reg)


def _phone_table(con, src_sql: str) -> None:
    """Temp table ``_sg_ph(raw, region, e164)`` for the distinct (raw, region) pairs of ``src_sql``."""
    pairs = con.execute(f"SELECT DISTINCT raw, region FROM ({src_sql}) WHERE raw IS NOT NULL").fetchall()
    out = [(raw, region, normalize_phone(raw, region)) for raw, region in pairs]
    df = pd.DataFrame(out, columns=["raw", "region", "e164"], dtype=object)
    con.register("_sg_ph_df", df)
    con.execute("CREATE OR REPLACE TEMP TABLE _sg_ph AS SELECT CAST(raw AS VARCHAR) AS raw, "
                "CAST(region AS VARCHAR) AS region, CAST(e164 AS VARCHAR) AS e164 FROM _sg_ph_df")
    con.unregister("_sg_ph_df")


def _prepare(con, m: TableMapping, side: str) -> None:
    """Temp table ``_sg0_{side}`` with the normalized comparison columns of the uncoupled records."""
    table, key, filt = ((m.nav_table, m.nav_key, m.nav_filter) if side == "nav"
                        else (m.crm_table, m.crm_key, m.crm_filter))
    ccol = "nav_no" if side == "nav" else "crm_id"
    cols = set(history.table_columns(con, table))

    def col(role: str) -> str:
        try:
            f = m.field(ROLES[role])
        except Exception:  # noqa: BLE001 - a custom mapping without this field: no evidence from it
            return "NULL"
        name = f.nav if side == "nav" else f.crm
        return f"t.{q(name)}" if name in cols else "NULL"

    lk = m.lookup_field
    if lk is None:
        company, cname = "NULL", "NULL"
    elif side == "nav":
        company = (f"(SELECT cc.crm_id FROM coupling cc WHERE cc.entity = 'company' "
                   f"AND cc.nav_no = t.{q(lk.nav)})")
        own = 't."Company Name"' if "Company Name" in cols else "NULL"
        cname = (f"coalesce((SELECT nullif(co.\"Name\", '') FROM {q(m.nav_table)} co "
                 f"WHERE co.{q(m.nav_key)} = t.{q(lk.nav)} LIMIT 1), {own})") if "Name" in cols else own
    else:
        company = f"nullif(lower(CAST(t.{q(lk.crm)} AS VARCHAR)), '')"
        cname = (f"(SELECT a.name FROM crm_account a WHERE lower(CAST(a.accountid AS VARCHAR)) = "
                 f"lower(CAST(t.{q(lk.crm)} AS VARCHAR)) LIMIT 1)")
    fsql, fparams = filter_sql("t", filt)
    country = f"upper(trim(CAST({col('country')} AS VARCHAR)))"
    first, last = name_sql(col("first")), name_sql(col("last"))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sg0_{side} AS
            SELECT CAST(t.{q(key)} AS VARCHAR) AS id, {first} AS f, {last} AS l,
                   {email_sql(col('email'))} AS e,
                   nullif(CAST({col('phone')} AS VARCHAR), '') AS ph_raw,
                   nullif(CAST({col('mobile')} AS VARCHAR), '') AS mo_raw,
                   CASE WHEN length({country}) = 2 THEN {country} END AS region,
                   {text_sql(col('street'))} AS street, {text_sql(col('street2'))} AS street2,
                   {text_sql(col('post'))} AS post, {text_sql(col('city'))} AS city,
                   {text_sql(col('county'))} AS county, {text_sql(col('job'))} AS job, {company} AS co,
                   {lk_company(cname)} AS cn,
                   nullif(concat_ws(' ', nullif(trim(CAST({col('first')} AS VARCHAR)), ''),
                                    nullif(trim(CAST({col('last')} AS VARCHAR)), '')), '') AS name
            FROM {q(table)} t WHERE ({fsql})
              AND NOT EXISTS (SELECT 1 FROM coupling c WHERE c.entity = 'contact' AND c.{ccol} = t.{q(key)})""",
        fparams)


def lk_company(expr: str) -> str:
    from .linkage import company_sql

    return company_sql(expr)


def _translit_sql(expr: str) -> str:
    """The German transliteration folded (ae/oe/ue -> a/o/u) on a normalized name: Mueller = Müller."""
    return f"replace(replace(replace({expr}, 'ae', 'a'), 'oe', 'o'), 'ue', 'u')"


def prepared(con, m: TableMapping) -> tuple:
    """The comparison columns of the uncoupled NAV persons and CRM contacts, as two Arrow tables."""
    from .linkage import FREE_MAIL, phonetic_sql

    for s in ("nav", "crm"):
        _prepare(con, m, s)
    raw = " UNION ALL ".join(f"SELECT {c} AS raw, region FROM _sg0_{s}" for s in ("nav", "crm")
                             for c in ("ph_raw", "mo_raw"))
    _phone_table(con, raw)
    out = []
    for s in ("nav", "crm"):
        out.append(con.sql(
            f"""SELECT t.id, t.f, t.l, {_translit_sql('t.f')} AS fx, {_translit_sql('t.l')} AS lx,
                       {phonetic_sql('t.f')} AS fp, {phonetic_sql('t.l')} AS lp, t.e,
                       nullif(split_part(t.e, '@', 1), '') AS el,
                       split_part(t.e, '@', 2) IN (SELECT unnest(?::VARCHAR[])) AS ef, p1.e164 AS ph, p2.e164 AS mo, t.street,
                       nullif(regexp_replace(t.street, '[0-9]+', '', 'g'), '') AS sn, t.street2, t.post, t.city, t.county, t.co, t.cn, t.job, t.name
                FROM _sg0_{s} t
                LEFT JOIN _sg_ph p1 ON p1.raw = t.ph_raw AND p1.region IS NOT DISTINCT FROM t.region
                LEFT JOIN _sg_ph p2 ON p2.raw = t.mo_raw AND p2.region IS NOT DISTINCT FROM t.region""",
            params=[list(FREE_MAIL)]).to_arrow_table())
    return out[0], out[1]


def _arrow_table(x):
    return x.read_all() if hasattr(x, "read_all") else x


def suggest_couplings(con, m: TableMapping, *, threshold: float = DEFAULT_THRESHOLD, min_score: float = 0.2,
                      top: int = 5, nos: Iterable[str] | None = None, crm_ids: Iterable[str] | None = None,
                      matcher=None, tables=None) -> pd.DataFrame:
    """Scored candidate pairs between uncoupled NAV persons and uncoupled CRM contacts.

    Scores with the Fellegi–Sunter model ``matcher`` (:mod:`contactsync.linkage`; default: the packaged
    prior). Returns one row per candidate pair with ``score`` >= ``min_score`` (at most ``top`` per NAV
    record, best first): ``nav_no, crm_id, score, match, rank, reasons, nav_name, crm_name``, the level of
    each field (``name_level`` ... ``job_level``), ``weight`` (the pair's match weight in bits), the weight
    each field added (``w_first`` ... ``w_job``; 0 = no evidence), ``margin`` (bits ahead of the runner-up
    of either record), ``lookalike`` (relative or colleague: the same surname, street, phone or e-mail,
    another first name, no personal identifier agreeing), ``conflict`` (two different e-mail
    addresses), ``suggested`` (the default decision: score >= ``threshold``, the best candidate of both
    records, no conflict, not a look-alike with another mobile too) and ``match`` (auto-acceptable:
    suggested, the best of both records by :data:`contactsync.linkage.MARGIN` bits, not a look-alike;
    such pairs can be coupled as they are). A suggested pair that is not ``match`` is for review. ``nos``/``crm_ids`` keep the pairs of these records
    (scored against all uncoupled records, so decisions do not depend on the scope).
    """
    from . import linkage as lkg

    if not 0 <= threshold <= 1 or not 0 <= min_score <= 1:
        raise ContactSyncError("threshold and min_score are probabilities between 0 and 1")
    if matcher is None:
        matcher = lkg.load_prior()
    nav, crm = tables if tables is not None else prepared(con, m)
    settings = matcher.settings
    if matcher.source is not lkg.Source.WORKSPACE:  # too few records for term frequencies
        settings = lkg.without_tf(settings)
    sc = lkg.session(_arrow_table(nav), _arrow_table(crm))
    try:
        pred = lkg.predict(sc, lkg.Matcher(settings, matcher.source, matcher.trained_at))
        lkg.decide(sc, pred, threshold)
        frame = lkg.frame(sc, matcher, min_score=min_score, top=top,
                          nos=None if nos is None else [cp.nav_key(n) for n in ([nos] if isinstance(nos, str) else nos)],
                          crm_ids=None if crm_ids is None else
                          [cp.crm_key(c) for c in ([crm_ids] if isinstance(crm_ids, str) else crm_ids)])
    finally:
        sc.close()
    return frame


# ==================================================================================== coupling pairs
def pairs_frame(pairs) -> pd.DataFrame:
    """Accepted pairs as a DataFrame with ``No.`` and ``contactid``.

    ``pairs``: a DataFrame (``nav_no``/``crm_id`` or ``No.``/``contactid``; when it has an ``accept`` column,
    only rows where it is true; else every row), or an iterable of ``(nav_no, crm_id)`` tuples."""
    if isinstance(pairs, pd.DataFrame):
        df = pairs
        if "accept" in df.columns:
            acc = df["accept"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes", "y", "x"))
            df = df[acc]
        nav = "nav_no" if "nav_no" in df.columns else "No."
        crm = "crm_id" if "crm_id" in df.columns else "contactid"
        if nav not in df.columns or crm not in df.columns:
            raise CouplingError("the pairs need columns nav_no and crm_id (or No. and contactid); got "
                                f"{list(pairs.columns)}")
        return pd.DataFrame({"No.": df[nav].astype(object).to_numpy(), "contactid": df[crm].astype(object).to_numpy()})
    rows = [tuple(p) for p in pairs]
    if any(len(r) != 2 for r in rows):
        raise CouplingError("each pair is (nav_no, crm_id)")
    return pd.DataFrame(rows, columns=["No.", "contactid"], dtype=object)


# ============================================================================ workspace entry points
class _Rollback(Exception):
    def __init__(self, result):
        self.result = result


def run_match_couple(ws, groups, *, case_sensitive=False, side: str = "nav", keys=None, create_new: bool = False,
                     sync_after: str | None = None, dry_run: bool = False) -> MatchResult:
    """``Workspace.match_couple``: one transaction, one run (none with ``dry_run``: nothing is written)."""
    settings = ws.settings._all()
    ts = history.now_utc()
    try:
        with ws.transaction() as con:
            run_id = history.start_run(con, "couple", direction=sync_after, force=bool(sync_after),
                                       note="match-based coupling")
            result = match_couple(con, ws.mapping, run_id, ts, groups, case_sensitive=case_sensitive, side=side,
                                  keys=keys, create_new=create_new, sync_after=sync_after,
                                  nav_no_prefix=settings["nav_no_prefix"], nav_no_width=int(settings["nav_no_width"]))
            history.finish_run(con, run_id, note=result.message)
            if dry_run:
                raise _Rollback(result)
    except _Rollback as planned:
        from dataclasses import replace

        return replace(planned.result, run_id=None)
    return result


def train_matcher(ws):
    """``Workspace.train_matcher``: train the model on the workspace's uncoupled records and store it
    (``meta``); with fewer than :data:`contactsync.linkage.MIN_TRAIN` on a side, the packaged prior model
    is returned and nothing is stored."""
    from . import linkage as lkg

    with ws.connection() as con:
        nav, crm = prepared(con, ws.mapping)
    nav, crm = _arrow_table(nav), _arrow_table(crm)
    if min(nav.num_rows, crm.num_rows) < lkg.MIN_TRAIN:
        return lkg.load_prior(), (nav, crm)
    sc = lkg.session(nav, crm)
    try:
        matcher = lkg.train(sc, start=lkg.load_prior().settings)
    finally:
        sc.close()
    with ws.transaction() as con:
        lkg.store(con, matcher)
    return matcher, (nav, crm)


def run_suggest(ws, *, retrain: bool = False, **kw) -> pd.DataFrame:
    """``Workspace.suggest_couplings``: scores with the stored model (trained and stored first when there is
    none, or with ``retrain=True``); otherwise read-only (temp tables and a private in-memory DuckDB)."""
    from . import linkage as lkg

    with ws.connection() as con:
        matcher = None if retrain else lkg.stored(con)
    tables = None
    if matcher is None:
        matcher, tables = train_matcher(ws)
    with ws.connection() as con:
        return suggest_couplings(con, ws.mapping, matcher=matcher, tables=tables, **kw)


def matcher_info(ws):
    """``Workspace.matcher``: the model suggestions are scored with (stored, else the packaged prior)."""
    from . import linkage as lkg

    with ws.connection() as con:
        return lkg.stored(con) or lkg.load_prior()


@dataclass(frozen=True)
class CoupleResult:
    """What ``couple_matches`` did: ``coupled`` new couplings, ``unchanged`` pairs already coupled so,
    ``created`` new CRM contacts made (and coupled) from NAV persons."""

    run_id: int
    coupled: int
    unchanged: int
    sync: SyncResult | None = field(default=None, repr=False, compare=False)
    created: int = 0

    def __str__(self) -> str:
        return (f"{self.coupled} pair(s) coupled" + (f", {self.unchanged} already coupled" if self.unchanged else "")
                + (f", {self.created} CRM contact(s) created and coupled" if self.created else "")
                + f" (run {self.run_id}).")


def run_couple_matches(ws, pairs, *, sync_after: str | None = None, create_in_crm: Iterable[str] = ()
                       ) -> CoupleResult:
    """``Workspace.couple_matches``: couple accepted pairs by the rules of ``import_couplings`` and create
    (and couple) new CRM contacts from the NAV persons ``create_in_crm`` — all or nothing, one run;
    optionally synchronize the pairs after coupling (``"push"`` or ``"pull"``)."""
    from .sources import load_source

    if sync_after not in (None, "push", "pull"):
        raise ContactSyncError(f"sync_after must be None, 'push' or 'pull', got {sync_after!r}")
    df = pairs_frame(pairs)
    new = sorted({cp.nav_key(n) for n in ([create_in_crm] if isinstance(create_in_crm, str) else create_in_crm)})
    if df.empty and not new:
        raise CouplingError("nothing to couple: pass accepted pairs (nav_no, crm_id) or NAV persons to create "
                            "in CRM")
    ts = history.now_utc()
    coupled = unchanged = created = 0
    with ws.transaction() as con:
        note = f"{len(df)} accepted match suggestion(s)" + (f", {len(new)} new in CRM" if new else "")
        run_id = history.start_run(con, "couple", direction=sync_after, force=bool(sync_after), note=note)
        result_sync = None
        if not df.empty:
            loaded = load_source(con, df, "No.")
            coupled, unchanged = cp.import_couplings(con, run_id, ws.mapping, "contact", ts, "accepted pairs",
                                                     loaded.relation)
            loaded.drop(con)
            if sync_after and coupled:  # the couplings this run made
                sc = pipeline.scope_of(con, "SELECT nav_no FROM coupling_log WHERE run_id = ? AND image = 'created' "
                                            "AND entity = 'contact'", [run_id])
                result_sync = sync_scoped(con, ws.mapping, run_id, ts, sync_after, sc)
        if new:
            rel = pipeline.Relations()
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.create} AS SELECT unnest(?::VARCHAR[]) AS nav_no", [new])
            made, _ = cp.create_crm(con, ws.mapping, run_id, ts, strict=True, keys=rel.create)
            rel.drop(con)
            created = len(made)
        history.finish_run(con, run_id)
    return CoupleResult(run_id, int(coupled), int(unchanged), result_sync, int(created))
