"""Judges and enrichment read whole answers through ``collect``: a server that never stops or
sends megabytes must not keep them reading or grow the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tui_bench.backends.base import BackendError, Done, TextChunk, collect
from tui_bench.domain import GenerationOptions
from tui_bench.scoring.judge import BackendJudge


class EndlessBackend:
    """Speaks the backend protocol's ``chat`` and never ends its stream."""

    def __init__(self, piece: str) -> None:
        self.piece = piece
        self.closed = False
        self.sent = 0

    async def chat(self, model: str, messages: list[dict[str, Any]], options: Any,
                   schema: Any = None, **_: Any) -> AsyncIterator[TextChunk | Done]:
        try:
            while True:
                self.sent += 1
                yield TextChunk(self.piece)
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_an_endless_stream_stops_at_max_tokens_and_is_closed() -> None:
    backend = EndlessBackend("ok ")
    text, done = await asyncio.wait_for(
        collect(backend.chat("m", [], None), max_pieces=64), timeout=30)
    assert text == "ok " * 64
    assert done.done_reason == "length"
    assert backend.closed  # the server's stream is let go, not left half-read


async def test_a_flood_is_refused_past_the_byte_cap() -> None:
    backend = EndlessBackend("x" * 65_536)
    with pytest.raises(BackendError, match="over 1048576 bytes"):
        await asyncio.wait_for(collect(backend.chat("m", [], None)), timeout=30)
    assert backend.sent <= 17 and backend.closed


async def test_the_llm_judge_reads_no_more_than_its_max_tokens() -> None:
    backend = EndlessBackend("{")
    judge = BackendJudge(backend, "m", "fake:m",  # type: ignore[arg-type]
                         GenerationOptions(temperature=0, max_tokens=100))
    text = await asyncio.wait_for(judge.complete([{"role": "user", "content": "grade"}], None),
                                  timeout=30)
    assert text == "{" * 100 and backend.closed
