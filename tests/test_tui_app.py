"""The app shell driven with Pilot: home, navigation, help, palette, remembered settings.

These use fake backends that only list models (no generation), so they are fast and
deterministic; the batch tests on the real model are in test_tui_run.py.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.widgets import Checkbox, DataTable, Input, Static

from tests.conftest import (
    SMOLLM2,
    FixedModels,
    Unreachable,
    fixed_pool,
    instant_pool,
    tiny_catalog,
    wait_until,
)
from tui_bench.backends import BackendPool
from tui_bench.backends.base import TextChunk
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import LoadProblem
from tui_bench.domain import BatchSpec, RunRecord
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.app import BenchApp, make_app
from tui_bench.tui.commands import BenchCommands
from tui_bench.tui.screens.batches import BatchesScreen
from tui_bench.tui.screens.choose import ChooseScreen
from tui_bench.tui.screens.help import HelpScreen
from tui_bench.tui.screens.home import HomeScreen
from tui_bench.tui.screens.judge import JudgeScreen
from tui_bench.tui.screens.live import LiveScreen
from tui_bench.tui.screens.mint import MintScreen
from tui_bench.tui.screens.reports import ReportsScreen
from tui_bench.tui.widgets.model_picker import ModelPicker
from tui_bench.tui.widgets.scenario_tree import ScenarioTree


def _app(store: Store, catalog: Any = None, **kwargs: Any) -> tuple[BenchApp, list[str]]:
    app = make_app(store=store, catalog=catalog or tiny_catalog(), settings=Settings(),
                   pool_factory=kwargs.pop("pool_factory", fixed_pool), **kwargs)
    said: list[str] = []
    original = app.notify

    def notify(message: str, **kw: Any) -> None:
        said.append(message)
        original(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return app, said


def _text(widget: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=400, record=True, file=io.StringIO())
    content = widget.content
    console.print(content if not isinstance(content, str) else Text(content))
    return console.export_text()


async def _settle(app: BenchApp, pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_home_shows_database_models_waiting_runs_and_problems(store: Store) -> None:
    store.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"],
                               scenarios=["coding-add"]), 2)
    store.save_run(RunRecord(run_id="r1", batch_id="b1", model="embedded:smollm2",
                             prompt_version="v1", scenario_id="coding-add", tier="L2"))
    store.set_batch_status("b1", "cancelled")
    catalog = tiny_catalog()
    catalog.problems.append(LoadProblem("scenarios/coding/broken.yaml", "prompt",
                                        "required field is missing"))
    app, _ = _app(store, catalog)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        line = _text(home.query_one("#db-line", Static))
        assert store.path in line and "1 runs waiting for judgment" in line
        problems = home.query_one("#problems", Static)
        assert problems.display and "broken.yaml: prompt: required field is missing" in _text(
            problems)
        models = home.query_one("#home-models", DataTable)
        cells = [str(c) for row in range(models.row_count) for c in models.get_row_at(row)]
        # Nobody asked for Ollama: no red "down" row, one calm line on how to point at one.
        assert "embedded:smollm2" in cells and "ollama:*" not in cells and "down" not in cells
        calm = _text(home.query_one("#backend-problems", Static))
        assert "unreachable" not in calm and "--ollama-host" in calm and calm.count("ollama") == 2
        recent = home.query_one("#recent", DataTable)
        assert recent.get_row("b1")[2] == "1/2"
        unfinished = home.query_one("#unfinished", DataTable)
        assert unfinished.row_count == 1 and home.query_one("#unfinished-pane").display


async def test_every_key_opens_its_screen_with_the_apps_store(store: Store) -> None:
    app, _ = _app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        for key, screen_type in (("b", BatchesScreen), ("j", JudgeScreen), ("r", ReportsScreen),
                                 ("s", MintScreen)):
            await pilot.press(key)
            await pilot.pause()
            screen = next(s for s in app.screen_stack if isinstance(s, screen_type))
            assert screen.store is store
            app.action_home()
            await pilot.pause()


async def test_a_screen_that_cannot_be_built_is_a_bug_not_a_notice(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: JudgeScreen, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the judging screen is broken")

    monkeypatch.setattr(JudgeScreen, "__init__", broken)
    app, said = _app(store)
    with pytest.raises(RuntimeError, match="the judging screen is broken"):
        async with app.run_test() as pilot:
            await pilot.press("j")
            await pilot.pause()
    assert not any("not available" in s for s in said)


def test_a_bench_screen_outside_the_app_says_so() -> None:
    class Bare(App[None]):
        pass

    screen = HomeScreen()
    with pytest.raises(TypeError, match="HomeScreen runs inside BenchApp, not Bare"):
        with patch.object(HomeScreen, "app", new_callable=PropertyMock, return_value=Bare()):
            _ = screen.bench


async def test_help_and_palette_come_from_the_bindings(store: Store) -> None:
    app, _ = _app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {(k, d.split(":")[0]) for k, d, _ in app.screen.rows}
        expected = {("n", "New"), ("b", "Batches"), ("q", "Quit"), ("?", "Help"), ("t", "Theme")}
        assert expected <= keys
        assert "Resume" not in {d for _, d in keys}  # nothing to resume: not offered
        await pilot.press("escape")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ChooseScreen)
        provider = BenchCommands(app.screen)
        names = [hit.text async for hit in provider.discover()]
        assert "Start batch" in names and "Back" in names
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"start batch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChooseScreen)  # ran the action: nothing chosen yet
        assert "Start batch" in [str(hit.text) async for hit in BenchCommands(
            app.screen).discover()]


async def test_theme_is_remembered_and_a_broken_settings_file_ignored(
        store: Store, tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    app, _ = _app(store, config_path=config)
    async with app.run_test() as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert json.loads(config.read_text())["theme"] == "nord"
    app, said = _app(store, config_path=config)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "nord"
    config.write_text("{ this is not json")
    app, said = _app(store, config_path=config)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert any("broken" in message for message in said)
        assert app.theme == "textual-dark"


async def test_choose_models_and_scenarios_shows_the_grid(store: Store) -> None:
    app, _ = _app(store)
    async with app.run_test(size=(100, 32)) as pilot:
        await _settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChooseScreen)
        summary = screen.query_one("#grid-summary", Static)
        # A first run starts with the embedded model picked, the model table focused.
        assert screen.query_one(ModelPicker).selected == ["embedded:smollm2"]
        table = screen.query_one("#model-table", DataTable)
        assert table.has_focus
        await pilot.press("enter")  # the first row: embedded:smollm2, unpicked
        await pilot.pause()
        assert "pick at least one model" in _text(summary)
        await pilot.press("enter")
        assert screen.query_one(ModelPicker).selected == ["embedded:smollm2"]
        tree = screen.query_one(ScenarioTree)
        tree.focus()
        for scenario_id in ("coding-add", "coding-double"):
            assert tree.reveal(scenario_id)
            await pilot.pause()
            await pilot.press("space")
        await pilot.pause()
        assert "coding-double" in _text(screen.query_one("#preview", Static))
        screen.query_one("#opt-tiers", Input).value = "L0,L3"
        await pilot.pause()
        assert "4 cells" in _text(summary)
        spec = screen.build_spec()
        assert spec.models == ["embedded:smollm2"]
        assert spec.scenarios == ["coding-add", "coding-double"]
        assert spec.tiers == ["L0", "L3"] and spec.batch_id.startswith("batch_")
        assert not spec.cache
        screen.query_one("#opt-cache", Checkbox).value = True
        assert screen.build_spec().cache  # the response cache, as --cache
        screen.query_one("#opt-tiers", Input).value = "L9"
        await pilot.pause()
        assert "unknown tier" in _text(summary)
        table.focus()
        await pilot.press(*"olla")
        await pilot.pause()
        assert screen.query_one("#model-filter", Input).value == "olla"
        # Ollama nobody asked for has no "down" row to match.
        assert table.row_count == 0, [table.get_row_at(i) for i in range(table.row_count)]


async def test_humaneval_is_read_only_when_its_suite_opens(store: Store) -> None:
    catalog = tiny_catalog()
    app, _ = _app(store, catalog)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        tree = app.screen.query_one(ScenarioTree)
        assert catalog._humaneval is None
        assert tree._humaneval is not None
        tree._humaneval.expand()
        await wait_until(pilot, lambda: tree._humaneval_state in ("loaded", "failed"), 30)
        assert tree._humaneval_state == "loaded"
        assert len(tree._leaves(tree._humaneval)) == 164


async def test_a_batch_runs_from_choose_to_live(store: Store) -> None:
    """The whole path on canned answers (harness only; the real model is in test_tui_run)."""
    app, _ = _app(store, pool_factory=instant_pool())
    async with app.run_test(size=(100, 32)) as pilot:
        await _settle(app, pilot)
        app.prefs.models = ["embedded:smollm2"]
        app.prefs.scenarios = ["coding-add", "coding-negate"]
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        session = app.session
        assert session is not None
        await wait_until(pilot, lambda: not session.active, 30)
        await pilot.pause(0.2)
        assert session.state.status == "finished" and session.state.ok == 2
        table = app.screen.query_one("#cells", DataTable)
        assert table.row_count == 2
        assert all(str(table.get_row_at(i)[3]) == "ok" for i in range(2))
        batch = store.get_batch(session.spec.batch_id)
        assert batch is not None and batch["status"] == "finished"
        assert json.loads(app.config_path.read_text())["scenarios"] == ["coding-add",
                                                                        "coding-negate"]


async def test_cancel_one_cell_and_show_a_failed_one(store: Store) -> None:
    """x cancels the selected running cell and the batch goes on; an error is shown plainly.

    Canned, slow answers (harness only): the cancel-the-batch path runs on the real model in
    test_tui_run.py.
    """
    answer = "```python\n" + "".join(f"x{i} = {i}\n" for i in range(40)) + "```\n"

    class HeldSecondCall(InstantBackend):
        """The second call streams a first piece, then waits until its cell is cancelled, so
        the cancel lands however busy the machine is."""

        async def chat(self, *args: Any, **kwargs: Any) -> Any:
            if self.calls == 1:
                self.calls += 1
                yield TextChunk("```python\n")
                await asyncio.Event().wait()
            async for chunk in super().chat(*args, **kwargs):
                yield chunk

    def held_pool(settings: Settings) -> BackendPool:
        backend = HeldSecondCall(answer, pieces=10, fail_times=1, transient=False)
        backend.list_models = FixedModels("embedded", [SMOLLM2]).list_models  # type: ignore
        return BackendPool(settings, overrides={
            "embedded": backend, "ollama": Unreachable("ollama", [])})  # type: ignore[dict-item]

    app, said = _app(store, pool_factory=held_pool)
    async with app.run_test(size=(100, 32)) as pilot:
        await _settle(app, pilot)
        spec = BatchSpec(batch_id="b-cancel", models=["embedded:smollm2"],
                         scenarios=["coding-add", "coding-double", "coding-negate"],
                         concurrency=1)
        session = app.start_batch(spec)
        assert session is not None
        app.show_live()
        await pilot.pause()
        state = session.state
        # The first call fails for good; the second cell streams: cancel it with x.
        await wait_until(pilot, lambda: state.failed == 1 and state.generating == 1, 30)
        table = app.screen.query_one("#cells", DataTable)
        running_id = next(iter(state.running))

        def follows() -> bool:  # the live table follows the new cell on its next repaint
            return running_id in table.rows and table.get_row_index(running_id) == table.cursor_row

        await wait_until(pilot, follows, 30)
        await pilot.press("x")
        await wait_until(pilot, lambda: not session.active, 30)
        await pilot.pause(0.2)
        rows = {rid: str(table.get_row(rid)[3]) for rid in state.order}
        assert rows[running_id] == "cancelled", said
        assert sorted(rows.values())[0] == "cancelled"
        assert sorted(rows.values())[1].startswith("error: con")
        assert sorted(rows.values())[2] == "ok"
        assert state.status == "finished" and state.ok == 1
        failed = next(r for r in store.runs("b-cancel") if r.status == "error")
        assert "connection reset" in (failed.error or "")
        table.move_cursor(row=table.get_row_index(failed.run_id))
        await pilot.pause()
        detail = _text(app.screen.query_one("#output", Static))
        assert "connection reset by peer" in detail
        assert [r.status for r in store.runs("b-cancel")].count("cancelled") == 1
