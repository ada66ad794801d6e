"""The store must not be fooled: one batch, one runner; what is reported is what is stored;
a damaged database is one line and a doctor, never a traceback or a false success."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_bad_input import run_cli
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec
from tui_bench.engine.events import CellFinished, CellStarted
from tui_bench.engine.runner import Runner
from tui_bench.headless import JsonLinesPrinter
from tui_bench.store import LeaseHeld, Store

SCENARIOS = ["writing-tip-data-analyst", "writing-tip-new-manager"]
ANSWER = "Batch your ad-hoc requests into two fixed windows a day and say so in your status."


def _spec(batch_id: str, iterations: int = 3) -> BatchSpec:
    return BatchSpec(batch_id=batch_id, models=["embedded:smollm2"], scenarios=SCENARIOS,
                     iterations=iterations, concurrency=1)


def _runner(store: Store, catalog: Catalog, *, delay_s: float = 0.0,
            on_event: Any = None, slots: int = 8) -> Runner:
    backend = InstantBackend(ANSWER, delay_s=delay_s, concurrency=slots)
    pool = BackendPool(overrides={"embedded": backend})
    return Runner(store, catalog, pool=pool, on_event=on_event or (lambda e: None))


async def test_a_second_runner_of_a_batch_refuses_while_the_first_runs(
        store: Store, shipped_catalog: Catalog) -> None:
    started = asyncio.Event()
    first = _runner(store, shipped_catalog, delay_s=0.02,
                    on_event=lambda e: started.set() if isinstance(e, CellStarted) else None)
    task = asyncio.create_task(first.run(_spec("one-runner")))
    await asyncio.wait_for(started.wait(), 10)
    second = _runner(store, shipped_catalog)
    with pytest.raises(LeaseHeld, match="another process.*one batch, one runner"):
        await second.run(_spec("one-runner"), resume=True)
    result = await task
    assert result.done == 6
    ok = {r.run_id for r in store.runs("one-runner")}
    assert len(ok) == 6 and store.lease_of("one-runner") is None, "released when done"
    again = await second.run(_spec("one-runner"), resume=True)
    assert again.skipped == 6 and again.done == 0
    assert {r.run_id for r in store.runs("one-runner")} == ok, "no run was replaced"


async def test_a_stale_lease_is_taken_over(store: Store, shipped_catalog: Catalog) -> None:
    store.save_batch(_spec("stale"), 6)
    store.acquire_lease("stale", "a dead runner", stale_after_s=60, now=time.time() - 600)
    result = await _runner(store, shipped_catalog).run(_spec("stale"), resume=True)
    assert result.done == 6 and result.status == "finished"


async def test_a_runner_whose_lease_was_taken_stops(store: Store,
                                                    shipped_catalog: Catalog) -> None:
    def steal(event: Any) -> None:
        if isinstance(event, CellFinished):  # another runner takes over while this one runs
            store.acquire_lease("stolen", "thief", stale_after_s=0)

    runner = _runner(store, shipped_catalog, delay_s=0.05, on_event=steal)
    runner.lease_options = {"heartbeat_s": 0.05}
    result = await runner.run(_spec("stolen", iterations=20))
    assert result.status == "cancelled" and result.done < 40


def test_the_cli_refuses_a_resume_while_another_process_holds_the_batch(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    store = Store(db)
    store.save_batch(_spec("held"), 6)
    store.acquire_lease("held", "gpu-box pid 4242", stale_after_s=60)
    code, _, err = run_cli("--resume", "held", "-q", "--db", str(db))
    assert code == 1 and "gpu-box pid 4242" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert store.count_runs("held") == 0


async def test_jsonl_reports_exactly_the_cells_that_are_stored(
        store: Store, shipped_catalog: Catalog) -> None:
    out = io.StringIO()
    printer = JsonLinesPrinter(out)
    runner: Runner

    def listen(event: Any) -> None:
        printer(event)
        if isinstance(event, CellFinished):
            runner.cancel()  # cancel mid-way, with cells still queued

    # Four workers, one backend slot: three cells wait for the backend when the cancel comes.
    runner = _runner(store, shipped_catalog, delay_s=0.01, on_event=listen, slots=1)
    spec = _spec("cancelled").model_copy(update={"concurrency": None})
    result = await runner.run(spec)
    assert result.status == "cancelled"
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    reported = {x["run_id"] for x in lines if x["event"] == "cell_finished"}
    stored = {r.run_id for r in store.runs("cancelled")}
    assert reported == stored and set(result.run_ids) == stored
    assert len(stored) < 6
