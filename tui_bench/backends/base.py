"""What every backend speaks: a streaming chat call that ends with honest counters.

A backend yields ``TextChunk`` pieces as they arrive and exactly one ``Done`` at the end. It
never scores, never stores and never retries; the engine decides what a fault means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tui_bench.domain import GenerationOptions, ModelInfo


@dataclass(slots=True)
class TextChunk:
    """A piece of generated text, as the server sent it."""

    text: str


@dataclass(slots=True)
class Done:
    """End of a stream, with the counters the backend knows. ``None`` means unknown."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    load_ms: float | None = None
    prompt_eval_ms: float | None = None
    eval_ms: float | None = None
    total_ms: float | None = None
    done_reason: str | None = None
    host: str | None = None
    cost: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ToolCallChunk:
    """A tool call the model asked for, whole (streamed pieces are assembled by the backend).

    ``arguments`` is the JSON text exactly as the model produced it, so a malformed call can be
    told apart (and counted) by whoever runs the tool; backends never repair it.
    """

    name: str
    arguments: str
    id: str = ""


Chunk = TextChunk | Done | ToolCallChunk


class BackendError(Exception):
    """A failure talking to a model, with the host named and whether trying again may help."""

    def __init__(self, message: str, *, host: str | None = None, transient: bool = False,
                 retry_after: float | None = None, overloaded: bool = False) -> None:
        super().__init__(message)
        self.host = host
        self.transient = transient
        self.retry_after = retry_after
        self.overloaded = overloaded  # 429/503: the host is full, not broken (fewer slots)

    def __str__(self) -> str:
        text = super().__str__()
        if self.host and self.host not in text:
            return f"{text} (host {self.host})"
        return text


Message = dict[str, Any]
"""A chat message in the OpenAI shape: ``role``, ``content``; an assistant message may carry
``tool_calls`` (``[{id, type: "function", function: {name, arguments}}]``) and a ``tool``
message answers one with ``tool_call_id`` and ``name``. Each backend translates this shape."""
Tool = dict[str, Any]
"""A tool the model may call, in the OpenAI shape: ``{type: "function", function: {name,
description, parameters}}`` (Ollama takes the same)."""


@runtime_checkable
class Backend(Protocol):
    """A source of generations. ``model`` is the name within the backend (no ``backend:``)."""

    name: str

    @property
    def default_concurrency(self) -> int:
        """Requests it takes at once (backends spread over hosts: their hosts' slots now)."""
        ...

    def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
             schema: dict[str, Any] | None = None,
             tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """Stream a chat completion. ``schema`` asks for JSON matching a JSON Schema; ``tools``
        lets the model answer with ``ToolCallChunk``s (yielded before ``Done``)."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """The models this backend offers right now; raises ``BackendError`` if unreachable."""
        ...

    async def aclose(self) -> None:
        """Release connections and loaded weights."""
        ...


COLLECT_MAX_BYTES = 1 << 20
"""The most text :func:`collect` keeps: a judge's or enricher's answer is a page, not a flood."""


async def collect(stream: AsyncIterator[Chunk], *, max_pieces: int | None = None,
                  max_bytes: int = COLLECT_MAX_BYTES) -> tuple[str, Done]:
    """Drain a stream into its full text and final counters (for judges and enrichment).

    A hostile or broken server may ignore ``max_tokens`` or never stop: past ``max_pieces``
    text pieces the answer is complete enough (``done_reason`` "length", as servers say), and
    past ``max_bytes`` it is refused, so memory stays bounded whatever the server sends.
    """
    parts: list[str] = []
    size = pieces = 0
    done = Done()
    stream_iter = stream.__aiter__()
    try:
        async for chunk in stream_iter:
            if isinstance(chunk, TextChunk):
                parts.append(chunk.text)
                pieces += 1
                size += len(chunk.text.encode("utf-8", "replace"))
                if size > max_bytes:
                    raise BackendError(f"answer over {max_bytes} bytes: stopped reading",
                                       transient=False)
                if max_pieces is not None and pieces >= max_pieces:
                    done = Done(done_reason="length")
                    break
            elif isinstance(chunk, Done):
                done = chunk
    finally:
        closer = getattr(stream_iter, "aclose", None)
        if closer is not None:
            await closer()
    return "".join(parts), done
