"""The README's quickstart runs as written and prints what the README shows."""

import contextlib
import io
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart in Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```\n```text\n(.*?)```", section, re.S)


def test_quickstart_runs_as_written(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    blocks = quickstart_blocks()
    assert len(blocks) >= 3
    namespace: dict = {}
    for code, expected in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
        assert out.getvalue().rstrip() == expected.rstrip(), code
    namespace["ws"].close()
