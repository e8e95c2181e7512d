"""Seeded, realistic fake data for contactsync: a NAV side, a CRM side and couplings.

Two scenarios:

``"demo"`` (default)
    A small, hand-shaped data set for the notebooks, the bundled ``data/`` files and
    the tests.  Mixed locales (en_GB, en_IE, de_DE, fr_FR, nl_NL, da_DK, cs_CZ,
    en_US) with accented and apostrophised names, local addresses and phone
    formats; companies as NAV ``Company`` contacts mirrored by CRM accounts (about
    90 % coupled); person slots split about 60 % coupled pairs, 20 % NAV-only and
    20 % CRM-only.  Coupled pairs are mostly identical, some changed on one side
    since the last sync, a few in conflict (same field, both sides), a few changed
    on both sides on different fields, one or two with an invalid e-mail and one
    or two with a CRM job title too long for NAV.  Among the uncoupled records
    there are fuzzy duplicates (typos, swapped names, dropped accents, e-mail
    case, phone formatting) and exact e-mail duplicates for the matching feature.

``"bench"``
    A large, vectorised data set (one million persons in a few seconds): pools of
    names, streets and cities are built once with Faker and combined with numpy
    indices.  Every person is coupled to an identical CRM contact and every
    company to its account; all synch timestamps are after both modified-at.

``persons`` counts person *slots*: in ``demo`` a slot is a coupled pair, a NAV-only
person or a CRM-only contact (so NAV holds about 80 % of ``persons``); in ``bench``
every slot is a coupled pair.  ``companies=None`` means ``40`` in ``demo`` and
``persons // 25`` in ``bench``.

Everything is deterministic for a given ``seed`` (and Faker version).

Command line::

    python -m contactsync.sample DIR --persons 300 --companies 40 --seed 42 \\
        --scenario demo --format csv
"""

from __future__ import annotations

import argparse
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "COMPANY_COUPLING_COLUMNS",
    "CONTACT_COUPLING_COLUMNS",
    "CRM_ACCOUNT_COLUMNS",
    "CRM_CONTACT_COLUMNS",
    "FIELD_MAP",
    "FILE_NAMES",
    "FORMATS",
    "NAV_COLUMNS",
    "NAV_FIELD_LENGTHS",
    "SCENARIOS",
    "SampleData",
    "generate",
    "main",
    "read_sample",
    "write_sample",
]

# --------------------------------------------------------------------------- schema

NAV_COLUMNS: tuple[str, ...] = (
    "No.", "Type", "Company No.", "Company Name", "Name", "First Name", "Middle Name",
    "Surname", "Job Title", "Address", "Address 2", "Post Code", "City", "County",
    "Country/Region Code", "E-Mail", "Phone No.", "Mobile Phone No.", "Fax No.",
    "Home Page", "SystemModifiedAt",
)
CRM_CONTACT_COLUMNS: tuple[str, ...] = (
    "contactid", "firstname", "middlename", "lastname", "jobtitle", "address1_line1",
    "address1_line2", "address1_postalcode", "address1_city",
    "address1_stateorprovince", "address1_country", "emailaddress1", "telephone1",
    "mobilephone", "fax", "websiteurl", "parentcustomerid", "modifiedon", "statecode",
)
CRM_ACCOUNT_COLUMNS: tuple[str, ...] = (
    "accountid", "name", "accountnumber", "telephone1", "websiteurl", "address1_city",
    "address1_country", "modifiedon", "statecode",
)
CONTACT_COUPLING_COLUMNS: tuple[str, ...] = (
    "No.", "contactid", "Last Synch. Modified On", "Last Synch. CRM Modified On",
)
COMPANY_COUPLING_COLUMNS: tuple[str, ...] = ("No.", "accountid")

#: NAV text field lengths (Contact table) for the fields this module fills.
NAV_FIELD_LENGTHS: dict[str, int] = {
    "No.": 20, "Company No.": 20, "Company Name": 100, "Name": 100,
    "First Name": 30, "Middle Name": 30, "Surname": 30, "Job Title": 30,
    "Address": 100, "Address 2": 50, "Post Code": 20, "City": 30, "County": 30,
    "Country/Region Code": 10, "E-Mail": 80, "Phone No.": 30,
    "Mobile Phone No.": 30, "Fax No.": 30, "Home Page": 80,
}

#: The mapped person fields (NAV field, CRM attribute), without Company No.
FIELD_MAP: tuple[tuple[str, str], ...] = (
    ("First Name", "firstname"), ("Middle Name", "middlename"), ("Surname", "lastname"),
    ("Job Title", "jobtitle"), ("Address", "address1_line1"),
    ("Address 2", "address1_line2"), ("Post Code", "address1_postalcode"),
    ("City", "address1_city"), ("County", "address1_stateorprovince"),
    ("Country/Region Code", "address1_country"), ("E-Mail", "emailaddress1"),
    ("Phone No.", "telephone1"), ("Mobile Phone No.", "mobilephone"),
    ("Fax No.", "fax"), ("Home Page", "websiteurl"),
)
_NAV_TO_CRM = dict(FIELD_MAP)

FILE_NAMES: dict[str, str] = {
    "nav_contact": "nav_contacts",
    "crm_contact": "crm_contacts",
    "crm_account": "crm_accounts",
    "contact_couplings": "contact_couplings",
    "company_couplings": "company_couplings",
}
SCENARIOS: tuple[str, ...] = ("demo", "bench")
FORMATS: tuple[str, ...] = ("csv", "parquet")

_TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    "nav_contact": ("SystemModifiedAt",),
    "crm_contact": ("modifiedon",),
    "crm_account": ("modifiedon",),
    "contact_couplings": ("Last Synch. Modified On", "Last Synch. CRM Modified On"),
    "company_couplings": (),
}
_INT_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm_contact": ("statecode",),
    "crm_account": ("statecode",),
}
_COLUMNS: dict[str, tuple[str, ...]] = {
    "nav_contact": NAV_COLUMNS,
    "crm_contact": CRM_CONTACT_COLUMNS,
    "crm_account": CRM_ACCOUNT_COLUMNS,
    "contact_couplings": CONTACT_COUPLING_COLUMNS,
    "company_couplings": COMPANY_COUPLING_COLUMNS,
}
_TS_DTYPE = "datetime64[us]"
_CSV_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class SampleData:
    """The five frames of a sample, in the systems' own column names."""

    nav_contact: pd.DataFrame
    crm_contact: pd.DataFrame
    crm_account: pd.DataFrame
    contact_couplings: pd.DataFrame
    company_couplings: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames by attribute name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------- locales

# locale -> (country code, weight, web TLD)
_LOCALES: dict[str, tuple[str, float, str]] = {
    "en_GB": ("GB", 0.22, "co.uk"),
    "de_DE": ("DE", 0.20, "de"),
    "fr_FR": ("FR", 0.14, "fr"),
    "nl_NL": ("NL", 0.11, "nl"),
    "da_DK": ("DK", 0.10, "dk"),
    "en_US": ("US", 0.11, "com"),
    "en_IE": ("IE", 0.06, "ie"),
    "cs_CZ": ("CZ", 0.06, "cz"),
}
_LOCALE_NAMES: tuple[str, ...] = tuple(_LOCALES)
_LOCALE_WEIGHTS = np.array([v[1] for v in _LOCALES.values()]) / sum(v[1] for v in _LOCALES.values())

_ADDRESS2: dict[str, tuple[str, ...]] = {
    "en_GB": ("Unit {n}", "Floor {n}", "Suite {n}", "Building {L}"),
    "en_IE": ("Unit {n}", "Block {L}", "Floor {n}"),
    "en_US": ("Suite {n}00", "Floor {n}", "Building {L}"),
    "de_DE": ("{n}. OG", "Haus {L}", "Gebäude {L}"),
    "fr_FR": ("Bâtiment {L}", "{n}e étage", "Zone d'activité {L}"),
    "nl_NL": ("{n}e verdieping", "Unit {n}"),
    "da_DK": ("{n}. sal", "Bygning {L}"),
    "cs_CZ": ("{n}. patro", "Budova {L}"),
}
_FREE_MAIL: dict[str, tuple[str, ...]] = {
    "en_GB": ("gmail.com", "outlook.com", "btinternet.com"),
    "en_IE": ("gmail.com", "eircom.net"),
    "en_US": ("gmail.com", "yahoo.com", "outlook.com"),
    "de_DE": ("web.de", "gmx.de", "t-online.de"),
    "fr_FR": ("orange.fr", "free.fr", "gmail.com"),
    "nl_NL": ("ziggo.nl", "kpnmail.nl", "gmail.com"),
    "da_DK": ("gmail.com", "mail.dk"),
    "cs_CZ": ("seznam.cz", "email.cz"),
}
_JOB_TITLES: tuple[str, ...] = (
    "Purchasing Manager", "Sales Manager", "Account Manager", "Managing Director",
    "Chief Financial Officer", "Finance Director", "Accountant", "Office Manager",
    "IT Manager", "Head of Procurement", "Logistics Coordinator", "Buyer",
    "Marketing Manager", "Operations Director", "HR Business Partner",
    "Project Manager", "Warehouse Supervisor", "Customer Service Lead",
    "Technical Director", "Sales Representative", "Credit Controller",
    "Quality Manager", "Executive Assistant", "Production Planner", "CEO", "CTO",
)
_LOCAL_JOB_TITLES: dict[str, tuple[str, ...]] = {
    "de_DE": ("Geschäftsführer", "Einkaufsleiterin", "Vertriebsleiter", "Prokurist",
              "Buchhalterin", "Leiter Logistik"),
    "fr_FR": ("Directrice commerciale", "Responsable achats", "Gérant",
              "Comptable", "Chef de projet"),
    "nl_NL": ("Inkoper", "Directeur", "Hoofd financiën"),
    "da_DK": ("Salgschef", "Indkøbschef", "Økonomichef", "Direktør"),
    "cs_CZ": ("Obchodní ředitel", "Účetní", "Vedoucí nákupu", "Jednatel"),
}
_LEGAL_FORMS: dict[str, str] = {
    "en_GB": "Ltd", "de_DE": "GmbH", "fr_FR": "SARL", "nl_NL": "B.V.", "da_DK": "A/S",
    "en_US": "Inc.", "en_IE": "Ltd", "cs_CZ": "s.r.o.",
}
_TOO_LONG_JOB_TITLES: tuple[str, ...] = (
    "Senior Vice President, Global Strategic Partnerships",
    "Head of Enterprise Architecture and Digital Transformation",
)
# (first, middle, surname, locale): names that must show up in the demo.
_FEATURED_ACCENTED: tuple[tuple[str, str, str, str], ...] = (
    ("Thomas", "", "Müller", "de_DE"),
    ("Žofie", "", "Dvořáková", "cs_CZ"),
    ("Françoise", "", "Lefèvre", "fr_FR"),
    ("Søren", "", "Østergaard", "da_DK"),
    ("Jürgen", "", "Groß", "de_DE"),
)
_FEATURED_PLAIN: tuple[tuple[str, str, str, str], ...] = (
    ("Anna", "", "Smith", "en_GB"),
    ("Seán", "", "O'Brien", "en_IE"),
    ("Daan", "", "van den Berg", "nl_NL"),
    ("Mary", "Kate", "O'Neill", "en_US"),
    ("Zoë", "", "D'Souza", "en_GB"),
    ("Hélène", "", "Dubois-Carré", "fr_FR"),
)

_DEMO_START = datetime(2025, 1, 1)
_SYNC_FROM = datetime(2025, 3, 1)
_SYNC_TO = datetime(2025, 12, 31)
_DEMO_END = datetime(2026, 3, 31, 23, 59, 59)

_TRANSLIT = str.maketrans({
    "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "đ": "d", "Đ": "D",
    "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE", "ı": "i",
})


# --------------------------------------------------------------------------- helpers

def _ascii(text: str) -> str:
    """Drop accents: 'Müller' -> 'Muller', 'Østergaard' -> 'Ostergaard'."""
    text = text.translate(_TRANSLIT)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII letters/digits only, words joined by ``sep``."""
    words = re.findall(r"[a-z0-9]+", _ascii(text).lower().replace("'", ""))
    return sep.join(words)


def _guid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _ts(rng: np.random.Generator, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=int(rng.integers(0, span + 1)))


def _fit(value: str, length: int) -> str:
    return value if len(value) <= length else value[:length].rstrip()


def _null(value: str) -> str | None:
    return value if value != "" else None


def _resolve_companies(persons: int, companies: int | None, scenario: str) -> int:
    if companies is None:
        return 40 if scenario == "demo" else max(1, persons // 25)
    return companies


def _check_args(persons: int, companies: int, scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: use one of {', '.join(SCENARIOS)}")
    if persons < 0:
        raise ValueError(f"persons must be >= 0, got {persons}")
    if companies < 1:
        raise ValueError(f"companies must be >= 1, got {companies}")


def _code_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count, 1))))


# --------------------------------------------------------------------------- demo

@dataclass
class _Company:
    no: str
    loc: str
    name: str
    domain: str
    address: str
    address2: str
    post_code: str
    city: str
    county: str
    country: str
    phone: str
    fax: str
    home_page: str
    accountid: str
    coupled: bool
    nav_modified: datetime
    crm_modified: datetime


@dataclass
class _Person:
    """One side's view of a person; NAV-style values ('' for empty)."""

    company: int  # index into companies, -1 = none (CRM only)
    loc: str
    first: str
    middle: str
    last: str
    job: str
    address: str
    address2: str
    post_code: str
    city: str
    county: str
    country: str
    email: str
    phone: str
    mobile: str
    fax: str
    home_page: str

    def nav_values(self) -> dict[str, str]:
        return {
            "First Name": self.first, "Middle Name": self.middle, "Surname": self.last,
            "Job Title": self.job, "Address": self.address, "Address 2": self.address2,
            "Post Code": self.post_code, "City": self.city, "County": self.county,
            "Country/Region Code": self.country, "E-Mail": self.email,
            "Phone No.": self.phone, "Mobile Phone No.": self.mobile,
            "Fax No.": self.fax, "Home Page": self.home_page,
        }

    def with_nav_field(self, nav_field: str, value: str) -> _Person:
        attr = _PERSON_ATTR[nav_field]
        return replace(self, **{attr: value})


_PERSON_ATTR: dict[str, str] = {
    "First Name": "first", "Middle Name": "middle", "Surname": "last",
    "Job Title": "job", "Address": "address", "Address 2": "address2",
    "Post Code": "post_code", "City": "city", "County": "county",
    "Country/Region Code": "country", "E-Mail": "email", "Phone No.": "phone",
    "Mobile Phone No.": "mobile", "Fax No.": "fax", "Home Page": "home_page",
}


@dataclass
class _Slot:
    kind: str  # "coupled" | "nav" | "crm"
    nav: _Person | None = None
    crm: _Person | None = None
    tag: str = ""  # category: identical, nav_changed, crm_changed, conflict, ...
    statecode: int = 0
    nav_modified: datetime | None = None
    crm_modified: datetime | None = None
    last_synch_nav: datetime | None = None
    last_synch_crm: datetime | None = None
    no: str = ""
    contactid: str = ""
    notes: list[str] = field(default_factory=list)


class _DemoFaker:
    """Per-locale seeded Faker instances plus the local formatting rules."""

    def __init__(self, seed: int, rng: np.random.Generator) -> None:
        from faker import Faker  # imported lazily: no import-time cost

        self.rng = rng
        self.fakers = {}
        for i, loc in enumerate(_LOCALE_NAMES):
            fk = Faker(loc)
            fk.seed_instance(seed * 1009 + i)
            self.fakers[loc] = fk

    def pick(self, seq: Sequence[str]) -> str:
        return seq[int(self.rng.integers(0, len(seq)))]

    def locale(self) -> str:
        return _LOCALE_NAMES[int(self.rng.choice(len(_LOCALE_NAMES), p=_LOCALE_WEIGHTS))]

    def _clean(self, make, length: int) -> str:
        value = ""
        for _ in range(8):
            value = str(make()).strip()
            bad = (
                len(value) > length or any(ch.isdigit() for ch in value) or "." in value
                or value.endswith(" II") or value.startswith("auch ")
            )
            if not bad:
                return value
        return _fit(value, length)

    def first_name(self, loc: str) -> str:
        return self._clean(self.fakers[loc].first_name, 30)

    def last_name(self, loc: str) -> str:
        return self._clean(self.fakers[loc].last_name, 30)

    def company_name(self, loc: str) -> str:
        return _fit(str(self.fakers[loc].company()).replace("\n", " "), 100)

    def job(self, loc: str) -> str:
        local = _LOCAL_JOB_TITLES.get(loc)
        if local and self.rng.random() < 0.35:
            return self.pick(local)
        return self.pick(_JOB_TITLES)

    def address(self, loc: str) -> tuple[str, str, str, str, str]:
        """(address, address 2, post code, city, county)."""
        fk = self.fakers[loc]
        street = str(fk.street_address())
        address2 = ""
        if "\n" in street:  # en_GB: "Studio 6\nNeil Oval"
            address2, street = (part.strip() for part in street.split("\n", 1))
        if loc == "en_US" and " Suite " in street:
            street, suite = street.split(" Suite ", 1)
            address2 = f"Suite {suite}"
        elif not address2 and self.rng.random() < 0.2:
            template = self.pick(_ADDRESS2[loc])
            address2 = template.format(n=int(self.rng.integers(1, 9)),
                                       L="ABCDEF"[int(self.rng.integers(0, 6))])
        county = ""
        if loc in ("en_GB", "en_IE"):
            county = str(fk.county())
        elif loc == "en_US":
            county = str(fk.state_abbr())
        elif loc == "de_DE" and self.rng.random() < 0.5:
            county = str(fk.state())
        city = self._clean(fk.city, 30) if loc != "en_US" else _fit(str(fk.city()), 30)
        return (_fit(street, 100), _fit(address2, 50), _fit(str(fk.postcode()), 20),
                city, _fit(county, 30))

    def _digits(self, count: int) -> str:
        return "".join(str(int(d)) for d in self.rng.integers(0, 10, count))

    def phone(self, loc: str) -> str:
        fk = self.fakers[loc]
        if loc == "en_IE":
            return f"+353 1 {self._digits(3)} {self._digits(4)}"
        if loc == "en_US":
            return f"({self._digits(3)}) {self._digits(3)}-{self._digits(4)}".replace("(0", "(2")
        return _fit(str(fk.phone_number()), 30)

    def mobile(self, loc: str) -> str:
        fk = self.fakers[loc]
        if loc == "en_GB":
            return _fit(str(fk.cellphone_number()), 30)
        if loc == "en_IE":
            return f"08{int(self.rng.integers(3, 10))} {self._digits(3)} {self._digits(4)}"
        if loc == "de_DE":
            return f"+49 15{self._digits(1)} {self._digits(8)}"
        if loc == "fr_FR":
            return f"06 {self._digits(2)} {self._digits(2)} {self._digits(2)} {self._digits(2)}"
        if loc == "nl_NL":
            return f"06-{self._digits(8)}"
        if loc == "da_DK":
            return f"+45 {self._digits(2)} {self._digits(2)} {self._digits(2)} {self._digits(2)}"
        if loc == "cs_CZ":
            return f"+420 7{self._digits(2)} {self._digits(3)} {self._digits(3)}"
        return self.phone(loc)


class _EmailBook:
    """Hands out unique e-mail addresses."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, local: str, domain: str) -> str:
        local = local.strip(".") or "info"
        candidate = f"{local}@{domain}"
        n = 2
        while candidate.lower() in self.used or len(candidate) > 80:
            candidate = f"{_fit(local, 60)}{n}@{domain}"
            n += 1
        self.used.add(candidate.lower())
        return candidate


def _person_local(first: str, last: str) -> str:
    return ".".join(p for p in (_slug(first), _slug(last)) if p)


def _new_company(fk: _DemoFaker, rng: np.random.Generator, index: int, width: int,
                 names: set[str]) -> _Company:
    loc = fk.locale()
    name = fk.company_name(loc)
    n = 2
    base = name
    while name in names:
        name = _fit(f"{base} {n}", 100)
        n += 1
    names.add(name)
    country, _, tld = _LOCALES[loc]
    domain = f"{_fit(_slug(name, '-'), 40).strip('-') or 'company'}.{tld}"
    address, address2, post_code, city, county = fk.address(loc)
    return _Company(
        no=f"C{index + 1:0{width}d}", loc=loc, name=name, domain=domain,
        address=address, address2=address2, post_code=post_code, city=city,
        county=county, country=country, phone=fk.phone(loc),
        fax=fk.phone(loc) if rng.random() < 0.3 else "",
        home_page=f"https://www.{domain}", accountid=_guid(rng), coupled=True,
        nav_modified=_ts(rng, _DEMO_START, _SYNC_FROM),
        crm_modified=_ts(rng, _DEMO_START, _SYNC_FROM),
    )


def _new_person(fk: _DemoFaker, rng: np.random.Generator, companies: list[_Company],
                company: int, emails: _EmailBook,
                name: tuple[str, str, str, str] | None = None) -> _Person:
    comp = companies[company]
    if name is not None:
        first, middle, last, loc = name
    else:
        loc = comp.loc if rng.random() < 0.8 else fk.locale()
        first, last = fk.first_name(loc), fk.last_name(loc)
        middle = fk.first_name(loc) if loc in ("en_US", "en_GB") and rng.random() < 0.15 else ""
    if rng.random() < 0.6:  # works at the company's address
        address, address2, post_code = comp.address, comp.address2, comp.post_code
        city, county, country = comp.city, comp.county, comp.country
    else:
        address, address2, post_code, city, county = fk.address(loc)
        country = _LOCALES[loc][0]
    return _Person(
        company=company, loc=loc, first=first, middle=middle, last=last,
        job=fk.job(loc), address=address, address2=address2, post_code=post_code,
        city=city, county=county, country=country,
        email=emails.make(_person_local(first, last), comp.domain),
        phone=comp.phone if rng.random() < 0.3 else fk.phone(comp.loc),
        mobile=fk.mobile(loc) if rng.random() < 0.7 else "",
        fax=comp.fax if rng.random() < 0.2 else "",
        home_page=comp.home_page if rng.random() < 0.1 else "",
    )


_CHANGEABLE: tuple[str, ...] = (
    "Job Title", "Phone No.", "Mobile Phone No.", "Address", "Surname", "E-Mail",
)


def _changed_value(fk: _DemoFaker, person: _Person, nav_field: str,
                   companies: list[_Company], emails: _EmailBook,
                   avoid: Iterable[str] = ()) -> str:
    """A new, different, NAV-valid value for ``nav_field``."""
    current = person.nav_values()[nav_field]
    avoid = set(avoid) | {current}
    loc = person.loc
    for _ in range(50):
        if nav_field == "Job Title":
            value = fk.job(loc)
        elif nav_field == "Phone No.":
            value = fk.phone(loc)
        elif nav_field == "Mobile Phone No.":
            value = fk.mobile(loc)
        elif nav_field == "Address":
            value = fk.address(loc)[0]
        elif nav_field == "Surname":
            value = fk.last_name(loc)
        elif nav_field == "E-Mail":
            domain = companies[person.company].domain
            value = emails.make(f"{_slug(person.first)[:1]}{_slug(person.last)}", domain)
        else:  # pragma: no cover - only the fields above are changed
            raise ValueError(nav_field)
        if value not in avoid:
            return value
    return _fit(f"{current} 2", NAV_FIELD_LENGTHS[nav_field])  # pragma: no cover


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 3:
        return word + word[-1:]
    for _ in range(10):
        i = int(rng.integers(1, len(word) - 1))
        op = int(rng.integers(0, 3))
        if op == 0:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif op == 1:
            out = word[:i] + word[i + 1:]
        else:
            out = word[:i] + word[i] + word[i:]
        if out != word:
            return out
    return word + word[-1]


def _reformat_phone(phone: str) -> str:
    """The same number written differently: '+44 113 496 0806' -> '+441134960806'.

    Numbers that are already compact are grouped in threes instead.
    """
    compact = re.sub(r"[^\d+]", "", phone)
    if compact != phone:
        return compact
    core = compact.lstrip("+")
    grouped = " ".join(core[i:i + 3] for i in range(0, len(core), 3))
    return ("+" if compact.startswith("+") else "") + grouped


def _has_accent(person: _Person) -> bool:
    text = person.first + person.middle + person.last
    return _ascii(text) != text or "'" in text


def _fuzzy_variant(rng: np.random.Generator, fk: _DemoFaker, person: _Person,
                   variant: str, emails: _EmailBook) -> _Person:
    """The CRM spelling of a NAV-only person (same human, different record)."""
    crm = replace(person)
    personal = emails.make(
        _person_local(person.first, person.last), fk.pick(_FREE_MAIL[person.loc]))
    if variant == "accents":
        crm.first, crm.middle = _ascii(person.first), _ascii(person.middle)
        crm.last = _ascii(person.last).replace("'", "")
        crm.email = personal if rng.random() < 0.5 else ""
    elif variant == "typo":
        crm.last = _typo(rng, person.last)
        crm.email = personal if rng.random() < 0.5 else ""
    elif variant == "swap":
        crm.first, crm.last = person.last, person.first
        crm.email = ""
    elif variant == "email_case":
        local, _, domain = person.email.partition("@")
        crm.email = ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
        crm.phone = ""
    elif variant == "phone_format":
        crm.phone = _reformat_phone(person.phone)
        crm.mobile = _reformat_phone(person.mobile) if person.mobile else ""
        crm.email = ""
    else:  # pragma: no cover
        raise ValueError(variant)
    if crm.first == person.first and crm.last == person.last and variant in ("typo", "accents"):
        crm.first = _typo(rng, person.first)
    return crm


def _take(counts: dict[str, int], available: int, order: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Allocate wanted counts in priority order without exceeding ``available``."""
    left = available
    for name, want in order:
        got = max(0, min(want, left))
        counts[name] = got
        left -= got
    return counts


def _demo(persons: int, n_companies: int, seed: int) -> SampleData:
    rng = np.random.default_rng(seed)
    fk = _DemoFaker(seed, rng)
    emails = _EmailBook()

    # ---- companies and accounts
    width = _code_width(n_companies, 5)
    names: set[str] = set()
    companies = [_new_company(fk, rng, i, width, names) for i in range(n_companies)]
    n_uncoupled_companies = max(1, round(n_companies * 0.1)) if n_companies > 1 else 0
    for i in rng.choice(n_companies, n_uncoupled_companies, replace=False):
        companies[int(i)].coupled = False
    coupled_companies = [i for i, c in enumerate(companies) if c.coupled]
    uncoupled_companies = [i for i, c in enumerate(companies) if not c.coupled]

    # ---- slot counts
    n_coupled = round(persons * 0.6) if coupled_companies else 0
    n_nav = min(round(persons * 0.2), persons - n_coupled)
    n_crm = persons - n_coupled - n_nav
    n_fuzzy = min(round(persons * 25 / 300), n_nav, n_crm)
    n_exact = min(max(1, round(persons * 5 / 300)) if persons else 0, n_nav - n_fuzzy, n_crm - n_fuzzy)

    slots: list[_Slot] = []
    featured_plain = list(_FEATURED_PLAIN)
    featured_accented = list(_FEATURED_ACCENTED)

    # coupled pairs, spread over coupled companies (each gets one first)
    order = list(rng.permutation(coupled_companies)) if coupled_companies else []
    for k in range(n_coupled):
        company = int(order[k]) if k < len(order) else int(rng.choice(coupled_companies))
        name = featured_plain.pop(0) if featured_plain and k % 7 == 3 else None
        person = _new_person(fk, rng, companies, company, emails, name)
        slots.append(_Slot("coupled", nav=person, crm=replace(person)))

    # NAV-only persons: pairs first, then singles (a few in uncoupled companies)
    nav_only: list[_Slot] = []
    for k in range(n_nav):
        if k >= n_fuzzy + n_exact and k - n_fuzzy - n_exact < 3 and uncoupled_companies:
            company = uncoupled_companies[(k - n_fuzzy - n_exact) % len(uncoupled_companies)]
        else:
            company = int(rng.integers(0, n_companies))
        name = featured_accented.pop(0) if featured_accented and k < n_fuzzy else None
        nav_only.append(_Slot("nav", nav=_new_person(fk, rng, companies, company, emails, name)))
    slots.extend(nav_only)

    # CRM-only contacts: counterparts of the pairs, then singles
    variants = ("accents", "typo", "swap", "email_case", "phone_format")
    accented = [k for k in range(n_fuzzy) if _has_accent(nav_only[k].nav)]  # type: ignore[arg-type]
    n_accent_variant = min(len(accented), max(1, n_fuzzy // len(variants))) if n_fuzzy else 0
    accent_slots = set(accented[:n_accent_variant])
    other = [v for v in variants if v != "accents"]
    j = 0
    for k in range(n_crm):
        if k < n_fuzzy:
            src = nav_only[k].nav
            assert src is not None
            if k in accent_slots:
                variant = "accents"
            else:
                variant = other[j % len(other)]
                j += 1
            slot = _Slot("crm", crm=_fuzzy_variant(rng, fk, src, variant, emails), tag=f"fuzzy:{variant}")
            nav_only[k].tag = f"fuzzy:{variant}"
        elif k < n_fuzzy + n_exact:
            src = nav_only[k].nav
            assert src is not None
            slot = _Slot("crm", crm=replace(src), tag="exact_email")
            nav_only[k].tag = "exact_email"
        else:
            single = k - n_fuzzy - n_exact
            if single < 2 and uncoupled_companies:
                company = uncoupled_companies[single % len(uncoupled_companies)]
            else:
                company = int(rng.integers(0, n_companies))
            person = _new_person(fk, rng, companies, company, emails)
            if single in (2, 3):
                person.company = -1  # no parent account
            slot = _Slot("crm", crm=person, tag="single")
            if 4 <= single < 7:
                slot.statecode = 1
                slot.tag = "inactive"
        slots.append(slot)

    # ---- coupled categories and changes
    coupled_slots = [s for s in slots if s.kind == "coupled"]
    perm = [coupled_slots[int(i)] for i in rng.permutation(len(coupled_slots))]
    # put Anna Smith (if present) first so she gets the invalid e-mail
    perm.sort(key=lambda s: 0 if s.nav is not None and s.nav.first == "Anna" and s.nav.last == "Smith" else 1)
    nc = len(perm)
    big = nc >= 20
    counts = _take({}, nc, [
        ("invalid_email_nav", 1 if nc >= 10 else 0),
        ("invalid_email_crm", 1 if nc >= 30 else 0),
        ("conflict", max(1, round(nc * 3 / 180)) if big else 0),
        ("both_different", max(1, round(nc * 3 / 180)) if big else 0),
        ("too_long_job", max(1, round(nc * 2 / 180)) if nc >= 10 else 0),
        ("nav_changed", round(nc * 0.1)),
        ("crm_changed", round(nc * 0.1)),
    ])
    tags: list[str] = []
    for name, count in counts.items():
        tags.extend([name] * count)
    tags.extend(["identical"] * (nc - len(tags)))

    for slot, tag in zip(perm, tags):
        slot.tag = tag
        nav, crm = slot.nav, slot.crm
        assert nav is not None and crm is not None
        sync = _ts(rng, _SYNC_FROM, _SYNC_TO)
        slot.last_synch_nav = sync
        slot.last_synch_crm = sync + timedelta(seconds=int(rng.integers(1, 30)))
        before_nav = sync - timedelta(seconds=int(rng.integers(60, 60 * 24 * 3600)))
        slot.nav_modified = max(before_nav, _DEMO_START)
        slot.crm_modified = slot.last_synch_crm - timedelta(seconds=int(rng.integers(1, 120)))
        nav_changes = tag in ("nav_changed", "conflict", "both_different", "invalid_email_nav")
        crm_changes = tag in ("crm_changed", "conflict", "both_different", "invalid_email_crm",
                              "too_long_job")

        def after(base: datetime) -> datetime:
            return min(base + timedelta(seconds=int(rng.integers(3600, 90 * 24 * 3600))), _DEMO_END)

        if nav_changes:
            slot.nav_modified = after(slot.last_synch_nav)
        if crm_changes:
            slot.crm_modified = after(slot.last_synch_crm)

        if tag == "nav_changed":
            f = fk.pick(_CHANGEABLE)
            slot.nav = nav.with_nav_field(f, _changed_value(fk, nav, f, companies, emails))
        elif tag == "crm_changed":
            f = fk.pick(_CHANGEABLE)
            slot.crm = crm.with_nav_field(f, _changed_value(fk, crm, f, companies, emails))
        elif tag == "conflict":
            f = fk.pick(("Job Title", "Phone No.", "Address", "E-Mail"))
            v1 = _changed_value(fk, nav, f, companies, emails)
            v2 = _changed_value(fk, crm, f, companies, emails, avoid=[v1])
            slot.nav, slot.crm = nav.with_nav_field(f, v1), crm.with_nav_field(f, v2)
        elif tag == "both_different":
            f1, f2 = (str(x) for x in rng.choice(_CHANGEABLE, 2, replace=False))
            slot.nav = nav.with_nav_field(f1, _changed_value(fk, nav, f1, companies, emails))
            slot.crm = crm.with_nav_field(f2, _changed_value(fk, crm, f2, companies, emails))
        elif tag == "invalid_email_nav":
            local = _person_local(nav.first, nav.last)
            slot.nav = nav.with_nav_field("E-Mail", f"{local}@@{companies[nav.company].domain.split('.')[0]}")
        elif tag == "invalid_email_crm":
            local = _person_local(crm.first, crm.last)
            slot.crm = crm.with_nav_field("E-Mail", f"{local}.{companies[crm.company].domain}")
        elif tag == "too_long_job":
            slot.crm = crm.with_nav_field("Job Title", fk.pick(_TOO_LONG_JOB_TITLES))

    # ---- timestamps for uncoupled records
    for slot in slots:
        if slot.kind == "nav":
            slot.nav_modified = _ts(rng, _DEMO_START, _DEMO_END)
        elif slot.kind == "crm":
            slot.crm_modified = _ts(rng, _DEMO_START, _DEMO_END)

    # ---- keys: NAV numbers and GUIDs in a mixed order
    order_idx = rng.permutation(len(slots))
    p_width = _code_width(persons, 6)
    nav_counter = 0
    for i in order_idx:
        slot = slots[int(i)]
        if slot.nav is not None:
            nav_counter += 1
            slot.no = f"CT{nav_counter:0{p_width}d}"
    for i in rng.permutation(len(slots)):
        slot = slots[int(i)]
        if slot.crm is not None:
            slot.contactid = _guid(rng)

    return _demo_frames(companies, [slots[int(i)] for i in order_idx])


def _nav_row(no: str, person: _Person, company: _Company, modified: datetime) -> dict[str, object]:
    name = " ".join(p for p in (person.first, person.middle, person.last) if p)
    row: dict[str, object] = {
        "No.": no, "Type": "Person", "Company No.": company.no,
        "Company Name": company.name, "Name": _fit(name, 100),
    }
    row.update(person.nav_values())
    row["SystemModifiedAt"] = modified
    return row


def _crm_row(contactid: str, person: _Person, parent: str | None, modified: datetime,
             statecode: int) -> dict[str, object]:
    row: dict[str, object] = {"contactid": contactid}
    for nav_field, value in person.nav_values().items():
        row[_NAV_TO_CRM[nav_field]] = _null(value)
    row["parentcustomerid"] = parent
    row["modifiedon"] = modified
    row["statecode"] = statecode
    return row


def _demo_frames(companies: list[_Company], slots: list[_Slot]) -> SampleData:
    nav_rows: list[dict[str, object]] = []
    for c in companies:
        nav_rows.append({
            "No.": c.no, "Type": "Company", "Company No.": c.no, "Company Name": c.name,
            "Name": c.name, "First Name": "", "Middle Name": "", "Surname": "",
            "Job Title": "", "Address": c.address, "Address 2": c.address2,
            "Post Code": c.post_code, "City": c.city, "County": c.county,
            "Country/Region Code": c.country,
            "E-Mail": f"info@{c.domain}", "Phone No.": c.phone, "Mobile Phone No.": "",
            "Fax No.": c.fax, "Home Page": c.home_page, "SystemModifiedAt": c.nav_modified,
        })
    crm_rows: list[dict[str, object]] = []
    couplings: list[dict[str, object]] = []
    for s in slots:
        if s.nav is not None:
            assert s.nav_modified is not None
            nav_rows.append(_nav_row(s.no, s.nav, companies[s.nav.company], s.nav_modified))
        if s.crm is not None:
            assert s.crm_modified is not None
            parent = companies[s.crm.company].accountid if s.crm.company >= 0 else None
            crm_rows.append(_crm_row(s.contactid, s.crm, parent, s.crm_modified, s.statecode))
        if s.kind == "coupled":
            couplings.append({
                "No.": s.no, "contactid": s.contactid,
                "Last Synch. Modified On": s.last_synch_nav,
                "Last Synch. CRM Modified On": s.last_synch_crm,
            })
    accounts = [{
        "accountid": c.accountid, "name": c.name, "accountnumber": c.no,
        "telephone1": _null(c.phone), "websiteurl": _null(c.home_page),
        "address1_city": _null(c.city), "address1_country": _null(c.country),
        "modifiedon": c.crm_modified, "statecode": 0,
    } for c in companies]
    company_couplings = [{"No.": c.no, "accountid": c.accountid} for c in companies if c.coupled]
    return _finish(
        nav=pd.DataFrame(nav_rows, columns=list(NAV_COLUMNS)),
        crm=pd.DataFrame(crm_rows, columns=list(CRM_CONTACT_COLUMNS)),
        acc=pd.DataFrame(accounts, columns=list(CRM_ACCOUNT_COLUMNS)),
        cc=pd.DataFrame(couplings, columns=list(CONTACT_COUPLING_COLUMNS)),
        kc=pd.DataFrame(company_couplings, columns=list(COMPANY_COUPLING_COLUMNS)),
    )


def _finish(nav: pd.DataFrame, crm: pd.DataFrame, acc: pd.DataFrame, cc: pd.DataFrame,
            kc: pd.DataFrame) -> SampleData:
    """Give every frame its canonical dtypes (str, datetime64[us], int64)."""
    out: dict[str, pd.DataFrame] = {}
    for key, frame in (("nav_contact", nav), ("crm_contact", crm), ("crm_account", acc),
                       ("contact_couplings", cc), ("company_couplings", kc)):
        out[key] = _coerce(key, frame)
    return SampleData(**out)


def _coerce(key: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.loc[:, list(_COLUMNS[key])].reset_index(drop=True)
    converted: dict[str, pd.Series] = {}
    for col in frame.columns:
        if col in _TIMESTAMP_COLUMNS[key]:
            converted[col] = pd.to_datetime(frame[col]).astype(_TS_DTYPE)
        elif col in _INT_COLUMNS.get(key, ()):
            converted[col] = frame[col].astype("int64")
        else:
            series = frame[col]
            if key == "nav_contact":
                series = series.fillna("")
            converted[col] = series.astype("str")
    return pd.DataFrame(converted, columns=list(_COLUMNS[key]))


# --------------------------------------------------------------------------- bench

@dataclass(frozen=True)
class _Pools:
    first: np.ndarray
    first_slug: np.ndarray
    first_loc: np.ndarray  # locale index of each pool entry
    last: np.ndarray
    last_slug: np.ndarray
    street: np.ndarray
    city: np.ndarray
    post_code: np.ndarray
    county: np.ndarray
    phone: np.ndarray
    mobile: np.ndarray
    # per locale: [start, end) ranges into the pools above
    first_range: np.ndarray
    last_range: np.ndarray
    place_range: np.ndarray
    phone_range: np.ndarray


def _bench_pools(seed: int, size: int = 400) -> _Pools:
    rng = np.random.default_rng(seed + 7)
    fk = _DemoFaker(seed, rng)
    cols: dict[str, list[str]] = {k: [] for k in (
        "first", "last", "street", "city", "post_code", "county", "phone", "mobile")}
    first_loc: list[int] = []
    ranges = {k: [] for k in ("first", "last", "place", "phone")}
    for li, loc in enumerate(_LOCALE_NAMES):
        firsts = sorted({fk.first_name(loc) for _ in range(size)})
        lasts = sorted({fk.last_name(loc) for _ in range(size)})
        ranges["first"].append((len(cols["first"]), len(cols["first"]) + len(firsts)))
        ranges["last"].append((len(cols["last"]), len(cols["last"]) + len(lasts)))
        cols["first"].extend(firsts)
        first_loc.extend([li] * len(firsts))
        cols["last"].extend(lasts)
        start = len(cols["street"])
        for _ in range(size):
            street, _a2, post, city, county = fk.address(loc)
            cols["street"].append(street)
            cols["post_code"].append(post)
            cols["city"].append(city)
            cols["county"].append(county)
        ranges["place"].append((start, len(cols["street"])))
        start = len(cols["phone"])
        for _ in range(size):
            cols["phone"].append(fk.phone(loc))
            cols["mobile"].append(fk.mobile(loc))
        ranges["phone"].append((start, len(cols["phone"])))

    def arr(values: list[str]) -> np.ndarray:
        return np.array(values, dtype=object)

    return _Pools(
        first=arr(cols["first"]), first_slug=arr([_slug(v) for v in cols["first"]]),
        first_loc=np.array(first_loc), last=arr(cols["last"]),
        last_slug=arr([_slug(v) for v in cols["last"]]),
        street=arr(cols["street"]), city=arr(cols["city"]),
        post_code=arr(cols["post_code"]), county=arr(cols["county"]),
        phone=arr(cols["phone"]), mobile=arr(cols["mobile"]),
        first_range=np.array(ranges["first"]), last_range=np.array(ranges["last"]),
        place_range=np.array(ranges["place"]), phone_range=np.array(ranges["phone"]),
    )


def _pick_in_ranges(rng: np.random.Generator, ranges: np.ndarray, loc: np.ndarray) -> np.ndarray:
    start, end = ranges[loc, 0], ranges[loc, 1]
    return start + (rng.random(len(loc)) * (end - start)).astype(np.int64)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _guids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct random version-4 GUID strings, vectorised."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in ((slice(0, 8), slice(0, 8)), (slice(9, 13), slice(8, 12)),
                     (slice(14, 18), slice(12, 16)), (slice(19, 23), slice(16, 20)),
                     (slice(24, 36), slice(20, 32))):
        out[:, dst] = hexed[:, src]
    guids = out.view("S36").ravel().astype("U36")
    if len(np.unique(guids)) != n:  # astronomically unlikely; keep keys unique anyway
        raise RuntimeError("GUID collision, use another seed")
    return guids


def _codes(prefix: str, n: int, width: int) -> pd.Series:
    numbers = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)
    return (prefix + numbers).astype("str")


def _str(values: np.ndarray | pd.Series) -> pd.Series:
    return pd.Series(values, dtype="str")


def _bench(persons: int, n_companies: int, seed: int) -> SampleData:
    rng = np.random.default_rng(seed)
    pools = _bench_pools(seed)
    n_loc = len(_LOCALE_NAMES)
    country_codes = np.array([_LOCALES[loc][0] for loc in _LOCALE_NAMES], dtype=object)
    tlds = np.array([_LOCALES[loc][2] for loc in _LOCALE_NAMES], dtype=object)
    epoch = np.datetime64(_DEMO_START, "s")

    # ---- companies
    c_loc = rng.choice(n_loc, n_companies, p=_LOCALE_WEIGHTS)
    c_width = _code_width(n_companies, 5)
    c_no = _codes("C", n_companies, c_width)
    c_num = pd.Series(np.arange(1, n_companies + 1)).astype("str")
    suffixes = np.array([_LEGAL_FORMS[loc] for loc in _LOCALE_NAMES], dtype=object)
    l1 = _str(pools.last[_pick_in_ranges(rng, pools.last_range, c_loc)])
    l2 = _str(pools.last[_pick_in_ranges(rng, pools.last_range, c_loc)])
    legal = _str(suffixes[c_loc])
    form = rng.integers(0, 4, n_companies)
    base_names = (l1 + " " + legal).where(form < 2, l1 + " & " + l2 + " " + legal)
    base_names = base_names.where(form != 3, l1 + " Group")
    c_name = base_names.where(~base_names.duplicated(), base_names + " " + c_num)
    c_name = c_name.where(~c_name.duplicated(), c_name + " #" + c_num).str.slice(0, 100)
    slugs = _str(c_name.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
                 .str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
                 .str.slice(0, 40).str.strip("-"))
    c_domain = slugs + "." + _str(tlds[c_loc])
    c_home = "https://www." + c_domain
    c_place = _pick_in_ranges(rng, pools.place_range, c_loc)
    c_phone = _str(pools.phone[_pick_in_ranges(rng, pools.phone_range, c_loc)])
    c_country = _str(country_codes[c_loc])
    c_street, c_city = _str(pools.street[c_place]), _str(pools.city[c_place])
    c_post, c_county = _str(pools.post_code[c_place]), _str(pools.county[c_place])
    c_nav_mod = epoch + rng.integers(0, 59 * 86400, n_companies).astype("timedelta64[s]")
    c_crm_mod = epoch + rng.integers(0, 59 * 86400, n_companies).astype("timedelta64[s]")
    accountid = _str(_guids(rng, n_companies))
    empty_c = _str(np.full(n_companies, "", dtype=object))

    # ---- persons
    p_company = np.sort(rng.integers(0, n_companies, persons))
    if persons >= n_companies:  # every company gets at least one person
        p_company[rng.permutation(persons)[:n_companies]] = np.arange(n_companies)
    p_loc = np.where(rng.random(persons) < 0.8, c_loc[p_company], rng.choice(n_loc, persons, p=_LOCALE_WEIGHTS))
    fi = _pick_in_ranges(rng, pools.first_range, p_loc)
    la = _pick_in_ranges(rng, pools.last_range, p_loc)
    own_place = rng.random(persons) < 0.4
    place = np.where(own_place, _pick_in_ranges(rng, pools.place_range, p_loc), c_place[p_company])
    addr_loc = np.where(own_place, p_loc, c_loc[p_company])
    ph = _pick_in_ranges(rng, pools.phone_range, addr_loc)
    mo = _pick_in_ranges(rng, pools.phone_range, p_loc)
    has_mobile = rng.random(persons) < 0.7
    jobs = np.array(_JOB_TITLES, dtype=object)[rng.integers(0, len(_JOB_TITLES), persons)]

    first = _str(pools.first[fi])
    last = _str(pools.last[la])
    p_width = _code_width(persons, 6)
    p_no = _codes("CT", persons, p_width)
    serial = pd.Series(np.arange(1, persons + 1)).astype("str")
    local = _str(pools.first_slug[fi]) + "." + _str(pools.last_slug[la]) + "." + serial
    email = local + "@" + c_domain.to_numpy()[p_company]
    empty_p = _str(np.full(persons, "", dtype=object))
    mobile = _str(np.where(has_mobile, pools.mobile[mo], ""))
    company_name = _str(c_name.to_numpy()[p_company])
    sync_s = rng.integers(int((_SYNC_FROM - _DEMO_START).total_seconds()),
                          int((_SYNC_TO - _DEMO_START).total_seconds()), persons)
    last_synch = epoch + sync_s.astype("timedelta64[s]")
    last_synch_crm = last_synch + rng.integers(1, 30, persons).astype("timedelta64[s]")
    nav_mod = np.maximum(last_synch - rng.integers(60, 60 * 86400, persons).astype("timedelta64[s]"), epoch)
    crm_mod = last_synch_crm - rng.integers(1, 120, persons).astype("timedelta64[s]")
    contactid = _str(_guids(rng, persons))

    values = {
        "First Name": first, "Middle Name": empty_p, "Surname": last,
        "Job Title": _str(jobs), "Address": _str(pools.street[place]), "Address 2": empty_p,
        "Post Code": _str(pools.post_code[place]), "City": _str(pools.city[place]),
        "County": _str(pools.county[place]), "Country/Region Code": _str(country_codes[addr_loc]),
        "E-Mail": email, "Phone No.": _str(pools.phone[ph]), "Mobile Phone No.": mobile,
        "Fax No.": empty_p, "Home Page": empty_p,
    }
    nav_companies = pd.DataFrame({
        "No.": c_no, "Type": _str(np.full(n_companies, "Company", dtype=object)),
        "Company No.": c_no, "Company Name": c_name, "Name": c_name,
        "First Name": empty_c, "Middle Name": empty_c, "Surname": empty_c, "Job Title": empty_c,
        "Address": c_street, "Address 2": empty_c, "Post Code": c_post, "City": c_city,
        "County": c_county, "Country/Region Code": c_country, "E-Mail": "info@" + c_domain,
        "Phone No.": c_phone, "Mobile Phone No.": empty_c, "Fax No.": empty_c,
        "Home Page": c_home, "SystemModifiedAt": c_nav_mod,
    })
    nav_persons = pd.DataFrame({
        "No.": p_no, "Type": _str(np.full(persons, "Person", dtype=object)),
        "Company No.": _str(c_no.to_numpy()[p_company]), "Company Name": company_name,
        "Name": first + " " + last, **values, "SystemModifiedAt": nav_mod,
    })
    nav = pd.concat([nav_companies, nav_persons], ignore_index=True)

    crm_values = {_NAV_TO_CRM[k]: v.replace("", np.nan) for k, v in values.items()}
    crm = pd.DataFrame({
        "contactid": contactid, **crm_values,
        "parentcustomerid": _str(accountid.to_numpy()[p_company]),
        "modifiedon": crm_mod, "statecode": np.zeros(persons, dtype=np.int64),
    })
    acc = pd.DataFrame({
        "accountid": accountid, "name": c_name, "accountnumber": c_no,
        "telephone1": c_phone.replace("", np.nan), "websiteurl": c_home,
        "address1_city": c_city.replace("", np.nan), "address1_country": c_country,
        "modifiedon": c_crm_mod, "statecode": np.zeros(n_companies, dtype=np.int64),
    })
    cc = pd.DataFrame({
        "No.": p_no, "contactid": contactid,
        "Last Synch. Modified On": last_synch, "Last Synch. CRM Modified On": last_synch_crm,
    })
    kc = pd.DataFrame({"No.": c_no, "accountid": accountid})
    return _finish(nav, crm, acc, cc, kc)


# --------------------------------------------------------------------------- public API

def generate(persons: int = 300, companies: int | None = None, *, seed: int = 42,
             scenario: str = "demo") -> SampleData:
    """Generate a sample: NAV contacts, CRM contacts and accounts, couplings.

    ``persons`` is the number of person slots (see the module docstring);
    ``companies=None`` means 40 in ``demo`` and ``persons // 25`` in ``bench``.
    The same arguments always give equal frames.
    """
    n_companies = _resolve_companies(persons, companies, scenario)
    _check_args(persons, n_companies, scenario)
    if scenario == "bench":
        return _bench(persons, n_companies, seed)
    return _demo(persons, n_companies, seed)


def write_sample(directory: str | Path, persons: int = 300, companies: int | None = None, *,
                 seed: int = 42, scenario: str = "demo", fmt: str = "csv") -> dict[str, Path]:
    """Generate a sample and write its five files into ``directory``.

    Files: ``nav_contacts``, ``crm_contacts``, ``crm_accounts``,
    ``contact_couplings``, ``company_couplings`` with the extension ``fmt``
    (``csv``: UTF-8 without BOM, comma-separated, header row, timestamps
    ``YYYY-MM-DD HH:MM:SS``; or ``parquet``).  Returns the paths by frame name.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    data = generate(persons, companies, seed=seed, scenario=scenario)
    return write_frames(data, directory, fmt=fmt)


def write_frames(data: SampleData, directory: str | Path, *, fmt: str = "csv") -> dict[str, Path]:
    """Write an existing :class:`SampleData` (see :func:`write_sample`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key, frame in data.frames().items():
        path = out_dir / f"{FILE_NAMES[key]}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, encoding="utf-8", date_format=_CSV_DATE_FORMAT,
                         lineterminator="\n")
        else:
            frame.to_parquet(path, index=False)
        paths[key] = path
    return paths


def read_sample(directory: str | Path, *, fmt: str = "csv") -> SampleData:
    """Read files written by :func:`write_sample` back with the canonical dtypes.

    NAV text comes back as ``''`` for empty, CRM text as missing.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    in_dir = Path(directory)
    frames: dict[str, pd.DataFrame] = {}
    for key, stem in FILE_NAMES.items():
        path = in_dir / f"{stem}.{fmt}"
        if fmt == "csv":
            text_cols = [c for c in _COLUMNS[key]
                         if c not in _TIMESTAMP_COLUMNS[key] and c not in _INT_COLUMNS.get(key, ())]
            frame = pd.read_csv(
                path, encoding="utf-8", dtype={c: "str" for c in text_cols},
                keep_default_na=False, na_values={c: [""] for c in _COLUMNS[key]
                                                  if key != "nav_contact"},
                parse_dates=list(_TIMESTAMP_COLUMNS[key]), date_format=_CSV_DATE_FORMAT,
            )
        else:
            frame = pd.read_parquet(path)
        frames[key] = _coerce(key, frame)
    return SampleData(**frames)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m contactsync.sample DIR [--persons N] ...``: write a sample."""
    parser = argparse.ArgumentParser(
        prog="python -m contactsync.sample",
        description="Write seeded fake NAV/CRM contacts, accounts and couplings.")
    parser.add_argument("directory", help="output directory (created if missing)")
    parser.add_argument("--persons", type=int, default=300, help="person slots (default 300)")
    parser.add_argument("--companies", type=int, default=None,
                        help="companies (default: 40 for demo, persons // 25 for bench)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="demo")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    args = parser.parse_args(argv)
    try:
        paths = write_sample(args.directory, args.persons, args.companies, seed=args.seed,
                             scenario=args.scenario, fmt=args.fmt)
    except ValueError as exc:
        parser.error(str(exc))
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
