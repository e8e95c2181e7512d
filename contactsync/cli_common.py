"""What every ``contactsync`` command module shares: the error-to-exit-code group, the workspace and
``--json`` options, opening the workspace, and printing results. ``cli.py`` and the command modules
it attaches (``mappingcli``, ``cli_sync``, ``cli_live``) import it, so none of them imports another
(``python -m contactsync.cli`` and importing a command module first both work)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from . import report
from .errors import ContactSyncError, WorkspaceBusyError, WorkspaceError
from .report import EXIT_BUSY, EXIT_INPUT, EXIT_INTERNAL

__all__ = ["DEFAULT_WORKSPACE", "json_option", "workspace_option"]

DEFAULT_WORKSPACE = "workspace.duckdb"


# -- errors: one line on stderr, never a traceback ---------------------------------------------
# the core's messages name Python keywords; on the command line they are options
_CLI_WORDS = {"overwrite=True": "--overwrite", "create_missing=True": "--create-missing",
              "neutralize=True": "--neutralize", "replace=True": "--replace"}


def _one_line(text) -> str:
    text = " ".join(str(text).split())
    for py, cli in _CLI_WORDS.items():
        text = text.replace(py, cli)
    return text


class _Group(click.Group):
    """A click group that turns every contactsync error into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except WorkspaceBusyError as exc:
            _fail(exc, EXIT_BUSY)
        except ContactSyncError as exc:
            _fail(exc, EXIT_INPUT)
        except Exception as exc:  # a bug: one line unless --debug
            if (ctx.obj or {}).get("debug"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
                  EXIT_INTERNAL)


def _fail(err, code: int):
    click.echo(f"contactsync: error: {_one_line(err)}", err=True)
    sys.exit(code)


# -- shared options and helpers ----------------------------------------------------------------
def workspace_option(f):
    return click.option("-w", "--workspace", "workspace", envvar="CONTACTSYNC_WORKSPACE", default=DEFAULT_WORKSPACE,
                        show_default=True, show_envvar=True, type=click.Path(dir_okay=False),
                        help="The workspace file (DuckDB).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for scripts).")(f)


def _busy_timeout() -> float:
    ctx = click.get_current_context()
    return float((ctx.find_root().obj or {}).get("busy_timeout", 5.0))


def _open(path: str, *, create: bool = False):
    """Open the workspace; refuse (instead of creating an empty one) unless ``create``."""
    from .workspace import Workspace

    if not create and path != ":memory:" and not Path(path).is_file():
        raise WorkspaceError(f"workspace {path!r} does not exist; create it with `contactsync init -w {path}` "
                             f"(or `contactsync demo -w {path}` for the sample data), or set "
                             "--workspace / CONTACTSYNC_WORKSPACE")
    return Workspace.open(path, busy_timeout=_busy_timeout())


def _emit(as_json: bool, data, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif text:
        click.echo(text)


def _table(df: pd.DataFrame, max_rows: int = 20, colwidth: int = 40) -> str:
    if df is None or df.empty:
        return "  (none)"
    more = f"\n  ... {len(df) - max_rows} more (use --json for all)" if len(df) > max_rows else ""
    return df.head(max_rows).to_string(index=False, max_colwidth=colwidth) + more


def _records(df: pd.DataFrame) -> list[dict]:
    return report.frame_records(df)
