"""Checkpoints a SIGKILL cannot tear: a journal of the blocks DuckDB rewrites in place, and recovery on open.

DuckDB (2.0.1) folds the write-ahead log into the database file at a checkpoint. Its data blocks go to free blocks,
and the new database header is written last, so a checkpoint cut short leaves the old header and the WAL: the old
state, replayed. Except for the metadata blocks: ``MetadataManager::Flush`` rewrites a metadata block that is
already on disk in place ("Already a persistent block, so we only need to write it"), and a kill inside that
256 KiB write (Linux cuts a buffered write between pages when a fatal signal is pending) leaves a block that fails
its checksum: "Corrupt database file: computed checksum ... in block at location 12288", a workspace that no longer
opens. ``bench/duckdb_torn_checkpoint.py`` reproduces it.

So the store turns DuckDB's own checkpoints off (no automatic one, none on close) and checkpoints itself when it
closes the file (:func:`checkpoint`):

1. the journal ``<file>.cs-journal``: the file's header pages and every metadata block (``pragma_metadata_info``)
   as they are on disk, with the header's iteration and a SHA-256 of the whole; written and fsynced;
2. ``CHECKPOINT``;
3. the journal is removed.

:func:`recover` runs when DuckDB refuses to open the file and a journal is there. A journal that is incomplete (its checksum fails) was cut before the
checkpoint began: the file is whole, the journal is dropped. Otherwise, if the file's header moved past the
journal's iteration the checkpoint was written to the end: the journal is dropped. If not, the checkpoint was cut:
its in-place writes are undone from the journal, and DuckDB opens the old state and replays the WAL, which is still
there (DuckDB removes it only after the new header).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import struct
from contextlib import contextmanager
from pathlib import Path

import duckdb

__all__ = ["JOURNAL_SUFFIX", "WAL_ONLY", "checkpoint", "deferred", "journal_path", "recover", "write_journal"]

log = logging.getLogger("contactsync.store")

JOURNAL_SUFFIX = ".cs-journal"
#: DuckDB's settings on every connection the store opens: no automatic checkpoint, none on close (both are the
#: database's; the store's own :func:`checkpoint` folds the WAL in)
WAL_ONLY = ("SET checkpoint_threshold = '1TB'", "PRAGMA disable_checkpoint_on_shutdown")

_DEFERRED: contextvars.ContextVar[bool] = contextvars.ContextVar("contactsync_checkpoint_deferred", default=False)

_MAGIC = b"CSJRNL01"
_HEADERS = 3 * 4096  # DuckDB's main header and its two database headers; block 0 starts here
_ENTRY = struct.Struct("<QQ")  # offset, length


def journal_path(path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(path)}{JOURNAL_SUFFIX}")


def _iteration(head: bytes) -> int:
    """The newest of the two database headers' iteration counters (each: checksum u64, iteration u64)."""
    return max(struct.unpack_from("<Q", head, off + 8)[0] for off in (4096, 8192))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_journal(db: Path, regions: list[tuple[int, int]]) -> None:
    with open(db, "rb") as f:
        head = f.read(_HEADERS)
        body = [_MAGIC, struct.pack("<QQ", _iteration(head), len(regions))]
        for off, length in regions:
            f.seek(off)
            data = f.read(length)
            body += [_ENTRY.pack(off, len(data)), data]
    blob = b"".join(body)
    jp = journal_path(db)
    tmp = jp.with_name(jp.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(blob)
        f.write(hashlib.sha256(blob).digest())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, jp)
    _fsync_dir(jp)


def _read_journal(jp: Path) -> tuple[int, list[tuple[int, bytes]]] | None:
    """(iteration, [(offset, bytes)]) of a whole journal; None for one cut short."""
    blob = jp.read_bytes()
    body, digest = blob[:-32], blob[-32:]
    if len(blob) < len(_MAGIC) + 16 + 32 or not body.startswith(_MAGIC) or hashlib.sha256(body).digest() != digest:
        return None
    iteration, n = struct.unpack_from("<QQ", body, len(_MAGIC))
    pos, entries = len(_MAGIC) + 16, []
    for _ in range(n):
        off, length = _ENTRY.unpack_from(body, pos)
        pos += _ENTRY.size
        entries.append((off, body[pos:pos + length]))
        pos += length
    return iteration, entries


def recover(path: str | os.PathLike) -> str | None:
    """Before the file at ``path`` is opened: finish what a checkpoint cut short left (see the module). Returns
    what it did (``'dropped'``, ``'completed'``, ``'restored'``) or None when there was no journal."""
    jp = journal_path(path)
    tmp = jp.with_name(jp.name + ".tmp")
    if tmp.exists():  # cut while the journal was written: the checkpoint had not begun
        tmp.unlink()
    if not jp.exists():
        return None
    read = _read_journal(jp)
    db = Path(path)
    if read is None:
        outcome = "dropped"
    else:
        iteration, entries = read
        with open(db, "rb") as f:
            now = _iteration(f.read(_HEADERS))
        if now > iteration:
            outcome = "completed"
        else:
            with open(db, "r+b") as f:
                for off, data in entries:
                    f.seek(off)
                    f.write(data)
                f.flush()
                os.fsync(f.fileno())
            outcome = "restored"
            log.warning("workspace %s: a checkpoint was cut short; its in-place writes were undone from %s, and "
                        "the write-ahead log brings the last committed actions back", db, jp.name)
    jp.unlink()
    _fsync_dir(jp)
    return outcome


@contextmanager
def deferred():
    """No checkpoint in this block (this thread / task): the file is not written, only the WAL; the next close
    outside such a block folds it in. A live pull or delivery runs so (contactsync.live.service), so a kill
    there never meets the file at all."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def write_journal(con, path: str | os.PathLike) -> bool:
    """Step 1 of :func:`checkpoint`: the journal of the blocks a checkpoint of ``con``'s file rewrites in place.
    False (no journal) when the WAL is empty: nothing to fold in."""
    db = Path(path)
    wal = Path(f"{os.fspath(path)}.wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return False
    raw = getattr(con, "raw", con)
    size = raw.execute("SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
                       ).fetchone()
    blocks = [b for (b,) in raw.execute("SELECT block_id FROM pragma_metadata_info()").fetchall()]
    block_size = int(size[0]) if size else 262144
    _write_journal(db, [(0, _HEADERS)] + [(_HEADERS + b * block_size, block_size) for b in sorted(blocks)])
    return True


def checkpoint(con, path: str | os.PathLike) -> bool:
    """Fold the WAL into the file behind a journal (see the module). False when there was nothing to fold or
    DuckDB could not checkpoint now (another transaction of this process is open: a later close does it)."""
    db = Path(path)
    if _DEFERRED.get():
        return False
    try:
        if not write_journal(con, db):
            return False
        getattr(con, "raw", con).execute("CHECKPOINT")
    except duckdb.Error as exc:
        # e.g. another connection of this process has a transaction open. A journal stays: while the header has
        # not moved its blocks are the file's own (recovery rewrites them as they are), and once a later
        # checkpoint moves it, recovery drops it
        log.info("workspace %s: checkpoint deferred (%s)", db, exc)
        return False
    jp = journal_path(db)
    jp.unlink()
    _fsync_dir(jp)
    return True
