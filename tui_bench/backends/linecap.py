"""An httpx transport that refuses a line longer than a cap, before it is buffered whole.

Line-oriented streams (Ollama's NDJSON) are read by ``aiter_lines``, which holds a line until
its newline arrives: a server sending megabytes without one would grow the process. Wrapping
the transport bounds that without touching the client that reads the lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tui_bench.backends.base import BackendError


class LineCapTransport(httpx.AsyncBaseTransport):
    """Every response body passes through a counter of bytes since the last newline."""

    def __init__(self, limit: int, host: str,
                 inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.limit = limit
        self.host = host
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedLines(response.stream, self.limit, self.host)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedLines(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int, host: str) -> None:
        self.inner = inner
        self.limit = limit
        self.host = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        run = 0  # bytes since the last newline
        async for chunk in self.inner:
            newline = chunk.rfind(b"\n")
            run = len(chunk) - newline - 1 if newline >= 0 else run + len(chunk)
            if run > self.limit:
                raise BackendError(f"{self.host} sent a line longer than {self.limit} bytes; "
                                   "refused (--max-answer-bytes)", host=self.host)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()
