"""Pairwise judging: two answers to one cell side by side, models hidden, sides shuffled.

A person says which is better (or tie, or both bad). The verdict is stored with the mapping the
person did not see — which run and model sat on which side — so win rates and Elo ratings can
be computed later, in the order the verdicts were given (analysis/pairwise.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Markdown, Static
from textual.worker import get_current_worker

from tui_bench.analysis.pairwise import Standing, Verdict, side_labels, standings
from tui_bench.catalog import Catalog
from tui_bench.domain import RunRecord
from tui_bench.judge_name import remember_judge, remembered_judge
from tui_bench.present import interval, percent
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.store.judging import PairCandidate
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.widgets.rubric_dialogs import JudgeNameDialog

PAGE_SIZE = 50
VERDICT_WORDS = {"left": "left is better", "right": "right is better", "tie": "a tie",
                 "both_bad": "both bad"}


def standings_renderable(rows: list[Standing]) -> Table:
    """The per-model table: games, wins, losses, draws, win rate, Bradley-Terry rating."""
    table = Table(title="Pairwise standings (Bradley-Terry fitted to every verdict, Elo scale, "
                  "1000 = average, 95% bootstrap interval; tie and both bad count as draws)",
                  title_justify="left", box=None, padding=(0, 1))
    for name, justify in (("model", "left"), ("games", "right"), ("won", "right"),
                          ("lost", "right"), ("tie", "right"), ("both bad", "right"),
                          ("win rate", "right"), ("rating", "right"), ("95% CI", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in rows:
        rate = percent(s.win_rate)
        table.add_row(s.model, str(s.games), str(s.wins), str(s.losses), str(s.ties),
                      str(s.both_bad), rate, "—" if s.rating is None else f"{s.rating:.0f}",
                      interval(s.rating_low, s.rating_high, "{:.0f}"))
    if not rows:
        table.add_row("no verdicts yet", *[""] * 8)
    return table


class PairwiseScreen(BenchScreen[None]):
    """Compare two answers to the same cell without knowing whose they are."""

    @dataclass
    class PairFetched(Message):
        """Candidate pairs up to a position and the two runs there, read off the loop."""

        generation: int
        pos: int
        pairs: list[tuple[str, PairCandidate]]
        exhausted: bool
        runs: tuple[RunRecord, RunRecord] | None  # None: no pairs left

    @dataclass
    class VerdictSaved(Message):
        """A verdict was stored; standings come along when they are on screen."""

        verdict: str
        left: RunRecord
        right: RunRecord
        standings: list[Standing] | None

    @dataclass
    class StandingsLoaded(Message):
        """Win rates and Elo from every stored verdict."""

        standings: list[Standing]

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
        self._generation = 0  # which fetch the screen waits for; older results are dropped

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
        self.reload()
        if self.judge is None:
            self.app.push_screen(JudgeNameDialog(), self._named)

    def _named(self, name: str | None) -> None:
        if name:
            self.judge = name
            remember_judge(name)
            self.call_later(self.reload)

    # ---- pairs

    def reload(self) -> None:
        self.pairs, self.exhausted, self.pos = [], False, 0
        self._show()

    def _show(self) -> None:
        """Fetch the pair at ``self.pos`` in a thread; ``_on_pair_fetched`` shows it."""
        self.left = self.right = None
        self._status()
        self._generation += 1
        self._fetch(self._generation, self.pos, list(self.pairs), self.exhausted,
                    self.judge or "", self.across)

    @work(thread=True, exclusive=True, group="pair-fetch", exit_on_error=False,
          description="read candidate pairs")
    def _fetch(self, generation: int, pos: int, pairs: list[tuple[str, PairCandidate]],
               exhausted: bool, judge: str, across: Literal["models", "batches"]) -> None:
        runs: tuple[RunRecord, RunRecord] | None = None
        while runs is None:
            while pos >= len(pairs) and not exhausted:
                after = pairs[-1][0] if pairs else None
                page = self.store.pairwise_candidates(judge=judge, across=across,
                                                      limit=self.page_size, after=after)
                if len(page) < self.page_size:
                    exhausted = True
                pairs.extend(page)
            if pos >= len(pairs):
                break
            _, pair = pairs[pos]
            a, b = self.store.get_run(pair.a_run_id), self.store.get_run(pair.b_run_id)
            if a is None or b is None:  # deleted since the candidates were read
                pos += 1
                continue
            runs = (a, b)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PairFetched(generation, pos, pairs, exhausted, runs))

    def _status(self) -> None:
        what = "different models" if self.across == "models" else "one model, different batches"
        self.query_one("#pair-status", Static).update(
            f"Pairwise as {self.judge or '(no name yet: i)'} · {what} · models hidden, sides "
            f"shuffled · {self.given} verdicts this session")

    @on(PairFetched)
    async def _on_pair_fetched(self, message: PairFetched) -> None:
        if message.generation != self._generation:  # the person has moved on already
            return
        self.pos, self.pairs, self.exhausted = message.pos, message.pairs, message.exhausted
        meta = self.query_one("#pair-meta", Static)
        outputs = [self.query_one(f"#pair-{side}-output", Markdown) for side in ("left", "right")]
        if message.runs is None:
            meta.update("No pairs left to compare: every pair of one cell has your verdict "
                        "(m switches between models and batches).")
            for md in outputs:
                await md.update("")
            return
        _, pair = self.pairs[self.pos]
        a, b = message.runs
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

    def action_verdict(self, verdict: str) -> None:
        if self.left is None or self.right is None:
            self.notify("no pair on screen", severity="warning")
            return
        if not self.judge:
            self.app.push_screen(JudgeNameDialog(), self._named)
            return
        left, right = self.left, self.right
        self.left = self.right = None  # one verdict per pair, however fast the keys come
        self._save_verdict(left, right, verdict, self.judge,
                           self.query_one("#pair-standings").display)

    @work(thread=True, exclusive=True, group="pair-save", exit_on_error=False,
          description="store a verdict")
    def _save_verdict(self, left: RunRecord, right: RunRecord, verdict: str, judge: str,
                      with_standings: bool) -> None:
        self.store.save_pairwise(left_run_id=left.run_id, right_run_id=right.run_id,
                                 verdict=verdict, judge=judge, blind=True)
        rows = self._read_standings() if with_standings else None
        self.post_message(self.VerdictSaved(verdict, left, right, rows))

    @on(VerdictSaved)
    def _on_verdict_saved(self, message: VerdictSaved) -> None:
        self.given += 1
        self.query_one("#pair-last", Static).update(Text.assemble(
            ("Last verdict ", "bold"), f"{VERDICT_WORDS[message.verdict]} — left was ",
            (message.left.model, "bold"), f" ({message.left.batch_id}), right was ",
            (message.right.model, "bold"), f" ({message.right.batch_id})"))
        if message.standings is not None:
            self._show_standings(message.standings)
        self.pos += 1
        self._show()

    def action_skip(self) -> None:
        if self.pos < len(self.pairs):
            self.pos += 1
        self._show()

    def action_across(self) -> None:
        self.across = "batches" if self.across == "models" else "models"
        self.reload()

    def action_standings(self) -> None:
        box = self.query_one("#pair-standings", Static)
        box.display = not box.display
        if box.display:
            self._load_standings()

    @work(thread=True, exclusive=True, group="pair-standings", exit_on_error=False,
          description="compute standings")
    def _load_standings(self) -> None:
        self.post_message(self.StandingsLoaded(self._read_standings()))

    def _read_standings(self) -> list[Standing]:
        """Win rates and Elo from every stored verdict (called in a worker thread)."""
        verdicts = []
        for record in self.store.pairwise_verdicts():
            left, right = side_labels(record.left_model, record.right_model,
                                      record.left_batch_id, record.right_batch_id)
            verdicts.append(Verdict(left, right, record.verdict))  # type: ignore[arg-type]
        return standings(verdicts)

    @on(StandingsLoaded)
    def _on_standings_loaded(self, message: StandingsLoaded) -> None:
        self._show_standings(message.standings)

    def _show_standings(self, rows: list[Standing]) -> None:
        self.query_one("#pair-standings", Static).update(standings_renderable(rows))

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
