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
from tui_bench.engine.events import CellStarted, Event


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


GenerateFn = Callable[[list[dict[str, Any]], GenerationOptions, "list[Tool] | None"],
                      Awaitable[tuple[Generation, int]]]
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
    settings: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    telemetry: list[Telemetry] = field(default_factory=list)
    judgments: list[Judgment] = field(default_factory=list)
    began: bool = False  # the backend was reached at least once
    started: float = field(default_factory=time.monotonic)
    telemetry_update: dict[str, Any] = field(default_factory=dict)  # merged into the run's
    artifacts: dict[str, str] = field(default_factory=dict)  # stored with the run, by name

    def announce(self, attempt: int) -> None:
        self.emit(CellStarted(self.cell, self.run_id, attempt))

    async def generate(self, messages: list[dict[str, Any]], *,
                       tools: list[Tool] | None = None,
                       options: GenerationOptions | None = None) -> Generation:
        """One answer from the cell's model; its telemetry and retries are recorded here."""
        options = options or self.options
        async with self.slot or contextlib.nullcontext():
            if not self.began:
                self.began = True
                self.record.started_at = utc_now()  # when it ran, not when it was queued
            gen, retries = await self.generate_fn(messages, options, tools)
        self.record.retries += retries
        self.telemetry.append(telemetry_of(gen, options))
        return gen

    async def score(self, output: str, *, workspace: Path | None = None, diff: str = "",
                    changed_files: list[str] | None = None) -> Any:
        return await self.score_fn(self.scenario, output, workspace=workspace, diff=diff,
                                   changed_files=list(changed_files or []))


class CellMode(Protocol):
    """A way of running a cell (zero-shot, iterative, comparative, agent)."""

    name: str
    keeps_attempts: bool  # store every attempt even when there was only one

    async def run(self, session: CellSession) -> None:
        """Ask the model, score, and fill ``session.record`` (output, evaluations, score)."""
        ...
