"""Imports are lossless and fail clearly (issue 12 items 4, 8, 10, 13, 16, 18; issue 18 item 4).

Per class: the issue's example as a regression test, and a hypothesis property over generated inputs:
time zones (one base, UTC), JSON numbers in text columns, snapshot imports that skip rows, two columns
onto one field, empty sources and blank header cells, CR/LF inside CSV values, and the source registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ACC_A, ACC_B, CRM_1, CRM_2, all_state, assert_same_state, couple_two, fill_small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contactsync as cs
from contactsync import sources
from contactsync.cli import main

SCALE = float(os.environ.get("CONTACTSYNC_PROPERTY_SCALE", "1"))
PROP = settings(max_examples=int(15 * SCALE), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ZONES = ["UTC", "America/New_York", "Asia/Tokyo", "Europe/Berlin", "Pacific/Chatham", "America/St_Johns",
         "Asia/Kathmandu", "Pacific/Kiritimati"]


def small() -> cs.Workspace:
    return fill_small(cs.Workspace.open(":memory:"))


_SHARED: dict[str, cs.Workspace] = {}
_NEXT = iter(range(1000, 10**9))


def shared(name: str, build=small) -> cs.Workspace:
    """One workspace per property, built once (a small workspace takes seconds on the CI machine); each
    example works on records of its own (``fresh``)."""
    if name not in _SHARED:
        _SHARED[name] = build()
    return _SHARED[name]


def fresh(n: int) -> list[str]:
    """``n`` CRM ids no example used before."""
    return [cid(next(_NEXT)) for _ in range(n)]


def set_session_zone(ws, zone: str) -> None:
    """The DuckDB session's time zone (what a machine in ``zone`` gets by default)."""
    with ws.connection() as con:
        con.execute(f"SET TimeZone = '{zone}'")


def crm_modified(ws, ids) -> dict:
    df = ws.sql("SELECT contactid, modifiedon FROM crm_contact WHERE list_contains(?, contactid)", [list(ids)])
    return {k: (None if pd.isna(v) else pd.Timestamp(v).to_pydatetime()) for k, v in df.values.tolist()}


def cid(i: int) -> str:
    return f"eeeeeeee-0000-0000-0000-{i:012d}"


# -- 4: time zones -------------------------------------------------------------------------------
def test_text_offsets_are_converted_to_utc(tmp_path):
    """The issue's examples: +02:00 -> 06:30 UTC, -02:00 -> 10:30 UTC; Z, a named zone and naive text."""
    ws = small()
    set_session_zone(ws, "America/New_York")  # a machine elsewhere: the text alone decides
    p = tmp_path / "crm.csv"
    p.write_text("contactid,modifiedon\n"
                 f"{cid(1)},2026-01-05T08:30:00+02:00\n{cid(2)},2026-01-05 08:30-02:00\n"
                 f"{cid(3)},2026-01-05T08:30:00Z\n{cid(4)},2026-01-05 08:30:00 Europe/Berlin\n"
                 f"{cid(5)},2026-01-05 08:30:00\n{cid(6)},2026-01-05T08:30:00.5+0530\n")
    ws.import_crm(p)
    assert crm_modified(ws, [cid(i) for i in range(1, 7)]) == {
        cid(1): datetime(2026, 1, 5, 6, 30), cid(2): datetime(2026, 1, 5, 10, 30),
        cid(3): datetime(2026, 1, 5, 8, 30), cid(4): datetime(2026, 1, 5, 7, 30),
        cid(5): datetime(2026, 1, 5, 8, 30),  # naive: taken as UTC
        cid(6): datetime(2026, 1, 5, 3, 0, 0, 500000)}


def test_nav_time_with_offset_converts_with_its_date(tmp_path):
    """NAV's Last Date/Time Modified: ``08:30-02:00`` is 10:30 UTC; ``23:30-02:00`` on 4 March is 5 March
    01:30 UTC, and the stored date and time say that instant too."""
    ws = small()
    p = tmp_path / "nav.csv"
    p.write_text("No.,Type,Last Date Modified,Last Time Modified\n"
                 "CT000010,Person,2025-03-04,08:30-02:00\nCT000011,Person,2025-03-04,23:30:00-02:00\n"
                 "CT000012,Person,2025-03-04,13:14:15\n")
    ws.import_nav(p)
    got = {no: (str(ws.nav_contact(no)["SystemModifiedAt"]), str(ws.nav_contact(no)["Last Date Modified"])[:10],
                str(ws.nav_contact(no)["Last Time Modified"])) for no in ("CT000010", "CT000011", "CT000012")}
    assert got == {"CT000010": ("2025-03-04 10:30:00", "2025-03-04", "10:30:00"),
                   "CT000011": ("2025-03-05 01:30:00", "2025-03-05", "01:30:00"),
                   "CT000012": ("2025-03-04 13:14:15", "2025-03-04", "13:14:15")}


def test_an_offset_duckdb_cannot_read_is_refused_not_dropped(tmp_path):
    ws = small()
    before = all_state(ws)
    p = tmp_path / "crm.csv"
    p.write_text(f"contactid,modifiedon\n{cid(1)},2026-01-05 08:30:00 Mars/Olympus\n")
    with pytest.raises(cs.ImportFileError, match="unparseable timestamp.*Mars/Olympus"):
        ws.import_crm(p)
    assert_same_state(before, all_state(ws))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_tz_aware_frame_and_parquet_are_utc_whatever_the_session_zone(tmp_path, zone):
    berlin = pd.Timestamp("2026-01-05 08:30", tz="Europe/Berlin")  # 07:30 UTC
    df = pd.DataFrame({"contactid": [cid(1)], "modifiedon": [berlin]})
    df.to_parquet(tmp_path / "crm.parquet")
    mixed = pd.DataFrame({"contactid": [cid(2)], "modifiedon": pd.Series([berlin], dtype=object)})
    for src, key in ((df, cid(1)), (tmp_path / "crm.parquet", cid(1)), (mixed, cid(2))):
        ws = small()
        set_session_zone(ws, zone)
        ws.import_crm(src)
        assert crm_modified(ws, [key]) == {key: datetime(2026, 1, 5, 7, 30)}, (src, zone)


def test_one_file_gives_the_same_values_on_any_machine(tmp_path):
    """The process's own zone (TZ), not only DuckDB's session setting: a fresh interpreter per zone."""
    pd.DataFrame({"contactid": [cid(1), cid(2)],
                  "modifiedon": [pd.Timestamp("2026-07-05 08:30", tz="Europe/Berlin"),
                                 pd.Timestamp("2026-01-05 23:59:59.123456", tz="America/Los_Angeles")]}
                 ).to_parquet(tmp_path / "crm.parquet")
    (tmp_path / "crm.csv").write_text(f"contactid,modifiedon\n{cid(3)},2026-01-05T08:30:00+02:00\n"
                                      f"{cid(4)},2026-01-05 08:30:00\n")
    script = textwrap.dedent(f"""
        import json
        import contactsync as cs
        ws = cs.Workspace.open()
        ws.import_crm({str(tmp_path / 'crm.parquet')!r}); ws.import_crm({str(tmp_path / 'crm.csv')!r})
        print(ws.sql("SELECT current_setting('TimeZone')").iloc[0, 0])
        rows = ws.sql("SELECT CAST(modifiedon AS VARCHAR) FROM crm_contact WHERE contactid LIKE 'eeee%' ORDER BY 1")
        print(json.dumps(rows.iloc[:, 0].tolist()))
    """)
    outs = {}
    for zone in ("America/New_York", "Asia/Kolkata", "UTC"):
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "TZ": zone}, check=True)
        session_zone, values = res.stdout.strip().splitlines()
        assert session_zone.endswith(zone.split("/")[-1]) or zone == "UTC", (zone, session_zone)
        outs[zone] = values
    assert len(set(outs.values())) == 1, outs
    assert json.loads(outs["UTC"]) == sorted(["2026-07-05 06:30:00", "2026-01-06 07:59:59.123456",
                                              "2026-01-05 06:30:00", "2026-01-05 08:30:00"])


def test_coupling_import_reads_offsets_as_utc(ws):
    """BC's CRM Integration Record timestamps carry offsets; a coupling file is read on the same base."""
    ws.import_couplings(pd.DataFrame({"No.": ["CT000001"], "contactid": [CRM_1],
                                      "Last Synch. Modified On": ["2025-01-02T12:00:00+02:00"],
                                      "Last Synch. CRM Modified On": ["2025-01-02 10:00:00Z"]}))
    row = ws.sql("SELECT nav_synced_modified, crm_synced_modified FROM coupling WHERE nav_no = 'CT000001'")
    assert [str(v) for v in row.iloc[0]] == ["2025-01-02 10:00:00", "2025-01-02 10:00:00"]


instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60)


def offset_text(minutes: int, style: str) -> str:
    if minutes == 0 and style == "Z":
        return "Z"
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return {"colon": f"{sign}{h:02d}:{m:02d}", "compact": f"{sign}{h:02d}{m:02d}", "Z": f"{sign}{h:02d}:{m:02d}",
            "spaced": f" {sign}{h:02d}{m:02d}"}[style]


@PROP
@given(st.lists(st.tuples(instants, offsets, st.sampled_from(["colon", "compact", "Z", "spaced"]),
                          st.sampled_from(["T", " "])), min_size=1, max_size=8),
       st.sampled_from(ZONES))
def test_property_text_with_offset_is_stored_as_its_utc_instant(rows, zone):
    """For random instants written in random offsets and forms, the stored value is the UTC instant,
    whatever the session's zone."""
    ws = shared("offsets")
    set_session_zone(ws, zone)
    texts, want = [], {}
    for k, (utc, minutes, style, sep) in zip(fresh(len(rows)), rows):
        local = utc + timedelta(minutes=minutes)
        text = local.isoformat(sep=sep) + offset_text(minutes, style)
        texts.append(text)
        want[k] = utc
    ws.import_crm(pd.DataFrame({"contactid": list(want), "modifiedon": texts}))
    assert crm_modified(ws, want) == want, texts


@PROP
@given(st.lists(st.tuples(instants, st.sampled_from(ZONES[1:])), min_size=1, max_size=6),
       st.sampled_from(ZONES), st.booleans())
def test_property_tz_aware_values_are_stored_as_utc(tmp_path_factory, rows, session_zone, via_parquet):
    """tz-aware DataFrame / Parquet timestamps in random zones: stored as the UTC instant (naive)."""
    ws = shared("aware")
    set_session_zone(ws, session_zone)
    frames, keys = [], fresh(len(rows))
    for k, (utc, zone) in zip(keys, rows):
        aware = pd.Timestamp(utc.replace(tzinfo=timezone.utc)).tz_convert(ZoneInfo(zone))
        frames.append(pd.DataFrame({"contactid": [k], "modifiedon": pd.Series([aware])}))
    # one column per import has one zone; a frame per zone keeps the column tz-aware
    for i, df in enumerate(frames):
        src = df
        if via_parquet:
            src = tmp_path_factory.mktemp("pq") / f"c{i}.parquet"
            df.to_parquet(src)
        ws.import_crm(src)
    assert crm_modified(ws, keys) == {k: r[0] for k, r in zip(keys, rows)}


# -- 8: JSON numbers in text columns -------------------------------------------------------------
def test_json_numbers_keep_their_text(tmp_path):
    ws = small()
    p = tmp_path / "crm.json"
    p.write_text('{"value": [{"contactid": "%s", "address1_postalcode": 10115, "telephone1": 1.50},'
                 ' {"contactid": "%s", "address1_postalcode": null, "telephone1": "0049"},'
                 ' {"contactid": "%s", "address1_postalcode": 1e5, "telephone1": -0}]}' % (cid(1), cid(2), cid(3)))
    ws.import_crm(p)
    got = {k: (ws.crm_contact(k)["address1_postalcode"], ws.crm_contact(k)["telephone1"]) for k in map(cid, (1, 2, 3))}
    assert got == {cid(1): ("10115", "1.50"), cid(2): (None, "0049"), cid(3): ("1e5", "-0")}


json_literals = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.tuples(st.integers(-10**6, 10**6), st.integers(0, 10**4), st.integers(0, 3)).map(
        lambda t: f"{t[0]}.{t[1]:0{t[2] + 1}d}"),  # trailing zeros kept: 1.50
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: json.dumps(float(d))),
    st.just("null"),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).map(json.dumps),
)


@PROP
@given(st.lists(st.tuples(json_literals, json_literals), min_size=1, max_size=10))
def test_property_json_values_in_text_columns_are_stored_as_written(tmp_path_factory, rows):
    """Ints, decimals, nulls and strings mixed in two text columns: each stored value is the JSON text of
    a number as written, the string for a string, NULL for null (and for '', as Dataverse means it)."""
    p = tmp_path_factory.mktemp("json") / "crm.json"
    keys = fresh(len(rows))
    body = ", ".join(f'{{"contactid": "{k}", "address1_postalcode": {a}, "jobtitle": {b}}}'
                     for k, (a, b) in zip(keys, rows))
    p.write_text(f"[{body}]", encoding="utf-8")

    def expect(lit):
        if lit == "null":
            return None
        if lit.startswith('"'):
            return json.loads(lit) or None
        return lit

    ws = shared("json")
    ws.import_crm(p)
    df = ws.sql("SELECT contactid, address1_postalcode, jobtitle FROM crm_contact WHERE list_contains(?, contactid)",
                [keys])
    got = {k: (None if pd.isna(a) else a, None if pd.isna(b) else b) for k, a, b in df.values.tolist()}
    assert got == {k: (expect(a), expect(b)) for k, (a, b) in zip(keys, rows)}


# -- 10: a snapshot that skips rows --------------------------------------------------------------
def test_snapshot_skip_does_not_flag_rejected_rows(synced):
    """CRM_1's row is rejected (bad modifiedon): it is in the snapshot, not deleted; CRM_2 is really absent."""
    snap = pd.DataFrame({"contactid": [CRM_1, "cccccccc-0000-0000-0000-000000000003"],
                         "modifiedon": ["yesterday", "2025-01-02 10:00:00"], "lastname": ["X", "Nowak"]})
    r = synced.import_crm(snap, snapshot=True, on_error="skip")
    assert (r.rejected, r.missing) == (1, 1)
    flags = synced.sql("SELECT crm_id, crm_missing FROM coupling WHERE entity = 'contact' ORDER BY crm_id")
    assert flags.values.tolist() == [[CRM_1, False], [CRM_2, True]]
    assert synced.crm_contact(CRM_1)["lastname"] == "Müller"  # the rejected row changed nothing


@PROP
@given(st.lists(st.sampled_from(["ok", "rejected", "absent"]), min_size=2, max_size=2),
       st.sampled_from(["bad timestamp", "duplicate", "bad state"]))
def test_property_snapshot_flags_exactly_the_absent_records(fates, how):
    """Each coupled CRM contact is in the snapshot, in it but rejected, or absent: exactly the absent
    ones are flagged missing."""
    ws = shared("snapshot", lambda: couple_two(small()))
    rows = []
    for crm_id, fate in zip((CRM_1, CRM_2), fates):
        if fate == "ok":
            rows.append({"contactid": crm_id, "modifiedon": "2025-01-02 10:00:00", "statecode": "0"})
        elif fate == "rejected":
            bad = {"contactid": crm_id, "modifiedon": "2025-01-02 10:00:00", "statecode": "0"}
            if how == "bad timestamp":
                bad["modifiedon"] = "31/02/2025"
            elif how == "bad state":
                bad["statecode"] = "maybe"
            else:
                rows.append(dict(bad))
            rows.append(bad)
    rows.append({"contactid": "cccccccc-0000-0000-0000-000000000003", "modifiedon": None, "statecode": "0"})
    r = ws.import_crm(pd.DataFrame(rows), snapshot=True, on_error="skip")
    flags = dict(ws.sql("SELECT crm_id, crm_missing FROM coupling WHERE entity = 'contact'").values.tolist())
    assert flags == {CRM_1: fates[0] == "absent", CRM_2: fates[1] == "absent"}
    assert r.missing == fates.count("absent")


# -- 13: two columns onto one field ----------------------------------------------------------------
def test_lookup_form_beside_an_empty_attribute_keeps_the_account(synced):
    """The issue's file: _parentcustomerid_value (Web API) filled, parentcustomerid empty."""
    before = synced.crm_contact(CRM_1)["parentcustomerid"]
    r = synced.import_crm(pd.DataFrame({"contactid": [CRM_1, CRM_2], "_parentcustomerid_value": [ACC_A, ACC_B],
                                        "parentcustomerid": ["", None]}))
    assert r.ignored_columns == () and r.rejected == 0
    assert (before, synced.crm_contact(CRM_1)["parentcustomerid"], synced.crm_contact(CRM_2)["parentcustomerid"]) \
        == (ACC_A, ACC_A, ACC_B)


def test_two_columns_with_different_values_reject_the_row_naming_both(synced):
    before = all_state(synced)
    df = pd.DataFrame({"contactid": [CRM_1], "_parentcustomerid_value": [ACC_B], "parentcustomerid": [ACC_A]})
    with pytest.raises(cs.ImportFileError, match=r"conflicting values in columns '_parentcustomerid_value' and "
                                                 r"'parentcustomerid'.*data row\(s\) 1"):
        synced.import_crm(df)
    assert_same_state(before, all_state(synced))
    # the same value written two ways (braces, case) is one value
    same = pd.DataFrame({"contactid": [CRM_1], "_parentcustomerid_value": ["{" + ACC_A.upper() + "}"],
                         "parentcustomerid": [ACC_A]})
    assert synced.import_crm(same).rejected == 0


VALUES = [None, "", "  ", ACC_A, ACC_B, "{" + ACC_A.upper() + "}"]


@PROP
@given(st.lists(st.tuples(st.sampled_from(VALUES), st.sampled_from(VALUES)), min_size=1, max_size=8),
       st.booleans())
def test_property_two_columns_onto_one_field_resolve_per_row(rows, lookup_first):
    """Per row: the non-empty value wins over a blank; two non-empty values that differ reject the row;
    nothing else is rejected."""
    ws = shared("two columns")
    keys = fresh(len(rows))
    cols = ["_parentcustomerid_value", "parentcustomerid"] if lookup_first else ["parentcustomerid", "_parentcustomerid_value"]
    df = pd.DataFrame({"contactid": keys, cols[0]: [a for a, _ in rows], cols[1]: [b for _, b in rows]})

    def norm(v):
        return (v or "").strip().strip("{}").lower() or None

    r = ws.import_crm(df, on_error="skip")
    want_rejected = {k for k, (a, b) in zip(keys, rows) if norm(a) and norm(b) and norm(a) != norm(b)}
    assert r.rejected == len(want_rejected)
    assert set(r.rejections["reason"]) <= {"conflicting values"}
    got = dict(ws.sql("SELECT contactid, parentcustomerid FROM crm_contact WHERE list_contains(?, contactid)",
                      [keys]).values.tolist())
    want = {k: norm(a) or norm(b) for k, (a, b) in zip(keys, rows) if k not in want_rejected}
    assert {k: (None if pd.isna(v) else v) for k, v in got.items()} == want


def test_two_spellings_of_a_column_are_refused_naming_both(ws):
    """DuckDB names are case-insensitive: City and city cannot both be read, so the file is refused."""
    before = all_state(ws)
    with pytest.raises(cs.ImportFileError, match=r"\['City', 'city'\] appear more than once.*only in case"):
        ws.import_nav(pd.DataFrame({"No.": ["CT000001"], "Type": ["Person"], "City": [""], "city": ["Hamburg"]}))
    assert_same_state(before, all_state(ws))


# -- 16: empty sources and blank header cells ------------------------------------------------------
def _blank_sources(tmp_path) -> dict:
    out = {"empty DataFrame": (pd.DataFrame(), "no columns"),
           "DataFrame with a space header": (pd.DataFrame({"contactid": [cid(1)], " ": ["x"]}), "blank"),
           "DataFrame with an empty header": (pd.DataFrame({"contactid": [cid(1)], "": ["x"]}), "blank")}
    j = tmp_path / "space.json"
    j.write_text(json.dumps([{"contactid": cid(1), " ": "x"}]))
    out["JSON key that is a space"] = (j, "blank")
    e = tmp_path / "empty.json"
    e.write_text('{"value": []}')
    out["JSON without records"] = (e, "no columns")
    x = tmp_path / "space.xlsx"
    pd.DataFrame({"contactid": [cid(1)], " ": ["x"]}).to_excel(x, index=False)
    out["Excel header cell that is a space"] = (x, "blank")
    c = tmp_path / "space.csv"
    c.write_text(f"contactid, ,lastname\n{cid(1)},x,Y\n")
    out["CSV header cell that is a space"] = (c, "blank")
    return out


def test_empty_sources_and_blank_headers_raise_clearly(tmp_path, synced):
    before = all_state(synced)
    runs = len(synced.runs())
    for label, (src, words) in _blank_sources(tmp_path).items():
        with pytest.raises(cs.ImportFileError, match=words) as err:
            synced.import_crm(src)
        msg = str(err.value)
        assert ("give each column" in msg or "nothing to import" in msg), (label, msg)
        assert_same_state(before, all_state(synced))
    assert len(synced.runs()) == runs


def test_cli_exits_with_the_user_error_code_on_a_blank_header(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTACTSYNC_WORKSPACE", raising=False)
    wpath = tmp_path / "w.duckdb"
    fill_small(cs.Workspace.open(wpath)).close()
    for label, (src, words) in _blank_sources(tmp_path).items():
        if isinstance(src, pd.DataFrame):
            continue
        res = CliRunner().invoke(main, ["import", "crm", str(src), "-w", str(wpath)])
        assert res.exit_code == 2, (label, res.exit_code, res.stderr)
        assert words in res.stderr and "Traceback" not in res.stderr, (label, res.stderr)


# -- 18: CR, LF and CRLF inside values, through export_changes -----------------------------------------
def test_bare_carriage_return_round_trips(tmp_path, synced):
    synced.import_nav(pd.DataFrame({"No.": ["CT000001"], "Type": ["Person"], "First Name": ["a\rb"],
                                    "Job Title": ["x\r\ny\nz"]}))
    synced.sync("push")
    out = tmp_path / "x.csv"
    synced.export_changes("crm", out)
    r = synced.import_crm(out)
    assert (r.updated, r.rejected) == (0, 0)
    row = synced.crm_contact(CRM_1)
    assert (row["firstname"], row["jobtitle"]) == ("a\rb", "x\r\ny\nz")


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_csv_with_a_bare_cr_unquoted_or_quoted(tmp_path, ws, line_end):
    """Some writers leave a CR alone unquoted; in a file whose lines end in LF or CRLF it is data."""
    p = tmp_path / "crm.csv"
    p.write_bytes(line_end.join(["contactid,firstname,lastname", f"{cid(1)},a\rb,\"c\rd\"",
                                 f"{cid(2)},\"e\r\nf\",\"g\nh\"", ""]).encode())
    ws.import_crm(p)
    assert [(ws.crm_contact(k)["firstname"], ws.crm_contact(k)["lastname"]) for k in (cid(1), cid(2))] == \
        [("a\rb", "c\rd"), ("e\r\nf", "g\nh")]


def test_old_mac_csv_with_cr_line_ends_still_reads(tmp_path, ws):
    p = tmp_path / "crm.csv"
    p.write_bytes(f"contactid,firstname\r{cid(1)},Ann\r{cid(2)},Bo\r".encode())
    assert ws.import_crm(p).inserted == 2
    assert ws.crm_contact(cid(2))["firstname"] == "Bo"


# NUL is left out: a CSV with NUL bytes is refused as binary (tests/test_bad_input.py)
texts = st.text(st.one_of(st.sampled_from(list("\r\n\",;'\t =+-@ |")),
                          st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
                min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@PROP
@given(st.lists(texts, min_size=4, max_size=4))
def test_property_text_round_trips_through_export_and_import(tmp_path_factory, values):
    """Random text (CR, LF, CRLF, quotes, commas, semicolons, unicode) pushed to CRM, exported as CSV by
    export_changes and imported back: every value exactly as it was, nothing updated."""
    ws = shared("round trip", lambda: couple_two(small()))
    fields = {"First Name": "firstname", "Surname": "lastname", "Job Title": "jobtitle", "City": "address1_city"}
    imp = ws.import_nav(pd.DataFrame({"No.": ["CT000001"], "Type": ["Person"], "Address": [f"r{next(_NEXT)}"],
                                      **{f: [v] for f, v in zip(fields, values)}}))  # Address: a change each time
    res = ws.sync("push")
    assert res.failed == 0, res.errors
    out = tmp_path_factory.mktemp("rt") / "crm.csv"
    assert ws.export_changes("crm", out, since_run=imp.run_id).rows == 1
    r = ws.import_crm(out)
    assert (r.updated, r.rejected) == (0, 0), values
    row = ws.crm_contact(CRM_1)
    assert [row[c] for c in fields.values()] == values


# -- issue 18 item 4: the source registry ---------------------------------------------------------
def test_builtin_sources_are_registered():
    assert {".csv", ".txt", ".tsv", ".parquet", ".xlsx", ".json", "type DataFrame"} <= set(sources.readers())


def test_register_a_toy_ndjson_source(tmp_path, ws):
    calls = []

    @sources.register(suffixes=[".ndjson"])
    def read_ndjson(req):
        calls.append(req.key)
        return pd.read_json(req.path, lines=True, dtype=str)

    try:
        p = tmp_path / "crm.ndjson"
        p.write_text("\n".join(json.dumps({"contactid": cid(i), "lastname": f"L{i}"}) for i in range(3)) + "\n")
        r = ws.import_crm(p)
        assert (r.inserted, calls) == (3, ["contactid"])
        assert ws.crm_contact(cid(2))["lastname"] == "L2"
        with pytest.raises(cs.ContactSyncError, match=r"suffix '.ndjson' is served by .*replace=True"):
            sources.register(read_ndjson, suffixes=[".NDJSON"])
        sources.register(read_ndjson, suffixes=[".ndjson"], replace=True)
    finally:
        sources.unregister(".ndjson")
    with pytest.raises(cs.ImportFileError, match="unsupported file type '.ndjson'"):
        ws.import_crm(p)


def test_register_a_scheme_and_a_type(ws):
    class Rows(list):
        pass

    sources.register(lambda req: pd.DataFrame(list(req.src)), types=[Rows], name="rows")
    sources.register(lambda req: pd.DataFrame({"contactid": [req.src.split("://")[1]]}), schemes=["toy"])
    try:
        assert ws.import_crm(Rows([{"contactid": cid(7), "lastname": "Seven"}])).inserted == 1
        assert ws.import_crm(f"toy://{cid(8)}").inserted == 1
        assert ws.crm_contact(cid(7))["lastname"] == "Seven" and ws.crm_contact(cid(8))["coupled"] is False
    finally:
        sources.unregister(Rows, "toy://")
    with pytest.raises(cs.ImportFileError, match=r"no reader is registered for URL scheme 'toy://'"):
        ws.import_crm(f"toy://{cid(9)}")
    with pytest.raises(cs.ImportFileError, match="cannot import from the list passed"):
        ws.import_crm([{"contactid": cid(9)}])


def test_a_reader_returning_something_else_is_named(ws):
    sources.register(lambda req: [1, 2], schemes=["broken"], name="broken reader")
    try:
        with pytest.raises(cs.ContactSyncError, match="'broken reader' returned a list"):
            ws.import_crm("broken://x")
    finally:
        sources.unregister("broken://")


def test_entry_point_plugin_is_found_without_editing_the_package(tmp_path):
    """An installed package declares ``[project.entry-points."contactsync.sources"] ".psv" = ...``:
    simulated by a dist-info folder on sys.path, in a fresh interpreter."""
    (tmp_path / "toy_psv.py").write_text(textwrap.dedent("""
        import pandas as pd
        def read(req):
            return pd.read_csv(req.path, sep="|", dtype=str, keep_default_na=False)
    """))
    dist = tmp_path / "toy_psv-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-psv\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[contactsync.sources]\n.psv = toy_psv:read\n")
    (tmp_path / "crm.psv").write_text(f"contactid|lastname\n{cid(1)}|Pipe\n")
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import contactsync as cs
        from contactsync import sources
        ws = cs.Workspace.open()
        print(sources.readers()[".psv"], ws.import_crm({str(tmp_path / 'crm.psv')!r}).inserted,
              ws.crm_contact({cid(1)!r})["lastname"])
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert res.stdout.split() == ["toy_psv:read", "1", "Pipe"], res.stderr


def test_load_source_gives_its_own_view_and_drops_it(ws):
    """A loaded source is a view named for that load (two loads do not meet); ``drop`` leaves nothing behind."""
    with ws.transaction() as con:
        a = sources.load_source(con, pd.DataFrame({" No. ": ["CT1"], "\ufeffType": ["Person"]}), "No.")
        b = sources.load_source(con, pd.DataFrame({"No.": ["CT2"]}), "No.")
        assert a.columns == ("No.", "Type") and a.relation != b.relation
        assert con.execute(f'SELECT "No.", "Type" FROM {a.relation}').fetchall() == [("CT1", "Person")]
        assert con.execute(f'SELECT "No." FROM {b.relation}').fetchall() == [("CT2",)]
        a.drop(con)
        b.drop(con)
        left = con.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name LIKE '_cs_src%'"
                           ).fetchone()[0] + con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                                                         "AND table_name LIKE '_cs_src%'").fetchone()[0]
        assert left == 0


def test_a_folder_is_not_a_file(tmp_path, ws):
    d = tmp_path / "crm.csv"
    d.mkdir()
    with pytest.raises(cs.ImportFileError, match="is a folder"):
        ws.import_crm(d)


def test_csv_header_checks_are_the_shared_ones(tmp_path, ws):
    """The header check is one function for every source: the same words from CSV and DataFrame."""
    p = tmp_path / "dup.csv"
    p.write_text("No.,Type,City, City\nCT1,Person,A,B\n")
    with pytest.raises(cs.ImportFileError, match=r"\['City'\] appear more than once") as a:
        ws.import_nav(p)
    with pytest.raises(cs.ImportFileError, match=r"\['City'\] appear more than once") as b:
        ws.import_nav(pd.DataFrame([["CT1", "Person", "A", "B"]], columns=["No.", "Type", "City", " City"]))
    assert str(a.value).split(":", 1)[1] == str(b.value).split(":", 1)[1]
    assert Path(p).exists()


header_names = st.one_of(
    st.sampled_from(["contactid", "lastname", "firstname", "LastName", " ", "", "\ufeff", "\t", " lastname ",
                     "jobtitle", "x y", "Ünïcode", 'a"b', "a,b", "a;b"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
)


@PROP
@given(st.lists(header_names, min_size=0, max_size=5), st.sampled_from(["frame", "json", "csv"]))
def test_property_any_header_imports_or_is_refused_clearly(tmp_path_factory, names, kind):
    """Whatever the header (blank cells, BOMs, spaces, names repeated or differing only in case, none at
    all), an import either succeeds or raises an ImportFileError, and a refused one changes nothing."""
    import csv as csvmod

    names = ["contactid", *names]
    clean = [n.replace("\ufeff", "").strip() for n in names]
    folded = [c.casefold() for c in clean]
    refused = any(not c for c in clean) or len(set(folded)) != len(folded)
    ws = shared("headers")
    key = fresh(1)[0]
    row = [key, *[f"v{i}" for i in range(len(names) - 1)]]
    if kind == "frame":
        src = pd.DataFrame([row], columns=names)
    elif kind == "json":
        if len(set(names)) != len(names):  # a JSON object holds a name once
            return
        src = tmp_path_factory.mktemp("h") / "crm.json"
        src.write_text(json.dumps([dict(zip(names, row))]), encoding="utf-8")
    else:
        src = tmp_path_factory.mktemp("h") / "crm.csv"
        with open(src, "w", newline="", encoding="utf-8") as fh:
            csvmod.writer(fh).writerows([names, row])
    before = all_state(ws)
    if refused:
        with pytest.raises(cs.ImportFileError, match="blank|more than once"):
            ws.import_crm(src)
        assert_same_state(before, all_state(ws))
    else:
        r = ws.import_crm(src)
        assert r.inserted == 1 and r.rejected == 0
        got = ws.crm_contact(key)
        for n, v in zip(clean[1:], row[1:]):
            col = {c.lower(): c for c in got}.get(n.lower())
            if col is not None and col not in ("statecode", "modifiedon", "parentcustomerid", "contactid"):
                assert got[col] == v, (n, got[col])
