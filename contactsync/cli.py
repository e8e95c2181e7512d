"""The ``contactsync`` command line: the package's services for terminals and schedulers.

Thin by design: every command opens the workspace, calls one :class:`~contactsync.Workspace` (or
:mod:`contactsync.report`) service and prints its result as text or, with ``--json``, as JSON.

Exit codes:

* 0 - done (conflicts and failed records are reported, not fatal, unless asked);
* 1 - needs attention: conflicts (``--fail-on-conflict``) or failed records (``--fail-on-error``);
* 2 - bad usage or input: a wrong option, a missing or bad file, an unknown record, any
  contactsync error; one line on stderr;
* 3 - the workspace is busy (another process holds it): retry later;
* 4 - an unexpected internal error (a bug: rerun with ``--debug`` for the traceback).
"""

from __future__ import annotations

import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

import click
import pandas as pd

from . import report
from .cli_common import (  # shared with the command modules
    DEFAULT_WORKSPACE,
    _busy_timeout,
    _emit,
    _Group,
    _one_line,
    _open,
    _records,
    _table,
    json_option,
    workspace_option,
)
from .errors import ContactSyncError, WorkspaceError
from .report import EXIT_ATTENTION, EXIT_INTERNAL, EXIT_OK
from .vocab import Direction, Side, choices

__all__ = ["DEFAULT_WORKSPACE", "DIRECTION", "EPILOG", "IMPORT_KINDS", "app", "backup", "couple", "demo", "diff",
           "export", "import_", "init", "json_option", "main", "match", "match_accept", "match_couple", "match_suggest",
           "reindex", "report_", "restore", "runs", "sync", "uncouple", "undo", "workspace_option"]

DIRECTION = click.Choice(choices(Direction))
ONE_WAY = click.Choice(choices(Direction, Direction.one_way()))
SIDE = click.Choice(choices(Side))

EPILOG = """\b
Exit codes: 0 ok; 1 conflicts or failed records when asked to fail on them
(--fail-on-conflict, --fail-on-error); 2 bad usage or input; 3 workspace busy
(retry later); 4 internal error (rerun with --debug).
The workspace is --workspace/-w, else $CONTACTSYNC_WORKSPACE, else workspace.duckdb."""


@contextmanager
def _progress(steps: list[str], label: str):
    """A progress bar on stderr over named steps (only on a terminal, so logs stay clean)."""
    show = sys.stderr.isatty() and len(steps) > 1
    if not show:
        yield lambda name: None
        return
    from tqdm import tqdm

    bar = tqdm(total=len(steps), desc=label, unit="step", file=sys.stderr, leave=False)
    seen: list[str] = []

    def step(name: str) -> None:
        if seen:
            bar.update(1)
        seen.append(name)
        bar.set_postfix_str(name)

    try:
        yield step
        if seen:
            bar.update(1)
    finally:
        bar.close()


def _import_dict(res) -> dict:
    d = {"source": res.source, "inserted": res.inserted, "updated": res.updated, "unchanged": res.unchanged,
         "rejected": res.rejected, "run_id": res.run_id}
    if getattr(res, "missing", 0):
        d["missing"] = res.missing
    if getattr(res, "ignored_columns", ()):
        d["ignored_columns"] = list(res.ignored_columns)
    rej = getattr(res, "rejections", None)
    if rej is not None and not rej.empty:
        d["rejections"] = _records(rej)
    return d


def _action_dict(res) -> dict:
    return {"run_id": res.run_id, "message": res.message, "nav_no": res.nav_no, "crm_id": res.crm_id}


# -- the group ---------------------------------------------------------------------------------
@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="contactsync", prog_name="contactsync")
@click.option("--busy-timeout", type=click.FloatRange(min=0), default=5.0, show_default=True,
              envvar="CONTACTSYNC_BUSY_TIMEOUT", show_envvar=True,
              help="Seconds to wait for a workspace another process holds.")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.pass_context
def main(ctx: click.Context, busy_timeout: float, debug: bool):
    """Keep contacts consistent between NAV / Business Central and Dynamics CRM / Dataverse.

    A scheduled run is typically: `contactsync import nav exports/nav.csv`, then
    `contactsync sync --direction both --json`, or `contactsync report` for an executed notebook.
    """
    ctx.obj = {"busy_timeout": busy_timeout, "debug": debug}


# -- init / demo / backup / restore ------------------------------------------------------------
@main.command()
@workspace_option
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False),
              help="A mapping file (TOML or YAML) to use instead of Business Central's default.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A workspace setting, e.g. crm_base_url=https://org.crm.dynamics.com (repeatable).")
@json_option
def init(workspace, mapping, settings, as_json):
    """Create a workspace (or update an existing one's mapping and settings)."""
    from .workspace import Workspace

    pairs = []
    for s in settings:
        if "=" not in s:
            raise click.BadParameter(f"{s!r} is not KEY=VALUE", param_hint="--set")
        pairs.append(tuple(x.strip() for x in s.split("=", 1)))
    if pairs:  # check the settings before a new workspace file is created
        with Workspace.open(":memory:") as probe:
            for k, v in pairs:
                probe.settings[k] = v
    existed = Path(workspace).is_file()
    with Workspace.open(workspace, mapping=mapping, busy_timeout=_busy_timeout()) as ws:
        for k, v in pairs:
            ws.settings[k] = v
        data = {"workspace": workspace, "created": not existed, "mapping": ws.mapping.name,
                "settings": dict(ws.settings)}
    verb = "created" if not existed else "exists; updated" if (mapping or pairs) else "already exists"
    _emit(as_json, data, f"workspace {workspace} {verb} (mapping {data['mapping']})")


def _workspace_counts(ws) -> dict:
    return {"nav_contacts": ws.nav_contacts(limit=1).attrs["total"],
            "crm_contacts": ws.crm_contacts(limit=1).attrs["total"],
            "coupled_contacts": ws.nav_contacts(coupled=True, limit=1).attrs["total"]}


@main.command()
@workspace_option
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="A folder with the five sample files (default: the bundled data/).")
@json_option
def demo(workspace, data, as_json):
    """Build the sample workspace (bundled sample exports, companies and contacts coupled)."""
    from .demo import build_demo

    existed = Path(workspace).is_file()
    with build_demo(workspace, data) as ws:
        counts = _workspace_counts(ws)
    data_out = {"workspace": workspace, "created": not existed, **counts}
    _emit(as_json, data_out,
          f"demo workspace {workspace}{' (already there)' if existed else ''}: {counts['nav_contacts']} NAV "
          f"contacts, {counts['crm_contacts']} CRM contacts, {counts['coupled_contacts']} coupled")


@main.command()
@workspace_option
@click.option("--port", type=click.IntRange(1, 65535), default=8866, show_default=True, envvar="CONTACTSYNC_PORT",
              show_envvar=True, help="The port to serve the app on.")
@click.option("--ip", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--demo", is_flag=True,
              help="Create the workspace with the bundled sample data when it does not exist yet.")
@click.option("--notebook", type=click.Path(exists=True, dir_okay=False),
              help="Serve this notebook instead of the packaged steward.ipynb.")
def app(workspace, port, ip, demo, notebook):
    """Serve the steward app (Voilà) on the workspace at http://IP:PORT/ until Ctrl+C.

    Needs the app extra: pip install 'contactsync[app]'. Refuses a workspace that does not exist
    unless --demo asks to create the sample one.
    """
    from .extras import Extra, require
    from .notebooks import STEWARD

    require(Extra.APP, "voila", "ipywidgets", what="contactsync app (the steward app)")
    nb = Path(notebook) if notebook else STEWARD
    if not nb.is_file():  # an installed package that lost its data files
        raise WorkspaceError(f"the steward notebook {str(nb)!r} is missing; reinstall contactsync or pass --notebook")
    if workspace == ":memory:":
        raise click.BadParameter("the app serves a workspace file (its page runs in its own process); give a file "
                                 "name, e.g. -w steward.duckdb --demo", param_hint="--workspace")
    path = Path(workspace)
    if demo:
        from .demo import build_demo

        build_demo(path).close()  # fills a new (or empty) workspace; an existing one is left as it is
    elif not path.is_file():
        raise WorkspaceError(f"workspace {workspace!r} does not exist; pass --demo to create it with the sample data "
                             f"(`contactsync app -w {workspace} --demo`), or create it with `contactsync init -w "
                             f"{workspace}` and import your exports")
    else:
        _open(workspace).close()  # refuses a newer schema, another DuckDB file or a busy one before serving
    _check_port(ip, port)
    url = f"http://{ip}:{port}/"
    click.echo(f"Steward app: {url}  (workspace {path.resolve()}; Ctrl+C to stop)")
    sys.stdout.flush()
    env = voila_env(dict(os.environ, CONTACTSYNC_WORKSPACE=str(path.resolve())))
    argv = [sys.executable, "-m", "voila", str(nb), "--no-browser", f"--Voila.ip={ip}", f"--Voila.port={port}",
            "--Voila.port_retries=0", *VOILA_CULL_ARGS, *VOILA_TEMPLATE_ARGS]
    os.execve(sys.executable, argv, env)  # Voilà takes over this process: Ctrl+C and signals reach it


#: The page's template (contactsync/notebooks/voila/templates/contactsync): Voilà's lab template without its Font
#: Awesome CDN links (Voilà's bundle carries the icons and fonts), so the app asks nothing of the internet
VOILA_TEMPLATE_ARGS = ("--template=contactsync",)


def voila_env(env: dict) -> dict:
    """``env`` with the packaged Voilà template on ``JUPYTER_PATH`` (ahead of what was there)."""
    from .notebooks import FOLDER

    env = dict(env)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(FOLDER), env.get("JUPYTER_PATH", "")) if p)
    return env


#: A closed browser tab leaves its kernel running (240-440 MB each): Voilà culls kernels idle for 10 minutes
#: with no browser connected (checked on Voilà 0.5: "Culling 'idle' kernel ... with 0 connections").
VOILA_CULL_ARGS = ("--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
                   "--MappingKernelManager.cull_connected=False")


def _check_port(ip: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
        try:
            s.bind((ip, port))
        except OSError as exc:
            raise ContactSyncError(f"cannot serve on {ip}:{port} ({exc.strerror or exc}); the port is in use or "
                                   "the address is not this machine's: pass another --port or --ip") from None


@main.command()
@workspace_option
@click.argument("dest", type=click.Path(dir_okay=False))
@json_option
def backup(workspace, dest, as_json):
    """Write a consistent copy of the workspace to DEST (a new file)."""
    with _open(workspace) as ws:
        out = ws.backup(dest)
    _emit(as_json, {"workspace": workspace, "backup": str(out)}, f"backed up {workspace} to {out}")


@main.command()
@workspace_option
@json_option
def reindex(workspace, as_json):
    """Rebuild the contact lists' search index (after changing the workspace file with another tool)."""
    with _open(workspace) as ws:
        ws.reindex()
        counts = _workspace_counts(ws)
    _emit(as_json, {"workspace": workspace, **counts},
          f"reindexed {workspace}: {counts['nav_contacts']} NAV contacts, {counts['crm_contacts']} CRM contacts")


@main.command()
@workspace_option
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace the existing workspace with the backup.")
@json_option
def restore(workspace, backup_file, overwrite, as_json):
    """Restore BACKUP into the workspace (refuses to overwrite it without --overwrite)."""
    from .workspace import Workspace

    with Workspace.restore(backup_file, workspace, overwrite=overwrite) as ws:
        counts = _workspace_counts(ws)
    _emit(as_json, {"workspace": workspace, "restored_from": backup_file, **counts},
          f"restored {backup_file} into {workspace} ({counts['nav_contacts']} NAV contacts, "
          f"{counts['coupled_contacts']} coupled)")


# -- import ------------------------------------------------------------------------------------
IMPORT_KINDS = {"nav": "import_nav", "crm": "import_crm", "accounts": "import_accounts", "couplings": None}


@main.command("import")
@workspace_option
@click.argument("kind", type=click.Choice(list(IMPORT_KINDS)))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--snapshot", is_flag=True,
              help="The file is a full export: flag coupled records missing from it (never uncoupled).")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="raise: reject the whole file on a bad row; skip: import the good rows, report the bad.")
@click.option("--add-columns", is_flag=True, help="Add the file's unknown columns to the table.")
@click.option("--company", is_flag=True, help="couplings: company<->account pairs (No., accountid).")
@json_option
def import_(workspace, kind, files, snapshot, on_error, add_columns, company, as_json):
    """Import export FILES (CSV, Parquet, Excel, JSON) of KIND: nav, crm, accounts or couplings.

    Upserts by key. couplings: pairs No. + contactid (with --company: No. + accountid), all or nothing.
    """
    for f in files:
        if not Path(f).is_file():
            raise click.BadParameter(f"file {f!r} does not exist", param_hint="FILES")
    results = []
    with _open(workspace) as ws, ws.hold(), _progress([str(f) for f in files], f"import {kind}") as step:
        for f in files:
            step(f)
            if kind == "couplings":
                res = ws.import_couplings(f, entity="company" if company else "contact")
            else:
                res = getattr(ws, IMPORT_KINDS[kind])(f, snapshot=snapshot, on_error=on_error,
                                                       add_columns=add_columns)
            results.append(res)
    lines = []
    for r in results:
        lines.append(str(r))
        rej = getattr(r, "rejections", None)
        if rej is not None and not rej.empty:
            lines.append("rejected rows:\n" + _table(rej))
    _emit(as_json, {"workspace": workspace, "kind": kind, "imports": [_import_dict(r) for r in results]},
          "\n".join(lines))


# -- couple / uncouple -------------------------------------------------------------------------
@main.command()
@workspace_option
@click.argument("no", required=False)
@click.argument("crm_id", required=False)
@click.option("--file", "pairs_file", type=click.Path(dir_okay=False),
              help="Couple every pair in this file (No. + contactid, or No. + accountid with --company).")
@click.option("--company", is_flag=True, help="Couple a NAV company contact to a CRM account.")
@click.option("--create-new", is_flag=True, help="Create the CRM contact from NAV person NO and couple it.")
@click.option("--sync-after", type=ONE_WAY,
              help="Synchronize right after coupling: push = use the NAV data, pull = use the CRM data.")
@click.option("--replace", is_flag=True, help="Remove an existing coupling of either record first (logged).")
@json_option
def couple(workspace, no, crm_id, pairs_file, company, create_new, sync_after, replace, as_json):
    """Couple NAV contact NO to CRM contact CRM_ID (or account, with --company), or the pairs in --file."""
    if pairs_file:
        if no or crm_id or create_new:
            raise click.UsageError("give either NO CRM_ID or --file, not both")
        if not Path(pairs_file).is_file():
            raise click.BadParameter(f"file {pairs_file!r} does not exist", param_hint="--file")
        with _open(workspace) as ws:
            res = ws.import_couplings(pairs_file, entity="company" if company else "contact")
        _emit(as_json, {"workspace": workspace, **_import_dict(res)},
              f"{res.inserted} pair(s) coupled, {res.unchanged} already coupled (run {res.run_id})")
        return
    if not no:
        raise click.UsageError("give NO and CRM_ID (or NO --create-new), or --file with pairs")
    with _open(workspace) as ws:
        if company:
            if not crm_id or create_new or sync_after:
                raise click.UsageError("--company couples NO to an account id: give NO ACCOUNT_ID")
            res = ws.couple_company(no, crm_id, replace=replace)
        elif create_new:
            if crm_id:
                raise click.UsageError("give either CRM_ID or --create-new, not both")
            res = ws.couple(no, create_new=True)
        else:
            if not crm_id:
                raise click.UsageError("give the CRM contact id to couple to (CRM_ID), or --create-new")
            res = ws.couple(no, crm_id, sync_after=sync_after, replace=replace)
    _emit(as_json, _action_dict(res), f"{res.message} (run {res.run_id})")


@main.command()
@workspace_option
@click.argument("no", required=False)
@click.option("--crm-id", help="Uncouple by the CRM contact (or, with --company, account) id.")
@click.option("--company", is_flag=True, help="Uncouple a company from its CRM account.")
@json_option
def uncouple(workspace, no, crm_id, company, as_json):
    """Delete the coupling of NAV contact NO (or of --crm-id); logged and undoable."""
    if not no and not crm_id:
        raise click.UsageError("give the NAV No. or --crm-id of the coupling to delete")
    with _open(workspace) as ws:
        res = (ws.uncouple_company(no, crm_id) if company else ws.uncouple(no, crm_id))
    _emit(as_json, _action_dict(res), f"{res.message} (run {res.run_id})")


# -- sync --------------------------------------------------------------------------------------
def _sync_text(s: dict) -> str:
    c = s["counts"]
    run = "dry run, nothing written" if s["dry_run"] else f"run {s['run_id']}"
    lines = [f"{s['message']} ({run}, {s['direction']})",
             "  " + ", ".join(f"{k} {v}" for k, v in c.items())]
    if s.get("conflicts_total"):
        cf = report.conflicts_frame(s)
        done = cf["resolution"].notna() if "resolution" in cf else pd.Series(False, index=cf.index)
        if (~done).any():
            lines += [f"Conflicts ({int((~done).sum())} field(s), records skipped, nothing overwritten):",
                      _table(cf[~done][["nav_no", "nav_field", "nav_value", "crm_value"]])]
        if done.any():  # resolved by the update-conflict strategy (send: NAV won, get: CRM won)
            lines += [f"Conflicts resolved by the strategy ({int(done.sum())} field(s), both values logged):",
                      _table(cf[done][["nav_no", "nav_field", "nav_value", "crm_value", "resolution"]])]
    if s.get("errors_total"):
        lines += [f"Failed records ({s['errors_total']}):", _table(report.errors_frame(s)[["nav_no", "message"]], colwidth=100)]
    per_field = s.get("changes_per_field") or []
    if per_field:
        lines.append("Changes per field: " + ", ".join(f"{r['side']}.{r['field']} {r['changes']}"
                                                        for r in per_field))
    if s.get("status") != "ok":
        lines.append(f"status: {s['status']}")
    return "\n".join(lines)


def _records_options(f):
    f = click.option("--search", "record_filter",
                     help="Only the coupled NAV contacts matching this text (name, e-mail, phone, company).")(f)
    f = click.option("--no", "nos", multiple=True, metavar="NO",
                     help="Only this NAV contact No. (repeatable; default: all coupled contacts).")(f)
    return f


def _fail_options(f):
    f = click.option("--fail-on-error", is_flag=True, help="Exit 1 when records failed.")(f)
    f = click.option("--fail-on-conflict", is_flag=True, help="Exit 1 when records were skipped on a conflict.")(f)
    return f


@main.command()
@workspace_option
@click.option("--direction", "-d", type=DIRECTION, default="both", show_default=True,
              help="push = send NAV changes to CRM, pull = get CRM changes into NAV, both = each way.")
@click.option("--dry-run", is_flag=True, help="Plan only: show counts, conflicts and changes; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite the destination's mapped fields (push or pull only).")
@_records_options
@click.option("--create-missing", is_flag=True, help="Create and couple uncoupled records on the other side.")
@click.option("--conflicts", type=click.Choice(["none", "send", "get"]),
              help="This run's update-conflict strategy: none = skip and report, send = NAV wins, get = CRM wins "
                   "(default: the mapping's, see `contactsync strategies`).")
@_fail_options
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False),
              help="Also write the JSON summary to this file.")
@json_option
def sync(workspace, direction, dry_run, force, nos, record_filter, create_missing, conflicts, fail_on_conflict,
         fail_on_error, summary_path, as_json):
    """Synchronize coupled contacts (incremental; conflicts are skipped and reported)."""
    values = {"workspace": workspace, "direction": direction, "dry_run": dry_run, "force": force,
              "records": list(nos) or None, "record_filter": record_filter, "create_missing": create_missing,
              "fail_on_conflict": fail_on_conflict, "fail_on_error": fail_on_error, "output_json": summary_path,
              "conflicts": conflicts}
    p = _check(values)
    with _progress(report.planned_steps(p), "sync") as step:
        summary = report.run_sync(p, progress=step, busy_timeout=_busy_timeout())
    _emit(as_json, summary, _sync_text(summary))
    sys.exit(summary["exit_code"])


def _check(values: dict) -> report.SyncRunParams:
    """Parameters checked as the notebook checks them; a missing workspace gets the CLI's wording."""
    path = values["workspace"]
    if path != ":memory:" and not Path(path).is_file():
        _open(path)  # raises the workspace-does-not-exist error
    return report.check_params(values)


# -- diff / runs / undo / export ---------------------------------------------------------------
@main.command()
@workspace_option
@click.argument("nos", nargs=-1, metavar="[NO]...")
@click.option("--all-fields", is_flag=True, help="With one NO: every mapped field side by side, not only differences.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows to print (text).")
@json_option
def diff(workspace, nos, all_fields, limit, as_json):
    """The coupled pairs' differing fields (all pairs, or NAV contacts NO...)."""
    with _open(workspace) as ws:
        for n in nos:
            ws.nav_contact(n)  # an unknown No. is an error, not an empty diff
        if all_fields:
            if len(nos) != 1:
                raise click.UsageError("--all-fields needs exactly one NO")
            df = ws.compare(nos[0])
        else:
            df = ws.differences(list(nos) if nos else None)
    if all_fields:
        text = _table(df, limit)
    else:
        pairs = df[["nav_no", "crm_id"]].drop_duplicates().shape[0] if not df.empty else 0
        text = f"{len(df)} differing field(s) in {pairs} coupled pair(s)\n" + _table(df, limit)
    _emit(as_json, _records(df), text)


@main.command()
@workspace_option
@click.argument("run_id", type=int, required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The last N runs.")
@json_option
def runs(workspace, run_id, limit, as_json):
    """The run history (last N runs), or RUN_ID's field changes, conflicts and errors."""
    with _open(workspace) as ws:
        if run_id is None:
            df = ws.runs().tail(limit)
            cols = [c for c in ("run_id", "kind", "direction", "started_at", "dry_run", "inserted", "modified",
                                "unchanged", "skipped", "failed", "coupled", "uncoupled", "undone", "note")
                    if c in df.columns]
            _emit(as_json, _records(df), _table(df[cols], limit))
            return
        changes, conflicts, errors = ws.changes(run_id), ws.conflicts(run_id), ws.errors(run_id)
        info = ws.runs().query("run_id == @run_id")
    data = {"run": _records(info)[0], "changes": _records(changes), "conflicts": _records(conflicts),
            "errors": _records(errors)}
    text = "\n".join([_table(info, 1), f"Changes ({len(changes)}):", _table(changes),
                      f"Conflicts ({len(conflicts)}):", _table(conflicts), f"Errors ({len(errors)}):",
                      _table(errors)])
    _emit(as_json, data, text)


@main.command()
@workspace_option
@click.argument("run_id", type=int)
@json_option
def undo(workspace, run_id, as_json):
    """Undo run RUN_ID where its records have not changed since (else refuse, naming them)."""
    with _open(workspace) as ws:
        res = ws.undo(run_id)
    _emit(as_json, {"run_id": res.run_id, "undone": run_id, "message": res.message},
          f"{res.message} (run {res.run_id})")


@main.command()
@workspace_option
@click.argument("side", type=SIDE)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--since-run", type=int, help="Only records changed by runs after this one.")
@click.option("--neutralize", is_flag=True, help="Prefix cells a spreadsheet would run as a formula with '.")
@click.option("--overwrite", is_flag=True, help="Replace PATH if it exists (else an existing file is refused).")
@json_option
def export(workspace, side, path, since_run, neutralize, overwrite, as_json):
    """Write SIDE's (nav or crm) records created or modified by syncs to PATH (.csv, .parquet, .xlsx, .json)."""
    with _open(workspace) as ws:
        res = ws.export_changes(side, path, since_run, neutralize=neutralize, overwrite=overwrite)
    _emit(as_json, {"path": str(res.path), "rows": res.rows, "formula_cells": [list(c) for c in res.formula_cells],
                    "neutralized": res.neutralized}, _one_line(res))


# -- report (papermill) ------------------------------------------------------------------------
@main.command("report")
@workspace_option
@click.option("--nav-file", type=click.Path(dir_okay=False), help="NAV contacts export to import first.")
@click.option("--crm-file", type=click.Path(dir_okay=False), help="CRM contacts export to import first.")
@click.option("--accounts-file", type=click.Path(dir_okay=False), help="CRM accounts export to import first.")
@click.option("--snapshot", is_flag=True, help="The export files are full snapshots.")
@click.option("--direction", "-d", type=DIRECTION, default="both", show_default=True)
@click.option("--dry-run", is_flag=True, help="Plan only; write nothing (imports go to a temporary copy).")
@click.option("--force", is_flag=True, help="Overwrite the destination's mapped fields (push or pull only).")
@_records_options
@click.option("--create-missing", is_flag=True, help="Create and couple uncoupled records on the other side.")
@_fail_options
@click.option("--output-dir", "-o", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Each run goes to a new dated folder under this one.")
@click.option("--notebook", type=click.Path(exists=True, dir_okay=False),
              help="The notebook to run (default: sync_run.ipynb, shipped in the package).")
@json_option
def report_(workspace, nav_file, crm_file, accounts_file, snapshot, direction, dry_run, force, nos, record_filter,
            create_missing, fail_on_conflict, fail_on_error, output_dir, notebook, as_json):
    """Run the sync_run notebook through papermill into OUTPUT_DIR/<date_time>/ (notebook + summary.json)."""
    values = {"workspace": workspace, "nav_file": nav_file, "crm_file": crm_file, "accounts_file": accounts_file,
              "snapshot": snapshot, "direction": direction, "dry_run": dry_run, "force": force,
              "records": list(nos) or None, "record_filter": record_filter, "create_missing": create_missing,
              "fail_on_conflict": fail_on_conflict, "fail_on_error": fail_on_error}
    _check(values)
    try:
        out, summary = report.run_notebook(values, output_dir, notebook=notebook, progress_bar=sys.stderr.isatty())
    except report.RunFailed as exc:
        summary = exc.summary
        code = summary.get("exit_code", EXIT_INTERNAL) if summary else EXIT_INTERNAL
        if as_json:
            _emit(True, {**summary, "notebook": exc.context.get("notebook"), "error": _one_line(exc)})
        click.echo(f"contactsync: error: {_one_line(exc)}", err=True)
        sys.exit(code or EXIT_ATTENTION)
    summary = {**summary, "notebook": str(out)}
    _emit(as_json, summary, _sync_text(summary) + f"\nnotebook: {out}\nsummary: {out.parent / 'summary.json'}")
    sys.exit(summary.get("exit_code", EXIT_OK))


# -- match -------------------------------------------------------------------------------------
# Match-based coupling (contactsync.matching, wired through Workspace.match_couple,
# suggest_couplings and couple_matches). The CLI stays thin: options in, one service call, output.
@main.group(cls=_Group)
def match():
    """Couple uncoupled records by matching: exact rules (BC's match-based coupling) or scored suggestions."""


@match.command("couple")
@workspace_option
@click.option("--on", "groups", multiple=True, required=True, metavar="FIELD[,FIELD...]",
              help="A priority group of fields that must all match (repeatable, tried in order), "
                   "e.g. --on E-Mail --on 'First Name,Surname'.")
@click.option("--side", type=SIDE, default="nav", show_default=True,
              help="Whose uncoupled records look for a partner.")
@click.option("--case-sensitive", is_flag=True, help="Match letter case too (default: ignore it).")
@click.option("--no", "keys", multiple=True, metavar="KEY", help="Only this record of --side (repeatable).")
@click.option("--create-new", is_flag=True, help="Create a partner for records nothing matches.")
@click.option("--sync-after", type=ONE_WAY, help="Synchronize the new couplings.")
@click.option("--dry-run", is_flag=True, help="Show what would be coupled; write nothing.")
@json_option
def match_couple(workspace, groups, side, case_sensitive, keys, create_new, sync_after, dry_run, as_json):
    """Couple records with exactly one uncoupled match (as Business Central does; never a guess)."""
    glist = [[f.strip() for f in g.split(",") if f.strip()] for g in groups]
    with _open(workspace) as ws:
        res = ws.match_couple(glist, case_sensitive=case_sensitive, side=side, keys=list(keys) or None,
                              create_new=create_new, sync_after=sync_after, dry_run=dry_run)
    data = {"run_id": res.run_id, "dry_run": dry_run, "coupled": res.coupled, "created": res.created,
            "not_coupled": res.not_coupled, "reasons": res.reasons, "failed": res.failed,
            "message": res.message, "details": _records(res.details)}
    coupled = res.details[res.details["status"] != "not coupled"] if "status" in res.details else res.details
    run = "dry run, nothing written" if dry_run else f"run {res.run_id}"
    _emit(as_json, data, f"{res.message} ({run})\n" + _table(coupled))


@match.command("suggest")
@workspace_option
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Score from which a unique best pair counts as a match.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Leave out pairs scoring less.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="Candidates per record.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the suggestions to this CSV with an 'accept' column to review, then `match accept`.")
@json_option
def match_suggest(workspace, threshold, min_score, top, out_path, as_json):
    """Scored coupling suggestions between uncoupled NAV persons and CRM contacts (for review)."""
    with _open(workspace) as ws:
        df = ws.suggest_couplings(threshold=threshold, min_score=min_score, top=top)
    if out_path:
        if not Path(out_path).parent.exists():
            raise click.BadParameter(f"folder {str(Path(out_path).parent)!r} does not exist", param_hint="--out")
        df.assign(accept=df.get("match", False)).to_csv(out_path, index=False)
    cols = [c for c in ("nav_no", "crm_id", "score", "suggested", "match", "nav_name", "crm_name", "reasons")
            if c in df.columns]
    n_match = int(df["match"].sum()) if "match" in df else 0
    text = f"{len(df)} suggestion(s), {n_match} match(es) at score >= {threshold}\n" + _table(df[cols])
    if out_path:
        text += f"\nwrote {out_path}: set accept to true/false, then `contactsync match accept {out_path}`"
    _emit(as_json, _records(df), text)


@match.command("accept")
@workspace_option
@click.argument("pairs_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--sync-after", type=ONE_WAY, help="Synchronize the new couplings.")
@json_option
def match_accept(workspace, pairs_file, sync_after, as_json):
    """Couple the accepted pairs of a reviewed suggestions FILE (rows whose accept is true), all or nothing."""
    if not Path(pairs_file).is_file():
        raise click.BadParameter(f"file {pairs_file!r} does not exist", param_hint="FILE")
    try:
        pairs = pd.read_csv(pairs_file, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{pairs_file!r} is not a readable CSV: {_one_line(exc)}", param_hint="FILE") from None
    with _open(workspace) as ws:
        res = ws.couple_matches(pairs, sync_after=sync_after)
    _emit(as_json, {"run_id": res.run_id, "coupled": res.coupled, "unchanged": res.unchanged}, str(res))


from .mappingcli import attach as _attach_mapping  # noqa: E402  (mapping, full-sync: needs the helpers above)

_attach_mapping(main)
from .cli_live import attach as _attach_live  # noqa: E402  (connect, pull, push, outbox, demo --live)

_attach_live(main)
from .cli_sync import attach as _attach_sync  # noqa: E402  (errors, deleted, strategies)

_attach_sync(main)

if __name__ == "__main__":  # pragma: no cover
    main()
