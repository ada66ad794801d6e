"""What a way of running a cell is given, and what it gives back.

The runner schedules cells, retries transient faults, commits and emits events; a mode decides
what to ask the model and when a cell is done. A mode receives a :class:`CellSession` (the
cell, its scenario, the opening messages, a ``generate`` that already holds the backend slot,
retries and streams tokens, and a ``score`` that runs the scenario's evaluators) and fills the
session's record and lists. Whatever it appended is kept even when the cell is cancelled.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tui_bench.backends import Done, Tool, ToolCallChunk
from tui_bench.domain import (
    Attempt,
    BatchSpec,
    Cell,
    GenerationOptions,
    Judgment,
    RunRecord,
    Scenario,
    Telemetry,
    utc_now,
)
from tui_bench.engine.cache import cached_telemetry
from tui_bench.engine.events import CellRunning, CellStarted, Event, Token


@dataclass
class Generation:
    """One answer from a backend, with the timings the engine measured itself."""

    text: str
    done: Done
    ttft_ms: float | None
    wall_ms: float
    tool_calls: list[ToolCallChunk] = field(default_factory=list)


def telemetry_of(gen: Generation, options: GenerationOptions) -> Telemetry:
    """One generation's telemetry: the backend's counters, else what the engine measured."""
    done = gen.done
    tokens = done.completion_tokens
    if tokens is not None and done.eval_ms:
        tps: float | None = tokens / (done.eval_ms / 1000)
    elif tokens is not None and gen.ttft_ms is not None and gen.wall_ms > gen.ttft_ms:
        tps = tokens / ((gen.wall_ms - gen.ttft_ms) / 1000)
    else:
        tps = None
    paid_load = done.extra.get("paid_load")
    if paid_load is None and done.load_ms is not None:
        paid_load = done.load_ms > 50
    return Telemetry(
        ttft_ms=gen.ttft_ms, total_ms=gen.wall_ms, load_ms=done.load_ms,
        prompt_tokens=done.prompt_tokens, completion_tokens=tokens, tokens_per_s=tps,
        prompt_eval_ms=done.prompt_eval_ms, eval_ms=done.eval_ms, paid_load=paid_load,
        host=done.host, cost=done.cost, done_reason=done.done_reason,
        options=options.model_dump(exclude_none=True))


def sum_telemetry(parts: list[Telemetry]) -> Telemetry:
    """The run's telemetry across attempts: first token of the first, totals of all."""
    if len(parts) == 1:
        return parts[0]

    def total(name: str) -> Any:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else sum(values)

    first = parts[0]
    tokens, eval_ms = total("completion_tokens"), total("eval_ms")
    tps = tokens / (eval_ms / 1000) if tokens is not None and eval_ms else first.tokens_per_s
    return first.model_copy(update={
        "total_ms": total("total_ms"), "prompt_tokens": total("prompt_tokens"),
        "completion_tokens": tokens, "eval_ms": eval_ms, "tokens_per_s": tps,
        "cost": total("cost"), "done_reason": parts[-1].done_reason,
        "load_ms": total("load_ms"), "paid_load": any(p.paid_load for p in parts)})


# (messages, options, tools, schema): schema asks for JSON matching a JSON Schema.
GenerateFn = Callable[[list[dict[str, Any]], GenerationOptions, "list[Tool] | None",
                       "dict[str, Any] | None"], Awaitable[tuple[Generation, int]]]
ScoreFn = Callable[..., Awaitable[Any]]


@dataclass
class CellSession:
    """One cell in progress: what a mode reads, the calls it may make, what it fills in."""

    cell: Cell
    run_id: str
    scenario: Scenario
    spec: BatchSpec
    options: GenerationOptions
    messages: list[dict[str, Any]]  # system (if any) and the user prompt
    record: RunRecord
    emit: Callable[[Event], None]
    generate_fn: GenerateFn  # the runner's: backend slot, retries, token events
    score_fn: ScoreFn  # scoring.score with the runner's rubric and judge
    slot: Any = None  # the backend's concurrency limit (an asyncio.Semaphore)
    host_slots: bool = False  # the backend's hosts give the slot per request (HostPool): the
    # runner says CellRunning when it has one, since a retry may wait for another host
    settings: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    telemetry: list[Telemetry] = field(default_factory=list)
    judgments: list[Judgment] = field(default_factory=list)
    began: bool = False  # the backend was reached at least once
    started: float = field(default_factory=time.monotonic)
    artifacts: dict[str, str] = field(default_factory=dict)  # stored with the run, by name
    cached: dict[str, Any] | None = None  # --cache: a stored generation to reuse, no model call

    attempt: int = 1  # the attempt announced last

    def announce(self, attempt: int) -> None:
        self.attempt = attempt
        self.emit(CellStarted(self.cell, self.run_id, attempt))

    async def generate(self, messages: list[dict[str, Any]], *,
                       tools: list[Tool] | None = None,
                       options: GenerationOptions | None = None,
                       schema: dict[str, Any] | None = None) -> Generation:
        """One answer from the cell's model; its telemetry and retries are recorded here."""
        options = options or self.options
        if self.cached is not None and tools is None and schema is None:
            return self._reuse(self.cached, options)
        async with self.slot or contextlib.nullcontext():
            if not self.began:
                self.began = True
                self.record.started_at = utc_now()  # when it ran, not when it was queued
            # It holds its backend slot: from here it is running (prefill first), not queued.
            if not self.host_slots:
                self.emit(CellRunning(self.run_id, self.attempt))
            gen, retries = await self.generate_fn(messages, options, tools, schema)
        self.record.retries += retries
        self.telemetry.append(telemetry_of(gen, options))
        return gen

    def _reuse(self, hit: dict[str, Any], options: GenerationOptions) -> Generation:
        """The stored generation as this cell's answer: shown, marked cached, never timed."""
        self.began = True
        self.record.started_at = utc_now()
        self.emit(CellRunning(self.run_id, self.attempt))
        self.record.cached, self.record.cached_from = True, hit["run_id"]
        self.emit(Token(self.run_id, hit["output"], cached=True))
        self.telemetry.append(cached_telemetry(hit, options))
        return Generation(hit["output"], Done(), None, 0.0)

    async def score(self, output: str, *, workspace: Path | None = None, diff: str = "",
                    changed_files: list[str] | None = None) -> Any:
        return await self.score_fn(self.scenario, output, workspace=workspace, diff=diff,
                                   changed_files=list(changed_files or []))


class CellMode(Protocol):
    """A way of running a cell (zero-shot, iterative, comparative, refine, agent)."""

    name: str
    keeps_attempts: bool  # store every attempt even when there was only one

    async def run(self, session: CellSession) -> None:
        """Ask the model, score, and fill ``session.record`` (output, evaluations, score)."""
        ...
