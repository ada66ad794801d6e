"""Effort calibration in the store: refine runs' effort, calibrations and the registry of
calibrated effort settings (model, level, threshold), with their reads."""

from __future__ import annotations

import json
from typing import Any

from tui_bench.domain import EffortSetting, RefineTelemetry, utc_now
from tui_bench.store.core import CoreStore

_OUTCOME_SQL = """
    SELECT r.run_id, r.batch_id, r.model, r.scenario_id, r.iteration, r.attempts AS rounds,
           f.threshold, f.max_new_answers, f.new_answer_count, f.effort_ratio, f.collapsed,
           f.first_score, f.final_score, f.malformed, f.end_reason, f.effort
    FROM runs r JOIN refine_runs f ON f.run_id = r.run_id
    WHERE r.status = 'ok'"""


class EffortQueries(CoreStore):
    """Mixed into Store: refine outcomes, calibrations and effort settings."""

    def refine_telemetry(self, run_id: str) -> RefineTelemetry | None:
        rows = self.query("SELECT * FROM refine_runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        row = rows[0]
        return RefineTelemetry(
            threshold=row["threshold"], max_new_answers=row["max_new_answers"],
            new_answer_count=row["new_answer_count"], first_score=row["first_score"],
            final_score=row["final_score"], malformed=bool(row["malformed"]),
            end_reason=row["end_reason"], effort=row["effort"])

    def refine_outcomes(self, batch_ids: list[str] | None = None, *,
                        with_effort: bool = False) -> list[dict[str, Any]]:
        """One row per finished refine run (of these batches; with ``with_effort``, only runs
        that asked for a calibrated level), oldest first."""
        sql, params = _OUTCOME_SQL, []
        if batch_ids is not None:
            if not batch_ids:
                return []
            sql += f" AND r.batch_id IN ({', '.join('?' * len(batch_ids))})"
            params.extend(batch_ids)
        if with_effort:
            sql += " AND f.effort IS NOT NULL"
        rows = self.query(sql + " ORDER BY r.rowid", params)
        for row in rows:
            row["collapsed"] = bool(row["collapsed"])
            row["malformed"] = bool(row["malformed"])
        return rows

    def refine_sums(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Per model, threshold and level: counts and sums of the effort figures, so the
        effort report reads a few rows however many runs there are. Malformed runs are counted
        apart and left out of every sum."""
        where, params = "", []
        if batch_id is not None:
            where, params = " AND r.batch_id = ?", [batch_id]
        valid = "CASE WHEN f.malformed = 0 THEN {} END"
        return self.query(f"""
            SELECT r.model, f.threshold, f.effort, COUNT(*) AS runs,
                   SUM(f.malformed) AS malformed,
                   SUM(1 - f.malformed) AS valid,
                   SUM({valid.format("f.effort_ratio")}) AS ratio_sum,
                   SUM({valid.format("f.effort_ratio * f.effort_ratio")}) AS ratio_squares,
                   SUM({valid.format("f.collapsed")}) AS collapsed,
                   SUM({valid.format("r.attempts")}) AS rounds,
                   SUM({valid.format("f.final_score")}) AS final_sum,
                   COUNT({valid.format("f.final_score")}) AS final_n,
                   SUM({valid.format("f.first_score")}) AS first_sum,
                   COUNT({valid.format("f.first_score")}) AS first_n,
                   SUM({valid.format("f.final_score - f.first_score")}) AS gain_sum,
                   COUNT({valid.format("f.final_score - f.first_score")}) AS gain_n
            FROM runs r JOIN refine_runs f ON f.run_id = r.run_id
            WHERE r.status = 'ok'{where}
            GROUP BY r.model, f.threshold, f.effort
            ORDER BY r.model, f.threshold""", params)

    def refine_ratios(self, model: str, *, threshold: float | None = None,
                      effort: str | None = None, batch_id: str | None = None) -> list[float]:
        """The effort ratios of one group's well-formed runs (for a small group's bootstrap):
        a threshold's runs without a level, or a level's runs."""
        sql = ("SELECT f.effort_ratio FROM runs r JOIN refine_runs f ON f.run_id = r.run_id "
               "WHERE r.status = 'ok' AND f.malformed = 0 AND r.model = ?")
        params: list[Any] = [model]
        if effort is None:
            sql += " AND f.effort IS NULL AND f.threshold = ?"
            params.append(threshold)
        else:
            sql += " AND f.effort = ?"
            params.append(effort)
        if batch_id is not None:
            sql += " AND r.batch_id = ?"
            params.append(batch_id)
        return [float(r["effort_ratio"]) for r in self.query(sql + " ORDER BY r.rowid", params)]

    # ---- calibrations

    def save_calibration(self, calibration_id: str, spec: dict[str, Any],
                         batch_ids: list[str]) -> None:
        """Record a calibration (or refresh its batches when it is resumed)."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO calibrations (calibration_id, created_at, spec, batch_ids)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT(calibration_id) DO UPDATE SET spec = excluded.spec,
                   batch_ids = excluded.batch_ids""",
                (calibration_id, utc_now(), json.dumps(spec), json.dumps(batch_ids)))

    def set_calibration_result(self, calibration_id: str, result: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE calibrations SET result = ? WHERE calibration_id = ?",
                         (json.dumps(result), calibration_id))

    def calibration(self, calibration_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM calibrations WHERE calibration_id = ?",
                          (calibration_id,))
        return _calibration(rows[0]) if rows else None

    def calibrations(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self.query("SELECT * FROM calibrations ORDER BY created_at DESC, rowid DESC "
                          "LIMIT ?", (limit,))
        return [_calibration(r) for r in rows]

    # ---- the registry of effort settings

    def save_effort_settings(self, settings: list[EffortSetting]) -> None:
        """Store calibrated levels as candidates, replacing the model's earlier ones."""
        with self.transaction() as conn:
            conn.executemany(
                """INSERT OR REPLACE INTO effort_settings (model, level, threshold, target_ratio,
                   measured_ratio, one_answer_rate, quality, trials, calibration_id, status,
                   verified_batch, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [(s.model, s.level, s.threshold, s.target_ratio, s.measured_ratio,
                  s.one_answer_rate, s.quality, s.trials, s.calibration_id, s.status,
                  s.verified_batch, s.created_at) for s in settings])

    def effort_settings(self, model: str | None = None) -> list[EffortSetting]:
        sql, params = "SELECT * FROM effort_settings", []
        if model is not None:
            sql += " WHERE model = ?"
            params.append(model)
        order = "CASE level WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
        return [EffortSetting(**row) for row in self.query(
            f"{sql} ORDER BY model, {order}", params)]

    def effort_setting(self, model: str, level: str) -> EffortSetting | None:
        rows = self.query("SELECT * FROM effort_settings WHERE model = ? AND level = ?",
                          (model, level))
        return EffortSetting(**rows[0]) if rows else None

    def verify_effort_setting(self, model: str, level: str, batch_id: str) -> None:
        """A level that held in a later batch (measured near its target) becomes verified."""
        with self.transaction() as conn:
            conn.execute("UPDATE effort_settings SET status = 'verified', verified_batch = ? "
                         "WHERE model = ? AND level = ?", (batch_id, model, level))


def _calibration(row: dict[str, Any]) -> dict[str, Any]:
    row["spec"] = json.loads(row["spec"])
    row["batch_ids"] = json.loads(row["batch_ids"])
    row["result"] = json.loads(row["result"]) if row.get("result") else None
    return row
