"""The new-batch screen and the palette as a new user meets them (issue 18): focus starts on
the model table and shows, ? is help, the embedded model is picked on a first run, a model
discovery did not list can be added, a specialist option runs both sides, and the palette
finds the feature screens' actions without generic cursor entries."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Input, Select

from tests.conftest import instant_pool, wait_until
from tests.test_tui_app import _app, _settle
from tui_bench.store import Store
from tui_bench.tui.commands import BenchCommands
from tui_bench.tui.screens.choose import ChooseScreen
from tui_bench.tui.screens.help import HelpScreen
from tui_bench.tui.widgets.model_picker import ModelPicker
from tui_bench.tui.widgets.scenario_tree import ScenarioTree


async def test_new_batch_focus_help_added_model_and_specialist(store: Store) -> None:
    app, _ = _app(store, pool_factory=instant_pool("```python\ndef add(a, b):\n"
                                                   "    return a + b\n```\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        screen: Any = app.screen
        assert isinstance(screen, ChooseScreen)
        assert screen.query_one("#model-table", DataTable).has_focus
        picker = screen.query_one(ModelPicker)
        assert picker.selected == ["embedded:smollm2"]
        await pilot.press(*"olla", "question_mark")  # ? in the filter is still help
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        filt = screen.query_one("#model-filter", Input)
        assert filt.value == "olla"
        filt.value = "ollama:qwen2.5:0.5b"
        await pilot.press("enter")
        await pilot.pause()
        assert picker.selected == ["embedded:smollm2", "ollama:qwen2.5:0.5b"]
        assert filt.value == "" and screen.query_one("#model-table", DataTable).has_focus
        # Focus on the compact option fields can be seen.
        tiers = screen.query_one("#opt-tiers", Input)
        idle = tiers.styles.background
        tiers.focus()
        await pilot.pause()
        assert tiers.styles.background != idle
        # The specialist option: both sides of every cell, persona wired into the run.
        picker.toggle("ollama:qwen2.5:0.5b")
        special = screen.query_one("#opt-specialist", Select)
        special.value = "python-craftsman"
        tree = screen.query_one(ScenarioTree)
        for scenario_id in list(tree.marked):
            tree.reveal(scenario_id)
        tree.focus()
        assert tree.reveal("coding-add")
        await pilot.pause()
        if "coding-add" not in tree.marked:
            await pilot.press("space")
        spec = screen.build_spec()
        assert spec.specialists == ["", "python-craftsman"]
        session = app.start_batch(spec)
        assert session is not None
        await wait_until(pilot, lambda: not session.active, 60)
        runs = store.runs(spec.batch_id)
        assert sorted(r.specialist for r in runs) == sorted(
            ["", "python-craftsman"] * len(spec.scenarios) * len(spec.tiers))
        assert any(r.system and "python" in r.system.lower() for r in runs if r.specialist)


async def test_palette_finds_feature_actions_not_cursor_keys(store: Store) -> None:
    app, _ = _app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for word in ("weights", "export", "resume", "enrich"):
            assert any(word in t.lower() for t in titles), (word, titles)
        await pilot.press("n")
        await pilot.pause()
        names = [str(hit.text) async for hit in BenchCommands(app.screen).discover()]
        assert "Start batch" in names
        assert not any(n.startswith(("Cursor", "Page", "Scroll"))
                       for n in names), names
        await pilot.press("escape")
        await pilot.pause()
        app.action_reports_tab("weights")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#report-tabs").active == "weights"


async def test_80_columns_footers_drop_the_palette_key_on_every_screen(store: Store) -> None:
    from textual.widgets import Footer

    app, _ = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        for key in ("b", "escape", "r"):
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
            footer = app.screen.query_one(Footer)
            assert footer.compact and not footer.show_command_palette, app.screen


async def test_help_titles_are_words_not_class_names(store: Store) -> None:
    from textual.screen import Screen

    from tui_bench.tui.screens.judge import JudgeScreen

    class RunHistoryScreen(Screen[None]):
        pass

    app, _ = _app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await app.push_screen(JudgeScreen(store=store, catalog=app.catalog, judge="ann"))
        await pilot.pause()
        assert app.screen_title() == "Judging"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.title_text == "Judging"
        await pilot.press("escape")
        await app.push_screen(RunHistoryScreen())
        assert app.screen_title() == "Run history"
