"""Layout snapshots of home and choose at 80x24, from a fixed state: no clock, no real model.

The database is in memory, the catalog is the tiny fixed one, and the backends only list
fixed models (one up, one down), so nothing races. Update with ``--snapshot-update`` after
a deliberate layout change, and look at the SVG before committing it.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import fixed_pool, tiny_catalog
from tui_bench.domain import BatchSpec, RunRecord
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.app import BenchApp, make_app
from tui_bench.tui.widgets.scenario_tree import ScenarioTree

SIZE = (80, 24)


def _store() -> Store:
    store = Store(":memory:")
    for batch_id, status, done in (("batch_20250101_090000_aaaa", "finished", 3),
                                   ("batch_20250102_090000_bbbb", "cancelled", 1)):
        store.save_batch(BatchSpec(batch_id=batch_id, models=["embedded:smollm2"],
                                   scenarios=["coding-add", "coding-double", "coding-negate"]),
                         3)
        for index, scenario in enumerate(["coding-add", "coding-double", "coding-negate"][:done]):
            store.save_run(RunRecord(
                run_id=f"run_{batch_id}_{index}", batch_id=batch_id, model="embedded:smollm2",
                prompt_version="v1", scenario_id=scenario, tier="L2", auto_score=0.5 + index / 10,
                started_at="2025-01-01T09:00:00+00:00"))
        store.set_batch_status(batch_id, status)
        stamp = batch_id[6:10] + "-" + batch_id[10:12] + "-" + batch_id[12:14] + "T09:00:00+00:00"
        store.conn.execute("UPDATE batches SET created_at = ? WHERE batch_id = ?",
                           (stamp, batch_id))
    return store


def _app() -> BenchApp:
    return make_app(store=_store(), catalog=tiny_catalog(), settings=Settings(),
                    pool_factory=fixed_pool)


async def _settled(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_home_layout(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_settled)


def test_choose_layout(snap_compare: Any) -> None:
    app = _app()
    app.prefs.models = ["embedded:smollm2"]
    app.prefs.scenarios = ["coding-add", "coding-negate"]

    async def choose(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("n")
        await pilot.pause()
        tree = pilot.app.screen.query_one(ScenarioTree)
        tree.focus()
        tree.reveal("coding-add")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=choose)
