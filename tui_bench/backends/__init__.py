"""Backends: where generations come from. ``BackendPool`` hands out one instance per backend."""

from __future__ import annotations

from tui_bench.backends.base import (
    Backend,
    BackendError,
    Chunk,
    Done,
    TextChunk,
    Tool,
    ToolCallChunk,
    collect,
)
from tui_bench.backends.hostpool import HostPool, HostStatus, Lease, current_lease
from tui_bench.domain import ModelRef
from tui_bench.settings import Settings

__all__ = ["Backend", "BackendError", "BackendPool", "Chunk", "Done", "HostPool", "HostStatus",
           "Lease", "TextChunk", "Tool", "ToolCallChunk", "collect", "current_lease"]


class BackendPool:
    """Creates each backend on first use and closes them all at the end.

    One pool per event loop: the HTTP connections of the Ollama and OpenAI-compatible backends
    are bound to the loop they were first used on. Every host of every backend it made has its
    slots and health in ``hosts``.
    """

    def __init__(self, settings: Settings | None = None,
                 overrides: dict[str, Backend] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._backends: dict[str, Backend] = dict(overrides or {})
        self.hosts = HostPool()

    def capacity(self, backend: str) -> int | None:
        """Requests the backend's hosts take at once now; ``None`` for a backend that does
        not spread over hosts (it has a ``default_concurrency``)."""
        made = self._backends.get(backend)
        keys = getattr(made, "host_keys", None)
        if made is None or keys is None:
            return None
        return self.hosts.capacity(keys())

    def get(self, backend: str) -> Backend:
        if backend not in self._backends:
            self._backends[backend] = self._create(backend)
        return self._backends[backend]

    def for_model(self, model: str | ModelRef) -> tuple[Backend, str]:
        ref = model if isinstance(model, ModelRef) else ModelRef.parse(model)
        return self.get(ref.backend), ref.name

    def _create(self, backend: str) -> Backend:
        if backend == "embedded":
            from tui_bench.backends.embedded import EmbeddedBackend

            return EmbeddedBackend(n_threads=self.settings.embedded_threads, hosts=self.hosts)
        if backend == "ollama":
            from tui_bench.backends.ollama import OllamaBackend

            return OllamaBackend(self.settings, hosts=self.hosts)
        if backend == "openai":
            from tui_bench.backends.replicas import openai_backend

            return openai_backend(self.settings, self.hosts)
        raise BackendError(f"unknown backend {backend!r}")

    def configured(self) -> list[str]:
        """Backends worth asking for models: embedded always, the others when configured."""
        names = ["embedded", "ollama"]
        if self.settings.openai_base_url or self.settings.openai_base_urls \
                or "openai" in self._backends:
            names.append("openai")
        return names

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
