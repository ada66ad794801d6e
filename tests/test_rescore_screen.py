"""The batch detail screen rescores a batch (key r) and compares its scorings (key v)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable, Static

from tests.conftest import Host, make_batch, rows, settle, text_of, write_scenario
from tui_bench.catalog import load_catalog
from tui_bench.store import Store
from tui_bench.tui.commands import BenchCommands
from tui_bench.tui.screens.batches import BatchDetailScreen
from tui_bench.tui.screens.scorings import ScoringCompareScreen


async def test_rescore_from_the_detail_screen_then_compare(tmp_path: Path, store: Store) -> None:
    store, folder = await asyncio.to_thread(make_batch, tmp_path, store)
    write_scenario(folder, "colour-blue", "green")
    catalog = load_catalog([folder, Path(__file__).parent.parent / "scenarios"])
    screen = BatchDetailScreen(store, "b-colours", catalog)
    async with Host(screen).run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert "scoring 1" in text_of(screen.query_one("#batch-head", Static))
        names = [name for name, _, _ in BenchCommands(screen)._commands()]
        assert "Rescore" in names and "Compare scorings" in names  # in the palette too
        await pilot.press("v")  # nothing to compare yet
        await settle(pilot)
        assert not isinstance(pilot.app.screen, ScoringCompareScreen)

        await pilot.press("r")
        await settle(pilot)
        assert store.latest_scoring("b-colours") == 2
        assert "scoring 2" in text_of(screen.query_one("#batch-head", Static))
        assert any("3 changed verdict" in n.message for n in pilot.app._notifications)

        await pilot.press("v")
        await settle(pilot)
        compare = pilot.app.screen
        assert isinstance(compare, ScoringCompareScreen)
        summary = text_of(compare.query_one("#compare-summary", Static))
        assert "b-colours scoring 1 → b-colours scoring 2" in summary
        assert "1 fail→pass · 2 pass→fail" in summary
        changed = rows(compare.query_one("#compare-table", DataTable))
        assert sorted(r[1] for r in changed) == ["colour-blue"] * 3
