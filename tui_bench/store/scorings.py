"""Scorings of a batch: scoring stored outputs again, keeping every earlier scoring.

A batch's first scoring (number 1) is the one done as it ran. ``rescore`` adds scoring 2, 3,
... : each writes its own evaluations (``evaluations.scoring``) and its figures of each run
(``run_scores``), and moves the run's ``auto_score``/``success`` to the new figures, so every
report reads a run's latest scoring straight from ``runs`` (and the rollup triggers see the
change). Before the first figure of a new scoring is written, every run's current figures are
copied into ``run_scores``, so nothing an earlier scoring said is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tui_bench.domain import Evaluation, Judgment, RunRecord, Scenario, utc_now
from tui_bench.store.core import CELL_COLUMNS, CoreStore

UNFINISHED = ("running", "interrupted")


class ScoringQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""

    def scorings(self, batch_id: str) -> list[dict[str, Any]]:
        """Every scoring of a batch, oldest first; scoring 1 (as it ran) is always listed."""
        rows = self.query("SELECT * FROM scorings WHERE batch_id = ? ORDER BY number",
                          (batch_id,))
        for row in rows:
            row["evaluators"] = json.loads(row["evaluators"] or "[]")
        if not rows or rows[0]["number"] != 1:
            batch = self.query("SELECT created_at, finished_at, status, spec FROM batches "
                               "WHERE batch_id = ?", (batch_id,))
            if batch:
                judge = json.loads(batch[0]["spec"] or "{}").get("judge")
                rows.insert(0, {"batch_id": batch_id, "number": 1, "kind": "run",
                                "evaluators": [], "rubric": None, "judge": judge,
                                "status": batch[0]["status"],
                                "created_at": batch[0]["created_at"],
                                "finished_at": batch[0]["finished_at"]})
        return rows

    def latest_scoring(self, batch_id: str) -> int:
        row = self.query("SELECT max(number) AS n FROM scorings WHERE batch_id = ?",
                         (batch_id,))
        return int(row[0]["n"] or 1)

    def begin_scoring(self, batch_id: str, *, evaluators: Sequence[str] = (),
                      rubric: str | None = None, judge: str | None = None) -> int:
        """Open a new scoring of the batch and return its number (2 for the first rescore)."""
        now = utc_now()
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO scorings (batch_id, number, kind, judge, status,
                       created_at, finished_at)
                   SELECT batch_id, 1, 'run', json_extract(spec, '$.judge'), status,
                          created_at, finished_at FROM batches WHERE batch_id = ?""",
                (batch_id,))
            # Keep what every run's current scoring says before any run moves on.
            conn.execute(
                """INSERT OR IGNORE INTO run_scores (run_id, scoring, auto_score, success,
                       scenario_hash, scored_at)
                   SELECT run_id, scoring, auto_score, success, scenario_hash,
                          coalesce(finished_at, started_at)
                   FROM runs WHERE batch_id = ? AND status = 'ok'""", (batch_id,))
            number = int(conn.execute(
                "SELECT coalesce(max(number), 1) + 1 FROM scorings WHERE batch_id = ?",
                (batch_id,)).fetchone()[0])
            conn.execute(
                """INSERT INTO scorings (batch_id, number, kind, evaluators, rubric, judge,
                       status, created_at) VALUES (?, ?, 'rescore', ?, ?, ?, 'running', ?)""",
                (batch_id, number, json.dumps(list(evaluators)), rubric, judge, now))
        return number

    def unfinished_scoring(self, batch_id: str) -> dict[str, Any] | None:
        """The batch's latest scoring if it stopped before scoring every run."""
        rows = [r for r in self.scorings(batch_id) if r["kind"] == "rescore"]
        if rows and rows[-1]["status"] in UNFINISHED:
            return rows[-1]
        return None

    def set_scoring_status(self, batch_id: str, number: int, status: str) -> None:
        finished = utc_now() if status == "finished" else None
        with self.transaction() as conn:
            conn.execute("UPDATE scorings SET status = ?, finished_at = ? "
                         "WHERE batch_id = ? AND number = ?", (status, finished, batch_id, number))

    def scored_run_ids(self, batch_id: str, number: int) -> set[str]:
        """Runs that scoring ``number`` has already scored: a resumed rescore skips them."""
        rows = self.conn.execute(
            """SELECT s.run_id FROM run_scores s JOIN runs r ON r.run_id = s.run_id
               WHERE r.batch_id = ? AND s.scoring = ?""", (batch_id, number)).fetchall()
        return {row[0] for row in rows}

    def save_rescore(self, run_id: str, number: int, *, evaluations: Sequence[Evaluation],
                     auto_score: float | None, success: bool | None, scenario: Scenario,
                     judgments: Sequence[Judgment] = (), suspect: str | None = None,
                     suspect_success: bool | None = None) -> None:
        """Commit one run's new scoring: evaluations, figures, judgments, in one transaction.

        The new scoring's suspect check replaces the old one: a run it finds suspect is held
        (success false) until a person clears it again; one it finds honest is not held.
        """
        scenario_hash = scenario.definition_hash()
        now = utc_now()
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO scenario_versions (scenario_hash, scenario_id, suite,
                       category, rubric, definition, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (scenario_hash, scenario.id, scenario.suite, scenario.category, scenario.rubric,
                 json.dumps(scenario.definition(), separators=(",", ":"), default=str), now))
            conn.execute("DELETE FROM evaluations WHERE run_id = ? AND scoring = ?",
                         (run_id, number))
            conn.executemany(
                "INSERT INTO evaluations (run_id, evaluator, score, weight, detail, scoring) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, e.evaluator, e.score, e.weight,
                  json.dumps(e.detail, separators=(",", ":"), default=str), number)
                 for e in evaluations])
            success_value = None if success is None else int(success)
            conn.execute(
                """INSERT OR REPLACE INTO run_scores (run_id, scoring, auto_score, success,
                       scenario_hash, scored_at) VALUES (?, ?, ?, ?, ?, ?)""",
                (run_id, number, auto_score, success_value, scenario_hash, now))
            conn.execute(
                """UPDATE runs SET auto_score = ?, success = ?, scoring = ?, suspect = ?,
                       suspect_success = ?, suspect_cleared_at = NULL
                   WHERE run_id = ? AND scoring <= ?""",
                (auto_score, success_value, number, suspect,
                 None if suspect_success is None else int(suspect_success), run_id, number))
            for judgment in judgments:
                self._insert_judgment(conn, judgment.model_copy(update={"run_id": run_id}))

    def scoring_cells(self, batch_id: str, number: int) -> list[dict[str, Any]]:
        """A batch's runs, lean, with the score and verdict that scoring ``number`` gave.

        A run that scoring did not score (not finished, or not scorable again) keeps its
        status but has no score there.
        """
        return self.query(
            f"""SELECT r.run_id, r.batch_id, {', '.join('r.' + c for c in CELL_COLUMNS)},
                       r.status, r.tokens_per_s, r.cached,
                       CASE WHEN s.run_id IS NOT NULL THEN s.auto_score
                            WHEN r.scoring = ? THEN r.auto_score END AS auto_score,
                       CASE WHEN s.run_id IS NOT NULL THEN s.success
                            WHEN r.scoring = ? THEN r.success END AS success,
                       (s.run_id IS NOT NULL OR r.scoring = ?) AS scored
                FROM runs r LEFT JOIN run_scores s ON s.run_id = r.run_id AND s.scoring = ?
                WHERE r.batch_id = ?""", (number, number, number, number, batch_id))

    def as_scored(self, runs: Sequence[RunRecord], number: int) -> list[RunRecord]:
        """The runs as scoring ``number`` scored them: its score, verdict and evaluations.

        A run that scoring did not score keeps its output and timings but has no score.
        """
        ids = [run.run_id for run in runs]
        figures: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self.query(
                    f"SELECT run_id, auto_score, success FROM run_scores WHERE scoring = ? "
                    f"AND run_id IN ({', '.join('?' * len(chunk))})", [number, *chunk]):
                figures[row["run_id"]] = row
        evaluations = self.evaluations_for(ids, scoring=number)
        out = []
        for run in runs:
            found = figures.get(run.run_id)
            if found is None and run.scoring != number:
                out.append(run.model_copy(update={"auto_score": None, "success": None,
                                                  "evaluations": [], "scoring": number}))
                continue
            update: dict[str, Any] = {"evaluations": evaluations.get(run.run_id, []),
                                      "scoring": number}
            if found is not None:
                update["auto_score"] = found["auto_score"]
                update["success"] = None if found["success"] is None else bool(found["success"])
            out.append(run.model_copy(update=update))
        return out
