"""The state of a running batch, fed by engine events and read by the live screen on a timer.

``LiveState.on_event`` is the runner's event sink. It runs once per token, so it only appends
to buffers and bumps counters: no widget is touched here. A live screen reads the append-only
``order`` and ``finished_order`` from where it last stopped (never draining them, so a second
screen misses nothing) and the rest 10-20 times a second, so the cost of a repaint is paid per
frame, not per token.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from tui_bench.domain import Cell, RunRecord
from tui_bench.engine.events import (
    BatchFinished,
    BatchStarted,
    CellFinished,
    CellRetrying,
    CellRunning,
    CellStarted,
    Event,
    Token,
    ToolCalled,
)

RATE_POINTS = 240  # tokens/s samples kept per model for the chart


@dataclass
class RunningCell:
    """A cell that is generating now, with its streamed text so far."""

    cell: Cell
    run_id: str
    attempt: int = 1
    parts: list[str] = field(default_factory=list)
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    retrying: str | None = None
    tool_calls: int = 0  # agent cells: calls so far (each also appended to the text)
    turn: int = 0
    began: float | None = None  # when it got its backend slot (before that it is queued)
    chunks: int = 0  # text pieces received, cached ones included: what a reader redraws on

    @property
    def text(self) -> str:
        if len(self.parts) > 1:  # join once, keep the joined text
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""


@dataclass
class LiveState:
    """Counters, buffers and samples for one batch; cheap to update, read on a timer."""

    batch_id: str = ""
    total: int = 0
    skipped: int = 0
    models: list[str] = field(default_factory=list)
    status: str = "starting"
    ok: int = 0
    failed: int = 0
    cancelled: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    started_at: float = field(default_factory=time.perf_counter)
    ended_at: float | None = None
    error: str | None = None
    running: dict[str, RunningCell] = field(default_factory=dict)
    records: dict[str, RunRecord] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # run ids in the order their cells started
    finished_order: list[str] = field(default_factory=list)  # run ids as their cells finished
    _model_tokens: dict[str, int] = field(default_factory=dict)
    _last_sample: float = field(default_factory=time.perf_counter)
    rates: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    version: int = 0  # bumped on every event, so a reader can skip a frame with no news

    # ---- the event sink: per token, keep it to a few dictionary operations

    def on_event(self, event: Event) -> None:
        self.version += 1
        if isinstance(event, Token):
            running = self.running.get(event.run_id)
            if running is not None:
                running.parts.append(event.text)
                running.chunks += 1
                if event.cached:  # a stored answer: shown, never counted as speed
                    return
                running.tokens += 1
                if running.first_token is None:
                    running.first_token = time.perf_counter()
                model = running.cell.model
                self._model_tokens[model] = self._model_tokens.get(model, 0) + 1
        elif isinstance(event, ToolCalled):
            running = self.running.get(event.run_id)
            if running is not None:
                running.tool_calls += 1
                running.turn = event.turn
                if running.first_token is None:  # working, not waiting for a slot
                    running.first_token = time.perf_counter()
                mark = f" [{event.problem}]" if event.problem else ""
                running.parts.append(f"\n▸ {event.tool}({event.arguments}){mark}\n"
                                     f"  → {event.result}\n")
                running.chunks += 1  # the transcript grew: readers redraw
        elif isinstance(event, CellStarted):
            existing = self.running.get(event.run_id)
            if existing is None:
                self.running[event.run_id] = RunningCell(event.cell, event.run_id, event.attempt)
                self.order.append(event.run_id)
            else:  # a further attempt in iterative mode: same row, fresh text
                existing.attempt = event.attempt
                existing.parts.clear()
                existing.retrying = None
        elif isinstance(event, CellRunning):
            running = self.running.get(event.run_id)
            if running is not None:
                running.began = time.perf_counter()
        elif isinstance(event, CellRetrying):
            self.retries += 1
            running = self.running.get(event.run_id)
            if running is not None:
                running.retrying = f"retry {event.retry}: {event.reason}"
                running.parts.clear()
        elif isinstance(event, CellFinished):
            self._finish(event.record)
        elif isinstance(event, BatchStarted):
            self.batch_id = event.batch_id
            self.total = event.total
            self.skipped = event.skipped
            self.models = list(event.models)
            self.status = "running"
            self.started_at = time.perf_counter()
        elif isinstance(event, BatchFinished):
            self.status = event.status
            self.ended_at = time.perf_counter()

    def _finish(self, record: RunRecord) -> None:
        if self.running.pop(record.run_id, None) is None and record.run_id not in self.records:
            self.order.append(record.run_id)  # finished without a start event (a failed start)
        if record.run_id not in self.records:
            self.finished_order.append(record.run_id)
        self.records[record.run_id] = record
        if record.status == "ok":
            self.ok += 1
        elif record.status == "cancelled":
            self.cancelled += 1
        else:
            self.failed += 1
        tel = record.telemetry
        self.tokens_in += tel.prompt_tokens or 0
        self.tokens_out += tel.completion_tokens or 0
        if tel.cost is not None:
            self.cost = (self.cost or 0.0) + tel.cost

    # ---- what the screen reads on its timer

    def cell_of(self, run_id: str) -> Cell | RunRecord | None:
        """The cell behind a run id, running or finished."""
        running = self.running.get(run_id)
        return running.cell if running is not None else self.records.get(run_id)

    def sample_rates(self, now: float | None = None) -> None:
        """Turn tokens counted since the last sample into a tokens/s point per model."""
        now = time.perf_counter() if now is None else now
        span = now - self._last_sample
        if span <= 0:
            return
        at = now - self.started_at
        counts, self._model_tokens = self._model_tokens, {}
        for model in dict.fromkeys([*self.models, *counts]):
            points = self.rates.setdefault(model, deque(maxlen=RATE_POINTS))
            points.append((at, counts.get(model, 0) / span))
        self._last_sample = now

    @property
    def finished(self) -> int:
        return self.ok + self.failed + self.cancelled

    @property
    def to_run(self) -> int:
        return max(self.total - self.skipped, 0)

    @property
    def remaining(self) -> int:
        """Cells not started at all (no row yet)."""
        return max(self.to_run - self.finished - len(self.running), 0)

    @property
    def generating(self) -> int:
        """Cells holding a backend slot (prefilling or streaming): what "running" means."""
        return sum(1 for r in self.running.values()
                   if r.began is not None or r.first_token is not None)

    @property
    def waiting(self) -> int:
        """Cells not finished and not running: queued for a slot, or not started yet."""
        return max(self.to_run - self.finished - self.generating, 0)

    @property
    def live_tokens_out(self) -> int:
        return self.tokens_out + sum(r.tokens for r in self.running.values())

    @property
    def elapsed(self) -> float:
        return (self.ended_at or time.perf_counter()) - self.started_at

    @property
    def eta_s(self) -> float | None:
        """Time left at the pace so far; unknown until a cell has finished."""
        if self.status != "running" or not self.finished:
            return None
        left = self.to_run - self.finished
        return self.elapsed / self.finished * left if left > 0 else 0.0

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running")
