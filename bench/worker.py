"""One (action, implementation) measured in its own process: ``python -m bench.worker ACTION IMPL FOLDER REPS``.

Prints one JSON line: the timings of every repetition (seconds), the result size, the peak RSS of the
process (VmHWM) and the RSS before the first repetition (the interpreter, libraries and, for
pandas, the frames in memory). Read actions that share one open workspace (``shared``) get one untimed
call first; the "per call" rows time the cold path.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would carry the parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(action: str, which: str, folder: Path, reps: int) -> dict:
    from .actions import Ctx, impl

    info = json.loads((folder / "ready.json").read_text())
    with tempfile.TemporaryDirectory(dir=folder, prefix="work-") as work:
        ctx = Ctx(folder, info, Path(work))
        runner = impl(action, which)
        times, sizes = [], []
        base_rss = None
        if getattr(runner, "shared", False):  # a read action on an open workspace: one untimed call first,
            runner.run(runner.setup(ctx))      # so every timed one is the steady state a steward sees
        for _ in range(reps):
            state = runner.setup(ctx)
            gc.collect()
            if base_rss is None:
                base_rss = _rss_mb()
            t = time.perf_counter()
            sizes.append(runner.run(state))
            times.append(time.perf_counter() - t)
            runner.close(state)
        peak = _peak_mb()
    return {"action": action, "impl": which, "times": times, "result": sizes[-1], "peak_rss_mb": round(peak, 1),
            "base_rss_mb": round(base_rss or 0.0, 1)}


def main(argv=None) -> int:
    action, which, folder, reps = (argv or sys.argv[1:])[:4]
    print(json.dumps(measure(action, which, Path(folder), int(reps))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
