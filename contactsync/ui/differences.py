"""Differences: every coupled pair whose mapped fields differ, filterable, counted per field, paged, and
pushed or pulled as a selection or as the whole filtered set in one action.

At 200k coupled pairs with 20k differing the view stays quick because it does only set work: one query
for the differences with the differing contacts' names (``ws.differences(label="Name")``: narrowed to the
candidate pairs first, :func:`contactsync.compare.differences_sql`), vectorised pandas filters over that
frame (the pair key a category), and widgets for the shown page only.

The grid's header sorts and filters the pair rows of the whole filtered set (after Filter, Field and State), not the
page shown: :func:`pair_rows` builds the columns a header names for every filtered pair (vectorised: no pandas
group per pair), :func:`contactsync.ui.grid.frame_query` orders and filters them (the key as tie-break), and the
pages, "Select all filtered pairs" and the actions take the pairs it leaves.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import pandas as pd

from ..picks import Pick
from .common import Confirm, Debounce, Messages, Pager, Progress, button, clear_area, esc, guarded, text
from .data import result_text
from .grid import GridTable, frame_query, texts

__all__ = ["ALL", "DifferencesView", "PICK_OPTIONS", "PickPanel", "field_chart_html", "pair_rows"]

ALL = "(all)"
SEP = " · "  # the differing fields of one pair in one grid cell, in the same order in every column
BUSY = "cs-busy"  # a list being refreshed: greyed and not clickable (CSS in common.STYLE)


def field_chart_html(diffs: pd.DataFrame) -> str:
    """Counts of differing pairs per field as a bar chart (plain HTML)."""
    if diffs.empty:
        return ""
    counts = diffs.groupby("nav_field").size().sort_values(ascending=False)
    top = int(counts.max())
    rows = "".join(
        f'<tr><td>{esc(f)}</td><td class="cs-num">{n:,}</td><td><span class="cs-bar" '
        f'style="width:{max(2, round(240 * n / top))}px"></span></td></tr>' for f, n in counts.items())
    return ('<div class="cs-title" style="font-size:14px">Differing pairs per field</div>'
            f'<table class="cs-t cs-field-chart"><tr><th>Field</th><th>Pairs</th><th></th></tr>{rows}</table>')


#: a pair row's joined columns (the grid's) and the long frame's column each joins
JOINED = {"fields": "nav_field", "nav_values": "nav_value", "crm_values": "crm_value", "states": "state"}
PAIR_COLUMNS = ("nav_no", "crm_id", "name", *JOINED)


def pair_rows(d: pd.DataFrame, columns=PAIR_COLUMNS) -> pd.DataFrame:
    """One row per pair of the long frame ``d`` (one row per pair and differing field), in the order the pairs
    first appear, with ``columns`` (of :data:`PAIR_COLUMNS`) as the grid shows them: a pair's fields, values and
    states joined with `` · `` in ``d``'s order, an empty value as "(empty)". Vectorised: a pair's n-th fields of
    every pair are joined in one array operation (a pandas ``groupby().agg(join)`` took 2.4 s for 20k pairs)."""
    cols = ["nav_no", *(c for c in columns if c != "nav_no")]
    if d.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    codes, keys = pd.factorize(d["nav_no"])  # a category: factorised on its codes
    keys = np.asarray(keys.astype(str), dtype=object)
    first = np.unique(codes, return_index=True)[1]  # the first row of each pair (codes run 0..n-1 in that order)
    out = {"nav_no": keys}
    for c in ("crm_id", "name"):
        if c in cols:
            out[c] = texts(d[c]).to_numpy(object)[first] if c in d else np.full(len(keys), "", dtype=object)
    joined = [c for c in cols if c in JOINED]
    if joined:
        pos = pd.Series(codes).groupby(codes).cumcount().to_numpy()  # a row's place among its pair's fields
    for c in joined:
        src = JOINED[c]
        vals = texts(d[src]).to_numpy(object) if src in d else np.full(len(d), "", dtype=object)
        vals = np.where(vals == "", "(empty)", vals)
        acc = np.full(len(keys), "", dtype=object)
        for p in range(int(pos.max()) + 1):
            at = pos == p
            acc[codes[at]] = vals[at] if p == 0 else acc[codes[at]] + SEP + vals[at]
        out[c] = acc
    return pd.DataFrame(out, columns=cols)


LEAVE = "leave"
#: a field's choice in the pick panel (``leave``: the field is not picked)
PICK_OPTIONS = [("Leave as is", LEAVE), ("Dynamics NAV value", Pick.NAV.value), ("Dynamics CRM value", Pick.CRM.value),
                ("Edited value", Pick.VALUE.value)]
PICK_WORDS = {Pick.NAV.value: "the Dynamics NAV value", Pick.CRM.value: "the Dynamics CRM value"}


class PickPanel(w.VBox):
    """Per field of the selection: keep the NAV value, the CRM value, or an edited value (BC cannot do this).
    ``choices[field]`` and ``values[field]`` are the widgets of a field; ``picked()`` what was chosen."""

    def __init__(self, fields: list[str], n_pairs: int, on_apply, on_cancel):
        self.choices: dict[str, w.Dropdown] = {}
        self.values: dict[str, w.Text] = {}
        rows = []
        for f in fields:
            choice = w.Dropdown(options=PICK_OPTIONS, value=LEAVE, layout=w.Layout(width="200px"))
            choice.add_class("cs-pick-choice")
            value = w.Text(placeholder="the value both sides get", disabled=True, layout=w.Layout(width="300px"))
            value.add_class("cs-pick-value")
            choice.observe(lambda c, v=value: setattr(v, "disabled", c["new"] != Pick.VALUE.value), names="value")
            self.choices[f], self.values[f] = choice, value
            label = w.HTML(f"<b>{esc(f)}</b>", layout=w.Layout(width="190px"))
            row = w.HBox([label, choice, value], layout=w.Layout(align_items="center"))
            row.add_class("cs-pick-row")
            rows.append(row)
        self.apply = button("Apply picks", "cs-pick-apply", style="primary")
        self.cancel = button("Cancel", "cs-pick-cancel")
        self.apply.on_click(lambda _b: on_apply())
        self.cancel.on_click(lambda _b: on_cancel())
        super().__init__([
            w.HTML(f'<div class="cs-title" style="font-size:14px">Pick values per field — {n_pairs:,} contact(s)</div>'
                   '<div class="cs-hint">For each field, choose whose value both sides keep, or type the value. '
                   'Only pairs where the field differs change; one run (undo it in History).</div>'),
            *rows, w.HBox([self.apply, self.cancel])])
        self.add_class("cs-pick-panel")
        self.add_class("cs-box")

    def picked(self) -> dict[str, tuple[str, str | None]]:
        """``{field: (choice, edited value or None)}`` for the fields not left as they are."""
        return {f: (c.value, self.values[f].value if c.value == Pick.VALUE.value else None)
                for f, c in self.choices.items() if c.value != LEAVE}


def _names_of(d: pd.DataFrame, nos) -> dict[str, str]:
    """The names of the few pairs ``nos`` a question lists (not a dict over every selected row)."""
    sub = d[d["nav_no"].isin(list(nos))].drop_duplicates("nav_no")
    return dict(zip(sub["nav_no"].astype(str), sub["name"].map(text)))


def _listed(nos, names: dict, limit: int = 8) -> str:
    shown = ", ".join(f"{no} {names.get(no, '')}".strip() for no in nos[:limit])
    return shown + (f" and {len(nos) - limit:,} more" if len(nos) > limit else "")


class DifferencesView(w.VBox):
    title = "Differences"

    def __init__(self, ws, on_changed=None, max_pairs: int = 500, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.max_pairs = max_pairs
        self.all: pd.DataFrame = pd.DataFrame()
        self._shown: pd.DataFrame = pd.DataFrame()  # the filtered rows (every page)
        self._pairs: list[str] = []  # the filtered pairs' NAV numbers in the list's order (every page)
        self._pair_cache: tuple[pd.DataFrame, tuple, pd.DataFrame] | None = None  # (all, filters, pair rows)
        self.filter = w.Text(placeholder="Filter by No., name, value… (as you type)", description="Filter",
                             continuous_update=True,
                             layout=w.Layout(width="300px"))
        self.filter.add_class("cs-diff-filter")
        self.field = w.Dropdown(options=[ALL], value=ALL, description="Field", layout=w.Layout(width="260px"))
        self.field.add_class("cs-diff-field")
        self.state = w.Dropdown(options=[ALL], value=ALL, description="State", layout=w.Layout(width="240px"))
        self.state.add_class("cs-diff-state")
        self.refresh_button = button("Refresh", "cs-diff-refresh")
        self.chart = w.HTML()
        self.chart.add_class("cs-diff-chart")
        self.summary = w.HTML()
        self.summary.add_class("cs-diff-summary")
        self.select_all = w.Checkbox(value=False, description="Select all filtered pairs (every page)", indent=False)
        self.select_all.add_class("cs-diff-select-all")
        self.table = GridTable([
            ("name", "Name"), ("fields", "Fields"), ("nav_values", "Dynamics NAV value"),
            ("crm_values", "Dynamics CRM value"), ("states", "State"),
        ], key="nav_no", key_title="NAV No.", multi=True, on_select=self._selected,
            on_query=self.apply_filter, on_values=self._values,  # headers sort / filter every filtered pair
            empty="No differences: every coupled pair matches.",
            widths={"Name": 180, "Fields": 200, "Dynamics NAV value": 260, "Dynamics CRM value": 260, "State": 200})
        self.table.add_class("cs-diff-table")
        self.pager = Pager(max_pairs, self._page)
        self.pager.add_class("cs-diff-pager")
        self.push_button = button("Send selected to Dynamics CRM", "cs-diff-push", style="primary")
        self.pull_button = button("Get selected from Dynamics CRM", "cs-diff-pull", style="primary")
        self.pick_button = button("Pick values per field…", "cs-diff-pick",
                                  tooltip="Per field: the NAV value, the CRM value or an edited value, on both sides")
        self.pick_button.on_click(lambda _b: self.open_pick())
        self.pick_area = w.VBox([])
        self.pick_panel: PickPanel | None = None
        self.push_button.on_click(lambda _b: self.sync_selected("push"))
        self.pull_button.on_click(lambda _b: self.sync_selected("pull"))
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._debounce = Debounce(self.apply_filter)
        self.filter.observe(lambda _c: self._debounce(), names="value")
        self._quiet = False
        for wd in (self.field, self.state):
            wd.observe(lambda _c: None if self._quiet else self.apply_filter(), names="value")
        self.select_all.observe(self._select_all, names="value")
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div><div class="cs-hint">Coupled pairs whose mapped '
                   'fields differ. Select pairs (or every filtered pair) and send the NAV values to CRM, or get '
                   'the CRM values: only the fields the filter shows change.</div>'),
            w.HBox([self.filter, self.field, self.state, self.refresh_button]),
            self.chart, self.summary, w.HBox([self.select_all, self.pager], layout=w.Layout(align_items="center")),
            self.table, w.HBox([self.push_button, self.pull_button, self.pick_button]), self.pick_area, self.confirm,
            self.progress, self.messages,
        ])
        self.add_class("cs-differences")
        if autoload:
            self.refresh()

    # -- reading ---------------------------------------------------------------------------------------------
    def _busy(self, on: bool) -> None:
        """While the kernel compares, the old table is greyed and takes no clicks, and the actions wait."""
        (self.table.add_class if on else self.table.remove_class)(BUSY)
        for b in (self.push_button, self.pull_button, self.pick_button, self.refresh_button, self.select_all):
            b.disabled = on
        if not on:
            self._selected(self.table.selected)

    @guarded(progress="Comparing all coupled pairs…")
    def refresh(self, nos: list[str] | None = None) -> None:
        """Compare every coupled pair again; ``nos``: only these pairs (those an action of this view just ran
        on; a run changes no other pair), the others' rows kept as they are."""
        self._busy(True)
        try:
            # one query: the differing pairs with their NAV names (read for those pairs only)
            diffs = self.ws.differences(nos, label="Name") if nos is not None else self.ws.differences(label="Name")
            if nos is not None and len(self.all):
                kept = self.all[~self.all["nav_no"].isin(list(nos))]
                both = pd.concat([kept.astype({"nav_no": str}), diffs.astype({"nav_no": str})], ignore_index=True)
                # in nav_no order as the query gives it (a stable sort keeps each pair's fields in mapping order)
                diffs = both.sort_values("nav_no", kind="stable").reset_index(drop=True)
            # the pair key as a category: isin / groupby over 40k rows in C, not over Arrow strings in Python
            # (0.4 s of a 20k-pair action's confirmation at 200k)
            diffs["nav_no"] = diffs["nav_no"].astype("category")
            self.all = diffs
            # distinct values in pandas (iterating 20k Arrow strings in Python cost ~0.1 s a column)
            fields = [ALL] + sorted(diffs["nav_field"].astype(str).unique().tolist())
            states = [ALL] + sorted(diffs["state"].astype(str).unique().tolist()) if "state" in diffs else [ALL]
            # keep the steward's filter when it still exists (quiet: the observers would refilter each time)
            field, state = self.field.value, self.state.value
            self._quiet = True
            try:
                self.field.options, self.state.options = fields, states
                self.field.value = field if field in fields else ALL
                self.state.value = state if state in states else ALL
            finally:
                self._quiet = False
            self.apply_filter()
        finally:
            self._busy(False)

    def filtered(self) -> pd.DataFrame:
        """The differing fields the filters show (every page), vectorised over the whole frame."""
        d = self.all
        if d.empty:
            return d
        keep = pd.Series(True, index=d.index)
        if self.field.value != ALL:
            keep &= d["nav_field"] == self.field.value
        if self.state.value != ALL and "state" in d:
            keep &= d["state"] == self.state.value
        qtext = self.filter.value.strip().lower()
        if qtext:
            hay = (d["nav_no"].astype(str) + " " + d["name"].fillna("").astype(str) + " " +
                   d["nav_value"].fillna("").astype(str) + " " + d["crm_value"].fillna("").astype(str) + " " +
                   d["nav_field"].astype(str)).str.lower()
            keep &= hay.str.contains(qtext, regex=False)
        return d[keep]

    def header_pairs(self, d: pd.DataFrame, skip: str | None = None) -> pd.DataFrame:
        """The pair rows of ``d`` the grid's header filters keep (``skip``: that column's filter left out), in the
        header's order with the NAV No. as tie-break; only the columns the header names are built."""
        order, filters = self.table.order(), self.table.filters()
        named = {"nav_no", skip, *(k.column for k in order), *(f.column for f in filters if f.column != skip)}
        columns = tuple(c for c in PAIR_COLUMNS if c in named)
        # the pair rows of the same filtered set are built once (a header change, a value list after it)
        key = (self.field.value, self.state.value, self.filter.value.strip().lower(), columns, len(d))
        cached = self._pair_cache
        if cached is None or cached[0] is not self.all or cached[1] != key:
            cached = self._pair_cache = (self.all, key, pair_rows(d, columns))
        return frame_query(cached[2], order, filters, "nav_no", skip=skip)

    def _values(self, column: str) -> list[str]:
        """A header filter's values: over every pair Filter, Field, State and the other header filters keep."""
        if column not in PAIR_COLUMNS:
            return []
        rows = self.header_pairs(self.filtered(), skip=column)
        return sorted(set(rows[column]), key=lambda v: (v.lower(), v))

    def apply_filter(self) -> None:
        """Filter, Field and State over the long frame, then the header's sort and filters over the pairs they
        keep (every page): the pages, Select all and the actions take the pairs left, in the header's order."""
        self.messages.clear()
        self.confirm.close_box()
        self.close_pick()
        d = self.filtered()
        if self.table.order() or self.table.filters():
            keep = self.header_pairs(d)["nav_no"].tolist()
            self._pairs = keep if self.table.order() else sorted(keep)
            if self.table.filters():
                d = d[d["nav_no"].isin(keep)]
        else:
            self._pairs = sorted(d["nav_no"].unique().tolist()) if len(d) else []
        self._shown = d
        total = self.all["nav_no"].nunique() if len(self.all) else 0
        self.table.empty = ("No differences: every coupled pair matches." if self.all.empty else
                            "No differing pairs match the filter (clear Filter, Field, State or the column filters "
                            f"to see the {total:,} pair(s) with differences).")
        self.chart.value = field_chart_html(d)
        hidden = f" of {total:,}" if len(self._pairs) != total else ""
        self.summary.value = (f'<div class="cs-hint">{len(self._pairs):,}{hidden} pair(s), {len(d):,} differing '
                              'field(s).</div>')
        self.select_all.value = False
        self.pager.reset()
        self._page()
        self.table.show_query(len(self._pairs), "pair")  # after the page: its header repaint shows the new rows

    def _page(self) -> None:
        """Widgets for the shown page only (the replaced rows are closed by the table)."""
        start = self.pager.offset
        nos = self._pairs[start:start + self.max_pairs]
        d = self._shown
        # the page's pairs as the header sorted and filtered them: the same pair_rows (the text a sort compares is
        # the text a row shows), in the list's order
        built = pair_rows(d[d["nav_no"].isin(nos)]).set_index("nav_no", drop=False) if nos else None
        rows = built.loc[[no for no in nos if no in built.index]].to_dict("records") if built is not None else []
        # an unchanged page is not sent again: the grid repaints on new data (1-2 s in headless chromium at load 8,
        # most of a refresh that found the same pairs); an empty one is, for its note (which says why it is empty)
        if not rows or rows != self.table.rows:
            self.table.set_rows(rows)
        if self.select_all.value:
            self.table.select_all(True)
        self.pager.update(len(self._pairs), len(rows))
        self._selected(self.table.selected)

    def _select_all(self, change) -> None:
        self.table.select_all(change["new"])
        self._selected(self.table.selected)

    def selection(self) -> list[str]:
        """The pairs an action applies to: every filtered pair when "Select all" is on, else the ticked ones."""
        return list(self._pairs) if self.select_all.value else list(self.table.selected)

    def _selected(self, keys) -> None:
        n = len(self._pairs) if self.select_all.value else len(keys)
        self.push_button.disabled = self.pull_button.disabled = self.pick_button.disabled = not n
        what = f"{n:,} selected" if n else "selected"
        self.push_button.description = f"Send {what} to Dynamics CRM"
        self.pull_button.description = f"Get {what} from Dynamics CRM"

    def _scope(self) -> str:
        """For a question on every filtered pair: which pairs the column filters leave (they narrow the set)."""
        said = self.table.filters_said() if self.select_all.value else ""
        return f" (every pair the column filters leave: {said})" if said else ""

    def shown_fields(self, nos) -> dict[str, list[str]]:
        """The differing fields the current filter shows for each of ``nos``."""
        d = self._shown if len(self._shown) or self.all.empty else self.filtered()
        d = d[d["nav_no"].isin(list(nos))] if len(d) else d
        return {no: sorted(set(map(str, g["nav_field"]))) for no, g in d.groupby("nav_no", observed=True)} if len(d) else {}

    # -- acting ----------------------------------------------------------------------------------------------
    @guarded()
    def sync_selected(self, direction: str) -> None:
        self.messages.clear()
        nos = self.selection()
        if not nos:
            self.messages.warn("Select one or more pairs first.")
            return
        sel = self._shown if self.select_all.value else self._shown[self._shown["nav_no"].isin(nos)]
        fields = sorted(map(str, sel["nav_field"].unique()))
        # one run changes the same fields of every selected pair: refuse when that would touch a field the
        # filter hides for one of them (a set difference over the frame, not a loop over the pairs)
        every = self.all[self.all["nav_no"].isin(nos) & self.all["nav_field"].isin(fields)][["nav_no", "nav_field"]]
        extra = every.merge(sel[["nav_no", "nav_field"]], how="left", indicator=True)
        extra = extra[extra["_merge"] == "left_only"]
        if len(extra):
            by = extra.groupby("nav_no", observed=True)["nav_field"].agg(lambda s: ", ".join(sorted(s)))
            hidden = [f"{no} ({fs})" for no, fs in by.head(8).items()]
            more = f" and {len(by) - 8:,} more" if len(by) > 8 else ""
            self.messages.warn("The selected pairs show different fields, and one action changes the same fields "
                               f"of every pair: it would also change fields the filter hides for "
                               f"{'; '.join(hidden)}{more}. Choose the field in Field, or select pairs that show "
                               "the same fields.")
            return
        names = _names_of(sel, nos[:8])
        scope = self._scope()
        if direction == "push":
            verb, where, src = "Send", "Dynamics CRM", "Dynamics NAV"
        else:
            verb, where, src = "Get", "Dynamics NAV", "Dynamics CRM"
        self.confirm.ask(
            f"{verb} {', '.join(fields)} of {len(nos):,} contact(s){scope} — {_listed(nos, names)}: the values in {where} "
            f"are overwritten with those from {src}. Other fields are left as they are. One run (undo it in "
            "History). Continue?",
            lambda: self._sync(direction, nos, fields))

    @guarded(progress="Synchronizing the selection…")
    def _sync(self, direction: str, nos: list[str], fields: list[str] | None = None) -> None:
        self._busy(True)
        try:
            result = self.ws.sync(direction, nos=nos, force=True, fields=fields or None)
        finally:
            self._busy(False)
        self.refresh(nos)  # the run changed these pairs only
        kind, msg = result_text(result)
        self.messages.show(msg + f" (run {result.run_id}; undo it in History)", kind)
        if self.on_changed:
            self.on_changed()

    # -- per-field pick ------------------------------------------------------------------------------------
    def close_pick(self) -> None:
        self.pick_panel = None
        clear_area(self.pick_area)

    @guarded()
    def open_pick(self) -> PickPanel | None:
        """The pick panel for the selection's differing fields (as the filter shows them)."""
        self.messages.clear()
        self.confirm.close_box()
        self.close_pick()
        nos = self.selection()
        if not nos:
            self.messages.warn("Select one or more pairs first.")
            return None
        sel = self._shown[self._shown["nav_no"].isin(nos)]
        order = {f.nav: i for i, f in enumerate(self.ws.mapping.fields)}
        fields = sorted(set(map(str, sel["nav_field"])), key=lambda f: order.get(f, len(order)))
        self.pick_panel = PickPanel(fields, len(nos), self.apply_pick, self.close_pick)
        self.pick_area.children = [self.pick_panel]
        first = next(iter(self.pick_panel.choices.values()), None)
        if first is not None:
            first.focus()  # the new panel takes focus (and the browser scrolls it into view)
        return self.pick_panel

    def pick_rows(self) -> pd.DataFrame:
        """The picks of the panel for the selected pairs: one row per pair and picked field where that field
        differs and the filter shows it (a set operation over the frame)."""
        chosen = self.pick_panel.picked() if self.pick_panel is not None else {}
        nos = self.selection()
        sel = self._shown[self._shown["nav_no"].isin(nos) & self._shown["nav_field"].isin(list(chosen))]
        rows = sel[["nav_no", "nav_field"]].rename(columns={"nav_field": "field"}).drop_duplicates()
        rows["nav_no"] = rows["nav_no"].astype(str)
        rows["choice"] = rows["field"].map(lambda f: chosen[f][0])
        rows["value"] = rows["field"].map(lambda f: chosen[f][1])
        return rows.reset_index(drop=True)

    @guarded()
    def apply_pick(self) -> None:
        self.messages.clear()
        chosen = self.pick_panel.picked() if self.pick_panel is not None else {}
        if not chosen:
            self.messages.warn("Choose a value for at least one field (Dynamics NAV value, Dynamics CRM value or an "
                               "edited value).")
            return
        rows = self.pick_rows()
        n = rows["nav_no"].nunique()
        what = "; ".join(f"{f}: {PICK_WORDS.get(c) or 'the value ' + repr(v)}" for f, (c, v) in chosen.items())
        listed = sorted(rows["nav_no"].unique())
        names = _names_of(self._shown, listed[:8])
        self.confirm.ask(f"Set {what} — on both sides, for {n:,} contact(s){self._scope()} where the field differs "
                         f"({_listed(listed, names)}). One run (undo it in History). "
                         "Continue?", lambda: self._pick(rows))

    @guarded(progress="Writing the picked values…")
    def _pick(self, rows: pd.DataFrame) -> None:
        self._busy(True)
        try:
            result = self.ws.pick(rows)
        finally:
            self._busy(False)
        self.close_pick()
        self.refresh(sorted(rows["nav_no"].unique()))  # the run changed these pairs only
        self.messages.ok(result.message)
        if self.on_changed:
            self.on_changed()
