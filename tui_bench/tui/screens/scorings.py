"""Scorings from the batch screens: rescore a batch, and two scorings of it side by side.

``BatchDetailScreen`` binds ``r`` (rescore with the scenarios as the catalog has them now) and
``v`` (compare its last two scorings); the comparison reuses the batch comparison's screen,
with the scorings' figures instead of two batches'.
"""

from __future__ import annotations

import asyncio

from textual import work
from textual.worker import get_current_worker

from tui_bench.analysis.scorings import compare_scorings
from tui_bench.catalog import Catalog
from tui_bench.store import Store
from tui_bench.tui.screens.batches import BatchCompareScreen


def rescore_batch(store: Store, catalog: Catalog, batch_id: str) -> str:
    """Rescore a batch (blocking: call from a thread worker) and say what changed."""
    from tui_bench.engine.rescore import Rescorer

    result = asyncio.run(Rescorer(store, catalog).run(batch_id))
    flips = len(compare_scorings(store, batch_id).flips()) if result.scoring > 1 else 0
    return (f"scoring {result.scoring}: {result.scored} run(s) scored, {flips} changed verdict"
            + (f", {len(result.unscorable)} not scorable" if result.unscorable else "")
            + " · v compares the scorings")


class ScoringCompareScreen(BatchCompareScreen):
    """Two scorings of one batch, run by run: which changed score or verdict."""

    SUB_TITLE = "Compare scorings"

    def __init__(self, store: Store, batch_id: str, before: int | None = None,
                 after: int | None = None) -> None:
        super().__init__(store, batch_id, batch_id)
        self.batch_id = batch_id
        self.numbers = (before, after)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _compare(self) -> None:
        try:
            comparison = compare_scorings(self.store, self.batch_id, *self.numbers)
        except (KeyError, ValueError):
            self.post_message(self.Missing(self.batch_id))
            return
        self.numbers = (int(comparison.before.rsplit(" ", 1)[1]),
                        int(comparison.after.rsplit(" ", 1)[1]))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Compared(comparison))

    def action_swap(self) -> None:
        self.numbers = (self.numbers[1], self.numbers[0])
        self._compare()
