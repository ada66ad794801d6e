"""Watch a batch run: progress, a table of cells, the selected cell's output, tokens/s.

Nothing here runs per token. The runner's events land in ``LiveState`` (the session's), and a
timer at ``FLUSH_HZ`` moves what changed into the widgets: new rows, finished rows, the text
of the selected cell. The chart is redrawn once a second.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from tui_bench.analysis.summary import counted
from tui_bench.backends.hostpool import slots_line
from tui_bench.domain import Evaluation
from tui_bench.present import cost, duration
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.screens.confirm import YesNoDialog
from tui_bench.tui.session import BatchSession
from tui_bench.tui.widgets.cells_table import CellsTable
from tui_bench.tui.widgets.rate_chart import RateChart

FLUSH_HZ = 15
CHART_EVERY_S = 1.0
SLOW_EVERY_S = 0.5



def evaluation_text(e: Evaluation) -> str:
    """``tests 0.40×0.6``; a skipped or unparseable evaluator says so instead of showing 0."""
    if not counted(e.detail):
        return f"{e.evaluator} {e.detail.get('status') or 'skipped'}"
    return f"{e.evaluator} {e.score:.2f}×{e.weight:g}"

class LiveScreen(BenchScreen[None]):
    """The live run of the app's current batch."""

    SUB_TITLE = "live run"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Home"),
        Binding("x", "cancel_cell", "Cancel cell"),
        Binding("c", "cancel_batch", "Cancel batch"),
        Binding("f", "follow", "Follow newest"),
    ]

    def __init__(self, session: BatchSession) -> None:
        super().__init__()
        self.session = session
        self.state = session.state
        self._seen_version = -1
        self._selected: str | None = None
        self._follow = True
        self._auto_target: str | None = None
        self._shown_text_len = -1
        self._shown_run: str | None = None
        self._last_slow = 0.0
        self._last_chart = 0.0
        self._last_status = ""
        # How far into the state's append-only lists this screen has drawn. Reading by index,
        # not by draining, means a second live screen (or any other reader) misses nothing.
        self._rows_drawn = 0
        self._finished_drawn = 0
        self._running_drawn: dict[str, tuple[int, int, str | None, bool, int]] = {}
        self.last_highlight_at = 0.0  # when a row highlight was last handled (latency probe)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="batch-progress", show_eta=False, show_percentage=True)
            yield Static(id="progress-line")
        with Vertical(id="cells-box", classes="pane"):
            yield CellsTable(id="cells")
        with Horizontal(id="live-bottom"):
            with Vertical(id="output-pane", classes="pane"):
                yield Static(id="output-title")
                with VerticalScroll(id="output-scroll"):
                    yield Static(id="output", markup=False)
            with Vertical(id="chart-pane", classes="pane"):
                yield RateChart(id="rate-chart")
        yield Static(id="totals")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cells-box").border_title = f"Cells · {self.session.spec.batch_id}"
        self.query_one("#output-pane").border_title = "Output"
        self.query_one("#chart-pane").border_title = "Telemetry"
        table = self.query_one(CellsTable)
        table.focus()
        self._flush(force=True)
        self.set_interval(1 / FLUSH_HZ, self._flush)

    # ---- the timer: the only place widgets change while a batch streams

    def _flush(self, force: bool = False) -> None:
        state = self.state
        table = self.query_one(CellsTable)
        now = time.perf_counter()
        moved = False  # a row appeared, started or finished: the counters must say so now
        if state.version != self._seen_version or force:
            self._seen_version = state.version
            for run_id in state.order[self._rows_drawn:]:
                cell = state.cell_of(run_id)
                if cell is not None:
                    table.add_cell(run_id, cell)
            grew = len(state.order) != self._rows_drawn
            self._rows_drawn = len(state.order)
            newly_finished = state.finished_order[self._finished_drawn:]
            for run_id in newly_finished:
                record = state.records.get(run_id)
                self._running_drawn.pop(run_id, None)
                if record is not None:
                    table.show_record(record)
            moved = bool(newly_finished) or grew
            changed: set[str] = set(newly_finished)
            self._finished_drawn = len(state.finished_order)
            for run_id, running in list(state.running.items()):
                drawn = (running.chunks, running.attempt, running.retrying,
                         running.began is not None, running.tool_calls)
                if self._running_drawn.get(run_id) != drawn:
                    moved = moved or (self._running_drawn.get(run_id, (0, 0, None, False, 0))[3]
                                      != drawn[3])
                    self._running_drawn[run_id] = drawn
                    changed.add(run_id)
                    # An agent cell: its turn and tool calls say more than its tokens.
                    activity = (f"turn {running.turn} · {running.tool_calls} calls"
                                if running.tool_calls else None)
                    table.show_running(run_id, running.tokens, running.attempt,
                                       running.retrying, _tps(running), activity,
                                       began=running.began is not None)
            if self._follow:
                self._follow_newest()
            if self._selected in changed or self._selected != self._shown_run:
                self._show_output()
        if (force or moved or now - self._last_slow >= SLOW_EVERY_S
                or state.status != self._last_status):
            self._last_slow = now
            self._last_status = state.status
            self._show_progress()
        if force or now - self._last_chart >= CHART_EVERY_S:
            self._last_chart = now
            self.query_one(RateChart).draw(state.rates)

    def _follow_newest(self) -> None:
        """Keep the cursor on the newest running cell until the user moves it."""
        table = self.query_one(CellsTable)
        running = self.state.running
        # The newest cell that is producing text, else the oldest one waiting for its turn.
        target = next((r for r in reversed(self.state.order)
                       if r in running and running[r].first_token is not None), None)
        if target is None:  # else the newest holding a slot (reading its prompt)
            target = next((r for r in reversed(self.state.order)
                           if r in running and running[r].began is not None), None)
        if target is None:
            target = next((r for r in self.state.order if r in running), None)
        if target is None or target == self._selected or target not in table.rows:
            return
        self._auto_target = target
        self._selected = target
        table.move_cursor(row=table.get_row_index(target))

    def _show_progress(self) -> None:
        state = self.state
        eta = state.eta_s
        line = Text.assemble(
            (state.status, _status_style(state.status)), " ",
            (f"{state.finished}/{state.to_run}", "bold"),
            (f" (+{state.skipped} before)" if state.skipped else "", "dim"),
            f" · {state.generating} running · {state.waiting} waiting · ",
            (f"{state.failed} failed", "bold red" if state.failed else ""),
            f" · {duration(state.elapsed)}",
            f" · ETA {duration(eta)}" if eta is not None else "")
        runner = self.session.runner
        slots = slots_line(runner.pool.hosts.status()) if runner is not None else ""
        if slots:
            line.append(f"\nslots {slots}", style="dim")
        if state.error:
            line.append(f"\n{state.error}", style="bold red")
        self.query_one("#progress-line", Static).update(line)
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=max(state.to_run, 1), progress=state.finished)
        self.query_one("#totals", Static).update(Text.assemble(
            ("tokens ", "dim"), f"in {state.tokens_in:,} · out {state.live_tokens_out:,}",
            ("  cost ", "dim"), cost(state.cost),
            ("  errors ", "dim"), (str(state.failed), "bold red" if state.failed else ""),
            ("  retries ", "dim"), str(state.retries),
            ("  cancelled ", "dim"), str(state.cancelled)))

    def _show_output(self) -> None:
        """The selected cell's text: streaming while it runs, its answer or error after."""
        run_id = self._selected
        title = self.query_one("#output-title", Static)
        body = self.query_one("#output", Static)
        scroll = self.query_one("#output-scroll", VerticalScroll)
        if run_id is None:
            title.update(Text("no cell selected", style="dim"))
            body.update("")
            self._shown_run = None
            return
        running = self.state.running.get(run_id)
        record = self.state.records.get(run_id)
        if running is not None:
            text = running.text
            if run_id == self._shown_run and len(text) == self._shown_text_len:
                return
            cell = running.cell
            agent = (f" · turn {running.turn} · {running.tool_calls} tool calls"
                     if running.tool_calls else "")
            title.update(Text.assemble((f"{cell.scenario_id} {cell.tier}", "bold"),
                                       (" · running", "yellow"), (agent, "cyan")))
            body.update(text)
            self._shown_text_len = len(text)
            scroll.scroll_end(animate=False)
        elif record is not None:
            style = "green" if record.status == "ok" else "red"
            title.update(Text.assemble((f"{record.scenario_id} {record.tier}", "bold"),
                                       (f" · {record.status}", style)))
            detail = Text()
            if record.error:
                detail.append(f"{record.error}\n\n", style="bold red")
            detail.append(record.output or "")
            if record.evaluations:
                detail.append("\n\n" + "  ".join(
                    evaluation_text(e) for e in record.evaluations), style="dim")
            body.update(detail)
            self._shown_text_len = -1
            scroll.scroll_home(animate=False)
        self._shown_run = run_id

    # ---- selection

    @on(DataTable.RowHighlighted, "#cells")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.last_highlight_at = time.perf_counter()
        run_id = str(event.row_key.value) if event.row_key is not None else None
        if run_id != self._auto_target:
            self._follow = False
        self._auto_target = None
        self._selected = run_id
        self._show_output()

    def action_follow(self) -> None:
        self._follow = True
        self._follow_newest()
        self.notify("following the newest running cell", timeout=2)

    # ---- cancelling

    def action_cancel_cell(self) -> None:
        run_id = self.query_one(CellsTable).run_id_at_cursor()
        if run_id is None or run_id not in self.state.running:
            self.notify("the selected cell is not running", severity="warning")
            return
        if self.session.cancel_cell(run_id):
            self.notify("cancelling the cell; the batch goes on", timeout=3)

    def action_cancel_batch(self) -> None:
        if not self.session.active:
            self.notify(f"the batch is {self.state.status}", severity="warning")
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self.session.cancel()
                self.notify("stopping the batch: finished cells are kept; resume it from home")

        self.app.push_screen(YesNoDialog(
            "Stop this batch? Finished cells stay stored and the rest can be resumed "
            "from the home screen.", yes="Stop batch", no="Keep running"), answered)


def _tps(running: Any) -> float | None:
    if running.first_token is None or running.tokens < 2:
        return None
    span = time.perf_counter() - running.first_token
    return running.tokens / span if span > 0 else None


def _status_style(status: str) -> str:
    return {"running": "bold yellow", "finished": "bold green", "cancelled": "bold dark_orange",
            "failed": "bold red"}.get(status, "bold")


__all__ = ["LiveScreen"]
