"""A large workspace for the steward app's speed tests: ``contactsync.sample`` bench data, every person
coupled and synced, then a steward's day of changes (as the bench does it, in plain SQL):

- every 10th NAV person: Job Title and Mobile Phone No. changed since the last sync;
- every 100th pair (n % 100 == 0, a subset of the above): the CRM job title changed too (both changed);
- every 100th pair (n % 100 == 5): CRM Address 2 changed (a pull).

At ``persons=200_000`` that is 22,000 differing pairs, 20,000 of them on Mobile Phone No.
"""

from __future__ import annotations

from pathlib import Path

import contactsync as cs
from contactsync.sample import generate

CHANGED_AT = "2030-02-02 09:00:00"


def _slice(mod: int, rem: int) -> str:
    return f"\"Type\" = 'Person' AND CAST(regexp_extract(\"No.\", '(\\d+)$', 1) AS BIGINT) % {mod} = {rem}"


def _pairs_of(mod: int, rem: int) -> str:
    return (f"SELECT c.crm_id FROM coupling c JOIN nav_contact n ON n.\"No.\" = c.nav_no "
            f"WHERE c.entity = 'contact' AND {_slice(mod, rem)}")


def build(path: Path, persons: int) -> Path:
    """Write the workspace file at ``path`` (a new file) and return ``path``."""
    data = generate(persons, scenario="bench", seed=7)
    with cs.Workspace.open(path) as ws, ws.hold():
        ws.import_accounts(data.crm_account)
        ws.import_nav(data.nav_contact)
        ws.import_crm(data.crm_contact)
        ws.import_couplings(data.company_couplings, entity="company")
        ws.import_couplings(data.contact_couplings)
        ws.sync("push", force=True)
        ws.sql(f"""UPDATE nav_contact SET "Job Title" = 'Category Manager',
                     "Mobile Phone No." = '+45 20 ' || lpad(regexp_extract("No.", '(\\d+)$', 1), 8, '0'),
                     "SystemModifiedAt" = TIMESTAMP '{CHANGED_AT}' WHERE {_slice(10, 0)}""", write=True)
        ws.sql(f"UPDATE crm_contact SET jobtitle = 'Procurement Lead', modifiedon = TIMESTAMP '{CHANGED_AT}' "
               f"WHERE contactid IN ({_pairs_of(100, 0)})", write=True)
        ws.sql(f"UPDATE crm_contact SET address1_line2 = 'Floor 3', modifiedon = TIMESTAMP '{CHANGED_AT}' "
               f"WHERE contactid IN ({_pairs_of(100, 5)})", write=True)
    return path
