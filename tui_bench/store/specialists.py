"""Queries and tables for specialists: minted snapshots and baseline/specialist figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tui_bench.domain import utc_now
from tui_bench.store.core import CoreStore, _dumps, _loads


class SpecialistQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""

    def record_snapshot(self, *, template: str, template_key: str, version: str, number: int,
                        batch_id: str, path: str, template_kind: str,
                        comparison: dict[str, Any], minted_by: str,
                        created_at: str | None = None) -> int:
        """Note a minted snapshot file with its headline figures; returns its id."""
        with self.transaction() as conn:
            cur = conn.execute(
                """INSERT INTO snapshots (template, template_key, version, number, batch_id,
                       path, template_kind, baseline_runs, specialist_runs, baseline_mean,
                       specialist_mean, improvement, improvement_percent, minted_by,
                       created_at, comparison)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (template, template_key, version, number, batch_id, path, template_kind,
                 comparison.get("baseline_runs", 0), comparison.get("specialist_runs", 0),
                 comparison.get("baseline_avg_score"), comparison.get("specialist_avg_score"),
                 comparison.get("improvement"), comparison.get("improvement_pct"),
                 minted_by, created_at or utc_now(), _dumps(comparison)))
            return int(cur.lastrowid or 0)

    def snapshots(self, template_key: str | None = None, *, batch_id: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Minted snapshots, newest first, a page at a time."""
        clauses, params = [], []
        if template_key is not None:
            clauses.append("template_key = ?")
            params.append(template_key)
        if batch_id is not None:
            clauses.append("batch_id = ?")
            params.append(batch_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.query(
            f"SELECT * FROM snapshots {where} ORDER BY created_at DESC, snapshot_id DESC "
            "LIMIT ? OFFSET ?", [*params, limit, offset])
        for row in rows:
            row["comparison"] = _loads(row["comparison"], {})
        return rows

    def specialist_figures(self, batch_id: str) -> list[dict[str, Any]]:
        """Per (specialist, model): runs, scored runs, score sum and successes.

        Sums rather than means, so callers can merge groups (several spellings of one template)
        without averaging averages.
        """
        return self.query(
            """SELECT specialist, model, count(*) AS runs,
                      sum(status = 'ok' AND auto_score IS NOT NULL) AS scored,
                      sum(CASE WHEN status = 'ok' THEN auto_score END) AS score_sum,
                      sum(status = 'ok' AND success IS NOT NULL) AS judged,
                      sum(CASE WHEN status = 'ok' THEN success END) AS successes
               FROM runs WHERE batch_id = ? GROUP BY specialist, model
               ORDER BY specialist, model""", (batch_id,))

    def batch_sides(self, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each batch, how many baseline runs and how many runs per specialist it holds."""
        out: dict[str, dict[str, int]] = {b: {} for b in batch_ids}
        for start in range(0, len(batch_ids), 500):
            chunk = list(batch_ids[start:start + 500])
            rows = self.query(
                f"""SELECT batch_id, specialist, count(*) AS n FROM runs
                    WHERE batch_id IN ({', '.join('?' * len(chunk))})
                    GROUP BY batch_id, specialist""", chunk)
            for row in rows:
                out[row["batch_id"]][row["specialist"]] = int(row["n"])
        return out

    def run_suites(self, batch_id: str) -> dict[str, str]:
        """Each run's test suite (as recorded with its scenario version), by run id."""
        rows = self.query(
            """SELECT r.run_id, v.suite FROM runs r
               JOIN scenario_versions v ON v.scenario_hash = r.scenario_hash
               WHERE r.batch_id = ? AND v.suite IS NOT NULL""", (batch_id,))
        return {r["run_id"]: r["suite"] for r in rows}

    def batch_suites(self, batch_id: str) -> list[str]:
        """The test suites a batch's runs came from (as recorded with each scenario version)."""
        rows = self.query(
            """SELECT DISTINCT v.suite FROM runs r
               JOIN scenario_versions v ON v.scenario_hash = r.scenario_hash
               WHERE r.batch_id = ? AND v.suite IS NOT NULL ORDER BY v.suite""", (batch_id,))
        return [r["suite"] for r in rows]
