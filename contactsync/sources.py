"""Import sources: a registry of readers (by file suffix, URL scheme or Python type) whose data becomes
a :class:`LoadedSource`: a DuckDB temp view named for this load.

Every source becomes such a view with all values as VARCHAR, exact: leading zeros, accents,
long text, a value holding CR, LF or CRLF, and JSON numbers as the file writes them (``10115`` stays
``10115``, ``1.50`` stays ``1.50``) survive. Column names are stripped of BOMs and surrounding spaces; a
header cell that is blank, or a name given twice, is refused with an :class:`ImportFileError`, as is a
source without columns.

**One time base: UTC.** A timestamp that carries its zone is converted to UTC: a tz-aware Parquet or
DataFrame column (whatever the machine's or the DuckDB session's time zone), and text with an offset or
zone (``2026-01-05T08:30:00+02:00`` → 06:30, ``08:30-02:00`` → 10:30, ``…Z``, ``… Europe/Berlin``). A
naive timestamp (no zone) is taken as UTC already; it is never shifted by the machine's zone. See
:func:`utc_timestamp_sql`.

**Readers.** CSV (``.csv``, ``.txt``, ``.tsv``), Parquet, Excel (``.xlsx``), JSON and pandas DataFrames are
registered here, as papermill registers its I/O handlers. Another package adds a reader without editing
this one, either by calling :func:`register` (also a decorator)::

    @contactsync.sources.register(suffixes=[".ndjson"])
    def read_ndjson(req):  # req: SourceRequest (src, path, con, name, key)
        return pandas.read_json(req.path, lines=True, dtype=str)

or by an entry point in the group ``contactsync.sources`` whose name is the suffix (``.ndjson``) or the
URL scheme (``s3://``) and whose object is the reader (or a :class:`SourceReader`, which names its own
suffixes, schemes and types). A reader returns a pandas DataFrame or a DuckDB relation; everything after
(header checks, text conversion, UTC) is the same for every source.
"""

from __future__ import annotations

import codecs
import csv
import importlib.metadata
import io
import itertools
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import duckdb
import pandas as pd

from .errors import ContactSyncError, ImportFileError
from .sqlbuild import q

__all__ = [
    "ENTRY_POINT_GROUP", "LoadedSource", "SourceReader", "SourceRequest", "check_header", "describe", "find_reader",
    "load_source", "readers", "register", "time_has_zone_sql", "unregister", "utc_time_sql",
    "utc_timestamp_sql",
]

ENTRY_POINT_GROUP = "contactsync.sources"
_DELIMS = (",", ";", "\t", "|")

SourceData = Union[pd.DataFrame, duckdb.DuckDBPyRelation]


# -- time: one base, UTC -------------------------------------------------------------------------
# a zone after a time of day: Z, UTC/GMT, a numeric offset (+02:00, +0200, +02, -5, " -0500") or a
# named zone (Europe/Berlin); a date alone ("2026-01-05") has none
_OFFSET = r"[+-]\d{1,2}(:?\d{2})?"
_TS_ZONE = r"\d:\d{2}(:\d{2}(\.\d*)?)?\s*([zZ]|UTC|GMT|" + _OFFSET + r"|[A-Za-z]+/[A-Za-z0-9_+/-]+)$"
_TIME_ZONE = r"^\d{1,2}:\d{2}(:\d{2}(\.\d*)?)?\s*([zZ]|UTC|GMT|" + _OFFSET + r")$"


def _zoned_text_sql(txt: str) -> str:
    """``txt`` (trimmed text ending in a zone) in the forms DuckDB's TIMESTAMPTZ cast reads."""
    txt = f"regexp_replace({txt}, '[zZ]$', '+00:00')"
    txt = rf"regexp_replace({txt}, '\s+([+-]\d)', '\1')"  # "08:30 -0500" -> "08:30-0500"
    return rf"regexp_replace({txt}, '([+-])(\d)$', '\10\2')"  # "+5" -> "+05"


def utc_timestamp_sql(expr: str) -> str:
    """SQL: the text ``expr`` as a naive UTC TIMESTAMP (NULL if it does not parse).

    Text with a zone (``2026-01-05T08:30:00+02:00``, ``…Z``, ``… -0500``, ``… Europe/Berlin``) is the
    instant it names, converted to UTC, independent of the session's time zone; text without a zone is
    taken as UTC. An offset is never dropped: a zone DuckDB cannot read makes the value unparseable."""
    txt = f"nullif(trim({expr}), '')"
    return (f"CASE WHEN regexp_matches({txt}, '{_TS_ZONE}') "
            f"THEN timezone('UTC', TRY_CAST({_zoned_text_sql(txt)} AS TIMESTAMPTZ)) "
            f"ELSE TRY_CAST({txt} AS TIMESTAMP) END")


def time_has_zone_sql(expr: str) -> str:
    """SQL: whether the time-of-day text ``expr`` carries an offset (``08:30-02:00``, ``08:30Z``)."""
    return f"coalesce(regexp_matches(trim({expr}), '{_TIME_ZONE}'), false)"


def utc_time_sql(expr: str) -> str:
    """SQL: the time-of-day text ``expr`` as a UTC TIME: ``08:30-02:00`` is 10:30; without an offset it
    is taken as UTC. (A named zone needs a date, so a bare time with one does not parse.)"""
    txt = f"nullif(trim({expr}), '')"
    return (f"CASE WHEN {time_has_zone_sql(expr)} "
            f"THEN CAST(timezone('UTC', TRY_CAST('2000-01-03 ' || {_zoned_text_sql(txt)} AS TIMESTAMPTZ)) AS TIME) "
            f"ELSE TRY_CAST({txt} AS TIME) END")


# -- the registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceRequest:
    """What a reader is given: ``src`` as the caller passed it, the connection ``con`` to read with
    (a reader may return a relation on it), the ``name`` messages quote the source by, and the ``key``
    column the import needs (the Excel reader picks the sheet that has it)."""

    src: object
    con: duckdb.DuckDBPyConnection
    name: str
    key: str

    @property
    def path(self) -> Path:
        """``src`` as a path (for file readers)."""
        return Path(os.fspath(self.src))


Reader = Callable[[SourceRequest], SourceData]


@dataclass(frozen=True)
class SourceReader:
    """A registered reader: ``read(request)`` returns a pandas DataFrame or a DuckDB relation; it
    serves paths ending in one of ``suffixes`` (``.csv``), URLs of one of ``schemes`` (``s3``) and
    objects of one of ``types``."""

    read: Reader
    name: str
    suffixes: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    types: tuple[type, ...] = ()


class _Registry:
    def __init__(self, builtin: Iterable[SourceReader]):
        self.by_suffix: dict[str, SourceReader] = {}
        self.by_scheme: dict[str, SourceReader] = {}
        self.by_type: dict[type, SourceReader] = {}
        self.plugins_loaded = False
        for reader in builtin:
            self.add(reader)

    def add(self, reader: SourceReader, replace: bool = False) -> None:
        slots = ([(self.by_suffix, s) for s in reader.suffixes] + [(self.by_scheme, s) for s in reader.schemes]
                 + [(self.by_type, t) for t in reader.types])
        if not slots:
            raise ContactSyncError(f"source reader {reader.name!r} names no suffix, URL scheme or type to serve; "
                                   "pass suffixes=[...], schemes=[...] or types=[...]")
        taken = [(k, table[k].name) for table, k in slots if k in table and table[k] is not reader]
        if taken and not replace:
            raise ContactSyncError(
                f"cannot register source reader {reader.name!r}: "
                + ", ".join(f"{_key_text(k)} is served by {n!r}" for k, n in taken)
                + "; pass replace=True to replace it")
        for table, k in slots:
            table[k] = reader

    def remove(self, key) -> None:
        for table in (self.by_suffix, self.by_scheme, self.by_type):
            table.pop(key, None)

    def load_plugins(self) -> None:
        """The readers of installed packages (entry-point group ``contactsync.sources``), once."""
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except (ImportError, AttributeError) as exc:
                warnings.warn(f"contactsync source plugin {ep.name!r} ({ep.value}) cannot be loaded: {exc}",
                              stacklevel=3)
                continue
            try:
                if isinstance(obj, SourceReader):
                    self.add(obj)
                elif callable(obj):
                    kind = "schemes" if ep.name.endswith("://") else "suffixes"
                    self.add(_make_reader(obj, ep.value, **{kind: [ep.name]}))
                else:
                    raise ContactSyncError(f"{ep.value} is neither a reader function nor a SourceReader")
            except ContactSyncError as exc:
                warnings.warn(f"contactsync source plugin {ep.name!r} is left out: {exc}", stacklevel=3)


def _key_text(k) -> str:
    if isinstance(k, type):
        return f"type {k.__name__}"
    return f"suffix {k!r}" if k.startswith(".") else f"scheme '{k}://'"


def _norm_suffix(s: str) -> str:
    s = str(s).strip().lower()
    if not s.startswith(".") or len(s) < 2:
        raise ContactSyncError(f"a source suffix starts with a dot, like '.ndjson'; got {s!r}")
    return s


def _norm_scheme(s: str) -> str:
    s = str(s).strip().lower().removesuffix("://")
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", s):
        raise ContactSyncError(f"a URL scheme is a name like 's3' or 'https'; got {s!r}")
    return s


def _make_reader(read: Reader, name: str | None = None, *, suffixes: Iterable[str] = (),
                 schemes: Iterable[str] = (), types: Iterable[type] = ()) -> SourceReader:
    if not callable(read):
        raise ContactSyncError(f"a source reader is a function of a SourceRequest; got {read!r}")
    for t in types:
        if not isinstance(t, type):
            raise ContactSyncError(f"types=[...] takes classes; got {t!r}")
    return SourceReader(read, name or getattr(read, "__qualname__", repr(read)),
                        tuple(_norm_suffix(s) for s in suffixes), tuple(_norm_scheme(s) for s in schemes),
                        tuple(types))


def register(read: Reader | None = None, *, suffixes: Iterable[str] = (), schemes: Iterable[str] = (),
             types: Iterable[type] = (), name: str | None = None, replace: bool = False):
    """Register ``read`` as the reader of files ending in ``suffixes`` (``[".ndjson"]``), URLs of
    ``schemes`` (``["s3"]``) and objects of ``types``. ``read(request: SourceRequest)`` returns a pandas
    DataFrame or a DuckDB relation. Without ``read``, returns a decorator. A suffix, scheme or type already
    served raises a :class:`ContactSyncError` unless ``replace=True``. Returns ``read``."""
    if isinstance(suffixes, str) or isinstance(schemes, str):
        raise ContactSyncError("suffixes and schemes are lists, e.g. suffixes=['.ndjson']")

    def add(fn: Reader) -> Reader:
        _REGISTRY.add(_make_reader(fn, name, suffixes=suffixes, schemes=schemes, types=types), replace)
        return fn

    return add if read is None else add(read)


def unregister(*keys) -> None:
    """Remove the readers of these suffixes (``".ndjson"``), schemes (``"s3://"``) or types."""
    for k in keys:
        if isinstance(k, type):
            _REGISTRY.remove(k)
        elif str(k).startswith("."):
            _REGISTRY.remove(_norm_suffix(k))
        else:
            _REGISTRY.remove(_norm_scheme(k))


def readers() -> dict[str, str]:
    """What is registered: ``{".csv": reader name, "s3://": ..., "type DataFrame": ...}``."""
    _REGISTRY.load_plugins()
    out = {s: r.name for s, r in sorted(_REGISTRY.by_suffix.items())}
    out.update({f"{s}://": r.name for s, r in sorted(_REGISTRY.by_scheme.items())})
    out.update({f"type {t.__name__}": r.name for t, r in _REGISTRY.by_type.items()})
    return out


def describe(src) -> str:
    """How messages name a source."""
    if isinstance(src, (str, os.PathLike)):
        return repr(os.fspath(src))
    return "DataFrame" if isinstance(src, pd.DataFrame) else f"the {type(src).__name__} passed"


def find_reader(src, name: str | None = None) -> SourceReader:
    """The reader for ``src`` (a path, a URL or an object), or an :class:`ImportFileError` saying what is
    supported."""
    name = name or describe(src)
    _REGISTRY.load_plugins()
    for t in type(src).__mro__:
        if t in _REGISTRY.by_type:
            return _REGISTRY.by_type[t]
    if not isinstance(src, (str, os.PathLike)):
        raise ImportFileError(
            f"cannot import from {name}: pass a file path, a pandas DataFrame"
            + (f" or a URL ({', '.join(s + '://' for s in sorted(_REGISTRY.by_scheme))})" if _REGISTRY.by_scheme
               else "") + ", or register a reader for it with contactsync.sources.register(types=[...])",
            source=name)
    text = os.fspath(src)
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]+)://", text)
    if m:
        scheme = m.group(1).lower()
        if scheme in _REGISTRY.by_scheme:
            return _REGISTRY.by_scheme[scheme]
        raise ImportFileError(
            f"{name}: no reader is registered for URL scheme '{scheme}://' (registered: "
            f"{sorted(s + '://' for s in _REGISTRY.by_scheme) or 'none'}); download the data to a file, or "
            "register a reader with contactsync.sources.register(schemes=[...])", source=name)
    path = Path(text)
    if not path.exists():
        raise ImportFileError(f"file {name} does not exist", source=name)
    if path.is_dir():
        raise ImportFileError(f"{name} is a folder, not a file; pass the file to import", source=name)
    lower = path.name.lower()
    hits = [s for s in _REGISTRY.by_suffix if lower.endswith(s)]
    if not hits:
        raise ImportFileError(
            f"{name}: unsupported file type {path.suffix.lower()!r}; use one of {tuple(sorted(_REGISTRY.by_suffix))} "
            "(or register a reader with contactsync.sources.register(suffixes=[...]))", source=name)
    return _REGISTRY.by_suffix[max(hits, key=len)]


# -- the header: one check for every source ------------------------------------------------------
def check_header(names: Iterable, name: str) -> list[str]:
    """The column names as the import uses them (BOMs and surrounding spaces removed), or an
    :class:`ImportFileError` for a source without columns, a blank header cell, or a name given twice."""
    raw = [str(c) for c in names]
    if not raw:
        raise ImportFileError(f"{name} has no columns, so there is nothing to import. Pass data with a header "
                              "row (the key column and the fields to import).", source=name)
    clean = [c.replace("\ufeff", "").strip() for c in raw]
    blank = [i + 1 for i, c in enumerate(clean) if not c]
    if blank:
        raise ImportFileError(
            f"{name}: header cell(s) {blank} (counting from 1) are blank{f' ({raw[blank[0] - 1]!r})' if raw[blank[0] - 1] else ''}"
            "; give each column its NAV or Dataverse field name, or delete the column, and import again.",
            source=name, columns=blank)
    dup = sorted({c for c in clean if clean.count(c) > 1})
    if dup:
        raise ImportFileError(f"{name}: column(s) {dup} appear more than once in the header; keep one of each "
                              "and import again.", source=name, columns=dup)
    folded = [c.casefold() for c in clean]
    dup = [c for c in clean if folded.count(c.casefold()) > 1]
    if dup:  # DuckDB's names are case-insensitive: it cannot hold both
        raise ImportFileError(f"{name}: column(s) {dup} appear more than once in the header (the names differ "
                              "only in case); keep one of each and import again.", source=name, columns=dup)
    return clean


# -- CSV -----------------------------------------------------------------------------------------
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


_BARE_CR = re.compile(r"\r(?!\n)")
_BARE_CR_BYTES = re.compile(rb"\r(?!\n)")


def _bare_cr_is_data(text: str) -> bool:
    """Whether the file's lines end in LF or CRLF (so a CR alone is part of a value), not in CR alone
    (old Mac files, where every CR ends a line)."""
    m = re.search(r"\r\n|\n|\r", text[: 1 << 20])
    return m is None or m.group() != "\r"


def _read_csv(req: SourceRequest) -> duckdb.DuckDBPyRelation:
    con, path, name = req.con, req.path, req.name
    raw = path.read_bytes()
    if not raw.strip():
        raise ImportFileError(f"{name} is empty: it has no header row. Export the data with a header row.",
                              source=name)
    encoding = _detect_encoding(raw, name)
    text: str | None = None
    if encoding != "utf-8":
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{name} cannot be decoded as {encoding}: {exc}", source=name) from exc
        if "\x00" in text:
            raise ImportFileError(f"{name} contains NUL characters; remove them and import again.", source=name)
    # a CR alone inside a value (quoted or not: some writers leave it unquoted) is data in a file whose
    # lines end in LF or CRLF; DuckDB would take it for a line end, so it travels as a private-use
    # character through the reader and is put back below
    cr_mark = None
    if (_BARE_CR.search(text) if text is not None else _BARE_CR_BYTES.search(raw)):
        text = text if text is not None else raw.decode("utf-8")
        if _bare_cr_is_data(text):
            cr_mark = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
            text = _BARE_CR.sub(cr_mark, text)
    tmp = None
    if text is not None:
        fd, tmp = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    try:
        head_text = text if text is not None else raw[: 1 << 20].decode("utf-8", errors="ignore")
        head_text = head_text.lstrip("\ufeff")
        delim = _sniff_delimiter(head_text.split("\n", 1)[0])
        # the header as written: DuckDB's sniffer would rename a repeated column (Surname_1) and may take
        # a ragged data row for the header, so the columns are fixed here and every row must match them
        try:
            header = next(csv.reader(io.StringIO(head_text, newline=""), delimiter=delim, quotechar='"'), [])
        except csv.Error as exc:
            raise ImportFileError(f"{name}: the header row cannot be read ({exc}); is it a CSV export?",
                                  source=name) from exc
        header = check_header(header, name)
        try:
            rel = con.read_csv(
                tmp or str(path), header=True, sep=delim, quotechar='"', escapechar='"', auto_detect=False,
                columns={h: "VARCHAR" for h in header}, encoding="utf-8", max_line_size=64 * 1024 * 1024,
            )
            # materialize now, so parse errors surface here and the temp file can go
            rel.create_view("_csv_rel", replace=True)
            cols = ", ".join(f"replace({q(h)}, chr({ord(cr_mark)}), chr(13)) AS {q(h)}" if cr_mark else q(h)
                             for h in header)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _src_tab AS SELECT {cols} FROM _csv_rel")
            con.execute("DROP VIEW IF EXISTS _csv_rel")
        except duckdb.Error as exc:
            raise ImportFileError(
                f"{name} cannot be read as CSV (delimiter {delim!r}): "
                f"{'; '.join(str(exc).split('Possible fixes')[0].split(chr(10))[:3:2])[:300]}. "
                "Check that it is a CSV export with a header row.",
                source=name,
            ) from exc
    finally:
        if tmp is not None:
            os.unlink(tmp)
    return con.table("_src_tab")


# -- Parquet, Excel, JSON, DataFrame -------------------------------------------------------------
def _read_parquet(req: SourceRequest) -> duckdb.DuckDBPyRelation:
    try:
        rel = req.con.read_parquet(str(req.path))
        rel.columns  # noqa: B018 - forces the schema read
    except duckdb.Error as exc:
        raise ImportFileError(f"{req.name} cannot be read as Parquet: {exc}", source=req.name) from exc
    return rel


def _read_excel(req: SourceRequest) -> pd.DataFrame:
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        sheets = pd.read_excel(req.path, sheet_name=None, dtype=str, keep_default_na=False, engine="openpyxl")
    except (zipfile.BadZipFile, InvalidFileException, ValueError, KeyError, TypeError, OSError, EOFError) as exc:
        raise ImportFileError(f"{req.name} cannot be read as an Excel workbook: {exc}", source=req.name) from exc
    for frame in sheets.values():
        if req.key in [str(c).strip() for c in frame.columns]:
            return frame
    raise ImportFileError(
        f"{req.name}: no sheet has a {req.key!r} column (sheets: {list(sheets)}). Put the data with its header "
        "row on a sheet.",
        source=req.name,
    )


def _json_text(v):
    """A JSON value as import text: numbers as written (the parser keeps their text), true/false, null."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _read_json(req: SourceRequest) -> pd.DataFrame:
    name = req.name
    try:
        # numbers keep the text the file writes them in: 10115 stays "10115" (a float column of pandas
        # would make it 10115.0 once a null is beside it), 1.50 stays "1.50"
        data = json.loads(req.path.read_text(encoding="utf-8-sig"), parse_int=str, parse_float=str,
                          parse_constant=str)
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
    columns = list(dict.fromkeys(k for r in data for k in r))
    return pd.DataFrame({c: pd.Series([_json_text(r.get(c)) for r in data], dtype=object) for c in columns},
                        columns=columns)


def _read_frame(req: SourceRequest) -> pd.DataFrame:
    return req.src


def _read_relation(req: SourceRequest) -> duckdb.DuckDBPyRelation:
    """A relation of the import's own connection (the live pull's rows, already in DuckDB)."""
    return req.src


_REGISTRY = _Registry([
    SourceReader(_read_csv, "csv", suffixes=(".csv", ".txt", ".tsv")),
    SourceReader(_read_parquet, "parquet", suffixes=(".parquet",)),
    SourceReader(_read_excel, "excel", suffixes=(".xlsx",)),
    SourceReader(_read_json, "json", suffixes=(".json",)),
    SourceReader(_read_frame, "dataframe", types=(pd.DataFrame,)),
    SourceReader(_read_relation, "duckdb relation", types=(duckdb.DuckDBPyRelation,)),
])


# -- from any reader's data to a loaded source view ------------------------------------------------------------
def _cell_text(v):
    """A DataFrame cell as import text: missing values (None, NaN, NA, NaT) become NULL; a tz-aware
    timestamp becomes its UTC instant (naive text, as every timestamp is read)."""
    if v is None or (not isinstance(v, (list, dict, tuple)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp) and v.tzinfo is not None:
        return str(v.tz_convert("UTC").tz_localize(None))
    return str(v)


def _varchar_sql(col: str, dtype) -> str:
    """SQL: column ``col`` of DuckDB type ``dtype`` as import text; an instant with a zone as naive UTC
    (``timezone('UTC', …)`` does not depend on the session's time zone, a plain cast would)."""
    if str(dtype) == "TIMESTAMP WITH TIME ZONE":
        return f"CAST(timezone('UTC', {q(col)}) AS VARCHAR)"
    return f"CAST({q(col)} AS VARCHAR)"


_LOADS = itertools.count(1)


@dataclass(frozen=True)
class LoadedSource:
    """A source loaded into the connection: the temp view ``relation`` (quoted, for SQL) of VARCHAR columns
    ``columns``, and the temp objects it made (``drop`` removes them). Each load has its own names, so a
    step reads the source it was handed, never a view another module happens to know the name of."""

    relation: str
    columns: tuple[str, ...]
    views: tuple[str, ...]
    tables: tuple[str, ...] = ()

    def drop(self, con) -> None:
        for view in self.views:  # (names this module made and quoted)
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for tab in self.tables:
            con.execute(f"DROP TABLE IF EXISTS {tab}")


def load_source(con: duckdb.DuckDBPyConnection, src, key: str) -> LoadedSource:
    """Load ``src`` through its registered reader as a temp view of VARCHAR columns: a :class:`LoadedSource`
    (the caller drops it when done)."""
    name = describe(src)
    n = next(_LOADS)
    view, raw_view, tab = q(f"_cs_src{n}"), q(f"_cs_src{n}_raw"), q(f"_cs_src{n}_tab")
    reader = find_reader(src, name)
    data = reader.read(SourceRequest(src, con, name, key))
    tables: tuple[str, ...] = ()
    if isinstance(data, pd.DataFrame):
        clean = check_header(data.columns, name)
        frame = data.copy()
        frame.columns = clean
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].map(_cell_text)
        # materialize as a temp table: a view over a Python object cannot live in a workspace file
        df_name = f"_cs_src{n}_df"
        con.register(df_name, frame)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {tab} AS SELECT * FROM {q(df_name)}")
        finally:
            con.unregister(df_name)
        rel = con.table(tab)
        tables = (tab,)
    elif isinstance(data, duckdb.DuckDBPyRelation):
        rel = data
        clean = check_header(rel.columns, name)
    else:
        raise ContactSyncError(f"source reader {reader.name!r} returned a {type(data).__name__}; a reader "
                               "returns a pandas DataFrame or a DuckDB relation")
    rel.create_view(f"_cs_src{n}_raw", replace=True)
    select = ", ".join(f"{_varchar_sql(c, t)} AS {q(col)}" for c, t, col in zip(rel.columns, rel.types, clean))
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {select} FROM {raw_view}")
    return LoadedSource(view, tuple(clean), (view, raw_view), tables)
