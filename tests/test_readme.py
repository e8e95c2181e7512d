"""The README's quickstart runs as written and prints what the README shows."""

import contextlib
import io
import re
import shutil
import sys
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


def install_commands():
    """(argv, printed lines) of each `$ contactsync app...` in the README's Install section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        lines = block.rstrip("\n").split("\n")
        for i, ln in enumerate(lines):
            if ln.startswith("$ contactsync app"):
                printed = []
                for nxt in lines[i + 1:]:
                    if nxt.startswith("$ "):
                        break
                    printed.append(nxt)
                out.append((ln[2:].split("  #")[0].split()[1:], printed))
    return out


def test_install_section_shows_contactsync_app_as_it_prints(tmp_path, monkeypatch):
    """`contactsync app --demo` prints the README's first line (the workspace path is the reader's), and
    the refusal is word for word; Voilà itself is not started here (test_package serves it for real)."""
    from click.testing import CliRunner

    from contactsync.cli import main

    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "$ pip install 'contactsync[app]'" in text
    cmds = install_commands()
    assert [argv for argv, _ in cmds] == [["app", "--demo"], ["app"]]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONTACTSYNC_WORKSPACE", raising=False)
    monkeypatch.delenv("CONTACTSYNC_PORT", raising=False)
    handed_over = []
    monkeypatch.setattr("os.execve", lambda *a: (handed_over.append(a), sys.exit(0)))
    monkeypatch.setattr("contactsync.cli._check_port", lambda ip, port: None)  # 8866 may be taken here
    for argv, printed in reversed(cmds):  # the refusal first, while workspace.duckdb does not exist
        res = CliRunner().invoke(main, argv)
        got = (res.stdout + res.stderr).rstrip("\n").split("\n")
        if argv == ["app"]:
            assert res.exit_code == 2 and got == printed
        else:
            assert res.exit_code == 0 and len(got) == len(printed) == 1
            assert got[0] == printed[0].replace("/home/me/workspace.duckdb", str(tmp_path / "workspace.duckdb"))
    assert len(handed_over) == 1
