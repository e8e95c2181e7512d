"""Lists with the Coupled flag, paging and search; compare and differences."""

import pytest
from conftest import CRM_1, CRM_2, CRM_3

import contactsync as cs


def test_crm_list_search_filter_paging(synced):
    df = synced.crm_contacts(search="JÜRGEN")  # name, case-insensitive
    assert df["contactid"].tolist() == [CRM_1] and bool(df["coupled"].iloc[0]) and df["nav_no"].iloc[0] == "CT000001"
    assert synced.crm_contacts(search="obrien.ie")["contactid"].tolist() == [CRM_2]  # e-mail
    assert synced.crm_contacts(search="1234567")["contactid"].tolist() == [CRM_1]  # phone
    assert set(synced.crm_contacts(search="söhne")["contactid"]) == {CRM_1, CRM_3}  # account name
    assert synced.crm_contacts(coupled=False)["contactid"].tolist() == [CRM_3]
    assert len(synced.crm_contacts(coupled=True)) == 2
    page = synced.crm_contacts(limit=2, offset=2)
    assert len(page) == 1 and page.attrs["total"] == 3
    assert synced.crm_contacts(limit=2, offset=10).attrs["total"] == 3
    assert {"coupled", "nav_no", "firstname", "emailaddress1"} <= set(page.columns)


def test_nav_list(synced):
    df = synced.nav_contacts(coupled=True)
    assert df["No."].tolist() == ["CT000001", "CT000002"] and df["crm_id"].tolist() == [CRM_1, CRM_2]
    assert synced.nav_contacts(search="wolf")["No."].tolist() == ["CT000003"]
    with pytest.raises(cs.ContactSyncError, match="limit"):
        synced.nav_contacts(limit=-1)


def test_compare_before_coupling_and_after(ws):
    df = ws.compare("CT000002", CRM_2)
    assert list(df.columns) == ["nav_field", "crm_field", "direction", "nav_value", "crm_value", "differs"]
    assert len(df) == 16
    d = df.set_index("nav_field")
    assert d.loc["First Name", "differs"] and not d.loc["Surname", "differs"]
    assert not d.loc["Post Code", "differs"]  # Code field: case-insensitive
    assert not d.loc["Company No.", "differs"]  # through the company coupling
    with pytest.raises(cs.CouplingError, match="not coupled"):
        ws.compare("CT000002")


def test_differences_all_pairs_long_format(ws):
    ws.couple("CT000002", CRM_2)
    ws.couple("CT000001", CRM_3)
    df = ws.differences()
    assert {"nav_no", "crm_id", "nav_field", "crm_field", "nav_value", "crm_value", "differs"} <= set(df.columns)
    got = set(zip(df["nav_no"], df["nav_field"]))
    assert ("CT000002", "First Name") in got and ("CT000001", "Surname") in got
    assert ("CT000002", "Post Code") not in got
    assert len(ws.differences(nos=["CT000002"])) == 1
