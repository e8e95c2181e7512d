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
from .common import STYLE, Messages, close_tree, esc, guarded

__all__ = ["PREVIEW_FIELDS", "RecordCard", "ReviewView", "estimates", "evidence", "evidence_html"]

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


def _for_review(cand) -> bool:
    """Suggested as the same person (the default decision) but not auto-acceptable: the steward checks it."""
    return bool(cand.get("suggested", False)) and not bool(cand.get("match", False))


def evidence(cand) -> list[tuple[str, str, float]]:
    """(field, level, match weight in bits) per field that gave evidence, strongest first — the
    waterfall of the pair's score (from the ``w_<field>`` and ``*_level`` columns of the suggestions)."""
    from ..linkage import FIELDS

    out = []
    reasons = dict(r.split(": ", 1) for r in str(cand.get("reasons") or "").split("; ") if ": " in r)
    for name, label, _cols in FIELDS:
        wv = cand.get(f"w_{name}")
        if wv is None or pd.isna(wv) or label not in reasons:
            continue
        out.append((label, reasons[label].rsplit(" (", 1)[0], float(wv)))
    return sorted(out, key=lambda t: -abs(t[2]))


def evidence_html(cand) -> str:
    rows = []
    for label, level, wv in evidence(cand):
        width = min(120, round(abs(wv) * 6))
        color = "#2e9a2e" if wv > 0 else "#c62828"
        rows.append(f'<tr><td>{esc(label)}</td><td>{esc(level)}</td><td style="text-align:right">{wv:+.1f}</td>'
                    f'<td><span style="display:inline-block;height:8px;width:{width}px;background:{color}">'
                    f'</span></td></tr>')
    total = cand.get("weight")
    foot = (f'<tr><td colspan="2"><b>total</b> (with the prior)</td><td style="text-align:right">'
            f'<b>{float(total):+.1f}</b></td><td></td></tr>') if total is not None and not pd.isna(total) else ""
    return ('<table class="cs-t cs-evidence"><tr><th>evidence</th><th>level</th><th>bits</th><th></th></tr>'
            + "".join(rows) + foot + "</table>")


def estimates(suggestions: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Expected precision and recall of accepting every best pair scoring >= ``threshold``, from the model's
    own probabilities (the best candidate per record: its score is the chance it is right)."""
    if suggestions.empty:
        return {"pairs": 0, "precision": 1.0, "recall": 1.0}
    best = suggestions[suggestions["rank"] == 1]
    sel = best[best["score"] >= threshold]
    expected_true = float(best["score"].sum())
    tp = float(sel["score"].sum())
    return {"pairs": len(sel), "precision": tp / len(sel) if len(sel) else 1.0,
            "recall": tp / expected_true if expected_true else 1.0}


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
        return (f'<div class="cs-box">{_bar(cand["score"])} <span class="cs-hint">CRM {esc(cand["crm_id"])}'
                f'{" · <b>suggested: check it</b>" if _for_review(cand) else ""}'
                f'{" · <b>relative or colleague?</b>" if bool(cand.get("lookalike", False)) else ""}'
                f'{" · <b>two different e-mail addresses</b>" if bool(cand.get("conflict", False)) else ""}</span>'
                f'<table class="cs-t"><tr><th>field</th><th>NAV</th><th>CRM</th></tr>'
                + "".join(lines) + "</table>" + evidence_html(cand) + "</div>")


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
        self.retrain_button = w.Button(description="Retrain model", icon="refresh",
                                       tooltip="Estimate the model again from the uncoupled records (Splink EM)")
        self.retrain_button.on_click(lambda _b: self.retrain())
        self.threshold.observe(lambda _c: self._show_estimates(), names="value")
        self.estimate = w.HTML()
        self.model_info = w.HTML()
        self.status = w.HTML()
        self.queue_box = w.VBox()
        intro = w.HTML(STYLE + '<div class="cs-title">Review matches</div><div class="cs-hint">Uncoupled NAV '
                       "persons and their likely CRM contacts. Accept a candidate, reject it, or judge the record "
                       "<i>none</i> or <i>new</i>; then Apply (one run, undoable in History).</div>")
        bar1 = w.HBox([self.search_button, self.min_score, self.retrain_button])
        bar2 = w.HBox([self.threshold, self.accept_all_button, self.apply_button, self.discard_button])
        super().__init__([intro, bar1, self.model_info, bar2, self.estimate, self.status, self.messages,
                          self.queue_box])
        self.add_class("cs-app")

    # -- data -----------------------------------------------------------------------------------
    @guarded(progress="Scoring candidates…")
    def refresh(self) -> None:
        """Score the uncoupled records again (keeps staged judgments of records still uncoupled)."""
        self.suggestions = self.ws.suggest_couplings(min_score=self.min_score.value, top=3)
        self.judgments = {k: v for k, v in self.judgments.items() if k in set(self.suggestions["nav_no"])
                          or v[0] == "new"}
        self._load_rows()
        self._show_model()
        self.render()

    @guarded(progress="Training the model…")
    def retrain(self) -> None:
        """Train the model again on the uncoupled records, then score again."""
        m = self.ws.train_matcher()
        self.messages.ok(f"Model {'trained on this workspace' if m.source.value == 'workspace' else 'kept'}: "
                         f"{self._describe(m)}.")
        self.refresh()

    @staticmethod
    def _describe(m) -> str:
        if m.source.value == "workspace":
            return (f"trained on this workspace's {m.nav_records:,} NAV × {m.crm_records:,} CRM uncoupled records "
                    f"at {m.trained_at} ({m.seconds:.1f} s)")
        return "the packaged prior model (too few uncoupled records here to train on)"

    def _show_model(self) -> None:
        m = self.ws.matcher()
        self.model_info.value = (f'<div class="cs-hint">Model (Fellegi–Sunter, Splink): {esc(self._describe(m))}; '
                                 f"prior match probability {m.prior:.2g}.</div>")

    def _show_estimates(self) -> None:
        e = estimates(self.suggestions, self.threshold.value)
        self.estimate.value = (f'<div class="cs-hint">Accepting the best candidates ≥ {self.threshold.value:.2f}: '
                               f'<b>{e["pairs"]}</b> pair(s), estimated precision <b>{e["precision"]:.1%}</b>, '
                               f'recall <b>{e["recall"]:.1%}</b> (from the model\'s probabilities).</div>')

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
        """Accept, for every record in the queue, its candidate where the score reaches ``threshold`` and the
        model calls the pair a match (``match``: the best of both records by a margin, not a relative or
        colleague). Returns how many were accepted."""
        s = self.open_candidates()
        if s.empty:
            self.messages.warn("Nothing to accept.")
            return 0
        ok = s[s["match"].astype(bool) & (s["score"] >= threshold)] if "match" in s.columns else s.iloc[0:0]
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
        if not pairs and not new:
            self.messages.warn("Nothing to apply: accept a candidate or judge a record new first.")
            self.render()
            return
        # one run, all or nothing: the accepted pairs coupled and the new CRM contacts created together
        result = self.ws.couple_matches(pairs, create_in_crm=new)
        for n in [*(p[0] for p in pairs), *new]:
            self.judgments.pop(n, None)
        notes = [f"{result.coupled} pair(s) coupled"] + (
            [f"{result.created} CRM contact(s) created and coupled"] if result.created else [])
        self.messages.ok("; ".join(notes) + f" (run {result.run_id}, undoable in History).")
        if pairs or result.created:
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
        self._show_estimates()
        c = self.counts()
        self.status.value = (f'<div class="cs-hint"><b>{c["to review"]}</b> record(s) to review · '
                             f'{c["matched"]} matched · {c["none"]} none · {c["new"]} new (staged)</div>')
        staged = c["matched"] + c["new"]
        self.apply_button.disabled = staged == 0
        self.apply_button.description = f"Apply ({staged})" if staged else "Apply"
        self.discard_button.disabled = not self.judgments and not self.rejected
        s = self.open_candidates()
        old = list(self.queue_box.children)
        self.cards = [RecordCard(self, no, s[s["nav_no"] == no]) for no in self.queue()[: self.page_size]]
        if not self.cards:
            empty = ("No suggestions: every uncoupled record is judged, or nothing resembles anything."
                     if len(self.suggestions) or self.judgments else "Press Find suggestions to score the uncoupled records.")
            self.queue_box.children = [w.HTML(f'<div class="cs-hint">{esc(empty)}</div>')]
        else:
            self.queue_box.children = self.cards
        for gone in old:  # the replaced cards leave the kernel with their whole tree
            close_tree(gone)
