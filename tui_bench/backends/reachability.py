"""Before a headless batch is stored: can each of its backends be reached at all?

A batch whose backend is down would otherwise be written to the history as a batch of failed
cells, one more each time the command is retried. Asking first (the same model listing the app
uses for discovery) costs one round trip per backend and stores nothing when it fails. Only a
backend that cannot be reached or cannot start refuses the batch; a server that answers but
lists no models, or lacks a listing endpoint, is left to the cells themselves.
"""

from __future__ import annotations

import asyncio

from tui_bench.backends import BackendPool
from tui_bench.backends.base import BackendError
from tui_bench.domain import ModelRef

PROBE_TIMEOUT_S = 10.0


async def unreachable(pool: BackendPool, models: list[str],
                      timeout: float = PROBE_TIMEOUT_S) -> list[str]:
    """One line per backend (or embedded model file) that cannot serve ``models``."""
    problems: list[str] = []
    asked: set[str] = set()
    for model in models:
        ref = ModelRef.parse(model)
        backend, name = pool.for_model(ref)
        if ref.backend == "embedded":
            try:
                backend.resolve_path(name)  # type: ignore[attr-defined]
            except BackendError as exc:
                problems.append(f"{model}: {exc}")
            continue
        if ref.backend in asked:
            continue
        asked.add(ref.backend)
        try:
            await asyncio.wait_for(backend.list_models(), timeout)
        except TimeoutError:
            problems.append(f"{ref.backend}: no answer in {timeout:g}s")
        except BackendError as exc:
            if exc.transient or "API key" in str(exc):
                problems.append(f"{ref.backend}: {exc}")
    return problems
