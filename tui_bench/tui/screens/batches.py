"""The batch browser: every batch, newest first, a page at a time; a batch's runs; compare.

Three screens live here because they are one feature: ``BatchesScreen`` (the list, with search
and a mode filter), ``BatchDetailScreen`` (a batch's cells and runs, each run's output,
evaluations, judgments and telemetry) and ``BatchCompareScreen`` (two batches cell by cell).
Every query runs in a thread worker and asks the store for one page, so the screens stay
instant on a database of 100,000 runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from tui_bench.analysis.compare import BatchComparison, CellChange, compare_batches
from tui_bench.analysis.evaluation_text import evaluation_lines
from tui_bench.analysis.stats import PairedComparison
from tui_bench.catalog import Catalog
from tui_bench.domain import MODES, Attempt, Judgment, RunRecord
from tui_bench.present import interval, number, percent, rate, score, span, telemetry, timestamp
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.widgets.agent_view import AgentRun, agent_detail
from tui_bench.tui.widgets.refine_view import refine_detail

PAGE_SIZE = 50
RUN_PAGE_SIZE = 200
MODE_CYCLE: tuple[str | None, ...] = (None, *MODES)


def verdict_text(status: str, success: Any, suspect: str | None = None) -> Text:
    """pass, fail, an error status, or "suspect" for a run held until a person clears it."""
    if status != "ok":
        return Text(status, style="red")
    if suspect:
        return Text("suspect", style="bold magenta")
    if success is None:
        return Text("—")
    return Text("pass", style="green") if success else Text("fail", style="yellow")


# --------------------------------------------------------------------------- the list


class BatchesScreen(BenchScreen[None]):
    """All batches, newest first, with their figures; search, filter, open, compare."""

    @dataclass
    class PageLoaded(Message):
        """A page of batches and the count behind it, read off the message loop."""

        rows: list[dict[str, Any]]
        total: int

    @dataclass
    class PreviousFound(Message):
        """The batch before the highlighted one, if any, read for the compare key."""

        current: str
        previous: str | None

    CSS_PATH = "batches.tcss"
    SUB_TITLE = "Batches"
    AUTO_FOCUS = "#batch-table"

    BINDINGS = [
        Binding("enter", "open", "Open", show=True, priority=False),
        Binding("space", "mark", "Mark to compare"),
        Binding("c", "compare", "Compare"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("f", "mode_filter", "Mode filter"),
        Binding("pagedown,n", "page(1)", "Next page", key_display="PgDn"),
        Binding("pageup,p", "page(-1)", "Previous page", key_display="PgUp"),
        Binding("r", "reload", "Refresh"),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.page = 0
        self.total = 0
        self.search = ""
        self.mode: str | None = None
        self.marked: list[str] = []
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="batches-status")
        yield Input(placeholder="search batch id, model, scenario or notes…  (/)",
                    id="batch-search")
        yield DataTable(id="batch-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#batch-table", DataTable)
        table.add_column("", key="mark", width=1)
        for label in ("batch", "created", "mode", "status", "models", "scenarios", "cells",
                      "done", "failed", "score", "duration"):
            table.add_column(label, key=label)
        self.action_reload()

    # ---- loading

    def action_reload(self) -> None:
        self._load(self.page, self.search, self.mode)

    @work(thread=True, exclusive=True, group="batch-page", exit_on_error=False,
          description="batch page")
    def _load(self, page: int, search: str, mode: str | None) -> None:
        rows = self.store.batch_page(limit=PAGE_SIZE, offset=page * PAGE_SIZE,
                                     search=search or None, mode=mode)
        total = self.store.count_batch_page(search=search or None, mode=mode)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageLoaded(rows, total))

    @on(PageLoaded)
    def _on_page_loaded(self, message: PageLoaded) -> None:
        self._show(message.rows, message.total)

    def _show(self, rows: list[dict[str, Any]], total: int) -> None:
        self.rows, self.total = rows, total
        table = self.query_one("#batch-table", DataTable)
        table.clear()
        for r in rows:
            table.add_row(
                "✓" if r["batch_id"] in self.marked else "", r["batch_id"],
                timestamp(r["created_at"]), r["mode"], r["status"], str(len(r["models"])),
                str(len(r["scenarios"])), str(r["total_cells"]), str(r["done"]),
                Text(str(r["failed"]), style="red" if r["failed"] else ""),
                score(r["mean_score"]),
                span(r["started_at"], r["finished_at"], r["status"]),
                key=r["batch_id"])
        self._status()

    def _status(self) -> None:
        pages = max(1, -(-self.total // PAGE_SIZE))
        parts = [f"{self.total} batch{'es' if self.total != 1 else ''}",
                 f"page {self.page + 1}/{pages}"]
        if self.search:
            parts.append(f"search “{self.search}”")
        parts.append(f"mode: {self.mode or 'all'}")
        if self.marked:
            parts.append("marked: " + ", ".join(self.marked))
        if not self.rows:
            parts.append("no batches" + (" match" if self.search or self.mode else " yet"))
        self.query_one("#batches-status", Static).update(" · ".join(parts))

    # ---- actions

    def _current(self) -> str | None:
        table = self.query_one("#batch-table", DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return str(self.rows[table.cursor_row]["batch_id"])

    @on(DataTable.RowSelected, "#batch-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        batch_id = self._current()
        if batch_id is not None:
            self.app.push_screen(BatchDetailScreen(self.store, batch_id, self.catalog))

    def action_mark(self) -> None:
        batch_id = self._current()
        if batch_id is None:
            return
        if batch_id in self.marked:
            self.marked.remove(batch_id)
        else:
            self.marked = [*self.marked, batch_id][-2:]
        table = self.query_one("#batch-table", DataTable)
        for index, row in enumerate(self.rows):
            mark = "✓" if row["batch_id"] in self.marked else ""
            table.update_cell_at(Coordinate(index, 0), mark)
        self._status()

    def action_compare(self) -> None:
        """Compare the two marked batches, or the marked one with the highlighted one, or the
        highlighted one with the batch before it."""
        current = self._current()
        if len(self.marked) == 2:
            pair = self.marked
        elif len(self.marked) == 1 and current and current != self.marked[0]:
            pair = [self.marked[0], current]
        elif current:
            self._find_previous(current)  # the batch before it is read in a worker
            return
        else:
            return
        before, after = self._oldest_first(pair)
        self.app.push_screen(BatchCompareScreen(self.store, before, after))

    @work(thread=True, exclusive=True, group="batches-previous", exit_on_error=False)
    def _find_previous(self, current: str) -> None:
        self.post_message(self.PreviousFound(current, self.store.previous_batch(current)))

    @on(PreviousFound)
    def _on_previous_found(self, message: PreviousFound) -> None:
        if message.previous is None:
            self.notify("no earlier batch to compare with; mark two with space",
                        severity="warning")
            return
        self.app.push_screen(BatchCompareScreen(self.store, message.previous, message.current))

    def _oldest_first(self, pair: list[str]) -> tuple[str, str]:
        created = {r["batch_id"]: r["created_at"] for r in self.rows}
        a, b = pair
        if a in created and b in created and created[a] > created[b]:
            return b, a
        return a, b

    def action_search(self) -> None:
        self.query_one("#batch-search", Input).focus()

    @on(Input.Changed, "#batch-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.page = 0
        self.action_reload()

    @on(Input.Submitted, "#batch-search")
    def _search_done(self) -> None:
        self.query_one("#batch-table", DataTable).focus()

    def action_mode_filter(self) -> None:
        index = MODE_CYCLE.index(self.mode) if self.mode in MODE_CYCLE else 0
        self.mode = MODE_CYCLE[(index + 1) % len(MODE_CYCLE)]
        self.page = 0
        self.action_reload()

    def action_page(self, step: int) -> None:
        last = max(0, (self.total - 1) // PAGE_SIZE)
        page = min(max(0, self.page + step), last)
        if page != self.page:
            self.page = page
            self.action_reload()

    def action_leave(self) -> None:
        search = self.query_one("#batch-search", Input)
        if search.has_focus and search.value:
            search.value = ""
            return
        if search.has_focus:
            self.query_one("#batch-table", DataTable).focus()
            return
        self.app.pop_screen()


# --------------------------------------------------------------------------- one batch


def run_detail(run: RunRecord, judgments: list[Judgment], attempts: list[Attempt],
               judged: dict[str, Any] | None = None, agent: AgentRun | None = None,
               refine: Any = None) -> Group:
    """A run as rich renderables: cell, verdict, telemetry, evaluations, judgments, output."""
    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    spec = f" +{run.specialist}" if run.specialist else ""
    head.add_row("Run", run.run_id)
    head.add_row("Cell", f"{run.model} · {run.scenario_id} · {run.tier}/{run.prompt_version}"
                 f"{spec} #{run.iteration}")
    verdict = verdict_text(run.status, run.success, run.suspect if run.held_as_suspect else None)
    score_line = Text.assemble(score(run.auto_score), "  ", verdict)
    if run.attempts > 1:
        score_line.append(f"  after {run.attempts} attempts")
    head.add_row("Score", score_line)
    if run.suspect:
        state = (f"cleared {timestamp(run.suspect_cleared_at)}" if run.suspect_cleared_at
                 else "not counted as a success until cleared (s)")
        head.add_row("Suspect", Text(f"{run.suspect} · {state}", style="magenta"))
    head.add_row("Telemetry", telemetry(run.telemetry, full=True))
    if run.cached:
        head.add_row("Cached", Text(f"output reused from {run.cached_from} (no model call, "
                                    "no timings)", style="cyan"))
    if run.scoring > 1:
        head.add_row("Scoring", f"{run.scoring} (rescored)")
    parts: list[Any] = [head]
    if run.error:
        parts.append(Text(f"Error: {run.error}", style="red"))
    if run.evaluations:
        # One evaluator a paragraph: its score, then what it found, in words and wrapped, so
        # which tests failed reads the same at 80 columns as at 200.
        text = Text("Evaluations", style="bold")
        for e in run.evaluations:
            text.append(f"\n{e.evaluator} ", style="bold")
            text.append(f"{e.score:.3f} × {e.weight:g}")
            for line in evaluation_lines(e.detail):
                text.append(f"\n  {line}", style="red" if line.startswith("✗") else "")
        parts.append(text)
    if judgments:
        table = Table(title="Judgments", title_justify="left", box=None, padding=(0, 1))
        for name in ("judge", "kind", "rubric", "total", "percent", "band", "notes"):
            table.add_column(name, justify="right" if name in ("total", "percent") else "left")
        for j in judgments:
            table.add_row(j.judge, j.judge_kind, f"{j.rubric_id} v{j.rubric_version}",
                          str(j.total), f"{j.percent:.0f}%", j.band, (j.notes or j.reason)[:60])
        parts.append(table)
    elif judged is None:
        parts.append(Text("Not judged yet.", style="dim"))
    if run.mode == "refine":  # every round's answer and self-score, with the run's effort
        parts.append(refine_detail(refine, attempts))
    elif attempts:
        table = Table(title="Attempts", title_justify="left", box=None, padding=(0, 1))
        for name in ("#", "score", "verdict", "feedback"):
            table.add_column(name)
        for a in attempts:
            table.add_row(str(a.attempt), score(a.auto_score),
                          "—" if a.success is None else ("pass" if a.success else "fail"),
                          (a.feedback or "")[:80])
        parts.append(table)
    parts.append(Text("Output", style="bold"))
    parts.append(Text(run.output or "(no output)", style="" if run.output else "dim"))
    if agent is not None:
        parts.append(agent_detail(agent))
    return Group(*parts)


class BatchDetailScreen(BenchScreen[None]):
    """One batch: its cells and runs on the left, the highlighted run in full on the right."""

    @dataclass
    class HeadLoaded(Message):
        """The batch row and its figures, read off the message loop."""

        batch: dict[str, Any] | None
        figures: dict[str, Any]

    @dataclass
    class RunsLoaded(Message):
        """A page of the batch's runs, read off the message loop."""

        page: int
        rows: list[dict[str, Any]]

    @dataclass
    class Notice(Message):
        """A worker's outcome to tell the person; the batch is read again when ``reload``."""

        text: str
        title: str = ""
        error: bool = False
        reload: bool = False

    @dataclass
    class PreviousFound(Message):
        """The batch before this one, if any, read for the compare key."""

        previous: str | None

    @dataclass
    class ScoringsCounted(Message):
        """How many scorings the batch has, read for the scorings key."""

        latest: int

    @dataclass
    class RunLoaded(Message):
        """One run in full with its judgments and attempts, read off the message loop."""

        run: RunRecord
        judgments: list[Judgment]
        attempts: list[Attempt]
        agent: AgentRun | None = None
        refine: Any = None

    CSS_PATH = "batches.tcss"
    SUB_TITLE = "Batch"
    AUTO_FOCUS = "#run-table"

    BINDINGS = [
        Binding("c", "compare", "Compare with previous"),
        Binding("x", "export", "Export HTML"),
        Binding("s", "clear_suspect", "Clear suspect"),
        Binding("r", "rescore", "Rescore", tooltip="Score the stored outputs again, no model "
                "calls; the earlier scoring is kept"),
        Binding("v", "scorings", "Compare scorings"),
        Binding("pagedown,n", "page(1)", "Next runs", key_display="PgDn"),
        Binding("pageup,p", "page(-1)", "Previous runs", key_display="PgUp"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: Store, batch_id: str, catalog: Catalog | None = None) -> None:
        super().__init__()
        self.store = store
        self.batch_id = batch_id
        self.catalog = catalog
        self.page = 0
        self.total = 0
        self.rows: list[dict[str, Any]] = []
        self.shown_run: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="batch-head")
        with Horizontal(id="batch-body"):
            yield DataTable(id="run-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="run-pane"):
                yield Static("", id="run-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#run-table", DataTable)
        for label in ("model", "scenario", "tier", "version", "specialist", "#", "verdict",
                      "score", "tok/s"):
            table.add_column(label, key=label)
        self._load_head()
        self._load_runs(0)

    @work(thread=True, exclusive=True, group="batch-head", exit_on_error=False)
    def _load_head(self) -> None:
        batch = self.store.get_batch(self.batch_id)
        figures = self.store.batch_figures([self.batch_id]).get(self.batch_id, {})
        figures["scoring"] = self.store.latest_scoring(self.batch_id)
        self.post_message(self.HeadLoaded(batch, figures))

    @on(HeadLoaded)
    def _on_head_loaded(self, message: HeadLoaded) -> None:
        self._show_head(message.batch, message.figures)

    def _show_head(self, batch: dict[str, Any] | None, figures: dict[str, Any]) -> None:
        head = self.query_one("#batch-head", Static)
        if batch is None:
            head.update(Text(f"no batch {self.batch_id}", style="red"))
            return
        self.total = int(figures.get("runs") or 0)
        runs, done = figures.get("runs") or 0, figures.get("done") or 0
        passed, scored = figures.get("passed") or 0, figures.get("scored") or 0
        lines = [
            Text.assemble((self.batch_id, "bold"), f" · {batch['mode']} · {batch['status']} · "
                          f"created {timestamp(batch['created_at'])} · "
                          f"{span(batch['started_at'], batch['finished_at'], batch['status'])}"),
            Text(f"models: {', '.join(batch['models']) or '—'}"),
            Text(f"scenarios: {', '.join(batch['scenarios'][:12]) or '—'}"
                 + (f" and {len(batch['scenarios']) - 12} more"
                    if len(batch["scenarios"]) > 12 else "")),
            Text(f"{batch['total_cells']} cells · {runs} runs · {done} ok · "
                 f"{runs - done} failed · success {percent(passed / scored if scored else None)} · "
                 f"mean score {score(figures.get('mean_score'))} · "
                 f"scoring {figures.get('scoring', 1)}"),
        ]
        head.update(Group(*lines))

    @work(thread=True, exclusive=True, group="batch-runs", exit_on_error=False)
    def _load_runs(self, page: int) -> None:
        rows = self.store.batch_runs_page(self.batch_id, limit=RUN_PAGE_SIZE,
                                          offset=page * RUN_PAGE_SIZE)
        if not get_current_worker().is_cancelled:
            self.post_message(self.RunsLoaded(page, rows))

    @on(RunsLoaded)
    def _on_runs_loaded(self, message: RunsLoaded) -> None:
        self._show_runs(message.page, message.rows)

    def _show_runs(self, page: int, rows: list[dict[str, Any]]) -> None:
        self.page, self.rows = page, rows
        table = self.query_one("#run-table", DataTable)
        table.clear()
        for r in rows:
            verdict = verdict_text(r["status"], r["success"],
                                   None if r.get("suspect_cleared_at") else r.get("suspect"))
            if r.get("cached"):
                verdict.append(" cached", style="cyan")
            table.add_row(r["model"], r["scenario_id"], r["tier"], r["prompt_version"],
                          r["specialist"] or "—", str(r["iteration"]), verdict,
                          score(r["auto_score"]), rate(r["tokens_per_s"]),
                          key=r["run_id"])
        if rows:
            self._load_run(rows[0]["run_id"])
        else:
            self.query_one("#run-detail", Static).update(Text("No runs in this batch yet.",
                                                              style="dim"))

    @on(DataTable.RowHighlighted, "#run-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value != self.shown_run:
            self._load_run(str(event.row_key.value))

    @work(thread=True, exclusive=True, group="run-detail", exit_on_error=False)
    def _load_run(self, run_id: str) -> None:
        run = self.store.get_run(run_id)
        if run is None:
            return
        judgments = self.store.judgments(run_id)
        attempts = self.store.attempts(run_id)
        agent = (AgentRun(self.store.agent_telemetry(run_id), self.store.transcript(run_id),
                          self.store.artifact(run_id, "diff") or "")
                 if run.mode == "agent" else None)
        refine = self.store.refine_telemetry(run_id) if run.mode == "refine" else None
        if not get_current_worker().is_cancelled:
            self.post_message(self.RunLoaded(run, judgments, attempts, agent, refine))

    @on(RunLoaded)
    def _on_run_loaded(self, message: RunLoaded) -> None:
        self._show_run(message.run, message.judgments, message.attempts, message.agent,
                       message.refine)

    def _show_run(self, run: RunRecord, judgments: list[Judgment],
                  attempts: list[Attempt], agent: AgentRun | None = None,
                  refine: Any = None) -> None:
        self.shown_run = run.run_id
        self.query_one("#run-detail", Static).update(
            run_detail(run, judgments, attempts, agent=agent, refine=refine))
        self.query_one("#run-pane", VerticalScroll).scroll_home(animate=False)

    def action_page(self, step: int) -> None:
        last = max(0, (self.total - 1) // RUN_PAGE_SIZE)
        page = min(max(0, self.page + step), last)
        if page != self.page:
            self._load_runs(page)

    def action_compare(self) -> None:
        self._find_previous()

    @work(thread=True, exclusive=True, group="detail-goto", exit_on_error=False)
    def _find_previous(self) -> None:
        self.post_message(self.PreviousFound(self.store.previous_batch(self.batch_id)))

    @on(PreviousFound)
    def _on_previous_found(self, message: PreviousFound) -> None:
        if message.previous is None:
            self.notify("no earlier batch to compare with", severity="warning")
            return
        self.app.push_screen(BatchCompareScreen(self.store, message.previous, self.batch_id))

    @on(Notice)
    def _on_notice(self, message: Notice) -> None:
        self.notify(message.text, title=message.title,
                    severity="error" if message.error else "information")
        if message.reload:
            self.shown_run = None
            self._load_head()
            self._load_runs(self.page)

    def action_clear_suspect(self) -> None:
        """A person looked at the highlighted suspect run and found it honest."""
        row = next((r for r in self.rows if r["run_id"] == self.shown_run), None)
        if row is None or not row.get("suspect") or row.get("suspect_cleared_at"):
            self.notify("the highlighted run is not held as suspect", severity="warning")
            return
        self._clear_suspect(row["run_id"])

    @work(thread=True, exclusive=True, group="clear-suspect", exit_on_error=False)
    def _clear_suspect(self, run_id: str) -> None:
        from tui_bench.store import StoreError

        try:
            verdict = self.store.clear_suspect(run_id)
        except StoreError as exc:
            self.post_message(self.Notice(str(exc), error=True))
            return
        self.post_message(self.Notice(f"{run_id} cleared: {'pass' if verdict else 'fail'}",
                                      title="Suspect", reload=True))

    def action_export(self) -> None:
        self._export(Path.cwd() / f"{self.batch_id}.html")

    def action_rescore(self) -> None:
        catalog = self.catalog
        if catalog is None:
            self.notify("no scenarios loaded to rescore with", severity="error")
            return
        self.notify(f"rescoring {self.batch_id}…")
        self._rescore(catalog)

    @work(thread=True, exclusive=True, group="rescore", exit_on_error=False)
    def _rescore(self, catalog: Catalog) -> None:
        from tui_bench.tui.screens.scorings import rescore_batch

        try:
            message = rescore_batch(self.store, catalog, self.batch_id)
        except ValueError as exc:
            self.post_message(self.Notice(str(exc), error=True))
            return
        self.post_message(self.Notice(message, title="Rescored", reload=True))

    def action_scorings(self) -> None:
        self._find_scorings()

    @work(thread=True, exclusive=True, group="detail-goto", exit_on_error=False)
    def _find_scorings(self) -> None:
        self.post_message(self.ScoringsCounted(self.store.latest_scoring(self.batch_id)))

    @on(ScoringsCounted)
    def _on_scorings_counted(self, message: ScoringsCounted) -> None:
        from tui_bench.tui.screens.scorings import ScoringCompareScreen

        if message.latest < 2:
            self.notify("one scoring only: r rescores the batch", severity="warning")
            return
        self.app.push_screen(ScoringCompareScreen(self.store, self.batch_id))

    @work(thread=True, exclusive=True, group="batch-export", exit_on_error=False)
    def _export(self, path: Path) -> None:
        from tui_bench.analysis.export import export_batch

        try:
            text = export_batch(self.store, self.batch_id, "html")
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except (OSError, KeyError) as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"written to {path}", title="Exported")


# --------------------------------------------------------------------------- compare


COMPARE_VIEWS = ("changed", "flips", "regressed", "improved", "all")


class BatchCompareScreen(BenchScreen[None]):
    """Two batches cell by cell: what improved, what regressed, which cells flipped."""

    @dataclass
    class Missing(Message):
        """One of the two batches is not in the database."""

        batch_id: str

    @dataclass
    class Compared(Message):
        """The cell-by-cell comparison, computed off the message loop."""

        comparison: BatchComparison
        paired: dict[str | None, PairedComparison] | None = None

    CSS_PATH = "batches.tcss"
    SUB_TITLE = "Compare batches"
    AUTO_FOCUS = "#compare-table"

    BINDINGS = [
        Binding("f", "view", "Show: changed/flips/regressed/improved/all"),
        Binding("s", "swap", "Swap sides"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: Store, before: str, after: str) -> None:
        super().__init__()
        self.store = store
        self.before = before
        self.after = after
        self.view = COMPARE_VIEWS[0]
        self.comparison: BatchComparison | None = None

    def compose(self) -> ComposeResult:
        yield Static("comparing…", id="compare-summary")
        yield DataTable(id="compare-models", cursor_type="none", zebra_stripes=True)
        yield Static("", id="compare-view")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        models = self.query_one("#compare-models", DataTable)
        for label in ("model", "cells", "improved", "regressed", "fail→pass", "pass→fail",
                      "before", "after", "change", "tok/s change", "change 95% CI",
                      "McNemar p"):
            models.add_column(label, key=label)
        table = self.query_one("#compare-table", DataTable)
        for label in ("model", "scenario", "tier", "version", "specialist", "#", "before",
                      "after", "change", "flip", "tok/s change"):
            table.add_column(label, key=label)
        self._compare()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _compare(self) -> None:
        try:
            comparison = compare_batches(self.store, self.before, self.after)
        except KeyError as exc:
            self.post_message(self.Missing(str(exc.args[0])))
            return
        # The bootstrap resamples every shared cell: in this thread, not on the message loop.
        paired: dict[str | None, PairedComparison] = {None: comparison.paired(),
                  **{model: comparison.paired(model) for model in comparison.per_model()}}
        if not get_current_worker().is_cancelled:
            self.post_message(self.Compared(comparison, paired))

    @on(Missing)
    def _on_missing(self, message: Missing) -> None:
        self._missing(message.batch_id)

    def _missing(self, batch_id: str) -> None:
        self.query_one("#compare-summary", Static).update(
            Text(f"no batch {batch_id}", style="red"))

    @on(Compared)
    def _on_compared(self, message: Compared) -> None:
        self._show(message.comparison, message.paired)

    def _show(self, comparison: BatchComparison,
              paired: dict[str | None, PairedComparison] | None = None) -> None:
        self.comparison = comparison
        s = comparison.summary
        lines = [
            Text.assemble((comparison.before, "bold"), " → ", (comparison.after, "bold"),
                          f": {s.cells} shared cells · ", (f"{s.improved} improved", "green"),
                          " · ", (f"{s.regressed} regressed", "red"), f" · {s.same} unchanged"
                          f" · {s.fixed} fail→pass · {s.broke} pass→fail"
                          + (f" · {s.not_compared} not compared (cancelled)"
                             if s.not_compared else "")),
            Text(f"mean score {score(s.mean_before)} → {score(s.mean_after)}"
                 f" ({number(s.mean_change, '{:+.3f}')}) · success {percent(s.success_before)} → "
                 f"{percent(s.success_after)} · tok/s {rate(s.tps_before)} → "
                 f"{rate(s.tps_after)} ({number(s.tps_change, '{:+.1f}')})"),
        ]
        overall = (paired or {}).get(None)
        if overall is not None:
            lines.append(Text(f"paired: {overall.describe()}", style="bold"))
        if comparison.only_before or comparison.only_after:
            lines.append(Text(f"{len(comparison.only_before)} cell(s) only in "
                              f"{comparison.before}, {len(comparison.only_after)} only in "
                              f"{comparison.after}", style="dim"))
        self.query_one("#compare-summary", Static).update(Group(*lines))
        models = self.query_one("#compare-models", DataTable)
        models.clear()
        for model, g in comparison.per_model().items():
            p = (paired or {}).get(model)
            models.add_row(model, str(g.cells), str(g.improved), str(g.regressed), str(g.fixed),
                           str(g.broke), score(g.mean_before),
                           score(g.mean_after), number(g.mean_change, "{:+.3f}"),
                           number(g.tps_change, "{:+.1f}"),
                           interval(p.diff_low, p.diff_high, "{:+.3f}") if p else "—",
                           number(p.p_value, "{:.3g}") if p else "—")
        self._fill()

    def _cells(self) -> list[CellChange]:
        assert self.comparison is not None
        c = self.comparison
        if self.view == "changed":
            cells = [x for x in c.cells if x.verdict(c.min_change) != "same"]
        elif self.view == "flips":
            cells = c.flips()
        elif self.view in ("regressed", "improved"):
            cells = c.with_verdict(self.view)
        else:
            cells = list(c.cells)
        return sorted(cells, key=lambda x: (x.flip is None, x.score_change or 0.0))

    def _fill(self) -> None:
        if self.comparison is None:
            return
        cells = self._cells()
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for c in cells:
            before = score(c.score_before) if c.status_before == "ok" else c.status_before
            after = score(c.score_after) if c.status_after == "ok" else c.status_after
            flip = {"fixed": Text("fail → pass", style="green"),
                    "broke": Text("pass → fail", style="red")}.get(c.flip or "", Text(""))
            change = c.score_change
            table.add_row(c.model, c.scenario_id, c.tier, c.prompt_version, c.specialist or "—",
                          str(c.iteration), before, after,
                          Text(number(change, "{:+.3f}"), style="" if change is None else (
                              "green" if change > 0 else "red" if change < 0 else "")),
                          flip, number(c.tps_change, "{:+.1f}"))
        self.query_one("#compare-view", Static).update(
            f"showing: {self.view} · {len(cells)} cell(s)  (f to change)")

    def action_view(self) -> None:
        self.view = COMPARE_VIEWS[(COMPARE_VIEWS.index(self.view) + 1) % len(COMPARE_VIEWS)]
        self._fill()

    def action_swap(self) -> None:
        self.before, self.after = self.after, self.before
        self._compare()
