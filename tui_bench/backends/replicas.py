"""Replicas of one OpenAI-compatible model behind several base URLs, used as one backend.

Each replica is an ``OpenAIBackend`` with its own HTTP client, connection pool, slots and
health in the shared ``HostPool``; a call goes to the least-loaded healthy replica, and one
that fails sits out a cooldown while the others take its cells, as Ollama hosts do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tui_bench.backends.base import BackendError, Chunk, Message, Tool
from tui_bench.backends.hostpool import HostPool, Lease, lease_for_call
from tui_bench.backends.openai import OpenAIBackend, api_base
from tui_bench.backends.streams import HostStream
from tui_bench.domain import GenerationOptions, ModelInfo
from tui_bench.settings import Settings


def openai_urls(settings: Settings) -> list[str]:
    """Every configured base URL, normalised, each once (OpenAI's own API when none)."""
    urls = [settings.openai_base_url, *settings.openai_base_urls]
    return list(dict.fromkeys(api_base(u) for u in urls if u)) or [api_base(None)]


def openai_backend(settings: Settings, hosts: HostPool) -> Any:
    """One endpoint, or the replicas of one model when several base URLs are given."""
    urls = openai_urls(settings)
    if len(urls) == 1:
        return OpenAIBackend(settings, base_url=urls[0], hosts=hosts)
    return OpenAIReplicas(settings, urls, hosts)


class OpenAIReplicas:
    """Several OpenAI-compatible servers serving the same models."""

    name = "openai"

    def __init__(self, settings: Settings, urls: list[str], hosts: HostPool) -> None:
        self.settings = settings
        self.pool = hosts
        self.replicas = {url: OpenAIBackend(settings, base_url=url, hosts=hosts) for url in urls}
        self.base_url = ", ".join(self.replicas)

    @property
    def default_concurrency(self) -> int:
        return self.pool.capacity(self.replicas)

    def host_keys(self) -> list[str]:
        return list(self.replicas)

    async def reserve(self, model: str) -> Lease:
        unknown = [r for r in self.replicas.values() if not r.capacity_learned()]
        if unknown:  # the first cells only: afterwards no task per cell and replica
            await asyncio.gather(*(r.learn_capacity() for r in unknown))
        return await self.pool.acquire(list(self.replicas))

    def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
             schema: dict[str, Any] | None = None,
             tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """Stream from the replica the runner's lease names, or the least busy one."""
        return HostStream(lambda stream: self._chat(stream, model, messages, options, schema,
                                                    tools))

    async def _chat(self, stream: HostStream, model: str, messages: list[Message],
                    options: GenerationOptions, schema: dict[str, Any] | None,
                    tools: list[Tool] | None) -> AsyncIterator[Chunk]:
        lease, own = await lease_for_call(self.replicas.__contains__,
                                          lambda: self.reserve(model))
        stream.host = lease.key
        inner = self.replicas[lease.key].chat_on(lease, model, messages, options, schema, tools)
        try:
            async for chunk in inner:
                yield chunk
        finally:
            await inner.aclose()  # type: ignore[attr-defined]
            if own:
                lease.release()

    async def list_models(self) -> list[ModelInfo]:
        """The models of the first replica that answers; every replica serves the same."""
        results = await asyncio.gather(*(r.list_models() for r in self.replicas.values()),
                                       return_exceptions=True)
        problems = []
        for result in results:
            if isinstance(result, BaseException):
                problems.append(str(result))
                continue
            return result
        raise BackendError("no OpenAI-compatible replica answered: " + "; ".join(problems),
                           host=self.base_url, transient=True)

    async def aclose(self) -> None:
        for replica in self.replicas.values():
            await replica.aclose()
