"""Headless sync runs: the logic behind the packaged ``sync_run.ipynb`` and ``contactsync report``.

The notebook stays thin: its first cell (tagged ``parameters``) holds :class:`SyncRunParams`'s fields,
then it calls :func:`params_from_namespace` (checks names and types before any work),
:func:`run_sync` (import -> plan -> apply unless a dry run -> summary dict, written as JSON) and the
display helpers, and :func:`check_outcome` last, which raises when the run must fail.

>>> from contactsync.report import SyncRunParams, check_params
>>> check_params({"direction": "sideways"})  # doctest: +SKIP
ParameterError: direction must be one of push, pull, both; got 'sideways'
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
import tempfile
import types
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ContactSyncError, WorkspaceBusyError
from .notebooks import SYNC_RUN
from .sync import DIRECTIONS, SyncResult

__all__ = ["EXIT_ATTENTION", "EXIT_BUSY", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_OK", "NOTEBOOK", "PARAM_NAMES",
           "ParameterError", "RunFailed", "SUMMARY_ROWS", "SyncRunParams", "changes_chart", "changes_per_field",
           "check_outcome", "check_params", "conflicts_frame", "counts_frame", "dated_folder", "errors_frame",
           "frame_records", "headline", "params_from_namespace", "planned_steps", "read_summary", "run_notebook",
           "run_sync", "select_records", "show", "sync_summary", "write_json"]

#: Exit codes shared by the CLI and ``summary["exit_code"]``.
EXIT_OK, EXIT_ATTENTION, EXIT_INPUT, EXIT_BUSY, EXIT_INTERNAL = 0, 1, 2, 3, 4

#: How many conflict / error rows a summary carries (the totals are always exact).
SUMMARY_ROWS = 500

#: The notebook a run executes by default: ``sync_run.ipynb``, shipped inside the package.
NOTEBOOK = SYNC_RUN


class ParameterError(ContactSyncError):
    """A sync-run parameter has an unknown name, a wrong type or a bad value."""


class RunFailed(ContactSyncError):
    """A sync run finished but must count as failed (conflicts or failed records, when asked)."""

    def __init__(self, message: str, summary: dict | None = None, **context):
        super().__init__(message, **context)
        self.summary = summary or {}


# -- parameters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncRunParams:
    """The parameters of one headless sync run (the ``parameters`` cell of ``sync_run.ipynb``)."""

    workspace: str = "workspace.duckdb"  # an existing workspace file (contactsync init / demo)
    nav_file: str | None = None  # NAV contacts export to import first (CSV, Parquet, Excel, JSON)
    crm_file: str | None = None  # CRM contacts export to import first
    accounts_file: str | None = None  # CRM accounts export to import first
    snapshot: bool = False  # the export files are full snapshots (flag coupled records missing from them)
    direction: str = "both"  # push (NAV -> CRM), pull (CRM -> NAV) or both
    dry_run: bool = False  # plan only: write nothing (imports go to a temporary copy)
    force: bool = False  # overwrite the destination's mapped fields (push or pull only)
    records: list[str] | None = None  # NAV No. to sync; None = all coupled contacts
    record_filter: str | None = None  # sync the coupled NAV contacts matching this search text
    create_missing: bool = False  # create and couple uncoupled records on the other side
    fail_on_conflict: bool = False  # conflicts make the run fail (after applying the rest)
    fail_on_error: bool = False  # failed records make the run fail (after applying the rest)
    output_json: str | None = "sync_run_summary.json"  # where the JSON summary goes (None: not written)
    conflicts: str | None = None  # this run's update-conflict strategy: none, send (NAV wins), get (CRM wins)
    mapping_file: str | None = None  # a mapping file (TOML/YAML: field options, transforms, value maps,
    #                                  strategies) the workspace uses from this run on (a dry run: not kept)
    live_pull: bool = False  # first pull every live side (contactsync connect): delta link / watermark
    live_deliver: bool = False  # after the sync, deliver the outbox to the live sides (counts in "delivery")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_BOOL = {"snapshot", "dry_run", "force", "create_missing", "fail_on_conflict", "fail_on_error", "live_pull",
         "live_deliver"}
_OPT_STR = {"nav_file", "crm_file", "accounts_file", "record_filter", "output_json", "conflicts", "mapping_file"}
PARAM_NAMES = tuple(f.name for f in dataclasses.fields(SyncRunParams))


def _type_name(v) -> str:
    return type(v).__name__


def check_params(values: dict | SyncRunParams | None = None, *, check_files: bool = True) -> SyncRunParams:
    """Check parameter names, types and values; return them as :class:`SyncRunParams`.

    Raises :class:`ParameterError` naming every problem (unknown names with the closest known one,
    wrong types, a bad direction, files or a workspace that do not exist) before any work is done.
    Lenient where papermill's ``-p`` is: paths may be ``Path``; ``records`` may be a comma-separated
    string; ``''`` means None for the optional strings.
    """
    if isinstance(values, SyncRunParams):
        values = values.to_dict()
    values = dict(values or {})
    problems: list[str] = []
    for name in values:
        if name not in PARAM_NAMES:
            close = difflib.get_close_matches(name, PARAM_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {name!r}{hint}")
    clean: dict[str, Any] = {}
    for name in PARAM_NAMES:
        if name not in values:
            continue
        v = values[name]
        if isinstance(v, Path):
            v = str(v)
        if name in _BOOL:
            if not isinstance(v, bool):
                problems.append(f"{name} must be True or False, got {v!r} ({_type_name(v)})")
                continue
        elif name in _OPT_STR:
            if v == "":
                v = None
            if v is not None and not isinstance(v, str):
                problems.append(f"{name} must be a path or text (str) or None, got {v!r} ({_type_name(v)})")
                continue
        elif name in ("workspace", "direction"):
            if not isinstance(v, str) or not v.strip():
                problems.append(f"{name} must be a non-empty str, got {v!r} ({_type_name(v)})")
                continue
        elif name == "records":
            if isinstance(v, str):
                v = [s.strip() for s in v.split(",") if s.strip()]
            if v is not None:
                if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) and s.strip() for s in v):
                    problems.append(f"records must be None (all coupled contacts) or a list of NAV No. (str), "
                                    f"got {v!r} ({_type_name(v)})")
                    continue
                if not v:
                    problems.append("records is an empty list: give NAV No. to sync, or None for all")
                    continue
                v = [s.strip() for s in v]
        clean[name] = v
    p = SyncRunParams(**{k: v for k, v in clean.items()})
    if "direction" in clean and p.direction not in DIRECTIONS:
        problems.append(f"direction must be one of {', '.join(DIRECTIONS)}; got {p.direction!r}")
    if p.force and p.direction == "both":
        problems.append("force=True overwrites one side with the other: choose direction 'push' or 'pull'")
    if p.conflicts is not None and p.conflicts not in ("none", "send", "get"):
        problems.append(f"conflicts must be None (the mapping's strategy), 'none', 'send' (NAV wins) or 'get' "
                        f"(CRM wins); got {p.conflicts!r}")
    if check_files:
        ws = Path(p.workspace)
        if p.workspace != ":memory:" and not ws.is_file():
            problems.append(f"workspace {p.workspace!r} does not exist; create it with `contactsync init` "
                            "(or `contactsync demo` for the sample data)")
        for name in ("accounts_file", "nav_file", "crm_file", "mapping_file"):
            f = getattr(p, name)
            if f is not None and not Path(f).is_file():
                problems.append(f"{name} {f!r} does not exist")
        if p.mapping_file is not None and Path(p.mapping_file).is_file():
            from .mapping import load_mapping

            try:  # a bad mapping is named before anything runs
                load_mapping(p.mapping_file)
            except ContactSyncError as exc:
                problems.append(f"mapping_file {p.mapping_file!r}: {exc}")
    if problems:
        raise ParameterError("bad sync-run parameters: " + "; ".join(problems), problems=problems)
    return p


def params_from_namespace(ns: dict, hidden: dict | None = None, **checks) -> SyncRunParams:
    """The parameters as a notebook holds them after papermill's injected cell: every public name in
    ``ns`` (a notebook's ``globals()``) that is not a module, function or IPython's own, checked by
    :func:`check_params` (papermill passes unknown names silently; this does not)."""
    if hidden is None:
        try:
            from IPython import get_ipython

            ip = get_ipython()
            hidden = ip.user_ns_hidden if ip is not None else {}
        except ImportError:  # pragma: no cover - IPython ships with the notebook stack
            hidden = {}
    values = {k: v for k, v in ns.items()
              if not k.startswith("_") and k not in hidden and k not in ("In", "Out", "get_ipython", "exit", "quit")
              and not isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))}
    return check_params(values, **checks)


# -- the run ----------------------------------------------------------------------------------
def frame_records(df: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """JSON-ready rows of a DataFrame (timestamps as ISO text, NaN/NaT as None)."""
    if df is None or df.empty:
        return []
    if limit is not None:
        df = df.head(limit)
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


def changes_per_field(changes: pd.DataFrame, mapping=None) -> pd.DataFrame:
    """Field changes counted per (side, field). With ``mapping``, only mapped fields count (the
    modified-on bookkeeping a sync also writes is left out)."""
    empty = pd.DataFrame({"side": pd.Series(dtype=object), "field": pd.Series(dtype=object),
                          "changes": pd.Series(dtype="int64")})
    if changes is None or changes.empty or "field" not in changes:
        return empty
    df = changes[changes["field"].notna()]
    if mapping is not None:
        mapped = {("nav", f.nav) for f in mapping.fields} | {("crm", f.crm) for f in mapping.fields}
        df = df[[(s, f) in mapped for s, f in zip(df["side"], df["field"])]]
    if df.empty:
        return empty
    out = df.groupby(["side", "field"]).size().rename("changes").reset_index()
    return out.sort_values(["changes", "side", "field"], ascending=[False, True, True]).reset_index(drop=True)


def sync_summary(result: SyncResult, *, workspace: str = "", mapping=None, params: SyncRunParams | None = None,
                 imports: dict | None = None, records: list[str] | None = None) -> dict:
    """A JSON-ready summary of a sync: counts, run id, conflicts, failures, changes per field, status."""
    counts = {**result.counts(), "coupled": result.coupled}
    per_field = changes_per_field(result.changes, mapping)
    fail_c = bool(params and params.fail_on_conflict and result.skipped)
    fail_e = bool(params and params.fail_on_error and result.failed)
    status = "failed" if fail_e else "conflicts" if fail_c else "ok"
    return {
        "status": status,
        "exit_code": EXIT_ATTENTION if status != "ok" else EXIT_OK,
        "message": result.message,
        "workspace": str(workspace),
        "run_id": result.run_id,
        "direction": result.direction,
        "dry_run": result.dry_run,
        "records": records,
        "counts": counts,
        "imports": imports or {},
        "conflicts_total": len(result.conflicts),
        "conflicts": frame_records(result.conflicts, SUMMARY_ROWS),
        "errors_total": len(result.errors),
        "errors": frame_records(result.errors, SUMMARY_ROWS),
        "changes_total": len(result.changes),
        "changes_per_field": frame_records(per_field),
        "parameters": params.to_dict() if params else None,
    }


def _import_summary(res) -> dict:
    return {"source": res.source, "inserted": res.inserted, "updated": res.updated, "unchanged": res.unchanged,
            "rejected": res.rejected, "missing": res.missing, "run_id": res.run_id,
            "ignored_columns": list(res.ignored_columns)}


def select_records(ws, p: SyncRunParams) -> list[str] | None:
    """The NAV No. a run covers: ``records``, plus the coupled contacts matching ``record_filter``."""
    if p.records is None and p.record_filter is None:
        return None
    nos = list(p.records or [])
    if p.record_filter is not None:
        found = ws.nav_contacts(search=p.record_filter, coupled=True, limit=None)
        if found.empty:
            raise ParameterError(f"record_filter {p.record_filter!r} matches no coupled NAV contact")
        nos += [str(n) for n in found[ws.mapping.nav_key]]
    return sorted(set(nos))


def write_json(summary: dict, path: str | Path | None) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def planned_steps(p: SyncRunParams) -> list[str]:
    """The steps :func:`run_sync` reports to its ``progress`` callable, in order."""
    files = [k for k in ("accounts", "nav", "crm") if getattr(p, k + "_file")]
    copy = ["copy workspace for the dry run"] if p.dry_run and files and p.workspace != ":memory:" else []
    return [*copy, *(f"import {k}" for k in files), "dry run" if p.dry_run else "sync"]


def run_sync(params: SyncRunParams | dict, *, progress=None, busy_timeout: float = 5.0) -> dict:
    """Import the given exports, plan the sync, apply it unless ``dry_run``, and return (and write to
    ``output_json``) a summary dict.

    A dry run with export files imports them into a temporary copy of the workspace, so the plan
    reflects them and the workspace stays untouched. ``progress``: optional callable taking a step
    name (the CLI passes a progress bar's update); ``busy_timeout``: seconds to wait for a workspace
    another process holds. On any :class:`ContactSyncError` the summary is
    written with ``status="error"`` and the error is raised again.
    """
    from .workspace import Workspace

    p = params if isinstance(params, SyncRunParams) else check_params(params)
    started = datetime.now()
    step = progress or (lambda name: None)
    tmpdir = None
    summary: dict
    try:
        path = p.workspace
        files = [(k, getattr(p, k + "_file")) for k in ("accounts", "nav", "crm") if getattr(p, k + "_file")]
        if p.dry_run and (files or p.mapping_file) and path != ":memory:":
            step("copy workspace for the dry run")
            tmpdir = tempfile.mkdtemp(prefix="contactsync-dry-")
            with Workspace.open(path, busy_timeout=busy_timeout) as src:
                path = str(src.backup(Path(tmpdir) / "dry_run.duckdb"))
        if p.mapping_file:
            step("load the mapping")
        with Workspace.open(path, mapping=p.mapping_file, busy_timeout=busy_timeout) as ws:
            imports = {}
            live_sides = ws.sql("SELECT side FROM live_connection ORDER BY side")["side"].tolist() \
                if (p.live_pull or p.live_deliver) else []
            for side in (live_sides if p.live_pull else []):  # a scheduled live run: pull both, sync, deliver
                step(f"pull {side}")
                imports[f"live_{side}"] = _import_summary(ws.pull(side).imported)
            for kind, f in files:
                step(f"import {kind}")
                res = getattr(ws, f"import_{kind}")(f, snapshot=p.snapshot)
                imports[kind] = _import_summary(res)
            nos = select_records(ws, p)
            step("dry run" if p.dry_run else "sync")
            result = ws.sync(p.direction, nos, force=p.force, dry_run=p.dry_run, create_missing=p.create_missing,
                             conflicts=p.conflicts)
            summary = sync_summary(result, workspace=p.workspace, mapping=ws.mapping, params=p, imports=imports,
                                   records=nos)
            if p.live_deliver and not p.dry_run and live_sides:
                step("deliver")
                d = ws.deliver()
                summary["delivery"] = {**d.counts(), "run_id": d.run_id, "requests": d.requests}
    except ContactSyncError as exc:
        summary = {"status": "error", "exit_code": EXIT_BUSY if isinstance(exc, WorkspaceBusyError)
                   else EXIT_INPUT, "message": str(exc), "error": type(exc).__name__, "workspace": p.workspace,
                   "parameters": p.to_dict(), "started_at": started.isoformat(timespec="seconds"),
                   "finished_at": datetime.now().isoformat(timespec="seconds")}
        write_json(summary, p.output_json)
        raise
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    summary["started_at"] = started.isoformat(timespec="seconds")
    summary["finished_at"] = datetime.now().isoformat(timespec="seconds")
    if p.output_json:
        summary["output_json"] = str(Path(p.output_json).resolve())
    write_json(summary, p.output_json)
    return summary


def check_outcome(summary: dict) -> dict:
    """Raise :class:`RunFailed` when the run must fail (conflicts or failed records, when asked)."""
    if summary.get("status") in ("conflicts", "failed"):
        c = summary["counts"]
        what = (f"{c['failed']} record(s) failed" if summary["status"] == "failed"
                else f"{c['skipped']} record(s) skipped on a conflict")
        run = "dry run" if summary.get("dry_run") else f"run {summary.get('run_id')}"
        raise RunFailed(f"{run} needs attention: {what} (the rest was "
                        f"{'planned' if summary.get('dry_run') else 'applied'}); see the conflicts and "
                        "failures tables", summary)
    return summary


# -- display (notebook) -----------------------------------------------------------------------
def counts_frame(summary: dict) -> pd.DataFrame:
    c = summary.get("counts", {})
    return pd.DataFrame({"records": [c.get(k, 0) for k in ("inserted", "modified", "unchanged", "skipped",
                                                          "failed", "coupled")]},
                        index=["Inserted", "Modified", "Unchanged", "Skipped", "Failed", "Coupled"])


def headline(summary: dict) -> str:
    run = "dry run (nothing written)" if summary.get("dry_run") else f"run {summary.get('run_id')}"
    return f"{summary.get('message')} - {run}, direction {summary.get('direction')}, status {summary.get('status')}"


def conflicts_frame(summary: dict) -> pd.DataFrame:
    return pd.DataFrame(summary.get("conflicts") or [],
                        columns=None if summary.get("conflicts") else ["nav_no", "crm_id", "nav_field", "crm_field",
                                                                        "nav_value", "crm_value", "base_value"])


def errors_frame(summary: dict) -> pd.DataFrame:
    return pd.DataFrame(summary.get("errors") or [],
                        columns=None if summary.get("errors") else ["nav_no", "crm_id", "message"])


def changes_chart(summary: dict):
    """Changes per field as a bar chart (a pandas Styler with in-cell bars)."""
    df = pd.DataFrame(summary.get("changes_per_field") or [], columns=["side", "field", "changes"])
    if df.empty:
        return df
    return (df.style.bar(subset=["changes"], color="#5b9bd5", vmin=0)
            .format({"changes": "{:d}"}).hide(axis="index")
            .set_caption("Field changes per side (side = the system written to)"))


def show(summary: dict) -> None:
    """Display a run's report in a notebook: headline, counts, conflicts, failures, changes chart."""
    from IPython.display import Markdown, display

    display(Markdown(f"**{headline(summary)}**"))
    display(counts_frame(summary))
    for title, frame, total in (("Conflicts (skipped, nothing overwritten)", conflicts_frame(summary),
                                 summary.get("conflicts_total", 0)),
                                ("Failed records", errors_frame(summary), summary.get("errors_total", 0))):
        shown = f" (first {len(frame)} of {total})" if total > len(frame) else ""
        display(Markdown(f"### {title}: {total}{shown}"))
        if total:
            display(frame)
    display(Markdown(f"### Changes per field ({summary.get('changes_total', 0)} field change(s))"))
    chart = changes_chart(summary)
    if isinstance(chart, pd.DataFrame) and chart.empty:
        display(Markdown("_no field changes_"))
    else:
        display(chart)


# -- running the notebook (papermill) -----------------------------------------------------------
def dated_folder(root: str | Path, now: datetime | None = None) -> Path:
    """A new ``root/YYYY-MM-DD_HHMMSS`` folder (``-2``, ``-3``... when that second is taken)."""
    root = Path(root)
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H%M%S")
    folder, n = root / stamp, 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    return folder


def run_notebook(params: dict | SyncRunParams, output_root: str | Path = "reports", *,
                 notebook: str | Path | None = None, progress_bar: bool = False,
                 kernel_name: str | None = None) -> tuple[Path, dict]:
    """Run ``sync_run.ipynb`` through papermill into a new dated folder under ``output_root``.

    Parameters are checked first (nothing runs on a bad one). Returns the executed notebook's path and
    the summary; raises :class:`RunFailed` (with ``.summary`` and ``.context["notebook"]``) when the
    notebook raised, so the executed notebook shows the error.
    """
    import papermill as pm

    p = check_params(params)
    nb = Path(notebook) if notebook is not None else NOTEBOOK
    if not nb.is_file():
        raise ParameterError(f"notebook {str(nb)!r} does not exist; pass the path of an existing notebook, or "
                             f"none for the packaged sync_run.ipynb ({str(NOTEBOOK)!r})")
    folder = dated_folder(output_root)
    out = folder / nb.name
    values = p.to_dict()
    values["output_json"] = str((folder / "summary.json").resolve())
    for k in ("workspace", "nav_file", "crm_file", "accounts_file"):
        if values[k] is not None and values[k] != ":memory:":
            values[k] = str(Path(values[k]).resolve())
    try:
        pm.execute_notebook(str(nb), str(out), parameters=values, progress_bar=progress_bar,
                            kernel_name=kernel_name, cwd=str(folder))
    except pm.PapermillExecutionError as exc:
        summary = read_summary(folder / "summary.json")
        msg = f"{exc.ename}: {exc.evalue}".strip()
        raise RunFailed(f"the sync run failed ({msg}); the executed notebook is {str(out)!r}", summary,
                        notebook=str(out)) from None
    return out, read_summary(folder / "summary.json")


def read_summary(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
