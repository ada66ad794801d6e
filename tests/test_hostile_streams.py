"""Servers that ignore every limit: an endless stream, a 5 MB answer, one 5 MB line.

Each cell must end quickly with its reason (the client enforces ``max_tokens``, the cell's
deadline and the cap on answer bytes), and the process must not hold the flood in memory.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

import pytest

from tests.servers.fixtures import OLLAMA_MODEL
from tests.servers.ollama_server import OllamaTestServer
from tests.servers.openai_server import OpenAITestServer, Script
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, GenerationOptions, RunRecord
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

SCENARIO = "writing-tip-data-analyst"
KB = 1024
FIVE_MB = 5 * KB * KB


async def _one_cell(store: Store, catalog: Catalog, settings: Settings, model: str,
                    max_tokens: int, batch_id: str) -> tuple[RunRecord, float, int]:
    """Run one cell; its record, the seconds it took and the peak memory it added."""
    runner = Runner(store, catalog, settings=settings)
    spec = BatchSpec(batch_id=batch_id, models=[model], scenarios=[SCENARIO],
                     options=GenerationOptions(max_tokens=max_tokens),
                     model_warmup=False)  # each queued fault is for the measured cell
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    began = time.monotonic()
    try:
        await runner.run(spec)
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        await runner.pool.aclose()
    took = time.monotonic() - began
    (run,) = store.runs(batch_id)
    return run, took, peak


def _settings(**extra: object) -> Settings:
    return Settings.model_validate({"max_retries": 0, "request_timeout_s": 30,
                                    "stall_timeout_s": 30, **extra})


async def test_openai_floods_end_each_cell_with_its_reason(
        store: Store, shipped_catalog: Catalog, openai_scripted: OpenAITestServer) -> None:
    base = {"openai_base_url": openai_scripted.url + "/v1"}
    model = "openai:scripted-model"

    # An endless stream that ignores max_tokens: the client stops at max_tokens, scores it.
    openai_scripted.queue(Script(kind="flood", pieces=["tok "], count=None))
    run, took, _ = await _one_cell(store, shipped_catalog, _settings(**base), model, 16, "endless")
    assert run.status == "ok", run.error
    assert run.output == "tok " * 16
    assert run.telemetry.done_reason == "length" and run.telemetry.completion_tokens == 16
    assert took < 15

    # 5 MB in 1 KB pieces against a 64 KB cap: failed, named, and never held whole.
    openai_scripted.queue(Script(kind="flood", pieces=["x" * KB], count=5 * KB))
    run, took, peak = await _one_cell(store, shipped_catalog,
                                      _settings(**base, max_answer_bytes=64 * KB), model,
                                      1_000_000, "five-mb")
    assert run.status == "error" and "64 KB cap on answer size" in (run.error or "")
    assert peak < 2 * KB * KB, f"peak {peak} bytes"

    # The same 5 MB as one event on one line: refused before the line is held.
    event = '{"choices": [{"index": 0, "delta": {"content": "%s"}}]}' % ("y" * FIVE_MB)
    openai_scripted.queue(Script(kind="flood", raw=f"data: {event}\n\n".encode(), count=1))
    del event
    run, took, peak = await _one_cell(store, shipped_catalog,
                                      _settings(**base, max_answer_bytes=64 * KB), model,
                                      1_000_000, "one-line")
    assert run.status == "error" and "line longer than" in (run.error or "")
    assert peak < 2 * KB * KB, f"peak {peak} bytes"

    # A stream that never ends and never passes a token or byte limit: the deadline ends it.
    openai_scripted.queue(Script(kind="flood", pieces=["z"], count=None))
    run, took, _ = await _one_cell(store, shipped_catalog, _settings(**base, cell_deadline_s=1.0),
                                   model, 10_000_000, "deadline")
    assert run.status == "error" and "deadline of 1s passed" in (run.error or "")
    assert took < 10
    openai_scripted.httpd.release_stalls()  # let the server's flooding thread go


@pytest.mark.slow
async def test_ollama_floods_end_each_cell_with_its_reason(
        store: Store, shipped_catalog: Catalog, ollama_server: OllamaTestServer) -> None:
    base = {"ollama_hosts": [ollama_server.url]}
    model = f"ollama:{OLLAMA_MODEL}"
    ollama_server.fail("flood", message="tok ", count=None)
    run, took, _ = await _one_cell(store, shipped_catalog, _settings(**base), model, 16, "endless")
    assert run.status == "ok", run.error
    assert run.output == "tok " * 16 and run.telemetry.done_reason == "length"
    assert took < 15

    ollama_server.fail("flood", message="x" * KB, count=5 * KB)
    run, took, peak = await _one_cell(store, shipped_catalog,
                                      _settings(**base, max_answer_bytes=64 * KB), model,
                                      1_000_000, "five-mb")
    assert run.status == "error" and "cap on answer size" in (run.error or "")
    assert peak < 2 * KB * KB, f"peak {peak} bytes"

    line = '{"message": {"role": "assistant", "content": "%s"}, "done": false}\n' % ("y" * FIVE_MB)
    ollama_server.fail("flood", raw=line.encode(), count=1)
    del line
    run, took, peak = await _one_cell(store, shipped_catalog,
                                      _settings(**base, max_answer_bytes=64 * KB), model,
                                      1_000_000, "one-line")
    assert run.status == "error" and "line longer than" in (run.error or ""), run.error
    assert peak < 2 * KB * KB, f"peak {peak} bytes"
    ollama_server.httpd.release_stalls()


@pytest.mark.slow
async def test_the_model_warmup_stops_at_the_first_piece_of_an_endless_stream(
        ollama_server: OllamaTestServer) -> None:
    from tui_bench.backends import BackendPool
    from tui_bench.domain import ModelRef
    from tui_bench.engine.environment import Warmer

    ollama_server.fail("flood", message="tok ", count=None)
    pool = BackendPool(_settings(ollama_hosts=[ollama_server.url]))
    ref = ModelRef.parse(f"ollama:{OLLAMA_MODEL}")
    backend, name = pool.for_model(ref)
    warmer = Warmer()
    began = time.monotonic()
    try:
        await asyncio.wait_for(warmer.prepare(ref, backend, name, GenerationOptions()), 60)
    finally:
        await pool.aclose()
        ollama_server.httpd.release_stalls()
    assert time.monotonic() - began < 15
    assert warmer.warmups and not warmer.errors
