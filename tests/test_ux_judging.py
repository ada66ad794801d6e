"""Judging as a new user meets it (issue 18): blind stays blind, the header says what the queue
is, a save can be taken back and is seen, the lowest band is explained, 80x24 keeps the sheet."""

from __future__ import annotations

from textual.widgets import Footer
from textual_slider import Slider

from tests.conftest import Host, add_judged_runs, judging_catalog, judgment, screen_text
from tui_bench.store import Store
from tui_bench.store.judging import QueueFilter
from tui_bench.tui.screens.judge import JudgeScreen

ALL_SET = ("1", "8", "down", "1", "6", "down", "1", "2", "down", "1", "5", "down", "9",
           "down", "5")


def _app(store: Store) -> Host:
    cat = judging_catalog()
    runs = add_judged_runs(store, cat, [
        {"model": "ollama:alpha", "scenario_id": "fizz", "auto_score": 0.71},
        {"model": "ollama:beta", "scenario_id": "sort", "auto_score": 0.33},
    ])
    store.save_judgments([judgment(runs[0].run_id, "ollama:judge", {
        "correctness": 11, "structure": 12, "performance": 13, "best_practices": 14,
        "documentation": 9, "testing": 1}, kind="model")])
    return Host(lambda: JudgeScreen(store=store, catalog=cat, judge="alice",
                                    filters=QueueFilter(shuffled=False)))


async def test_blind_twice_hides_again_and_header_names_the_queue(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert "queue: runs nobody has judged" in screen_text(app)
        assert "not judged by anyone" not in screen_text(app)
        await pilot.press("b")
        await pilot.pause()
        assert "ollama:alpha" in screen_text(app)
        await pilot.press("b")
        await pilot.pause()
        text = screen_text(app)
        assert " blind " in text.replace("·", " ")
        assert "ollama:alpha" not in text and "0.71" not in text and "tok/s" not in text
        assert "model hidden (blind)" in text


async def test_save_is_seen_and_ctrl_z_takes_it_back(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press(*ALL_SET, "enter")
        await pilot.pause()
        screen = app.target
        assert isinstance(screen, JudgeScreen) and screen.pos == 1
        text = screen_text(app)
        # The reveal of the saved run is on screen at 48 rows, down to the judges' totals.
        assert "Last saved" in text and "ollama:alpha" in text and "75 good" in text
        assert store.judgment_by("run_batch_t_0", "alice") is not None
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert screen.pos == 0
        assert store.judgment_by("run_batch_t_0", "alice") is None
        assert screen.sheet is not None and screen.sheet.complete  # the scores came back
        assert screen.sheet.total == 75
        assert "nothing to undo" not in " ".join(n.message for n in app._notifications)
        await pilot.press("enter")  # save it again: one judgment, not two
        await pilot.pause()
        rows = store.query("SELECT count(*) AS n FROM judgments WHERE judge = 'alice'")
        assert rows[0]["n"] == 1


async def test_reference_only_is_explained(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("0", "down", "0", "down", "0", "down", "0", "down", "0", "down", "0")
        await pilot.pause()
        assert "reference only (below 60%" in screen_text(app)


async def test_80x24_keeps_sliders_and_footer_keys(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.pause()
        sliders = list(app.screen.query(Slider))
        assert sliders and all(s.region.width >= 8 for s in sliders[:1])
        assert sliders[0].region.right <= 80
        footer = app.screen.query_one(Footer)
        assert footer.compact
        text = screen_text(app).splitlines()
        bottom = text[-1] if text[-1].strip() else text[-2]
        for words in ("Save & next", "Undo", "Notes", "Blind"):
            assert words in bottom, bottom
