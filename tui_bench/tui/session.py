"""One batch the app is running: its spec, its live state and the runner driving it.

The session belongs to the app, not to a screen, so leaving the live screen never stops the
batch; the live screen (and the home screen's status line) only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_bench.domain import BatchSpec
from tui_bench.engine.plan import plan
from tui_bench.tui.live_state import LiveState

if TYPE_CHECKING:
    from tui_bench.engine.runner import Runner


@dataclass
class BatchSession:
    """A batch in flight (or just ended) in this app."""

    spec: BatchSpec
    resume: bool = False
    state: LiveState = field(default_factory=LiveState)
    runner: Runner | None = None
    worker: Any = None  # the Textual worker running the batch

    def __post_init__(self) -> None:
        self.state.batch_id = self.spec.batch_id
        self.state.models = list(self.spec.models)
        self.state.total = len(plan(self.spec))

    @property
    def active(self) -> bool:
        return self.state.active

    def cancel(self) -> None:
        """Ask the runner to stop; finished cells stay stored, the batch becomes resumable."""
        if self.runner is not None:
            self.runner.cancel()
        if self.state.status == "starting":
            self.state.status = "cancelled"

    def cancel_cell(self, run_id: str) -> bool:
        return bool(self.runner and self.runner.cancel_cell(run_id))
