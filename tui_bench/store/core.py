"""The core of the store: connection, migrations, batches, runs, judgments, the registry.

``bench.db`` is a plain SQLite file in WAL mode, readable by any SQLite tool. The schema is
versioned through ``PRAGMA user_version`` and an ordered list of upgrade steps, so an old
database opens in a new tui-bench without losing anything. Each finished run is written in
its own transaction the moment it finishes: a crash loses at most the cells still running.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tui_bench.domain import (
    Attempt,
    BatchSpec,
    Evaluation,
    Judgment,
    ModelInfo,
    RunRecord,
    Scenario,
    Telemetry,
    utc_now,
)
from tui_bench.store.agent_rows import write_agent_run
from tui_bench.store.migrations import migrations as all_migrations
from tui_bench.store.refine_rows import write_refine_run

CELL_COLUMNS = ("model", "prompt_version", "scenario_id", "tier", "specialist", "iteration",
                "options_key")
TELEMETRY_COLUMNS = (
    "ttft_ms", "total_ms", "load_ms", "prompt_tokens", "completion_tokens", "tokens_per_s",
    "prompt_eval_ms", "eval_ms", "paid_load", "host", "cost", "done_reason",
)
REGISTRY_STATUSES = ("candidate", "verified", "disabled")


class StoreError(Exception):
    """A database problem worth a one-line message (locked, corrupt, not a database)."""



def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


# --------------------------------------------------------------------------- the store


class CoreStore:
    """Reads and writes of ``bench.db``. Safe to share between an event loop and threads."""

    def __init__(self, path: str | Path, *, migrations: Sequence[str] | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = _connect(self.path)
            self._lock = threading.RLock()
            self._db: Any = None
            # Scenario versions this store has committed: rows are never deleted, so a cell of
            # a known version skips re-serialising its definition (a per-cell cost otherwise).
            self._known_versions: set[str] = set()
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
            self.migrate(list(migrations) if migrations is not None else all_migrations())
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    # ---- plumbing

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, steps: Sequence[str]) -> int:
        """Apply the upgrade steps this database has not seen, each in its own transaction."""
        with self._lock:
            current = self.schema_version
            if current > len(steps):
                raise StoreError(
                    f"{self.path} was written by a newer tui-bench (schema {current}, "
                    f"this one knows {len(steps)}); upgrade tui-bench")
            for number in range(current, len(steps)):
                script = (f"BEGIN IMMEDIATE;\n{steps[number]}\n"
                          f"PRAGMA user_version = {number + 1};\nCOMMIT;")
                try:
                    self.conn.executescript(script)
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            return self.schema_version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``BEGIN IMMEDIATE`` so two writers queue instead of failing.

    A database error inside it rolls back and surfaces as ``StoreError``.
    """
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:  # locked past the timeout, read-only, gone
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:  # callers see the store's error, never sqlite3's
                self.conn.execute("ROLLBACK")
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self.conn.execute(sql, params).fetchall()]

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    @property
    def db(self) -> Any:
        """The same connection as a ``sqlite_utils.Database``, for table-level work.

        Imported on first use: sqlite-utils pulls in numpy, a tenth of a second that
        ``tui-bench --run`` need not pay before its first cell.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def table_counts(self) -> dict[str, int]:
        """Rows in every table tui-bench writes (its bookkeeping tables left out)."""
        with self._lock:
            return {name: self.db[name].count for name in self.db.table_names()
                    if not name.startswith(("_", "sqlite_", "report_"))}

    # ---- batches

    def save_batch(self, spec: BatchSpec, total_cells: int) -> None:
        """Record a batch before it runs; on resume keep its history and refresh the plan."""
        now = utc_now()
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO batches (batch_id, created_at, started_at, status, mode, models,
                       scenarios, total_cells, spec)
                   VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)
                   ON CONFLICT(batch_id) DO UPDATE SET
                       status = 'running', started_at = excluded.started_at,
                       finished_at = NULL, total_cells = excluded.total_cells,
                       spec = excluded.spec""",
                (spec.batch_id, now, now, spec.mode, _dumps(spec.models),
                 _dumps(spec.scenarios), total_cells, spec.model_dump_json()),
            )

    def set_batch_status(self, batch_id: str, status: str) -> None:
        finished = utc_now() if status in ("finished", "cancelled", "failed") else None
        with self.transaction() as conn:
            conn.execute("UPDATE batches SET status = ?, finished_at = ? WHERE batch_id = ?",
                         (status, finished, batch_id))

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
        if not rows:
            return None
        row = rows[0]
        row["models"] = _loads(row["models"], [])
        row["scenarios"] = _loads(row["scenarios"], [])
        row["spec"] = _loads(row["spec"], {})
        return row

    def batch_spec(self, batch_id: str) -> BatchSpec | None:
        row = self.get_batch(batch_id)
        return BatchSpec.model_validate(row["spec"]) if row else None

    def list_batches(self, *, limit: int = 50, offset: int = 0,
                     search: str | None = None) -> list[dict[str, Any]]:
        """Newest first, a page at a time, with counts computed from the runs index."""
        where, params = "", []
        if search:
            where = "WHERE b.batch_id LIKE ? OR b.models LIKE ? OR b.scenarios LIKE ?"
            params = [f"%{search}%"] * 3
        rows = self.query(
            f"""SELECT b.batch_id, b.created_at, b.started_at, b.finished_at, b.status, b.mode,
                       b.models, b.scenarios, b.total_cells,
                       (SELECT count(*) FROM runs r WHERE r.batch_id = b.batch_id
                           AND r.status = 'ok') AS done,
                       (SELECT count(*) FROM runs r WHERE r.batch_id = b.batch_id
                           AND r.status NOT IN ('ok', 'cancelled')) AS failed,
                       (SELECT count(*) FROM runs r WHERE r.batch_id = b.batch_id
                           AND r.status = 'cancelled') AS cancelled,
                       (SELECT avg(auto_score) FROM runs r WHERE r.batch_id = b.batch_id
                           AND r.status = 'ok') AS mean_score
                FROM batches b {where}
                ORDER BY b.created_at DESC LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        for row in rows:
            row["models"] = _loads(row["models"], [])
            row["scenarios"] = _loads(row["scenarios"], [])
        return rows

    def count_batches(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM batches").fetchone()[0])

    def unfinished_batches(self) -> list[dict[str, Any]]:
        """Batches that stopped before every cell ran: the ones worth resuming."""
        return self.query(
            """SELECT batch_id, status, created_at, total_cells,
                      (SELECT count(*) FROM runs r WHERE r.batch_id = b.batch_id
                          AND r.status = 'ok') AS done
               FROM batches b WHERE status IN ('running', 'cancelled', 'interrupted')
               ORDER BY created_at DESC""")

    # ---- runs

    def finished_cell_keys(self, batch_id: str) -> set[tuple[str, str, str, str, str, int, str]]:
        """Cells of a batch that finished cleanly; a resumed batch skips exactly these."""
        rows = self.conn.execute(
            f"SELECT {', '.join(CELL_COLUMNS)} FROM runs WHERE batch_id = ? AND status = 'ok'",
            (batch_id,)).fetchall()
        return {tuple(row) for row in rows}

    def save_run(self, record: RunRecord, scenario: Scenario | None = None,
                 attempts: Sequence[Attempt] = (), judgments: Sequence[Judgment] = (), *,
                 artifacts: Mapping[str, str] | None = None) -> None:
        """Commit one finished cell with its evaluations, attempts and model judgments.

        A cell that ran before without finishing cleanly (an error, a cancel) is replaced, so a
        resumed batch never holds two rows for one cell.
        """
        tel = record.telemetry
        row = {
            "run_id": record.run_id,
            "batch_id": record.batch_id,
            "model": record.model,
            "backend": record.model.split(":", 1)[0],
            "prompt_version": record.prompt_version,
            "scenario_id": record.scenario_id,
            "tier": record.tier,
            "specialist": record.specialist,
            "iteration": record.iteration,
            "mode": record.mode,
            "category": scenario.category if scenario else None,
            "status": record.status,
            "output": record.output,
            "error": record.error,
            "prompt": record.prompt,
            "system": record.system,
            "scenario_hash": record.scenario_hash,
            "started_at": record.started_at,
            "finished_at": record.finished_at or utc_now(),
            **{name: getattr(tel, name) for name in TELEMETRY_COLUMNS},
            "options": _dumps(tel.options),
            "auto_score": record.auto_score,
            "success": record.success,
            "attempts": record.attempts,
            "retries": record.retries,
            "first_success": record.first_success,
            "options_key": record.options_key,
            "environment": _dumps(record.environment),
            "truncated": record.truncated,
            "suspect": record.suspect,
            "suspect_success": record.suspect_success,
            "suspect_cleared_at": record.suspect_cleared_at,
            "cached": int(record.cached),
            "cached_from": record.cached_from,
            "cache_key": record.cache_key,
        }
        version = record.scenario_hash if scenario is not None else None
        with self.transaction() as conn:
            if scenario is not None and version and version not in self._known_versions:
                conn.execute(
                    """INSERT OR IGNORE INTO scenario_versions
                       (scenario_hash, scenario_id, suite, category, rubric, definition, first_seen)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (record.scenario_hash, scenario.id, scenario.suite, scenario.category,
                     scenario.rubric, _dumps(scenario.definition()), utc_now()))
            conn.execute(
                f"""DELETE FROM runs WHERE batch_id = ? AND
                    {' AND '.join(f'{c} = ?' for c in CELL_COLUMNS)}""",
                (record.batch_id, *record.cell_key))
            columns = list(row)
            conn.execute(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns])
            conn.executemany(
                "INSERT INTO evaluations (run_id, evaluator, score, weight, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [(record.run_id, e.evaluator, e.score, e.weight, _dumps(e.detail))
                 for e in record.evaluations])
            conn.executemany(
                "INSERT INTO attempts (run_id, attempt, output, auto_score, success, feedback, "
                "telemetry, action, self_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(record.run_id, a.attempt, a.output, a.auto_score, a.success, a.feedback,
                  a.telemetry.model_dump_json(), a.action, a.self_score) for a in attempts])
            for judgment in judgments:
                self._insert_judgment(conn, judgment.model_copy(update={"run_id": record.run_id}))
            write_agent_run(conn, record, artifacts or {})
            write_refine_run(conn, record)
        if version:
            self._known_versions.add(version)

    def _row_to_run(self, row: dict[str, Any]) -> RunRecord:
        tel = Telemetry(**{name: row.get(name) for name in TELEMETRY_COLUMNS},
                        options=_loads(row.get("options"), {}))
        if tel.paid_load is not None:
            tel.paid_load = bool(tel.paid_load)
        fields = {k: row[k] for k in RunRecord.model_fields if k in row and k not in (
            "telemetry", "evaluations")}
        if "environment" in fields:
            fields["environment"] = _loads(fields["environment"], {})
        for flag in ("success", "first_success", "suspect_success", "cached", "truncated"):
            if fields.get(flag) is not None:
                fields[flag] = bool(fields[flag])
        return RunRecord(**fields, telemetry=tel)

    def get_run(self, run_id: str, *, with_evaluations: bool = True) -> RunRecord | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        record = self._row_to_run(rows[0])
        if with_evaluations:
            record.evaluations = self.evaluations(run_id)
        return record

    def runs(self, batch_id: str | None = None, *, status: str | None = None,
             model: str | None = None, scenario_id: str | None = None, limit: int = 1000,
             offset: int = 0, with_evaluations: bool = False) -> list[RunRecord]:
        """Runs matching the filters, oldest first within a batch, a page at a time."""
        clauses, params = self._run_filters(batch_id, status, model, scenario_id)
        rows = self.query(
            f"SELECT * FROM runs {clauses} ORDER BY started_at, run_id LIMIT ? OFFSET ?",
            [*params, limit, offset])
        records = [self._row_to_run(r) for r in rows]
        if with_evaluations and records:
            by_run = self.evaluations_for([r.run_id for r in records])
            for record in records:
                record.evaluations = by_run.get(record.run_id, [])
        return records

    def mean_total_ms(self, models: Sequence[str]) -> dict[str, tuple[float, int]]:
        """Mean wall time of past clean runs per model, with the count: for time estimates."""
        if not models:
            return {}
        rows = self.query(
            f"""SELECT model, avg(total_ms) AS mean_ms, count(*) AS n FROM runs
                WHERE status = 'ok' AND total_ms IS NOT NULL
                  AND model IN ({', '.join('?' * len(models))})
                GROUP BY model""", list(models))
        return {r["model"]: (float(r["mean_ms"]), int(r["n"])) for r in rows}

    def count_runs(self, batch_id: str | None = None, *, status: str | None = None) -> int:
        clauses, params = self._run_filters(batch_id, status, None, None)
        return int(self.conn.execute(f"SELECT count(*) FROM runs {clauses}", params).fetchone()[0])

    @staticmethod
    def _run_filters(batch_id: str | None, status: str | None, model: str | None,
                     scenario_id: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (("batch_id", batch_id), ("status", status), ("model", model),
                              ("scenario_id", scenario_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def evaluations(self, run_id: str) -> list[Evaluation]:
        return self.evaluations_for([run_id]).get(run_id, [])

    def evaluations_for(self, run_ids: Sequence[str], *,
                        scoring: int | None = None) -> dict[str, list[Evaluation]]:
        """Each run's evaluations from its latest scoring, or from scoring ``scoring``."""
        out: dict[str, list[Evaluation]] = {}
        for start in range(0, len(run_ids), 500):
            chunk = list(run_ids[start:start + 500])
            which = "r.scoring" if scoring is None else "?"
            rows = self.query(
                f"SELECT e.* FROM evaluations e JOIN runs r ON r.run_id = e.run_id "
                f"AND e.scoring = {which} WHERE e.run_id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY e.run_id, e.evaluator",
                chunk if scoring is None else [scoring, *chunk])
            for row in rows:
                out.setdefault(row["run_id"], []).append(Evaluation(
                    evaluator=row["evaluator"], score=row["score"], weight=row["weight"],
                    detail=_loads(row["detail"], {})))
        return out

    def attempts(self, run_id: str) -> list[Attempt]:
        rows = self.query("SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt", (run_id,))
        return [Attempt(run_id=r["run_id"], attempt=r["attempt"], output=r["output"],
                        auto_score=r["auto_score"],
                        success=None if r["success"] is None else bool(r["success"]),
                        feedback=r["feedback"],
                        telemetry=Telemetry.model_validate(_loads(r["telemetry"], {})),
                        action=r.get("action"), self_score=r.get("self_score"))
                for r in rows]

    def scenario_definition(self, scenario_hash: str) -> dict[str, Any] | None:
        rows = self.query("SELECT definition FROM scenario_versions WHERE scenario_hash = ?",
                          (scenario_hash,))
        return _loads(rows[0]["definition"], None) if rows else None

    # ---- what a batch ran on

    def save_batch_environment(self, batch_id: str, tool_version: str, host: dict[str, Any],
                               warmups: dict[str, float]) -> None:
        """The machine a batch ran on and its warmup times; a resume adds its own warmups."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO batch_environment (batch_id, recorded_at, tool_version, host,
                       warmups) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(batch_id) DO UPDATE SET recorded_at = excluded.recorded_at,
                       tool_version = excluded.tool_version, host = excluded.host,
                       warmups = json_patch(batch_environment.warmups, excluded.warmups)""",
                (batch_id, utc_now(), tool_version, _dumps(host), _dumps(warmups)))

    def batch_environment(self, batch_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM batch_environment WHERE batch_id = ?", (batch_id,))
        if not rows:
            return None
        row = rows[0]
        row["host"] = _loads(row["host"], {})
        row["warmups"] = _loads(row["warmups"], {})
        return row

    # ---- judgments

    @staticmethod
    def _insert_judgment(conn: sqlite3.Connection, j: Judgment) -> int:
        cur = conn.execute(
            """INSERT INTO judgments (run_id, judge, judge_kind, rubric_id, rubric_version,
                   scores, total, percent, band, notes, reason, blind, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (j.run_id, j.judge, j.judge_kind, j.rubric_id, j.rubric_version, _dumps(j.scores),
             j.total, j.percent, j.band, j.notes, j.reason, int(j.blind), j.created_at))
        return int(cur.lastrowid or 0)

    def save_judgment(self, judgment: Judgment) -> int:
        with self.transaction() as conn:
            return self._insert_judgment(conn, judgment)

    def judgments(self, run_id: str | None = None, *, judge_kind: str | None = None,
                  limit: int = 1000, offset: int = 0) -> list[Judgment]:
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if judge_kind is not None:
            clauses.append("judge_kind = ?")
            params.append(judge_kind)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.query(
            f"SELECT * FROM judgments {where} ORDER BY judgment_id LIMIT ? OFFSET ?",
            [*params, limit, offset])
        return [Judgment(**{**r, "scores": _loads(r["scores"], {}), "blind": bool(r["blind"])})
                for r in rows]

    def count_unjudged(self) -> int:
        """Finished runs no person has judged yet: the judging queue's length."""
        return int(self.conn.execute(
            """SELECT count(*) FROM runs r WHERE r.status = 'ok' AND NOT EXISTS (
                   SELECT 1 FROM judgments j WHERE j.run_id = r.run_id
                   AND j.judge_kind = 'person')""").fetchone()[0])

    # ---- model registry

    def record_models(self, models: Sequence[ModelInfo]) -> None:
        """Note what backends offer now; keep status, tier and notes a person set."""
        now = utc_now()
        with self.transaction() as conn:
            for info in models:
                details = info.model_dump(exclude={"ref", "backend", "name", "reachable"})
                conn.execute(
                    """INSERT INTO registry (model, backend, name, reachable, details,
                           first_seen, last_seen)
                       VALUES (?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(model) DO UPDATE SET reachable = excluded.reachable,
                           details = excluded.details, last_seen = excluded.last_seen""",
                    (info.ref, info.backend, info.name, int(info.reachable), _dumps(details),
                     now, now))

    def set_model_status(self, model: str, status: str, *, tier: str | None = None,
                         notes: str | None = None) -> None:
        if status not in REGISTRY_STATUSES:
            raise ValueError(f"status must be one of {', '.join(REGISTRY_STATUSES)}")
        backend, _, name = model.partition(":")
        now = utc_now()
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO registry (model, backend, name, status, tier, notes, first_seen,
                       last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(model) DO UPDATE SET status = excluded.status,
                       tier = coalesce(?, registry.tier), notes = coalesce(?, registry.notes)""",
                (model, backend, name, status, tier, notes or "", now, now, tier, notes))

    def registry(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM registry ORDER BY backend, name")
        for row in rows:
            row["details"] = _loads(row["details"], {})
            row["reachable"] = None if row["reachable"] is None else bool(row["reachable"])
        return rows


