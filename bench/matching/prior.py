"""Train the packaged prior model on the benchmark generator: ``python -m bench.matching.prior``.

The prior is what a workspace with too few uncoupled records to train on (``linkage.MIN_TRAIN``) is
scored with, and where training on a workspace starts. It is trained on the generator's tuning seed
(11, never reported) and written to ``contactsync/_match_prior.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from contactsync import linkage
from contactsync.matching import _arrow_table, prepared

from .evaluate import workspace
from .generate import make

TARGET = Path(__file__).resolve().parents[2] / "contactsync" / "_match_prior.py"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.matching.prior", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    ws = workspace(make(a.n, seed=a.seed))
    with ws._store.connection() as con:
        nav, crm = (_arrow_table(x) for x in prepared(con, ws.mapping))
    sc = linkage.session(nav, crm)
    m = linkage.train(sc)
    m = linkage.Matcher(m.settings, linkage.Source.PRIOR, m.trained_at, m.nav_records, m.crm_records, m.seconds)
    text = json.dumps(json.loads(m.to_json()), indent=1, sort_keys=True)
    names = "\n".join(sorted(linkage.faker_first_names()))
    TARGET.write_text(
        '"""The packaged prior model (Splink JSON), made by ``python -m bench.matching.prior`` on the benchmark\n'
        f'generator (seed {a.seed}, {a.n:,} x {a.n:,}). Generated: do not edit."""\n\n'
        f"MODEL = r'''{text}'''\n\n"
        "# first names Faker knows in any of its locales, normalized (linkage.known_first_names)\n"
        f"FIRST_NAMES = '''\n{names}\n'''\n", encoding="utf-8")
    print(f"prior written to {TARGET} in {time.perf_counter() - t:.1f} s (training {m.seconds} s)")
    print(m.parameters().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
