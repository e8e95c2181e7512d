"""Reading import sources (CSV, Parquet, Excel, JSON, DataFrame) into a DuckDB temp view.

Every source becomes the temp view ``_src`` with all values as VARCHAR (exact: leading zeros,
accents and long text survive), and column names stripped of BOMs and surrounding spaces.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from .errors import ImportFileError

SUPPORTED = (".csv", ".txt", ".tsv", ".parquet", ".xlsx", ".json")
_DELIMS = (",", ";", "\t", "|")


def describe(src) -> str:
    return "DataFrame" if isinstance(src, pd.DataFrame) else repr(str(src))


def _detect_encoding(raw: bytes, name: str) -> str:
    if b"\x00" in raw[:65536] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            f"{name} is not a text CSV file (it contains NUL bytes: a binary file or UTF-16 without BOM?). "
            "Export it as CSV (UTF-8) and import again.",
            source=name,
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> duckdb.DuckDBPyRelation:
    raw = path.read_bytes()
    if not raw.strip():
        raise ImportFileError(f"{name} is empty: it has no header row. Export the data with a header row.",
                              source=name)
    encoding = _detect_encoding(raw, name)
    text_path = path
    if encoding != "utf-8":
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{name} cannot be decoded as {encoding}: {exc}", source=name) from exc
        if "\x00" in text:
            raise ImportFileError(f"{name} contains NUL characters; remove them and import again.", source=name)
        fd, tmp = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        text_path = Path(tmp)
        first = text.lstrip("\ufeff").split("\n", 1)[0]
    else:
        first = raw[:65536].decode("utf-8", errors="ignore").lstrip("\ufeff").split("\n", 1)[0]
    delim = _sniff_delimiter(first)
    # the header as written: DuckDB's sniffer would rename a repeated column (Surname_1) and may take a
    # ragged data row for the header, so the columns are fixed here and every row must match them
    head_text = text if encoding != "utf-8" else raw[: 1 << 20].decode("utf-8", errors="ignore")
    try:
        header = next(csv.reader(io.StringIO(head_text.lstrip("\ufeff")), delimiter=delim, quotechar='"'), [])
    except csv.Error as exc:
        if text_path != path:
            os.unlink(text_path)
        raise ImportFileError(f"{name}: the header row cannot be read ({exc}); is it a CSV export?",
                              source=name) from exc
    header = [h.replace("\ufeff", "").strip() or f"column{i}" for i, h in enumerate(header)]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        if text_path != path:
            os.unlink(text_path)
        raise ImportFileError(f"{name}: column(s) {dup} appear more than once in the header; keep one of each "
                              "and import again.", source=name, columns=dup)
    try:
        rel = con.read_csv(
            str(text_path), header=True, sep=delim, quotechar='"', escapechar='"', auto_detect=False,
            columns={h: "VARCHAR" for h in header}, encoding="utf-8", max_line_size=64 * 1024 * 1024,
        )
        # materialize now, so parse errors surface here and the temp file can go
        rel.create_view("_csv_rel", replace=True)
        con.execute("CREATE OR REPLACE TEMP TABLE _src_tab AS SELECT * FROM _csv_rel")
        con.execute("DROP VIEW IF EXISTS _csv_rel")
    except duckdb.Error as exc:
        raise ImportFileError(
            f"{name} cannot be read as CSV (delimiter {delim!r}): "
            f"{'; '.join(str(exc).split('Possible fixes')[0].split(chr(10))[:3:2])[:300]}. "
            "Check that it is a CSV export with a header row.",
            source=name,
        ) from exc
    finally:
        if text_path != path:
            os.unlink(text_path)
    return con.table("_src_tab")


def _frame_from_json(path: Path, name: str) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{name} is not valid JSON: {exc}", source=name) from exc
    if isinstance(data, dict) and isinstance(data.get("value"), list):  # Dataverse Web API shape
        data = data["value"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ImportFileError(
            f"{name} has the wrong shape: expected a list of records (objects) or an object with a "
            "'value' list, as the Dataverse Web API returns.",
            source=name,
        )
    bad = [i + 1 for i, r in enumerate(data) if any(isinstance(v, (dict, list)) for v in r.values())]
    if bad:
        raise ImportFileError(f"{name}: records {bad[:5]} hold nested objects or lists; flatten them first.",
                              source=name)
    return pd.DataFrame.from_records(data, columns=list(dict.fromkeys(k for r in data for k in r)))


def _frame_from_excel(path: Path, name: str, key: str) -> pd.DataFrame:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds
        raise ImportFileError(f"{name} cannot be read as an Excel workbook: {exc}", source=name) from exc
    for frame in sheets.values():
        if key in [str(c).strip() for c in frame.columns]:
            return frame
    raise ImportFileError(
        f"{name}: no sheet has a {key!r} column (sheets: {list(sheets)}). Put the data with its header row "
        "on a sheet.",
        source=name,
    )


def _cell_text(v):
    """A DataFrame cell as import text: missing values (None, NaN, NA, NaT) become NULL."""
    if v is None or (not isinstance(v, (list, dict, tuple)) and pd.isna(v)):
        return None
    return str(v)


def load_source(con: duckdb.DuckDBPyConnection, src, key: str) -> list[str]:
    """Create the temp view ``_src`` (all VARCHAR) from ``src``; return its column names."""
    name = describe(src)
    con.execute("DROP VIEW IF EXISTS _src")
    con.execute("DROP TABLE IF EXISTS _src_tab")
    if isinstance(src, pd.DataFrame):
        frame = src
        rel = None
    else:
        path = Path(src)
        if not path.exists():
            raise ImportFileError(f"file {name} does not exist", source=name)
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED:
            raise ImportFileError(f"{name}: unsupported file type {suffix!r}; use one of {SUPPORTED}", source=name)
        frame = None
        rel = None
        if suffix in (".csv", ".txt", ".tsv"):
            rel = _read_csv(con, path, name)
        elif suffix == ".parquet":
            try:
                rel = con.read_parquet(str(path))
                rel.columns  # noqa: B018 - forces the schema read
            except duckdb.Error as exc:
                raise ImportFileError(f"{name} cannot be read as Parquet: {exc}", source=name) from exc
        elif suffix == ".xlsx":
            frame = _frame_from_excel(path, name, key)
        else:
            frame = _frame_from_json(path, name)
    if frame is not None:
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        # pandas -> DuckDB: register, then cast everything to VARCHAR below
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].map(_cell_text)
        # materialize as a temp table: a view over a Python object cannot live in a workspace file
        con.register("_src_df", frame)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _src_tab AS SELECT * FROM _src_df")
        finally:
            con.unregister("_src_df")
        rel = con.table("_src_tab")
    cols = rel.columns
    clean = [c.replace("\ufeff", "").strip() for c in cols]
    if len(set(clean)) != len(clean):
        dup = sorted({c for c in clean if clean.count(c) > 1})
        raise ImportFileError(f"{name}: column(s) {dup} appear more than once in the header", source=name)
    rel.create_view("_src_raw", replace=True)
    from .sqlbuild import q

    select = ", ".join(f"CAST({q(c)} AS VARCHAR) AS {q(n)}" for c, n in zip(cols, clean))
    con.execute(f"CREATE OR REPLACE TEMP VIEW _src AS SELECT {select} FROM _src_raw")
    return clean
