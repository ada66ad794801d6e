"""Pairwise judging: two answers to one cell side by side, models hidden, sides shuffled.

A person says which is better (or tie, or both bad). The verdict is stored with the mapping the
person did not see — which run and model sat on which side — so win rates and Elo ratings can
be computed later, in the order the verdicts were given (analysis/pairwise.py).
"""

from __future__ import annotations

import random
from typing import Literal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from tui_bench.analysis.pairwise import Standing, Verdict, side_labels, standings
from tui_bench.catalog import Catalog
from tui_bench.domain import RunRecord
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.store.judging import PairCandidate, remember_judge, remembered_judge
from tui_bench.tui.widgets.rubric_dialogs import JudgeNameDialog

PAGE_SIZE = 50
VERDICT_WORDS = {"left": "left is better", "right": "right is better", "tie": "a tie",
                 "both_bad": "both bad"}


def standings_renderable(rows: list[Standing]) -> Table:
    """The per-model table: games, wins, losses, draws, win rate, Elo."""
    table = Table(title="Pairwise standings (Elo K=32 from 1000, in verdict order; "
                  "tie and both bad count as draws)", title_justify="left", box=None,
                  padding=(0, 1))
    for name, justify in (("model", "left"), ("games", "right"), ("won", "right"),
                          ("lost", "right"), ("tie", "right"), ("both bad", "right"),
                          ("win rate", "right"), ("Elo", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in rows:
        rate = "n/a" if s.win_rate is None else f"{s.win_rate:.0%}"
        table.add_row(s.model, str(s.games), str(s.wins), str(s.losses), str(s.ties),
                      str(s.both_bad), rate, f"{s.elo:.0f}")
    if not rows:
        table.add_row("no verdicts yet", *[""] * 7)
    return table


class PairwiseScreen(Screen[None]):
    """Compare two answers to the same cell without knowing whose they are."""

    CSS_PATH = "judge.tcss"
    SUB_TITLE = "Pairwise judging"

    BINDINGS = [
        Binding("1,left", "verdict('left')", "Left better", key_display="1/←"),
        Binding("2,right", "verdict('right')", "Right better", key_display="2/→"),
        Binding("t,equals_sign", "verdict('tie')", "Tie", key_display="t"),
        Binding("x,0", "verdict('both_bad')", "Both bad", key_display="x"),
        Binding("right_square_bracket", "skip", "Skip", key_display="]"),
        Binding("m", "across", "Models/batches"),
        Binding("r", "standings", "Standings"),
        Binding("i", "rename", "Judge name", show=False),
        Binding("pagedown", "scroll(1)", "Scroll", show=False),
        Binding("pageup", "scroll(-1)", "Scroll", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog, settings: Settings | None = None, *,
                 judge: str | None = None, seed: int | None = None,
                 across: Literal["models", "batches"] = "models",
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.judge = judge or remembered_judge()
        self.rng = random.Random(seed)
        self.across: Literal["models", "batches"] = across
        self.page_size = page_size
        self.pairs: list[tuple[str, PairCandidate]] = []
        self.exhausted = False
        self.pos = 0
        self.left: RunRecord | None = None
        self.right: RunRecord | None = None
        self.given = 0

    def compose(self) -> ComposeResult:
        yield Static(id="pair-status")
        yield Static(id="pair-meta")
        with Horizontal(id="pair-body"):
            for side in ("left", "right"):
                with VerticalScroll(classes=f"pair-side -{side}", id=f"pair-{side}") as pane:
                    pane.can_focus = False
                    yield Static(f"{side.title()} answer", classes="section")
                    # A model's output is not trusted to open a browser.
                    yield Markdown(classes="pair-output", id=f"pair-{side}-output",
                                   open_links=False)
        yield Static(id="pair-last")
        yield Static(id="pair-standings")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#pair-standings").display = False
        await self.reload()
        if self.judge is None:
            self.app.push_screen(JudgeNameDialog(), self._named)

    def _named(self, name: str | None) -> None:
        if name:
            self.judge = name
            remember_judge(name)
            self.call_later(self.reload)

    # ---- pairs

    async def reload(self) -> None:
        self.pairs, self.exhausted, self.pos = [], False, 0
        await self._show()

    def _load_until(self, index: int) -> bool:
        while index >= len(self.pairs) and not self.exhausted:
            after = self.pairs[-1][0] if self.pairs else None
            page = self.store.pairwise_candidates(judge=self.judge or "", across=self.across,
                                                  limit=self.page_size, after=after)
            if len(page) < self.page_size:
                self.exhausted = True
            self.pairs.extend(page)
        return index < len(self.pairs)

    def _status(self) -> None:
        what = "different models" if self.across == "models" else "one model, different batches"
        self.query_one("#pair-status", Static).update(
            f"Pairwise as {self.judge or '(no name yet: i)'} · {what} · models hidden, sides "
            f"shuffled · {self.given} verdicts this session")

    async def _show(self) -> None:
        self.left = self.right = None
        meta = self.query_one("#pair-meta", Static)
        outputs = [self.query_one(f"#pair-{side}-output", Markdown) for side in ("left", "right")]
        self._status()
        if not self._load_until(self.pos):
            meta.update("No pairs left to compare: every pair of one cell has your verdict "
                        "(m switches between models and batches).")
            for md in outputs:
                await md.update("")
            return
        _, pair = self.pairs[self.pos]
        a, b = self.store.get_run(pair.a_run_id), self.store.get_run(pair.b_run_id)
        if a is None or b is None:
            self.pos += 1
            await self._show()
            return
        self.left, self.right = (a, b) if self.rng.random() < 0.5 else (b, a)
        prompt = self.left.prompt.strip().replace("\n", " ")
        meta.update(Text.assemble(
            ("Scenario ", "bold"), f"{pair.scenario_id} · tier {pair.tier} · prompt "
            f"{pair.prompt_version}\n", ("Prompt ", "bold"),
            prompt[:300] + ("…" if len(prompt) > 300 else "")))
        await outputs[0].update(self.left.output or "_(empty output)_")
        await outputs[1].update(self.right.output or "_(empty output)_")
        for side in ("left", "right"):
            self.query_one(f"#pair-{side}", VerticalScroll).scroll_home(animate=False)

    # ---- actions

    async def action_verdict(self, verdict: str) -> None:
        if self.left is None or self.right is None:
            self.notify("no pair on screen", severity="warning")
            return
        if not self.judge:
            self.app.push_screen(JudgeNameDialog(), self._named)
            return
        self.store.save_pairwise(left_run_id=self.left.run_id, right_run_id=self.right.run_id,
                                 verdict=verdict, judge=self.judge, blind=True)
        self.given += 1
        self.query_one("#pair-last", Static).update(Text.assemble(
            ("Last verdict ", "bold"), f"{VERDICT_WORDS[verdict]} — left was ",
            (self.left.model, "bold"), f" ({self.left.batch_id}), right was ",
            (self.right.model, "bold"), f" ({self.right.batch_id})"))
        if self.query_one("#pair-standings").display:
            self._refresh_standings()
        self.pos += 1
        await self._show()

    async def action_skip(self) -> None:
        if self.pos < len(self.pairs):
            self.pos += 1
        await self._show()

    async def action_across(self) -> None:
        self.across = "batches" if self.across == "models" else "models"
        await self.reload()

    def action_standings(self) -> None:
        box = self.query_one("#pair-standings", Static)
        box.display = not box.display
        if box.display:
            self._refresh_standings()

    def _refresh_standings(self) -> None:
        verdicts = []
        for record in self.store.pairwise_verdicts():
            left, right = side_labels(record.left_model, record.right_model,
                                      record.left_batch_id, record.right_batch_id)
            verdicts.append(Verdict(left, right, record.verdict))  # type: ignore[arg-type]
        self.query_one("#pair-standings", Static).update(standings_renderable(
            standings(verdicts)))

    def action_rename(self) -> None:
        self.app.push_screen(JudgeNameDialog(self.judge), self._named)

    def action_scroll(self, direction: int) -> None:
        for side in ("left", "right"):
            pane = self.query_one(f"#pair-{side}", VerticalScroll)
            (pane.scroll_page_down if direction > 0 else pane.scroll_page_up)(animate=False)

    def action_leave(self) -> None:
        box = self.query_one("#pair-standings")
        if box.display:
            box.display = False
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
