"""The Ollama backend against loopback servers that speak Ollama's API with real generations.

Two servers (``ollama_pair``) run SmolLM2-135M through llama.cpp; faults are queued per test.
These prove discovery, that options really arrive, that counters are converted, that cells are
spread over hosts, and that every fault ends as a ``BackendError`` naming the host.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from tests.servers.fixtures import OLLAMA_MODEL
from tests.servers.loopback import free_port
from tests.servers.ollama_server import OllamaTestServer, smollm2_gguf
from tui_bench.backends import BackendError, BackendPool, collect
from tui_bench.backends.ollama import (
    PAID_LOAD_MS,
    OllamaBackend,
    canonical_name,
    keep_alive_value,
    normalise_host,
    paid_load,
    parse_parameter_size,
    parse_retry_after,
)
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, GenerationOptions, Scenario
from tui_bench.engine.events import CellRetrying, Event
from tui_bench.engine.plan import new_batch_id
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

HI = [{"role": "user", "content": "Say hello in five words."}]
SHORT = GenerationOptions(max_tokens=8, seed=1)


def backend(*servers: OllamaTestServer | str, **settings: Any) -> OllamaBackend:
    hosts = [s if isinstance(s, str) else s.url for s in servers]
    return OllamaBackend(Settings(ollama_hosts=hosts, **settings))


def dead_host() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --------------------------------------------------------------------------- pure helpers


def test_helpers() -> None:
    assert parse_parameter_size("8.0B") == 8.0
    assert parse_parameter_size("134.52M") == pytest.approx(0.13452)
    assert parse_parameter_size("135M") == pytest.approx(0.135)
    assert parse_parameter_size("1.5T") == 1500.0
    assert parse_parameter_size("") is None and parse_parameter_size("big") is None
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31
    assert parse_retry_after("99999") == 300.0  # capped
    assert keep_alive_value("0") == 0 and keep_alive_value("300") == 300
    assert keep_alive_value("5m") == "5m" and keep_alive_value(None) is None
    assert canonical_name("llama3") == "llama3:latest"
    assert canonical_name("qwen2.5:0.5b") == "qwen2.5:0.5b"
    assert canonical_name("hf.co/user/repo") == "hf.co/user/repo:latest"
    assert normalise_host("127.0.0.1") == "http://127.0.0.1:11434"
    assert normalise_host("http://box:8080/") == "http://box:8080"
    # Read as Ollama's own client reads OLLAMA_HOST (its documented examples).
    for given, read in (("", "http://127.0.0.1:11434"), (":56789", "http://127.0.0.1:56789"),
                        ("http://1.2.3.4", "http://1.2.3.4:80"),
                        ("https://example.com", "https://example.com:443"),
                        ("example.com:56789/path/", "http://example.com:56789/path"),
                        ("[0001:002:003:0004::1]:56789",
                         "http://[0001:002:003:0004::1]:56789"),
                        ("https://[::1]/path", "https://[::1]:443/path")):
        assert normalise_host(given) == read, given
    assert paid_load(PAID_LOAD_MS + 1, "stop") is True
    assert paid_load(3.0, "stop") is False
    assert paid_load(None, "stop") is None
    assert paid_load(0.0, "load") is True
    assert OllamaBackend(Settings()).hosts == ["http://127.0.0.1:11434"]


# --------------------------------------------------------------------------- discovery


async def test_discovery_reads_every_field(ollama_pair: tuple[OllamaTestServer, ...]) -> None:
    first, second = ollama_pair
    ollama = backend(first, second)
    try:
        models = await ollama.list_models()
    finally:
        await ollama.aclose()
    assert ollama.default_concurrency == 2
    [info] = models
    served = first.models[OLLAMA_MODEL]
    assert info.ref == f"ollama:{OLLAMA_MODEL}" and info.backend == "ollama"
    assert info.family == "llama"
    assert info.parameter_size == "134.52M"
    assert info.parameters_b == pytest.approx(served.parameter_count / 1e9, rel=1e-3)
    assert info.quantization == "Q4_1"
    assert info.size_bytes == smollm2_gguf().stat().st_size
    assert info.digest == served.digest and len(info.digest) == 64
    assert info.context_length == 8192  # llama.context_length from /api/show
    assert info.host == f"{first.url}, {second.url}"
    assert info.reachable
    paths = [r["path"] for r in first.requests]
    assert "/api/tags" in paths and "/api/show" in paths


async def test_parameters_b_discovers_on_demand(ollama_server: OllamaTestServer) -> None:
    ollama = backend(ollama_server)
    assert await ollama.parameters_b(OLLAMA_MODEL) == pytest.approx(0.13452)
    assert await ollama.parameters_b("not-pulled:1b") is None
    assert await backend(dead_host()).parameters_b(OLLAMA_MODEL) is None  # unknown, no crash
    await ollama.aclose()


async def test_unreachable_hosts(ollama_server: OllamaTestServer) -> None:
    # Nothing answers: one error that names every host.
    dead_a, dead_b = dead_host(), dead_host()
    with pytest.raises(BackendError) as caught:
        await backend(dead_a, dead_b).list_models()
    assert dead_a in str(caught.value) and dead_b in str(caught.value)
    assert caught.value.transient

    # One host goes away: its models are listed as unreachable, the other host's are fine.
    only_b = OllamaTestServer({"only-here:135m": smollm2_gguf()}).start()
    ollama = backend(ollama_server, only_b.url)
    try:
        before = {m.name: m.reachable for m in await ollama.list_models()}
        assert before == {OLLAMA_MODEL: True, "only-here:135m": True}
        gone = only_b.url
        only_b.close()
        after = {m.name: m for m in await ollama.list_models()}
        assert after[OLLAMA_MODEL].reachable
        assert not after["only-here:135m"].reachable and after["only-here:135m"].host == gone
        assert gone in ollama.problems and "cannot connect" in ollama.problems[gone]
    finally:
        await ollama.aclose()


# --------------------------------------------------------------------------- generation


async def test_options_keep_alive_and_format_reach_the_server(
        ollama_server: OllamaTestServer) -> None:
    schema = {"type": "object", "properties": {"word": {"enum": ["hello", "hi", "hey"]}},
              "required": ["word"]}
    options = GenerationOptions(temperature=0.3, seed=7, max_tokens=24, num_ctx=1024, top_p=0.9,
                                stop=["\n\n"])
    ollama = backend(ollama_server, keep_alive="0")
    try:
        text, done = await collect(ollama.chat(OLLAMA_MODEL, HI, options, schema=schema))
    finally:
        await ollama.aclose()
    [body] = ollama_server.chats()
    assert body["options"] == {"temperature": 0.3, "seed": 7, "num_predict": 24,
                               "num_ctx": 1024, "top_p": 0.9, "stop": ["\n\n"]}
    assert body["keep_alive"] == 0  # a number: "0" would be a duration without unit
    assert body["format"] == schema
    assert body["stream"] is True and body["messages"] == HI
    # The server really constrained the output to the schema.
    assert json.loads(text)["word"] in ("hello", "hi", "hey")
    assert done.host == ollama_server.url
    assert ollama_server._loaded == {}  # keep_alive 0 unloaded it after the answer


async def test_counters_come_from_ollama(ollama_server: OllamaTestServer) -> None:
    ollama = backend(ollama_server)
    try:
        await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))  # make sure it is loaded
        text, done = await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
        ollama_server.fail("omit", fields=("prompt_eval_count",))
        _, cached = await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
    finally:
        await ollama.aclose()
    final = ollama_server.finals[1]
    assert text
    assert done.prompt_tokens == final["prompt_eval_count"] > 0
    assert done.completion_tokens == final["eval_count"] == 8
    assert done.done_reason == final["done_reason"] == "length"
    assert done.load_ms == final["load_duration"] / 1e6
    assert done.prompt_eval_ms == final["prompt_eval_duration"] / 1e6
    assert done.eval_ms == final["eval_duration"] / 1e6
    assert done.total_ms == final["total_duration"] / 1e6
    assert done.extra["paid_load"] is False  # the model was already loaded
    first = ollama_server.finals[0]
    assert (first["load_duration"] / 1e6 > PAID_LOAD_MS) == paid_load(
        first["load_duration"] / 1e6, "length")
    # A server that leaves prompt_eval_count out (cached prompt): unknown, not zero.
    assert cached.prompt_tokens is None and cached.completion_tokens == 8


async def test_cells_spread_over_two_hosts(ollama_pair: tuple[OllamaTestServer, ...]) -> None:
    first, second = ollama_pair
    ollama = backend(first, second)
    try:
        # One after another: ties go round-robin.
        hosts = [(await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT)))[1].host
                 for _ in range(2)]
        assert sorted(hosts) == sorted([first.url, second.url])
        # At once: the least busy host takes the next call.
        results = await asyncio.gather(*(collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
                                         for _ in range(2)))
        assert {done.host for _, done in results} == {first.url, second.url}
        assert ollama.in_flight() == {first.url: 0, second.url: 0}
    finally:
        await ollama.aclose()
    assert len(first.chats()) == 2 and len(second.chats()) == 2


# --------------------------------------------------------------------------- faults


FAULTS = [
    # (fault kind, options, transient, words in the message)
    ("status", {"status": 500, "message": "llama runner process has terminated"}, True,
     "HTTP 500"),
    ("status", {"status": 503, "message": "server busy, please try again"}, True, "HTTP 503"),
    ("status", {"status": 400, "message": "invalid options"}, False, "HTTP 400"),
    ("status", {"status": 404, "message": "model not found"}, False, "ollama pull"),
    ("drop", {"after_chunks": 2}, True, "cut"),
    ("truncate", {"after_chunks": 2}, True, "cut short"),
    ("malformed", {"after_chunks": 1}, False, "malformed"),
    ("error_line", {"after_chunks": 1, "message": "out of memory"}, True, "out of memory"),
    ("stall", {"after_chunks": 2}, True, "timed out"),
    ("stall", {"after_chunks": 0}, True, "timed out"),
]


@pytest.mark.parametrize(("kind", "options", "transient", "words"), FAULTS,
                         ids=[f"{f[0]}-{f[1].get('status', f[1].get('after_chunks'))}"
                              for f in FAULTS])
async def test_fault_becomes_backend_error(ollama_server: OllamaTestServer, kind: str,
                                           options: dict[str, Any], transient: bool,
                                           words: str) -> None:
    ollama_server.fail(kind, **options)
    ollama = backend(ollama_server, request_timeout_s=1.0, stall_timeout_s=1.0)
    try:
        with pytest.raises(BackendError) as caught:
            await collect(ollama.chat(OLLAMA_MODEL, HI, GenerationOptions(max_tokens=12)))
    finally:
        await ollama.aclose()
    error = caught.value
    assert error.host == ollama_server.url and ollama_server.url in str(error)
    assert error.transient is transient
    assert words in str(error)
    assert ollama.in_flight()[ollama_server.url] == 0


async def test_rate_limit_keeps_retry_after(ollama_server: OllamaTestServer) -> None:
    ollama_server.fail("status", status=429, message="too many requests", retry_after="2")
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    ollama_server.fail("status", status=503, message="busy", retry_after=later)
    ollama = backend(ollama_server)
    try:
        with pytest.raises(BackendError) as first:
            await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
        with pytest.raises(BackendError) as second:
            await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
    finally:
        await ollama.aclose()
    assert first.value.transient and first.value.retry_after == 2.0
    assert "HTTP 429" in str(first.value)
    assert second.value.transient and 15 <= (second.value.retry_after or 0) <= 21


async def test_refused_and_unknown_model(ollama_server: OllamaTestServer) -> None:
    gone = dead_host()
    ollama = backend(gone)
    try:
        with pytest.raises(BackendError) as refused:
            await collect(ollama.chat(OLLAMA_MODEL, HI, SHORT))
    finally:
        await ollama.aclose()
    assert refused.value.transient and refused.value.host == gone
    assert "cannot connect" in str(refused.value)

    ollama = backend(ollama_server)
    try:
        with pytest.raises(BackendError) as missing:
            await collect(ollama.chat("llama9:70b", HI, SHORT))
    finally:
        await ollama.aclose()
    assert not missing.value.transient
    assert "`ollama pull llama9:70b`" in str(missing.value)
    assert ollama_server.url in str(missing.value)
    assert ollama_server.chats() == []  # known to be absent: no generation was attempted


async def test_list_models_fault_names_host(ollama_server: OllamaTestServer) -> None:
    ollama_server.fail("status", path="/api/tags", status=500, message="disk on fire")
    ollama = backend(ollama_server)
    try:
        with pytest.raises(BackendError) as caught:
            await ollama.list_models()
    finally:
        await ollama.aclose()
    assert caught.value.host == ollama_server.url and "disk on fire" in str(caught.value)


# --------------------------------------------------------------------------- through the engine


def hello_catalog() -> Catalog:
    def scenario(sid: str) -> Scenario:
        return Scenario(id=sid, name=sid, suite="tests", category="chat",
                        prompt="Say hello in five words.", expected_elements=["hello"],
                        evaluators=[EvaluatorSpec(name="expected_elements")], max_tokens=8)

    return Catalog(scenarios={s.id: s for s in (scenario("hello-a"), scenario("hello-b"))},
                   rubrics={})


def ollama_spec(**kw: Any) -> BatchSpec:
    base: dict[str, Any] = dict(batch_id=new_batch_id(), models=[f"ollama:{OLLAMA_MODEL}"],
                                scenarios=["hello-a", "hello-b"],
                                options=GenerationOptions(max_tokens=8),
                                model_warmup=False)  # these tests count the server's chat calls
    base.update(kw)
    return BatchSpec(**base)


async def test_engine_spreads_a_batch_over_two_hosts(
        ollama_pair: tuple[OllamaTestServer, ...], store: Store) -> None:
    first, second = ollama_pair
    settings = Settings(ollama_hosts=[first.url, second.url])
    pool = BackendPool(settings)
    try:
        result = await Runner(store, hello_catalog(), pool=pool).run(ollama_spec(iterations=2))
    finally:
        await pool.aclose()
    assert result.done == 4 and result.failed == 0
    runs = store.runs(result.batch_id)
    assert {r.telemetry.host for r in runs} == {first.url, second.url}
    assert len(first.chats()) + len(second.chats()) == 4
    assert first.chats() and second.chats()
    assert all(r.telemetry.completion_tokens and r.telemetry.tokens_per_s for r in runs)


async def test_engine_retries_within_bounds_then_records_the_host(
        ollama_server: OllamaTestServer, store: Store) -> None:
    # Three failures: the first cell's try and both retries; the second cell then succeeds.
    ollama_server.fail("status", status=500, message="runner crashed", times=3)
    events: list[Event] = []
    settings = Settings(ollama_hosts=[ollama_server.url], max_retries=2, retry_base_s=0.01)
    pool = BackendPool(settings)
    try:
        result = await Runner(store, hello_catalog(), pool=pool, on_event=events.append).run(
            ollama_spec(concurrency=1))
    finally:
        await pool.aclose()
    assert result.status == "finished" and result.done == 1 and result.failed == 1
    failed = store.runs(result.batch_id, status="error")[0]
    assert ollama_server.url in (failed.error or "") and "HTTP 500" in (failed.error or "")
    assert "after 2 retries" in (failed.error or "")
    assert [e.retry for e in events if isinstance(e, CellRetrying)] == [1, 2]
    assert len(ollama_server.chats()) == 4


async def test_engine_honours_retry_after(ollama_server: OllamaTestServer, store: Store) -> None:
    ollama_server.fail("status", status=429, message="slow down", retry_after="1")
    events: list[Event] = []
    pool = BackendPool(Settings(ollama_hosts=[ollama_server.url], retry_base_s=0.01))
    started = time.perf_counter()
    try:
        result = await Runner(store, hello_catalog(), pool=pool, on_event=events.append).run(
            ollama_spec(scenarios=["hello-a"]))
    finally:
        await pool.aclose()
    assert result.done == 1
    [retrying] = [e for e in events if isinstance(e, CellRetrying)]
    assert retrying.delay_s == 1.0 and time.perf_counter() - started >= 1.0
    assert store.runs(result.batch_id)[0].retries == 1


async def test_engine_names_the_host_of_a_stalled_stream(
        ollama_server: OllamaTestServer, store: Store) -> None:
    ollama_server.fail("stall", after_chunks=2)
    settings = Settings(ollama_hosts=[ollama_server.url], max_retries=0, stall_timeout_s=0.5)
    pool = BackendPool(settings)
    try:
        result = await Runner(store, hello_catalog(), pool=pool).run(
            ollama_spec(scenarios=["hello-a"]))
    finally:
        await pool.aclose()
    [run] = store.runs(result.batch_id)
    assert run.status == "error" and "stream stalled" in (run.error or "")
    assert ollama_server.url in (run.error or "")


async def test_engine_refuses_models_above_max_model_b(
        ollama_server: OllamaTestServer, store: Store) -> None:
    pool = BackendPool(Settings(ollama_hosts=[ollama_server.url], max_model_b=0.1))
    try:
        result = await Runner(store, hello_catalog(), pool=pool).run(
            ollama_spec(scenarios=["hello-a"]))
    finally:
        await pool.aclose()
    [run] = store.runs(result.batch_id)
    assert run.status == "error" and "--max-model-b 0.1" in (run.error or "")
    assert ollama_server.chats() == []  # refused before any generation


async def test_the_server_version_is_recorded_in_a_batchs_environment() -> None:
    from tests.servers.capacity_server import MODEL, CapacityServers, ServerSpec
    from tui_bench.domain import ModelRef
    from tui_bench.engine.environment import model_facts

    with CapacityServers([ServerSpec()]) as servers:
        backend = OllamaBackend(Settings(ollama_hosts=["127.0.0.1:1", *servers.urls]))
        try:  # the first host is not there: the next one says
            assert await backend.server_version() == "ollama 0.6.3"
            facts = await model_facts(ModelRef.parse(f"ollama:{MODEL}"), backend, MODEL,
                                      GenerationOptions())
        finally:
            await backend.aclose()
    assert facts["server_version"] == "ollama 0.6.3"
