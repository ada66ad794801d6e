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
from tui_bench.domain import ModelRef
from tui_bench.settings import Settings

__all__ = ["Backend", "BackendError", "BackendPool", "Chunk", "Done", "TextChunk", "Tool",
           "ToolCallChunk", "collect"]


class BackendPool:
    """Creates each backend on first use and closes them all at the end.

    One pool per event loop: the HTTP clients inside Ollama's and httpx's backends are bound to
    the loop they were first used on.
    """

    def __init__(self, settings: Settings | None = None,
                 overrides: dict[str, Backend] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._backends: dict[str, Backend] = dict(overrides or {})

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

            return EmbeddedBackend(n_threads=self.settings.embedded_threads)
        if backend == "ollama":
            from tui_bench.backends.ollama import OllamaBackend

            return OllamaBackend(self.settings)
        if backend == "openai":
            from tui_bench.backends.openai import OpenAIBackend

            return OpenAIBackend(self.settings)
        raise BackendError(f"unknown backend {backend!r}")

    def configured(self) -> list[str]:
        """Backends worth asking for models: embedded always, the others when configured."""
        names = ["embedded", "ollama"]
        if self.settings.openai_base_url or "openai" in self._backends:
            names.append("openai")
        return names

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
