"""Queries for suspect runs: answers that reached for their own scoring, held until cleared."""

from __future__ import annotations

from typing import Any

from tui_bench.domain import utc_now
from tui_bench.store.core import CoreStore, StoreError


class SuspectQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""

    def suspect_runs(self, batch_id: str | None = None, *,
                     include_cleared: bool = False) -> list[dict[str, Any]]:
        """Suspect runs (newest first): id, batch, model, scenario, reason, held verdict."""
        clauses = ["suspect IS NOT NULL"]
        params: list[Any] = []
        if batch_id is not None:
            clauses.append("batch_id = ?")
            params.append(batch_id)
        if not include_cleared:
            clauses.append("suspect_cleared_at IS NULL")
        return self.query(
            "SELECT run_id, batch_id, model, scenario_id, tier, suspect, suspect_success, "
            "suspect_cleared_at, auto_score FROM runs WHERE " + " AND ".join(clauses)
            + " ORDER BY finished_at DESC", params)

    def clear_suspect(self, run_id: str) -> bool | None:
        """A person looked and found the answer honest: give the run back its held verdict.

        Returns that verdict (success or not, None when it had none). Raises StoreError when
        the run does not exist or is not held as suspect.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT suspect, suspect_success, suspect_cleared_at FROM runs WHERE run_id = ?",
                (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r}")
            if row[0] is None or row[2] is not None:
                raise StoreError(f"run {run_id!r} is not held as suspect")
            conn.execute(
                "UPDATE runs SET success = suspect_success, suspect_cleared_at = ? "
                "WHERE run_id = ?", (utc_now(), run_id))
        return None if row[1] is None else bool(row[1])
