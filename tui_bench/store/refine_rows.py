"""Writing a refine run's effort row, inside the run's own transaction (see ``save_run``), so
a finished refine cell is stored whole or not at all; a cell run again replaces it (cascade)."""

from __future__ import annotations

import sqlite3

from tui_bench.domain import RunRecord


def write_refine_run(conn: sqlite3.Connection, record: RunRecord) -> None:
    """Insert the run's refine telemetry, when it has any (inside the caller's transaction)."""
    refine = record.refine
    if refine is None:
        return
    conn.execute(
        "INSERT INTO refine_runs (run_id, threshold, max_new_answers, new_answer_count, "
        "effort_ratio, collapsed, first_score, final_score, malformed, end_reason, effort) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.run_id, refine.threshold, refine.max_new_answers, refine.new_answer_count,
         refine.effort_ratio, refine.collapsed, refine.first_score, refine.final_score,
         refine.malformed, refine.end_reason, refine.effort))
