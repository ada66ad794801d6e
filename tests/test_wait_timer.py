"""The runner's one timer per stream (``WaitTimer``): each wait for a piece has its own limit,
a wait past it ends as the timeout the runner reports, and a cancel from outside stays a
cancel. Driven through ``Runner._stream_on`` with tiny scripted streams, so what is proven is
what the runner does; limits are tenths of a second and every bound leaves room for a busy
machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tui_bench.backends.base import BackendError, Done, TextChunk
from tui_bench.catalog import Catalog
from tui_bench.domain import GenerationOptions
from tui_bench.engine.limits import WaitTimer
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

OPTIONS = GenerationOptions(max_tokens=100)


class Scripted:
    """A backend whose stream is the async generator function given (no host slots)."""

    name = "scripted"

    def __init__(self, script: Callable[[], AsyncIterator[Any]]) -> None:
        self.script = script

    def chat(self, model: str, messages: list[Any], options: GenerationOptions,
             **extra: Any) -> AsyncIterator[Any]:
        return self.script()


def runner(store: Store, **settings: Any) -> Runner:
    return Runner(store, Catalog(), settings=Settings(max_retries=0, **settings))


async def stream_on(run: Runner, script: Callable[[], AsyncIterator[Any]]) -> Any:
    return await run._stream_on("run_1", Scripted(script), "m", [], OPTIONS)


def no_cancel_left() -> bool:
    """The task carries no cancel request: a later ``asyncio.timeout`` or task group in it
    behaves as if no timer had ever run."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


async def test_a_stalled_stream_times_out_at_its_limit(store: Store) -> None:
    first: list[float] = []

    async def stall() -> AsyncIterator[Any]:
        yield TextChunk("def")
        first.append(time.monotonic())
        await asyncio.Event().wait()  # never set: the server went quiet
        yield Done()

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"stream stalled for 0\.1s") as caught:
        await stream_on(runner(store, stall_timeout_s=0.1, request_timeout_s=5), stall)
    waited = time.monotonic() - first[0]
    assert caught.value.transient and caught.value.host == "scripted"
    assert 0.09 <= waited < 3.0, waited
    assert time.monotonic() - started < 4.0
    assert no_cancel_left()
    await asyncio.sleep(0.01)  # a leftover cancel would land here


async def test_no_first_piece_is_no_response(store: Store) -> None:
    async def silent() -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield Done()

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"no response for 0\.1s"):
        await stream_on(runner(store, request_timeout_s=0.1, stall_timeout_s=5), silent)
    assert 0.09 <= time.monotonic() - started < 3.0
    assert no_cancel_left()


async def test_the_limit_is_per_wait_not_per_stream(store: Store) -> None:
    """Twelve pieces 0.05 s apart take 0.6 s, twice the 0.3 s limit: none of the waits is
    long, so the stream runs to its end."""

    async def steady() -> AsyncIterator[Any]:
        for i in range(12):
            await asyncio.sleep(0.05)
            yield TextChunk(f"{i},")
        yield Done(completion_tokens=12)

    started = time.monotonic()
    generation = await stream_on(runner(store, request_timeout_s=0.3, stall_timeout_s=0.3),
                                 steady)
    assert time.monotonic() - started > 0.3  # longer than one limit in all
    assert generation.text == "".join(f"{i}," for i in range(12))
    assert no_cancel_left()


async def test_a_shorter_limit_after_a_longer_one_is_honoured(store: Store) -> None:
    """The first wait may last 10 s, the next only 0.05 s: the timer armed for 10 s must not
    be the one that decides the second wait."""
    first: list[float] = []

    async def then_stall() -> AsyncIterator[Any]:
        await asyncio.sleep(0.01)
        yield TextChunk("x")
        first.append(time.monotonic())
        await asyncio.Event().wait()
        yield Done()

    with pytest.raises(BackendError, match=r"stream stalled for 0\.05s"):
        await stream_on(runner(store, request_timeout_s=10, stall_timeout_s=0.05), then_stall)
    assert 0.04 <= time.monotonic() - first[0] < 2.0


async def test_a_longer_limit_after_a_shorter_one_waits_its_whole_limit(store: Store) -> None:
    """The timer set for the first, short wait fires during the second, longer one: it must
    move on to the new deadline, not end the stream."""

    async def spaced() -> AsyncIterator[Any]:
        yield TextChunk("a")  # at once: well inside the 0.05 s first wait
        for piece in "bc":
            await asyncio.sleep(0.15)
            yield TextChunk(piece)
        yield Done()

    generation = await stream_on(runner(store, request_timeout_s=0.05, stall_timeout_s=1.0),
                                 spaced)
    assert generation.text == "abc"


async def test_an_outside_cancel_during_a_wait_stays_a_cancel(store: Store) -> None:
    entered = asyncio.Event()

    async def waiting() -> AsyncIterator[Any]:
        yield TextChunk("a")
        entered.set()
        await asyncio.Event().wait()
        yield Done()

    run = runner(store, request_timeout_s=10, stall_timeout_s=10)
    task = asyncio.create_task(stream_on(run, waiting))
    await asyncio.wait_for(entered.wait(), 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2.0


async def test_a_cancel_at_the_moment_the_limit_passes_stays_a_cancel() -> None:
    """Both the timer and someone outside cancel the task in the same turn of the loop: the
    outside cancel wins (the runner must stop, not record a timeout and retry)."""

    async def body() -> str:
        timer = WaitTimer()
        task = asyncio.current_task()
        assert task is not None
        timer.arm(0.01)
        asyncio.get_running_loop().call_later(0.01, task.cancel)  # the outside cancel
        time.sleep(0.05)  # noqa: ASYNC251 - both are due before the loop looks again
        try:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if timer.expired():
                    return "timeout"
                raise
            finally:
                timer.disarm()
        finally:
            timer.close()
        return "woke"

    task = asyncio.create_task(body())
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_between_waits_and_after_close_the_timer_cancels_nothing() -> None:
    timer = WaitTimer()
    timer.arm(0.05)
    timer.disarm()  # the piece came; the runner now works on it for longer than the limit
    await asyncio.sleep(0.15)
    timer.arm(0.05)
    timer.close()
    await asyncio.sleep(0.15)
    assert no_cancel_left()


async def test_a_stream_that_swallows_the_timers_cancel_leaves_no_cancel_behind(
        store: Store) -> None:
    """A stream that catches the cancel and answers anyway: its piece is taken, and the task
    is left without a pending cancel request (a later timeout or task group in the same task
    would otherwise misread it)."""

    async def stubborn() -> AsyncIterator[Any]:
        yield TextChunk("a")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        yield TextChunk("b")
        yield Done()

    generation = await stream_on(runner(store, request_timeout_s=5, stall_timeout_s=0.05),
                                 stubborn)
    assert generation.text == "ab"
    assert no_cancel_left()
    async with asyncio.timeout(5):  # a timeout in the same task still works as one
        await asyncio.sleep(0)
