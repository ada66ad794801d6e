"""Reports as a new user meets them (issue 18): tabs move with tab and the arrows (shown in the
footer), Over time stays put across a modal, and empty tabs say how to fill them."""

from __future__ import annotations

from textual.screen import ModalScreen
from textual.widgets import Static, TabbedContent

from tests.conftest import Host, screen_text, settle, text_of
from tests.test_reports_screen import _data
from tui_bench.store import Store
from tui_bench.tui.screens.reports import ReportsScreen


async def test_tabs_move_with_keys_and_over_time_survives_a_modal(store: Store) -> None:
    _data(store)
    app = Host(ReportsScreen(store=store, catalog=None, settings=None))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one("#report-tabs", TabbedContent)
        assert "Next tab" in screen_text(app).splitlines()[-1]  # the footer says how
        await pilot.press("tab")
        await pilot.pause()
        assert tabs.active == "over-time"
        await pilot.press("right", "right")
        await pilot.pause()
        assert tabs.active == "specialists"
        await pilot.press("left", "shift+tab")
        await pilot.pause()
        assert tabs.active == "over-time"
        await app.push_screen(ModalScreen())  # help or the palette over the screen
        await pilot.pause()
        app.pop_screen()
        await pilot.pause()
        await pilot.pause()
        assert tabs.active == "over-time"


async def test_empty_tabs_say_how_to_fill_them(store: Store) -> None:
    app = Host(ReportsScreen(store=store, catalog=None, settings=None))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        for tab, words in (("specialists", "--specialist"), ("effort", "--mode iterative"),
                           ("weights", "weights --update"), ("ranking", "start a batch")):
            hint = screen.query_one(f"#{tab}-hint", Static)
            assert words in text_of(hint)
        await pilot.press("4")
        await pilot.pause()
        assert "--specialist" in screen_text(app)
