"""The OpenAI-compatible backend against llama-cpp-python's own server and a scripted one.

llama-cpp-python's server (``python -m llama_cpp.server``, SmolLM2-135M) proves the real path:
listing, streaming, counted usage (it sends none), seeds, structured output through the
``json_object`` fallback, cost. The scripted server proves what a real one does only on a bad
day: 401, 429 with Retry-After, 500, cut streams, lines that are not events.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.servers.llama_server import MODEL_ALIAS, LlamaServer
from tests.servers.loopback import free_port
from tests.servers.openai_server import OpenAITestServer, Script
from tui_bench.backends import BackendError, collect
from tui_bench.backends.base import TextChunk
from tui_bench.backends.openai import (
    OpenAIBackend,
    api_base,
    estimate_prompt_tokens,
    is_local,
    parse_sse_line,
)
from tui_bench.domain import GenerationOptions
from tui_bench.settings import Settings

HI = [{"role": "user", "content": "Say hello in five words."}]
SHORT = GenerationOptions(max_tokens=8, seed=1)


def backend(url: str, **settings: Any) -> OpenAIBackend:
    return OpenAIBackend(Settings(openai_base_url=url, **settings))


# --------------------------------------------------------------------------- pure helpers


def test_helpers() -> None:
    assert api_base("http://h:8000") == "http://h:8000/v1"
    assert api_base("http://h:8000/v1/") == "http://h:8000/v1"
    assert api_base("https://openrouter.ai/api/v1") == "https://openrouter.ai/api/v1"
    assert api_base(None) == "https://api.openai.com/v1"
    assert is_local("http://127.0.0.1:8000/v1") and is_local("http://localhost:1/v1")
    assert not is_local("https://api.openai.com/v1")
    # Such servers say nothing of their capacity: start at 32 slots and probe from there.
    assert OpenAIBackend(Settings(openai_base_url="http://localhost:8000")).default_concurrency \
        == 32
    assert parse_sse_line('data: {"a": 1}') == {"a": 1}
    assert parse_sse_line("data:{\"a\":1}") == {"a": 1}
    assert parse_sse_line("") is None and parse_sse_line(": ping") is None
    assert parse_sse_line("event: message") is None
    assert parse_sse_line("data: [DONE]") is not None
    for bad in ("data: {oops", "data: 42", "garbage", "hello: there"):
        with pytest.raises(ValueError):
            parse_sse_line(bad)
    assert estimate_prompt_tokens([{"role": "user", "content": "x" * 40}]) == 14


# --------------------------------------------------------------------------- llama-cpp-python


async def test_lists_models_with_or_without_v1(llama_server: LlamaServer) -> None:
    for url in (llama_server.base_url, llama_server.base_url.removesuffix("/v1")):
        openai = backend(url)
        try:
            [info] = await openai.list_models()
        finally:
            await openai.aclose()
        assert info.ref == f"openai:{MODEL_ALIAS}" and info.backend == "openai"
        assert info.host == llama_server.base_url and info.reachable


async def test_streams_and_counts_usage(llama_server: LlamaServer) -> None:
    openai = backend(llama_server.base_url, price_in_per_m=2.0, price_out_per_m=8.0)
    chunks = []
    try:
        async for chunk in openai.chat(MODEL_ALIAS, HI, SHORT):
            chunks.append(chunk)
    finally:
        await openai.aclose()
    texts = [c.text for c in chunks if isinstance(c, TextChunk)]
    done = chunks[-1]
    assert len(texts) > 1 and "".join(texts).strip()  # really streamed, piece by piece
    # This server sends no usage: one content chunk per token, prompt estimated.
    assert done.completion_tokens == len(texts) == 8 and done.done_reason == "length"
    assert done.extra["completion_tokens"] == "counted"
    assert done.extra["prompt_tokens"] == "estimated"
    assert done.prompt_tokens == estimate_prompt_tokens(HI)
    assert done.eval_ms and done.eval_ms > 0 and done.host == llama_server.base_url
    assert done.cost == pytest.approx((done.prompt_tokens * 2.0 + 8 * 8.0) / 1e6)
    assert done.extra["cost"] == "estimated tokens"


async def test_seed_and_temperature_are_honoured(llama_server: LlamaServer) -> None:
    openai = backend(llama_server.base_url)
    sampled = GenerationOptions(max_tokens=12, seed=11, temperature=0.9)
    try:
        # llama.cpp's first pass over a prompt may differ from later, prefix-cached ones in
        # the last bits of the logits; warm the cache so the comparison is about the seed.
        await collect(openai.chat(MODEL_ALIAS, HI, sampled))
        first, _ = await collect(openai.chat(MODEL_ALIAS, HI, sampled))
        again, _ = await collect(openai.chat(MODEL_ALIAS, HI, sampled))
        greedy = GenerationOptions(max_tokens=12, seed=None, temperature=0.0)
        cold, _ = await collect(openai.chat(MODEL_ALIAS, HI, greedy))
        hot, _ = await collect(openai.chat(MODEL_ALIAS, HI, greedy))
    finally:
        await openai.aclose()
    assert first == again and first
    assert cold == hot and cold


async def test_structured_output_falls_back_to_json_object(llama_server: LlamaServer) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer"}},
              "required": ["name", "age"]}
    openai = backend(llama_server.base_url)
    ask = [{"role": "user", "content": "Give a person's name and age as JSON."}]
    try:
        text, done = await collect(openai.chat(MODEL_ALIAS, ask,
                                               GenerationOptions(max_tokens=48), schema=schema))
    finally:
        await openai.aclose()
    data = json.loads(text)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)
    # llama-cpp-python refuses ``json_schema`` and accepts ``json_object`` with the schema.
    assert done.extra["response_format"] == "json_object"
    assert openai._schema_mode[MODEL_ALIAS] == "json_object"


# --------------------------------------------------------------------------- scripted server


async def test_options_reach_the_server_and_usage_is_used(
        openai_scripted: OpenAITestServer) -> None:
    openai_scripted.api_key = "sk-test"
    openai_scripted.queue(Script(usage={"prompt_tokens": 21, "completion_tokens": 4,
                                        "total_tokens": 25}))
    options = GenerationOptions(temperature=0.4, seed=5, max_tokens=16, top_p=0.8,
                                stop=["END"])
    openai = backend(openai_scripted.url, openai_api_key="sk-test", price_in_per_m=1.0,
                     price_out_per_m=3.0)
    try:
        text, done = await collect(openai.chat("scripted-model", HI, options))
    finally:
        await openai.aclose()
    [request] = [r for r in openai_scripted.requests if r["body"]]
    body = request["body"]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["seed"], body["max_tokens"], body["top_p"],
            body["stop"]) == (0.4, 5, 16, 0.8, ["END"])
    assert body["model"] == "scripted-model" and body["messages"] == HI
    assert text == "Hello, world."
    assert (done.prompt_tokens, done.completion_tokens) == (21, 4)
    assert done.extra["prompt_tokens"] == done.extra["completion_tokens"] == "reported"
    assert done.cost == pytest.approx((21 * 1.0 + 4 * 3.0) / 1e6)
    assert done.done_reason == "stop"


async def test_json_schema_first_then_fallback(openai_scripted: OpenAITestServer) -> None:
    schema = {"title": "A person!", "type": "object",
              "properties": {"name": {"type": "string"}}}
    openai_scripted.queue(Script(reject_json_schema=True, pieces=['{"name": "Ada"}']))
    openai = backend(openai_scripted.url)
    try:
        text, _ = await collect(openai.chat("m", HI, SHORT, schema=schema))
        await collect(openai.chat("m", HI, SHORT, schema=schema))
    finally:
        await openai.aclose()
    formats = [r["body"]["response_format"] for r in openai_scripted.requests if r["body"]]
    assert formats[0] == {"type": "json_schema", "json_schema": {
        "name": "A_person_", "schema": schema, "strict": True}}
    assert formats[1] == formats[2] == {"type": "json_object", "schema": schema}
    assert json.loads(text) == {"name": "Ada"}


async def test_unstreamed_answer_is_accepted(openai_scripted: OpenAITestServer) -> None:
    openai_scripted.queue(Script(kind="json", usage={"prompt_tokens": 3,
                                                     "completion_tokens": 2}))
    openai = backend(openai_scripted.url)
    try:
        text, done = await collect(openai.chat("m", HI, SHORT))
    finally:
        await openai.aclose()
    assert text == "Hello, world." and done.completion_tokens == 2


async def test_list_models_reads_llama_cpp_meta(openai_scripted: OpenAITestServer) -> None:
    openai = backend(openai_scripted.url + "/v1")
    try:
        [info] = await openai.list_models()
    finally:
        await openai.aclose()
    assert info.context_length == 8192 and info.parameters_b == pytest.approx(0.1345, rel=1e-3)
    assert info.size_bytes == 96576768


FAULTS = [
    # script, transient, retry_after, words
    (Script(kind="status", status=429, retry_after="7"), True, 7.0, "HTTP 429"),
    (Script(kind="status", status=500), True, None, "HTTP 500"),
    (Script(kind="status", status=503, retry_after="1"), True, 1.0, "HTTP 503"),
    (Script(kind="status", status=404, body={"error": {"message": "The model does not exist"}}),
     False, None, "not found"),
    (Script(kind="status", status=400, body={"error": {"message": "max_tokens too large"}}),
     False, None, "max_tokens too large"),
    (Script(kind="drop", after=2), True, None, "cut"),
    (Script(kind="malformed", after=1), False, None, "malformed"),
    (Script(kind="error_event", after=1), True, None, "the model crashed"),
    (Script(kind="no_done"), True, None, "cut short"),
]


@pytest.mark.parametrize(("script", "transient", "retry_after", "words"), FAULTS,
                         ids=[f"{f[0].kind}-{f[0].status}" if f[0].kind == "status"
                              else f[0].kind for f in FAULTS])
async def test_fault_becomes_backend_error(openai_scripted: OpenAITestServer, script: Script,
                                           transient: bool, retry_after: float | None,
                                           words: str) -> None:
    openai_scripted.queue(script)
    openai = backend(openai_scripted.url)
    try:
        with pytest.raises(BackendError) as caught:
            await collect(openai.chat("m", HI, SHORT))
    finally:
        await openai.aclose()
    error = caught.value
    assert error.host == openai.base_url and openai.base_url in str(error)
    assert error.transient is transient and error.retry_after == retry_after
    assert words in str(error)


async def test_wrong_key_is_a_plain_message(openai_scripted: OpenAITestServer) -> None:
    openai_scripted.api_key = "sk-right"
    openai = backend(openai_scripted.url, openai_api_key="sk-wrong")
    try:
        with pytest.raises(BackendError) as chat_error:
            await collect(openai.chat("m", HI, SHORT))
        with pytest.raises(BackendError) as list_error:
            await openai.list_models()
    finally:
        await openai.aclose()
    for error in (chat_error.value, list_error.value):
        assert not error.transient
        assert "HTTP 401" in str(error) and "--openai-api-key" in str(error)
        assert "Incorrect API key provided." in str(error)


async def test_refused_connection() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    openai = backend(url)
    try:
        with pytest.raises(BackendError) as chat_error:
            await collect(openai.chat("m", HI, SHORT))
        with pytest.raises(BackendError) as list_error:
            await openai.list_models()
    finally:
        await openai.aclose()
    for error in (chat_error.value, list_error.value):
        assert error.transient and error.host == url and "cannot connect" in str(error)
