"""The response cache: hit only on an exact match, told apart everywhere, never in speed figures."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.conftest import SCENARIOS, cli_env
from tui_bench.analysis.summary import batch_summary
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.events import Token, ignore
from tui_bench.engine.runner import Runner
from tui_bench.headless import ProgressPrinter
from tui_bench.store import Store
from tui_bench.tui.live_state import LiveState

SCENARIO_IDS = ["coding-fizzbuzz", "coding-slugify"]


def run(store: Store, backend: InstantBackend, batch_id: str, *, cache: bool = True,
        iterations: int = 2, model: str = "embedded:smollm2", on_event: Any = ignore,
        **options: object) -> None:
    spec = BatchSpec(batch_id=batch_id, models=[model], scenarios=SCENARIO_IDS,
                     iterations=iterations, cache=cache,
                     options=GenerationOptions(**{"max_tokens": 64, **options}))
    pool = BackendPool(overrides={"embedded": backend})
    asyncio.run(Runner(store, load_catalog([SCENARIOS]), pool=pool,
                       on_event=on_event).run(spec))


def test_the_cache_is_hit_only_on_an_exact_match(store: Store) -> None:
    backend = InstantBackend()
    run(store, backend, "b-first")
    assert backend.calls == 4
    first = {(r.scenario_id, r.iteration): r for r in store.runs("b-first")}
    assert not any(r.cached for r in first.values())
    assert all(r.telemetry.ttft_ms is not None for r in first.values())

    # The same grid: every cell from the cache. Its text is shown live, but no live speed
    # figure (the progress line, the live screen's tokens/s) counts it.
    events: list[Any] = []
    printer = ProgressPrinter(Console(file=io.StringIO()), quiet=True)
    live = LiveState()

    def listen(event: Any) -> None:
        events.append(event)
        printer(event)
        live.on_event(event)

    run(store, backend, "b-again", on_event=listen)
    assert backend.calls == 4
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) == 4 and all(t.cached and t.text for t in tokens)
    assert printer.tokens == 0 and live._model_tokens == {}
    again = {(r.scenario_id, r.iteration): r for r in store.runs("b-again")}
    for key, cached in again.items():
        assert cached.cached and cached.cached_from == first[key].run_id
        assert cached.output == first[key].output and cached.auto_score is not None
        assert cached.telemetry.ttft_ms is None and cached.telemetry.tokens_per_s is None
        assert cached.telemetry.host == "cache"

    # Anything that shapes the answer misses: seed, options, another iteration, no --cache.
    run(store, backend, "b-seed", seed=7)
    assert backend.calls == 8
    run(store, backend, "b-tokens", max_tokens=32)
    assert backend.calls == 12
    run(store, backend, "b-more", iterations=3)  # iterations 1-2 hit, 3 is new
    assert backend.calls == 14
    run(store, backend, "b-off", cache=False)
    assert backend.calls == 18
    assert store.count_runs() == 26
    cached = {r["batch_id"]: r["n"] for r in store.query(
        "SELECT batch_id, sum(cached) AS n FROM runs GROUP BY batch_id")}
    assert cached == {"b-first": 0, "b-again": 4, "b-seed": 0, "b-tokens": 0, "b-more": 4,
                      "b-off": 0}

    # Cached runs never count in speed figures: not in the rollup, not in the summary.
    sums = store.leaderboard_sums(batch_id="b-again")
    assert sum(r["ttft_n"] for r in sums) == 0 and sum(r["tps_n"] for r in sums) == 0
    assert sum(r["runs"] for r in sums) == 4
    more = store.leaderboard_sums(batch_id="b-more")
    assert sum(r["tps_n"] for r in more) == 2  # only the two fresh runs
    summary = batch_summary(store, "b-again")["summary"]
    assert summary["mean_tokens_per_s"] is None and summary["cached"] == 4


def test_the_cache_never_crosses_models(store: Store) -> None:
    backend = InstantBackend()
    run(store, backend, "b-one", iterations=1)
    run(store, backend, "b-other", iterations=1, model="embedded:/nowhere/other.gguf")
    assert backend.calls == 4
    assert not any(r.cached for r in store.runs("b-other"))


def tui_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui_bench", *args], capture_output=True,
                          text=True, timeout=300, env=cli_env(), check=False)


@pytest.mark.slow
def test_cache_on_the_embedded_model_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "cache.db")
    common = ["--run", "--scenarios", "coding-fizzbuzz", "--max-tokens", "24", "--cache",
              "--db", db]
    fresh = tui_bench(*common, "--batch-id", "b-fresh")
    assert fresh.returncode == 0, fresh.stderr
    again = tui_bench(*common, "--batch-id", "b-cached")
    assert again.returncode == 0, again.stderr
    assert "(cached)" in again.stdout and "(cached)" not in fresh.stdout
    store = Store(db)
    [one], [two] = store.runs("b-fresh"), store.runs("b-cached")
    assert one.output.strip() and two.output == one.output and two.cached_from == one.run_id
    assert one.telemetry.tokens_per_s and two.telemetry.tokens_per_s is None
    exported = tui_bench("export", "b-cached", "--format", "csv", "--db", db)
    [row] = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert row["cached"] == "true" and row["cached_from"] == one.run_id
    refused = tui_bench(*common, "--mode", "iterative", "--batch-id", "b-iter")
    assert refused.returncode == 2 and "--cache works with --mode zero-shot" in refused.stderr


async def test_the_detail_screen_tells_a_cached_run_from_a_fresh_one(store: Store) -> None:
    from textual.widgets import DataTable, Static

    from tests.conftest import Host, rows, settle, text_of
    from tui_bench.tui.screens.batches import BatchDetailScreen

    backend = InstantBackend()
    await asyncio.to_thread(run, store, backend, "b-first", iterations=1)
    await asyncio.to_thread(run, store, backend, "b-again", iterations=1)
    for batch_id, cached in (("b-first", False), ("b-again", True)):
        screen = BatchDetailScreen(store, batch_id)
        async with Host(screen).run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            verdicts = [row[6] for row in rows(screen.query_one("#run-table", DataTable))]
            assert len(verdicts) == 2 and all(("cached" in v) is cached for v in verdicts)
            detail = text_of(screen.query_one("#run-detail", Static))
            assert ("output reused from run_" in detail) is cached
