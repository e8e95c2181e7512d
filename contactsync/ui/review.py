"""Review coupling suggestions, after OpenRefine's reconciliation.

Per uncoupled NAV person: its CRM candidates with score, reasons and a side-by-side preview; accept one
(✓ Match), reject one (✗), judge the record *none* (no candidate is the same person) or *new* (create it
in CRM); or accept every best candidate above a score at once. Judged records leave the queue. The
judgments are applied in one go — accepted pairs coupled in one run (undoable in History), new records
created — with **Apply**.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import pandas as pd

from ..sqlbuild import quote_identifier as q
from .common import STYLE, Messages, esc, guarded

PREVIEW_FIELDS = ("First Name", "Surname", "E-Mail", "Phone No.", "Mobile Phone No.", "Job Title", "Address",
                  "Post Code", "City", "Country/Region Code")


def _bar(score: float) -> str:
    pct = max(0, min(100, round(float(score) * 100)))
    color = "#2e9a2e" if pct >= 90 else "#e0a800" if pct >= 50 else "#c62828"
    return (f'<span style="display:inline-block;width:60px;background:#eef0f3;height:10px;vertical-align:middle">'
            f'<span style="display:block;width:{pct}%;height:10px;background:{color}"></span></span> '
            f'<b>{pct}%</b>')


def _same(a, b) -> bool:
    na = "".join(str(a or "").lower().split())
    nb = "".join(str(b or "").lower().split())
    return na == nb


class RecordCard(w.VBox):
    """One NAV record in the queue with its candidates."""

    def __init__(self, view: ReviewView, nav_no: str, candidates: pd.DataFrame):
        self.view, self.nav_no = view, nav_no
        self.candidates = candidates.reset_index(drop=True)
        nav = view._nav_rows.get(nav_no, {})
        name = " ".join(str(nav.get(k) or "") for k in ("First Name", "Surname")).strip() or nav_no
        head = w.HTML(f'<div class="cs-group"><b>{esc(name)}</b> <span class="cs-hint">NAV {esc(nav_no)} · '
                      f'{esc(nav.get("Company Name") or "")} · {len(self.candidates)} candidate(s)</span></div>')
        self.accept_buttons: list[w.Button] = []
        self.reject_buttons: list[w.Button] = []
        rows = []
        for _i, cand in self.candidates.iterrows():
            accept = w.Button(description="✓ Match", button_style="success", layout=w.Layout(width="90px"),
                              tooltip="Couple this NAV contact to this CRM contact")
            reject = w.Button(description="✗", layout=w.Layout(width="40px"), tooltip="Not this one")
            accept.on_click(lambda _b, c=cand["crm_id"]: view.accept(nav_no, c))
            reject.on_click(lambda _b, c=cand["crm_id"]: view.reject(nav_no, c))
            self.accept_buttons.append(accept)
            self.reject_buttons.append(reject)
            crm = view._crm_rows.get(cand["crm_id"], {})
            preview = w.HTML(self._preview(nav, crm, cand))
            rows.append(w.HBox([w.VBox([accept, reject]), preview]))
        self.none_button = w.Button(description="None of these", tooltip="No candidate is this person: leave uncoupled",
                                    layout=w.Layout(width="130px"))
        self.new_button = w.Button(description="Create new in CRM", tooltip="Create a new CRM contact from this one",
                                   layout=w.Layout(width="150px"))
        self.none_button.on_click(lambda _b: view.judge(nav_no, "none"))
        self.new_button.on_click(lambda _b: view.judge(nav_no, "new"))
        super().__init__([head, *rows, w.HBox([self.none_button, self.new_button])])

    def _preview(self, nav: dict, crm: dict, cand) -> str:
        m = self.view.ws.mapping
        lines = []
        for nav_field in PREVIEW_FIELDS:
            try:
                crm_field = m.field(nav_field).crm
            except Exception:  # noqa: BLE001 - a custom mapping without this field
                continue
            a, b = nav.get(nav_field), crm.get(crm_field)
            cls = "" if _same(a, b) else ' class="cs-diff"'
            lines.append(f"<tr{cls}><td>{esc(nav_field)}</td><td>{esc(a)}</td><td>{esc(b)}</td></tr>")
        return (f'<div class="cs-box">{_bar(cand["score"])} <span class="cs-hint">CRM {esc(cand["crm_id"])} · '
                f'{esc(cand["reasons"])}</span><table class="cs-t"><tr><th>field</th><th>NAV</th><th>CRM</th></tr>'
                + "".join(lines) + "</table></div>")


class ReviewView(w.VBox):
    """The review queue over ``ws.suggest_couplings()``. Judgments are staged; **Apply** writes them."""

    title = "Review matches"

    def __init__(self, ws, *, page_size: int = 10, on_changed: Callable[[], None] | None = None):
        self.ws, self.page_size, self.on_changed = ws, page_size, on_changed
        self.suggestions = pd.DataFrame()
        self.judgments: dict[str, tuple[str, str | None]] = {}  # nav_no -> (matched|none|new, crm_id)
        self.rejected: set[tuple[str, str]] = set()
        self._nav_rows: dict[str, dict] = {}
        self._crm_rows: dict[str, dict] = {}
        self.messages = Messages()
        self.min_score = w.FloatSlider(value=0.2, min=0, max=1, step=0.05, description="Show from",
                                       readout_format=".2f", layout=w.Layout(width="280px"))
        self.threshold = w.FloatSlider(value=0.9, min=0, max=1, step=0.01, description="Accept ≥",
                                       readout_format=".2f", layout=w.Layout(width="280px"))
        self.search_button = w.Button(description="Find suggestions", icon="search")
        self.accept_all_button = w.Button(description="Accept all above score", button_style="info",
                                          layout=w.Layout(width="190px"))
        self.apply_button = w.Button(description="Apply", button_style="primary", disabled=True)
        self.discard_button = w.Button(description="Discard judgments", disabled=True)
        self.search_button.on_click(lambda _b: self.refresh())
        self.accept_all_button.on_click(lambda _b: self.accept_all(self.threshold.value))
        self.apply_button.on_click(lambda _b: self.apply())
        self.discard_button.on_click(lambda _b: self.discard())
        self.status = w.HTML()
        self.queue_box = w.VBox()
        intro = w.HTML(STYLE + '<div class="cs-title">Review matches</div><div class="cs-hint">Uncoupled NAV '
                       "persons and their likely CRM contacts. Accept a candidate, reject it, or judge the record "
                       "<i>none</i> or <i>new</i>; then Apply (one run, undoable in History).</div>")
        bar1 = w.HBox([self.search_button, self.min_score])
        bar2 = w.HBox([self.threshold, self.accept_all_button, self.apply_button, self.discard_button])
        super().__init__([intro, bar1, bar2, self.status, self.messages, self.queue_box])
        self.add_class("cs-app")

    # -- data -----------------------------------------------------------------------------------
    @guarded(progress="Scoring candidates…")
    def refresh(self) -> None:
        """Score the uncoupled records again (keeps staged judgments of records still uncoupled)."""
        self.suggestions = self.ws.suggest_couplings(min_score=self.min_score.value, top=3)
        self.judgments = {k: v for k, v in self.judgments.items() if k in set(self.suggestions["nav_no"])
                          or v[0] == "new"}
        self._load_rows()
        self.render()

    def _load_rows(self) -> None:
        s = self.suggestions
        m = self.ws.mapping
        if s.empty:
            self._nav_rows, self._crm_rows = {}, {}
            return
        nav = self.ws.sql(f"SELECT * FROM {q(m.nav_table)} WHERE {q(m.nav_key)} IN (SELECT unnest(?))",
                          [sorted(set(s["nav_no"]))])
        crm = self.ws.sql(f"SELECT * FROM {q(m.crm_table)} WHERE {q(m.crm_key)} IN (SELECT unnest(?))",
                          [sorted(set(s["crm_id"]))])
        self._nav_rows = {r[m.nav_key]: r for r in nav.to_dict("records")} if len(nav) else {}
        self._crm_rows = {r[m.crm_key]: r for r in crm.to_dict("records")} if len(crm) else {}

    def _taken(self) -> set[str]:
        return {c for kind, c in self.judgments.values() if kind == "matched"}

    def open_candidates(self) -> pd.DataFrame:
        """The candidates still to review: not rejected, CRM contact not accepted for another record."""
        s = self.suggestions
        if s.empty:
            return s
        taken = self._taken()
        keep = [nav not in self.judgments and crm not in taken and (nav, crm) not in self.rejected
                for nav, crm in zip(s["nav_no"], s["crm_id"])]
        return s[keep]

    def queue(self) -> list[str]:
        """NAV records still to judge, best first."""
        s = self.open_candidates()
        if s.empty:
            return []
        return list(s.groupby("nav_no", sort=False)["score"].max().sort_values(ascending=False).index)

    # -- judgments ------------------------------------------------------------------------------
    def accept(self, nav_no: str, crm_id: str) -> None:
        self.judgments[nav_no] = ("matched", crm_id)
        self.render()

    def reject(self, nav_no: str, crm_id: str) -> None:
        self.rejected.add((nav_no, crm_id))
        s = self.open_candidates()
        if not (s["nav_no"] == nav_no).any():
            self.judgments[nav_no] = ("none", None)  # nothing left to choose: judged none
        self.render()

    def judge(self, nav_no: str, kind: str) -> None:
        if kind not in ("none", "new"):
            raise ValueError(kind)
        self.judgments[nav_no] = (kind, None)
        self.render()

    def accept_all(self, threshold: float) -> int:
        """Accept, for every record in the queue, its best candidate where the score reaches ``threshold``
        and the pair is the unique best on both sides. Returns how many were accepted."""
        s = self.open_candidates()
        if s.empty:
            self.messages.warn("Nothing to accept.")
            return 0
        s = s.sort_values("score", ascending=False)
        n_best = s.groupby("nav_no")["score"].transform(lambda x: (x == x.max()).sum())
        c_best = s.groupby("crm_id")["score"].transform(lambda x: (x == x.max()).sum())
        top = (s["score"] == s.groupby("nav_no")["score"].transform("max")) & \
              (s["score"] == s.groupby("crm_id")["score"].transform("max"))
        ok = s[top & (n_best == 1) & (c_best == 1) & (s["score"] >= threshold)]
        for nav, crm in zip(ok["nav_no"], ok["crm_id"]):
            self.judgments[nav] = ("matched", crm)
        self.messages.ok(f"{len(ok)} match(es) at or above {threshold:.2f} accepted; Apply to couple them.")
        self.render()
        return len(ok)

    def discard(self) -> None:
        self.judgments.clear()
        self.rejected.clear()
        self.messages.clear()
        self.render()

    @guarded(progress="Coupling…")
    def apply(self) -> None:
        """Couple the accepted pairs (one run, all or nothing) and create the *new* records in CRM."""
        pairs = [(n, c) for n, (k, c) in self.judgments.items() if k == "matched"]
        new = [n for n, (k, _c) in self.judgments.items() if k == "new"]
        notes, errors = [], []
        if pairs:
            result = self.ws.couple_matches(pairs)
            notes.append(f"{result.coupled} pair(s) coupled (run {result.run_id}).")
            for n, _c in pairs:
                self.judgments.pop(n, None)
        made = 0
        for no in new:
            try:
                self.ws.create_crm_from_nav(no)
                made += 1
                self.judgments.pop(no, None)
            except Exception as exc:  # noqa: BLE001 - shown to the steward, the rest goes on
                errors.append(f"{no}: {exc}")
        if made:
            notes.append(f"{made} CRM contact(s) created and coupled.")
        if errors:
            self.messages.error(" ".join(notes) + " Not created: " + "; ".join(errors))
        elif notes:
            self.messages.ok(" ".join(notes))
        else:
            self.messages.warn("Nothing to apply: accept a candidate or judge a record new first.")
        if pairs or made:
            if self.on_changed:
                self.on_changed()
            self.suggestions = self.ws.suggest_couplings(min_score=self.min_score.value, top=3)
            self._load_rows()
        self.render()

    # -- display --------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        kinds = [k for k, _c in self.judgments.values()]
        return {"to review": len(self.queue()), "matched": kinds.count("matched"), "none": kinds.count("none"),
                "new": kinds.count("new")}

    def render(self) -> None:
        c = self.counts()
        self.status.value = (f'<div class="cs-hint"><b>{c["to review"]}</b> record(s) to review · '
                             f'{c["matched"]} matched · {c["none"]} none · {c["new"]} new (staged)</div>')
        staged = c["matched"] + c["new"]
        self.apply_button.disabled = staged == 0
        self.apply_button.description = f"Apply ({staged})" if staged else "Apply"
        self.discard_button.disabled = not self.judgments and not self.rejected
        s = self.open_candidates()
        self.cards = [RecordCard(self, no, s[s["nav_no"] == no]) for no in self.queue()[: self.page_size]]
        if not self.cards:
            empty = ("No suggestions: every uncoupled record is judged, or nothing resembles anything."
                     if len(self.suggestions) or self.judgments else "Press Find suggestions to score the uncoupled records.")
            self.queue_box.children = [w.HTML(f'<div class="cs-hint">{esc(empty)}</div>')]
        else:
            self.queue_box.children = self.cards
