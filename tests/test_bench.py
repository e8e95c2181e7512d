"""The benchmark keeps working: its 10k smoke run (``python -m bench --quick``) end to end.

No timing assertions: the table has every action with positive timings for every implementation,
and the three implementations agree on the size of each result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_smoke(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # the checkout, for bench/
    from bench.actions import ACTIONS, EXTRA, IMPLS

    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--reps", "1", "--out", str(out),
                           "--data-dir", str(tmp_path / "data")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    rows = {r["action"]: r for r in res["rows"]}
    assert set(rows) == set(ACTIONS) | set(EXTRA)
    for action in EXTRA:
        assert rows[action]["cs_s"] > 0
    for action in ACTIONS:
        r = rows[action]
        for which in IMPLS:
            assert f"{which}_error" not in r, (action, which, r.get(f"{which}_error"))
            assert r[f"{which}_s"] > 0, (action, which)
            assert r[f"{which}_peak_mb"] > 0, (action, which)
        assert r["vs_floor"] > 0 and r["pandas_vs_cs"] > 0
    # the three implementations did the same work
    for action in ("list_page", "compare", "differences", "push", "sync_both", "import_csv", "import_parquet"):
        r = rows[action]
        assert r["cs_result"] == r["sql_result"] == r["pandas_result"], (action, r)
    assert rows["push"]["cs_result"] > 0 and rows["sync_both"]["cs_result"] > 0
    # the suggestions pair up the uncoupled persons again (at most one confident match each)
    assert 0 < rows["suggestions"]["cs_result"] <= res["prepared"]["10000"]["uncoupled"] == 100
    assert "| contacts | action |" in proc.stdout
    assert res["targets"], "targets evaluated"
