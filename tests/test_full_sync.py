"""Full synchronization review (issue 15 item 6): BC's Initial Synch Recommendation per entity from the data,
and the run that carries it out (one undoable run); the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ACC_A, ACC_B, CRM_1, CRM_2, account_frame, crm_frame, fill_small, nav_frame
from wschecksum import diff, fingerprint

import contactsync as cs
from contactsync.cli import main


def _rec(ws) -> dict[str, str]:
    return dict(zip(ws.full_sync_review().entity, ws.full_sync_review().recommendation))


def test_an_empty_workspace_has_no_records_and_running_does_nothing():
    ws = cs.Workspace.open(":memory:")
    assert _rec(ws) == {"accounts": "No Records Found", "contacts": "No Records Found"}
    before = fingerprint(ws)
    r = ws.run_full_sync("contacts")
    assert r.run_id is None and "nothing run" in r.message
    assert diff(before, fingerprint(ws)) == []


def test_accounts_couple_records_by_name_and_undo():
    ws = cs.Workspace.open(":memory:")
    accounts = pd.concat([account_frame(), pd.DataFrame([
        {"accountid": "aaaaaaaa-0000-0000-0000-000000000009", "name": "Twin", "statecode": 0},
        {"accountid": "aaaaaaaa-0000-0000-0000-000000000008", "name": "twin ", "statecode": 0}])])
    ws.import_accounts(accounts)
    nav = pd.concat([nav_frame(), pd.DataFrame([{"No.": "C00009", "Type": "Company", "Name": "Twin"}])]).fillna("")
    ws.import_nav(nav)
    review = ws.full_sync_review().set_index("entity")
    assert review.loc["accounts", "recommendation"] == "Couple Records"
    assert (review.loc["accounts", "nav_uncoupled"], review.loc["accounts", "crm_uncoupled"]) == (3, 4)
    before = fingerprint(ws, tables=("coupling",))
    dry = ws.run_full_sync("accounts", dry_run=True)
    assert dry.coupled == 2 and dry.run_id is None and diff(before, fingerprint(ws, tables=("coupling",))) == []
    r = ws.run_full_sync("accounts")
    assert r.coupled == 2
    with ws.connection() as con:
        pairs = dict(con.execute("SELECT nav_no, crm_id FROM coupling WHERE entity = 'company'").fetchall())
    assert pairs == {"C00001": ACC_A, "C00002": ACC_B}
    assert set(r.left.reason) == {"the name is not unique"} and len(r.left) == 3
    ws.undo(r.run_id)
    assert diff(before, fingerprint(ws, tables=("coupling",))) == []


def test_accounts_full_synchronization_is_refused_with_what_to_do():
    ws = cs.Workspace.open(":memory:")
    ws.import_nav(nav_frame())
    assert _rec(ws)["accounts"] == "Full Synchronization"
    with pytest.raises(cs.ContactSyncError, match="creates no CRM accounts.*import_accounts"):
        ws.run_full_sync("accounts")


def test_contacts_couple_records_runs_match_based_coupling():
    ws = fill_small(cs.Workspace.open(":memory:"))
    assert _rec(ws) == {"accounts": "No Records Found", "contacts": "Couple Records"}
    r = ws.run_full_sync("contacts")
    assert r.coupled == 2 and r.run_id is not None, r.message
    with ws.connection() as con:
        pairs = dict(con.execute("SELECT nav_no, crm_id FROM coupling WHERE entity = 'contact'").fetchall())
    assert pairs == {"CT000001": CRM_1, "CT000002": CRM_2}
    review = ws.full_sync_review().set_index("entity")
    assert review.loc["contacts", "coupled"] == 2


def test_contacts_full_synchronization_creates_the_empty_side_through_the_mapping():
    ws = cs.Workspace.open(":memory:")
    ws.import_accounts(account_frame())
    ws.import_nav(nav_frame())
    ws.couple_company("C00001", ACC_A)
    ws.couple_company("C00002", ACC_B)
    assert _rec(ws)["contacts"] == "Full Synchronization"
    r = ws.run_full_sync("contacts")
    assert r.inserted == 3 and r.coupled == 3, r.message  # the three persons with a company
    crm = ws.crm_contacts(limit=None).set_index("nav_no")
    assert crm.loc["CT000001", "address1_country"] == "Germany"  # through the country value map
    assert _rec(ws)["contacts"] == "No Records Found"
    ws.undo(r.run_id)
    assert ws.crm_contacts(limit=None).empty


def test_contacts_full_synchronization_from_crm_pulls():
    ws = cs.Workspace.open(":memory:")
    ws.import_accounts(account_frame())
    ws.import_nav(nav_frame().query("Type == 'Company'"))
    ws.import_crm(crm_frame())
    ws.couple_company("C00001", ACC_A)
    ws.couple_company("C00002", ACC_B)
    r = ws.run_full_sync("contacts")
    assert r.inserted == 3, r.message
    nav = ws.nav_contacts(limit=None).set_index("crm_id")
    assert nav.loc[CRM_1, "Country/Region Code"] == "DE" and nav.loc[CRM_2, "Country/Region Code"] == "IE"


def test_cli_review_run_and_mapping(tmp_path):
    path = str(tmp_path / "w.duckdb")
    fill_small(cs.Workspace.open(path)).close()
    run = CliRunner().invoke
    r = run(main, ["full-sync", "review", "-w", path, "--json"])
    assert r.exit_code == 0, r.output
    assert '"recommendation": "Couple Records"' in r.output
    r = run(main, ["full-sync", "run", "contacts", "-w", path])
    assert r.exit_code == 0 and "Couple Records (contacts)" in r.output, r.output
    r = run(main, ["mapping", "set", "City", 'transform=["trim", "upper"]', "not_null=true", "-w", path])
    assert r.exit_code == 0 and "not_null" in r.output, r.output
    r = run(main, ["mapping", "set", "City", 'transform=[{rule="regex_replace", find="(x"}]', "-w", path])
    assert r.exit_code != 0 and "'City'" in r.output + (r.stderr if r.stderr_bytes is not None else "")
    r = run(main, ["mapping", "value-map", "jobs", "--pair", "Einkauf=Purchasing", "--field", "Job Title", "-w", path])
    assert r.exit_code == 0 and "jobs" in r.output, r.output
    r = run(main, ["mapping", "show", "-w", path, "--json"])
    assert r.exit_code == 0 and '"value_map": "jobs"' in r.output
    saved = tmp_path / "m.toml"
    assert run(main, ["mapping", "save", str(saved), "-w", path]).exit_code == 0
    assert 'value_map = "jobs"' in saved.read_text() and "[value_maps.jobs]" in saved.read_text()
    with cs.Workspace.open(path) as ws:
        assert ws.mapping.field("City").transform and ws.mapping.field("City").not_null
