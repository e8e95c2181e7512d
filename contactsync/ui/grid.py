"""A data grid for the long lists: one ipydatagrid ``DataGrid`` per list, fed one DuckDB page at a time.

Why ipydatagrid: it is the Jupyter widgets project's own grid (maintained under ``jupyter-widgets``),
ships its front end as a federated JupyterLab extension that Voilà 0.5 serves from the environment (no CDN:
it renders offline here), and draws on a canvas with virtual scrolling, so a page of 500 rows is one widget
and one message instead of the ~7 widgets per row of an ipywidgets table (at 100 rows a page turn took 7 s
in chromium). It selects rows (shift/ctrl for several).

Header sort and filter over the whole filtered set (``on_query``): the table is then ipydatagrid's
``StreamingDataGrid``, whose front end does not sort or filter itself but syncs the header's transforms
(``_transforms``: ``{"type": "sort", "column", "desc"}`` / ``{"type": "filter", "column", "operator", "value"}``)
to the kernel and asks it for rows. :class:`ServerGrid` hands the transforms to the view instead of sorting the
page in pandas; the view re-queries DuckDB (``order_by`` / ``filters`` of ``Workspace.nav_contacts``), from
page 1. A header's value list (the filter menu's checkboxes) is answered by the view too (``on_values``). The
Differences and Errors views hold their whole frame in pandas and order it with :func:`frame_query` (the same rules
as DuckDB's); without ``on_query`` the plain ``DataGrid`` sorts and filters what it holds.

The sort arrow: ipydatagrid's ``HeaderRenderer`` draws it from the front end's transform state
(``transformMetadata(column).sort``), which a ``StreamingDataGrid`` keeps (it only forwards the transforms to the
kernel instead of sorting). But its streaming model repaints only the body and the row header when rows arrive
(``cells-changed``), never the column header, so the arrow of a new sort was not drawn until something else
repainted the grid. After a sort or filter change :meth:`GridTable.show_query` nudges the row count (``n + 1``, then
``n``): each change is a ``model-reset`` in the front end, which repaints the headers from the state it already holds.
``n + 1`` keeps every selection (a smaller count would clip the last row's). No front-end code of ours, no title
with ▲/▼ (a changed title is a new schema: a new data model, and the transforms name columns by title).

ipydatagrid 1.4 has no hover tooltip for a cell (no hover event reaches the kernel, and its renderers draw
text on a canvas). The closest: columns widen to the page's longest text (up to ``max_width``), and a click on
a cell that is still cut shows its full text under the grid (``cs-grid-cell-full``).

:class:`GridTable` gives it the small interface the views use (``set_rows``, ``selected``, ``select``,
``select_all``, ``on_select``, ``rows``), keyed by a column whose values are unique (the grid's index).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Sequence

import ipywidgets as w
import numpy as np
import pandas as pd
from ipydatagrid import DataGrid, StreamingDataGrid
from traitlets import observe

from ..listquery import ColumnFilter, FilterOp, SortKey
from .common import esc, text

__all__ = ["GridTable", "PageJump", "ServerGrid", "describe_query", "filter_words", "frame_query", "texts"]

VALUES_SHOWN = 500  # a header's value list: at most this many values (the views ask DuckDB for this many)
_CHAR_PX = 7  # a character of the grid's 12px sans-serif, on average (for the fitted widths)


class ServerGrid(StreamingDataGrid):
    """A ``StreamingDataGrid`` whose header sort and filter are the owner's: a change of the front end's
    transforms calls ``on_transforms(transforms)`` (the owner re-queries and sets the new page) instead of
    sorting the page held here; a header's value list asks ``on_values(column)``."""

    def __init__(self, *args, on_transforms: Callable[[list[dict]], None],
                 on_values: Callable[[str], list[str]] | None = None, **kwargs):
        self._owner_transforms = on_transforms
        self._owner_values = on_values
        super().__init__(*args, **kwargs)

    @property
    def data(self) -> pd.DataFrame:
        return self._StreamingDataGrid__dataframe_reference  # type: ignore[attr-defined]

    @data.setter
    def data(self, dataframe: pd.DataFrame) -> None:
        StreamingDataGrid.data.fset(self, dataframe)  # type: ignore[attr-defined]

    @observe("_transforms")
    def _on_transforms_changed(self, change) -> None:  # replaces the pandas sort of the page
        self._transformed_data = None
        self._owner_transforms(list(change["new"] or []))

    def _handle_comm_msg(self, _, content, _buffs) -> None:
        if content.get("type") == "unique-values-request" and self._owner_values is not None:
            column = content.get("column")
            values = self._owner_values(column)
            serialized, buffers = self._serialize_helper(pd.DataFrame({column: pd.Series(values, dtype=object)}))
            self.send({"event_type": "unique-values-reply", "column": column, "value": serialized}, buffers)
            return
        super()._handle_comm_msg(_, content, _buffs)


@functools.cache
def _combining_marks() -> frozenset[str]:
    """Every combining character (all are below U+20000): built once, on first use."""
    return frozenset(chr(c) for c in range(0x20000) if unicodedata.combining(chr(c)))


def _fold(value: str) -> str:
    """Case- and accent-folded: decomposed (NFD), its combining marks removed, lower case. A text with no mark
    after decomposition (a joined "a · b", most names) skips the character-by-character step."""
    decomposed = unicodedata.normalize("NFD", value)
    if _combining_marks().isdisjoint(decomposed):
        return decomposed.lower()
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def texts(values: pd.Series) -> pd.Series:
    """:func:`~contactsync.ui.common.text` of every value: a column of text and missing values in one vectorised
    step (20k values in Python cost ~35 ms a column), any other column value by value."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(object).where(values.notna(), "")
    return values.map(text).astype(object)


def _folded(shown: pd.Series) -> pd.Series:
    """``_fold`` of each text: once per distinct text, and for an ASCII text (most names) as a vectorised lower case
    (a character-by-character fold cost 0.26 s for 21k names, 0.55 s for 20k joined values)."""
    codes, distinct = pd.factorize(shown.to_numpy(object))
    distinct = np.asarray(distinct, dtype=object)
    ascii_ = np.fromiter((v.isascii() for v in distinct), dtype=bool, count=len(distinct))
    folded = np.empty(len(distinct), dtype=object)
    folded[ascii_] = pd.Series(distinct[ascii_], dtype=object).str.lower().to_numpy(object)
    folded[~ascii_] = [_fold(v) for v in distinct[~ascii_]]
    return pd.Series(folded[codes], index=shown.index, dtype=object)


def frame_query(df: pd.DataFrame, order: Sequence[SortKey], filters: Sequence[ColumnFilter], key: str,
                skip: str | None = None) -> pd.DataFrame:
    """A header's sort and filters over a whole frame held in Python (as ``contactsync.listquery`` does them
    in DuckDB): filters on the shown text (``contains`` and the like ignore case), blank text last in either
    direction, text case- and accent-folded then exact, then ``key`` ascending. ``skip``: a column whose filter
    is left out (its header's value list)."""
    if df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    for f in filters:
        if f.column == skip or f.column not in df:
            continue
        shown = texts(df[f.column])
        low, v = shown.str.lower(), f.value
        if f.op == FilterOp.IN:
            keep &= shown.isin([text(x) for x in (v if isinstance(v, (list, tuple)) else [])])
        elif f.op in (FilterOp.EMPTY, FilterOp.NOT_EMPTY):
            keep &= (shown == "") == (f.op == FilterOp.EMPTY)
        elif f.op == FilterOp.EQUALS:
            keep &= shown == text(v)
        elif f.op == FilterOp.NOT_EQUALS:
            keep &= shown != text(v)
        elif f.op in (FilterOp.CONTAINS, FilterOp.STRING_CONTAINS, FilterOp.NOT_CONTAINS):
            has = low.str.contains(text(v).lower(), regex=False)
            keep &= ~has if f.op == FilterOp.NOT_CONTAINS else has
        elif f.op == FilterOp.STARTS_WITH:
            keep &= low.str.startswith(text(v).lower())
        elif f.op == FilterOp.ENDS_WITH:
            keep &= low.str.endswith(text(v).lower())
    out = df[keep]
    if not order or out.empty:
        return out
    by, asc = [], []
    cols = {}
    for i, k in enumerate(order):
        if k.column not in out:
            continue
        shown = texts(out[k.column])
        cols[f"_b{i}"], cols[f"_f{i}"], cols[f"_r{i}"] = shown == "", _folded(shown), shown
        by += [f"_b{i}", f"_f{i}", f"_r{i}"]
        asc += [True, not k.descending, not k.descending]
    cols["_k"] = texts(out[key])
    ref = pd.DataFrame(cols, index=out.index).sort_values([*by, "_k"], ascending=[*asc, True], kind="stable")
    return out.loc[ref.index]


def describe_query(order: Sequence[SortKey], filters: Sequence[ColumnFilter], titles: dict[str, str],
                   total: int, noun: str) -> str:
    """"Sorted by City, descending; filtered by City is one of Berlin, Paris — over all 1,234 contacts"."""
    parts = []
    if order:
        parts.append("sorted by " + ", ".join(f"{titles.get(k.column, k.column)}{', descending' if k.descending else ''}"
                                              for k in order))
    parts += filter_words(filters, titles)
    if not parts:
        return ""
    many = f"all {total:,} {noun}s that match" if total != 1 else f"the 1 {noun} that matches"
    return f"{'; '.join(parts)} — over {many}"


def filter_words(filters: Sequence[ColumnFilter], titles: dict[str, str]) -> list[str]:
    """Each header filter in words: "City is one of Berlin, Paris", "E-Mail contains “x”"."""
    parts = []
    words = {FilterOp.IN: "is one of", FilterOp.CONTAINS: "contains", FilterOp.STRING_CONTAINS: "contains",
             FilterOp.NOT_CONTAINS: "does not contain", FilterOp.EQUALS: "is", FilterOp.NOT_EQUALS: "is not",
             FilterOp.STARTS_WITH: "starts with", FilterOp.ENDS_WITH: "ends with", FilterOp.EMPTY: "is blank",
             FilterOp.NOT_EMPTY: "is not blank"}
    for f in filters:
        v = f.value
        shown = ("" if f.op in (FilterOp.EMPTY, FilterOp.NOT_EMPTY) else
                 " " + ", ".join((x or "(blank)") for x in map(str, v))[:120] if isinstance(v, (list, tuple))
                 else f" “{v}”")
        parts.append(f"{titles.get(f.column, f.column)} {words[f.op]}{shown}")
    return parts


class GridTable(w.VBox):
    """``columns``: ``(key, title)`` pairs; ``key``: the unique key column (shown first, as the index).
    ``multi=False`` keeps at most one selected row. ``empty`` is shown instead of an empty grid. ``show_key=False``
    hides the key column (a GUID where the other columns name the record). Once rows were set the table carries
    the class ``cs-grid-ready`` (the hook browser tests wait for: the canvas has no row elements). ``fit_rows=n``: the
    grid is as high as the rows shown (at most ``n``), not a fixed ``height`` with blank space under two rows.
    ``on_query()``: the header sort and filter are the view's, over the whole filtered set (see the module): it is
    called after the steward changed them; the view reads :meth:`order` and :meth:`filters`, goes to page 1 and
    re-queries. ``on_values(column_key)``: the header filter's value list over the filtered set."""

    def __init__(self, columns: Sequence[tuple[str, str]], key: str, key_title: str, *, multi: bool = True,
                 on_select: Callable[[tuple], None] | None = None, empty: str = "Nothing to show.",
                 height: str = "420px", widths: dict[str, int] | None = None, show_key: bool = True,
                 fit_rows: int | None = None, on_query: Callable[[], None] | None = None,
                 on_values: Callable[[str], list[str]] | None = None, max_width: int = 420):
        self.columns = list(columns)
        self.key, self.key_title = key, key_title
        self.multi = multi
        self.fit_rows = fit_rows
        self.on_select = on_select
        self.empty = empty
        self.rows: list[dict] = []
        self.selected: tuple = ()
        self._quiet = False
        self.on_query = on_query
        self.on_values = on_values
        self.max_width = max_width
        self._widths = {key_title: 100, **(widths or {})}
        self._keys = {title: k for k, title in self.columns} | {key_title: key}
        self._titles = {k: title for k, title in self.columns} | {key: key_title}
        self._order: list[SortKey] = []
        self._filters: list[ColumnFilter] = []
        self._ignored: list[str] = []  # header filters that do not translate (said, not applied)
        self._capped: set[str] = set()  # columns whose value list was cut at VALUES_SHOWN
        self._painted: tuple[list, list] = ([], [])  # the sort and filters the header was last repainted for
        grid_args = dict(selection_mode="row", base_row_size=22, base_column_size=160,
                         column_widths=dict(self._widths), header_visibility="all" if show_key else "column",
                         layout=w.Layout(height=height, width="100%"))
        self.grid: DataGrid = (ServerGrid(self._frame([]), on_transforms=self._transforms_changed,
                                          on_values=self._values if on_values else None, **grid_args)
                               if on_query else DataGrid(self._frame([]), **grid_args))
        self.grid.add_class("cs-datagrid")
        self.grid.observe(self._selections, names="selections")
        self.grid.on_cell_click(self._cell_clicked)
        self.empty_note = w.HTML(layout=w.Layout(display="none"))
        self.empty_note.add_class("cs-grid-empty")
        self.cell_full = w.HTML()
        self.cell_full.add_class("cs-grid-cell-full")
        self.query_note = w.HTML()
        self.query_note.add_class("cs-grid-query")
        self.clear_button = w.Button(description="Clear sort and column filters", layout=w.Layout(width="auto",
                                                                                                  display="none"))
        self.clear_button.add_class("cs-grid-clear")
        self.clear_button.on_click(lambda _b: self.clear_query())
        head = [w.HBox([self.query_note, self.clear_button], layout=w.Layout(align_items="center"))] if on_query else []
        super().__init__([*head, self.grid, self.empty_note, self.cell_full])
        self.add_class("cs-grid-table")

    def _frame(self, rows: list[dict]) -> pd.DataFrame:
        data = {title: [text(r.get(k)) for r in rows] for k, title in self.columns}
        df = pd.DataFrame(data, index=pd.Index([text(r.get(self.key)) for r in rows], name=self.key_title))
        return df

    def set_rows(self, rows: pd.DataFrame | Iterable[dict], keep_selection: bool = True) -> None:
        """Show ``rows`` (one DuckDB page): the grid's data is replaced, no widget is created."""
        if isinstance(rows, pd.DataFrame):
            rows = rows.to_dict("records")
        self.rows = list(rows)
        keys = [text(r[self.key]) for r in self.rows]
        keep = tuple(k for k in self.selected if k in set(keys)) if keep_selection else ()
        self._quiet = True
        try:
            self.grid.clear_selection()
            self.grid.data = self._frame(self.rows)
            if keep:
                pos = {k: i for i, k in enumerate(keys)}
                self.grid.selections = [{"r1": pos[k], "r2": pos[k], "c1": 0, "c2": len(self.columns) - 1}
                                        for k in keep]
        finally:
            self._quiet = False
        self.empty_note.value = f'<div class="cs-hint">{esc(self.empty)}</div>' if not self.rows else ""
        self.empty_note.layout.display = "none" if self.rows else "block"
        self.grid.layout.display = "block" if self.rows else "none"
        if self.fit_rows and self.rows:  # header 20 px + rows 22 px + borders (no vertical scroll bar)
            self.grid.layout.height = f"{34 + 22 * min(len(self.rows), self.fit_rows)}px"
        if self.on_query:  # a list paged over DuckDB (a frame's grid keeps its given widths: see _fit_widths)
            self._fit_widths()
        self.cell_full.value = ""
        if isinstance(self.grid, ServerGrid):  # the front end asks for the rows again (same schema: no _data change)
            self.grid.tick()
        self.add_class("cs-grid-ready")
        changed = keep != self.selected
        self.selected = keep
        if changed and self.on_select:
            self.on_select(self.selected)

    def _keys_of(self, selections) -> tuple:
        """The keys of the selected rows, in the grid's current (sorted / filtered) order."""
        if not selections or not self.rows:
            return ()
        if isinstance(self.grid, ServerGrid):  # shown in the order given (DuckDB sorted and filtered it)
            keys = [text(r.get(self.key)) for r in self.rows]
        else:
            keys = [text(k) for k in self.grid.get_visible_data().index]
        out: list[str] = []
        for s in selections:
            for r in range(max(0, int(s["r1"])), min(len(keys) - 1, int(s["r2"])) + 1):
                if keys[r] not in out:
                    out.append(keys[r])
        return tuple(out if self.multi else out[-1:])

    def _selections(self, change) -> None:
        if self._quiet:
            return
        self.selected = self._keys_of(change["new"])
        if self.on_select:
            self.on_select(self.selected)

    def select(self, *keys: str) -> None:
        """Select rows by key (as a click would)."""
        pos = {text(r[self.key]): i for i, r in enumerate(self.rows)}
        missing = [k for k in keys if k not in pos]
        if missing:
            raise KeyError(f"no row {missing[0]!r} on this page")
        if not self.multi and len(keys) > 1:
            raise ValueError("this table selects one row")
        # a new list (assigning fires the observer; DataGrid.select() mutates in place and does not)
        self.grid.selections = [{"r1": pos[k], "r2": pos[k], "c1": 0, "c2": len(self.columns) - 1} for k in keys]

    def select_all(self, on: bool = True) -> None:
        n = len(self.rows)
        self.grid.selections = ([{"r1": 0, "r2": n - 1, "c1": 0, "c2": len(self.columns) - 1}]
                                if on and n else [])

    def row(self, key: str) -> dict | None:
        return next((r for r in self.rows if text(r[self.key]) == key), None)

    # -- widths and the full text of a cut cell ----------------------------------------------------------
    def _width_of(self, title: str) -> int:
        return self._widths.get(title, 160)

    def _fit_widths(self) -> None:
        """Each column as wide as its longest text on the page (and its title), at least its given width, at
        most ``max_width``: fewer cut cells without a scroll across half-empty columns. A column only widens
        (paging does not make the columns jump back and forth). Only the grids whose sort and filter are the
        view's: a new ``column_widths`` redraws the plain grid and dropped a selection made meanwhile (the
        Differences browser test's click)."""
        widths = dict(self._widths)
        for k, title in [(self.key, self.key_title), *self.columns]:
            longest = max([len(title), *(len(text(r.get(k))) for r in self.rows)])
            widths[title] = max(self._width_of(title), min(self.max_width, longest * _CHAR_PX + 16))
        self._widths = widths
        if widths != self.grid.column_widths:
            self.grid.column_widths = widths

    def _cell_clicked(self, cell: dict) -> None:
        """A click on a cell still cut at its column's width shows the cell's full text under the grid."""
        if cell.get("region") != "body":
            return
        title, value = text(cell.get("column")), text(cell.get("cell_value"))
        width = (self.grid.column_widths or {}).get(title, self._width_of(title))
        cut = len(value) * _CHAR_PX + 16 > width
        self.cell_full.value = (f'<div class="cs-hint cs-cell-full"><b>{esc(title)}</b>: {esc(value)}</div>'
                                if cut else "")

    # -- header sort and filter over the whole filtered set ---------------------------------------------
    def order(self) -> list[SortKey]:
        """The header sort, by column key (``[]``: the list's own order)."""
        return list(self._order)

    def filters(self) -> list[ColumnFilter]:
        """The header filters, by column key."""
        return list(self._filters)

    def filters_said(self) -> str:
        """The header filters in words ("" without any), for a question that acts on what they leave."""
        return "; ".join(filter_words(self._filters, self._titles))

    def _transforms_changed(self, transforms: list[dict]) -> None:
        order, filters, ignored = [], [], []
        for t in transforms:
            key = self._keys.get(text(t.get("column")))
            if key is None:
                continue
            if t.get("type") == "sort":
                order = [SortKey(key, bool(t.get("desc")))]  # the header sorts by one column (the last clicked)
            elif t.get("type") == "filter":
                try:
                    op = FilterOp(text(t.get("operator")))
                except ValueError:  # e.g. < / between / isOnSameDay: numbers and dates, not the lists' text
                    ignored.append(f"{text(t.get('column'))} {text(t.get('operator'))}")
                    continue
                filters.append(ColumnFilter(key, op, t.get("value")))
        self._ignored = ignored
        if (order, filters) == (self._order, self._filters):
            self._say_ignored()
            return
        self._order, self._filters = order, filters
        self.clear_button.layout.display = "inline-flex" if (order or filters) else "none"
        if self.on_query:
            self.on_query()

    def sort_by(self, column: str | None, descending: bool = False) -> None:
        """Sort as a click on ``column``'s header would (by key; ``None`` clears the sort)."""
        others = [t for t in self.grid._transforms if t.get("type") != "sort"]
        sort = [] if column is None else [{"type": "sort", "column": self._titles[column], "desc": descending}]
        self.grid._transforms = [*others, *sort]

    def filter_by(self, column: str, operator: str, value=None) -> None:
        """Filter as a header's filter would (by key; replaces that column's filter)."""
        title = self._titles[column]
        others = [t for t in self.grid._transforms if not (t.get("type") == "filter" and t.get("column") == title)]
        self.grid._transforms = [*others, {"type": "filter", "column": title, "operator": operator, "value": value}]

    def clear_query(self) -> None:
        self.grid._transforms = []

    def show_query(self, total: int, noun: str) -> None:
        """Say the header sort and filters over the whole set (the view calls it after a page was loaded)."""
        said = describe_query(self._order, self._filters, self._titles, total, noun)
        self.query_note.value = f'<span class="cs-hint cs-grid-query-said">{esc(said[:1].upper() + said[1:])}.</span>' if said else ""
        self._say_ignored()
        self._paint_header()

    def _paint_header(self) -> None:
        """After a sort or filter change, make the front end repaint the header (its sort arrow, its filter icon):
        the row count once one higher, then back (see the module)."""
        query = (list(self._order), list(self._filters))
        if not isinstance(self.grid, ServerGrid) or query == self._painted:
            return
        self._painted = query
        rows = self.grid._row_count
        self.grid._row_count = rows + 1  # two messages (not under hold_sync: one with the same count changes nothing)
        self.grid._row_count = rows

    def _say_ignored(self) -> None:
        """A header filter the lists cannot apply (a comparison of numbers or dates) is said, not silently dropped."""
        note = self.query_note.value.split('<span class="cs-grid-ignored"')[0]
        capped = [self._titles.get(f.column, f.column) for f in self._filters
                  if f.op == FilterOp.IN and f.column in self._capped]
        if capped:
            note += (f'<span class="cs-grid-ignored" style="color: #8a5a00"> {esc(", ".join(capped))}: the value list '
                     f'showed the first {VALUES_SHOWN:,} values only, so the filter keeps those checked among them; '
                     'for others use Filter by condition (contains, starts with).</span>')
        if self._ignored:
            note += (f'<span class="cs-grid-ignored" style="color: #8a5a00"> Not applied (these lists filter text: is one of, '
                     f'contains, starts/ends with, is, is not, is blank): {esc(", ".join(self._ignored))}.</span>')
        self.query_note.value = note
        self.clear_button.layout.display = "inline-flex" if (self._order or self._filters or self._ignored) else "none"

    def _values(self, title: str) -> list[str]:
        key = self._keys.get(title)
        if key is None or self.on_values is None:
            return []
        values = self.on_values(key)
        if len(values) >= VALUES_SHOWN:  # the menu lists the first ones only: a value filter keeps only those
            self._capped.add(key)
        return values[:VALUES_SHOWN]



class PageJump(w.HBox):
    """"Page [n] of N  Go": jump a :class:`contactsync.ui.common.Pager` to a page (13,334 pages at 200k persons
    are not for Next). ``refresh()`` after the pager's total changed; ``go()`` moves and calls ``on_change``."""

    def __init__(self, pager, on_change: Callable[[], None]):
        self.pager = pager
        self._on_change = on_change
        self.page = w.BoundedIntText(value=1, min=1, max=1, description="Page", layout=w.Layout(width="150px"))
        self.page.add_class("cs-page-jump")
        self.of = w.HTML()
        self.of.add_class("cs-page-count")
        self.go_button = w.Button(description="Go", layout=w.Layout(width="50px"))
        self.go_button.add_class("cs-page-go")
        self.go_button.on_click(lambda _b: self.go())
        super().__init__([self.page, self.of, self.go_button], layout=w.Layout(align_items="center"))

    @property
    def pages(self) -> int:
        return max(1, -(-self.pager.total // self.pager.page_size))

    def refresh(self) -> None:
        n = self.pages
        self.page.max = n
        self.page.value = min(n, self.pager.offset // self.pager.page_size + 1)
        self.of.value = f'<span class="cs-hint">of {n:,}</span>'
        self.go_button.disabled = n <= 1

    def go(self, page: int | None = None) -> None:
        target = min(max(1, int(self.page.value if page is None else page)), self.pages)
        self.pager.offset = (target - 1) * self.pager.page_size
        self._on_change()
