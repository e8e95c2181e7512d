"""The live commands: ``connect``, ``pull``, ``push``, ``outbox``, and ``demo --live`` (the local test server
on the sample data). Attached to the main group by :func:`attach`."""

from __future__ import annotations

import os
import signal
import sys
import time

import click

from .cli_common import _emit, _open, _records, _table, json_option, workspace_option
from .live.demo import DEMO_TOKEN, DEMO_TOKEN_ENV

__all__ = ["AUTH_KINDS", "attach", "connect", "demo_live", "outbox", "pull", "push"]

AUTH_KINDS = ["environment", "default", "device_code", "interactive", "managed_identity", "client_secret_env",
              "static_token_env"]


@click.command()
@workspace_option
@click.argument("side", type=click.Choice(["crm", "nav"]))
@click.argument("url")
@click.option("--auth", type=click.Choice(AUTH_KINDS), default="default", show_default=True,
              help="How to sign in (azure-identity); no secret is ever stored.")
@click.option("--tenant-id", help="Entra tenant (device_code, interactive, client_secret_env).")
@click.option("--client-id", help="App registration's client id.")
@click.option("--secret-env", help="The NAME of the environment variable holding the client secret or token.")
@click.option("--entity-set", default="contacts", show_default=True)
@click.option("--field", "fields", multiple=True, metavar="WS=REMOTE",
              help="NAV side: a workspace field and the endpoint's name for it (repeat; default: BC API v2.0 names).")
@click.option("--page-size", type=click.IntRange(1, 20000))
@click.option("--batch-size", type=click.IntRange(1, 1000))
@click.option("--rate-limit", type=click.IntRange(0), default=6000, show_default=True,
              help="Pace requests: at most this many per --rate-window seconds (the services' limit is 6,000 per "
                   "5 minutes per user; lower it when other clients use the same user); 0: no pacing.")
@click.option("--rate-window", type=click.IntRange(1), default=300, show_default=True, help="Seconds.")
@click.option("--rate-counts-operations", is_flag=True,
              help="Count each operation inside a $batch as one request (stricter pacing).")
@click.option("--no-test", is_flag=True, help="Keep the connection without testing it.")
@json_option
def connect(workspace, side, url, auth, tenant_id, client_id, secret_env, entity_set, fields, page_size, batch_size,
            rate_limit, rate_window, rate_counts_operations, no_test, as_json):
    """Connect SIDE (crm | nav) to its service at URL, tested first (sign-in, URL, permission, fields)."""
    from .live.connections import CUSTOM_NAV_FIELDS

    opts = {"auth": auth, "tenant_id": tenant_id, "client_id": client_id, "secret_env": secret_env,
            "entity_set": entity_set, "page_size": page_size, "batch_size": batch_size,
            "rate_window_seconds": rate_window, "rate_counts_operations": rate_counts_operations}
    if fields:
        pairs = {}
        for f in fields:
            if "=" not in f:
                raise click.BadParameter(f"{f!r} is not WS=REMOTE", param_hint="--field")
            k, _, v = f.partition("=")
            pairs[k.strip()] = v.strip()
        opts["fields"] = {**(CUSTOM_NAV_FIELDS if pairs.pop("*custom*", None) else {}), **pairs}
    with _open(workspace) as ws:
        msg = ws.connect(side, url, test=not no_test, rate_limit=rate_limit or None,
                         **{k: v for k, v in opts.items() if v is not None})
    _emit(as_json, {"side": side, "url": url, "message": msg}, msg)


def _bar(label: str):
    if not sys.stderr.isatty():
        return None, lambda *a: None
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="rec", file=sys.stderr, leave=False)

    def update(n, pages):
        bar.n = n
        bar.set_postfix_str(f"page {pages}")
        bar.refresh()

    return bar, update


@click.command()
@workspace_option
@click.argument("side", type=click.Choice(["crm", "nav"]))
@click.option("--full", is_flag=True, help="Read everything (and find records deleted remotely by a key scan).")
@json_option
def pull(workspace, side, full, as_json):
    """Bring SIDE's changes into the workspace (delta link, else modified-on watermark)."""
    bar, update = _bar(f"pull {side}")
    try:
        with _open(workspace) as ws:
            r = ws.pull(side, full=full, progress=update)
    finally:
        if bar is not None:
            bar.close()
    _emit(as_json, {"side": side, "mode": r.mode, "fetched": r.fetched, "echoes": r.echoes, "pages": r.pages,
                    "requests": r.requests, "inserted": r.imported.inserted, "updated": r.imported.updated,
                    "unchanged": r.imported.unchanged, "rejected": r.imported.rejected, "deleted": list(r.deleted),
                    "run_id": r.imported.run_id, "note": r.note}, str(r))


@click.command()
@workspace_option
@click.argument("side", type=click.Choice(["crm", "nav"]), required=False)
@click.option("--batch-size", type=click.IntRange(1, 1000))
@json_option
def push(workspace, side, batch_size, as_json):
    """Deliver the outbox (the runs' changes for live sides) to SIDE, or to both."""
    with _open(workspace) as ws:
        d = ws.deliver(side, batch_size=batch_size)
    failed = d.outcomes[d.outcomes["status"].isin(["changed_remotely", "rejected"])]
    _emit(as_json, {**d.counts(), "run_id": d.run_id, "requests": d.requests, "failures": _records(failed)},
          f"{d}\n{_table(failed[['side', 'key', 'status', 'message']]) if len(failed) else ''}".rstrip())
    if d.pending:
        sys.exit(3)


@click.command()
@workspace_option
@click.option("--status", type=click.Choice(["pending", "delivered", "changed_remotely", "rejected", "superseded"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def outbox(workspace, status, limit, as_json):
    """The outbox: each run's changes for the live sides and what delivery made of them."""
    with _open(workspace) as ws:
        df = ws.outbox(status=status, limit=limit)
    _emit(as_json, _records(df), _table(df[["item_id", "run_id", "side", "key", "op", "status", "message"]], limit))


def demo_live(workspace: str, data, as_json: bool, *, port: int = 0, seconds: float | None = None) -> None:
    """Start the local test server on the sample data, connect a new workspace to it, pull both sides and
    couple as the sample says; serve until Ctrl+C / SIGTERM (or ``seconds``)."""
    from .live.demo import prepare_live_demo
    from .live.testserver import LiveTestServer

    srv = LiveTestServer(token=DEMO_TOKEN, port=port).start()
    os.environ[DEMO_TOKEN_ENV] = DEMO_TOKEN
    try:
        pc, pn = prepare_live_demo(workspace, srv, data=data)
    except BaseException:
        srv.stop()
        raise
    info = {"workspace": workspace, "crm_url": srv.crm_url, "nav_url": srv.nav_custom_url, "token_env": DEMO_TOKEN_ENV,
            "token": DEMO_TOKEN, "crm_pulled": pc.fetched, "nav_pulled": pn.fetched}
    _emit(as_json, info,
          f"live demo: Dataverse stand-in at {srv.crm_url}, Business Central stand-in at {srv.nav_custom_url}\n"
          f"workspace {workspace}: {pc.fetched} CRM and {pn.fetched} NAV contacts pulled, sample couplings loaded\n"
          f"in another terminal: export {DEMO_TOKEN_ENV}={DEMO_TOKEN}; contactsync sync -w {workspace}; "
          f"contactsync push -w {workspace}; contactsync pull crm -w {workspace}\n"
          "serving until Ctrl+C")
    click.echo("ready", err=True)
    sys.stdout.flush()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *a: stop.update(now=True))
    end = time.monotonic() + seconds if seconds else None
    try:
        while not stop["now"] and (end is None or time.monotonic() < end):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


def attach(main: click.Group) -> None:
    for cmd in (connect, pull, push, outbox):
        main.add_command(cmd)
    demo_cmd = main.commands.get("demo")
    if demo_cmd is None:
        return
    original = demo_cmd.callback
    demo_cmd.params.append(click.Option(["--live"], is_flag=True, help="Also start local stand-ins of Dataverse and "
                                        "Business Central on the sample data and connect the workspace to them."))
    demo_cmd.params.append(click.Option(["--live-port"], type=click.IntRange(0, 65535), default=0,
                                        help="The live demo server's port (0: any free one)."))

    def demo_callback(live=False, live_port=0, **kw):
        if live:
            return demo_live(kw["workspace"], kw.get("data"), kw.get("as_json", False), port=live_port)
        return original(**kw)

    demo_cmd.callback = demo_callback
