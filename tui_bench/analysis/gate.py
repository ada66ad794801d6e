"""The CI gate: does a batch clear the bar, and did it hold its ground against a baseline?

A batch fails the gate when its success rate or its mean score is below ``fail_under``, or
when, on the cells it shares with the baseline batch, its mean score or success rate dropped
by more than ``margin``. The cells that regressed (a pass that became a fail, or a score that
fell by more than the margin) are listed either way, so a red build says what to look at.

Success rate here counts every run of the batch: a cell that errored is a cell that did not
pass, so a broken backend cannot pass the gate by scoring only the runs that finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui_bench.analysis.compare import CellChange, compare_batches
from tui_bench.analysis.summary import mean
from tui_bench.store import Store

DEFAULT_MARGIN = 0.05
# Scores are floats: 0.80 -> 0.75 is a drop of 0.0500000001, which is not "more than 0.05".
EPS = 1e-9


@dataclass
class GateResult:
    """The verdict, each reason in one line, and the cells that regressed."""

    batch_id: str
    passed: bool
    reasons: list[str] = field(default_factory=list)
    regressed_cells: list[CellChange] = field(default_factory=list)
    success_rate: float | None = None
    mean_score: float | None = None
    baseline: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "passed": self.passed, "reasons": self.reasons,
                "success_rate": self.success_rate, "mean_score": self.mean_score,
                "baseline": self.baseline,
                "regressed_cells": [c.to_dict() for c in self.regressed_cells]}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def evaluate_gate(store: Store, batch_id: str, *, fail_under: float | None,
                  baseline: str | None, margin: float = DEFAULT_MARGIN) -> GateResult:
    """Judge ``batch_id`` against an absolute bar and/or a baseline batch."""
    result = GateResult(batch_id=batch_id, passed=True, baseline=baseline)
    if store.get_batch(batch_id) is None:
        result.passed = False
        result.reasons.append(f"batch {batch_id} not found")
        return result
    figures = store.batch_figures([batch_id]).get(batch_id)
    runs = int(figures["runs"]) if figures else 0
    if runs == 0:
        result.passed = False
        result.reasons.append(f"batch {batch_id} has no runs")
        return result
    passed = int(figures["passed"] or 0)
    result.success_rate = passed / runs
    result.mean_score = figures["mean_score"]
    if fail_under is not None:
        if result.success_rate < fail_under - EPS:
            result.passed = False
            result.reasons.append(
                f"success rate {_pct(result.success_rate)} ({passed} of {runs} runs) "
                f"is below {_pct(fail_under)}")
        if result.mean_score is None:
            result.passed = False
            result.reasons.append("no run has a score to hold against the bar")
        elif result.mean_score < fail_under - EPS:
            result.passed = False
            result.reasons.append(
                f"mean score {_num(result.mean_score)} is below {_num(fail_under)}")
    if baseline is not None:
        _against_baseline(store, result, baseline, margin)
    return result


def _against_baseline(store: Store, result: GateResult, baseline: str, margin: float) -> None:
    try:
        comparison = compare_batches(store, baseline, result.batch_id)
    except KeyError:
        result.passed = False
        result.reasons.append(f"baseline batch {baseline} not found")
        return
    if not comparison.cells:
        result.passed = False
        result.reasons.append(f"no cells in common with baseline {baseline}")
        return
    result.regressed_cells = [
        c for c in comparison.cells
        if c.flip == "broke" or (c.score_change is not None and c.score_change < -margin - EPS)
        or (c.passed_before and c.status_after == "cancelled")]  # a pass that did not run
    summary = comparison.summary
    if summary.mean_change is not None and summary.mean_change < -margin - EPS:
        result.passed = False
        result.reasons.append(
            f"mean score fell {_num(-summary.mean_change)} against baseline {baseline} "
            f"({_num(summary.mean_before)} -> {_num(summary.mean_after)} over "
            f"{len(comparison.cells)} shared cells), more than the margin {_num(margin)}")
    before = mean(float(c.passed_before) for c in comparison.cells)
    after = mean(float(c.passed_after) for c in comparison.cells)
    if before is not None and after is not None and after - before < -margin - EPS:
        result.passed = False
        result.reasons.append(
            f"success rate fell from {_pct(before)} to {_pct(after)} against baseline "
            f"{baseline}, more than the margin {_pct(margin)}")
    if result.regressed_cells and not result.passed:
        names = ", ".join(c.label() for c in result.regressed_cells[:10])
        more = len(result.regressed_cells) - 10
        result.reasons.append(f"{len(result.regressed_cells)} cell(s) regressed: {names}"
                              + (f" and {more} more" if more > 0 else ""))
