"""Concurrency by host: slots, replicas, routing, failover and adaptive limits.

Every test runs a real batch through the runner against loopback servers that speak the
Ollama or the OpenAI API with a set capacity, and reads what the servers saw: requests in
flight on the server side, requests per host, and what the store holds at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.servers.capacity_server import MODEL, CapacityServers, ServerSpec, busy_share
from tui_bench.backends import BackendPool
from tui_bench.backends.hostpool import AdaptiveLimit, HostPool
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, GenerationOptions, Scenario
from tui_bench.engine.events import CellFinished, Event
from tui_bench.engine.plan import new_batch_id
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store


def catalog() -> Catalog:
    scenario = Scenario(id="add", name="add", suite="tests", category="chat",
                        prompt="Write add(a, b).", expected_elements=["def add"],
                        evaluators=[EvaluatorSpec(name="expected_elements")], max_tokens=16)
    return Catalog(scenarios={"add": scenario}, rubrics={})


def spec(model: str, cells: int, **kw: Any) -> BatchSpec:
    return BatchSpec(batch_id=new_batch_id(), models=[model], scenarios=["add"],
                     iterations=cells, options=GenerationOptions(max_tokens=16), **kw)


async def run(store: Store, settings: Settings, batch: BatchSpec,
              on_event: Any = None) -> Any:
    pool = BackendPool(settings)
    try:
        return await Runner(store, catalog(), pool=pool,
                            on_event=on_event or (lambda event: None)).run(batch)
    finally:
        await pool.aclose()


def stored_cells(store: Store, batch_id: str) -> Counter[tuple[str, int]]:
    return Counter((r.scenario_id, r.iteration) for r in store.runs(batch_id, limit=100_000))


async def test_each_ollama_host_serves_one_at_a_time_and_all_are_used(store: Store) -> None:
    # Eight one-slot hosts: the batch keeps all eight busy, never two on one host.
    with CapacityServers([ServerSpec(slots=1, service_s=0.2) for _ in range(8)]) as servers:
        result = await run(store, Settings(ollama_hosts=servers.urls),
                           spec(f"ollama:{MODEL}", 48))
        per_host = [s.stats.served for s in servers.servers]
        most = [s.stats.max_in_flight for s in servers.servers]
        together, share = busy_share(servers.servers)
    assert result.done == 48 and result.failed == 0
    assert most == [1] * 8, most  # one slot each: the client never queued on a host
    assert min(per_host) >= 4, per_host  # least-loaded routing spread them over all eight
    assert together == 8  # all eight served at once (a global cap of four would stop at 4)
    assert share > 0.6, share  # and stayed busy, measured on the servers' side


async def test_concurrency_flag_is_per_host(store: Store) -> None:
    with CapacityServers([ServerSpec(slots=8, service_s=0.05) for _ in range(2)]) as servers:
        result = await run(store, Settings(ollama_hosts=servers.urls),
                           spec(f"ollama:{MODEL}", 40, concurrency=3))
        most = [s.stats.max_in_flight for s in servers.servers]
    assert result.done == 40
    assert most == [3, 3], most  # -j 3: three on each host, not three in all


async def test_openai_replicas_share_the_cells(store: Store) -> None:
    with CapacityServers([ServerSpec(slots=4, service_s=0.03) for _ in range(3)]) as servers:
        settings = Settings(openai_base_url=servers.urls[0], openai_base_urls=servers.urls,
                            openai_api_key="x")
        result = await run(store, settings, spec(f"openai:{MODEL}", 60))
        served = [s.stats.served for s in servers.servers]
    assert result.done == 60 and result.failed == 0
    assert min(served) >= 10, served
    hosts = {r.telemetry.host for r in store.runs(result.batch_id, limit=1000)}
    assert len(hosts) == 3


async def test_a_server_that_reports_its_slots_gets_that_many_not_a_probe(store: Store) -> None:
    # llama.cpp's server answers GET /props with total_slots: three here. Probing from 32
    # would queue 29 requests in the server; told the number, the client sends three at once.
    with CapacityServers([ServerSpec(slots=3, service_s=0.02, props=True),
                          ServerSpec(slots=3, service_s=0.02)]) as servers:
        told, silent = servers.servers
        pool = BackendPool(Settings(openai_base_url=told.url, openai_api_key="x"))
        try:
            result = await Runner(store, catalog(), pool=pool).run(spec(f"openai:{MODEL}", 24))
            status = pool.hosts.status()[0]
        finally:
            await pool.aclose()
        other = await run(store, Settings(openai_base_url=silent.url, openai_api_key="x"),
                          spec(f"openai:{MODEL}", 24))
    assert result.done == 24 and other.done == 24
    assert told.stats.max_in_flight == 3, told.stats.max_in_flight
    assert (status.slots, status.adaptive) == (3, False)
    assert silent.stats.max_in_flight > 3  # no hint: probed from more than it can serve


async def test_a_host_that_drops_out_loses_and_duplicates_nothing(store: Store) -> None:
    with CapacityServers([ServerSpec(slots=2, service_s=0.04) for _ in range(3)]) as servers:
        events: list[Event] = []
        killed = False

        def kill_after_some(event: Event) -> None:
            nonlocal killed
            events.append(event)
            if isinstance(event, CellFinished) and not killed and \
                    sum(isinstance(e, CellFinished) for e in events) == 10:
                killed = True
                servers.stop(1)  # mid-batch, with requests of its own under way

        settings = Settings(ollama_hosts=servers.urls, retry_base_s=0.01)
        batch = spec(f"ollama:{MODEL}", 60)
        result = await run(store, settings, batch, kill_after_some)
        after = [s.stats.served for s in servers.servers]
    assert killed
    assert result.done == 60 and result.failed == 0, store.runs(batch.batch_id, status="error")
    cells = stored_cells(store, batch.batch_id)
    assert len(cells) == 60 and set(cells.values()) == {1}  # each cell once, none lost
    assert after[0] + after[2] >= 50  # the other two took the dead host's share


async def test_adaptive_finds_more_capacity_then_backs_off_when_it_shrinks(store: Store) -> None:
    # An Ollama host with 6 slots, probed with --adaptive from one slot; past its capacity it
    # answers 503. Mid-batch it shrinks to 2 slots, and the client must come down to about that.
    with CapacityServers([ServerSpec(slots=6, service_s=0.08, over="503")]) as servers:
        server = servers.servers[0]
        shrunk_at: list[float] = []
        peak: list[int] = []

        def shrink(event: Event) -> None:
            if isinstance(event, CellFinished) and not shrunk_at and server.stats.served >= 60:
                def change() -> None:
                    server.spec = ServerSpec(slots=2, service_s=0.08, over="503")
                peak.append(pool.hosts.status()[0].slots)
                servers.call(change)
                shrunk_at.append(time.monotonic())

        settings = Settings(ollama_hosts=servers.urls, adaptive=True, retry_base_s=0.01,
                            max_retries=8)
        pool = BackendPool(settings)
        batch = spec(f"ollama:{MODEL}", 120)
        try:
            result = await Runner(store, catalog(), pool=pool, on_event=shrink).run(batch)
            slots = pool.hosts.status()[0].slots
        finally:
            await pool.aclose()
        before = max(a.in_flight for a in server.stats.arrivals if a.at < shrunk_at[0])
        late = [a.in_flight for a in server.stats.arrivals if a.at > shrunk_at[0] + 0.5]
    assert result.done == 120 and result.failed == 0  # overloads were retried, none lost
    assert len(stored_cells(store, batch.batch_id)) == 120
    assert peak[0] >= 4 and before >= 5, (peak, before)  # grew from one toward six
    assert slots <= 3, slots  # and came back down to about the new capacity
    assert late and sorted(late)[len(late) // 2] <= 3, late  # median in flight, server side


async def test_headless_progress_line_shows_slots_per_host(store: Store) -> None:
    import io

    from rich.console import Console

    from tui_bench.headless import run_batch

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=250)
    with CapacityServers([ServerSpec(slots=2, service_s=0.01) for _ in range(2)]) as servers:
        pool = BackendPool(Settings(ollama_hosts=servers.urls))
        result = await run_batch(spec(f"ollama:{MODEL}", 6, concurrency=2), store=store,
                                 catalog=catalog(), pool=pool, console=console)
        first, second = (url.split("://")[1] for url in servers.urls)
    assert result.done == 6
    assert f"slots {first} 0/2 · {second} 0/2" in out.getvalue()


def test_adaptive_limit_grows_while_latency_holds_and_cuts_on_queueing() -> None:
    limit = AdaptiveLimit(2)
    for _ in range(40):
        limit.record(0.1, busy=limit.limit)
    assert limit.limit >= 16  # slow start: doubled each full, fast window
    high = limit.limit
    for _ in range(high):
        limit.record(0.5, busy=limit.limit)  # a queue formed: latency five times the best
    assert limit.limit < high
    # Far past the best (a queue three service times deep): cut in proportion, not by 30%.
    deep = AdaptiveLimit(40)
    for _ in range(8):
        deep.record(0.1, busy=deep.limit)
    deep.record(1.0, busy=deep.limit)  # noise: one late call moves nothing
    assert deep.limit == 40
    for _ in range(7):
        deep.record(1.0, busy=deep.limit)
    assert deep.limit == 10  # 40 x 0.25 (the floor), where a 30% cut would leave 28
    # Not saturated (fewer calls than slots): no evidence more slots would help.
    idle = AdaptiveLimit(4)
    for _ in range(40):
        idle.record(0.1, busy=1)
    assert idle.limit == 4


async def test_a_failed_host_sits_out_then_comes_back() -> None:
    now = [0.0]
    pool = HostPool(clock=lambda: now[0], cooldown_s=2.0)
    pool.add("a")
    pool.add("b")
    lease = await pool.acquire(["a", "b"])
    first = lease.key
    from tui_bench.backends.base import BackendError

    lease.fail(BackendError("refused", transient=True))
    lease.release()
    for _ in range(3):
        other = await pool.acquire(["a", "b"])
        assert other.key != first  # out of the rotation during its cooldown
        other.release()
    now[0] = 2.5
    seen = set()
    for _ in range(2):
        lease = await pool.acquire(["a", "b"])
        seen.add(lease.key)
        lease.release()
    assert seen == {"a", "b"}
    assert pool.capacity() == 2


@pytest.fixture
def store(tmp_path: Any) -> Any:
    db = Store(tmp_path / "hosts.db")
    yield db
    db.close()
