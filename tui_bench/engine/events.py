"""Events the engine emits while a batch runs.

Any front end (the TUI, the headless printer, a test) consumes the same stream by passing a
callback to the runner. Events are plain dataclasses so a consumer needs no engine internals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tui_bench.domain import Cell, RunRecord


@dataclass(slots=True)
class BatchStarted:
    batch_id: str
    total: int  # cells in the grid
    skipped: int  # cells already finished by an earlier, interrupted run
    models: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CellStarted:
    cell: Cell
    run_id: str
    attempt: int = 1


@dataclass(slots=True)
class CellRunning:
    """The cell got its backend slot: from here it is generating (prefill first), not queued."""

    run_id: str
    attempt: int = 1


@dataclass(slots=True)
class Token:
    """Generated text for a running cell. Consumers should coalesce, not repaint per token."""

    run_id: str
    text: str
    cached: bool = False  # reused from the response cache: no speed to count


@dataclass(slots=True)
class ToolCalled:
    """An agent cell called a tool and got a result (both cut short for display)."""

    run_id: str
    turn: int
    tool: str
    arguments: str
    result: str
    problem: str | None = None  # "malformed" or "refused" when the call was not run


@dataclass(slots=True)
class CellRetrying:
    cell: Cell
    run_id: str
    retry: int
    reason: str
    delay_s: float


@dataclass(slots=True)
class CellFinished:
    record: RunRecord
    stored: bool = True  # False: left unrun by the batch's cancel; no row, resume runs it


@dataclass(slots=True)
class BatchFinished:
    batch_id: str
    done: int
    failed: int
    cancelled: int
    elapsed_s: float
    status: str  # "finished", "cancelled" or "failed"


Event = (BatchStarted | CellStarted | CellRunning | Token | ToolCalled | CellRetrying
         | CellFinished
         | BatchFinished)
EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """A sink for callers that only want the stored results."""
