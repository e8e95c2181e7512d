"""CLI: ``contactsync errors`` (the errors list across runs, Retry / Retry All), ``contactsync deleted`` (Find for
Deleted, Restore / Delete couplings) and ``contactsync strategies`` (update/deletion-conflict strategies).

Thin over the Workspace API (contactsync.syncerrors, contactsync.strategies); ``cli.py`` attaches them with
:func:`attach`.
"""

from __future__ import annotations

import click

from .cli_common import _emit, _open, _records, _table, json_option, workspace_option

__all__ = ["attach", "deleted", "errors", "strategies"]

UPDATE = click.Choice(["none", "send", "get"])
DELETION = click.Choice(["none", "restore", "remove_coupling"])


@click.command()
@workspace_option
@click.option("--state", type=click.Choice(["failed", "skipped"]), help="Only failed or only skipped records.")
@click.option("--retry", "retry_nos", multiple=True, metavar="NO",
              help="Retry this Skipped record (repeatable): the next run plans it again.")
@click.option("--retry-all", is_flag=True, help="Retry every record Skipped after repeated failures.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows to print (text).")
@json_option
def errors(workspace, state, retry_nos, retry_all, limit, as_json):
    """The errors list across runs (BC's Coupled Data Synchronization Errors): per coupling the latest failure or
    skip, both records, why, the run. With --retry / --retry-all: retry (one run), then list."""
    if retry_nos and retry_all:
        raise click.UsageError("give --retry NO... or --retry-all, not both")
    with _open(workspace) as ws:
        retried = None
        if retry_nos or retry_all:
            retried = ws.retry(list(retry_nos) if retry_nos else None)
        df = ws.sync_errors(state=state)
    cols = ["nav_no", "nav_name", "crm_name", "state", "reason", "run_id", "message"]
    text = (f"{retried.message} (run {retried.run_id})\n" if retried else "") + _table(df[cols], limit, 80)
    _emit(as_json, {"retried": None if retried is None else {"run_id": retried.run_id, "message": retried.message},
                    "errors": _records(df)}, text)


@click.command()
@workspace_option
@click.option("--restore", "action", flag_value="restore",
              help="Re-create each deleted side from the other and couple it (one run).")
@click.option("--remove-coupling", "action", flag_value="remove_coupling", help="Delete these couplings (one run).")
@click.option("--no", "nos", multiple=True, metavar="NO", help="Only this NAV contact No. (repeatable).")
@json_option
def deleted(workspace, action, nos, as_json):
    """Find for Deleted: couplings whose record is gone on either side; --restore or --remove-coupling acts."""
    with _open(workspace) as ws:
        res = ws.resolve_deleted(action, nos=list(nos) or None) if action else None
        df = ws.find_for_deleted()
    text = ""
    if res is not None:
        text = (f"{res.message} (run {res.run_id}: restored {res.inserted}, uncoupled {res.uncoupled})\n"
                + _table(res.deletions[["nav_no", "deleted", "action", "new_key", "message"]], colwidth=100) + "\n")
    text += "Couplings to a deleted record:\n" + _table(df)
    _emit(as_json, {"run_id": res.run_id if res else None,
                    "handled": _records(res.deletions) if res is not None else [], "deleted": _records(df)}, text)


@click.command()
@workspace_option
@click.option("--update-conflict", type=UPDATE,
              help="none = skip and report, send = NAV wins, get = CRM wins (BC's Resolve Update Conflicts).")
@click.option("--deletion-conflict", type=DELETION,
              help="none = fail, restore = re-create the deleted side, remove_coupling (BC's Resolve Deletion Conflicts).")
@click.option("--field", "fields", multiple=True, metavar="FIELD=STRATEGY",
              help="A field's own update-conflict strategy, e.g. --field E-Mail=get; FIELD=table: the table's.")
@json_option
def strategies(workspace, update_conflict, deletion_conflict, fields, as_json):
    """Show or set the mapping's conflict strategies."""
    per_field = {}
    for item in fields:
        name, sep, value = item.rpartition("=")
        if not sep or value not in ("none", "send", "get", "table"):
            raise click.BadParameter(f"{item!r} is not FIELD=none|send|get|table", param_hint="--field")
        per_field[name] = None if value == "table" else value
    with _open(workspace) as ws:
        m = ws.mapping
        if update_conflict or deletion_conflict or per_field:
            m = ws.set_strategies(update_conflict=update_conflict, deletion_conflict=deletion_conflict,
                                  fields=per_field or None)
    own = {f.nav: f.update_conflict for f in m.fields if f.update_conflict}
    data = {"update_conflict": m.update_conflict, "deletion_conflict": m.deletion_conflict, "fields": own}
    text = (f"update conflicts: {m.update_conflict}; deletion conflicts: {m.deletion_conflict}"
            + "".join(f"\n  {k}: {v}" for k, v in own.items()))
    _emit(as_json, data, text)


def attach(main: click.Group) -> None:
    for cmd in (errors, deleted, strategies):
        main.add_command(cmd)
