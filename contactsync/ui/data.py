"""Read helpers the views share (all through the Workspace API; no SQL here)."""

from __future__ import annotations

import pandas as pd

from .common import text

__all__ = ["DEST_CHANGED", "DIRECTION_WORDS", "KIND_WORDS", "account_of", "compare_pair", "contacts_label", "crm_label",
           "crm_name", "errors_text", "nav_name", "record_history", "result_text", "run_contacts"]


def compare_pair(ws, no: str, crm_id: str) -> pd.DataFrame:
    """The Coupled Records table for a NAV contact and a CRM contact."""
    return ws.compare(no, crm_id)


def crm_label(row: dict) -> str:
    name = " ".join(p for p in (text(row.get("firstname")), text(row.get("lastname"))) if p) \
        or text(row.get("fullname")) or text(row.get("contactid"))
    extra = [x for x in (text(row.get("account_name")), text(row.get("emailaddress1"))) if x]
    label = name + (f" — {', '.join(extra)}" if extra else "")
    if row.get("coupled"):
        label += f"  [coupled to {text(row.get('nav_no'))}]"
    return label


def nav_name(row: dict) -> str:
    return text(row.get("Name")) or " ".join(
        p for p in (text(row.get("First Name")), text(row.get("Surname"))) if p)


# Which difference states mean "the destination changed since the last sync" for each direction
DEST_CHANGED = {"push": ("CRM changed", "both changed"), "pull": ("NAV changed", "both changed")}


DIRECTION_WORDS = {"push": "send to Dynamics CRM", "pull": "get from Dynamics CRM", "both": "both ways"}
KIND_WORDS = {"sync": "Synchronization", "couple": "Coupling", "uncouple": "Delete coupling", "undo": "Undo",
              "import": "Import", "create": "Create", "pick": "Per-field pick"}


def errors_text(errors: pd.DataFrame, limit: int = 5) -> str:
    """``CT000001: the job title is ...; CT000002: ...`` (the first ``limit``, then how many more)."""
    if errors is None or errors.empty:
        return ""
    recs = errors.to_dict("records")
    parts = [f"{text(r.get('nav_no')) or text(r.get('crm_id'))}: {text(r.get('message')).rstrip('. ')}"
             for r in recs[:limit]]
    more = f"; and {len(recs) - limit} more" if len(recs) > limit else ""
    return "; ".join(parts) + more


def result_text(result, *, planned: bool = False) -> tuple[str, str]:
    """A sync result in a steward's words, with its kind for :class:`Messages`: ``("ok"|"warn"|"error", text)``.
    Failures name the records and why; skips say why. ``planned``: a dry run ("will" instead of "were")."""
    will = "will be" if planned else "were"
    counts = []
    if result.inserted:
        counts.append(f"{result.inserted} record(s) {'will be created' if planned else 'created'}")
    counts.append(f"{result.modified} record(s) {'will change' if planned else 'changed'}")
    if result.unchanged:
        counts.append(f"{result.unchanged} already matched")
    head = ("Synchronizing would do this: " if planned else "Synchronization completed: ") + ", ".join(counts) + "."
    parts, kind = [head], "ok"
    if result.failed:
        kind = "error"
        parts.append(f"{result.failed} record(s) {'will fail' if planned else 'failed'}: "
                     f"{errors_text(result.errors)}.")
    skips = getattr(result, "skips", None)
    if result.skipped:
        kind = "error" if kind == "error" else "warn"
        why = errors_text(skips) if skips is not None and len(skips) else "a conflict (both sides changed)"
        parts.append(f"{result.skipped} record(s) {will} skipped: {why}.")
    return kind, " ".join(parts)


def run_contacts(ws, since_run: int) -> dict[int, tuple[int, list[str]]]:
    """For the runs from ``since_run`` on: how many NAV contacts each touched (changed, failed, coupled or
    uncoupled) and the first three as ``No. Name``. One read-only query over the run logs; only the first three
    per run are named (naming every touched contact cost 1.7 s at 200k, where a force push touches them all)."""
    df = ws.sql(
        """WITH touched AS (
             SELECT l.run_id, CASE WHEN l.side = 'nav' THEN l.key ELSE coalesce(g.nav_no, c.nav_no) END AS nav_no
             FROM change_log l
             LEFT JOIN (SELECT DISTINCT run_id, crm_id, nav_no FROM coupling_log WHERE run_id >= ?) g
               ON l.side = 'crm' AND g.run_id = l.run_id AND g.crm_id = l.key
             LEFT JOIN coupling c ON l.side = 'crm' AND c.crm_id = l.key
             WHERE l.run_id >= ?
             UNION SELECT run_id, nav_no FROM run_error WHERE run_id >= ?
             UNION SELECT run_id, nav_no FROM coupling_log WHERE run_id >= ?
           ), counted AS (
             SELECT run_id, count(*) AS n, min(nav_no, 3) AS nos FROM touched WHERE nav_no IS NOT NULL GROUP BY run_id
           ), firsts AS (SELECT run_id, n, unnest(nos) AS no FROM counted)
           SELECT f.run_id, f.n, list(trim(f.no || ' ' || coalesce(n."Name", '')) ORDER BY f.no) AS first
           FROM firsts f LEFT JOIN nav_contact n ON n."No." = f.no GROUP BY f.run_id, f.n""", [int(since_run)] * 4)
    return {int(r["run_id"]): (int(r["n"]), list(r["first"])) for r in df.to_dict("records")}


def contacts_label(n: int, first: list[str]) -> str:
    if not n:
        return ""
    return ", ".join(first) + (f" and {n - len(first)} more" if n > len(first) else "")


def account_of(ws, no: str) -> dict | None:
    """The CRM account NAV company ``no`` is coupled to (``None`` when it is not)."""
    acc = ws.accounts()
    hit = acc[acc["nav_no"] == no]
    return hit.iloc[0].to_dict() if len(hit) else None


def crm_name(row: dict) -> str:
    return " ".join(p for p in (text(row.get("firstname")), text(row.get("lastname"))) if p) \
        or text(row.get("fullname")) or text(row.get("contactid"))


def record_history(ws, no: str, crm_id: str | None = None, limit: int = 50) -> pd.DataFrame:
    """What changed on NAV contact ``no`` (and its CRM partner ``crm_id``) when, by which run: the field
    changes of the change log and the couplings made or deleted, newest first. One read-only query."""
    return ws.sql(
        """SELECT r.run_id, r.started_at, r.kind, r.direction, r.undone_by IS NOT NULL AS undone, h.side, h.field,
                  h.old_value, h.new_value
           FROM (SELECT run_id, side, field, old_value, new_value FROM change_log
                 WHERE (side = 'nav' AND key = ?) OR (side = 'crm' AND key = ?)
                 UNION ALL
                 SELECT run_id, 'coupling', 'coupled to', NULL, crm_id FROM coupling_log
                 WHERE entity = 'contact' AND nav_no = ? AND image = 'after'
                 UNION ALL
                 SELECT run_id, 'coupling', 'uncoupled from', crm_id, NULL FROM coupling_log l
                 WHERE entity = 'contact' AND nav_no = ? AND image = 'before' AND NOT EXISTS (
                   SELECT 1 FROM coupling_log a WHERE a.run_id = l.run_id AND a.image = 'after'
                   AND a.entity = 'contact' AND a.nav_no = l.nav_no AND a.crm_id = l.crm_id)) h
           JOIN run r USING (run_id)
           ORDER BY r.run_id DESC, h.side, h.field LIMIT ?""",
        [no, crm_id or "", no, no, int(limit)])
