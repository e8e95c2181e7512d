"""A labelled benchmark for coupling suggestions: NAV persons and CRM contacts with known truth.

Built on the pools of :mod:`contactsync.sample` (Faker names, streets and cities of eight locales),
vectorised so that 100k x 100k takes seconds. Per NAV person:

* ``match_rate`` of them have a CRM counterpart — the same human, written differently: each true
  pair gets 0-4 corruptions drawn from typos in first/last name, swapped first and last name,
  accents and apostrophes dropped, names upper-cased, e-mail case/spacing, a private e-mail instead
  of the work one, e-mail missing, phone written in another format (E.164, national, ``+44 (0)``,
  ``0044``), phone or mobile missing, address missing or moved, another job title;
* the rest are NAV-only; CRM gets as many CRM-only contacts, a third of them *look-alikes* of a
  NAV-only person (hard negatives): a colleague or relative (same surname, company, address and
  switchboard number, other first name), a namesake elsewhere (same first and last name, other
  company and details), or a colleague with the same first name.

Returns frames in the systems' columns plus the truth as (No., contactid) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contactsync import sample as S

# country -> (calling code, trunk prefix, national significant number length)
PHONE = {"GB": ("44", "0", 10), "DE": ("49", "0", 10), "FR": ("33", "0", 9), "NL": ("31", "0", 9),
         "DK": ("45", "", 8), "US": ("1", "", 10), "IE": ("353", "0", 9), "CZ": ("420", "", 9)}
CORRUPTIONS = ("typo_first", "typo_last", "swap", "accents", "upper", "email_case", "email_private",
               "email_missing", "phone_format", "phone_missing", "mobile_missing", "address_missing",
               "address_moved", "job_changed", "company_moved")
# relative frequencies of the corruptions (a pair gets 0-4 of them)
CORRUPTION_P = np.array([8, 10, 8, 8, 3, 8, 6, 10, 12, 8, 6, 6, 3, 8, 1], dtype=float)
N_CORRUPT_P = np.array([0.15, 0.35, 0.30, 0.15, 0.05])


@dataclass(frozen=True)
class Benchmark:
    nav_contact: pd.DataFrame
    crm_contact: pd.DataFrame
    crm_account: pd.DataFrame
    company_couplings: pd.DataFrame
    truth: pd.DataFrame  # nav_no, crm_id, corruptions


def _nsn(rng, countries: np.ndarray) -> np.ndarray:
    out = np.empty(len(countries), dtype=object)
    for c, (_cc, _t, n) in PHONE.items():
        idx = np.flatnonzero(countries == c)
        if not len(idx):
            continue
        first = rng.integers(2, 10, len(idx)).astype(str)
        rest = rng.integers(0, 10, (len(idx), n - 1)).astype(str)
        out[idx] = np.char.add(first, np.apply_along_axis("".join, 1, rest) if n > 1 else "")
    return out


def render_phone(nsn: str, country: str, style: int, home: str | None = None) -> str:
    """One number written in one of five styles (national only for a number of the record's country)."""
    cc, trunk, _ = PHONE[country]
    if style == 1 and home is not None and home != country:
        style = 0
    groups = " ".join(nsn[i:i + 3] for i in range(0, len(nsn), 3)) if len(nsn) != 10 else \
        f"{nsn[:3]} {nsn[3:6]} {nsn[6:]}"
    if style == 0:
        return f"+{cc} {groups}"
    if style == 1:
        if country == "US":
            return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
        return f"{trunk}{groups}" if trunk else groups
    if style == 2:
        return f"+{cc}{nsn}"
    if style == 3:
        return f"+{cc} ({trunk}){groups}" if trunk else f"+{cc}-{nsn}"
    return f"00{cc} {groups}"


def _typo(rng, word: str) -> str:
    if not word:
        return word
    if len(word) < 3:
        return word + word[-1]
    i = int(rng.integers(1, len(word) - 1))
    op = int(rng.integers(0, 4))
    if op == 0:
        out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif op == 1:
        out = word[:i] + word[i + 1:]
    elif op == 2:
        out = word[:i] + word[i] + word[i:]
    else:
        out = word[:i] + "aeioutnrs"[int(rng.integers(0, 9))] + word[i + 1:]
    return out if out != word else word + word[-1]


def make(n: int, *, match_rate: float = 0.6, seed: int = 1, hard_rate: float = 0.33) -> Benchmark:
    """``n`` NAV persons, ``n`` CRM contacts; ``round(n * match_rate)`` true pairs."""
    rng = np.random.default_rng(seed)
    pools = S._bench_pools(seed)
    locs = S._LOCALE_NAMES
    countries = np.array([S._LOCALES[loc][0] for loc in locs], dtype=object)
    tlds = np.array([S._LOCALES[loc][2] for loc in locs], dtype=object)
    n_match = round(n * match_rate)
    n_single = n - n_match
    n_people = n_match + 2 * n_single  # humans: pairs, NAV-only, CRM-only

    # companies, each coupled to an account
    n_comp = max(4, n // 25)
    c_loc = rng.choice(len(locs), n_comp, p=S._LOCALE_WEIGHTS)
    c_no = S._codes("C", n_comp, S._code_width(n_comp, 5))
    c_name = pd.Series(pools.last[S._pick_in_ranges(rng, pools.last_range, c_loc)], dtype=str) + " " + \
        pd.Series(np.array([S._LEGAL_FORMS[loc] for loc in locs], dtype=object)[c_loc], dtype=str) + " " + \
        pd.Series(np.arange(n_comp)).astype(str)
    c_domain = (c_name.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
                .str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-") + "." + pd.Series(tlds[c_loc]))
    c_place = S._pick_in_ranges(rng, pools.place_range, c_loc)
    c_country = countries[c_loc]
    c_nsn = _nsn(rng, c_country)
    accountid = S._guids(rng, n_comp)

    # people
    comp = rng.integers(0, n_comp, n_people)
    p_loc = np.where(rng.random(n_people) < 0.8, c_loc[comp], rng.choice(len(locs), n_people, p=S._LOCALE_WEIGHTS))
    fi = S._pick_in_ranges(rng, pools.first_range, p_loc)
    la = S._pick_in_ranges(rng, pools.last_range, p_loc)
    own = rng.random(n_people) < 0.4
    place = np.where(own, S._pick_in_ranges(rng, pools.place_range, p_loc), c_place[comp])
    addr_country = np.where(own, countries[p_loc], c_country[comp])
    p_country = countries[p_loc]
    p = pd.DataFrame({
        "comp": comp, "first": pools.first[fi], "last": pools.last[la],
        "street": pools.street[place], "post": pools.post_code[place], "city": pools.city[place],
        "county": pools.county[place], "country": addr_country,
        "job": np.array(S._JOB_TITLES, dtype=object)[rng.integers(0, len(S._JOB_TITLES), n_people)],
    })
    local = pd.Series(pools.first_slug[fi], dtype=str) + "." + pd.Series(pools.last_slug[la], dtype=str)
    dom = c_domain.to_numpy()[comp]
    key = local + "@" + pd.Series(dom, dtype=str)
    k = key.groupby(key).cumcount()
    p["email"] = (local + np.where(k > 0, k.astype(str), "") + "@" + pd.Series(dom, dtype=str)).to_numpy()
    p["local"] = local.to_numpy()
    shared = rng.random(n_people) < 0.3  # switchboard number of the company
    own_nsn = _nsn(rng, addr_country)
    p["ph_nsn"] = np.where(shared, c_nsn[comp], own_nsn)
    p["ph_country"] = np.where(shared, c_country[comp], addr_country)
    p["mo_nsn"] = np.where(rng.random(n_people) < 0.7, _nsn(rng, p_country), None)
    p["mo_country"] = p_country

    # hard negatives: CRM-only people that look like NAV-only ones
    P = {c: p[c].to_numpy(dtype=object).copy() for c in p.columns}
    nav_only = np.arange(n_match, n_match + n_single)
    crm_only = np.arange(n_match + n_single, n_people)
    hard = crm_only[rng.random(n_single) < hard_rate]
    src = rng.choice(nav_only, len(hard), replace=False)
    kind = rng.integers(0, 3, len(hard))
    copy = {0: ("comp", "last", "street", "post", "city", "county", "country", "ph_nsn", "ph_country"),
            1: ("first", "last"), 2: ("comp", "first", "street", "post", "city", "country")}
    for kd, cols in copy.items():
        h, s_ = hard[kind == kd], src[kind == kd]
        for c in cols:
            P[c][h] = P[c][s_]
    h = hard[kind != 1]
    doms = c_domain.to_numpy()[P["comp"][h].astype(int)]
    for j, i in enumerate(h):
        loc_part = f"{S._slug(P['first'][i])}.{S._slug(P['last'][i])}.{i}"
        P["local"][i] = loc_part
        P["email"][i] = f"{loc_part}@{doms[j]}"
    p = pd.DataFrame(P)

    # NAV side: pairs + NAV-only
    nav_idx = np.arange(0, n_match + n_single)
    nav_style = rng.choice([0, 1], len(nav_idx), p=[0.5, 0.5])
    nav_no = S._codes("CT", len(nav_idx), 7)
    nav = pd.DataFrame({
        "No.": nav_no, "Type": "Person", "Company No.": c_no.to_numpy()[p["comp"].to_numpy(dtype=int)[nav_idx]],
        "Company Name": c_name.to_numpy()[p["comp"].to_numpy(dtype=int)[nav_idx]],
        "First Name": p["first"].to_numpy()[nav_idx], "Middle Name": "", "Surname": p["last"].to_numpy()[nav_idx],
        "Job Title": p["job"].to_numpy()[nav_idx], "Address": p["street"].to_numpy()[nav_idx], "Address 2": "",
        "Post Code": p["post"].to_numpy()[nav_idx], "City": p["city"].to_numpy()[nav_idx],
        "County": p["county"].to_numpy()[nav_idx], "Country/Region Code": p["country"].to_numpy()[nav_idx],
        "E-Mail": p["email"].to_numpy()[nav_idx],
        "Phone No.": [render_phone(a, b, s, h) for a, b, s, h in
                      zip(p["ph_nsn"].to_numpy()[nav_idx], p["ph_country"].to_numpy()[nav_idx], nav_style,
                          p["country"].to_numpy()[nav_idx])],
        "Mobile Phone No.": [render_phone(a, b, s, h) if isinstance(a, str) else "" for a, b, s, h in
                             zip(p["mo_nsn"].to_numpy()[nav_idx], p["mo_country"].to_numpy()[nav_idx], nav_style,
                                 p["country"].to_numpy()[nav_idx])],
        "Fax No.": "", "Home Page": "",
    })
    nav["Name"] = nav["First Name"] + " " + nav["Surname"]
    nav["SystemModifiedAt"] = pd.Timestamp("2025-06-01")

    # CRM side: pairs (corrupted) + CRM-only
    crm_idx = np.concatenate([np.arange(n_match), crm_only])
    crm = pd.DataFrame({
        "first": p["first"].to_numpy()[crm_idx], "last": p["last"].to_numpy()[crm_idx],
        "job": p["job"].to_numpy()[crm_idx], "street": p["street"].to_numpy()[crm_idx],
        "post": p["post"].to_numpy()[crm_idx], "city": p["city"].to_numpy()[crm_idx],
        "county": p["county"].to_numpy()[crm_idx], "country": p["country"].to_numpy()[crm_idx],
        "email": p["email"].to_numpy()[crm_idx], "local": p["local"].to_numpy()[crm_idx],
        "comp": p["comp"].to_numpy()[crm_idx],
        "ph_nsn": p["ph_nsn"].to_numpy()[crm_idx], "ph_country": p["ph_country"].to_numpy()[crm_idx],
        "mo_nsn": p["mo_nsn"].to_numpy()[crm_idx], "mo_country": p["mo_country"].to_numpy()[crm_idx],
    })
    style = rng.choice([0, 1], len(crm), p=[0.5, 0.5])
    # corruptions of the true pairs
    n_corr = rng.choice(len(N_CORRUPT_P), n_match, p=N_CORRUPT_P)
    probs = CORRUPTION_P / CORRUPTION_P.sum()
    applied = [set(rng.choice(len(CORRUPTIONS), k, replace=False, p=probs)) if k else set() for k in n_corr]
    labels = []
    free = np.array(S._FREE_MAIL["en_GB"] + S._FREE_MAIL["de_DE"] + S._FREE_MAIL["fr_FR"], dtype=object)
    C = {c: crm[c].tolist() for c in crm.columns}
    for i, cs in enumerate(applied):
        names = [CORRUPTIONS[c] for c in sorted(cs)]
        labels.append(",".join(names))
        for c in names:
            if c == "typo_first":
                C["first"][i] = _typo(rng, C["first"][i])
            elif c == "typo_last":
                C["last"][i] = _typo(rng, C["last"][i])
            elif c == "swap":
                C["first"][i], C["last"][i] = C["last"][i], C["first"][i]
            elif c == "accents":
                C["first"][i] = S._ascii(C["first"][i]).replace("'", "")
                C["last"][i] = S._ascii(C["last"][i]).replace("'", "").replace("-", " ")
            elif c == "upper":
                C["last"][i] = C["last"][i].upper()
            elif c == "email_case":
                e = C["email"][i]
                C["email"][i] = (" " + e.title() + " ") if rng.random() < 0.3 else e.upper()
            elif c == "email_private":
                C["email"][i] = C["local"][i] + "@" + free[int(rng.integers(0, len(free)))]
            elif c == "email_missing":
                C["email"][i] = None
            elif c == "phone_format":
                style[i] = int(rng.integers(2, 5))
            elif c == "phone_missing":
                C["ph_nsn"][i] = None
            elif c == "mobile_missing":
                C["mo_nsn"][i] = None
            elif c == "address_missing":
                for k_ in ("street", "post", "city", "county"):
                    C[k_][i] = None
            elif c == "address_moved":
                j = int(rng.integers(0, len(pools.street)))
                C["street"][i], C["post"][i], C["city"][i] = pools.street[j], pools.post_code[j], pools.city[j]
            elif c == "job_changed":
                C["job"][i] = S._JOB_TITLES[int(rng.integers(0, len(S._JOB_TITLES)))]
            elif c == "company_moved":
                C["comp"][i] = int(rng.integers(0, n_comp))
    crm = pd.DataFrame(C)
    contactid = S._guids(rng, len(crm))
    crm_out = pd.DataFrame({
        "contactid": contactid, "firstname": crm["first"], "middlename": None, "lastname": crm["last"],
        "jobtitle": crm["job"], "address1_line1": crm["street"], "address1_line2": None,
        "address1_postalcode": crm["post"], "address1_city": crm["city"],
        "address1_stateorprovince": crm["county"].replace("", None), "address1_country": crm["country"],
        "emailaddress1": crm["email"],
        "telephone1": [render_phone(a, b, s, h) if isinstance(a, str) else None for a, b, s, h in
                       zip(crm["ph_nsn"], crm["ph_country"], style, crm["country"])],
        "mobilephone": [render_phone(a, b, s, h) if isinstance(a, str) else None for a, b, s, h in
                        zip(crm["mo_nsn"], crm["mo_country"], style, crm["country"])],
        "fax": None, "websiteurl": None, "parentcustomerid": accountid[crm["comp"].to_numpy(dtype=int)],
        "modifiedon": pd.Timestamp("2025-06-01"), "statecode": 0,
    })
    # shuffle the CRM side so that row order tells nothing
    order = rng.permutation(len(crm_out))
    truth = pd.DataFrame({"nav_no": nav_no[:n_match].to_numpy(), "crm_id": contactid[:n_match],
                          "corruptions": labels})
    crm_out = crm_out.iloc[order].reset_index(drop=True)
    nav_comp = pd.DataFrame({
        "No.": c_no, "Type": "Company", "Company No.": c_no, "Company Name": c_name, "Name": c_name,
        "First Name": "", "Middle Name": "", "Surname": "", "Job Title": "", "Address": pools.street[c_place],
        "Address 2": "", "Post Code": pools.post_code[c_place], "City": pools.city[c_place], "County": "",
        "Country/Region Code": c_country, "E-Mail": "info@" + c_domain, "Phone No.": "",
        "Mobile Phone No.": "", "Fax No.": "", "Home Page": "", "SystemModifiedAt": pd.Timestamp("2025-01-01"),
    })
    nav = pd.concat([nav_comp, nav[nav_comp.columns]], ignore_index=True)
    acc = pd.DataFrame({"accountid": accountid, "name": c_name, "accountnumber": c_no, "statecode": 0,
                        "modifiedon": pd.Timestamp("2025-01-01")})
    kc = pd.DataFrame({"No.": c_no, "accountid": accountid})
    return Benchmark(nav, crm_out, acc, kc, truth)


def load(ws, b: Benchmark) -> None:
    """Import a benchmark into a workspace (companies coupled, persons uncoupled)."""
    ws.import_nav(b.nav_contact)
    ws.import_accounts(b.crm_account)
    ws.import_crm(b.crm_contact)
    ws.import_couplings(b.company_couplings, entity="company")
