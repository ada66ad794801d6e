"""The CI gate: does a batch clear the bar, and did it hold its ground against a baseline?

A batch fails the gate when its success rate or its mean score is below ``fail_under``, or
when, on the cells it shares with the baseline batch, its mean score or success rate dropped
by more than ``margin``. The cells that regressed (a pass that became a fail, or a score that
fell by more than the margin) are listed either way, so a red build says what to look at.

With ``significance`` (say 0.05), a drop against the baseline fails the gate only when it is
significant on the shared cells: McNemar's exact test on the pass/fail flips, or a paired
bootstrap interval of the score change that lies wholly below zero. A noisy small batch then
passes with a note saying the drop was not significant.

Success rate here counts every run of the batch: a cell that errored is a cell that did not
pass, so a broken backend cannot pass the gate by scoring only the runs that finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui_bench.analysis.compare import CellChange, compare_batches
from tui_bench.analysis.summary import mean
from tui_bench.present import percent, score
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
    significance: float | None = None
    paired: dict[str, Any] | None = None  # the paired statistics against the baseline

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "passed": self.passed, "reasons": self.reasons,
                "success_rate": self.success_rate, "mean_score": self.mean_score,
                "baseline": self.baseline, "significance": self.significance,
                "paired": self.paired,
                "regressed_cells": [c.to_dict() for c in self.regressed_cells]}


def evaluate_gate(store: Store, batch_id: str, *, fail_under: float | None,
                  baseline: str | None, margin: float = DEFAULT_MARGIN,
                  significance: float | None = None) -> GateResult:
    """Judge ``batch_id`` against an absolute bar and/or a baseline batch."""
    result = GateResult(batch_id=batch_id, passed=True, baseline=baseline,
                        significance=significance)
    if store.get_batch(batch_id) is None:
        result.passed = False
        result.reasons.append(f"batch {batch_id} not found")
        return result
    figures = store.batch_figures([batch_id]).get(batch_id)
    runs = int(figures["runs"]) if figures else 0
    if figures is None or runs == 0:
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
                f"success rate {percent(result.success_rate)} ({passed} of {runs} runs) "
                f"is below {percent(fail_under)}")
        if result.mean_score is None:
            result.passed = False
            result.reasons.append("no run has a score to hold against the bar")
        elif result.mean_score < fail_under - EPS:
            result.passed = False
            result.reasons.append(
                f"mean score {score(result.mean_score)} is below {score(fail_under)}")
    if baseline is not None:
        _against_baseline(store, result, baseline, margin, significance)
    return result


def _against_baseline(store: Store, result: GateResult, baseline: str, margin: float,
                      significance: float | None = None) -> None:
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
    paired = comparison.paired(level=1 - significance if significance else 0.95)
    result.paired = paired.to_dict()
    drops: list[str] = []
    if summary.mean_change is not None and summary.mean_change < -margin - EPS:
        drops.append(
            f"mean score fell {score(-summary.mean_change)} against baseline {baseline} "
            f"({score(summary.mean_before)} -> {score(summary.mean_after)} over "
            f"{len(comparison.cells)} shared cells), more than the margin {score(margin)}")
    before = mean(float(c.passed_before) for c in comparison.cells)
    after = mean(float(c.passed_after) for c in comparison.cells)
    if before is not None and after is not None and after - before < -margin - EPS:
        drops.append(
            f"success rate fell from {percent(before)} to {percent(after)} against baseline "
            f"{baseline}, more than the margin {percent(margin)}")
    if drops and significance is not None:
        if paired.significantly_worse(significance):
            drops.append(f"the drop is significant at {significance:g}: {paired.describe()}")
        else:
            result.reasons.extend(drops)
            result.reasons.append(
                f"not significant at {significance:g}, so the gate passes: {paired.describe()}")
            drops = []
    if drops:
        result.passed = False
        result.reasons.extend(drops)
    if result.regressed_cells and not result.passed:
        names = ", ".join(c.label() for c in result.regressed_cells[:10])
        more = len(result.regressed_cells) - 10
        result.reasons.append(f"{len(result.regressed_cells)} cell(s) regressed: {names}"
                              + (f" and {more} more" if more > 0 else ""))
