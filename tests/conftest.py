"""Shared fixtures: small hand-made workspaces and the sample-data workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import contactsync as cs
from contactsync.demo import build_demo

#: the slowest files (seconds in CI, stop 14), started first: under ``--dist loadfile`` a worker takes whole
#: files in collection order, and a slow file collected last kept one worker busy while the other idled
SLOW_FIRST = ("test_state_machine.py", "test_properties.py", "test_crash.py", "test_package.py",
              "test_sync_fields.py", "test_delta_pass.py", "test_live_kill.py", "test_browser.py",
              "test_browser_big.py", "test_browser_pages.py", "test_notebooks.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


ACC_A = "aaaaaaaa-0000-0000-0000-000000000001"
ACC_B = "aaaaaaaa-0000-0000-0000-000000000002"
CRM_1 = "cccccccc-0000-0000-0000-000000000001"
CRM_2 = "cccccccc-0000-0000-0000-000000000002"
CRM_3 = "cccccccc-0000-0000-0000-000000000003"


def nav_frame(**overrides) -> pd.DataFrame:
    rows = [
        {"No.": "C00001", "Type": "Company", "Company No.": "C00001", "Name": "Müller & Söhne GmbH",
         "Company Name": "Müller & Söhne GmbH", "SystemModifiedAt": "2025-01-01 10:00:00"},
        {"No.": "C00002", "Type": "Company", "Company No.": "C00002", "Name": "O'Brien Ltd",
         "Company Name": "O'Brien Ltd", "SystemModifiedAt": "2025-01-01 10:00:00"},
        {"No.": "CT000001", "Type": "Person", "Company No.": "C00001", "Company Name": "Müller & Söhne GmbH",
         "First Name": "Jürgen", "Surname": "Müller", "Job Title": "Einkauf", "E-Mail": "jm@mueller.de",
         "Phone No.": "+49 30 1234567", "Post Code": "10115", "City": "Berlin", "Country/Region Code": "DE",
         "SystemModifiedAt": "2025-01-02 10:00:00"},
        {"No.": "CT000002", "Type": "Person", "Company No.": "C00002", "Company Name": "O'Brien Ltd",
         "First Name": "Siobhán", "Surname": "O'Brien", "Job Title": "Director", "E-Mail": "sob@obrien.ie",
         "Post Code": "D02 X285", "City": "Dublin", "Country/Region Code": "IE",
         "SystemModifiedAt": "2025-01-02 10:00:00"},
        {"No.": "CT000003", "Type": "Person", "Company No.": "", "First Name": "Lone", "Surname": "Wolf",
         "SystemModifiedAt": "2025-01-02 10:00:00"},
        {"No.": "CT000004", "Type": "Person", "Company No.": "C00001", "Company Name": "Müller & Söhne GmbH",
         "First Name": "Anna", "Surname": "Schmidt", "E-Mail": "as@mueller.de",
         "SystemModifiedAt": "2025-01-02 10:00:00"},
    ]
    return pd.DataFrame(rows).fillna("")


def crm_frame() -> pd.DataFrame:
    return pd.DataFrame([
        {"contactid": CRM_1, "firstname": "Jürgen", "lastname": "Müller", "jobtitle": "Einkauf",
         "emailaddress1": "jm@mueller.de", "telephone1": "+49 30 1234567", "address1_postalcode": "10115",
         "address1_city": "Berlin", "address1_country": "DE", "parentcustomerid": ACC_A,
         "modifiedon": "2025-01-02 10:00:00", "statecode": 0},
        {"contactid": CRM_2, "firstname": "Siobhan", "lastname": "O'Brien", "jobtitle": "Director",
         "emailaddress1": "sob@obrien.ie", "address1_postalcode": "d02 x285", "address1_city": "Dublin",
         "address1_country": "IE", "parentcustomerid": ACC_B, "modifiedon": "2025-01-02 10:00:00", "statecode": 0},
        {"contactid": CRM_3, "firstname": "Nina", "lastname": "Nowak", "jobtitle": "Buyer",
         "emailaddress1": "nina@example.com", "parentcustomerid": ACC_A, "modifiedon": "2025-01-02 10:00:00",
         "statecode": 0},
    ])


def account_frame() -> pd.DataFrame:
    return pd.DataFrame([
        {"accountid": ACC_A, "name": "Müller & Söhne GmbH", "modifiedon": "2025-01-01 10:00:00", "statecode": 0},
        {"accountid": ACC_B, "name": "O'Brien Ltd", "modifiedon": "2025-01-01 10:00:00", "statecode": 0},
    ])


def fill_small(w):
    """Load the small hand-made data into workspace ``w``: 2 companies coupled to 2 accounts, 4 persons,
    3 CRM contacts, no person couplings. Returns ``w``."""
    w.import_accounts(account_frame())
    w.import_nav(nav_frame())
    w.import_crm(crm_frame())
    w.couple_company("C00001", ACC_A)
    w.couple_company("C00002", ACC_B)
    return w


@pytest.fixture
def ws():
    """A small in-memory workspace: 2 companies coupled to 2 accounts, 4 persons, 3 CRM contacts, no
    person couplings."""
    w = fill_small(cs.Workspace.open(":memory:"))
    yield w
    w.close()


def couple_two(w):
    """CT000001 <-> CRM_1 and CT000002 <-> CRM_2 coupled and synced once (NAV data wins)."""
    w.couple("CT000001", CRM_1, sync_after="push")
    w.couple("CT000002", CRM_2, sync_after="push")
    return w


@pytest.fixture
def synced(ws):
    """``ws`` with CT000001 <-> CRM_1 and CT000002 <-> CRM_2 coupled and synced once (NAV data wins)."""
    return couple_two(ws)


@pytest.fixture
def demo(tmp_path):
    """The bundled sample data in a workspace file."""
    w = build_demo(tmp_path / "demo.duckdb")
    yield w
    w.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The sample-data workspace file, built once per test session (copy it; don't change it)."""
    path = tmp_path_factory.mktemp("demo") / "template.duckdb"
    build_demo(path).close()
    return path


@pytest.fixture
def wpath(tmp_path, demo_template) -> Path:
    """A fresh copy of the sample-data workspace file."""
    path = tmp_path / "w.duckdb"
    shutil.copyfile(demo_template, path)
    return path


def query(path, sql, params=None):
    """Rows of a read-only query on a workspace file (as another process sees it)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(path, sql, params=None):
    return query(path, sql, params)[0][0]


def table_state(w, table: str) -> pd.DataFrame:
    """A table's full content, sorted, for exact before/after comparisons."""
    df = w.sql(f'SELECT * FROM "{table}"')
    return df.sort_values(list(df.columns[:1])).reset_index(drop=True)


def all_state(w) -> dict[str, pd.DataFrame]:
    return {t: table_state(w, t) for t in ("nav_contact", "crm_contact", "crm_account", "coupling")}


def assert_same_state(a: dict, b: dict) -> None:
    for t in a:
        pd.testing.assert_frame_equal(a[t], b[t], check_dtype=False, obj=t)
