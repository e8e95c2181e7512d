"""Per-field pick: for coupled pairs, the steward chooses per field the NAV value, the CRM value or an edited
value, and both sides get it in one undoable run (Business Central can only overwrite a whole record one way).

``picks`` are rows of (``nav_no``, ``field``, ``choice``, ``value``): ``field`` is a mapped field (NAV or CRM
name), ``choice`` a :class:`Pick` (``nav``: keep NAV's value and send it to CRM; ``crm``: get CRM's value into
NAV; ``value``: write ``value``, as NAV shows it, into NAV and its mapped form into CRM).

The run goes the way a sync writes: the change log (old and new values, the modified-at stamps), the coupling's
before-image (:func:`contactsync.history.log_before`), the last-synced values set to the agreed value so the
pair is in step afterwards, :func:`contactsync.history.finish_run` (after-images, search index, the live
outbox). Values are checked as a sync checks them (NAV field lengths in UTF-16 units, e-mail addresses, value
maps, Not Null, a company lookup through the company coupling); any bad pick raises a
:class:`contactsync.errors.SyncError` naming it, before anything is written. All work is set-based: one wide
row per pair, a fixed number of statements whatever the number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import pandas as pd

from . import history, valuemaps
from .errors import MappingError, SyncError, shorten
from .mapping import FieldMapping, TableMapping
from .sqlbuild import norm, q
from .sync import NAME_PARTS, bc_name_sql, derived_names
from .validate import email_shape_sql, invalid_emails_shaped, over_length_sql, utf16_length_sql

__all__ = ["PICK_COLUMNS", "Pick", "PickResult", "build_pick_sql", "normalize_picks", "picks_frame", "run_picks"]

PICK_COLUMNS = ("nav_no", "field", "choice", "value")
_LIST = 5  # problems named in a message before "and N more"


class Pick(StrEnum):
    """Whose value a field of a pair gets."""
    NAV = "nav"      #: the Dynamics NAV value (sent to CRM)
    CRM = "crm"      #: the Dynamics CRM value (written to NAV)
    VALUE = "value"  #: an edited value (written to both)


@dataclass(frozen=True)
class PickResult:
    """What a pick run did: ``pairs`` written (a pair whose values already agreed counts as unchanged),
    the ``fields`` picked, and the field ``changes`` (``side``, ``key``, ``field``, ``old_value``,
    ``new_value``)."""

    run_id: int
    pairs: int
    modified: int
    fields: tuple[str, ...]
    changes: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def message(self) -> str:
        return (f"Picked values for {', '.join(self.fields)} of {self.pairs:,} contact(s): {self.modified:,} "
                f"changed, {self.pairs - self.modified:,} already agreed (run {self.run_id}; undo it in History).")

    def __str__(self) -> str:
        return self.message


def _listed(items: list[str]) -> str:
    head = "; ".join(items[:_LIST])
    return head + (f"; and {len(items) - _LIST:,} more" if len(items) > _LIST else "")


def normalize_picks(picks, m: TableMapping) -> tuple[pd.DataFrame, list[FieldMapping]]:
    """``picks`` (a DataFrame or records) as a frame of :data:`PICK_COLUMNS` with NAV field names and
    :class:`Pick` values, and the picked fields in mapping order. Raises :class:`SyncError` on an unknown
    field or choice, a field that cannot take the choice, a missing key, or the same field picked twice."""
    df = picks.copy() if isinstance(picks, pd.DataFrame) else pd.DataFrame(list(picks))
    if df.empty:
        raise SyncError("no picks given: name at least one (nav_no, field, choice)")
    missing = [c for c in ("nav_no", "field", "choice") if c not in df.columns]
    if missing:
        raise SyncError(f"picks lack the column(s) {', '.join(missing)}: give rows of (nav_no, field, choice, value) "
                        f"with choice one of {', '.join(p.value for p in Pick)}")
    if "value" not in df.columns:
        df["value"] = None
    df = df[list(PICK_COLUMNS)].astype(object)
    blank = df["nav_no"].isna() | (df["nav_no"].astype(str).str.strip() == "")
    if blank.any():
        raise SyncError(f"{int(blank.sum())} pick(s) have no nav_no: name the NAV contact of each pick")
    df["nav_no"] = df["nav_no"].astype(str).str.strip().str.upper()  # NAV's Code field, as coupling.nav_key
    by_name: dict[str, FieldMapping] = {}
    for name in df["field"].astype(str).unique():
        try:
            by_name[name] = m.field(name)
        except MappingError as exc:
            raise SyncError(f"picks name the field {shorten(name)}, which is not mapped; mapped fields: "
                            f"{', '.join(f.nav for f in m.fields)}") from exc
    df["field"] = df["field"].astype(str).map(lambda n: by_name[n].nav)
    choices = {p.value for p in Pick}
    raw = df["choice"].map(lambda c: str(c.value if isinstance(c, Pick) else c).strip().lower())
    bad = sorted(set(raw[~raw.isin(choices)]))
    if bad:
        raise SyncError(f"unknown choice(s) {', '.join(shorten(b) for b in bad[:_LIST])}: a pick's choice is one of "
                        f"{', '.join(sorted(choices))} (the NAV value, the CRM value, or an edited value)")
    df["choice"] = [Pick(c) for c in raw]
    dup = df[df.duplicated(["nav_no", "field"], keep=False)]
    if len(dup):
        firsts = [f"{n} {f}" for n, f in dup[["nav_no", "field"]].drop_duplicates().head(_LIST).itertuples(index=False)]
        raise SyncError(f"the same field is picked twice for {', '.join(firsts)}: give one choice per contact and field")
    fields = [f for f in m.fields if f.nav in set(df["field"])]
    problems = []
    for f in fields:
        chosen = set(df.loc[df["field"] == f.nav, "choice"])
        if f.constant is not None:
            problems.append(f"{f.nav} has the constant {shorten(f.constant)} in the mapping: it cannot be picked")
        if Pick.NAV in chosen and not f.to_crm:
            problems.append(f"{f.nav} is mapped {f.direction}: the NAV value is never sent to CRM (pick the CRM value)")
        if Pick.CRM in chosen and not f.from_crm:
            problems.append(f"{f.nav} is mapped {f.direction}: the CRM value is never written to NAV "
                            "(pick the NAV value)")
    if problems:
        raise SyncError("these picks cannot be made: " + _listed(problems))
    vals = df["value"]
    edited = df["choice"] == Pick.VALUE
    df["value"] = [("" if pd.isna(v) else str(v)) if e else None for v, e in zip(vals, edited)]
    return df, fields


def _to_crm(f: FieldMapping, nav: str) -> str:
    """The CRM value of the NAV value ``nav`` (SQL): a company through the company coupling."""
    if f.lookup:
        return (f"CASE WHEN coalesce({nav}, '') = '' THEN NULL ELSE (SELECT k.crm_id FROM coupling k WHERE "
                f"k.entity = 'company' AND k.nav_no = upper({nav})) END")
    return valuemaps.push_value_sql(f, nav)


def _to_nav(f: FieldMapping, crm: str) -> str:
    """The NAV value of the CRM value ``crm`` (SQL): an account through the company coupling."""
    if f.lookup:
        return (f"CASE WHEN coalesce({crm}, '') = '' THEN '' ELSE (SELECT k.nav_no FROM coupling k WHERE "
                f"k.entity = 'company' AND k.crm_id = {crm}) END")
    return valuemaps.pull_value_sql(f, crm)


def build_pick_sql(m: TableMapping, fields: list[FieldMapping]) -> tuple[str, list]:
    """The wide pick table (pure): from ``_pick`` (long: nav_no, field, choice, value), one row per picked pair
    with, per picked field ``i``: the choice ``ch_i``, the raw values ``nraw_i``/``craw_i``, the values each side
    holds afterwards ``newnav_i``/``newcrm_i``, whether each side is written ``wnav_i``/``wcrm_i``, and the
    last-synced value ``base_i`` (the agreed value in comparable form). Plus ``any_nav``/``any_crm``, the
    modified-at values ``n_mod``/``c_mod`` and, where a pull would recompute them, ``n_name``/``new_name`` and
    ``n_coname``/``new_coname``."""
    params: list = []
    piv = []
    for i, f in enumerate(fields):
        piv.append(f"max(choice) FILTER (WHERE field = ?) AS ch_{i}, max(value) FILTER (WHERE field = ?) AS val_{i}")
        params += [f.nav, f.nav]
    nav_mod = f"n.{q(m.nav_modified)}" if m.nav_modified else "NULL::TIMESTAMP"
    crm_mod = f"r.{q(m.crm_modified)}" if m.crm_modified else "NULL::TIMESTAMP"
    lvl1 = ["p.*", "c.crm_id", f"n.{q(m.nav_key)} IS NOT NULL AND NOT coalesce(c.nav_missing, false) AS nav_ok",
            f"r.{q(m.crm_key)} IS NOT NULL AND NOT coalesce(c.crm_missing, false) AS crm_ok",
            f"{nav_mod} AS n_mod", f"{crm_mod} AS c_mod"]
    name, coname = derived_names(m)
    if m.nav_table == "nav_contact":
        lvl1 += ['n."Last Date Modified" AS n_ld', 'n."Last Time Modified" AS n_lt']
    if name:
        lvl1 += ['n."Name" AS n_name'] + [f"CAST(n.{q(p)} AS VARCHAR) AS part_{k}" for k, p in enumerate(NAME_PARTS)]
    if coname:
        lvl1 += ['n."Company Name" AS n_coname']
    for i, f in enumerate(fields):
        lvl1 += [f"CAST(n.{q(f.nav)} AS VARCHAR) AS nraw_{i}", f"CAST(r.{q(f.crm)} AS VARCHAR) AS craw_{i}"]
    src = (f"SELECT {', '.join(lvl1)} FROM (SELECT nav_no, {', '.join(piv)} FROM _pick GROUP BY nav_no) p "
           f"JOIN coupling c ON c.entity = 'contact' AND c.nav_no = p.nav_no "
           f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = p.nav_no "
           f"LEFT JOIN {q(m.crm_table)} r ON r.{q(m.crm_key)} = c.crm_id")
    lvl2 = ["*"]
    for i, f in enumerate(fields):
        code = f.code or bool(f.lookup)
        edited = f"upper(coalesce(val_{i}, ''))" if code else f"coalesce(val_{i}, '')"
        lvl2.append(f"CASE ch_{i} WHEN 'crm' THEN {_to_nav(f, f'craw_{i}')} WHEN 'value' THEN {edited} "
                    f"ELSE nraw_{i} END AS newnav_{i}")
    lvl3 = ["*"]
    for i, f in enumerate(fields):
        lvl3.append(f"CASE WHEN ch_{i} = 'crm' THEN craw_{i} WHEN ch_{i} IS NOT NULL THEN "
                    f"{_to_crm(f, f'newnav_{i}')} END AS newcrm_{i}")
    lvl4 = ["*"]
    for i, f in enumerate(fields):
        lvl4.append(f"ch_{i} IN ('crm', 'value') AND newnav_{i} IS DISTINCT FROM nraw_{i} AS wnav_{i}")
        lvl4.append(f"ch_{i} IN ('nav', 'value') AND coalesce(newcrm_{i}, '') IS DISTINCT FROM coalesce(craw_{i}, '') "
                    f"AS wcrm_{i}")
        crm_c = valuemaps.crm_comparable_sql(f, f"newcrm_{i}")
        nav_c = valuemaps.nav_comparable_sql(f, f"newnav_{i}")
        agreed = f"CASE WHEN ch_{i} = 'crm' THEN {crm_c} ELSE {nav_c} END" if crm_c else nav_c
        lvl4.append(f"CASE WHEN ch_{i} IS NOT NULL THEN {agreed} END AS base_{i}")
    sql = (f"SELECT {', '.join(lvl4)} FROM (SELECT {', '.join(lvl3)} FROM (SELECT {', '.join(lvl2)} FROM ({src})))")
    n = len(fields)
    tail = ["*", f"({' OR '.join(f'wnav_{i}' for i in range(n))}) AS any_nav",
            f"({' OR '.join(f'wcrm_{i}' for i in range(n))}) AS any_crm"]
    if name:
        idx = {f.nav: i for i, f in enumerate(fields)}
        parts = [f"coalesce(CASE WHEN wnav_{idx[p]} THEN newnav_{idx[p]} ELSE part_{k} END, '')" if p in idx
                 else f"coalesce(part_{k}, '')" for k, p in enumerate(NAME_PARTS)]
        written = " OR ".join(f"wnav_{idx[p]}" for p in NAME_PARTS if p in idx) or "false"
        tail.append(f"CASE WHEN {written} THEN {bc_name_sql(*parts)} ELSE n_name END AS new_name")
    if coname:
        k = next((i for i, f in enumerate(fields) if f.lookup and f.nav == "Company No."), None)
        tail.append("n_coname AS new_coname" if k is None else
                    f"CASE WHEN wnav_{k} THEN coalesce((SELECT co.\"Name\" FROM {q(m.nav_table)} co WHERE "
                    f"co.{q(m.nav_key)} = newnav_{k}), '') ELSE n_coname END AS new_coname")
    return f"SELECT {', '.join(tail)} FROM ({sql})", params


def _problems(con, fields: list[FieldMapping]) -> list[str]:
    """What the picks would write that a sync would fail (one query per kind of check, over all pairs)."""
    out: list[str] = []
    parts: list[str] = []
    params: list = []
    for i, f in enumerate(fields):
        if f.lookup:
            parts.append(f"SELECT nav_no, ? || ': NAV company ' || newnav_{i} || ' is not coupled to a CRM account; '"
                         f"|| 'couple it first (Accounts)' FROM _pickv WHERE ch_{i} IN ('nav', 'value') "
                         f"AND newnav_{i} <> '' AND newcrm_{i} IS NULL")
            parts.append(f"SELECT nav_no, ? || ': CRM account ' || craw_{i} || ' is not coupled to a NAV company; '"
                         f"|| 'couple it first (Accounts)' FROM _pickv WHERE ch_{i} = 'crm' "
                         f"AND coalesce(craw_{i}, '') <> '' AND newnav_{i} IS NULL")
            params += [f.nav, f.nav]
        elif f.value_map:
            parts.append(f"SELECT nav_no, ? || ': ' || newnav_{i} || ' is not in the value map ' || ? || ', so it "
                         f"cannot be sent to CRM (add it to the map, or pick another value)' FROM _pickv "
                         f"WHERE ch_{i} IN ('nav', 'value') AND {norm(f'newnav_{i}')} <> '' AND newcrm_{i} IS NULL")
            parts.append(f"SELECT nav_no, ? || ': CRM value ' || craw_{i} || ' is not in the value map ' || ? FROM "
                         f"_pickv WHERE ch_{i} = 'crm' AND {norm(f'craw_{i}')} <> '' AND newnav_{i} IS NULL")
            params += [f.nav, f.value_map, f.nav, f.value_map]
        if f.max_length:  # Business Central's Text[n] counts UTF-16 code units
            parts.append(f"SELECT nav_no, ? || ': ' || left(newnav_{i}, 40) || CASE WHEN length(newnav_{i}) > 40 "
                         f"THEN '…' ELSE '' END || ' has ' || {utf16_length_sql(f'newnav_{i}')} || ' characters; the "
                         f"NAV field holds at most ' || ? || ' (an emoji counts 2)' FROM _pickv WHERE wnav_{i} AND "
                         f"{over_length_sql(f'newnav_{i}')}")
            params += [f.nav, f.max_length, f.max_length, f.max_length]
        if f.not_null:
            parts.append(f"SELECT nav_no, ? || ': the mapping says Not Null, so an empty value is never written' "
                         f"FROM _pickv WHERE (wnav_{i} AND newnav_{i} = '') OR (wcrm_{i} AND newcrm_{i} IS NULL)")
            params.append(f.nav)
    if parts:
        rows = con.execute(f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY 1, 2 LIMIT 50", params).fetchall()
        out += [f"{no} {msg}" for no, msg in rows]
    emails = [(i, f) for i, f in enumerate(fields) if f.validate == "email"]
    if emails:
        sql = " UNION ".join(f"SELECT newnav_{i} AS v FROM _pickv WHERE (wnav_{i} OR wcrm_{i}) AND newnav_{i} <> '' "
                             f"UNION SELECT newcrm_{i} FROM _pickv WHERE wcrm_{i} AND newcrm_{i} <> ''"
                             for i, _f in emails)
        bad = invalid_emails_shaped(con.execute(f"SELECT v, {email_shape_sql('v')} FROM ({sql})").fetchall())
        out += [f"{shorten(v, 60)} is not a valid e-mail address ({p})" for v, p in bad[:50]]
    return out


def _log_and_write(con, m: TableMapping, fields: list[FieldMapping], run_id: int, ts: datetime) -> None:
    """The change log, then the updates of both sides and of the couplings (a fixed number of statements)."""
    parts: list[str] = []
    params: list = []
    for i, f in enumerate(fields):
        parts.append(f"SELECT 'nav' AS side, nav_no AS key, ? AS field, nraw_{i} AS old_value, newnav_{i} AS new_value "
                     f"FROM _pickv WHERE wnav_{i}")
        parts.append(f"SELECT 'crm', crm_id, ?, craw_{i}, newcrm_{i} FROM _pickv WHERE wcrm_{i}")
        params += [f.nav, f.crm]
    name, coname = derived_names(m)
    if name:
        parts.append("SELECT 'nav', nav_no, 'Name', n_name, new_name FROM _pickv WHERE any_nav "
                     "AND new_name IS DISTINCT FROM n_name")
    if coname:
        parts.append("SELECT 'nav', nav_no, 'Company Name', n_coname, new_coname FROM _pickv WHERE any_nav "
                     "AND new_coname IS DISTINCT FROM n_coname")
    nav_stamps: list[tuple[str, str]] = []
    if m.nav_modified:
        nav_stamps.append((m.nav_modified, "?::TIMESTAMP"))
        parts.append("SELECT 'nav', nav_no, ?, CAST(n_mod AS VARCHAR), CAST(?::TIMESTAMP AS VARCHAR) FROM _pickv "
                     "WHERE any_nav")
        params += [m.nav_modified, ts]
    if m.nav_table == "nav_contact":
        nav_stamps += [("Last Date Modified", "CAST(?::TIMESTAMP AS DATE)"),
                       ("Last Time Modified", "CAST(?::TIMESTAMP AS TIME)")]
        parts.append("SELECT 'nav', nav_no, 'Last Date Modified', CAST(n_ld AS VARCHAR), "
                     "CAST(CAST(?::TIMESTAMP AS DATE) AS VARCHAR) FROM _pickv WHERE any_nav")
        parts.append("SELECT 'nav', nav_no, 'Last Time Modified', CAST(n_lt AS VARCHAR), "
                     "CAST(CAST(?::TIMESTAMP AS TIME) AS VARCHAR) FROM _pickv WHERE any_nav")
        params += [ts, ts]
    if m.crm_modified:
        parts.append("SELECT 'crm', crm_id, ?, CAST(c_mod AS VARCHAR), CAST(?::TIMESTAMP AS VARCHAR) FROM _pickv "
                     "WHERE any_crm")
        params += [m.crm_modified, ts]
    con.execute(f"INSERT INTO change_log SELECT ?, side, key, field, old_value, new_value, 'update' "
                f"FROM ({' UNION ALL '.join(parts)})", [run_id, *params])
    # NAV
    sets = [f"{q(f.nav)} = CASE WHEN p.wnav_{i} THEN p.newnav_{i} ELSE t.{q(f.nav)} END" for i, f in enumerate(fields)]
    sets += [f"{q(c)} = {sql}" for c, sql in nav_stamps]
    sets += ['"Name" = p.new_name'] if name else []
    sets += ['"Company Name" = p.new_coname'] if coname else []
    con.execute(f"UPDATE {q(m.nav_table)} AS t SET {', '.join(sets)} FROM _pickv p "
                f"WHERE t.{q(m.nav_key)} = p.nav_no AND p.any_nav", [ts] * len(nav_stamps))
    # CRM
    sets = [f"{q(f.crm)} = CASE WHEN p.wcrm_{i} THEN p.newcrm_{i} ELSE t.{q(f.crm)} END" for i, f in enumerate(fields)]
    stamp = [ts] if m.crm_modified else []
    sets += [f"{q(m.crm_modified)} = ?::TIMESTAMP"] if m.crm_modified else []
    con.execute(f"UPDATE {q(m.crm_table)} AS t SET {', '.join(sets)} FROM _pickv p "
                f"WHERE t.{q(m.crm_key)} = p.crm_id AND p.any_crm", stamp)
    # couplings: the agreed values become the last-synced ones; a side's synced modified-at moves to the new
    # stamp only when the side was in step before (a change on another field stays visible to the next sync)
    history.log_before(con, run_id, "c.entity = 'contact' AND c.nav_no IN (SELECT nav_no FROM _pickv)")
    sets = [f"{q(f.base_column)} = coalesce(p.base_{i}, c.{q(f.base_column)})" for i, f in enumerate(fields)]
    cparams: list = []
    if m.nav_modified:
        sets.append("nav_synced_modified = CASE WHEN p.any_nav AND p.n_mod <= c.nav_synced_modified THEN ?::TIMESTAMP "
                    "ELSE c.nav_synced_modified END")
        cparams.append(ts)
    if m.crm_modified:
        sets.append("crm_synced_modified = CASE WHEN p.any_crm AND p.c_mod <= c.crm_synced_modified THEN ?::TIMESTAMP "
                    "ELSE c.crm_synced_modified END")
        cparams.append(ts)
    sets += ["last_synced_at = ?::TIMESTAMP",
             "last_result_nav = CASE WHEN p.any_nav THEN 'Modified' ELSE c.last_result_nav END",
             "last_result_crm = CASE WHEN p.any_crm THEN 'Modified' ELSE c.last_result_crm END"]
    cparams.append(ts)
    con.execute(f"UPDATE coupling AS c SET {', '.join(sets)} FROM _pickv p WHERE c.entity = 'contact' "
                f"AND c.nav_no = p.nav_no", cparams)


def run_picks(ws, picks) -> PickResult:
    """Apply ``picks`` to workspace ``ws`` as one run (kind ``pick``) in one transaction; see the module."""
    m = ws.mapping
    df, fields = normalize_picks(picks, m)
    ts = history.now_utc()
    cols = [df[c].tolist() for c in PICK_COLUMNS]
    with ws.transaction() as con:
        con.execute("CREATE OR REPLACE TEMP TABLE _pick AS SELECT unnest(?::VARCHAR[]) AS nav_no, "
                    "unnest(?::VARCHAR[]) AS field, unnest(?::VARCHAR[]) AS choice, unnest(?::VARCHAR[]) AS value",
                    [cols[0], cols[1], [str(c) for c in cols[2]], cols[3]])
        unknown = con.execute(
            f"SELECT p.nav_no, n.{q(m.nav_key)} IS NULL FROM (SELECT DISTINCT nav_no FROM _pick) p "
            f"LEFT JOIN coupling c ON c.entity = 'contact' AND c.nav_no = p.nav_no "
            f"LEFT JOIN {q(m.nav_table)} n ON n.{q(m.nav_key)} = p.nav_no WHERE c.nav_no IS NULL ORDER BY 1 LIMIT 20"
        ).fetchall()
        if unknown:
            names = ", ".join(shorten(k, 40) + (" (does not exist)" if gone else "") for k, gone in unknown[:10])
            raise SyncError(f"not coupled: {names}. A pick sets the values of a coupled pair: couple them first.")
        sql, params = build_pick_sql(m, fields)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _pickv AS {sql}", params)
        gone = con.execute("SELECT nav_no, nav_ok, crm_ok FROM _pickv WHERE NOT (nav_ok AND crm_ok) ORDER BY 1 "
                           "LIMIT 10").fetchall()
        if gone:
            raise SyncError("the coupled record is gone for " + ", ".join(
                f"{no} ({'NAV contact' if not n_ok else 'CRM contact'} deleted or missing from the last full import)"
                for no, n_ok, _c in gone) + ": restore it or delete the coupling (Coupled Data Synchronization Errors)")
        problems = _problems(con, fields)
        if problems:
            raise SyncError("nothing was written; these picks would write values a sync refuses: " + _listed(problems))
        n_pairs, n_mod = con.execute("SELECT count(*), count(*) FILTER (WHERE any_nav OR any_crm) FROM _pickv"
                                     ).fetchone()
        picked = [f.nav for f in fields]
        run_id = history.start_run(con, "pick", note=f"pick: {', '.join(picked)} of {n_pairs:,} contact(s)")
        _log_and_write(con, m, fields, run_id, ts)
        history.add_counts(con, run_id, modified=int(n_mod), unchanged=int(n_pairs - n_mod))
        history.finish_run(con, run_id)
        changes = history.changes(con, run_id)[["side", "key", "field", "old_value", "new_value"]]
        con.execute("DROP TABLE IF EXISTS _pickv")
        con.execute("DROP TABLE IF EXISTS _pick")
    return PickResult(run_id, int(n_pairs), int(n_mod), tuple(picked), changes)


def picks_frame(nos: Iterable[str], fields: dict[str, str], values: dict[str, str] | None = None) -> pd.DataFrame:
    """Picks for every pair of ``nos``: ``fields`` maps a field to its choice; ``values`` the edited values."""
    values = values or {}
    nos = list(nos)
    rows = [(no, f, Pick(c).value, values.get(f)) for f, c in fields.items() for no in nos]
    return pd.DataFrame(rows, columns=list(PICK_COLUMNS))

