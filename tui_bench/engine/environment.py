"""What a batch really ran with, and the warmup that keeps a cold load out of every timing.

A figure without its conditions cannot be compared later: the same model is twice as fast on
another machine, a quantisation is a different model, a context size changes memory and speed.
So a batch records the host (CPU, cores, memory, GPU, OS, Python, tui-bench's version), and each
run the facts of its model (backend and server version, digest, quantisation, parameters, the
context size it ran with) and the warmup its model needed before the first measured cell.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tui_bench import __version__
from tui_bench.backends import BackendError, Done, TextChunk
from tui_bench.domain import GenerationOptions, ModelRef

log = logging.getLogger(__name__)

WARMUP_MESSAGES = [{"role": "user", "content": "Hi"}]
_digests: dict[tuple[str, float], str] = {}


def tool_version() -> str:
    return __version__


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gpus() -> list[str]:
    """NVIDIA GPUs with their memory, when ``nvidia-smi`` is there; an empty list otherwise."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def host_facts() -> dict[str, Any]:
    """The machine tui-bench (and the embedded model) runs on."""
    facts: dict[str, Any] = {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory_bytes": _memory_bytes(),
        "gpus": _gpus(), "os": platform.platform(), "python": platform.python_version(),
    }
    try:  # the installed version, without importing it (~90 ms a batch that uses no model)
        facts["llama_cpp_python"] = metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:  # pragma: no cover - an install problem
        pass
    return facts


def _file_digest(path: Path) -> str | None:
    """``sha256:...`` of a GGUF file, once per file and modification time."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if key not in _digests:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        _digests[key] = f"sha256:{sha.hexdigest()}"
    return _digests[key]


async def _ollama_version(backend: Any) -> str | None:
    """The first host's ``ollama`` version, as the backend reads it (None when it cannot)."""
    version = getattr(backend, "server_version", None)
    return await version() if callable(version) else None


async def model_facts(ref: ModelRef, backend: Any, name: str,
                      options: GenerationOptions) -> dict[str, Any]:
    """What the backend says about the model, plus the context size the cells run with.

    Never fails: a fact the backend does not say is left out (unknown, not made up).
    """
    facts: dict[str, Any] = {"backend": ref.backend, "context_size": options.num_ctx}
    if options.threads:
        facts["threads"] = options.threads
    try:
        infos = await backend.list_models()
    except (BackendError, OSError) as exc:
        log.info("no model facts for %s: %s", ref, exc)
        infos = []
    except Exception:  # a backend's discovery bug must not cost the batch
        log.exception("model discovery failed for %s", ref)
        infos = []
    info = next((i for i in infos if i.name == name or i.ref == str(ref)), None)
    if info is not None:
        for key in ("digest", "quantization", "parameter_size", "parameters_b", "family",
                    "size_bytes"):
            value = getattr(info, key)
            if value is not None:
                facts[key] = value
        if info.context_length is not None:
            facts["model_context_length"] = info.context_length
    resolve = getattr(backend, "resolve_path", None)
    if ref.backend == "embedded" and resolve is not None:
        facts["server_version"] = f"llama-cpp-python {host_facts().get('llama_cpp_python')}"
        try:
            path = resolve(name)
            facts.setdefault("digest", await asyncio.to_thread(_file_digest, path))
            facts.setdefault("size_bytes", path.stat().st_size)
            facts["file"] = path.name
        except (BackendError, OSError):
            pass
    elif ref.backend == "ollama":
        version = await _ollama_version(backend)
        if version:
            facts["server_version"] = version
    return facts


def load_key(model: str, options: GenerationOptions) -> str:
    """What a warmup covers: a model with the settings that make a backend (re)load it."""
    extra = f" threads={options.threads}" if options.threads else ""
    return f"{model} ctx={options.num_ctx}{extra}"


WARMUP_TIMEOUT_S = 600.0
"""Long enough for a cold load of a big model; a warmup that takes longer is given up."""


def _needs_warmup(backend: Any, name: str, options: GenerationOptions) -> bool:
    """A backend says so with ``needs_warmup``: a flag, or a method of the model and options
    (the embedded model already loaded in this process has nothing to warm, and a warmup
    call would evict the prompt its next cell shares with the last one)."""
    needs = getattr(backend, "needs_warmup", True)
    return bool(needs(name, options)) if callable(needs) else bool(needs)


class Warmer:
    """One untimed call per model and load settings (and per Ollama host) before its first
    measured cell, so a cold load never lands in one cell's timings; the load time is kept."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.warmups: dict[str, float] = {}       # load key -> warmup wall ms
        self.errors: dict[str, str] = {}
        self._facts: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def prepare(self, ref: ModelRef, backend: Any, name: str,
                      options: GenerationOptions) -> dict[str, Any]:
        """Warm the model (once per load key) and return the facts each of its runs records."""
        key = load_key(str(ref), options)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._facts:
                try:
                    facts = await model_facts(ref, backend, name, options)
                except Exception:  # facts are a nicety: they must never cost a cell
                    log.exception("model facts failed for %s", ref)
                    facts = {"backend": ref.backend, "context_size": options.num_ctx}
                if self.enabled and _needs_warmup(backend, name, options):
                    await self._warm(key, backend, name, options)
                self._facts[key] = facts
        facts = dict(self._facts[key])
        if key in self.warmups:
            facts["warmup_ms"] = round(self.warmups[key], 1)
        return facts

    async def _warm(self, key: str, backend: Any, name: str,
                    options: GenerationOptions) -> None:
        # One call per host, at once: an Ollama pool sends each to its least busy host.
        copies = max(1, len(getattr(backend, "hosts", None) or [None]))
        warm_options = options.model_copy(update={"max_tokens": 1, "stop": []})
        started = time.perf_counter()

        async def one() -> None:
            # The first piece of text means the model is loaded and the prompt read: stop
            # there, so a server that ignores max_tokens (or never stops) cannot hold the batch.
            stream = backend.chat(name, WARMUP_MESSAGES, warm_options)
            try:
                async for chunk in stream:
                    if isinstance(chunk, (Done, TextChunk)):
                        break
            finally:
                await stream.aclose()

        async def bounded() -> None:
            await asyncio.wait_for(one(), WARMUP_TIMEOUT_S)

        results = await asyncio.gather(*(bounded() for _ in range(copies)),
                                       return_exceptions=True)
        problems = [r for r in results if isinstance(r, BaseException)]
        if problems:
            # The cell will meet the same fault and record it; the warmup only notes it.
            self.errors[key] = str(problems[0])
            log.info("warmup of %s failed: %s", key, problems[0])
            return
        self.warmups[key] = (time.perf_counter() - started) * 1000
