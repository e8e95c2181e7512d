"""Suggested couplings: a Fellegi–Sunter model trained on the workspace's own records (Splink on DuckDB).

contactsync prepares the comparison columns in the workspace (names without accents and punctuation,
ß/ss and ü/ue folded, e-mails lower-cased without spaces, phones in E.164 with ``phonenumbers``, company
names without legal forms, a phonetic key per name), copies them to a private in-memory DuckDB and lets
Splink do the probabilistic part:

* **comparison levels** per field (:func:`model_settings`): exact (with term-frequency adjustment for
  first names, surnames and cities), swapped first/last name, initials and nickname-like prefixes,
  Damerau–Levenshtein and Jaro–Winkler bands, phonetic key, missing (= no evidence, weight 0);
* **training** (:func:`train`): u-probabilities from random pairs, the prior from near-certain rules,
  m-probabilities by expectation–maximisation on two blockings (names; address) so that every field is
  estimated once without its own blocking column; a workspace with fewer than :data:`MIN_TRAIN` uncoupled
  records on a side keeps the prior model (trained the same way on the benchmark generator, see
  :mod:`contactsync._match_prior`);
* **blocking** (:data:`BLOCKING_RULES`): e-mail, phones, names exact, swapped and phonetic, post code +
  surname or first name, street + city, street + post code, company name + a name;
* **decisions** (:func:`decide`): one-to-one, ``match`` (auto-acceptable) only for the best candidate of
  both records by :data:`MARGIN` bits over the runner-up of either; *look-alikes* (relatives, colleagues:
  the same surname, street, phone or e-mail, but another first name) are never ``match``.

The trained model is stored in the workspace (``meta`` key :data:`MODEL_KEY`, Splink's JSON) and reused
until retrained. Nothing here opens workspace transactions: :mod:`contactsync.matching` does.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import duckdb
import pandas as pd

from .errors import ContactSyncError
from .history import now_utc
from .store import _quiet

__all__ = ["BLOCKING_RULES", "COLUMNS", "DIALECT_FUNCTIONS", "DL", "EM_NAMES", "EM_OTHERS", "FIELDS", "FIELD_NAMES",
           "FREE_MAIL", "JW", "MARGIN", "MAX_WEIGHT", "MIN_M", "MIN_TRAIN", "MIN_WEIGHT", "MODEL_KEY", "Matcher",
           "PRIOR_RECALL", "PRIOR_RULES", "PRIVATE_WORK", "SEED", "SWAPPED_STREET", "Source", "U_PAIRS", "company_sql", "decide",
           "faker_first_names", "for_dialect", "frame", "known_first_names", "labels", "load_prior", "model_settings", "phonetic_sql",
           "predict", "session", "store", "stored", "train", "without_tf"]

MODEL_KEY = "matcher:model"
MIN_TRAIN = 300      # uncoupled records per side needed to train on the workspace (else the prior)
MARGIN = 3.0         # bits the best candidate must lead the runner-up of both records by to be ``match``
U_PAIRS = 1e5        # random pairs for the u-probabilities (one pass: Splink's chunked rounds cost 2x)
SEED = 42


class Source(str, Enum):
    """Where the model's parameters come from."""

    WORKSPACE = "workspace"   # trained on this workspace's records
    PRIOR = "prior"           # the packaged model (too few records here to train)


# fields: (comparison name, label shown to the steward, the prepared columns it reads)
FIELDS = (
    ("first", "first name", ("f", "l")), ("last", "surname", ("l", "f")), ("email", "e-mail", ("e", "el", "ef")),
    ("mobile", "mobile", ("mo", "ph")), ("phone", "phone", ("ph",)),
    ("address", "address", ("street", "post", "city")), ("street2", "address 2", ("street2",)),
    ("company", "company", ("co", "cn")), ("job", "job title", ("job",)),
)
FIELD_NAMES = tuple(f for f, _label, _cols in FIELDS)
COLUMNS = ("f", "l", "fx", "lx", "fp", "lp", "e", "el", "ef", "ph", "mo", "street", "sn", "street2", "post", "city", "county", "co",
           "cn", "job")

JW = "jaro_winkler_similarity"
DL = "damerau_levenshtein"


def _level(sql: str, label: str, *, null: bool = False, tf: str | None = None) -> dict:
    lv: dict = {"sql_condition": sql, "label_for_charts": label}
    if null:
        lv["is_null_level"] = True
    if tf:
        lv["tf_adjustment_column"] = tf
        lv["tf_adjustment_weight"] = 1.0
    return lv


def _else() -> dict:
    return _level("ELSE", "differs")


def _name_levels(a: str, b: str, *, first: bool) -> list[dict]:
    """Levels of one name part ``a`` (first name or surname), ``b`` being the other part (for swaps)."""
    al, ar, bl, br = f"{a}_l", f"{a}_r", f"{b}_l", f"{b}_r"
    p = "fp" if a == "f" else "lp"
    levels = [
        _level(f"{al} IS NULL OR {ar} IS NULL", "missing", null=True),
        _level(f"{al} = {ar}", "same", tf=a),
        _level(f"{a}x_l = {a}x_r", "same when transliterated (ü/ue, ß/ss)"),
        _level(f"{al} = {br} AND {bl} = {ar}", "same, first and last swapped"),
        _level(f"{JW}({al}, {br}) >= 0.9 AND {JW}({bl}, {ar}) >= 0.9 OR {al} = {br} AND {DL}({bl}, {ar}) <= 2 "
               f"OR {bl} = {ar} AND {DL}({al}, {br}) <= 2", "close, first and last swapped"),
    ]
    if first:
        levels.append(_level(f"(length({al}) = 1 OR length({ar}) = 1 OR least(length({al}), length({ar})) >= 3) "
                             f"AND (starts_with({al}, {ar}) OR starts_with({ar}, {al}))",
                             "initial or short form"))
    levels += [
        _level(f"{DL}({al}, {ar}) <= 1", "one typo"),
        _level(f"{JW}({al}, {ar}) >= 0.9", "very similar"),
        _level(f"{p}_l = {p}_r", "sounds the same"),
        _level(f"{JW}({al}, {ar}) >= 0.8", "similar"),
        _else(),
    ]
    return levels


def _simple(stem: str, *, tf: bool = False, typo: bool = False, jw: float | None = None) -> list[dict]:
    """Levels over the prepared columns ``<stem>_l`` / ``<stem>_r``: ``stem`` is one of the package's own
    comparison names (FIELDS), never a user's column, written bare as Splink's SQL expects."""
    levels = [_level(f"{stem}_l IS NULL OR {stem}_r IS NULL", "missing", null=True),
              _level(f"{stem}_l = {stem}_r", "same", tf=stem if tf else None)]
    if typo:
        levels.append(_level(f"{DL}({stem}_l, {stem}_r) <= 1", "one typo"))
    if jw:
        levels.append(_level(f"{JW}({stem}_l, {stem}_r) >= {jw}", "similar"))
    return levels + [_else()]


def _comparison(name: str, levels: list[dict]) -> dict:
    return {"output_column_name": name, "comparison_description": dict((f, lb) for f, lb, _c in FIELDS)[name],
            "comparison_levels": levels}


# consumer mail domains: the same name part there and at a company is one person's private and work address
FREE_MAIL = ("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com",
             "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "icloud.com", "me.com", "aol.com", "proton.me",
             "protonmail.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de",
             "posteo.de", "mail.de", "btinternet.com", "sky.com", "virginmedia.com", "eircom.net", "orange.fr",
             "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "ziggo.nl", "kpnmail.nl", "planet.nl", "home.nl",
             "mail.dk", "seznam.cz", "email.cz", "centrum.cz", "wp.pl", "o2.pl", "libero.it", "mail.ru", "yandex.ru")
PRIVATE_WORK = "el_l = el_r AND length(el_l) >= 4 AND (ef_l OR ef_r)"

_NAME_NEAR = " OR ".join(f"{JW}({a}, {b}) >= 0.88" for a, b in (("l.f", "r.f"), ("l.l", "r.l"), ("l.f", "r.l"),
                                                                  ("l.l", "r.f")))

# Blocking rules: a candidate pair is scored when any one of them holds (Splink removes the duplicates).
BLOCKING_RULES = (
    "l.e = r.e",
    "l.mo = r.mo", "l.ph = r.ph", "l.mo = r.ph", "l.ph = r.mo",
    "l.f = r.f AND l.l = r.l",
    "l.f = r.l AND l.l = r.f",
    "l.fp = r.fp AND l.lp = r.lp",
    "l.l = r.l AND l.post = r.post", "l.f = r.f AND l.post = r.post",
    "l.lp = r.lp AND l.post = r.post", "l.f = r.l AND l.post = r.post", "l.l = r.f AND l.post = r.post",
    "l.post = r.post AND l.city = r.city AND l.fp = r.fp", "l.post = r.post AND l.city = r.city AND l.lp = r.lp",
    "l.post = r.post AND l.street2 = r.street2",
    # the same street (house number included) and one name part alike, post code and city aside (typos;
    # colleagues at one address are many: not all of them)
    f"l.street = r.street AND ({_NAME_NEAR})", "l.street2 = r.street2 AND l.city = r.city",
    # street and address 2 swapped
    "l.sn = r.street2 AND l.post = r.post", "l.street2 = r.sn AND l.post = r.post",
    "l.l = r.l AND l.cn = r.cn", "l.f = r.f AND l.cn = r.cn", "l.l = r.f AND l.cn = r.cn",
    "l.el = r.el AND length(l.el) >= 4",
)
# street and address 2 swapped (the street's name without its house number is the other's address 2)
SWAPPED_STREET = (f"{JW}(sn_l, street2_r) >= 0.88 AND ({JW}(street2_l, sn_r) >= 0.88 OR street2_l IS NULL) "
                  f"OR {JW}(street2_l, sn_r) >= 0.88 AND street2_r IS NULL")
# EM blockings: the names, then the first identifier the data has (the names are estimated on that one)
EM_NAMES = "l.f = r.f AND l.l = r.l"
EM_OTHERS = ("l.e = r.e", "l.mo = r.mo", "l.street = r.street AND l.post = r.post")
# a level's weight is kept within these bits (EM can run an m to 1e-11)
MIN_WEIGHT, MAX_WEIGHT = -10.0, 16.0
MIN_M = 1e-4  # an agreement level whose m EM estimates below this weighs 0
# near-certain rules for the prior probability that two random records match
PRIOR_RULES = ("l.f = r.f AND l.l = r.l AND l.post = r.post", "l.e = r.e AND l.l = r.l")
PRIOR_RECALL = 0.6


def model_settings() -> dict:
    """Splink settings (untrained): link NAV persons (``nav``) to CRM contacts (``crm``) on the prepared columns."""
    comps = [
        _comparison("first", _name_levels("f", "l", first=True)),
        _comparison("last", _name_levels("l", "f", first=False)),
        _comparison("email", [_level("e_l IS NULL OR e_r IS NULL", "missing", null=True),
                              _level("e_l = e_r", "same (ignoring case and spaces)"),
                              _level(f"{PRIVATE_WORK}", "same name part, private and work address"),
                              _level("el_l = el_r AND length(el_l) >= 4", "same name part, two company domains"),
                              _level(f"{JW}(el_l, el_r) >= 0.9", "similar name part"), _else()]),
        _comparison("mobile", [_level("(mo_l IS NULL OR mo_r IS NULL) AND (mo_l IS NULL OR ph_r IS NULL) "
                                      "AND (ph_l IS NULL OR mo_r IS NULL)",
                                      "missing", null=True),
                               _level("mo_l = mo_r", "same number"),
                               _level("mo_l = ph_r OR ph_l = mo_r", "same number (as phone)"), _else()]),
        _comparison("phone", [_level("ph_l IS NULL OR ph_r IS NULL", "missing", null=True),
                              _level("ph_l = ph_r", "same number"), _else()]),
        # street, post code and city in one comparison: they move together (independence would count a
        # shared address three times)
        _comparison("address", [
            _level("(street_l IS NULL OR street_r IS NULL) AND (post_l IS NULL OR post_r IS NULL) "
                   "AND (city_l IS NULL OR city_r IS NULL)", "missing", null=True),
            _level("street_l = street_r AND (post_l = post_r OR city_l = city_r)", "same"),
            _level(f"{JW}(street_l, street_r) >= 0.88 AND (post_l = post_r OR city_l = city_r)",
                   "similar street, same post code or city"),
            _level(f"({SWAPPED_STREET}) AND (post_l = post_r OR city_l = city_r)",
                   "street and address 2 swapped, same post code or city"),
            _level("street_l = street_r", "same street, other post code and city"),
            _level("post_l = post_r AND city_l = city_r", "same post code and city, other street"),
            _level("post_l = post_r", "same post code"),
            _level("city_l = city_r", "same city"),
            _level(f"{DL}(post_l, post_r) <= 1 OR {JW}(city_l, city_r) >= 0.9", "similar post code or city"),
            _else()]),
        _comparison("street2", _simple("street2", jw=0.88)[:-1]
                    + [_level(SWAPPED_STREET, "swapped with the street"), _else()]),
        _comparison("company", [
            _level("NOT (co_l IS NOT NULL AND co_r IS NOT NULL) AND (cn_l IS NULL OR cn_r IS NULL)", "missing",
                   null=True),
            _level("co_l = co_r", "same (coupled)"),
            _level("cn_l = cn_r", "same name"),
            _level(f"{JW}(cn_l, cn_r) >= 0.9", "similar name"), _else()]),
        _comparison("job", _simple("job", jw=0.9)),
    ]
    return {
        "link_type": "link_only", "unique_id_column_name": "id", "probability_two_random_records_match": 1e-4,
        "comparisons": comps,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r, "sql_dialect": "duckdb"}
                                                   for r in BLOCKING_RULES],
        "retain_matching_columns": True, "retain_intermediate_calculation_columns": True,
        "em_convergence": 0.001, "max_iterations": 25,
    }


# ================================================================================ prepared columns
_LEGAL = ("gmbh", "mbh", "ag", "kg", "ohg", "gbr", "ug", "ev", "ltd", "limited", "plc", "llp", "llc", "inc",
          "incorporated", "corp", "corporation", "co", "company", "sa", "sas", "sarl", "eurl", "srl", "spa",
          "bv", "nv", "vof", "as", "aps", "ab", "oy", "sro", "as", "spzoo", "kft", "pty", "pte", "and", "und",
          "et", "the")


def phonetic_sql(expr: str) -> str:
    """A Soundex-like key of a normalized name: first letter + the consonant classes, runs collapsed."""
    codes = f"translate(substr({expr}, 2), 'aeiouyhwbfpvcgjkqsxzdtlmnr', '00000000111122222222334556')"
    for d in "0123456":
        codes = f"regexp_replace({codes}, '{d}+', '{d}', 'g')"
    return f"CASE WHEN {expr} IS NOT NULL THEN left({expr}, 1) || left(replace({codes}, '0', ''), 3) END"


def company_sql(expr: str) -> str:
    """A company name without accents, punctuation and legal forms ('Müller & Co. GmbH' -> 'muller')."""
    words = (f"regexp_replace(strip_accents(lower(coalesce(CAST({expr} AS VARCHAR), ''))), '[^a-z0-9]+', ' ', "
             f"'g')")
    legal = "|".join(_LEGAL)
    return (f"nullif(replace(regexp_replace(' ' || {words} || ' ', ' (?:(?:{legal}) )+', ' ', 'g'), ' ', ''), "
            f"'')")


@lru_cache(maxsize=1)
def known_first_names() -> frozenset[str]:
    """First names Faker knows in any of its locales, normalized as contactsync normalizes names: the list
    packaged in :mod:`contactsync._match_prior` (importing every Faker locale takes seconds), made by
    :func:`faker_first_names` when the prior is trained."""
    from ._match_prior import FIRST_NAMES

    return frozenset(FIRST_NAMES.split())


def faker_first_names() -> frozenset[str]:
    """First names Faker knows in any of its locales, normalized as contactsync normalizes names."""
    import importlib

    from faker.config import AVAILABLE_LOCALES

    from .matching import fold_name

    names: set[str] = set()
    for loc in AVAILABLE_LOCALES:
        try:
            prov = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ModuleNotFoundError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            v = getattr(prov, attr, ())
            if isinstance(v, (list, tuple, dict)):  # some locales compute them (a property)
                names.update(str(x) for x in v)
    return frozenset(n for n in (fold_name(x) for x in names) if n and len(n) > 1)


# ================================================================================ model storage
@dataclass(frozen=True)
class Matcher:
    """A trained model: Splink's settings JSON plus where it came from."""

    settings: dict
    source: Source
    trained_at: str
    nav_records: int = 0
    crm_records: int = 0
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps({"settings": self.settings, "source": self.source.value, "trained_at": self.trained_at,
                           "nav_records": self.nav_records, "crm_records": self.crm_records,
                           "seconds": self.seconds})

    @classmethod
    def from_json(cls, text: str) -> Matcher:
        d = json.loads(text)
        return cls(d["settings"], Source(d["source"]), d["trained_at"], int(d.get("nav_records", 0)),
                   int(d.get("crm_records", 0)), float(d.get("seconds", 0.0)))

    @property
    def prior(self) -> float:
        return float(self.settings["probability_two_random_records_match"])

    def parameters(self) -> pd.DataFrame:
        """One row per comparison level: field, level, m and u probabilities, match weight (log2 m/u)."""
        rows = []
        for c in self.settings["comparisons"]:
            for lv in c["comparison_levels"]:
                if lv.get("is_null_level"):
                    rows.append((c["output_column_name"], lv["label_for_charts"], None, None, 0.0))
                    continue
                m, u = lv.get("m_probability"), lv.get("u_probability")
                w = math.log2(m / u) if m and u else None
                rows.append((c["output_column_name"], lv["label_for_charts"], m, u, w))
        return pd.DataFrame(rows, columns=["field", "level", "m_probability", "u_probability", "match_weight"])


def load_prior() -> Matcher:
    from ._match_prior import MODEL

    return Matcher.from_json(MODEL)


def _shape(settings: dict) -> list:
    return [(c["output_column_name"], [lv["label_for_charts"] for lv in c["comparison_levels"]])
            for c in settings["comparisons"]]


def stored(con) -> Matcher | None:
    """The model stored in the workspace; None when there is none or it was made for other comparisons
    (an older contactsync: it is retrained)."""
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [MODEL_KEY]).fetchall()
    if not rows:
        return None
    try:
        m = Matcher.from_json(rows[0][0])
        same = _shape(m.settings) == _shape(model_settings())
    except (ValueError, KeyError, TypeError) as exc:
        raise ContactSyncError(f"the stored matching model (meta key {MODEL_KEY!r}) cannot be read ({exc}); "
                               "train it again: ws.train_matcher()") from exc
    return m if same else None


def store(con, matcher: Matcher) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [MODEL_KEY, matcher.to_json()])


# ================================================================================ Splink session
def _splink():
    from .extras import Extra, require

    require(Extra.MATCH, "splink", what="suggested couplings (a Fellegi–Sunter model)")
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    return DuckDBAPI, Linker


def session(nav: pd.DataFrame | object, crm: pd.DataFrame | object) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB holding tables ``nav`` and ``crm`` (Arrow tables or DataFrames)."""
    sc = _quiet(duckdb.connect(":memory:")).raw  # no progress bar on stdout (--json), as the workspace's
    sc.sql("SET threads TO 2")
    for name, tbl in (("nav", nav), ("crm", crm)):
        sc.register(f"{name}_in", tbl)
        sc.sql(f"CREATE TABLE {name} AS SELECT * FROM {name}_in")
        sc.unregister(f"{name}_in")
    return sc


def _linker(sc, settings: dict):
    DuckDBAPI, Linker = _splink()
    db = DuckDBAPI(connection=sc)
    left = db.register("nav", table_name="nav_t")
    right = db.register("crm", table_name="crm_t")
    # the settings are the package's own (tests run them): Splink's column check re-parses every level's SQL
    # with sqlglot, about 0.5 s a linker, only to log warnings
    return Linker([left, right], settings, log_level=None, validate_settings=False)


def _count(sc, rule: str) -> int:
    cond = rule.replace("l.", "a.").replace("r.", "b.")
    return int(sc.execute(f"SELECT count(*) FROM nav a JOIN crm b ON {cond}").fetchall()[0][0])


def train(sc, *, start: dict | None = None) -> Matcher:
    """Train the model on the tables of session ``sc``: prior from near-certain rules, u from random
    pairs, m by expectation–maximisation. ``start``: settings to start EM from (default: untrained)."""
    import time

    t = time.perf_counter()
    settings = json.loads(json.dumps(start)) if start else model_settings()
    linker = _linker(sc, settings)
    n_nav = int(sc.execute("SELECT count(*) FROM nav").fetchall()[0][0])
    n_crm = int(sc.execute("SELECT count(*) FROM crm").fetchall()[0][0])
    rules = [r for r in PRIOR_RULES if _count(sc, r) > 0]
    if rules:
        linker.training.estimate_probability_two_random_records_match(list(rules), recall=PRIOR_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=SEED, num_chunks=1,
                                                     min_count_per_level=None)
    if _count(sc, EM_NAMES) >= 50:
        linker.training.estimate_parameters_using_expectation_maximisation(EM_NAMES)
    for rule in EM_OTHERS:
        if 50 <= _count(sc, rule) < 2e6:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            break
    out = _bounded(linker.misc.save_model_to_json(), start)
    return Matcher(out, Source.WORKSPACE, now_utc().isoformat(timespec="seconds"), n_nav, n_crm,
                   round(time.perf_counter() - t, 2))


def _bounded(settings: dict, start: dict | None) -> dict:
    """Every level with an m and a u whose weight lies in [MIN_WEIGHT, MAX_WEIGHT]: a level EM never saw
    keeps the starting model's m (or weighs 0: no evidence learned), extreme estimates are clipped."""
    old = {}
    for c in (start or {}).get("comparisons", []):
        for lv in c["comparison_levels"]:
            old[(c["output_column_name"], lv["label_for_charts"])] = lv
    for c in settings["comparisons"]:
        for lv in c["comparison_levels"]:
            if lv.get("is_null_level") or lv.get("sql_condition") is None:
                continue
            u = lv.get("u_probability")
            if not isinstance(u, float) or u <= 0:
                u = 1e-6
                lv["u_probability"] = u
            m = lv.get("m_probability")
            if not isinstance(m, float) or m <= 0:
                prev = old.get((c["output_column_name"], lv["label_for_charts"]), {})
                pm, pu = prev.get("m_probability"), prev.get("u_probability")
                m = u * (pm / pu) if isinstance(pm, float) and isinstance(pu, float) and pm > 0 and pu > 0 else u
            w = min(MAX_WEIGHT, max(MIN_WEIGHT, math.log2(m / u)))
            if m < MIN_M and lv.get("sql_condition") != "ELSE":
                w = 0.0  # (almost) no match was seen at this level: no evidence learned, never evidence against
            lv["m_probability"] = min(1.0, u * 2 ** w)
    return settings


def predict(sc, matcher: Matcher, *, min_weight: float = -8.0) -> str:
    """Score the blocked pairs; returns the name of the table in ``sc`` with Splink's predictions."""
    settings = json.loads(json.dumps(matcher.settings))
    # the blocking is the code's, not frozen into a stored model
    settings["blocking_rules_to_generate_predictions"] = model_settings()["blocking_rules_to_generate_predictions"]
    linker = _linker(sc, settings)
    pred = linker.inference.predict(threshold_match_weight=min_weight, warning_mode="never") \
        if _accepts_warning_mode(linker) else linker.inference.predict(threshold_match_weight=min_weight)
    return pred.physical_name


def _accepts_warning_mode(linker) -> bool:
    import inspect

    return "warning_mode" in inspect.signature(linker.inference.predict).parameters


def decide(sc, pred: str, threshold: float, margin: float = MARGIN) -> None:
    """Table ``_dec`` in ``sc``: per scored pair the NAV/CRM keys, score, weight, per-field weights, rank,
    the flags and two decisions:

    * ``suggested`` (the default decision: the pairs put forward as the same person): score >=
      ``threshold``, the best candidate of both records (one-to-one), no ``conflict`` (two different
      e-mail addresses, not one person's private and work address) and not a ``lookalike`` with a second
      contrary identifier (another mobile);
    * ``match`` (auto-acceptable, can be coupled as it is): ``suggested``, the best for both records by
      ``margin`` bits, and not a ``lookalike``.

    A ``lookalike`` (relative, colleague) shares a surname, street or switchboard and has *another* first
    name — two known first names that differ by more than a typo, an initial or a short form, or a gender
    variant such as Daniel/Daniela — and no personal identifier that agrees (e-mail, its name part at a
    consumer domain, mobile; swapped names excepted). Without e-mail or mobile such a pair cannot be told
    from a duplicate whose first name was replaced: it is suggested for review, never auto-accepted."""
    cols = set(r[0] for r in sc.execute(f"DESCRIBE {pred}").fetchall())

    def w(f: str) -> str:  # the field's match weight, its term-frequency adjustment included
        tf = f" + coalesce(mw_tf_adj_{f}, 0)" if f"mw_tf_adj_{f}" in cols else ""
        tf += f" + coalesce(log2(bf_tf_adj_{f}), 0)" if f"bf_tf_adj_{f}" in cols and not tf else ""
        return f"(mw_{f}{tf})"
    known = sorted(known_first_names())
    sc.execute("CREATE OR REPLACE TEMP TABLE _known AS SELECT unnest(?::VARCHAR[]) AS name", [known]).fetchall()
    sc.execute("""CREATE OR REPLACE TEMP TABLE _freq AS
                  SELECT f AS name FROM (SELECT f FROM nav UNION ALL SELECT f FROM crm) WHERE f IS NOT NULL
                  GROUP BY f HAVING count(*) >= 3""").fetchall()
    sc.execute("CREATE OR REPLACE TEMP TABLE _names AS SELECT name FROM _known UNION SELECT name FROM _freq").fetchall()
    wcols = ", ".join(f"{w(f)} AS w_{f}" for f in FIELD_NAMES)
    gcols = ", ".join(f"gamma_{f}" for f in FIELD_NAMES)
    variant = " OR ".join(f"f_l || '{s}' = f_r OR f_r || '{s}' = f_l"
                          for s in ("a", "e", "ne", "na", "ina", "ine", "ette", "o"))
    sc.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dec AS
        WITH p AS (
            SELECT CASE WHEN source_dataset_l = 'nav_t' THEN id_l ELSE id_r END AS nav_no,
                   CASE WHEN source_dataset_l = 'nav_t' THEN id_r ELSE id_l END AS crm_id,
                   match_weight AS weight, match_probability AS score, {wcols}, {gcols}, f_l, f_r, l_l, l_r,
                   -- the same person written in other order, or a personal identifier that agrees
                   coalesce({JW}(f_l, l_r) >= 0.9 AND {JW}(l_l, f_r) >= 0.9, FALSE)
                     OR coalesce(e_l = e_r, FALSE) OR coalesce({PRIVATE_WORK}, FALSE)
                     OR coalesce(mo_l = mo_r, FALSE) AS own,
                   -- a shared family or workplace: surname, street, switchboard
                   coalesce(l_l = l_r, FALSE) OR coalesce(street_l = street_r, FALSE)
                     OR coalesce(ph_l = ph_r, FALSE) AS shared,
                   -- two different mailboxes (not one person's private and work address): the steward decides
                   coalesce(e_l <> e_r AND NOT ({PRIVATE_WORK}), FALSE) AS conflict,
                   -- two different mobiles (neither the other's phone)
                   coalesce(mo_l <> mo_r AND coalesce(mo_l <> ph_r, TRUE) AND coalesce(ph_l <> mo_r, TRUE), FALSE)
                     AS other_mobile,
                   -- another first name, not a typo, transliteration, initial or short form of it: two known
                   -- first names that differ by more than a typo, or a gender variant (Daniel/Daniela)
                   coalesce(f_l <> f_r AND fx_l <> fx_r AND f_l IN (SELECT name FROM _names)
                            AND f_r IN (SELECT name FROM _names)
                            AND (({variant}) OR {DL}(f_l, f_r) > 1 AND NOT starts_with(f_l, f_r)
                                 AND NOT starts_with(f_r, f_l)), FALSE) AS other_first,
                   -- another surname (not a typo of it): shown, left to the score
                   coalesce({DL}(l_l, l_r) > 2 AND {JW}(l_l, l_r) < 0.9, FALSE) AS other_last
            FROM {pred}),
        q AS (
            SELECT p.*, shared AND NOT own AND other_first AS lookalike FROM p),
        r AS (
            SELECT *,
              row_number() OVER (PARTITION BY nav_no ORDER BY weight DESC, crm_id) AS rank,
              row_number() OVER (PARTITION BY crm_id ORDER BY weight DESC, nav_no) AS crm_rank,
              weight - coalesce(max(weight) OVER (PARTITION BY nav_no ORDER BY weight DESC, crm_id
                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), -1e9) AS nav_lead,
              weight - coalesce(max(weight) OVER (PARTITION BY crm_id ORDER BY weight DESC, nav_no
                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), -1e9) AS crm_lead
            FROM q)
        , s AS (
            SELECT *, least(nav_lead, crm_lead) AS margin,
                   coalesce(score >= ? AND rank = 1 AND crm_rank = 1 AND NOT conflict
                            AND NOT (lookalike AND other_mobile), FALSE) AS suggested
            FROM r)
        SELECT *, suggested AND margin >= ? AND NOT lookalike AS match
        FROM s""", [threshold, margin]).fetchall()


def labels(matcher: Matcher) -> dict[str, dict[int, str]]:
    """comparison -> gamma value -> level label (Splink numbers the levels from the last, 0 = else)."""
    out = {}
    for c in matcher.settings["comparisons"]:
        lv = [x for x in c["comparison_levels"]]
        non_null = [x for x in lv if not x.get("is_null_level")]
        m = {-1: "missing"}
        for i, x in enumerate(non_null):
            m[len(non_null) - 1 - i] = x["label_for_charts"]
        out[c["output_column_name"]] = m
    return out


# DuckDB function names in the comparison SQL -> their names elsewhere (Splink's UDFs on Spark)
DIALECT_FUNCTIONS = {"spark": {f"{JW}(": "jaro_winkler(", "starts_with(": "startswith("}}


def for_dialect(settings: dict, dialect: str) -> dict:
    """The settings (a trained model's too) with the SQL written for ``dialect`` (``"spark"``): the same
    levels and parameters, Splink's function names there. Blocking rules become the code's."""
    names = DIALECT_FUNCTIONS[dialect]
    s = json.loads(json.dumps(settings))

    def tr(sql: str) -> str:
        for a, b in names.items():
            sql = sql.replace(a, b)
        return sql
    for c in s["comparisons"]:
        for lv in c["comparison_levels"]:
            lv["sql_condition"] = tr(lv["sql_condition"])
    s["blocking_rules_to_generate_predictions"] = [{"blocking_rule": tr(r), "sql_dialect": dialect}
                                                   for r in BLOCKING_RULES]
    s["sql_dialect"] = dialect
    return s


def without_tf(settings: dict) -> dict:
    """The settings with the term-frequency adjustments off (a handful of records has no frequencies)."""
    s = json.loads(json.dumps(settings))
    for c in s["comparisons"]:
        for lv in c["comparison_levels"]:
            lv.pop("tf_adjustment_column", None)
            lv.pop("tf_adjustment_weight", None)
    return s


def _sql_text(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _label_sql(comparison: str, lab: dict[int, str]) -> str:
    """The level label of Splink's ``gamma_<comparison>`` (a comparison name of FIELDS, not a user's column)."""
    whens = " ".join(f"WHEN {g} THEN {_sql_text(t)}" for g, t in sorted(lab.items()))
    return f"CASE gamma_{comparison} {whens} END"


def frame(sc, matcher: Matcher, *, min_score: float, top: int, nos: list[str] | None = None,
          crm_ids: list[str] | None = None) -> pd.DataFrame:
    """The suggestions as ``suggest_couplings`` returns them, from table ``_dec`` of ``sc``."""
    lab = labels(matcher)
    title = {f: t for f, t, _c in FIELDS}
    parts = [f"CASE WHEN gamma_{f} >= 0 THEN '{title[f]}: ' || {_label_sql(f, lab[f])} || ' (' "
             f"|| printf('%+.1f', w_{f}) || ')' END" for f in FIELD_NAMES]
    reasons = "concat_ws('; ', " + ", ".join(parts) + ")"
    lvl = {f: _label_sql(f, lab[f]) for f in FIELD_NAMES}
    where, params = ["d.score >= ?"], [min_score]
    if nos is not None:
        where.append("d.nav_no IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(nos))
    if crm_ids is not None:
        where.append("d.crm_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(crm_ids))
    params.append(top)
    wcols = ", ".join(f"round(w_{f}, 3) AS w_{f}" for f in FIELD_NAMES)
    df = sc.execute(
        f"""SELECT d.nav_no, d.crm_id, round(d.score, 6) AS score, d.match, d.rank, {reasons} AS reasons,
                   a.name AS nav_name, b.name AS crm_name,
                   {lvl['first']} || ' / ' || {lvl['last']} AS name_level, {lvl['email']} AS email_level,
                   {lvl['mobile']} || ' / ' || {lvl['phone']} AS phone_level, {lvl['company']} AS company_level,
                   {lvl['address']} AS address_level,
                   {lvl['job']} AS job_level, round(d.weight, 3) AS weight, {wcols},
                   round(greatest(d.margin, -1e3), 3) AS margin, d.lookalike, d.conflict, d.suggested
            FROM _dec d JOIN nav a ON a.id = d.nav_no JOIN crm b ON b.id = d.crm_id
            WHERE {" AND ".join(where)} AND d.rank <= ?
            ORDER BY d.score DESC, d.nav_no, d.crm_id""", params).df()
    df["match"] = df["match"].astype(bool)
    df["suggested"] = df["suggested"].astype(bool)
    df["lookalike"] = df["lookalike"].fillna(False).astype(bool)
    df["conflict"] = df["conflict"].fillna(False).astype(bool)
    return df
