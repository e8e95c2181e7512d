"""Tests for contactsync.sample: the seeded fake-data generator."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from contactsync import sample
from contactsync.sample import (
    COMPANY_COUPLING_COLUMNS,
    CONTACT_COUPLING_COLUMNS,
    CRM_ACCOUNT_COLUMNS,
    CRM_CONTACT_COLUMNS,
    FIELD_MAP,
    NAV_COLUMNS,
    NAV_FIELD_LENGTHS,
    SampleData,
    generate,
    read_sample,
    write_sample,
)

NAV_TEXT = [c for c in NAV_COLUMNS if c != "SystemModifiedAt"]
EXPECTED_COLUMNS = {
    "nav_contact": [
        "No.", "Type", "Company No.", "Company Name", "Name", "First Name", "Middle Name",
        "Surname", "Job Title", "Address", "Address 2", "Post Code", "City", "County",
        "Country/Region Code", "E-Mail", "Phone No.", "Mobile Phone No.", "Fax No.",
        "Home Page", "SystemModifiedAt",
    ],
    "crm_contact": [
        "contactid", "firstname", "middlename", "lastname", "jobtitle", "address1_line1",
        "address1_line2", "address1_postalcode", "address1_city",
        "address1_stateorprovince", "address1_country", "emailaddress1", "telephone1",
        "mobilephone", "fax", "websiteurl", "parentcustomerid", "modifiedon", "statecode",
    ],
    "crm_account": [
        "accountid", "name", "accountnumber", "telephone1", "websiteurl", "address1_city",
        "address1_country", "modifiedon", "statecode",
    ],
    "contact_couplings": [
        "No.", "contactid", "Last Synch. Modified On", "Last Synch. CRM Modified On",
    ],
    "company_couplings": ["No.", "accountid"],
}
GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@pytest.fixture(scope="module")
def demo() -> SampleData:
    return generate()


@pytest.fixture(scope="module")
def bench() -> SampleData:
    return generate(20_000, scenario="bench", seed=7)


def _pairs(data: SampleData) -> pd.DataFrame:
    """Coupled NAV/CRM pairs side by side, with changed flags and differing fields."""
    m = (data.contact_couplings
         .merge(data.nav_contact, on="No.", how="left", validate="one_to_one")
         .merge(data.crm_contact, on="contactid", how="left", validate="one_to_one"))
    m["nav_changed"] = m["SystemModifiedAt"] > m["Last Synch. Modified On"]
    m["crm_changed"] = m["modifiedon"] > m["Last Synch. CRM Modified On"]
    diff = pd.DataFrame({nav: m[nav].fillna("") != m[crm].fillna("") for nav, crm in FIELD_MAP})
    m["n_diff"] = diff.sum(axis=1)
    m["diff_fields"] = diff.apply(lambda row: tuple(diff.columns[row.to_numpy()]), axis=1)
    return m


def _ascii(text: str) -> str:
    text = text.translate(str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae"}))
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# --------------------------------------------------------------------------- shape

@pytest.mark.parametrize("fixture", ["demo", "bench"])
def test_columns_exact(fixture: str, request: pytest.FixtureRequest) -> None:
    data: SampleData = request.getfixturevalue(fixture)
    for name, cols in EXPECTED_COLUMNS.items():
        assert list(getattr(data, name).columns) == cols, name
    assert list(NAV_COLUMNS) == EXPECTED_COLUMNS["nav_contact"]
    assert list(CRM_CONTACT_COLUMNS) == EXPECTED_COLUMNS["crm_contact"]
    assert list(CRM_ACCOUNT_COLUMNS) == EXPECTED_COLUMNS["crm_account"]
    assert list(CONTACT_COUPLING_COLUMNS) == EXPECTED_COLUMNS["contact_couplings"]
    assert list(COMPANY_COUPLING_COLUMNS) == EXPECTED_COLUMNS["company_couplings"]


@pytest.mark.parametrize("fixture", ["demo", "bench"])
def test_keys_unique_and_well_formed(fixture: str, request: pytest.FixtureRequest) -> None:
    data: SampleData = request.getfixturevalue(fixture)
    nav, crm, acc = data.nav_contact, data.crm_contact, data.crm_account
    assert nav["No."].is_unique and (nav["No."] != "").all()
    assert crm["contactid"].is_unique and acc["accountid"].is_unique
    assert not set(crm["contactid"]) & set(acc["accountid"])
    assert crm["contactid"].str.match(GUID).all()
    assert acc["accountid"].str.match(GUID).all()
    companies = nav[nav["Type"] == "Company"]
    persons = nav[nav["Type"] == "Person"]
    assert set(nav["Type"]) == {"Company", "Person"}
    assert companies["No."].str.fullmatch(r"C\d{5,}").all()
    assert persons["No."].str.fullmatch(r"CT\d{6,}").all()
    assert (companies["Company No."] == companies["No."]).all()
    assert (companies["Company Name"] == companies["Name"]).all()
    for col in ("First Name", "Middle Name", "Surname", "Job Title"):
        assert (companies[col] == "").all(), col
    assert persons["Company No."].isin(companies["No."]).all()
    name_of = companies.set_index("No.")["Name"]
    assert (persons["Company Name"].to_numpy() == name_of.loc[persons["Company No."]].to_numpy()).all()
    assert set(acc["name"]) == set(companies["Name"])
    assert companies["Name"].is_unique


@pytest.mark.parametrize("fixture", ["demo", "bench"])
def test_nav_text_never_null_and_lengths(fixture: str, request: pytest.FixtureRequest) -> None:
    data: SampleData = request.getfixturevalue(fixture)
    nav = data.nav_contact
    assert not nav[NAV_TEXT].isna().any().any()
    for col, length in NAV_FIELD_LENGTHS.items():
        too_long = nav[nav[col].str.len() > length]
        assert too_long.empty, (col, too_long[col].tolist())
    assert nav["Country/Region Code"].str.fullmatch(r"[A-Z]{2}").all()
    # CRM uses null, never '', for empty text
    crm_text = [c for c in CRM_CONTACT_COLUMNS if c not in ("modifiedon", "statecode")]
    assert not (data.crm_contact[crm_text] == "").any().any()
    assert not (data.crm_account.drop(columns=["modifiedon", "statecode"]) == "").any().any()


def test_crm_values_fit_nav_except_deliberate_job_titles(demo: SampleData) -> None:
    crm = demo.crm_contact
    for nav_field, crm_attr in FIELD_MAP:
        too_long = crm[crm[crm_attr].fillna("").str.len() > NAV_FIELD_LENGTHS[nav_field]]
        if crm_attr == "jobtitle":
            assert 1 <= len(too_long) <= 3
            assert too_long["contactid"].isin(demo.contact_couplings["contactid"]).all()
        else:
            assert too_long.empty, (crm_attr, too_long[crm_attr].tolist())


def test_dtypes(demo: SampleData) -> None:
    assert demo.nav_contact["SystemModifiedAt"].dtype == "datetime64[us]"
    assert demo.crm_contact["modifiedon"].dtype == "datetime64[us]"
    assert demo.crm_contact["statecode"].dtype == "int64"
    assert set(demo.crm_contact["statecode"]) == {0, 1}
    for col in CONTACT_COUPLING_COLUMNS[2:]:
        assert demo.contact_couplings[col].dtype == "datetime64[us]"


# --------------------------------------------------------------------------- determinism

def test_same_seed_same_frames(demo: SampleData) -> None:
    again = generate(seed=42)
    for name, frame in demo.frames().items():
        pd.testing.assert_frame_equal(frame, getattr(again, name), check_exact=True)


def test_different_seed_differs(demo: SampleData) -> None:
    other = generate(seed=43)
    assert not demo.nav_contact.equals(other.nav_contact)
    assert not demo.crm_contact.equals(other.crm_contact)
    assert set(demo.crm_contact["contactid"]).isdisjoint(other.crm_contact["contactid"])


def test_bench_deterministic() -> None:
    a = generate(3_000, scenario="bench", seed=1)
    b = generate(3_000, scenario="bench", seed=1)
    c = generate(3_000, scenario="bench", seed=2)
    for name, frame in a.frames().items():
        pd.testing.assert_frame_equal(frame, getattr(b, name), check_exact=True)
    assert not a.nav_contact.equals(c.nav_contact)


# --------------------------------------------------------------------------- couplings

@pytest.mark.parametrize("fixture", ["demo", "bench"])
def test_couplings_one_to_one_and_existing(fixture: str, request: pytest.FixtureRequest) -> None:
    data: SampleData = request.getfixturevalue(fixture)
    nav, crm, acc = data.nav_contact, data.crm_contact, data.crm_account
    cc, kc = data.contact_couplings, data.company_couplings
    persons = nav.loc[nav["Type"] == "Person", "No."]
    companies = nav.loc[nav["Type"] == "Company", "No."]
    assert cc["No."].is_unique and cc["contactid"].is_unique
    assert cc["No."].isin(persons).all() and cc["contactid"].isin(crm["contactid"]).all()
    assert kc["No."].is_unique and kc["accountid"].is_unique
    assert kc["No."].isin(companies).all() and kc["accountid"].isin(acc["accountid"]).all()
    assert not cc.isna().any().any() and not kc.isna().any().any()
    # a company is coupled to the account of the same name
    names = (kc.merge(nav[["No.", "Name"]], on="No.").merge(acc[["accountid", "name"]], on="accountid"))
    assert (names["Name"] == names["name"]).all()


@pytest.mark.parametrize("fixture", ["demo", "bench"])
def test_coupled_parent_is_coupled_account(fixture: str, request: pytest.FixtureRequest) -> None:
    data: SampleData = request.getfixturevalue(fixture)
    m = (data.contact_couplings
         .merge(data.nav_contact[["No.", "Company No."]], on="No.")
         .merge(data.crm_contact[["contactid", "parentcustomerid", "statecode"]], on="contactid")
         .merge(data.company_couplings.rename(columns={"No.": "Company No."}), on="Company No.",
                how="left"))
    assert len(m) == len(data.contact_couplings)
    assert m["accountid"].notna().all(), "coupled person in an uncoupled company"
    assert (m["parentcustomerid"] == m["accountid"]).all()
    assert (m["statecode"] == 0).all()


# --------------------------------------------------------------------------- demo scenario

def test_demo_counts(demo: SampleData) -> None:
    nav, crm, cc, kc = (demo.nav_contact, demo.crm_contact, demo.contact_couplings,
                        demo.company_couplings)
    companies = nav[nav["Type"] == "Company"]
    persons = nav[nav["Type"] == "Person"]
    assert len(companies) == 40 and len(demo.crm_account) == 40
    assert 34 <= len(kc) <= 37  # about 90 % of companies coupled
    assert len(cc) == 180  # 60 % of 300 person slots
    assert len(persons) - len(cc) == 60 and len(crm) - len(cc) == 60
    # a few NAV persons belong to an uncoupled company
    uncoupled_companies = set(companies["No."]) - set(kc["No."])
    assert persons["Company No."].isin(uncoupled_companies).sum() >= 3
    # a few inactive CRM contacts, none coupled
    inactive = crm[crm["statecode"] == 1]
    assert 2 <= len(inactive) <= 5
    assert not inactive["contactid"].isin(cc["contactid"]).any()


def test_demo_change_categories(demo: SampleData) -> None:
    m = _pairs(demo)
    nav_c, crm_c = m["nav_changed"], m["crm_changed"]
    identical = m[~nav_c & ~crm_c]
    assert len(identical) >= 0.6 * len(m)
    assert (identical["n_diff"] == 0).all(), "unchanged pair with differing values"
    # each changed pair really differs
    assert (m.loc[nav_c | crm_c, "n_diff"] >= 1).all()
    assert 10 <= (nav_c & ~crm_c).sum() <= 30
    assert 10 <= (crm_c & ~nav_c).sum() <= 30
    both = m[nav_c & crm_c]
    conflicts = both[both["n_diff"] == 1]  # same field changed on both sides, different values
    merges = both[both["n_diff"] == 2]  # different fields on each side
    assert 2 <= len(conflicts) <= 5
    assert 1 <= len(merges) <= 5
    assert len(conflicts) + len(merges) == len(both)


def test_demo_invalid_email_on_changed_side(demo: SampleData) -> None:
    m = _pairs(demo)
    valid = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
    bad_nav = m[~m["E-Mail"].str.match(valid)]
    bad_crm = m[~m["emailaddress1"].fillna("a@b.cd").str.match(valid)]
    assert 1 <= len(bad_nav) + len(bad_crm) <= 3
    assert bad_nav["nav_changed"].all() and bad_crm["crm_changed"].all()
    assert bad_nav["E-Mail"].str.contains("@@").any()
    # uncoupled records and companies all have valid e-mails
    nav = demo.nav_contact
    others = nav[~nav["No."].isin(m["No."]) & (nav["E-Mail"] != "")]
    assert others["E-Mail"].str.match(valid).all()


def test_demo_too_long_job_title_changed_in_crm(demo: SampleData) -> None:
    m = _pairs(demo)
    long_ = m[m["jobtitle"].fillna("").str.len() > NAV_FIELD_LENGTHS["Job Title"]]
    assert 1 <= len(long_) <= 2
    assert long_["crm_changed"].all() and not long_["nav_changed"].any()
    assert (long_["diff_fields"] == ("Job Title",)).all()


def test_demo_timestamps_in_range(demo: SampleData) -> None:
    lo, hi = pd.Timestamp("2025-01-01"), pd.Timestamp("2027-01-01")
    for frame, cols in ((demo.nav_contact, ["SystemModifiedAt"]),
                        (demo.crm_contact, ["modifiedon"]), (demo.crm_account, ["modifiedon"]),
                        (demo.contact_couplings, list(CONTACT_COUPLING_COLUMNS[2:]))):
        for col in cols:
            assert frame[col].notna().all()
            assert frame[col].between(lo, hi, inclusive="left").all(), col
            assert (frame[col].dt.microsecond == 0).all()


def test_demo_has_realistic_international_names(demo: SampleData) -> None:
    nav = demo.nav_contact
    names = " ".join(nav["First Name"] + " " + nav["Surname"])
    assert "'" in names  # O'Brien & co
    assert any(ch in names for ch in "äöüßéèçøåžřě")
    assert len(set(nav["Country/Region Code"])) >= 6
    assert {"GB", "DE", "FR", "NL", "DK", "US"} <= set(nav["Country/Region Code"])
    persons = nav[nav["Type"] == "Person"]
    # e-mails derive from names and the company domain
    domains = nav[nav["Type"] == "Company"].set_index("No.")["Home Page"].str.replace(
        "https://www.", "", regex=False)
    with_mail = persons[persons["E-Mail"].str.contains("@") & ~persons["E-Mail"].str.contains("@@")]
    same_domain = with_mail["E-Mail"].str.split("@").str[1].to_numpy() == domains.loc[
        with_mail["Company No."]].to_numpy()
    assert same_domain.mean() > 0.95


def test_demo_matching_candidates(demo: SampleData) -> None:
    nav, crm, cc = demo.nav_contact, demo.crm_contact, demo.contact_couplings
    un_nav = nav[(nav["Type"] == "Person") & ~nav["No."].isin(cc["No."])]
    un_crm = crm[~crm["contactid"].isin(cc["contactid"])]
    nav_first, nav_last = un_nav["First Name"], un_nav["Surname"]
    crm_first, crm_last = un_crm["firstname"].fillna(""), un_crm["lastname"].fillna("")

    exact_email = set(un_nav["E-Mail"]) & set(un_crm["emailaddress1"].dropna())
    assert len(exact_email) >= 3
    email_ci = set(un_nav["E-Mail"].str.lower()) & set(un_crm["emailaddress1"].dropna().str.lower())
    assert len(email_ci) > len(exact_email)  # e-mail case variants

    swapped = set(zip(nav_first, nav_last)) & set(zip(crm_last, crm_first))
    assert len(swapped) >= 2

    nav_ascii = {(_ascii(f), _ascii(s).replace("'", "")) for f, s in zip(nav_first, nav_last)}
    accent_dropped = [(f, s) for f, s in zip(crm_first, crm_last)
                      if (f, s) in nav_ascii and (f, s) not in set(zip(nav_first, nav_last))]
    assert len(accent_dropped) >= 1

    def digits(s: pd.Series) -> pd.Series:
        return s.fillna("").str.replace(r"\D", "", regex=True)

    reformatted = (set(digits(un_nav["Phone No."])) & set(digits(un_crm["telephone1"])) - {""})
    raw_same = set(un_nav["Phone No."]) & set(un_crm["telephone1"].dropna())
    assert len(reformatted) > len(raw_same)

    # same surname modulo a typo: same company, same first name, different surname
    keyed_nav = un_nav.assign(key=nav_first + "|" + un_nav["Job Title"])
    keyed_crm = un_crm.assign(key=crm_first + "|" + un_crm["jobtitle"].fillna(""))
    both = keyed_nav.merge(keyed_crm, on="key")
    typos = both[both["Surname"] != both["lastname"]]
    assert len(typos) >= 2


def test_demo_small_sizes_work() -> None:
    for persons, companies in ((0, 1), (1, 1), (5, 2), (30, 3)):
        data = generate(persons, companies, seed=5)
        assert (data.nav_contact["Type"] == "Company").sum() == companies
        assert len(data.contact_couplings) <= persons
        assert data.nav_contact["No."].is_unique


# --------------------------------------------------------------------------- bench scenario

def test_bench_consistent(bench: SampleData) -> None:
    nav, crm = bench.nav_contact, bench.crm_contact
    persons = nav[nav["Type"] == "Person"]
    assert len(persons) == 20_000 and len(crm) == 20_000
    assert (nav["Type"] == "Company").sum() == 800  # persons // 25
    assert len(bench.crm_account) == 800 and len(bench.company_couplings) == 800
    assert len(bench.contact_couplings) == 20_000
    m = _pairs(bench)
    assert (m["n_diff"] == 0).all(), "bench pairs must be identical"
    assert not m["nav_changed"].any() and not m["crm_changed"].any()
    assert (crm["statecode"] == 0).all()
    assert persons["E-Mail"].is_unique


def test_companies_default_rule() -> None:
    assert (generate(100, scenario="bench").nav_contact["Type"] == "Company").sum() == 4
    assert (generate(50, None).nav_contact["Type"] == "Company").sum() == 40
    assert (generate(100, 5, scenario="bench").nav_contact["Type"] == "Company").sum() == 5


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="scenario"):
        generate(scenario="nope")
    with pytest.raises(ValueError, match="format"):
        write_sample("unused-dir", fmt="xlsx")
    with pytest.raises(ValueError, match="companies"):
        generate(10, 0)


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_sample_round_trip(tmp_path: Path, fmt: str) -> None:
    paths = write_sample(tmp_path, 120, 10, seed=3, fmt=fmt)
    assert {p.name for p in paths.values()} == {
        f"{stem}.{fmt}" for stem in
        ("nav_contacts", "crm_contacts", "crm_accounts", "contact_couplings", "company_couplings")}
    original = generate(120, 10, seed=3)
    back = read_sample(tmp_path, fmt=fmt)
    for name, frame in original.frames().items():
        pd.testing.assert_frame_equal(getattr(back, name), frame, check_exact=True)


def test_csv_format_details(tmp_path: Path, demo: SampleData) -> None:
    paths = write_sample(tmp_path)
    raw = paths["nav_contact"].read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8")
    assert text.splitlines()[0].startswith("No.,Type,Company No.,Company Name,Name,")
    plain = pd.read_csv(paths["nav_contact"], dtype=str, keep_default_na=False)
    assert plain["SystemModifiedAt"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    # accented and apostrophised names survive a plain pandas read
    pd.testing.assert_series_equal(plain["Surname"], demo.nav_contact["Surname"], check_dtype=False)
    assert plain["Surname"].str.contains("'").any()
    assert plain["Surname"].map(lambda s: s != _ascii(s)).any()
    crm_plain = pd.read_csv(paths["crm_contact"], dtype=str)
    assert crm_plain["lastname"].tolist() == demo.crm_contact["lastname"].tolist()


def test_bench_parquet_round_trip(tmp_path: Path) -> None:
    write_sample(tmp_path, 2_000, scenario="bench", seed=9, fmt="parquet")
    back = read_sample(tmp_path, fmt="parquet")
    original = generate(2_000, scenario="bench", seed=9)
    for name, frame in original.frames().items():
        pd.testing.assert_frame_equal(getattr(back, name), frame, check_exact=True)
    plain = pd.read_parquet(tmp_path / "nav_contacts.parquet")
    assert plain["No."].tolist() == original.nav_contact["No."].tolist()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = sample.main([str(tmp_path / "out"), "--persons", "60", "--companies", "6",
                      "--seed", "1", "--scenario", "demo", "--format", "parquet"])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "company_couplings.parquet", "contact_couplings.parquet", "crm_accounts.parquet",
        "crm_contacts.parquet", "nav_contacts.parquet"]
    assert "nav_contact" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        sample.main([str(tmp_path), "--scenario", "other"])


def test_bundled_data_matches_generator() -> None:
    data_dir = Path(__file__).resolve().parents[1] / "data"
    if not (data_dir / "nav_contacts.csv").exists():
        pytest.skip("bundled data/ not present")
    bundled = read_sample(data_dir)
    fresh = generate()
    for name, frame in fresh.frames().items():
        pd.testing.assert_frame_equal(getattr(bundled, name), frame, check_exact=True)


def test_no_import_side_effects(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys, contactsync.sample as s; "
            "print('faker' in sys.modules, s.generate.__kwdefaults__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("False")
    assert list(tmp_path.iterdir()) == []
