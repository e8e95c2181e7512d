"""Building blocks shared by the steward views: escaping, a clickable row table, messages, confirmations.

Every piece of text that comes from data goes through :func:`esc` before it reaches an HTML widget.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import ipywidgets as w
import pandas as pd

from ..errors import ContactSyncError

__all__ = ["COUPLED_OPTIONS", "COUPLED_VALUES", "Column", "Confirm", "ContactList", "Debounce", "Messages", "Pager",
           "Progress", "RowTable", "STYLE", "button", "clear_area", "close_tree", "esc", "guarded", "html_table", "live_widgets",
           "message_html", "REVEAL", "text", "yes_no"]

STYLE = """
<style>
.cs-app { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; font-size: 13px; }
.cs-app .widget-html-content, .cs-app .widget-label { font-size: 13px; }
.cs-title { font-size: 16px; font-weight: 600; margin: 4px 0 2px 0; }
.cs-hint { color: #555; }
.cs-grid { display: grid; column-gap: 10px; align-items: center; line-height: 18px; }
.cs-grid > div { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cs-head { font-weight: 600; border-bottom: 2px solid #c8d0da; color: #223; padding: 2px 0; }
.cs-row { border-bottom: 1px solid #eef0f3; }
.cs-row:hover { background: #f3f7fc; }
.cs-row.cs-selected { background: #dcebfb; }
.cs-row .widget-checkbox { width: 28px; }
.cs-msg-ok { color: #135e13; background: #eaf7ea; border-left: 4px solid #2e9a2e; padding: 4px 8px; }
.cs-msg-warn { color: #6a4a00; background: #fff6dd; border-left: 4px solid #e0a800; padding: 4px 8px; }
.cs-msg-error { color: #8a1010; background: #fdecec; border-left: 4px solid #c62828; padding: 4px 8px;
                white-space: pre-wrap; }
.cs-msg-info { color: #123a63; background: #eaf2fb; border-left: 4px solid #3b7dd8; padding: 4px 8px; }
table.cs-t { border-collapse: collapse; margin: 4px 0; }
table.cs-t th { text-align: left; background: #f1f4f8; border-bottom: 2px solid #c8d0da; padding: 3px 8px; }
table.cs-t td { border-bottom: 1px solid #eef0f3; padding: 3px 8px; vertical-align: top; }
table.cs-t tr.cs-diff td { background: #fff3cd; }
table.cs-t td.cs-num { text-align: right; }
.cs-yes { color: #135e13; font-weight: 600; }
.cs-no { color: #888; }
.cs-box { border: 1px solid #d5dbe3; border-radius: 4px; padding: 6px 10px; margin: 6px 0; }
.cs-bar { background: #3b7dd8; height: 14px; display: inline-block; vertical-align: middle; }
.cs-card-fields { display: grid; grid-template-columns: 170px 1fr 170px 1fr; column-gap: 12px; row-gap: 2px; }
.cs-card-fields .k { color: #555; }
.cs-tabs .lm-TabBar-tab, .cs-tabs .p-TabBar-tab { flex: 0 0 auto !important; min-width: 0 !important;
  max-width: none !important; padding: 0 14px !important; }
.cs-tabs .lm-TabBar-tabLabel, .cs-tabs .p-TabBar-tabLabel { overflow: visible !important; }
.cs-tabs > .lm-TabBar .lm-TabBar-content, .cs-tabs > .p-TabBar .p-TabBar-content { flex-wrap: wrap !important; }
.cs-tabs > .lm-TabBar, .cs-tabs > .p-TabBar { height: auto !important; max-height: none !important; }
.cs-busy { pointer-events: none; opacity: 0.45; }
.cs-group { border-top: 1px solid #d5dbe3; margin-top: 6px; padding-top: 4px; }
</style>
"""


def esc(value) -> str:
    """Text from data, safe inside HTML (``None``/NaN show as empty)."""
    return html.escape(text(value), quote=True)


def text(value) -> str:
    """A value as plain text (``None``/NaN/NA as empty; date-times to the second, midnight as a date)."""
    if isinstance(value, str):  # the common case, first (a page of the grid calls this thousands of times)
        return value
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "isoformat") and hasattr(value, "hour") and not hasattr(value, "year"):  # a time
        return value.strftime("%H:%M:%S")
    return str(value)


def close_tree(widget: w.Widget) -> None:
    """Close ``widget``, its children (recursively) and their layouts and styles: a replaced widget no longer
    lives in the kernel (``Widget.close`` alone leaves the children, the layout and the style behind)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for attr in ("layout", "style"):
        sub = getattr(widget, attr, None)
        if isinstance(sub, w.Widget):
            sub.close()
    widget.close()


def clear_area(box: w.Box) -> None:
    """Empty a container a view shows panels in, closing what it held (its whole tree: nothing lingers)."""
    old = list(box.children)
    box.children = []
    for child in old:
        close_tree(child)


def live_widgets() -> int:
    """How many widgets the kernel holds (for leak checks)."""
    from ipywidgets.widgets import widget as _widget

    return len(_widget._instances)


#: a constant snippet that scrolls its message into view when the browser draws it (an image that cannot load runs
#: its onerror once per new value: works in Voilà and JupyterLab, no request leaves the page); data never goes in it
REVEAL = ('<img class="cs-reveal" alt="" src="data:," style="display:none" onerror="var e=this.parentNode;'
          "if(e&&e.scrollIntoView){e.scrollIntoView({block:'nearest',behavior:'smooth'})}\">")


def message_html(msg: str, kind: str = "info", reveal: bool = False) -> str:
    """A message box; ``reveal``: it scrolls itself into view when shown (errors, warnings, questions)."""
    return f'<div class="cs-msg-{kind}">{esc(msg)}{REVEAL if reveal else ""}</div>'


class Messages(w.HTML):
    """Where a view says what happened: success, warnings, errors (never a traceback)."""

    def __init__(self, **kw):
        super().__init__(value="", **kw)
        self.add_class("cs-message")
        self.kind = ""
        self.text = ""

    def show(self, msg: str, kind: str = "info") -> None:
        self.kind, self.text = kind, str(msg)
        self.value = message_html(msg, kind, reveal=kind in ("error", "warn", "ok"))

    def ok(self, msg: str) -> None:
        self.show(msg, "ok")

    def warn(self, msg: str) -> None:
        self.show(msg, "warn")

    def error(self, msg: str) -> None:
        self.show(msg, "error")

    def clear(self) -> None:
        self.kind, self.text, self.value = "", "", ""


class Progress(w.HBox):
    """Shown while a long action runs."""

    def __init__(self):
        self.bar = w.IntProgress(value=0, min=0, max=10, bar_style="info", layout=w.Layout(width="160px"))
        self.label = w.Label("")
        super().__init__([self.bar, self.label], layout=w.Layout(display="none"))
        self.add_class("cs-progress")

    def start(self, what: str) -> None:
        self.label.value = what
        self.bar.value = 3
        self.layout.display = "flex"

    def step(self, value: int) -> None:
        self.bar.value = value

    def stop(self) -> None:
        self.bar.value = 10
        self.layout.display = "none"


def guarded(messages_attr: str = "messages", progress: str | None = None):
    """Decorate a view method: a :class:`ContactSyncError` (or any error) is shown in the view's messages,
    never raised into the notebook as a traceback. ``progress``: text shown while it runs."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kw):
            msgs: Messages = getattr(self, messages_attr)
            prog: Progress | None = getattr(self, "progress", None) if progress else None
            if prog is not None:
                prog.start(progress)
            try:
                return fn(self, *args, **kw)
            except ContactSyncError as exc:
                msgs.error(str(exc))
            except Exception as exc:  # noqa: BLE001 - a steward sees a message, not a traceback
                msgs.error(f"Unexpected error ({type(exc).__name__}): {exc}")
            finally:
                if prog is not None:
                    prog.stop()
            return None

        return wrapper

    return deco


class Confirm(w.VBox):
    """An inline confirmation: a question with Yes / No. ``ask(question, on_yes)``."""

    def __init__(self):
        self.question = w.HTML()
        self.yes = w.Button(description="Yes", button_style="warning", layout=w.Layout(width="90px"))
        self.no = w.Button(description="No", layout=w.Layout(width="90px"))
        self.yes.add_class("cs-confirm-yes")
        self.no.add_class("cs-confirm-no")
        super().__init__([self.question, w.HBox([self.yes, self.no])], layout=w.Layout(display="none"))
        self.add_class("cs-confirm")
        self.add_class("cs-box")
        self._on_yes: Callable[[], None] | None = None
        self.yes.on_click(lambda _b: self._answer(True))
        self.no.on_click(lambda _b: self._answer(False))

    @property
    def is_open(self) -> bool:
        return self.layout.display != "none"

    def ask(self, question: str, on_yes: Callable[[], None]) -> None:
        self.question.value = message_html(question, "warn", reveal=True)
        self._on_yes = on_yes
        self.layout.display = "flex"
        self.no.focus()  # the question takes focus (No: Enter never confirms by accident)

    def close_box(self) -> None:
        self._on_yes = None
        self.layout.display = "none"

    def _answer(self, yes: bool) -> None:
        action = self._on_yes
        self.close_box()
        if yes and action is not None:
            action()


class Column:
    """A table column: ``key`` in the rows, a ``title``, a CSS width and an optional formatter to HTML."""

    def __init__(self, key: str, title: str, width: str = "1fr", fmt: Callable | None = None):
        self.key, self.title, self.width, self.fmt = key, title, width, fmt

    def tip(self, row) -> str:
        """The cell's full text, for the tooltip of a cell cut by its width (lists as lines)."""
        value = row.get(self.key) if hasattr(row, "get") else row[self.key]
        if isinstance(value, (list, tuple)):
            return "\n".join(text(v) for v in value)
        return "" if isinstance(value, bool) else text(value)

    def cell(self, row) -> str:
        value = row.get(self.key) if hasattr(row, "get") else row[self.key]
        if self.fmt is not None:
            return self.fmt(value, row)
        return esc(value)


#: the modified-at columns a run stamps, by side, as a steward reads them
STAMP_LABELS = {"modifiedon": "Modified On", "SystemModifiedAt": "Modified On",
                "Last Date Modified": "Last Date Modified", "Last Time Modified": "Last Time Modified"}


def field_labels(mapping) -> dict[str, str]:
    """A change's field as a steward names it: a CRM column by its NAV field's name (``emailaddress1`` →
    ``E-Mail``), a modified-at stamp as "Modified On"; other names as they are."""
    labels = dict(STAMP_LABELS)
    labels.update({f.crm: f.nav for f in mapping.fields if f.crm})
    return labels


def yes_no(value, _row=None) -> str:
    return '<span class="cs-yes">Yes</span>' if bool(value) and text(value) not in ("", "False") \
        else '<span class="cs-no">No</span>'


class RowTable(w.VBox):
    """A table whose rows are clickable in the browser: each row is a check box plus the row's cells (HTML,
    escaped). ``selected`` holds the chosen keys; ``multi=False`` keeps at most one. Rows carry the CSS class
    ``cs-row`` and the check box ``cs-row-select``; ``checkboxes[key]`` finds a row's check box by key."""

    def __init__(self, columns: Sequence[Column], key: str, *, multi: bool = False,
                 on_select: Callable[[tuple], None] | None = None, empty: str = "Nothing to show."):
        self.columns = list(columns)
        self.key = key
        self.multi = multi
        self.on_select = on_select
        self.empty = empty
        self.rows: list[dict] = []
        self.checkboxes: dict[str, w.Checkbox] = {}
        self.row_boxes: dict[str, w.HBox] = {}
        self.selected: tuple = ()
        self._quiet = False
        self.header = w.HTML(layout=w.Layout(flex="1 1 0%", min_width="0"))
        self.header_box = w.HBox([w.HTML(layout=w.Layout(width="28px")), self.header])
        super().__init__([])
        self.add_class("cs-table")

    def _template(self) -> str:
        # minmax(0, …fr): a long value is cut (with its tooltip), and every row keeps the header's columns
        return " ".join(f"minmax(0, {c.width})" if c.width.endswith("fr") else c.width for c in self.columns)

    def set_rows(self, rows: pd.DataFrame | Iterable[dict], keep_selection: bool = True) -> None:
        if isinstance(rows, pd.DataFrame):
            rows = rows.to_dict("records")
        self.rows = list(rows)
        keys = [text(r[self.key]) for r in self.rows]
        keep = tuple(k for k in self.selected if k in keys) if keep_selection else ()
        tpl = self._template()
        self.header.value = (f'<div class="cs-grid cs-head" style="grid-template-columns: {tpl}">'
                             + "".join(f"<div>{esc(c.title)}</div>" for c in self.columns) + "</div>")
        for old in self.children:
            if old is not self.header_box:
                close_tree(old)
        self.checkboxes, self.row_boxes = {}, {}
        children = [self.header_box]
        for key, row in zip(keys, self.rows):
            cb = w.Checkbox(value=key in keep, indent=False, layout=w.Layout(width="28px"))
            cb.add_class("cs-row-select")
            cells = w.HTML(f'<div class="cs-grid" style="grid-template-columns: {tpl}">'
                           + "".join(f'<div title="{esc(c.tip(row))}">{c.cell(row)}</div>' for c in self.columns)
                           + "</div>",
                           layout=w.Layout(flex="1 1 0%", min_width="0"))
            box = w.HBox([cb, cells], layout=w.Layout(align_items="center"))
            box.add_class("cs-row")
            if key in keep:
                box.add_class("cs-selected")
            cb.observe(functools.partial(self._toggled, key), names="value")
            self.checkboxes[key] = cb
            self.row_boxes[key] = box
            children.append(box)
        if not self.rows:
            children.append(w.HTML(f'<div class="cs-hint">{esc(self.empty)}</div>'))
        self.children = children
        changed = keep != self.selected
        self.selected = keep
        if changed and self.on_select:
            self.on_select(self.selected)

    def _toggled(self, key: str, change) -> None:
        if self._quiet:
            return
        self._quiet = True
        try:
            if change["new"]:
                if self.multi:
                    sel = tuple(k for k in self.checkboxes if k in self.selected or k == key)
                else:
                    for k, cb in self.checkboxes.items():
                        if k != key and cb.value:
                            cb.value = False
                    sel = (key,)
            else:
                sel = tuple(k for k in self.selected if k != key)
            for k, box in self.row_boxes.items():
                (box.add_class if k in sel else box.remove_class)("cs-selected")
            self.selected = sel
        finally:
            self._quiet = False
        if self.on_select:
            self.on_select(self.selected)

    def select(self, *keys: str) -> None:
        """Select rows by key (as a click would)."""
        for k in keys:
            if k not in self.checkboxes:
                raise KeyError(f"no row {k!r} on this page")
        if not self.multi and len(keys) > 1:
            raise ValueError("this table selects one row")
        for k, cb in self.checkboxes.items():
            if k not in keys and cb.value:
                cb.value = False
        for k in keys:
            self.checkboxes[k].value = True

    def select_all(self, on: bool = True) -> None:
        for cb in self.checkboxes.values():
            cb.value = on

    def row(self, key: str) -> dict | None:
        for r in self.rows:
            if text(r[self.key]) == key:
                return r
        return None


def html_table(df: pd.DataFrame, columns: Sequence[tuple[str, str]] | None = None, *,
               highlight: str | None = None, numeric: Iterable[str] = (), max_rows: int = 500,
               css_class: str = "") -> str:
    """A read-only HTML table of ``df`` (every value escaped); rows where ``highlight`` is true get
    ``cs-diff``."""
    if columns is None:
        columns = [(c, c) for c in df.columns]
    numeric = set(numeric)
    head = "".join(f"<th>{esc(t)}</th>" for _, t in columns)
    body = []
    for rec in df.head(max_rows).to_dict("records"):
        cls = ' class="cs-diff"' if highlight and bool(rec.get(highlight)) else ""
        tds = "".join(f'<td{" class=cs-num" if c in numeric else ""}>{esc(rec.get(c))}</td>' for c, _ in columns)
        body.append(f"<tr{cls}>{tds}</tr>")
    more = (f'<div class="cs-hint">{len(df) - max_rows} more row(s) not shown.</div>'
            if len(df) > max_rows else "")
    return f'<table class="cs-t {css_class}"><tr>{head}</tr>{"".join(body)}</table>{more}'


class Pager(w.HBox):
    """Previous / Next with "1–15 of 240"; the view asks for ``limit``/``offset`` from DuckDB."""

    def __init__(self, page_size: int, on_change: Callable[[], None]):
        self.page_size = page_size
        self.offset = 0
        self.total = 0
        self.prev = w.Button(description="◀ Previous", layout=w.Layout(width="110px"))
        self.next = w.Button(description="Next ▶", layout=w.Layout(width="110px"))
        self.prev.add_class("cs-prev")
        self.next.add_class("cs-next")
        self.label = w.HTML()
        self.label.add_class("cs-page-label")
        self._on_change = on_change
        self.prev.on_click(lambda _b: self._move(-1))
        self.next.on_click(lambda _b: self._move(1))
        super().__init__([self.prev, self.next, self.label], layout=w.Layout(align_items="center"))

    def _move(self, step: int) -> None:
        new = max(0, self.offset + step * self.page_size)
        if new >= self.total and step > 0:
            return
        self.offset = new
        self._on_change()

    def reset(self) -> None:
        self.offset = 0

    def update(self, total: int, shown: int) -> None:
        self.total = total
        self.prev.disabled = self.offset == 0
        self.next.disabled = self.offset + self.page_size >= total
        if total == 0:
            self.label.value = '<span class="cs-hint">No matches</span>'
        else:
            self.label.value = (f'<span class="cs-hint">{self.offset + 1}–{self.offset + shown} of '
                                f'{total:,}</span>')


class Debounce:
    """Call ``fn`` once typing paused for ``delay`` seconds (in a kernel, whose event loop runs the timer);
    without a running event loop (plain Python, tests) it calls ``fn`` at once."""

    def __init__(self, fn: Callable[[], None], delay: float = 0.3):
        self.fn, self.delay = fn, delay
        self._handle = None

    def __call__(self) -> None:
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.fn()
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.fn()


class Rows(Protocol):
    """What a list needs of its table (:class:`RowTable` or :class:`contactsync.ui.grid.GridTable`)."""

    def set_rows(self, rows: pd.DataFrame | Iterable[dict], keep_selection: bool = True) -> None: ...


COUPLED_OPTIONS = [("All", "all"), ("Coupled", "coupled"), ("Uncoupled", "uncoupled")]
COUPLED_VALUES = {"all": None, "coupled": True, "uncoupled": False}


class ContactList:
    """Search box, Coupled filter, a row table and a pager over a Workspace list method
    (``ws.crm_contacts`` or ``ws.nav_contacts``): the filtering and paging happen in DuckDB.

    ``css`` prefixes the widgets' classes (``""`` -> ``cs-search``, ``"nav-"`` -> ``cs-nav-search``).
    A change of filter or page calls ``on_change`` (the view's guarded refresh, which calls :meth:`load`).
    The view lays out ``filters``, ``table`` and ``pager`` itself."""

    def __init__(self, fetch: Callable[..., pd.DataFrame], table: Rows, *, placeholder: str, css: str,
                 page_size: int, on_change: Callable[[], None]):
        self._fetch = fetch
        self._on_change = on_change
        self.search = w.Text(placeholder=placeholder, description="Search", continuous_update=True,
                             layout=w.Layout(width="360px"))
        self.search.add_class(f"cs-{css}search")
        self.hint = w.HTML('<span class="cs-hint">Results update as you type.</span>')
        self.hint.add_class(f"cs-{css}search-hint")
        self._debounce = Debounce(self._refilter)
        self.coupled = w.Dropdown(options=COUPLED_OPTIONS, value="all", description="Coupled",
                                  layout=w.Layout(width="220px"))
        self.coupled.add_class(f"cs-{css}coupled-filter")
        self.table = table
        self.pager = Pager(page_size, on_change)
        self.filters = w.HBox([self.search, self.coupled, self.hint], layout=w.Layout(align_items="center"))
        self.search.observe(lambda _c: self._debounce(), names="value")
        self.coupled.observe(lambda _c: self._refilter(), names="value")

    def _refilter(self) -> None:
        self.pager.reset()
        self._on_change()

    def load(self) -> None:
        """Fetch the current page with the current filters into the table."""
        df = self._fetch(search=self.search.value.strip() or None, coupled=COUPLED_VALUES[self.coupled.value],
                         limit=self.pager.page_size, offset=self.pager.offset)
        self.table.set_rows(df)
        self.pager.update(df.attrs.get("total", len(df)), len(df))


def button(description: str, css: str, *, style: str = "", tooltip: str = "", width: str | None = None) -> w.Button:
    b = w.Button(description=description, button_style=style, tooltip=tooltip or description,
                 layout=w.Layout(width=width) if width else w.Layout(width="auto"))
    b.add_class(css)
    return b
