"""Read helpers the views share (all through the Workspace API; no SQL here)."""

from __future__ import annotations

import pandas as pd

from ..errors import ContactSyncError
from .common import text


def compare_pair(ws, no: str, crm_id: str) -> pd.DataFrame:
    """``ws.compare(no, crm_id)``; if the core query fails unexpectedly (not a user error), the same table is
    built from ``nav_contact``/``crm_contact`` and the mapping so the Coupled Records table still shows."""
    try:
        return ws.compare(no, crm_id)
    except ContactSyncError:
        raise
    except Exception:  # noqa: BLE001 - work around a core failure; see the UI report
        return _compare_fallback(ws, no, crm_id)


def _compare_fallback(ws, no: str, crm_id: str) -> pd.DataFrame:
    nav = ws.nav_contact(no)
    crm = ws.crm_contact(crm_id)
    account_nav = {}
    if any(f.lookup for f in ws.mapping.fields):
        acc = ws.accounts()
        account_nav = {text(a): text(n) for a, n in zip(acc["accountid"], acc["nav_no"])}
    rows = []
    for f in ws.mapping.fields:
        nv, cv = text(nav.get(f.nav)), text(crm.get(f.crm))
        code = f.code or bool(f.lookup)
        nc = nv.upper() if code else nv
        if f.lookup:
            cc = account_nav.get(cv) or ("" if cv == "" else "#" + cv)
            cc = cc.upper()
        else:
            cc = cv.upper() if code else cv
        rows.append({"nav_field": f.nav, "crm_field": f.crm, "direction": f.direction,
                     "nav_value": nv, "crm_value": cv, "differs": nc != cc})
    return pd.DataFrame(rows)


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
