"""Two scorings of one batch side by side: which runs changed score or verdict.

The same cells on both sides (one batch), so every run matches itself; a comparison is the
batch comparison's shape (``BatchComparison``), and the CLI prints it the same way.
"""

from __future__ import annotations

from typing import Any

from tui_bench.analysis.compare import MIN_CHANGE, BatchComparison, CellChange
from tui_bench.store import Store
from tui_bench.store.core import CELL_COLUMNS


def _score(row: dict[str, Any]) -> float | None:
    return row["auto_score"] if row["status"] == "ok" and row["scored"] else None


def _passed(row: dict[str, Any]) -> bool:
    return bool(row["status"] == "ok" and row["scored"] and row["success"])


def scoring_label(batch_id: str, number: int) -> str:
    return f"{batch_id} scoring {number}"


def compare_scorings(store: Store, batch_id: str, before: int | None = None,
                     after: int | None = None, *,
                     min_change: float = MIN_CHANGE) -> BatchComparison:
    """Scoring ``before`` (default: the one before the latest) against ``after`` (the latest).

    Raises ``KeyError`` naming the batch, or ``ValueError`` naming a scoring it does not have.
    """
    if store.get_batch(batch_id) is None:
        raise KeyError(batch_id)
    numbers = [row["number"] for row in store.scorings(batch_id)]
    after = numbers[-1] if after is None else after
    before = (numbers[-2] if len(numbers) > 1 else numbers[-1]) if before is None else before
    for number in (before, after):
        if number not in numbers:
            raise ValueError(f"batch {batch_id} has no scoring {number} (it has "
                             f"{', '.join(map(str, numbers))})")
    old = {row["run_id"]: row for row in store.scoring_cells(batch_id, before)}
    new = {row["run_id"]: row for row in store.scoring_cells(batch_id, after)}
    cells = []
    for run_id in sorted(old, key=lambda r: tuple(old[r][c] for c in CELL_COLUMNS)):
        a, b = old[run_id], new[run_id]
        cells.append(CellChange(
            model=a["model"], prompt_version=a["prompt_version"],
            scenario_id=a["scenario_id"], tier=a["tier"], specialist=a["specialist"],
            iteration=a["iteration"], options_key=a["options_key"], status_before=a["status"],
            status_after=b["status"], score_before=_score(a), score_after=_score(b),
            passed_before=_passed(a), passed_after=_passed(b), tps_before=None, tps_after=None,
            run_before=run_id, run_after=run_id))
    return BatchComparison(before=scoring_label(batch_id, before),
                           after=scoring_label(batch_id, after), cells=cells,
                           min_change=min_change)
