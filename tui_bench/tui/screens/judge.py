"""The judging screen: a person scores runs against a rubric, keyboard only.

Left, what the model was asked and what it answered; right, one slider per criterion. Blind by
default: the model, its backend and telemetry, the automatic score and any LLM judge's scores
stay hidden until the person has saved, so none of them anchors the judgment; afterwards they
are shown beside the person's scores. A judgment is stored only when every criterion was set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Input, Markdown, Static
from textual.worker import get_current_worker

from tui_bench.analysis.agreement import AgreementReport, figure, rubric_agreement
from tui_bench.analysis.summary import counted
from tui_bench.catalog import Catalog
from tui_bench.domain import Judgment, Rubric, RunRecord
from tui_bench.judge_name import remember_judge, remembered_judge
from tui_bench.present import telemetry
from tui_bench.settings import Settings
from tui_bench.store import Store, StoreError
from tui_bench.store.judging import QueueEntry, QueueFilter, Unjudged
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.widgets.rubric_dialogs import JudgeNameDialog, QueueFilterDialog
from tui_bench.tui.widgets.rubric_panel import RubricPanel, anchor_lines, band_note
from tui_bench.tui.widgets.rubric_state import BIG_STEP, ScoreSheet

PAGE_SIZE = 50
# The queue filter, said as the queue it is (not as a fact about the run on screen).
UNJUDGED_LABELS = {"anyone": "queue: runs nobody has judged",
                   "me": "queue: runs you have not judged", "all": "queue: all runs"}
UNJUDGED_CYCLE: dict[Unjudged, Unjudged] = {"anyone": "me", "me": "all", "all": "anyone"}


def reveal_renderable(run: RunRecord, rubric: Rubric | None, mine: Judgment | None,
                      others: list[Judgment]) -> Table:
    """What blind mode hides: model, backend, telemetry, automatic score, other judges."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    backend = run.model.split(":", 1)[0]
    grid.add_row("Model", f"{run.model} ({backend}) · batch {run.batch_id}")
    grid.add_row("Telemetry", telemetry(run.telemetry))
    if run.auto_score is None:
        auto = "none"
    else:
        verdict = "" if run.success is None else (" pass" if run.success else " fail")
        if run.held_as_suspect:
            verdict = " suspect"
        auto = f"{run.auto_score:.2f}{verdict}"
        if run.evaluations:
            auto += " — " + ", ".join(f"{e.evaluator} {e.score:.2f}" for e in run.evaluations
                                      if counted(e.detail))
    grid.add_row("Automatic", auto)
    if rubric is not None and (mine is not None or others):
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("criterion")
        columns: list[tuple[str, Judgment]] = []
        if mine is not None:
            columns.append(("you", mine))
        columns.extend((f"{j.judge}{' (LLM)' if j.judge_kind == 'model' else ''}", j)
                       for j in others)
        for label, _ in columns:
            table.add_column(label, justify="right")
        for crit in rubric.criteria:
            table.add_row(crit.name, *[str(j.scores.get(crit.id, "—")) for _, j in columns])
        table.add_row(Text("total", style="bold"),
                      *[f"{j.total} {j.band}" for _, j in columns])
        grid.add_row("Judges", table)
    elif rubric is not None:
        grid.add_row("Judges", "no other judgments")
    return grid


def agreement_renderable(report: AgreementReport, rubric: Rubric) -> Group:
    """Per criterion: alpha between people, kappa and alpha of the LLM judge against them."""
    names = {c.id: c.name for c in rubric.criteria}
    table = Table(box=None, padding=(0, 1))
    table.add_column("criterion")
    table.add_column("people α", justify="right")
    table.add_column("LLM κ", justify="right")
    table.add_column("LLM α", justify="right")
    for row in report.rows:
        table.add_row(names.get(row.criterion, row.criterion),
                      figure(row.people_alpha, row.people_runs),
                      figure(row.model_kappa, row.model_runs),
                      figure(row.model_alpha, row.model_runs))
    return Group(
        Text.assemble(("Agreement on ", "bold"), (rubric.id, "bold")),
        Text(f"people: {', '.join(report.people) or 'none yet'}"),
        Text(f"LLM judge: {report.model_judge or 'none'}"),
        table,
        Text("α Krippendorff (interval), κ Cohen (quadratic weights), n runs; "
             "n/a: not enough data or no variation", style="italic"))


CRITERION_KEYS = Binding.Group("Criterion", compact=True)
MOVE_KEYS = Binding.Group("Prev/skip", compact=True)


class SheetPane(VerticalScroll, inherit_bindings=False):
    """The right pane scrolls, but leaves the arrow keys to the screen: inside a plain
    VerticalScroll, ↑/↓ would scroll the pane instead of moving between criteria."""


@dataclass
class RunView:
    """Everything the sheet needs about one queued run, read together off the message loop."""

    run_id: str
    run: RunRecord | None  # None: deleted since the queue was read
    rubric: Rubric | None = None
    problem: str | None = None  # why there is no rubric
    mine: Judgment | None = None  # this judge's earlier judgment of the run
    others: list[Judgment] = field(default_factory=list)  # everyone else's


class JudgeScreen(BenchScreen[None]):
    """Judge runs from a queue, one rubric sheet at a time."""

    @dataclass
    class AgreementComputed(Message):
        """Agreement between judges on a rubric, computed off the message loop."""

        report: AgreementReport
        rubric: Rubric

    @dataclass
    class RunFetched(Message):
        """The queue up to a position and the run there, read off the message loop."""

        generation: int
        entries: list[QueueEntry]
        exhausted: bool
        view: RunView | None  # None past the end of the queue
        waiting: int | None

    @dataclass
    class Saved(Message):
        """A judgment was stored; ``others`` are the other judges' on the same run."""

        run: RunRecord
        judgment: Judgment
        others: list[Judgment]
        mirrored: bool  # the run is mirrored in MLflow, so the judgment goes there too
        pos: int  # where in the queue it was saved, for ctrl+z
        replaced: Judgment | None  # this judge's earlier judgment the save replaced

    @dataclass
    class Withdrawn(Message):
        """A save taken back (ctrl+z): the run and its scores go back on the sheet."""

        pos: int
        saved: Judgment
        replaced: Judgment | None

    @dataclass
    class WithdrawFailed(Message):
        """The store refused to take the save back; says why in one line."""

        reason: str

    @dataclass
    class SaveFailed(Message):
        """The store refused the judgment (locked, read-only); the sheet stays."""

        reason: str

    @dataclass
    class FacetsLoaded(Message):
        """What the queue can be filtered by, read for the filter dialog."""

        facets: dict[str, list[str]]

    CSS_PATH = "judge.tcss"
    AUTO_FOCUS = "#rubric"
    SUB_TITLE = "Judging"
    # Below 100 columns the sheet gets more room and the footer goes compact (judge.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    BINDINGS = [
        Binding("enter,ctrl+s", "save", "Save & next", priority=False),
        Binding("up", "criterion(-1)", "Criterion ↑", key_display="↑", group=CRITERION_KEYS),
        Binding("down", "criterion(1)", "Criterion ↓", key_display="↓", group=CRITERION_KEYS),
        Binding("left", "nudge(-1)", "−1", show=False),
        Binding("right", "nudge(1)", "+1", show=False),
        Binding("shift+left", "nudge(-5)", f"−{BIG_STEP}", show=False),
        Binding("shift+right", "nudge(5)", f"+{BIG_STEP}", show=False),
        *[Binding(str(d), f"digit('{d}')", "type a value", show=False) for d in range(10)],
        Binding("left_square_bracket", "previous", "Previous", key_display="[", group=MOVE_KEYS),
        Binding("right_square_bracket", "skip", "Skip", key_display="]", group=MOVE_KEYS),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("n", "notes", "Notes"),
        Binding("b", "blind", "Blind", tooltip="blind mode on or off"),
        Binding("a", "anchors", "Anchors"),
        Binding("f", "filter", "Filter"),
        Binding("g", "agreement", "Agreement"),
        Binding("u", "unjudged", "Unjudged", tooltip="queue: nobody's, not mine, all runs"),
        Binding("i", "rename", "Judge name", show=False),
        Binding("p", "pairwise", "Pairwise"),
        Binding("pagedown", "scroll_output(1)", "Scroll output", show=False),
        Binding("pageup", "scroll_output(-1)", "Scroll output", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog, settings: Settings | None = None, *,
                 judge: str | None = None, filters: QueueFilter | None = None,
                 blind: bool = True, clock: Callable[[], float] = time.monotonic,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.judge = judge or remembered_judge()
        self.blind = blind
        self.clock = clock
        self.page_size = page_size
        self.filter = filters or QueueFilter()
        self.entries: list[QueueEntry] = []
        self.exhausted = False
        self.pos = 0
        self.run: RunRecord | None = None
        self.rubric: Rubric | None = None
        self.sheet: ScoreSheet | None = None
        self.revealed = False
        self.saved_count = 0
        self.mine: Judgment | None = None
        self.others: list[Judgment] = []
        self.waiting: int | None = None
        self._generation = 0  # which fetch the screen waits for; older results are dropped
        self._saving = False
        self._refill: dict[str, int] | None = None  # scores to put back on the next sheet
        # The last save, so ctrl+z can take it back: (queue position, saved, replaced).
        self._undo_save: tuple[int, Judgment, Judgment | None] | None = None

    # ---- layout

    def compose(self) -> ComposeResult:
        yield Static(id="judge-status")
        with Horizontal(id="judge-body"):
            with VerticalScroll(id="run-pane") as left:
                left.can_focus = False
                yield Static(id="run-meta")
                yield Static("Prompt", classes="section")
                yield Markdown(id="run-prompt", open_links=False)
                yield Static("Output", classes="section")
                # A model's output is not trusted to open a browser.
                yield Markdown(id="run-output", open_links=False)
            with SheetPane(id="sheet-pane") as right:
                right.can_focus = False
                yield RubricPanel(id="rubric")
                yield Static(id="last-saved")
                yield Static(id="anchors", classes="panel")
                yield Input(placeholder="notes: n to write, escape to leave", id="notes")
                yield Static(id="reveal", classes="panel")
                yield Static(id="agreement", classes="panel")
        yield Footer()

    def on_resize(self) -> None:
        """A narrow terminal gets a compact footer without the palette key, so the screen's
        own keys stay on it (ctrl+p still opens the palette)."""
        footer = self.query_one(Footer)
        narrow = self.size.width < 100
        footer.compact = self.size.width < 170  # room for ? Help and q Quit at 160 columns
        footer.show_command_palette = not narrow

    async def on_mount(self) -> None:
        self.query_one("#anchors").display = False
        self.query_one("#agreement").display = False
        self.query_one("#last-saved").display = False
        self.reload()
        if self.judge is None:
            self.app.push_screen(JudgeNameDialog(), self._named)

    def _named(self, name: str | None) -> None:
        if name:
            self.judge = name
            remember_judge(name)
            self._status()
            if self.filter.unjudged == "me":
                self.call_later(self.reload)

    # ---- the queue

    def _queue_filter(self) -> QueueFilter:
        return replace(self.filter, judge=self.judge, shuffled=self.blind)

    def reload(self) -> None:
        """Start the queue over (after a filter change)."""
        self.entries, self.exhausted, self.pos = [], False, 0
        self._show()

    def _show(self, scores: dict[str, int] | None = None) -> None:
        """Fetch the run at ``self.pos`` in a thread; ``_on_run_fetched`` puts it on screen,
        with ``scores`` on the sheet instead of a fresh one (a save taken back)."""
        self._refill = scores
        self.run = self.rubric = self.sheet = None
        self.revealed = False
        self._generation += 1
        self._fetch(self._generation, self.pos, list(self.entries), self.exhausted,
                    self._queue_filter(), self.judge)

    @work(thread=True, exclusive=True, group="judge-fetch", exit_on_error=False,
          description="read the judging queue")
    def _fetch(self, generation: int, pos: int, entries: list[QueueEntry], exhausted: bool,
               queue: QueueFilter, judge: str | None) -> None:
        while pos >= len(entries) and not exhausted:  # fetch pages until pos or the end
            after = entries[-1].key if entries else None
            page = self.store.judging_queue(queue, after=after, limit=self.page_size)
            if len(page) < self.page_size:
                exhausted = True
            entries.extend(page)
        waiting = self.store.count_queue(queue) if queue.unjudged != "all" else None
        view = None
        if pos < len(entries):
            run_id = entries[pos].run_id
            run = self.store.get_run(run_id)
            view = RunView(run_id, run)
            if run is not None:
                view.rubric, view.problem = self.store.rubric_for_run(run, self.catalog)
                view.mine = self.store.judgment_by(run.run_id, judge) if judge else None
                view.others = [j for j in self.store.judgments(run.run_id)
                               if not (j.judge_kind == "person" and j.judge == judge)]
        if not get_current_worker().is_cancelled:
            self.post_message(self.RunFetched(generation, entries, exhausted, view, waiting))

    def _status(self) -> None:
        f = self._queue_filter()
        parts = [f"Judging as {self.judge or '(no name yet: i)'}",
                 "blind" if self.blind else "not blind",
                 UNJUDGED_LABELS[f.unjudged]]
        for label, value in (("batch", f.batch_id), ("model", f.model),
                             ("scenario", f.scenario_id), ("rubric", f.rubric_id)):
            if value:
                parts.append(f"{label} {value}")
        if self.waiting is not None:
            parts.append(f"{self.waiting} waiting")
        parts.append(f"#{self.pos + 1}" if self.pos < len(self.entries) else "end of queue")
        if self.saved_count:
            parts.append(f"{self.saved_count} saved this session")
        self.query_one("#judge-status", Static).update(" · ".join(parts))

    @on(RunFetched)
    async def _on_run_fetched(self, message: RunFetched) -> None:
        """Put the fetched run on screen with a fresh (or the judge's earlier) sheet."""
        if message.generation != self._generation:  # the person has moved on already
            return
        self.entries, self.exhausted, self.waiting = (message.entries, message.exhausted,
                                                      message.waiting)
        scores, self._refill = self._refill, None  # a save taken back refills the sheet
        meta = self.query_one("#run-meta", Static)
        prompt = self.query_one("#run-prompt", Markdown)
        output = self.query_one("#run-output", Markdown)
        notes = self.query_one("#notes", Input)
        panel = self.query_one(RubricPanel)
        view = message.view
        self.mine, self.others = (view.mine, view.others) if view else (None, [])
        if view is None:
            self.pos = len(self.entries)
            meta.update("Nothing (more) to judge with this filter. f changes the filter, "
                        "u shows runs judged already, [ goes back.")
            await prompt.update("")
            await output.update("")
            self._sheet_visible(False)
            notes.value = ""
            self.query_one("#reveal", Static).update("")
            self._status()
            return
        run = view.run
        if run is None:  # deleted meanwhile
            meta.update(f"{view.run_id} is no longer in the database; ] skips it")
            self._sheet_visible(False)
            self._status()
            return
        self.run = run
        rubric, mine = view.rubric, view.mine
        self.rubric = rubric
        self.revealed = not self.blind or mine is not None
        await prompt.update(run.prompt or "_(no prompt stored)_")
        await output.update(run.output or "_(empty output)_")
        self.query_one("#run-pane", VerticalScroll).scroll_home(animate=False)
        if rubric is None:
            self._sheet_visible(False)
            notes.value = ""
            meta.update(f"{self._meta(run)}\n{view.problem}; ] skips it")
        else:
            if scores is None and mine is not None and mine.rubric_id == rubric.id:
                scores = mine.scores
            self.sheet = ScoreSheet(rubric, scores, clock=self.clock)
            self._sheet_visible(True)
            await panel.load(self.sheet)
            notes.value = mine.notes if mine is not None else ""
            meta.update(self._meta(run) + ("\nyou judged this run before: saving replaces it"
                                           if mine is not None else ""))
        self._refresh_reveal()
        self._refresh_anchors()
        self._status()

    def _sheet_visible(self, visible: bool) -> None:
        """Show or hide the sheet and notes; keys must never land in a hidden notes field."""
        panel = self.query_one(RubricPanel)
        panel.display = visible
        self.query_one("#notes", Input).display = visible
        if visible:
            if not isinstance(self.focused, Input):
                panel.focus()
        else:
            self.set_focus(None)

    def _meta(self, run: RunRecord) -> str:
        who = run.model if self.revealed else "hidden (blind)"
        specialist = f" · specialist {run.specialist}" if run.specialist else ""
        return (f"model {who} · scenario {run.scenario_id} · tier {run.tier} · prompt "
                f"{run.prompt_version}{specialist} · {run.run_id}")

    def _refresh_reveal(self) -> None:
        reveal = self.query_one("#reveal", Static)
        if self.run is None:
            reveal.update("")
            return
        if not self.revealed:
            reveal.update(Text.assemble(
                ("Blind", "bold"), ": model, backend and telemetry, the automatic score and "
                "other judges' scores are hidden until you save (b turns blind mode off)."))
            return
        reveal.update(reveal_renderable(self.run, self.rubric, self.mine, self.others))

    def _refresh_sheet(self) -> None:
        if self.sheet is not None:
            self.query_one(RubricPanel).show(self.sheet)
            self._refresh_anchors()

    def _refresh_anchors(self) -> None:
        anchors = self.query_one("#anchors", Static)
        if self.sheet is not None and anchors.display:
            anchors.update(anchor_lines(self.sheet.current, self.sheet.value(
                self.sheet.current.id)))

    # ---- scoring keys

    def action_criterion(self, delta: int) -> None:
        if self.sheet is not None:
            self.sheet.move(delta)
            self._refresh_sheet()

    def action_nudge(self, delta: int) -> None:
        if self.sheet is not None:
            self.sheet.step(delta)
            self._refresh_sheet()

    def action_digit(self, char: str) -> None:
        if self.sheet is None:
            return
        problem = self.sheet.digit(char)
        if problem:
            self.notify(problem, severity="warning")
        self._refresh_sheet()

    def action_undo(self) -> None:
        """Undo the last change on the sheet; with none left, take back the last save."""
        if self.sheet is not None and self.sheet.history and self.sheet.undo() is not None:
            self._refresh_sheet()
            return
        if self._undo_save is None:
            self.notify("nothing to undo")
            return
        pos, saved, replaced = self._undo_save
        self._undo_save = None
        self._withdraw(pos, saved, replaced)

    @work(thread=True, exclusive=True, group="judge-save", exit_on_error=False,
          description="take a save back")
    def _withdraw(self, pos: int, saved: Judgment, replaced: Judgment | None) -> None:
        try:
            self.store.withdraw_judgment(saved, replaced)
        except StoreError as exc:
            self.post_message(self.WithdrawFailed(str(exc)))
            return
        self.post_message(self.Withdrawn(pos, saved, replaced))

    @on(WithdrawFailed)
    def _on_withdraw_failed(self, message: WithdrawFailed) -> None:
        self.notify(f"cannot take the save back: {message.reason}", severity="error",
                    timeout=10)

    @on(Withdrawn)
    def _on_withdrawn(self, message: Withdrawn) -> None:
        saved = message.saved
        self.saved_count = max(0, self.saved_count - 1)
        self.query_one("#last-saved", Static).display = False
        self.pos = message.pos
        self._show(scores=saved.scores)
        self.notify(f"save of {saved.run_id} taken back; its scores are on the sheet again"
                    + (" (your earlier judgment is restored)" if message.replaced else ""))

    @on(RubricPanel.Picked)
    def _picked(self, event: RubricPanel.Picked) -> None:
        if self.sheet is not None and self.sheet.value(event.criterion_id) != event.value:
            self.sheet.set(event.criterion_id, event.value)
            self._refresh_sheet()

    # ---- saving and moving

    def judgment(self) -> Judgment | None:
        """The judgment the sheet holds, or None (with a message) when it cannot be saved."""
        if self.run is None or self.sheet is None or self.rubric is None:
            self.notify("nothing to save here", severity="warning")
            return None
        if not self.judge:
            self.notify("not saved: say who is judging first (i)", severity="warning")
            self.app.push_screen(JudgeNameDialog(), self._named)
            return None
        if not self.sheet.complete:
            names = ", ".join(c.name for c in self.sheet.unset)
            self.notify(f"not saved: {names} still unset", severity="warning", timeout=6)
            return None
        scores = self.sheet.scores
        return Judgment.from_scores(
            self.rubric, scores, run_id=self.run.run_id, judge=self.judge,
            notes=self.query_one("#notes", Input).value.strip(), blind=not self.revealed)

    def action_save(self) -> None:
        if self._saving:
            return
        judgment = self.judgment()
        if judgment is None or self.run is None:
            return
        self._saving = True
        self._save(self.run, judgment, self.pos)

    @work(thread=True, exclusive=True, group="judge-save", exit_on_error=False,
          description="store a judgment")
    def _save(self, run: RunRecord, judgment: Judgment, pos: int) -> None:
        replaced = self.store.judgment_by(run.run_id, judgment.judge)
        if replaced is not None and replaced.rubric_id != judgment.rubric_id:
            replaced = None  # kept by the save: only the same rubric's judgment is replaced
        try:
            judgment.judgment_id = self.store.save_judgments([judgment])[0]
            others = [j for j in self.store.judgments(run.run_id)
                      if not (j.judge_kind == "person" and j.judge == judgment.judge)]
            mirrored = bool(self.store.mlflow_runs_of([judgment.run_id]))
        except StoreError as exc:  # locked or read-only: keep the sheet, say why
            self.post_message(self.SaveFailed(str(exc)))
            return
        self.post_message(self.Saved(run, judgment, others, mirrored, pos, replaced))

    @on(SaveFailed)
    def _on_save_failed(self, message: SaveFailed) -> None:
        self._saving = False
        self.notify(f"not saved: {message.reason}", severity="error", timeout=10)

    @on(Saved)
    def _on_saved(self, message: Saved) -> None:
        self._saving = False
        self.saved_count += 1
        self._undo_save = (message.pos, message.judgment, message.replaced)
        self._show_last_saved(message.run, message.judgment, message.others)
        if message.mirrored:
            self._update_mlflow(message.judgment.run_id)
        self.pos += 1
        self._show()
        self.query_one("#last-saved", Static).scroll_visible(animate=False)

    @work(thread=True, exit_on_error=False, group="mlflow", description="update MLflow")
    def _update_mlflow(self, run_id: str) -> None:
        """The run is mirrored in MLflow: send its judgment there, off the message loop."""
        from tui_bench.integrations.mlflow import update_judged_runs

        store = Store(self.store.path)  # this thread's own connection
        try:
            _, problem = update_judged_runs(store, [run_id])
        finally:
            store.close()
        if problem:
            self.notify(f"MLflow not updated: {problem}", severity="warning", timeout=8)

    def _show_last_saved(self, run: RunRecord, judgment: Judgment,
                         others: list[Judgment]) -> None:
        box = self.query_one("#last-saved", Static)
        head = Text.assemble(("Last saved ", "bold"), f"{run.run_id}: {judgment.total} / "
                             f"{self.rubric.max_total if self.rubric else '?'} · "
                             f"{judgment.percent:.0f}% · ", (judgment.band, "bold"),
                             band_note(judgment.band), " · ctrl+z takes it back")
        table = Table.grid()
        table.add_row(head)
        table.add_row(reveal_renderable(run, self.rubric, judgment, others))
        box.update(table)
        box.display = True

    def action_skip(self) -> None:
        if self.pos < len(self.entries):
            self.pos += 1
        self._show()

    def action_previous(self) -> None:
        if self.pos == 0:
            self.notify("this is the first run of the queue")
            return
        self.pos -= 1
        self._show()

    # ---- panels and modes

    def action_notes(self) -> None:
        self.query_one("#notes", Input).focus()

    @on(Input.Submitted, "#notes")
    def _notes_done(self) -> None:
        self.query_one(RubricPanel).focus()

    def action_leave(self) -> None:
        """Escape: out of the notes first, then close a panel, then leave the screen."""
        if self.focused is self.query_one("#notes", Input):
            self.query_one(RubricPanel).focus()
            return
        for panel_id in ("#anchors", "#agreement"):
            panel = self.query_one(panel_id)
            if panel.display:
                panel.display = False
                return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_anchors(self) -> None:
        anchors = self.query_one("#anchors", Static)
        anchors.display = not anchors.display
        self._refresh_anchors()
        if anchors.display:
            anchors.scroll_visible(animate=False)

    def action_agreement(self) -> None:
        box = self.query_one("#agreement", Static)
        box.display = not box.display
        if box.display:
            if self.rubric is None:
                box.update("agreement needs a run with a rubric on screen")
                return
            box.update(f"computing agreement on {self.rubric.id}…")
            box.scroll_visible(animate=False)
            self._compute_agreement(self.rubric)

    @work(thread=True, exclusive=True, group="agreement", exit_on_error=False,
          description="agreement between judges")
    def _compute_agreement(self, rubric: Rubric) -> None:
        judgments = self.store.agreement_judgments(rubric.id)
        report = rubric_agreement(judgments, [c.id for c in rubric.criteria], rubric_id=rubric.id)
        self.post_message(self.AgreementComputed(report, rubric))

    @on(AgreementComputed)
    def _on_agreement_computed(self, message: AgreementComputed) -> None:
        self._show_agreement(message.report, message.rubric)

    def _show_agreement(self, report: AgreementReport, rubric: Rubric) -> None:
        self.query_one("#agreement", Static).update(agreement_renderable(report, rubric))

    def action_blind(self) -> None:
        self.blind = not self.blind
        if self.run is not None:
            # Blind again hides again, unless this judge has already judged the run.
            self.revealed = not self.blind or (self.judge is not None and self.mine is not None)
        if self.run is not None:
            self.query_one("#run-meta", Static).update(self._meta(self.run))
        self._refresh_reveal()
        self._status()
        self.notify("blind mode on: the next runs hide model and scores" if self.blind
                    else "blind mode off: judgments from now on are recorded as not blind")

    def action_filter(self) -> None:
        self._load_facets()

    @work(thread=True, exclusive=True, group="judge-facets", exit_on_error=False,
          description="read the filter choices")
    def _load_facets(self) -> None:
        facets = self.store.judging_facets()
        facets["rubric"] = sorted({*facets.get("rubric", []), *self.catalog.rubrics})
        self.post_message(self.FacetsLoaded(facets))

    @on(FacetsLoaded)
    def _on_facets_loaded(self, message: FacetsLoaded) -> None:
        self.app.push_screen(QueueFilterDialog(self.filter, message.facets), self._filtered)

    def _filtered(self, chosen: QueueFilter | None) -> None:
        if chosen is None:
            return
        scenarios = tuple(sorted(s.id for s in self.catalog.scenarios.values()
                                 if s.rubric == chosen.rubric_id)) if chosen.rubric_id else ()
        self.filter = replace(chosen, rubric_scenarios=scenarios)
        self.call_later(self.reload)

    def action_unjudged(self) -> None:
        self.filter = replace(self.filter, unjudged=UNJUDGED_CYCLE[self.filter.unjudged])
        self.notify(UNJUDGED_LABELS[self.filter.unjudged])
        self.reload()

    def action_rename(self) -> None:
        self.app.push_screen(JudgeNameDialog(self.judge), self._named)

    def action_pairwise(self) -> None:
        """Pairwise judging is one key away, whether or not the app shell lists it."""
        from tui_bench.tui.screens.pairwise import PairwiseScreen

        self.app.push_screen(PairwiseScreen(store=self.store, catalog=self.catalog,
                                            settings=self.settings, judge=self.judge))

    def action_scroll_output(self, direction: int) -> None:
        pane = self.query_one("#run-pane", VerticalScroll)
        (pane.scroll_page_down if direction > 0 else pane.scroll_page_up)(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Scoring keys mean nothing while the notes field has the keyboard."""
        typing = isinstance(self.focused, Input)
        return not (typing and action in ("digit", "anchors", "agreement", "blind", "filter",
                                          "unjudged", "notes", "rename", "pairwise"))
