"""What the HTTP backends share: timeouts, ``Retry-After``, reading a streamed answer line by
line under a cap (and to its end, so its connection is kept), and the stream object that says
which host serves it."""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from tui_bench.backends.base import BackendError, Chunk

DISCOVERY_TIMEOUT_S = 30.0
"""Longest wait for ``/api/tags`` and ``/api/show``: they answer from disk, without a model."""

CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 300.0
"""A server asking for a longer pause than this is capped, so a bad header cannot park a cell."""

LINE_SLACK = 64 * 1024
"""Room for a line's JSON around the answer text it carries."""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (capped), from either seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class HostStream:
    """The stream ``chat()`` returns: an async iterator that also says which host serves it,
    so a timeout the engine measures can name the host too."""

    def __init__(self, factory: Callable[[HostStream], AsyncIterator[Chunk]]) -> None:
        self.host: str | None = None
        self._gen = factory(self)

    def __aiter__(self) -> HostStream:
        return self

    async def __anext__(self) -> Chunk:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()  # type: ignore[attr-defined]


async def bounded_lines(chunks: AsyncIterator[str], limit: int,
                        host: str) -> AsyncIterator[str]:
    """Lines of a text stream, none held beyond ``limit`` characters: a server that sends
    megabytes without a newline is refused instead of buffered."""
    pending: list[str] = []
    size = 0
    async for chunk in chunks:
        start = 0
        while True:
            end = chunk.find("\n", start)
            if end < 0:
                break
            pending.append(chunk[start:end])
            line = "".join(pending)
            pending, size = [], 0
            yield line
            start = end + 1
        rest = chunk[start:]
        if rest:
            pending.append(rest)
            size += len(rest)
            if size > limit:
                raise BackendError(f"{host} sent a line longer than {limit} characters; "
                                   "refused (--max-answer-bytes)", host=host)
    if pending:
        yield "".join(pending)


async def drain(lines: AsyncIterator[str], limit: int = 64 * 1024) -> None:
    """Read what follows the last event (``[DONE]``, Ollama's ``done`` line: the body's last
    chunk), a little at most, so the connection goes back to the pool instead of being
    closed: a new connection per cell costs more than the rest of the cell's harness work."""
    seen = 0
    try:
        async for line in lines:
            seen += len(line)
            if seen > limit:
                return
    except Exception:  # noqa: BLE001 - the answer is complete; a bad tail only costs the reuse
        return
