"""The per-cell hot paths do once what can be done once, and store and produce the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_bench.backends.base import collect
from tui_bench.backends.embedded import EmbeddedBackend
from tui_bench.domain import BatchSpec, GenerationOptions, ModelRef, RunRecord, Scenario
from tui_bench.engine.environment import Warmer
from tui_bench.store import Store

SCENARIO = Scenario(id="s1", name="S1", suite="coding", category="algorithms", prompt="p")


def _record(run_id: str, iteration: int) -> RunRecord:
    return RunRecord(run_id=run_id, batch_id="b1", model="embedded:smollm2",
                     prompt_version="v1", scenario_id="s1", tier="L2", iteration=iteration,
                     status="ok", output="out", scenario_hash=SCENARIO.definition_hash())


def test_a_known_scenario_version_is_written_once_per_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    store.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"], scenarios=["s1"]), 3)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    store.save_run(_record("r1", 1), SCENARIO)
    store.save_run(_record("r2", 2), SCENARIO)
    writes = [s for s in statements if "scenario_versions" in s]
    assert len(writes) == 1, writes  # the second cell of the version skips the write
    store.conn.set_trace_callback(None)
    store.close()
    again = Store(tmp_path / "a.db")  # a new store writes it again: OR IGNORE keeps one row
    again.save_run(_record("r3", 3), SCENARIO)
    rows = again.query("SELECT scenario_hash, definition FROM scenario_versions")
    assert [r["scenario_hash"] for r in rows] == [SCENARIO.definition_hash()]
    assert [r.run_id for r in again.runs("b1")] and len(again.runs("b1")) == 3
    again.close()


@pytest.mark.slow
async def test_a_loaded_embedded_model_is_not_warmed_again() -> None:
    # A warmup prompt would replace the evaluated prefix a batch's cells share with the
    # previous batch's, so the first cell would pay the whole prompt again.
    backend = EmbeddedBackend()
    options = GenerationOptions(max_tokens=4)
    ref = ModelRef.parse("embedded:smollm2")
    messages = [{"role": "user", "content": "Name three colours."}]
    assert backend.needs_warmup("smollm2", options)
    first = Warmer()
    await first.prepare(ref, backend, "smollm2", options)
    assert list(first.warmups) == ["embedded:smollm2 ctx=2048"]  # the cold load, kept apart
    await collect(backend.chat("smollm2", messages, options))
    loaded = next(iter(backend._models.values()))
    evaluated = list(loaded.llm.input_ids[:loaded.llm.n_tokens])
    assert not backend.needs_warmup("smollm2", options)
    second = Warmer()  # the next batch
    facts = await second.prepare(ref, backend, "smollm2", options)
    assert second.warmups == {} and "warmup_ms" not in facts and facts["backend"] == "embedded"
    assert list(loaded.llm.input_ids[:loaded.llm.n_tokens]) == evaluated
    # Other load settings are another load: that one is warmed.
    assert backend.needs_warmup("smollm2", GenerationOptions(num_ctx=1024))
    await backend.aclose()


def test_the_openai_backend_imports_no_httpx_and_no_model_library() -> None:
    # Start-up of a batch against an OpenAI-compatible server: ollama, httpx (~75 ms),
    # llama_cpp and numpy (~90 ms) are not needed and must not be imported on the way.
    import subprocess
    import sys

    probe = ("import sys; import tui_bench.engine.runner; "
             "from tui_bench.backends import BackendPool; "
             "from tui_bench.settings import Settings; "
             "BackendPool(Settings(openai_base_url='http://127.0.0.1:9/v1')).get('openai'); "
             "from tui_bench.engine.environment import host_facts; facts = host_facts(); "
             "print(sorted(m for m in ('httpx', 'llama_cpp', 'numpy', 'ollama') "
             "if m in sys.modules), bool(facts.get('llama_cpp_python')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parent.parent)
    assert done.stdout.split() == ["[]", "True"], done.stdout + done.stderr


async def test_ollama_generation_goes_through_the_light_client(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Once the host's models are listed, a cell's request must not touch httpx: the official
    # client cost a cell ~1.3 ms of CPU more than the rest of its harness work.
    import httpx

    from tests.servers.capacity_server import MODEL, CapacityServers, ServerSpec
    from tui_bench.backends.ollama import OllamaBackend
    from tui_bench.settings import Settings

    # Behind a reverse proxy under /ollama, as the official client allows: the prefix stays.
    with CapacityServers([ServerSpec(slots=2, prefix="/ollama")]) as servers:
        host = servers.urls[0] + "/ollama"
        backend = OllamaBackend(Settings(ollama_hosts=[host]))
        messages = [{"role": "user", "content": "Write add(a, b)."}]
        options = GenerationOptions(max_tokens=16)
        await collect(backend.chat(MODEL, messages, options))  # lists the host's models

        async def refuse(*_: object, **__: object) -> None:
            raise AssertionError("httpx used for a generation")

        monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
        for _ in range(3):
            text, done = await collect(backend.chat(MODEL, messages, options))
            assert "def add" in text
            assert done.completion_tokens and done.host == host
        await backend.aclose()
