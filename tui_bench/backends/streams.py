"""What the HTTP backends share: timeouts, the connection pool's size, ``Retry-After``, and
the stream object that says which host serves it.

Kept apart from ``ollama.py`` so the OpenAI-compatible backend starts without importing the
``ollama`` package (nor httpx: it speaks HTTP through ``http1.py``).
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from tui_bench.backends.base import Chunk
from tui_bench.backends.http1 import tls_context

DISCOVERY_TIMEOUT_S = 30.0
"""Longest wait for ``/api/tags`` and ``/api/show``: they answer from disk, without a model."""

CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 300.0
"""A server asking for a longer pause than this is capped, so a bad header cannot park a cell."""

LINE_SLACK = 64 * 1024
"""Room for a line's JSON around the answer text it carries."""


_TLS: dict[str, ssl.SSLContext] = {}


def tls_for(url: str) -> ssl.SSLContext:
    """The TLS context for a server: the CA bundle (loaded once a process: 50-100 ms) for
    ``https://``, an empty one for ``http://`` (never used; no redirect is followed), so a batch
    against local servers does not pay for certificates at start-up."""
    if url.lower().startswith("https://"):
        return tls_context()
    if "http" not in _TLS:
        _TLS["http"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _TLS["http"]


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
