"""The response cache: reuse a stored generation instead of calling the model again (opt-in).

A generation is identified by its key: the model reference and, where the backend can say,
the model's digest (Ollama's digest; for a GGUF file its size and a hash of its ends), the
exact messages, the generation options (seed included) and the iteration index. Only an exact
match is reused, so a cache never crosses models, prompts or settings. A cached run copies
the output and token counts but no timings: it never counts in speed figures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from tui_bench.domain import GenerationOptions, ModelRef, Telemetry

log = logging.getLogger(__name__)

CACHE_HOST = "cache"
DIGEST_TIMEOUT_S = 10.0
_EDGE = 1 << 20  # hash the first and last MiB of a GGUF file: cheap, and changes with it


def file_digest(path: Path) -> str:
    """Size plus a hash of the file's first and last MiB: tells two model files apart."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_EDGE))
        if size > _EDGE:
            handle.seek(max(_EDGE, size - _EDGE))
            digest.update(handle.read(_EDGE))
    return f"file:{digest.hexdigest()[:24]}"


async def model_digest(backend: Any, ref: ModelRef) -> str | None:
    """What identifies the model's weights, where the backend can say; else None."""
    try:
        resolve = getattr(backend, "resolve_path", None)
        if callable(resolve):
            return await asyncio.to_thread(file_digest, resolve(ref.name))
        listing = getattr(backend, "list_models", None)
        if callable(listing) and ref.backend == "ollama":
            models = await asyncio.wait_for(listing(), timeout=DIGEST_TIMEOUT_S)
            for info in models:
                if info.name in (ref.name, f"{ref.name}:latest") and info.digest:
                    return f"ollama:{info.digest}"
    except Exception as exc:  # noqa: BLE001 - no digest only means the reference alone keys it
        log.info("no digest for %s: %s", ref, exc)
    return None


def cache_key(model: str, digest: str | None, messages: list[dict[str, str]],
              options: GenerationOptions, iteration: int) -> str:
    """The key of one generation; equal only when everything that shapes the answer is."""
    payload = {"model": model, "digest": digest, "messages": messages,
               "options": options.model_dump(mode="json"), "iteration": iteration}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def cached_telemetry(hit: dict[str, Any], options: GenerationOptions) -> Telemetry:
    """A cached run's telemetry: token counts from the source run, no timings, no cost."""
    return Telemetry(prompt_tokens=hit.get("prompt_tokens"),
                     completion_tokens=hit.get("completion_tokens"),
                     done_reason=hit.get("done_reason"), host=CACHE_HOST,
                     options=options.model_dump(exclude_none=True))
