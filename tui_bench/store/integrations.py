"""Queries for the integrations: the MLflow run mapping and the dashboard's judged pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tui_bench.domain import utc_now
from tui_bench.store.core import CoreStore


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class IntegrationQueries(CoreStore):
    """The ``mlflow_runs`` table (step ``m002_mlflow_runs``) and cross-run dashboard reads."""

    # ---- MLflow mapping

    def mlflow_mapping(self, tracking_uri: str, experiment: str,
                       run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per tui-bench run already logged to this server and experiment: its MLflow row."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(run_ids), 500):
            chunk = list(run_ids[start:start + 500])
            for row in self.query(
                    f"""SELECT * FROM mlflow_runs WHERE tracking_uri = ? AND experiment = ?
                        AND run_id IN ({_marks(chunk)})""", [tracking_uri, experiment, *chunk]):
                out[row["run_id"]] = row
        return out

    def mlflow_runs_of(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every MLflow run (any server, any experiment) that mirrors one of these runs."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), 500):
            chunk = list(run_ids[start:start + 500])
            out += self.query(f"SELECT * FROM mlflow_runs WHERE run_id IN ({_marks(chunk)})",
                              chunk)
        return out

    def save_mlflow_run(self, *, run_id: str, tracking_uri: str, experiment: str,
                        experiment_id: str, mlflow_run_id: str, judge_pending: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO mlflow_runs (run_id, tracking_uri, experiment, experiment_id,
                       mlflow_run_id, judge_pending, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id, tracking_uri, experiment) DO UPDATE SET
                       mlflow_run_id = excluded.mlflow_run_id,
                       experiment_id = excluded.experiment_id,
                       judge_pending = excluded.judge_pending, synced_at = excluded.synced_at""",
                (run_id, tracking_uri, experiment, experiment_id, mlflow_run_id,
                 int(judge_pending), utc_now()))

    def set_mlflow_judged(self, run_id: str, tracking_uri: str, experiment: str) -> None:
        with self.transaction() as conn:
            conn.execute("""UPDATE mlflow_runs SET judge_pending = 0, synced_at = ?
                            WHERE run_id = ? AND tracking_uri = ? AND experiment = ?""",
                         (utc_now(), run_id, tracking_uri, experiment))

    def batch_run_ids(self, batch_ids: Sequence[str] | None = None) -> list[str]:
        """Finished or failed run ids of these batches (every batch when ``None``), in order."""
        if batch_ids is None:
            rows = self.query("SELECT run_id FROM runs ORDER BY started_at, run_id")
        else:
            rows = self.query(f"""SELECT run_id FROM runs WHERE batch_id IN
                                  ({_marks(batch_ids)}) ORDER BY started_at, run_id""",
                              list(batch_ids))
        return [r["run_id"] for r in rows]

    # ---- dashboard

    def judged_pairs(self, *, batch_ids: Sequence[str] | None = None,
                     limit: int = 5000) -> list[dict[str, Any]]:
        """Finished runs with both an automatic score and judgments: the mean judged percent
        per run and judge kind (person or model), beside the automatic score."""
        where, params = "r.status = 'ok' AND r.auto_score IS NOT NULL", []
        if batch_ids is not None:
            where += f" AND r.batch_id IN ({_marks(batch_ids)})"
            params += list(batch_ids)
        return self.query(
            f"""SELECT r.run_id, r.model, r.auto_score, j.judge_kind,
                       avg(j.percent) AS percent, count(*) AS judgments
                FROM runs r JOIN judgments j ON j.run_id = r.run_id
                WHERE {where}
                GROUP BY r.run_id, j.judge_kind
                ORDER BY r.run_id LIMIT ?""", [*params, limit])
