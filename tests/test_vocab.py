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
