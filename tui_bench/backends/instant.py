"""A backend that answers at once with canned text: for overhead benchmarks and fault tests.

It measures the harness, never a model: ``--models instant:...`` is refused by the CLI, and no
test may use it as the only proof that something works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tui_bench.backends.base import BackendError, Chunk, Done, Message, TextChunk
from tui_bench.domain import GenerationOptions, ModelInfo

DEFAULT_ANSWER = "```python\ndef add(a, b):\n    return a + b\n```\n"


class InstantBackend:
    """Streams ``answer`` in ``pieces`` chunks; can fail the first ``fail_times`` calls."""

    name = "instant"
    needs_warmup = False  # nothing to load: a warmup would only use up scripted faults

    def __init__(self, answer: str = DEFAULT_ANSWER, *, pieces: int = 8, delay_s: float = 0.0,
                 fail_times: int = 0, transient: bool = True, concurrency: int = 8) -> None:
        self.answer = answer
        self.pieces = max(1, pieces)
        self.delay_s = delay_s
        self.fail_times = fail_times
        self.transient = transient
        self.default_concurrency = concurrency
        self.calls = 0
        self.requests: list[dict[str, Any]] = []

    async def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
                   schema: dict[str, Any] | None = None,
                   tools: list[Any] | None = None) -> AsyncIterator[Chunk]:
        self.calls += 1
        self.requests.append({"model": model, "messages": messages, "options": options,
                              "schema": schema})
        if self.calls <= self.fail_times:
            raise BackendError("connection reset by peer", host="instant.test",
                               transient=self.transient)
        step = max(1, len(self.answer) // self.pieces)
        for start in range(0, len(self.answer), step):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield TextChunk(self.answer[start:start + step])
        yield Done(prompt_tokens=sum(len(m.get("content") or "") for m in messages) // 4,
                   completion_tokens=self.pieces, total_ms=0.0, done_reason="stop",
                   host="instant.test", extra={"paid_load": False})

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(ref="instant:echo", backend="instant", name="echo", host="instant.test")]

    async def aclose(self) -> None:
        return None
