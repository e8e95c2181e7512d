"""A data grid for the long lists: one ipydatagrid ``DataGrid`` per list, fed one DuckDB page at a time.

Why ipydatagrid: it is the Jupyter widgets project's own grid (maintained under ``jupyter-widgets``),
ships its front end as a federated JupyterLab extension that Voilà 0.5 serves from the environment (no CDN:
it renders offline here), and draws on a canvas with virtual scrolling, so a page of 500 rows is one widget
and one message instead of the ~7 widgets per row of an ipywidgets table (at 100 rows a page turn took 7 s
in chromium). It sorts and filters the shown page by its column headers and selects rows (shift/ctrl for
several); the app's own filters and the actions work on the whole filtered set in DuckDB.

:class:`GridTable` gives it the small interface the views use (``set_rows``, ``selected``, ``select``,
``select_all``, ``on_select``, ``rows``), keyed by a column whose values are unique (the grid's index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import ipywidgets as w
import pandas as pd
from ipydatagrid import DataGrid

from .common import esc, text

__all__ = ["GridTable", "PageJump"]


class GridTable(w.VBox):
    """``columns``: ``(key, title)`` pairs; ``key``: the unique key column (shown first, as the index).
    ``multi=False`` keeps at most one selected row. ``empty`` is shown instead of an empty grid. ``show_key=False``
    hides the key column (a GUID where the other columns name the record). Once rows were set the table carries
    the class ``cs-grid-ready`` (the hook browser tests wait for: the canvas has no row elements). ``fit_rows=n``: the
    grid is as high as the rows shown (at most ``n``), not a fixed ``height`` with blank space under two rows."""

    def __init__(self, columns: Sequence[tuple[str, str]], key: str, key_title: str, *, multi: bool = True,
                 on_select: Callable[[tuple], None] | None = None, empty: str = "Nothing to show.",
                 height: str = "420px", widths: dict[str, int] | None = None, show_key: bool = True,
                 fit_rows: int | None = None):
        self.columns = list(columns)
        self.key, self.key_title = key, key_title
        self.multi = multi
        self.fit_rows = fit_rows
        self.on_select = on_select
        self.empty = empty
        self.rows: list[dict] = []
        self.selected: tuple = ()
        self._quiet = False
        self.grid = DataGrid(self._frame([]), selection_mode="row", base_row_size=22, base_column_size=160,
                             column_widths={key_title: 100, **(widths or {})},
                             header_visibility="all" if show_key else "column",
                             layout=w.Layout(height=height, width="100%"))
        self.grid.add_class("cs-datagrid")
        self.grid.observe(self._selections, names="selections")
        self.empty_note = w.HTML(layout=w.Layout(display="none"))
        self.empty_note.add_class("cs-grid-empty")
        super().__init__([self.grid, self.empty_note])
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
        self.add_class("cs-grid-ready")
        changed = keep != self.selected
        self.selected = keep
        if changed and self.on_select:
            self.on_select(self.selected)

    def _keys_of(self, selections) -> tuple:
        """The keys of the selected rows, in the grid's current (sorted / filtered) order."""
        if not selections or not self.rows:
            return ()
        view = self.grid.get_visible_data()
        keys = [text(k) for k in view.index]
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
