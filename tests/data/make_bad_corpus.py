"""Write the hostile/broken import corpus ``tests/data/bad/`` (issue 7.3).

Deterministic: running it again rewrites the same bytes (the .xlsx is normalised too), so the
committed files and this script stay in step. ``tests/test_bad_input.py`` holds what each file
must do: import exactly, or raise a ContactSyncError naming the problem.

    python tests/data/make_bad_corpus.py            # (re)write tests/data/bad/
"""

from __future__ import annotations

import codecs
import io
import json
import random
import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "bad"

NAV_HEADER = ["No.", "Type", "Company No.", "First Name", "Surname", "Job Title", "City", "Post Code",
              "SystemModifiedAt"]


def nav_rows(*rows):
    return [NAV_HEADER, *rows]


def csv_text(rows, delim=",", eol="\n") -> str:
    def cell(v: str) -> str:
        if any(ch in v for ch in (delim, '"', "\n", "\r")):
            return '"' + v.replace('"', '""') + '"'
        return v

    return "".join(delim.join(cell(v) for v in r) + eol for r in rows)


PERSON = ["BAD001", "Person", "C00001", "Thomas", "Müller", "Einkauf €", "München", "80331",
          "2025-03-01 10:00:00"]
PERSON_LATIN1 = ["BAD002", "Person", "C00001", "Søren", "Groß", "Prokurist", "Köln", "50667",
                 "2025-03-01 10:00:00"]


def files() -> dict[str, bytes]:
    f: dict[str, bytes] = {}
    # -- encodings ---------------------------------------------------------------------------
    f["nav_cp1252_semicolon.csv"] = csv_text(nav_rows(PERSON), ";", "\r\n").encode("cp1252")
    f["nav_latin1.csv"] = csv_text(nav_rows(PERSON_LATIN1)).encode("latin-1")
    f["nav_utf8.csv"] = csv_text(nav_rows(
        ["BAD003", "Person", "C00001", "Žofie", "Dvořáková", "Účetní", "Praha", "110 00",
         "2025-03-01 10:00:00"])).encode("utf-8")
    f["nav_utf8_bom.csv"] = codecs.BOM_UTF8 + csv_text(nav_rows(PERSON)).encode("utf-8")
    f["nav_utf16_bom_tab.csv"] = csv_text(nav_rows(PERSON), "\t", "\r\n").encode("utf-16")  # BOM + LE
    f["nav_utf16_no_bom.csv"] = csv_text(nav_rows(PERSON)).encode("utf-16-le")
    # -- delimiters, quoting -----------------------------------------------------------------
    f["nav_tab.tsv"] = csv_text(nav_rows(PERSON), "\t").encode("utf-8")
    f["nav_quoted_crlf.csv"] = csv_text(nav_rows(
        ["BAD004", "Person", "C00002", "Seán", "O'Brien", 'Director, "Sales"', "Dublin\r\nCity", "D02 X285",
         "2025-03-01 10:00:00"]), ",", "\r\n").encode("utf-8")
    f["nav_leading_zeros_plus.csv"] = csv_text(nav_rows(
        ["BAD005", "Person", "C00001", "=HYPERLINK(\"http://x\")", "+Plus", "@Work", "-Minus", "01067",
         "2025-03-01 10:00:00"])).encode("utf-8")
    # -- NUL bytes, empty, header only, ragged -----------------------------------------------
    f["nav_nul_bytes.csv"] = csv_text(nav_rows(PERSON)).encode("utf-8").replace(b"Thomas", b"Tho\x00mas")
    f["nav_empty.csv"] = b""
    f["nav_blank_lines.csv"] = b"\n\n  \r\n"
    f["nav_header_only.csv"] = csv_text([NAV_HEADER]).encode("utf-8")
    f["nav_ragged.csv"] = (csv_text(nav_rows(PERSON)) + "BAD009,Person,C00001,A,B,C,D,E,F,G,H,I\n").encode()
    # -- keys, columns, values ---------------------------------------------------------------
    f["nav_duplicate_keys.csv"] = csv_text(nav_rows(PERSON, PERSON)).encode("utf-8")
    f["nav_duplicate_keys_case.csv"] = csv_text(nav_rows(PERSON, ["bad001 ", *PERSON[1:]])).encode("utf-8")
    f["nav_empty_key.csv"] = csv_text(nav_rows(PERSON, ["  ", *PERSON[1:]])).encode("utf-8")
    f["nav_missing_type_column.csv"] = csv_text([[h for h in NAV_HEADER if h != "Type"],
                                                 [v for h, v in zip(NAV_HEADER, PERSON) if h != "Type"]]).encode()
    f["nav_duplicate_header.csv"] = csv_text([[*NAV_HEADER, "Surname"], [*PERSON, "Other"]]).encode()
    f["nav_bad_type.csv"] = csv_text(nav_rows(["BAD006", "Robot", *PERSON[2:]])).encode()
    f["nav_bad_timestamp.csv"] = csv_text(nav_rows([*PERSON[:-1], "31/02/2025 25:61"])).encode()
    f["nav_bad_date.csv"] = (
        "No.,Type,Surname,Last Date Modified,Last Time Modified\nBAD007,Person,X,2025-02-30,10:00:00\n").encode()
    f["crm_missing_key_column.csv"] = "firstname,lastname\nAnna,Smith\n".encode()
    f["crm_bad_modifiedon.csv"] = (
        "contactid,firstname,modifiedon\n11111111-2222-3333-4444-555555555555,Anna,yesterday\n").encode()
    f["crm_bad_statecode.csv"] = (
        "contactid,firstname,statecode\n11111111-2222-3333-4444-555555555555,Anna,maybe\n").encode()
    rng = random.Random(5)
    big = "".join(rng.choices("abcdefghijklmnopqrstuvwxyzäöüß €\"',;", k=5 * 1024 * 1024))
    f["nav_5mb_field.csv"] = csv_text(nav_rows(["BAD008", "Person", "C00001", "Big", "Field", big, "", "",
                                                "2025-03-01 10:00:00"])).encode("utf-8")
    f["nav_huge_header.csv"] = ("No.,Type," + "H" * 200_000 + "\nBAD012,Person,1\n").encode()
    # -- not what the name says ----------------------------------------------------------------
    f["nav_binary.csv"] = random.Random(1).randbytes(4096)
    f["nav_png_named.csv"] = b"\x89PNG\r\n\x1a\n" + random.Random(2).randbytes(512).replace(b"\x00", b"\x01")
    f["nav_text_named.xlsx"] = "No.,Type\nX,Person\n".encode()
    f["nav_other_sheet.xlsx"] = _xlsx()
    f["crm_wrong_shape.json"] = json.dumps({"contacts": [{"contactid": "x"}]}).encode()
    f["crm_scalar_list.json"] = json.dumps(["a", "b"]).encode()
    f["crm_nested.json"] = json.dumps([{"contactid": "11111111-2222-3333-4444-555555555555",
                                        "firstname": {"value": "Anna"}}]).encode()
    f["crm_truncated.json"] = b'[{"contactid": "11111111-2222-3333-4444-5555'
    f["crm_dataverse.json"] = json.dumps({"@odata.context": "x", "value": [
        {"contactid": "{22222222-3333-4444-5555-666666666666}", "firstname": "Zoë", "lastname": "D'Souza",
         "_parentcustomerid_value": "AAAAAAAA-0000-0000-0000-000000000001", "modifiedon": "2025-03-01T10:00:00Z",
         "statecode": 0}]}, ensure_ascii=False).encode("utf-8")
    f["crm_unsupported.docx"] = b"PK\x03\x04 not really a document"
    # -- issue 12: lossless imports (items 4, 8, 13, 16, 18) ------------------------------------
    f["crm_offsets.csv"] = (  # +02:00 is 06:30 UTC, -02:00 is 10:30 UTC, Z is UTC
        "contactid,lastname,modifiedon\n33333333-0000-0000-0000-000000000001,Plus,2026-01-05T08:30:00+02:00\n"
        "33333333-0000-0000-0000-000000000002,Minus,2026-01-05 08:30-02:00\n"
        "33333333-0000-0000-0000-000000000003,Zulu,2026-01-05T08:30:00Z\n").encode()
    f["nav_time_offset.csv"] = (  # a time with an offset converts with its date
        "No.,Type,Surname,Last Date Modified,Last Time Modified\nBAD013,Person,Late,2025-03-04,23:30-02:00\n").encode()
    f["crm_json_numbers.json"] = (  # numbers in text columns, beside nulls: the text as written
        '{"value": [{"contactid": "33333333-0000-0000-0000-000000000004", "address1_postalcode": 10115, '
        '"telephone1": 1.50}, {"contactid": "33333333-0000-0000-0000-000000000005", "address1_postalcode": null, '
        '"telephone1": null}]}').encode()
    f["crm_lookup_and_attribute.json"] = json.dumps({"value": [  # the Web API's lookup form beside an empty one
        {"contactid": "33333333-0000-0000-0000-000000000006", "_parentcustomerid_value": "AAAAAAAA-0000-0000-0000-"
         "000000000001", "parentcustomerid": None, "lastname": "Lookup"}]}).encode()
    f["crm_lookup_conflict.json"] = json.dumps({"value": [
        {"contactid": "33333333-0000-0000-0000-000000000007", "_parentcustomerid_value": "aaaaaaaa-0000-0000-0000-"
         "000000000001", "parentcustomerid": "aaaaaaaa-0000-0000-0000-000000000002"}]}).encode()
    f["crm_blank_header.json"] = json.dumps([{"contactid": "33333333-0000-0000-0000-000000000008", " ": "x"}]).encode()
    f["crm_no_records.json"] = b'{"@odata.context": "x", "value": []}'
    f["nav_blank_header.csv"] = csv_text([["No.", "Type", " ", "Surname"], ["BAD014", "Person", "x", "Blank"]]).encode()
    f["nav_case_duplicate_header.csv"] = csv_text([["No.", "Type", "City", "city"],
                                                   ["BAD015", "Person", "Köln", "Bonn"]]).encode()
    f["nav_bare_cr.csv"] = (  # a CR alone inside a value, unquoted (as some writers leave it) and quoted
        "No.,Type,First Name,Surname\nBAD016,Person,a\rb,\"c\rd\"\n").encode()
    # -- SQL injection through names -----------------------------------------------------------
    f["nav_injection_header.csv"] = csv_text([
        ["No.", "Type", 'x"; DROP TABLE nav_contact; --', "Surname"],
        ["BAD010", "Person", "1", "Robert'); DROP TABLE crm_contact;--"]]).encode()
    f["mapping_injection_field.toml"] = _mapping_toml(
        nav_field='First Name"; DROP TABLE nav_contact; --', crm_field="firstname")
    f["mapping_injection_table.toml"] = _mapping_toml(
        nav_table='nav_contact" (x); DROP TABLE crm_contact; --')
    f["mapping_injection_filter.toml"] = _mapping_toml(
        filter_column="Type\" = 'Person' OR 1=1; DELETE FROM nav_contact; --")
    f["mapping_not_toml.toml"] = b"[nav\ntable = = 'x'"
    return f


def _mapping_toml(nav_field="First Name", crm_field="firstname", nav_table="nav_contact",
                  filter_column="Type") -> bytes:
    def s(v: str) -> str:
        return json.dumps(v)  # a TOML basic string is a JSON string

    return (
        f'name = "contact"\n\n[nav]\ntable = {s(nav_table)}\nkey = "No."\nmodified = "SystemModifiedAt"\n'
        f'filter = [{{ column = {s(filter_column)}, op = "=", value = "Person" }}]\n\n'
        f'[crm]\ntable = "crm_contact"\nkey = "contactid"\nmodified = "modifiedon"\n\n'
        f'[[fields]]\nnav = {s(nav_field)}\ncrm = {s(crm_field)}\n\n'
        f'[[fields]]\nnav = "Surname"\ncrm = "lastname"\n'
    ).encode("utf-8")


def _xlsx() -> bytes:
    """A workbook whose first sheet is a note and whose second holds the data; fixed zip timestamps."""
    import openpyxl

    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "Read me"
    notes["A1"] = "Contacts export - data on the next sheet"
    data = wb.create_sheet("Contacts")
    for row in nav_rows(PERSON, ["BAD011", "Person", "C00002", "Siobhán", "Ní Bhriain", "CFO", "Galway",
                                 "H91", "2025-03-01 10:00:00"]):
        data.append(row)
    wb.properties.created = wb.properties.modified = __import__("datetime").datetime(2025, 1, 1)
    raw = io.BytesIO()
    wb.save(raw)
    # rewrite with fixed member timestamps so the bytes are reproducible
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            zi = zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2025-01-01T00:00:00Z", body)
            z.writestr(zi, body)
    return out.getvalue()


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files().items()):
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    paths = main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {len(paths)} files to {paths[0].parent}")
