"""Minimal reproduction for DuckDB upstream: a checkpoint rewrites a live metadata block in place, so a write of it
torn by SIGKILL (or a power loss) leaves a database that no longer opens:

    IO Error: Corrupt database file: computed checksum ... does not match stored checksum ... in block at
    location 12288

(what tests/test_live_kill.py met about once in 8 full-suite runs on DuckDB 2.0.1, before contactsync's live actions
stopped checkpointing). Cause, in DuckDB's source (src/storage/metadata/metadata_manager.cpp, MetadataManager::Flush):
"Already a persistent block, so we only need to write it" — block 0, which the header on disk still points at, is
overwritten in place before the new header is written (strace of a CHECKPOINT: pwrite64(fd, ..., 262144, 12288),
then pwrite64(fd, ..., 4096, 8192)). Linux cuts a buffered write between pages when a fatal signal is pending
(mm/filemap.c generic_perform_write), so a SIGKILL in that pwrite leaves the block half new, half old.

The torn write is made here by hand, deterministically: for every page boundary, the first part of the
checkpoint's own write of block 0 over the file as it was before the checkpoint (the WAL still in place, as DuckDB
removes it only after the header). Run: ``python bench/duckdb_torn_checkpoint.py``; exit status 1 = reproduced.
Needs only duckdb (and strace, to show the writes, if installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import duckdb

BLOCK0, BLOCK_SIZE, PAGE = 12288, 262144, 4096


def main() -> int:
    d = tempfile.mkdtemp(prefix="duckdb-torn-")
    db = os.path.join(d, "t.duckdb")
    con = duckdb.connect(db)
    for t in range(10):
        con.execute(f"CREATE TABLE t{t}(id INTEGER, v VARCHAR)")
        con.execute(f"INSERT INTO t{t} SELECT i, 'v' || i FROM range(100) r(i)")
    con.close()                                        # checkpointed: block 0 holds the metadata
    con = duckdb.connect(db)
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("UPDATE t3 SET v = 'changed' WHERE id = 5")   # committed, in the WAL only
    con.close()
    before = open(db, "rb").read()
    wal = open(db + ".wal", "rb").read()
    code = f"import duckdb; c = duckdb.connect({db!r}); c.execute('CHECKPOINT'); c.close()"
    if shutil.which("strace"):
        out = subprocess.run(["strace", "-e", "trace=pwrite64", "-e", "signal=none", sys.executable, "-c", code],
                             capture_output=True, text=True)
        print("the checkpoint's writes (size, offset):")
        for line in out.stderr.splitlines():
            if line.startswith("pwrite64("):
                print("  ", ", ".join(line.rsplit(", ", 2)[-2:]))
    else:
        subprocess.run([sys.executable, "-c", code], check=True)
    after = open(db, "rb").read()
    if before[BLOCK0:BLOCK0 + BLOCK_SIZE] == after[BLOCK0:BLOCK0 + BLOCK_SIZE]:
        print("block 0 was not rewritten in place: not reproduced")
        return 0
    corrupt = []
    for cut in range(PAGE, BLOCK_SIZE, PAGE):
        torn = bytearray(before)
        torn[BLOCK0:BLOCK0 + cut] = after[BLOCK0:BLOCK0 + cut]
        with open(db, "wb") as f:
            f.write(torn)
        with open(db + ".wal", "wb") as f:
            f.write(wal)
        try:
            c = duckdb.connect(db)
            c.execute("SELECT count(*) FROM t3").fetchall()
            c.close()
        except duckdb.Error as e:
            corrupt.append((cut, str(e).splitlines()[0]))
    shutil.rmtree(d, ignore_errors=True)
    print(f"duckdb {duckdb.__version__}: block 0 torn after k pages (k = 1..{BLOCK_SIZE // PAGE - 1}): "
          f"{len(corrupt)} of them leave a database that does not open")
    for cut, msg in corrupt[:3]:
        print(f"  torn after {cut // PAGE} page(s): {msg}")
    return 1 if corrupt else 0


if __name__ == "__main__":
    sys.exit(main())
