"""Layout snapshots of every screen at 160x48 and 80x24, from a fixed state.

No clock, no real model, no path that differs between checkouts: the database is in memory with
fixed ids and timestamps, the catalogs are the tiny fixed ones, the backends only list fixed
models (one up, one down), the live screen's clock stands still, and the cursor does not blink
(``snap_compare`` runs the app headless). Update with ``--snapshot-update`` after a deliberate
layout change, and look at the SVG before committing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import DataTable

from tests.conftest import (
    ROOT,
    add_batch,
    add_judged_runs,
    at,
    fixed_pool,
    judging_catalog,
    run,
    settle,
    tiny_catalog,
    wait_until,
)
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, Evaluation, RunRecord, Telemetry
from tui_bench.engine.events import BatchStarted, CellFinished, CellStarted, Token
from tui_bench.engine.plan import plan
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.store.judging import QueueFilter
from tui_bench.tui import live_state
from tui_bench.tui.app import BenchApp, make_app
from tui_bench.tui.screens import live as live_screen
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.screens.batches import BatchCompareScreen, BatchDetailScreen, BatchesScreen
from tui_bench.tui.screens.home import HomeScreen
from tui_bench.tui.screens.judge import JudgeScreen
from tui_bench.tui.screens.live import LiveScreen
from tui_bench.tui.screens.mint import MintScreen
from tui_bench.tui.screens.models import ModelsScreen
from tui_bench.tui.screens.pairwise import PairwiseScreen
from tui_bench.tui.screens.reports import ReportsScreen
from tui_bench.tui.session import BatchSession
from tui_bench.tui.widgets.scenario_tree import ScenarioTree

SIZES = {"160x48": (160, 48), "80x24": (80, 24)}
M1, M2 = "embedded:smollm2", "ollama:qwen2.5:0.5b"


def _store() -> Store:
    """Two batches of the tiny catalog's scenarios, dated, scored and judged the same every time."""
    store = Store(":memory:")
    cases = [("coding-add", 0.9, 0.4), ("coding-double", 0.6, 0.7), ("coding-negate", 0.3, 0.2)]
    for day, batch_id in ((1, "batch_20250101_090000_aaaa"), (2, "batch_20250102_090000_bbbb")):
        runs = []
        for index, (scenario_id, first, second) in enumerate(cases):
            shift = 0.05 * (day - 1)
            runs.append(run(batch_id, M1, scenario_id, round(first - shift, 2),
                            category="basics", tps=60.0 + index, ttft_ms=40.0 + index,
                            output=f"def f():\n    return {index}", run_id=f"r{day}{index}a"))
            runs.append(run(batch_id, M2, scenario_id, round(second + shift, 2),
                            category="basics", tps=20.0 + index, ttft_ms=90.0 + index,
                            output=f"def g():\n    return {index}", run_id=f"r{day}{index}b"))
        add_batch(store, batch_id, runs, created_at=at(day, 9), duration_s=75 + day)
    return store


def _app(store: Store | None = None, catalog: Catalog | None = None, *,
         discover: bool = True) -> BenchApp:
    return make_app(store=store or _store(), catalog=catalog or tiny_catalog(),
                    settings=Settings(), pool_factory=fixed_pool, discover=discover)


async def _home_loaded(pilot: Any) -> None:
    """Home has shown its first read of the store (its worker may start after mounting)."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen)
                     and app.screen.query_one("#recent", DataTable).row_count > 0, 60)
    await settle(pilot)
    table = app.screen.query_one("#recent", DataTable)
    # Column widths follow the rows on the table's next idle; then draw it once more.
    await wait_until(pilot, lambda: not table._require_update_dimensions, 60)
    table.refresh()
    await settle(pilot)


def _showing(make: Callable[[BenchApp], BenchScreen[Any]]) -> Callable[[Any], Awaitable[None]]:
    """A ``run_before`` that opens a screen over home and lets its loading finish."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.push_screen(make(pilot.app))
        await settle(pilot)
    return run_before


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    return SIZES[request.param]


def test_home(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_home_loaded)


def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, press=["question_mark"],
                        run_before=_home_loaded)


def test_choose(snap_compare: Any, size: tuple[int, int]) -> None:
    app = _app()
    app.prefs.models = [M1]
    app.prefs.scenarios = ["coding-add", "coding-negate"]

    async def choose(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        tree = pilot.app.screen.query_one(ScenarioTree)
        tree.focus()
        tree.reveal("coding-add")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=choose)


def test_batches(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: BatchesScreen(store=app.store, catalog=app.catalog)))


def test_batch_detail(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: BatchDetailScreen(app.store, "batch_20250102_090000_bbbb")))


def test_batch_compare(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: BatchCompareScreen(app.store, "batch_20250101_090000_aaaa",
                                       "batch_20250102_090000_bbbb")))


def test_reports(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: ReportsScreen(store=app.store, catalog=app.catalog)))


def _judging_app() -> BenchApp:
    store = Store(":memory:")
    catalog = judging_catalog()
    add_judged_runs(store, catalog, [
        {"model": "ollama:alpha", "scenario_id": "fizz", "run_id": "run_a"},
        {"model": "ollama:beta", "scenario_id": "fizz", "run_id": "run_b"},
        {"model": "ollama:beta", "scenario_id": "sort", "run_id": "run_c"},
    ])
    return _app(store, catalog)


def test_judge(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_judging_app(), terminal_size=size, run_before=_showing(
        lambda app: JudgeScreen(store=app.store, catalog=app.catalog, judge="ann",
                                filters=QueueFilter(shuffled=False))))


def test_pairwise(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_judging_app(), terminal_size=size, run_before=_showing(
        lambda app: PairwiseScreen(store=app.store, catalog=app.catalog, judge="ann", seed=7)))


def test_mint(snap_compare: Any, size: tuple[int, int], tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the screen shows template paths: relative ones read the same
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: MintScreen(store=app.store, catalog=app.catalog, settings=app.settings,
                               templates_dir=Path("templates"),
                               snapshots_dir=tmp_path / "snapshots")))


def test_models(snap_compare: Any, size: tuple[int, int]) -> None:
    # No discovery: the registry would record the models with the time they were seen.
    assert snap_compare(_app(discover=False), terminal_size=size, run_before=_showing(
        lambda app: ModelsScreen(store=app.store, catalog=app.catalog)))


def _finished_session() -> BatchSession:
    """A batch that ran two cells and streams a third, told to the live state event by event."""
    spec = BatchSpec(batch_id="batch_20250103_090000_cccc", models=[M1],
                     scenarios=["coding-add", "coding-double", "coding-negate"])
    session = BatchSession(spec)
    state = session.state
    cells = plan(spec)
    state.on_event(BatchStarted(batch_id=spec.batch_id, total=len(cells), skipped=0,
                                models=[M1]))
    for index, cell in enumerate(cells):
        run_id = f"run_live_{index}"
        state.on_event(CellStarted(cell=cell, run_id=run_id))
        for word in ("def add(a, b):\n", "    return a + b\n"):
            state.on_event(Token(run_id=run_id, text=word))
        if index == 2:
            break  # still streaming
        state.on_event(CellFinished(record=RunRecord(
            run_id=run_id, batch_id=spec.batch_id, model=M1, prompt_version="v1",
            scenario_id=cell.scenario_id, tier=cell.tier, output="def add(a, b): ...",
            auto_score=0.8 - index / 10, success=index == 0,
            evaluations=[Evaluation(evaluator="tests", score=1.0 - index, weight=2.0)],
            telemetry=Telemetry(ttft_ms=40.0, total_ms=900.0, completion_tokens=24,
                                tokens_per_s=61.5))))
    state._last_sample = 999.0  # one tokens/s point, one second wide
    state.sample_rates(now=1000.0)
    return session


def test_live(snap_compare: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    still = SimpleNamespace(perf_counter=lambda: 1000.0)  # a clock that never moves
    monkeypatch.setattr(live_state, "time", still)
    monkeypatch.setattr(live_screen, "time", still)
    session = _finished_session()
    assert snap_compare(_app(), terminal_size=size, run_before=_showing(
        lambda app: LiveScreen(session)))
