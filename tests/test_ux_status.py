"""Status words that say what happened (issue 18): a cancelled cell is not a failure, nor an
improvement when it later runs; Ollama nobody asked for is one calm line."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from tests.conftest import SMOLLM2, FixedModels, Unreachable
from tests.test_tui_app import _app, _settle, _text
from tui_bench.analysis.compare import compare_batches
from tui_bench.analysis.gate import evaluate_gate
from tui_bench.backends import BackendPool
from tui_bench.domain import BatchSpec, RunRecord
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.home import HomeScreen


def _batch(store: Store, batch_id: str, runs: list[tuple[str, str, float | None]]) -> None:
    store.save_batch(BatchSpec(batch_id=batch_id, models=["embedded:smollm2"],
                               scenarios=[s for s, _, _ in runs]), len(runs))
    for i, (scenario, status, score) in enumerate(runs):
        store.save_run(RunRecord(
            run_id=f"{batch_id}_{i}", batch_id=batch_id, model="embedded:smollm2",
            prompt_version="v1", scenario_id=scenario, tier="L2", status=status,  # type: ignore[arg-type]
            auto_score=score, success=None if score is None else score >= 0.7))
    store.set_batch_status(batch_id, "finished")


def test_cancelled_is_neither_failed_nor_improved(store: Store) -> None:
    _batch(store, "before", [("coding-add", "cancelled", None), ("coding-double", "ok", 0.9)])
    _batch(store, "after", [("coding-add", "ok", 0.37), ("coding-double", "cancelled", None)])
    listed = {r["batch_id"]: r for r in store.list_batches()}
    assert listed["before"]["failed"] == 0 and listed["before"]["cancelled"] == 1
    comparison = compare_batches(store, "before", "after")
    s = comparison.summary
    assert (s.improved, s.regressed, s.not_compared) == (0, 0, 2)
    assert all(c.flip is None for c in comparison.cells)
    # The CI gate still refuses a pass that did not run the second time.
    assert not evaluate_gate(store, "after", fail_under=None, baseline="before",
                             margin=0.0).passed


def _asked_pool(settings: Settings) -> BackendPool:
    return BackendPool(settings, overrides={
        "embedded": FixedModels("embedded", [SMOLLM2]),  # type: ignore[dict-item]
        "ollama": Unreachable("ollama", [])})  # type: ignore[dict-item]


async def test_home_cancelled_cells_and_ollama_someone_asked_for(store: Store) -> None:
    _batch(store, "b1", [("coding-add", "cancelled", None), ("coding-double", "error", None)])
    app, _ = _app(store, pool_factory=_asked_pool)
    app.settings = Settings(ollama_hosts=["http://gpu-box:11434"])
    async with app.run_test(size=(120, 30)) as pilot:
        await _settle(app, pilot)
        home: Any = app.screen
        assert isinstance(home, HomeScreen)
        cells = home.query_one("#recent", DataTable).get_row("b1")[2]
        assert "(1 failed)" in cells and "(1 cancelled)" in cells
        # Someone named a host: now it is an error worth red.
        assert "ollama unreachable" in _text(home.query_one("#backend-problems", Static))
