"""Ways of running a cell, behind one interface (:class:`CellMode`).

The scenario's kind decides first (an agent scenario always runs in agent mode), then the
batch's mode. The runner asks :func:`mode_for` and never branches on the answer.
"""

from __future__ import annotations

from tui_bench.domain import BatchSpec, Scenario
from tui_bench.engine.modes.base import (
    CellMode,
    CellSession,
    Generation,
    sum_telemetry,
    telemetry_of,
)
from tui_bench.engine.modes.prompt import PromptMode

__all__ = ["CellMode", "CellSession", "Generation", "PromptMode", "mode_for", "sum_telemetry",
           "telemetry_of"]


def mode_for(scenario: Scenario, spec: BatchSpec) -> CellMode:
    """The mode a cell of this scenario runs in, in this batch."""
    if scenario.kind == "agent":
        from tui_bench.engine.modes.agent import AgentMode

        return AgentMode()
    if spec.mode == "refine":
        from tui_bench.engine.modes.refine import RefineMode

        return RefineMode()
    if spec.mode in ("iterative", "comparative"):
        return PromptMode(spec.mode, spec.max_iterations)
    return PromptMode("zero-shot", 1)
