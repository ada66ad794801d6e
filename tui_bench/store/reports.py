"""Queries and tables for reports: the batch browser, leaderboards, comparisons, routing weights.

Everything here is shaped to stay fast on a database of 100,000 runs: pages come from the
``batches`` index and their aggregates from one ``GROUP BY`` over the page's batch ids; report
figures are sums and counts computed by SQLite (so a mean of nothing stays ``NULL``), which the
analysis layer turns into means and spreads. Rows go out as plain dicts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from tui_bench.domain import Judgment, RunRecord, utc_now
from tui_bench.store.core import CELL_COLUMNS, TELEMETRY_COLUMNS, CoreStore

# The lean columns of a run: enough for tables and comparisons, without outputs and prompts.
LEAN_RUN_COLUMNS = (
    "run_id", "batch_id", *CELL_COLUMNS, "mode", "category", "status", "auto_score", "success",
    "attempts", "ttft_ms", "tokens_per_s", "total_ms", "completion_tokens", "cost", "error",
    "suspect", "suspect_cleared_at", "cached",
)

UNCATEGORISED = "uncategorised"


def _json_list(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _only_ok(column: str) -> str:
    """A run's figure when it finished, else NULL: failed runs count, but score nothing."""
    return f"CASE WHEN r.status = 'ok' THEN r.{column} END AS {column}"


def _fresh_ok(column: str) -> str:
    """A speed figure of a finished run that really called its model: cached runs have none."""
    return f"CASE WHEN r.status = 'ok' AND NOT r.cached THEN r.{column} END AS {column}"


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


class ReportQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""

    # ---- the batch browser

    @staticmethod
    def _batch_filters(search: str | None, mode: str | None,
                       status: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if search:
            for word in search.split():
                clauses.append("(batch_id LIKE ? OR models LIKE ? OR scenarios LIKE ? "
                               "OR notes LIKE ? OR mode LIKE ?)")
                params.extend([f"%{word}%"] * 5)
        if mode:
            clauses.append("mode = ?")
            params.append(mode)
        if status:
            clauses.append("status = ?")
            params.append(status)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def batch_page(self, *, limit: int = 50, offset: int = 0, search: str | None = None,
                   mode: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """One page of batches, newest first, each with its run counts and mean score.

        The page comes from the ``created_at`` index; its aggregates from one grouped query
        over just these batch ids (a covering index), so a page costs the same with 100 runs
        or 100,000.
        """
        where, params = self._batch_filters(search, mode, status)
        rows = self.query(
            f"""SELECT batch_id, created_at, started_at, finished_at, status, mode, models,
                       scenarios, total_cells, notes
                FROM batches {where}
                ORDER BY created_at DESC, batch_id DESC LIMIT ? OFFSET ?""",
            [*params, limit, offset])
        figures = self.batch_figures([r["batch_id"] for r in rows])
        for row in rows:
            row["models"] = _json_list(row["models"])
            row["scenarios"] = _json_list(row["scenarios"])
            row.update(figures.get(row["batch_id"], {
                "runs": 0, "done": 0, "failed": 0, "passed": 0, "scored": 0,
                "mean_score": None}))
        return rows

    def count_batch_page(self, *, search: str | None = None, mode: str | None = None,
                         status: str | None = None) -> int:
        where, params = self._batch_filters(search, mode, status)
        return int(self.query(f"SELECT count(*) AS n FROM batches {where}", params)[0]["n"])

    def batch_figures(self, batch_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Run counts, passes and the mean score of each batch, from the rollup.

        A page of 50 batches sums about a thousand rollup rows instead of scanning their
        25,000 runs; where the rollup cannot be refreshed (a read-only file, a long lock),
        the same figures come straight from the runs.
        """
        if not batch_ids:
            return {}
        try:
            self.refresh_rollup()
        except sqlite3.OperationalError:
            return self.batch_figures_live(batch_ids)
        rows = self.query(
            f"""SELECT batch_id, sum(runs) + sum(failed) AS runs, sum(runs) AS done,
                       sum(failed) AS failed, sum(passed) AS passed, sum(decided) AS scored,
                       sum(score_sum) / nullif(sum(scored), 0) AS mean_score
                FROM report_rollup WHERE batch_id IN ({_placeholders(batch_ids)})
                GROUP BY batch_id""", list(batch_ids))
        out = {r.pop("batch_id"): r for r in rows}
        for figures in out.values():
            figures["passed"] = figures["passed"] or 0
        return out

    def batch_figures_live(self, batch_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The same figures as ``batch_figures``, grouped from the runs themselves."""
        if not batch_ids:
            return {}
        rows = self.query(
            f"""SELECT batch_id, count(*) AS runs,
                       sum(status = 'ok') AS done,
                       sum(status != 'ok') AS failed,
                       sum(status = 'ok' AND success = 1) AS passed,
                       count(CASE WHEN status = 'ok' THEN success END) AS scored,
                       avg(CASE WHEN status = 'ok' THEN auto_score END) AS mean_score
                FROM runs WHERE batch_id IN ({_placeholders(batch_ids)})
                GROUP BY batch_id""", list(batch_ids))
        return {r.pop("batch_id"): r for r in rows}

    def previous_batch(self, batch_id: str) -> str | None:
        """The batch created just before this one: the natural baseline to compare with."""
        rows = self.query(
            """SELECT p.batch_id FROM batches b JOIN batches p
                 ON (p.created_at, p.batch_id) < (b.created_at, b.batch_id)
               WHERE b.batch_id = ? ORDER BY p.created_at DESC, p.batch_id DESC LIMIT 1""",
            (batch_id,))
        return rows[0]["batch_id"] if rows else None

    # ---- one batch

    def batch_runs_page(self, batch_id: str, *, limit: int = 200, offset: int = 0,
                        search: str | None = None,
                        status: str | None = None) -> list[dict[str, Any]]:
        """A batch's runs in cell order, without outputs: the detail view's table."""
        clauses, params = ["batch_id = ?"], [batch_id]
        if status:
            clauses.append("status = ?")
            params.append(status)
        if search:
            clauses.append("(model LIKE ? OR scenario_id LIKE ? OR specialist LIKE ?)")
            params.extend([f"%{search}%"] * 3)
        return self.query(
            f"""SELECT {', '.join(LEAN_RUN_COLUMNS)} FROM runs WHERE {' AND '.join(clauses)}
                ORDER BY {', '.join(CELL_COLUMNS)} LIMIT ? OFFSET ?""",
            [*params, limit, offset])

    def batch_cells(self, batch_id: str) -> list[dict[str, Any]]:
        """Every run of a batch, lean, keyed by cell: what a comparison joins on."""
        return self.query(
            f"SELECT {', '.join(LEAN_RUN_COLUMNS)} FROM runs WHERE batch_id = ?", (batch_id,))

    # ---- the rollup

    def refresh_rollup(self) -> int:
        """Recompute the rollup of every batch written to since its last refresh.

        One transaction: the write lock makes the recomputed sums and the freshness marks a
        consistent snapshot, even with a batch running in another process. Returns how many
        batches were recomputed (all of them the first time, then usually none or one).
        """
        stale_sql = """SELECT batch_id FROM batches
                       WHERE batch_id NOT IN (SELECT batch_id FROM report_rollup_fresh)
                       UNION SELECT DISTINCT batch_id FROM report_rollup
                       WHERE batch_id NOT IN (SELECT batch_id FROM report_rollup_fresh)"""
        if not self.query(stale_sql + " LIMIT 1"):
            return 0
        with self.transaction() as conn:
            stale = [row[0] for row in conn.execute(stale_sql).fetchall()]
            for start in range(0, len(stale), 500):
                chunk = stale[start:start + 500]
                marks = _placeholders(chunk)
                conn.execute(f"DELETE FROM report_rollup WHERE batch_id IN ({marks})", chunk)
                conn.execute(
                    f"""INSERT INTO report_rollup (batch_id, category, model, prompt_version,
                            runs, failed, scored, score_sum, score_sq, decided, passed, ttft_n,
                            ttft_sum, tps_n, tps_sum, cost_n, cost_sum, iterative_runs,
                            iterative_attempts, first_answer, judged, judged_sum, judged_sq)
                        SELECT batch_id, category, model, prompt_version,
                               sum(ok), sum(1 - ok), count(auto_score), sum(auto_score),
                               sum(auto_score * auto_score), count(success), sum(success),
                               count(ttft_ms), sum(ttft_ms), count(tokens_per_s),
                               sum(tokens_per_s), count(cost), sum(cost), sum(iterative),
                               sum(CASE WHEN iterative THEN attempts END),
                               sum(iterative AND attempts <= 1),
                               count(judged), sum(judged), sum(judged * judged)
                        FROM (SELECT r.batch_id, coalesce(r.category, '{UNCATEGORISED}')
                                         AS category, r.model, r.prompt_version,
                                     r.status = 'ok' AS ok, r.attempts,
                                     r.status = 'ok' AND r.mode IN ('iterative', 'comparative')
                                         AS iterative,
                                     {_only_ok("auto_score")}, {_only_ok("success")},
                                     {_fresh_ok("ttft_ms")}, {_fresh_ok("tokens_per_s")},
                                     {_only_ok("cost")},
                                     CASE WHEN r.status = 'ok' THEN (
                                         SELECT avg(j.percent) FROM judgments j
                                         WHERE j.run_id = r.run_id
                                           AND j.judge_kind = 'person') END AS judged
                              FROM runs r WHERE r.batch_id IN ({marks}))
                        GROUP BY batch_id, category, model, prompt_version""", chunk)
                conn.executemany("INSERT OR IGNORE INTO report_rollup_fresh VALUES (?)",
                                 [(b,) for b in chunk])
        return len(stale)

    # ---- leaderboards

    def leaderboard_sums(self, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Sums and counts of the finished runs per (category, model, prompt version).

        Sums rather than means so the analysis layer can merge categories into an overall
        ranking exactly and compute spreads; read from the rollup, not from every run. The
        judged figures are person judgments: each judged run's mean percent.
        """
        self.refresh_rollup()
        where, params = "", []
        if batch_id is not None:
            where, params = "WHERE batch_id = ?", [batch_id]
        return self.query(
            f"""SELECT category, model, prompt_version, sum(runs) AS runs,
                       sum(scored) AS scored, sum(score_sum) AS score_sum,
                       sum(score_sq) AS score_sq, sum(decided) AS decided,
                       sum(passed) AS passed, sum(ttft_n) AS ttft_n, sum(ttft_sum) AS ttft_sum,
                       sum(tps_n) AS tps_n, sum(tps_sum) AS tps_sum, sum(cost_n) AS cost_n,
                       sum(cost_sum) AS cost_sum, sum(judged) AS judged,
                       sum(judged_sum) AS judged_sum, sum(judged_sq) AS judged_sq
                FROM report_rollup {where}
                GROUP BY category, model, prompt_version
                HAVING sum(runs) > 0""", params)

    def score_points(self, *, models: Sequence[str] | None = None,
                     batch_id: str | None = None) -> list[dict[str, Any]]:
        """Mean automatic score per model per batch, oldest batch first: score over time."""
        self.refresh_rollup()
        clauses: list[str] = ["1"]
        params: list[Any] = []
        if models:
            clauses.append(f"r.model IN ({_placeholders(models)})")
            params.extend(models)
        if batch_id is not None:
            clauses.append("r.batch_id = ?")
            params.append(batch_id)
        return self.query(
            f"""SELECT r.model, r.batch_id, b.created_at, sum(r.scored) AS scored,
                       sum(r.score_sum) / nullif(sum(r.scored), 0) AS mean_score
                FROM report_rollup r JOIN batches b ON b.batch_id = r.batch_id
                WHERE {' AND '.join(clauses)}
                GROUP BY r.model, r.batch_id
                HAVING sum(r.runs) > 0
                ORDER BY b.created_at, r.batch_id, r.model""", params)

    def scenario_model_sums(self, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Per (scenario, model, category, prompt version): finished runs, passes, score sums.

        Grouped (almost) in the category-model index's order; the caller merges versions.
        """
        where, params = "status = 'ok'", []
        if batch_id is not None:
            where += " AND batch_id = ?"
            params.append(batch_id)
        return self.query(
            f"""SELECT coalesce(category, '{UNCATEGORISED}') AS category, model, prompt_version,
                       scenario_id, count(*) AS runs, count(success) AS decided,
                       sum(success) AS passed, count(auto_score) AS scored,
                       sum(auto_score) AS score_sum
                FROM runs WHERE {where}
                GROUP BY category, model, scenario_id, prompt_version""", params)

    def specialist_sums(self, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Specialist-enabled runs against their baseline twins, per (model, specialist).

        A twin is the same batch and cell with no specialist, so only batches that ran both
        count. Driven by the (partial) specialist index, each twin found by the peers index.
        """
        where, params = "s.specialist != '' AND s.status = 'ok'", []
        if batch_id is not None:
            where += " AND s.batch_id = ?"
            params.append(batch_id)
        both = "s.auto_score IS NOT NULL AND b.auto_score IS NOT NULL"
        return self.query(
            f"""SELECT s.model, s.specialist, count(*) AS pairs,
                       count(DISTINCT s.batch_id) AS batches,
                       sum({both}) AS scored,
                       sum(CASE WHEN {both} THEN b.auto_score END) AS baseline_sum,
                       sum(CASE WHEN {both} THEN s.auto_score END) AS specialist_sum,
                       count(b.success) AS baseline_decided, sum(b.success) AS baseline_passed,
                       count(s.success) AS specialist_decided,
                       sum(s.success) AS specialist_passed,
                       sum(s.success = 1 AND coalesce(b.success, 0) = 0) AS specialist_only,
                       sum(b.success = 1 AND coalesce(s.success, 0) = 0) AS baseline_only,
                       sum(CASE WHEN {both} THEN (s.auto_score - b.auto_score)
                                               * (s.auto_score - b.auto_score) END) AS diff_sq
                FROM runs s CROSS JOIN runs b
                  ON b.batch_id = s.batch_id AND b.scenario_id = s.scenario_id
                 AND b.tier = s.tier AND b.prompt_version = s.prompt_version
                 AND b.specialist = '' AND b.iteration = s.iteration AND b.model = s.model
                 AND b.options_key = s.options_key AND b.status = 'ok'
                WHERE {where}
                GROUP BY s.model, s.specialist
                ORDER BY s.model, s.specialist""", params)

    def effort_sums(self, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Attempts of iterative runs per (model, batch), with the batch's attempt budget."""
        self.refresh_rollup()
        clauses, params = ["r.iterative_runs > 0"], []
        if batch_id is not None:
            clauses.append("r.batch_id = ?")
            params.append(batch_id)
        return self.query(
            f"""SELECT r.model, r.batch_id,
                       json_extract(b.spec, '$.max_iterations') AS max_iterations,
                       sum(r.iterative_runs) AS runs, sum(r.iterative_attempts) AS attempts,
                       sum(r.first_answer) AS first_answer
                FROM report_rollup r JOIN batches b ON b.batch_id = r.batch_id
                WHERE {' AND '.join(clauses)}
                GROUP BY r.model, r.batch_id""", params)

    def surprise_pairs(self, favoured: dict[str, str], *, margin: float,
                       batch_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Runs that beat the favoured model of their category on the same cell by ``margin``.

        ``favoured`` maps category to the model its routing weights favour; the favoured
        model's run is the one in the same batch and cell (all but the model equal).
        """
        if not favoured:
            return []
        values = ", ".join("(?, ?)" for _ in favoured)
        params: list[Any] = [x for pair in favoured.items() for x in pair]
        where = "r.status = 'ok' AND f.status = 'ok'"
        if batch_id is not None:
            where += " AND r.batch_id = ?"
        tail: list[Any] = [margin - 1e-9] + ([batch_id] if batch_id is not None else [])
        return self.query(
            f"""WITH fav(category, model) AS (VALUES {values})
                SELECT r.run_id, r.batch_id, r.category, r.scenario_id, r.tier,
                       r.prompt_version, r.specialist, r.iteration,
                       r.model, r.auto_score AS score,
                       f.model AS favoured_model, f.run_id AS favoured_run_id,
                       f.auto_score AS favoured_score,
                       r.auto_score - f.auto_score AS margin
                FROM fav CROSS JOIN runs f ON f.model = fav.model
                     AND f.category = fav.category
                CROSS JOIN runs r ON r.batch_id = f.batch_id AND r.scenario_id = f.scenario_id
                     AND r.tier = f.tier AND r.prompt_version = f.prompt_version
                     AND r.specialist = f.specialist AND r.iteration = f.iteration
                     AND r.model != f.model
                WHERE r.auto_score - f.auto_score >= ? AND {where}
                ORDER BY margin DESC, r.batch_id DESC, r.model LIMIT ?""",
            [*params, *tail, limit])

    # ---- routing weights

    def routing_weights(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM routing_weights ORDER BY category, weight DESC, model")

    def weight_history(self, *, model: str | None = None, category: str | None = None,
                       limit: int = 200) -> list[dict[str, Any]]:
        clauses, params = [], []
        if model:
            clauses.append("model = ?")
            params.append(model)
        if category:
            clauses.append("category = ?")
            params.append(category)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self.query(
            f"SELECT * FROM routing_weight_history {where} ORDER BY change_id DESC LIMIT ?",
            [*params, limit])

    def latest_category_means(self, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Per (model, category): the mean score in the newest batch that ran it.

        With ``batch_id``, that batch's means. What routing weights learn from.
        """
        self.refresh_rollup()
        clauses, params = ["r.scored > 0"], []
        if batch_id is not None:
            clauses.append("r.batch_id = ?")
            params.append(batch_id)
        rows = self.query(
            f"""SELECT r.model, r.category, r.batch_id, b.created_at,
                       sum(r.scored) AS runs, sum(r.score_sum) / sum(r.scored) AS mean_score
                FROM report_rollup r JOIN batches b ON b.batch_id = r.batch_id
                WHERE {' AND '.join(clauses)}
                GROUP BY r.model, r.category, r.batch_id""", params)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["model"], row["category"])
            if key not in latest or (row["created_at"], row["batch_id"]) > (
                    latest[key]["created_at"], latest[key]["batch_id"]):
                latest[key] = row
        return sorted(latest.values(), key=lambda r: (r["category"], r["model"]))

    def save_weight_changes(self, changes: Iterable[dict[str, Any]]) -> None:
        """Store new weights and append each change to the history, in one transaction.

        Each change has category, model, old_weight, new_weight, mean_score, runs,
        learning_rate and source_batch.
        """
        now = utc_now()
        with self.transaction() as conn:
            for c in changes:
                conn.execute(
                    """INSERT INTO routing_weights (category, model, weight, runs, source_batch,
                           updated_at) VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT(category, model) DO UPDATE SET weight = excluded.weight,
                           runs = excluded.runs, source_batch = excluded.source_batch,
                           updated_at = excluded.updated_at""",
                    (c["category"], c["model"], c["new_weight"], c["runs"], c["source_batch"],
                     now))
                conn.execute(
                    """INSERT INTO routing_weight_history (category, model, old_weight,
                           new_weight, mean_score, runs, learning_rate, source_batch, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (c["category"], c["model"], c["old_weight"], c["new_weight"],
                     c["mean_score"], c["runs"], c["learning_rate"], c["source_batch"], now))

    # ---- bulk writes (fixtures and benchmarks)

    def bulk_save_runs(self, records: Sequence[RunRecord], *,
                       categories: dict[str, str] | None = None,
                       judgments: Sequence[Judgment] = ()) -> None:
        """Insert many new runs with their evaluations (and judgments) in one transaction.

        For filling a database quickly (benchmarks, fixtures): unlike ``save_run`` it does not
        replace an earlier run of the same cell, so each cell must be new.
        """
        categories = categories or {}
        columns = ("run_id", "batch_id", "model", "backend", *CELL_COLUMNS[1:], "mode",
                   "category", "status", "output", "error", "prompt", "system", "scenario_hash",
                   "started_at", "finished_at", *TELEMETRY_COLUMNS, "options", "auto_score",
                   "success", "attempts", "retries", "first_success")
        rows = []
        for r in records:
            tel = r.telemetry
            rows.append((
                r.run_id, r.batch_id, r.model, r.model.split(":", 1)[0], r.prompt_version,
                r.scenario_id, r.tier, r.specialist, r.iteration, r.options_key, r.mode,
                categories.get(r.scenario_id), r.status, r.output, r.error, r.prompt, r.system,
                None, r.started_at, r.finished_at or r.started_at,
                *(getattr(tel, name) for name in TELEMETRY_COLUMNS),
                json.dumps(tel.options), r.auto_score, r.success, r.attempts, r.retries,
                r.first_success))
        with self.transaction() as conn:
            conn.executemany(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES ({_placeholders(columns)})",
                rows)
            conn.executemany(
                "INSERT INTO evaluations (run_id, evaluator, score, weight, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.run_id, e.evaluator, e.score, e.weight, json.dumps(e.detail))
                 for r in records for e in r.evaluations])
            for judgment in judgments:
                self._insert_judgment(conn, judgment)

    def set_batch_times(self, batch_id: str, *, created_at: str, started_at: str | None = None,
                        finished_at: str | None = None, status: str | None = None) -> None:
        """Back-date a batch (benchmarks and tests build history that spans weeks)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE batches SET created_at = ?, started_at = coalesce(?, started_at),
                       finished_at = coalesce(?, finished_at), status = coalesce(?, status)
                   WHERE batch_id = ?""",
                (created_at, started_at, finished_at, status, batch_id))

    def database_size(self) -> int:
        """Bytes in the main database file (pages times page size)."""
        row = self.query("SELECT page_count * page_size AS size "
                         "FROM pragma_page_count(), pragma_page_size()")[0]
        return int(row["size"])
