"""The live screen as a new user meets it (issue 18): every cell gets its row, even with two
live screens open, the header's counters add up, and a small batch leaves room for output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.screen import Screen

from tests.conftest import Host, screen_text, wait_until
from tui_bench.domain import BatchSpec, Cell, RunRecord
from tui_bench.engine.events import (
    BatchStarted,
    CellFinished,
    CellRunning,
    CellStarted,
    Token,
)
from tui_bench.tui import app as app_module
from tui_bench.tui.screens.live import LiveScreen
from tui_bench.tui.session import BatchSession
from tui_bench.tui.widgets.cells_table import CellsTable


class StyledHost(Host):
    """The bare host with the app's own stylesheet, where the live screen's layout lives."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))


def _session() -> BatchSession:
    spec = BatchSpec(batch_id="b-live", models=["embedded:smollm2"],
                     scenarios=["coding-add", "coding-double", "coding-negate"],
                     tiers=["L1", "L2"])
    return BatchSession(spec)


def _cell(scenario: str, tier: str, specialist: str = "") -> Cell:
    return Cell(batch_id="b-live", model="embedded:smollm2", prompt_version="v1",
                scenario_id=scenario, tier=tier, specialist=specialist)


def _record(run_id: str, cell: Cell) -> RunRecord:
    return RunRecord(run_id=run_id, batch_id="b-live", model=cell.model, prompt_version="v1",
                     scenario_id=cell.scenario_id, tier=cell.tier, status="ok",
                     output="ok", auto_score=1.0, success=True)


async def test_two_live_screens_both_show_every_cell_and_counters_add_up() -> None:
    session = _session()
    state = session.state
    cells = [_cell(s, t) for s in ("coding-add", "coding-double", "coding-negate")
             for t in ("L1", "L2")]
    app = StyledHost(lambda: LiveScreen(session))
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.target
        await pilot.pause()
        await app.push_screen(Screen())  # e.g. the batches screen over the live one
        second = LiveScreen(session)
        await app.push_screen(second)
        state.on_event(BatchStarted("b-live", 6, 0, ["embedded:smollm2"]))
        for i, cell in enumerate(cells[:4]):  # four workers pick up four cells
            state.on_event(CellStarted(cell, f"run_{i}"))
        await pilot.pause(0.2)
        state.on_event(CellRunning("run_0"))  # one holds the slot, still reading its prompt
        await wait_until(pilot, lambda: "0/6 · 1 running · 5 waiting" in screen_text(app), 10)
        state.on_event(Token("run_0", "def add"))
        for i in range(3):
            state.on_event(CellFinished(_record(f"run_{i}", cells[i])))
        state.on_event(CellRunning("run_3"))
        for i, cell in enumerate(cells[4:], start=4):
            state.on_event(CellStarted(cell, f"run_{i}"))

        def rows(screen: Any) -> int:
            return int(screen.query_one(CellsTable).row_count)

        await wait_until(pilot, lambda: rows(second) == 6, 10)
        await pilot.pause()
        # The counters move in the same frame as the rows, never half a second behind.
        assert "3/6 · 1 running · 2 waiting" in screen_text(app)
        app.pop_screen()
        app.pop_screen()
        await wait_until(pilot, lambda: rows(first) == 6, 10)


async def test_small_batch_gives_the_output_pane_the_height() -> None:
    session = _session()
    state = session.state
    app = StyledHost(lambda: LiveScreen(session))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        state.on_event(BatchStarted("b-live", 6, 0, ["embedded:smollm2"]))
        state.on_event(CellStarted(_cell("coding-add", "L1"), "run_a"))
        state.on_event(CellStarted(_cell("coding-add", "L1", "python-craftsman"), "run_b"))
        await wait_until(pilot, lambda: app.screen.query_one(CellsTable).row_count == 2, 10)
        await pilot.pause(0.1)
        cells_box = app.screen.query_one("#cells-box").region
        output = app.screen.query_one("#output-pane").region
        assert cells_box.height <= 10 and output.height >= 25, (cells_box, output)
        assert "coding-add +python-craftsman" in screen_text(app)  # not a look-alike row
