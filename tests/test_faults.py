"""Fault suite: every way a network fails, in one batch, through the app.

An Ollama-speaking loopback server (real generations from SmolLM2) answers each request in
turn with a 500, a dropped connection, a stall, a truncated stream, a malformed line and a 429,
and an OpenAI-compatible host refuses connections outright. The batch must finish, each cell
failed with its reason and host or recovered by a bounded retry, the app must show it, and
nothing may crash.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from textual.widgets import DataTable

from tests.conftest import REAL_MODEL_DEADLINE, wait_until
from tests.servers.fixtures import OLLAMA_MODEL
from tests.servers.ollama_server import OllamaTestServer
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.app import make_app

pytestmark = pytest.mark.slow

# One cell per fault, in the order the server will see their requests (one at a time).
PLAN = [
    ("coding-celsius-to-fahrenheit", "HTTP 500", dict(kind="status", status=500, times=2)),
    ("coding-count-vowels", "reset mid-stream", dict(kind="drop", after_chunks=2, times=2)),
    ("coding-fizzbuzz", "stalled", dict(kind="stall", after_chunks=1, times=2)),
    ("coding-flatten-list", "cut short", dict(kind="truncate", after_chunks=2, times=2)),
    ("coding-is-palindrome", "malformed", dict(kind="malformed", after_chunks=1, times=1)),
    ("coding-reverse-words", "429 then fine", dict(kind="status", status=429, retry_after="0",
                                                   message="too many requests", times=1)),
    ("coding-safe-add", "no fault", None),
]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_every_fault_fails_one_cell_and_the_batch_finishes(
        store: Store, shipped_catalog: Catalog, ollama_server: OllamaTestServer) -> None:
    for _, _, fault in PLAN:
        if fault:
            ollama_server.fail(**fault)
    refused = f"http://127.0.0.1:{closed_port()}/v1"
    settings = Settings(ollama_hosts=[ollama_server.url], openai_base_url=refused,
                        max_retries=1, retry_base_s=0.01, stall_timeout_s=1.0,
                        request_timeout_s=20, embedded_threads=1)
    app = make_app(store=store, catalog=shipped_catalog, settings=settings)
    # -j 1: one cell at a time, so each queued fault meets the cell the plan gives it (a cell
    # waiting to retry would otherwise lend its host slot to the next cell, and its fault).
    spec = BatchSpec(batch_id="faults", models=[f"ollama:{OLLAMA_MODEL}", "openai:smollm2"],
                     scenarios=[s for s, _, _ in PLAN],
                     options=GenerationOptions(max_tokens=8), concurrency=1)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        session = app.start_batch(spec)
        assert session is not None
        app.show_live()
        await wait_until(pilot, lambda: not session.active, REAL_MODEL_DEADLINE)
        await pilot.pause(0.3)
        table: DataTable[Any] = app.screen.query_one("#cells", DataTable)
        shown = {str(table.get_row(rid)[1]) + "@" + str(table.get_row(rid)[0]):
                 str(table.get_row(rid)[3]) for rid in session.state.order}
    assert session.state.status == "finished"
    runs = {(r.model.split(":")[0], r.scenario_id): r for r in store.runs("faults")}
    assert len(runs) == 14, "every cell is stored, failed or not"
    host = ollama_server.url.split("//")[1]
    expect_error = {"coding-celsius-to-fahrenheit": "500", "coding-count-vowels": "",
                    "coding-fizzbuzz": "stalled", "coding-flatten-list": "",
                    "coding-is-palindrome": ""}
    for scenario, words in expect_error.items():
        run = runs[("ollama", scenario)]
        assert run.status == "error", (scenario, run.error)
        assert host in run.error and words in run.error, run.error
    assert runs[("ollama", "coding-celsius-to-fahrenheit")].retries == 1
    assert runs[("ollama", "coding-is-palindrome")].retries == 0, "malformed is not retried"
    recovered = runs[("ollama", "coding-reverse-words")]
    assert recovered.status == "ok" and recovered.retries == 1
    assert runs[("ollama", "coding-safe-add")].status == "ok"
    for (backend, scenario), run in runs.items():
        if backend == "openai":
            assert run.status == "error" and refused.split("/v1")[0].split("//")[1] in run.error
    # The app shows each failure as an error row, and the recovered cells as ok.
    errors = [v for v in shown.values() if v.startswith("error")]
    assert len(errors) == 12 and sum(v == "ok" for v in shown.values()) == 2, shown
    assert store.get_batch("faults")["status"] == "finished"
