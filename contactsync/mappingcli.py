"""CLI: ``contactsync mapping show|set|value-map|save|load`` and ``contactsync full-sync review|run``.

Thin over the Workspace API (contactsync.mappingops, contactsync.fullsync); ``cli.py`` attaches them with
:func:`attach`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from .cli_common import _emit, _Group, _open, _records, _table, json_option, workspace_option
from .errors import MappingError

__all__ = ["attach", "full_sync", "mapping"]


def _value(text: str):
    """An option value as TOML reads it (true, 30, "x", ["trim", "upper"], {rule = "replace", ...}); ``none``
    resets the option; anything else is text."""
    if text.strip().lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


@click.group(cls=_Group)
def mapping():
    """The workspace's mapping: field options (BC's Integration Field Mapping), transform rules, value maps."""


@mapping.command("show")
@workspace_option
@json_option
def mapping_show(workspace, as_json):
    """Every field mapping with its options, and the value maps."""
    with _open(workspace) as ws:
        df = ws.field_options()
        maps = [{"name": vm.name, **vm.to_dict()} for vm in ws.mapping.value_maps]
    cols = ["nav", "crm", "direction", "enabled", "transform", "value_map", "options"]
    text = _table(df[cols], max_rows=200) + "\nvalue maps: " + (
        ", ".join(f"{m['name']} ({m.get('builtin') or ''}{' + ' if m.get('builtin') and m.get('pairs') else ''}"
                  f"{str(len(m.get('pairs', []))) + ' pairs' if m.get('pairs') else ''})" for m in maps) or "none")
    _emit(as_json, {"fields": _records(df), "value_maps": maps}, text)


@mapping.command("set")
@workspace_option
@click.argument("field")
@click.argument("options", nargs=-1, required=True, metavar="OPTION=VALUE...")
@json_option
def mapping_set(workspace, field, options, as_json):
    """Set options of FIELD (NAV or CRM name), e.g. not_null=true, enabled=false,
    transform='["trim", {rule="replace", find="-", replace=" "}]', value_map=country, constant=none (reset)."""
    parsed = {}
    for item in options:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not OPTION=VALUE", param_hint="OPTION=VALUE")
        k, v = item.split("=", 1)
        parsed[k.strip()] = _value(v)
    with _open(workspace) as ws:
        f = ws.set_field_option(field, **parsed)
        row = ws.field_options().set_index("nav").loc[f.nav]
    _emit(as_json, {"nav": f.nav, **{k: row[k] for k in ("crm", "direction", "enabled", "transform", "value_map",
                                                         "options")}},
          f"{f.nav} <-> {f.crm}: {row['options'] or 'no options'}" + (f"; transform {row['transform']}"
                                                                      if row["transform"] else ""))


def _pairs(items, what: str):
    out = []
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not A=B", param_hint=what)
        a, b = item.split("=", 1)
        out.append((a, b))
    return out


@mapping.command("value-map")
@workspace_option
@click.argument("name")
@click.option("--pair", "pairs", multiple=True, metavar="NAV=CRM", help="A pair (repeat), e.g. --pair DE=Germany.")
@click.option("--alias", "aliases", multiple=True, metavar="CRM=NAV", help="A further CRM spelling read as NAV.")
@click.option("--builtin", type=click.Choice(["iso3166"]), help="Start from a packaged map.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Pairs from a CSV with columns nav,crm.")
@click.option("--field", help="Map this field through it.")
@json_option
def mapping_value_map(workspace, name, pairs, aliases, builtin, csv_file, field, as_json):
    """Define or replace value map NAME (and with --field, use it for that field)."""
    pair_list = _pairs(pairs, "--pair")
    if csv_file:
        import pandas as pd

        if not Path(csv_file).is_file():
            raise click.BadParameter(f"file {csv_file!r} does not exist", param_hint="--csv")
        df = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
        if not {"nav", "crm"} <= set(df.columns):
            raise MappingError(f"{csv_file!r} needs columns nav and crm; it has {list(df.columns)}")
        pair_list += list(zip(df["nav"], df["crm"]))
    with _open(workspace) as ws:
        m = ws.set_value_map(name, pair_list, aliases=_pairs(aliases, "--alias"), builtin=builtin, field=field)
        vm = m.value_map_named(name)
        fwd, back = vm.entries()
    _emit(as_json, {"name": name, "pairs": len(fwd), "crm_spellings": len(back), "field": field},
          f"value map {name}: {len(fwd)} NAV values, {len(back)} CRM spellings" + (f"; {field} uses it" if field else ""))


@mapping.command("save")
@workspace_option
@click.argument("path", type=click.Path(dir_okay=False))
def mapping_save(workspace, path):
    """Write the workspace's mapping to PATH (TOML)."""
    from .mapping import save_mapping

    with _open(workspace) as ws:
        save_mapping(ws.mapping, path)
    click.echo(f"wrote {path}")


@mapping.command("load")
@workspace_option
@click.argument("path", type=click.Path(dir_okay=False))
def mapping_load(workspace, path):
    """Replace the workspace's mapping with the one in PATH (TOML or YAML), validated against the tables."""
    with _open(workspace) as ws:
        m = ws.set_mapping(path)
    click.echo(f"mapping {m.name!r} loaded: {len(m.fields)} fields enabled, {len(m.disabled)} disabled, "
               f"{len(m.value_maps)} value map(s)")


@click.group("full-sync", cls=_Group)
def full_sync():
    """BC's Full Synchronization Review: what to do first, per entity, and the run that does it."""


@full_sync.command("review")
@workspace_option
@json_option
def full_sync_review(workspace, as_json):
    """Per entity (accounts, contacts): uncoupled records on each side and the recommendation."""
    with _open(workspace) as ws:
        df = ws.full_sync_review()
    _emit(as_json, _records(df), _table(df, colwidth=60))


@full_sync.command("run")
@workspace_option
@click.argument("entity", type=click.Choice(["accounts", "contacts"]))
@click.option("--dry-run", is_flag=True, help="Show what the run would do; write nothing.")
@json_option
def full_sync_run(workspace, entity, dry_run, as_json):
    """Carry out the recommendation for ENTITY (one undoable run)."""
    with _open(workspace) as ws:
        res = ws.run_full_sync(entity, dry_run=dry_run)
    _emit(as_json, {"entity": res.entity, "recommendation": res.recommendation, "run_id": res.run_id,
                    "coupled": res.coupled, "inserted": res.inserted, "dry_run": res.dry_run, "message": res.message},
          res.message + ("\n" + _table(res.left) if len(res.left) else ""))


def attach(main) -> None:
    main.add_command(mapping)
    main.add_command(full_sync)
