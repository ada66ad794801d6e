"""Home: where the data lives, what ran lately, what is waiting, and one key to anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from tui_bench.present import duration, number, short_timestamp
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.widgets.format import backend_problems, model_rows

RECENT_PAGE = 20
PROBLEMS_SHOWN = 4
NARROW_BELOW = 120


@dataclass
class HomeData:
    """One read of the store for the home screen, taken off the message loop."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    batch_count: int = 0
    unjudged: int = 0
    unfinished: list[dict[str, Any]] = field(default_factory=list)


class HomeScreen(BenchScreen[None]):
    """The first screen: the database, recent batches, models reachable, work waiting."""

    @dataclass
    class Loaded(Message):
        """One read of the store, taken by the loading worker."""

        data: HomeData

    SUB_TITLE = "home"
    BINDINGS = [
        Binding("n", "app.new_batch", "New", tooltip="Choose models and scenarios, then run"),
        Binding("b", "app.batches", "Batches", tooltip="Browse past batches"),
        Binding("j", "app.judge", "Judge", tooltip="Judge runs against their rubric"),
        Binding("r", "app.reports", "Reports", tooltip="Leaderboards and comparisons"),
        Binding("s", "app.mint", "Mint", tooltip="Specialist snapshots"),
        Binding("e", "app.models", "Effort", show=False,
                tooltip="Models and calibrated effort levels"),
        Binding("u", "resume", "Resume", tooltip="Finish the selected unfinished batch"),
        Binding("l", "live", "Live", tooltip="Watch the batch that is running"),
        Binding("m", "app.discover", "Refresh models", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="db-line")
        yield Static(id="problems", classes="hidden")
        yield Static(id="running-line", classes="hidden")
        with Horizontal(id="home-main"):
            with Vertical(id="recent-pane", classes="pane"):
                yield DataTable(id="recent", cursor_type="row", zebra_stripes=True)
            with Vertical(id="models-pane", classes="pane"):
                yield DataTable(id="home-models", cursor_type="row")
                yield Static(id="backend-problems", classes="hidden")
        with Vertical(id="unfinished-pane", classes="pane hidden"):
            yield DataTable(id="unfinished", cursor_type="row")
        yield Footer()

    _unfinished_count = 0
    _finished_seen = -1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Resume and Live appear only when there is something to resume or watch."""
        if action == "resume":
            return self._unfinished_count > 0
        if action == "live":
            return self.bench.session is not None
        return True

    def action_live(self) -> None:
        self.bench.action_live()

    def on_mount(self) -> None:
        self.query_one("#recent-pane").border_title = "Last batches"
        self.query_one("#models-pane").border_title = "Models"
        self.query_one("#unfinished-pane").border_title = "Unfinished batches · u resumes"
        recent = self.query_one("#recent", DataTable)
        recent.add_column("batch", key="batch")
        recent.add_column("status", key="status")
        recent.add_column("cells", key="cells")
        recent.add_column("score", key="score")
        recent.add_column("when", key="when")
        models = self.query_one("#home-models", DataTable)
        models.add_column("model", key="model")
        models.add_column("size", key="size")
        models.add_column("", key="state")
        unfinished = self.query_one("#unfinished", DataTable)
        unfinished.add_column("batch", key="batch")
        unfinished.add_column("status", key="status")
        unfinished.add_column("done", key="done")
        unfinished.add_column("created", key="created")
        self._show_problems()
        self._show_models()
        self.bench.models_changed.subscribe(self, lambda _: self._show_models())
        self.bench.batch_changed.subscribe(self, lambda _: self.reload())
        self.set_interval(1.0, self._show_running)
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    # ---- reading the store (in a thread: a big database must not freeze the keys)

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="home-load")
    def _load(self) -> None:
        store = self.bench.store
        data = HomeData(
            batches=store.list_batches(limit=RECENT_PAGE),
            batch_count=store.count_batches(),
            unjudged=store.count_unjudged(),
            unfinished=store.unfinished_batches(),
        )
        self.post_message(self.Loaded(data))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._show(message.data)

    def _show(self, data: HomeData) -> None:
        app = self.bench
        line = Text.assemble(
            ("database ", "dim"), (app.store.path, "bold"),
            ("  ·  ", "dim"), f"{data.batch_count} batches",
            ("  ·  ", "dim"), (f"{data.unjudged} runs waiting for judgment",
                               "bold" if data.unjudged else ""),
            ("  (j)" if data.unjudged else "", "dim"))
        self.query_one("#db-line", Static).update(line)
        recent = self.query_one("#recent", DataTable)
        recent.clear()
        for row in data.batches:
            score = row.get("mean_score")
            cells = f"{row['done']}/{row['total_cells']}"
            if row.get("failed"):
                cells += f" ({row['failed']} failed)"
            if row.get("cancelled"):
                cells += f" ({row['cancelled']} cancelled)"
            recent.add_row(row["batch_id"], _status(row["status"]), cells,
                           number(score),
                           short_timestamp(row.get("created_at")), key=row["batch_id"])
        if not data.batches:
            recent.add_row(Text("no batches yet: press n", style="dim"), "", "", "", "")
        running_id = app.session.spec.batch_id if app.session and app.session.active else None
        unfinished_rows = [r for r in data.unfinished if r["batch_id"] != running_id]
        table = self.query_one("#unfinished", DataTable)
        table.clear()
        for row in unfinished_rows:
            status = "interrupted" if row["status"] == "running" else row["status"]
            table.add_row(row["batch_id"], _status(status), f"{row['done']}/{row['total_cells']}",
                          short_timestamp(row.get("created_at")), key=row["batch_id"])
        self.query_one("#unfinished-pane").set_class(not unfinished_rows, "hidden")
        self._unfinished_count = len(unfinished_rows)
        self.refresh_bindings()
        self._show_running()

    # ---- models and problems

    def _show_models(self) -> None:
        app = self.bench
        table = self.query_one("#home-models", DataTable)
        table.clear()
        for row in model_rows(app.models, app.backend_errors, app.discovering):
            table.add_row(*row[1:])
        problems = self.query_one("#backend-problems", Static)
        problems.update(backend_problems(app.backend_errors, app.backend_notes))
        problems.set_class(not (app.backend_errors or app.backend_notes), "hidden")

    def on_resize(self) -> None:
        # Side by side only when both tables fit; stacked on a narrow terminal.
        self.set_class(self.size.width < NARROW_BELOW, "narrow")
        # Every key fits an 80-column footer only without the palette hint (? lists ctrl+p).
        self.query_one(Footer).show_command_palette = self.size.width >= 90

    def _show_problems(self) -> None:
        problems = self.bench.catalog.problems
        widget = self.query_one("#problems", Static)
        if not problems:
            widget.add_class("hidden")
            return
        text = Text(f"{len(problems)} problem(s) in the scenario files "
                    "(those scenarios are not loaded):\n", style="bold")
        for problem in problems[:PROBLEMS_SHOWN]:
            text.append(f"  {problem}\n")
        if len(problems) > PROBLEMS_SHOWN:
            text.append(f"  … and {len(problems) - PROBLEMS_SHOWN} more "
                        "(tui-bench scenarios lists them all)", style="dim")
        text.rstrip()
        widget.update(text)
        widget.remove_class("hidden")

    def _show_running(self) -> None:
        session = self.bench.session
        widget = self.query_one("#running-line", Static)
        if session is None or not session.active:
            widget.add_class("hidden")
            return
        state = session.state
        waiting = state.waiting
        widget.update(Text.assemble(
            ("▶ ", "bold"), (session.spec.batch_id, "bold"),
            f"  {state.finished}/{state.to_run} cells · {state.generating} running",
            f" · {waiting} waiting" if waiting else "",
            f" · {duration(state.elapsed)}", ("  l to watch", "dim")))
        widget.remove_class("hidden")
        if state.finished != self._finished_seen:  # keep the batch's row in step, cheaply
            self._finished_seen = state.finished
            self.reload()

    # ---- actions

    def action_resume(self) -> None:
        """Finish the selected unfinished batch (the newest when none is selected)."""
        table = self.query_one("#unfinished", DataTable)
        if not table.row_count:
            self.notify("no unfinished batches to resume")
            return
        row_key, _ = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0))
        batch_id = str(row_key.value)
        spec = self.bench.store.batch_spec(batch_id)
        if spec is None:
            self.notify(f"batch {batch_id} has no stored plan", severity="error")
            return
        if self.bench.start_batch(spec, resume=True) is not None:
            self.bench.action_live()

    @on(DataTable.RowSelected, "#unfinished")
    def _resume_selected(self) -> None:
        self.action_resume()


def _status(status: str) -> Text:
    style = {"finished": "green", "running": "yellow", "cancelled": "dark_orange",
             "interrupted": "dark_orange", "failed": "red"}.get(status, "")
    return Text(status, style=style)
