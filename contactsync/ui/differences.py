"""Differences: every coupled pair whose mapped fields differ, filterable, counted per field, and pushed or
pulled as a selection in one action."""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from .common import Column, Confirm, Debounce, Messages, Progress, RowTable, button, esc, guarded, text
from .data import result_text

__all__ = ["ALL", "DifferencesView", "field_chart_html"]

ALL = "(all)"


def _lines(values) -> str:
    return "<br>".join(esc(v) if text(v) else '<i class="cs-hint">(empty)</i>' for v in values)


def field_chart_html(diffs: pd.DataFrame) -> str:
    """Counts of differing pairs per field as a bar chart (plain HTML)."""
    if diffs.empty:
        return ""
    counts = diffs.groupby("nav_field").size().sort_values(ascending=False)
    top = int(counts.max())
    rows = "".join(
        f'<tr><td>{esc(f)}</td><td class="cs-num">{n}</td><td><span class="cs-bar" '
        f'style="width:{max(2, round(240 * n / top))}px"></span></td></tr>' for f, n in counts.items())
    return ('<div class="cs-title" style="font-size:14px">Differing pairs per field</div>'
            f'<table class="cs-t cs-field-chart"><tr><th>Field</th><th>Pairs</th><th></th></tr>{rows}</table>')


class DifferencesView(w.VBox):
    title = "Differences"

    def __init__(self, ws, on_changed=None, max_pairs: int = 100, autoload: bool = True):
        self.ws = ws
        self.on_changed = on_changed
        self.max_pairs = max_pairs
        self.all: pd.DataFrame = pd.DataFrame()
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
        self.select_all = w.Checkbox(value=False, description="Select all shown", indent=False)
        self.select_all.add_class("cs-diff-select-all")
        self.table = RowTable([
            Column("nav_no", "NAV No.", "90px"),
            Column("name", "Name", "1.1fr"),
            Column("fields", "Fields", "1.1fr", lambda v, r: _lines(v)),
            Column("nav_values", "Dynamics NAV value", "1.4fr", lambda v, r: _lines(v)),
            Column("crm_values", "Dynamics CRM value", "1.4fr", lambda v, r: _lines(v)),
            Column("states", "State", "1fr", lambda v, r: _lines(v)),
        ], key="nav_no", multi=True, on_select=self._selected, empty="No differences: every coupled pair matches.")
        self.table.add_class("cs-diff-table")
        self.push_button = button("Send selected to Dynamics CRM", "cs-diff-push", style="primary")
        self.pull_button = button("Get selected from Dynamics CRM", "cs-diff-pull", style="primary")
        self.push_button.on_click(lambda _b: self.sync_selected("push"))
        self.pull_button.on_click(lambda _b: self.sync_selected("pull"))
        self.confirm = Confirm()
        self.messages = Messages()
        self.progress = Progress()
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._debounce = Debounce(self.apply_filter)
        self.filter.observe(lambda _c: self._debounce(), names="value")
        for wd in (self.field, self.state):
            wd.observe(lambda _c: self.apply_filter(), names="value")
        self.select_all.observe(lambda c: self.table.select_all(c["new"]), names="value")
        super().__init__([
            w.HTML(f'<div class="cs-title">{self.title}</div><div class="cs-hint">Coupled pairs whose mapped '
                   'fields differ. Select pairs and send the NAV values to CRM, or get the CRM values.</div>'),
            w.HBox([self.filter, self.field, self.state, self.refresh_button]),
            self.chart, self.summary, self.select_all, self.table,
            w.HBox([self.push_button, self.pull_button]), self.confirm, self.progress, self.messages,
        ])
        self.add_class("cs-differences")
        if autoload:
            self.refresh()

    @guarded(progress="Comparing all coupled pairs…")
    def refresh(self) -> None:
        diffs = self.ws.differences()
        names = {}
        if len(diffs):
            nav = self.ws.nav_contacts(limit=None)
            names = dict(zip(nav["No."], nav["Name"]))
        diffs["name"] = diffs["nav_no"].map(names)
        self.all = diffs
        fields = [ALL] + sorted(set(map(str, diffs["nav_field"])))
        states = [ALL] + sorted(set(map(str, diffs["state"]))) if "state" in diffs else [ALL]
        self.field.options, self.state.options = fields, states
        self.apply_filter()

    def filtered(self) -> pd.DataFrame:
        d = self.all
        if d.empty:
            return d
        if self.field.value != ALL:
            d = d[d["nav_field"] == self.field.value]
        if self.state.value != ALL and "state" in d:
            d = d[d["state"] == self.state.value]
        q = self.filter.value.strip().lower()
        if q:
            hay = (d["nav_no"].astype(str) + " " + d["name"].fillna("").astype(str) + " " +
                   d["nav_value"].fillna("").astype(str) + " " + d["crm_value"].fillna("").astype(str) + " " +
                   d["nav_field"].astype(str)).str.lower()
            d = d[hay.str.contains(q, regex=False)]
        return d

    def apply_filter(self) -> None:
        self.messages.clear()
        self.confirm.close_box()
        d = self.filtered()
        self.table.empty = ("No differences: every coupled pair matches." if self.all.empty else
                            "No differing pairs match the filter (clear Filter, Field or State to see the "
                            f"{self.all['nav_no'].nunique()} pair(s) with differences).")
        self.chart.value = field_chart_html(d)
        if d.empty:
            pairs = []
        else:
            pairs = [{"nav_no": no, "crm_id": g["crm_id"].iloc[0], "name": g["name"].iloc[0],
                      "fields": list(g["nav_field"]), "nav_values": list(g["nav_value"]),
                      "crm_values": list(g["crm_value"]), "states": list(g.get("state", []))}
                     for no, g in d.groupby("nav_no", sort=True)]
        shown = pairs[: self.max_pairs]
        more = (f" Showing the first {self.max_pairs}; narrow the filter to see the rest."
                if len(pairs) > self.max_pairs else "")
        self.summary.value = (f'<div class="cs-hint">{len(pairs)} pair(s), {len(d)} differing field(s).'
                              f'{esc(more)}</div>')
        self.select_all.value = False
        self.table.set_rows(shown)
        self._selected(self.table.selected)

    def _selected(self, keys) -> None:
        self.push_button.disabled = self.pull_button.disabled = not keys

    def shown_fields(self, nos) -> dict[str, list[str]]:
        """The differing fields the current filter shows for each of ``nos``."""
        d = self.filtered()
        d = d[d["nav_no"].isin(list(nos))] if not d.empty else d
        return {no: sorted(set(map(str, g["nav_field"]))) for no, g in d.groupby("nav_no")} if not d.empty else {}

    @guarded()
    def sync_selected(self, direction: str) -> None:
        self.messages.clear()
        nos = list(self.table.selected)
        if not nos:
            self.messages.warn("Select one or more pairs first.")
            return
        shown = self.shown_fields(nos)
        fields = sorted({f for fs in shown.values() for f in fs})
        # one run changes the same fields of every selected pair: refuse when that would touch a field the
        # filter hides for one of them
        hidden = []
        for no in nos:
            all_diff = set(map(str, self.all.loc[self.all["nav_no"] == no, "nav_field"]))
            extra = sorted((all_diff & set(fields)) - set(shown.get(no, [])))
            if extra:
                hidden.append(f"{no} ({', '.join(extra)})")
        if hidden:
            self.messages.warn("The selected pairs show different fields, and one action changes the same fields "
                               f"of every pair: it would also change fields the filter hides for {'; '.join(hidden)}. "
                               "Choose the field in Field, or select pairs that show the same fields.")
            return
        names = {no: text(self.all.loc[self.all["nav_no"] == no, "name"].iloc[0]) for no in nos if no in shown}
        listed = [f"{no} {names.get(no, '')}".strip() for no in nos[:8]]
        more = f" and {len(nos) - 8} more" if len(nos) > 8 else ""
        if direction == "push":
            verb, where, src = "Send", "Dynamics CRM", "Dynamics NAV"
        else:
            verb, where, src = "Get", "Dynamics NAV", "Dynamics CRM"
        self.confirm.ask(
            f"{verb} {', '.join(fields)} of {len(nos)} contact(s) — {', '.join(listed)}{more}: the values in {where} "
            f"are overwritten with those from {src}. Other fields are left as they are. Continue?",
            lambda: self._sync(direction, nos, fields))

    @guarded(progress="Synchronizing the selection…")
    def _sync(self, direction: str, nos: list[str], fields: list[str] | None = None) -> None:
        result = self.ws.sync(direction, nos=nos, force=True, fields=fields or None)
        self.refresh()
        kind, msg = result_text(result)
        self.messages.show(msg, kind)
        if self.on_changed:
            self.on_changed()
