"""Read helpers the views share (all through the Workspace API; no SQL here)."""

from __future__ import annotations

import pandas as pd

from .common import text


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
