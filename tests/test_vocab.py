"""Fixed vocabularies are enums (issue 13): the CLI's choices and the API's checks come from
``contactsync.vocab``, and the API takes a member or its text alike."""

from __future__ import annotations

import click
import pytest
from conftest import couple_two

import contactsync as cs
from contactsync import cli
from contactsync.vocab import Direction, Side, choices, sql_list


def _choices(group: click.Group):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _choices(cmd)
            continue
        for p in cmd.params:
            if isinstance(p.type, click.Choice):
                yield name, p.name, list(p.type.choices)


def test_every_direction_and_side_choice_of_the_cli_comes_from_the_enums():
    directions, sides = set(choices(Direction)), set(choices(Side))
    seen = 0
    for cmd, param, values in _choices(cli.main):
        if set(values) <= directions and len(values) >= 2:
            assert values in (choices(Direction), choices(Direction, Direction.one_way())), (cmd, param, values)
            seen += 1
        if set(values) == sides:
            assert sorted(values) == sorted(choices(Side)), (cmd, param)
    assert seen >= 3  # sync's --direction and the --sync-after options


def test_the_api_takes_a_member_or_its_text(ws):
    couple_two(ws)
    a = ws.sync(Direction.PUSH, dry_run=True)
    b = ws.sync("push", dry_run=True)
    assert (a.modified, a.unchanged) == (b.modified, b.unchanged)
    with pytest.raises(cs.SyncError, match=r"direction must be one of \('push', 'pull', 'both'\)"):
        ws.sync("sideways")


def test_sql_list_is_the_members_text():
    assert sql_list(Direction.one_way()) == "('push', 'pull')"


# -- the engine's SQL speaks only the vocabulary --------------------------------------------------------------------
ENGINE = ("sync.py", "valuemaps.py", "pipeline.py")
#: SQL words that are not a vocabulary (booleans; the update-conflict winners are contactsync.strategies')
SQL_CONSTANTS = {"true", "false"}


def _quoted_words(path):
    import ast
    import re

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for w in re.findall(r"(?<![\w'])'([a-z_]+)'(?![\w'])", node.value):
                yield node.lineno, w


def test_every_constant_in_the_engines_sql_is_a_vocabulary_member():
    """Outcomes, actions, directions, sides, entities... in the plan's SQL are members of the enums in
    contactsync.vocab (or contactsync.strategies): a misspelt 'modifed' in a CASE cannot pass unnoticed."""
    from pathlib import Path

    from contactsync import strategies, vocab

    words = {m.value for e in (vocab.Action, vocab.Direction, vocab.Side, vocab.Outcome, vocab.Todo, vocab.SkipReason,
                               vocab.Entity, vocab.ChangeOp, strategies.UpdateConflict, strategies.DeletionConflict)
             for m in e} | SQL_CONSTANTS
    pkg = Path(vocab.__file__).parent
    stray = [f"{name}:{line}: '{w}'" for name in ENGINE for line, w in _quoted_words(pkg / name) if w not in words]
    assert stray == []


def test_the_vocabulary_scan_catches_a_misspelt_outcome(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("SQL = \"SELECT CASE WHEN status = 'modifed' THEN 1 END\"\n", encoding="utf-8")
    assert [w for _, w in _quoted_words(bad)] == ["modifed"]
