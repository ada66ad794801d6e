"""Queries and tables for judging: the queue, person judgments, pairwise verdicts, agreement.

The judge's own name is not kept here: it lives beside the app's settings (``judge_name``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from tui_bench.domain import (
    PAIR_VERDICTS,
    Judgment,
    Rubric,
    RunRecord,
    Scenario,
    utc_now,
)
from tui_bench.store.core import CoreStore, _loads

if TYPE_CHECKING:
    from tui_bench.catalog import Catalog


Unjudged = Literal["anyone", "me", "all"]


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the judging queue holds. ``unjudged`` says by whom a run must not be judged yet."""

    batch_id: str | None = None
    model: str | None = None
    scenario_id: str | None = None
    rubric_id: str | None = None
    rubric_scenarios: tuple[str, ...] = ()  # scenario ids the catalog maps to rubric_id
    unjudged: Unjudged = "anyone"
    judge: str | None = None  # who "me" is
    shuffled: bool = True  # blind judging: no run of one model after another


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A run waiting for judgment; the model is here for filters, never for a blind screen."""

    run_id: str
    batch_id: str
    model: str
    scenario_id: str
    scenario_hash: str | None
    key: str  # position in the queue's order, for keyset paging


@dataclass(frozen=True, slots=True)
class PairCandidate:
    """Two runs of one cell that differ only in model (or only in batch)."""

    a_run_id: str
    b_run_id: str
    scenario_id: str
    tier: str
    prompt_version: str


@dataclass(frozen=True, slots=True)
class PairRecord:
    """One stored pairwise verdict with its hidden mapping of sides to models."""

    verdict_id: int
    left_run_id: str
    right_run_id: str
    left_model: str
    right_model: str
    left_batch_id: str
    right_batch_id: str
    scenario_id: str
    tier: str
    prompt_version: str
    verdict: str
    judge: str
    blind: bool
    notes: str
    created_at: str


def _shuffle_key(text: str | None) -> str:
    """A stable pseudo-random order: the same queue every time, but models interleaved."""
    return hashlib.blake2b((text or "").encode(), digest_size=6).hexdigest()


def _row_to_judgment(row: dict[str, Any]) -> Judgment:
    return Judgment(**{**row, "scores": _loads(row["scores"], {}), "blind": bool(row["blind"])})


class JudgingQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""

    def _ensure_shuffle(self) -> None:
        """Register the ordering function on this connection (idempotent, cheap)."""
        if getattr(self, "_shuffle_ready", False):
            return
        with self._lock:
            self.conn.create_function("tb_shuffle", 1, _shuffle_key, deterministic=True)
            self._shuffle_ready = True

    # ---- the queue

    def _queue_where(self, f: QueueFilter) -> tuple[str, list[Any]]:
        clauses = ["r.status = 'ok'"]
        params: list[Any] = []
        for column, value in (("r.batch_id", f.batch_id), ("r.model", f.model),
                              ("r.scenario_id", f.scenario_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.rubric_id is not None:
            known = list(f.rubric_scenarios)
            inside = f" OR r.scenario_id IN ({', '.join('?' * len(known))})" if known else ""
            clauses.append(
                "(EXISTS (SELECT 1 FROM scenario_versions sv WHERE sv.scenario_hash = "
                f"r.scenario_hash AND sv.rubric = ?){inside})")
            params.extend([f.rubric_id, *known])
        if f.unjudged == "anyone":
            clauses.append("NOT EXISTS (SELECT 1 FROM judgments j WHERE j.run_id = r.run_id "
                           "AND j.judge_kind = 'person')")
        elif f.unjudged == "me":
            clauses.append("NOT EXISTS (SELECT 1 FROM judgments j WHERE j.run_id = r.run_id "
                           "AND j.judge_kind = 'person' AND j.judge = ?)")
            params.append(f.judge or "")
        return " AND ".join(clauses), params

    @staticmethod
    def _queue_key(f: QueueFilter) -> str:
        return "tb_shuffle(r.run_id) || r.run_id" if f.shuffled else \
            "r.started_at || ' ' || r.run_id"

    def judging_queue(self, f: QueueFilter, *, after: str | None = None,
                      limit: int = 50) -> list[QueueEntry]:
        """One page of the queue after position ``after`` (keyset paging, so runs judged
        meanwhile dropping out of the queue never make a page skip one)."""
        self._ensure_shuffle()
        where, params = self._queue_where(f)
        key = self._queue_key(f)
        if after is not None:
            where += f" AND {key} > ?"
            params.append(after)
        rows = self.query(
            f"""SELECT r.run_id, r.batch_id, r.model, r.scenario_id, r.scenario_hash,
                       {key} AS k
                FROM runs r WHERE {where} ORDER BY k LIMIT ?""", [*params, limit])
        return [QueueEntry(r["run_id"], r["batch_id"], r["model"], r["scenario_id"],
                           r["scenario_hash"], r["k"]) for r in rows]

    def count_queue(self, f: QueueFilter) -> int:
        where, params = self._queue_where(f)
        return int(self.conn.execute(f"SELECT count(*) FROM runs r WHERE {where}",
                                     params).fetchone()[0])

    def judging_facets(self, limit: int = 200) -> dict[str, list[str]]:
        """Values the queue can be filtered by, newest batches first."""
        return {
            "batch_id": [r["batch_id"] for r in self.query(
                "SELECT batch_id FROM batches ORDER BY created_at DESC LIMIT ?", (limit,))],
            "model": [r["model"] for r in self.query(
                "SELECT DISTINCT model FROM runs ORDER BY model LIMIT ?", (limit,))],
            "scenario_id": [r["scenario_id"] for r in self.query(
                "SELECT DISTINCT scenario_id FROM runs ORDER BY scenario_id LIMIT ?", (limit,))],
            "rubric": [r["rubric"] for r in self.query(
                "SELECT DISTINCT rubric FROM scenario_versions WHERE rubric IS NOT NULL "
                "ORDER BY rubric LIMIT ?", (limit,))],
        }

    # ---- rubrics

    def rubric_for_run(self, run: RunRecord, catalog: Catalog) -> tuple[Rubric | None, str]:
        """The rubric to judge a run with, or None and why not.

        The catalog's scenario decides; a scenario no longer in the catalog is read from the
        definition stored with the run. Either way the rubric itself comes from the catalog.
        """
        rubric_id: str | None = None
        try:
            scenario = catalog.scenario(run.scenario_id)
        except ImportError:  # a suite whose loader is not installed
            scenario = None
        if scenario is not None:
            rubric_id = scenario.rubric
        elif run.scenario_hash:
            definition = self.scenario_definition(run.scenario_hash)
            if isinstance(definition, dict):
                try:
                    rubric_id = Scenario.model_validate(definition).rubric
                except ValidationError:
                    raw = definition.get("rubric")
                    rubric_id = raw if isinstance(raw, str) else None
        if rubric_id is None:
            return None, f"scenario {run.scenario_id!r} is neither loaded nor stored with the run"
        rubric = catalog.rubrics.get(rubric_id)
        if rubric is None:
            return None, f"rubric {rubric_id!r} (of scenario {run.scenario_id!r}) is not loaded"
        return rubric, ""

    # ---- person judgments

    def judgment_by(self, run_id: str, judge: str, judge_kind: str = "person") -> Judgment | None:
        """This judge's latest judgment of a run, to show when they come back to it."""
        rows = self.query(
            "SELECT * FROM judgments WHERE run_id = ? AND judge = ? AND judge_kind = ? "
            "ORDER BY judgment_id DESC LIMIT 1", (run_id, judge, judge_kind))
        return _row_to_judgment(rows[0]) if rows else None

    def save_judgments(self, judgments: Sequence[Judgment], *, replace: bool = True) -> list[int]:
        """Store judgments in one transaction. With ``replace``, a judge who judges a run again
        (after going back to it) replaces their earlier judgment instead of counting twice."""
        ids: list[int] = []
        with self.transaction() as conn:
            for j in judgments:
                if replace:
                    conn.execute(
                        "DELETE FROM judgments WHERE run_id = ? AND judge = ? AND judge_kind = ? "
                        "AND rubric_id = ?", (j.run_id, j.judge, j.judge_kind, j.rubric_id))
                ids.append(self._insert_judgment(conn, j))
        return ids

    def withdraw_judgment(self, saved: Judgment, replaced: Judgment | None = None) -> None:
        """Take back a judgment just saved (undo), putting back the one it replaced, if any."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM judgments WHERE judgment_id = ?", (saved.judgment_id,))
            if replaced is not None:
                self._insert_judgment(conn, replaced)

    def known_runs(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these run ids exist (for validating an applied file in one query per 500)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(run_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.query(
                f"SELECT run_id FROM runs WHERE run_id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update(r["run_id"] for r in rows)
        return found

    def agreement_judgments(self, rubric_id: str) -> list[Judgment]:
        """Each judge's latest judgment on runs that at least two judges scored with a rubric."""
        rows = self.query(
            """SELECT * FROM judgments WHERE judgment_id IN (
                   SELECT max(judgment_id) FROM judgments WHERE rubric_id = ?
                   GROUP BY run_id, judge, judge_kind)
               AND run_id IN (
                   SELECT run_id FROM judgments WHERE rubric_id = ?
                   GROUP BY run_id HAVING count(DISTINCT judge || '|' || judge_kind) >= 2)
               ORDER BY run_id, judgment_id""", (rubric_id, rubric_id))
        return [_row_to_judgment(r) for r in rows]

    # ---- pairwise

    def pairwise_candidates(self, *, judge: str, across: Literal["models", "batches"] = "models",
                            batch_id: str | None = None, model: str | None = None,
                            scenario_id: str | None = None, limit: int = 50,
                            after: str | None = None) -> list[tuple[str, PairCandidate]]:
        """Pairs of one cell this judge has not compared yet, in a stable shuffled order.

        Returns ``(key, pair)``; pass the last key as ``after`` for the next page.
        """
        self._ensure_shuffle()
        differ = ("a.model < b.model" if across == "models"
                  else "a.model = b.model AND a.batch_id < b.batch_id")
        clauses = [differ]
        params: list[Any] = []
        for value, sql in ((batch_id, "? IN (a.batch_id, b.batch_id)"),
                           (model, "? IN (a.model, b.model)"), (scenario_id, "a.scenario_id = ?")):
            if value is not None:
                clauses.append(sql)
                params.append(value)
        key = "tb_shuffle(a.run_id || b.run_id) || a.run_id || b.run_id"
        if after is not None:
            clauses.append(f"{key} > ?")
            params.append(after)
        rows = self.query(
            f"""SELECT a.run_id AS a_run, b.run_id AS b_run, a.scenario_id, a.tier,
                       a.prompt_version, {key} AS k
                FROM runs a JOIN runs b
                  ON b.scenario_id = a.scenario_id AND b.tier = a.tier
                 AND b.prompt_version = a.prompt_version AND b.specialist = a.specialist
                 AND b.iteration = a.iteration AND b.status = 'ok'
                WHERE a.status = 'ok' AND {' AND '.join(clauses)}
                  AND NOT EXISTS (SELECT 1 FROM pairwise p WHERE p.judge = ? AND (
                      (p.left_run_id = a.run_id AND p.right_run_id = b.run_id) OR
                      (p.left_run_id = b.run_id AND p.right_run_id = a.run_id)))
                ORDER BY k LIMIT ?""", [*params, judge, limit])
        return [(r["k"], PairCandidate(r["a_run"], r["b_run"], r["scenario_id"], r["tier"],
                                       r["prompt_version"])) for r in rows]

    def save_pairwise(self, *, left_run_id: str, right_run_id: str, verdict: str, judge: str,
                      blind: bool = True, notes: str = "") -> int:
        """Store a verdict with the mapping the judge did not see (which model was where)."""
        if verdict not in PAIR_VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(PAIR_VERDICTS)}")
        with self.transaction() as conn:
            sides = {r["run_id"]: r for r in (dict(x) for x in conn.execute(
                "SELECT run_id, model, batch_id, scenario_id, tier, prompt_version FROM runs "
                "WHERE run_id IN (?, ?)", (left_run_id, right_run_id)).fetchall())}
            if left_run_id not in sides or right_run_id not in sides:
                missing = [r for r in (left_run_id, right_run_id) if r not in sides]
                raise ValueError(f"unknown run(s): {', '.join(missing)}")
            left, right = sides[left_run_id], sides[right_run_id]
            cur = conn.execute(
                """INSERT INTO pairwise (left_run_id, right_run_id, left_model, right_model,
                       left_batch_id, right_batch_id, scenario_id, tier, prompt_version,
                       verdict, judge, blind, notes, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (left_run_id, right_run_id, left["model"], right["model"], left["batch_id"],
                 right["batch_id"], left["scenario_id"], left["tier"], left["prompt_version"],
                 verdict, judge, int(blind), notes, utc_now()))
            return int(cur.lastrowid or 0)

    def pairwise_verdicts(self, *, judge: str | None = None, scenario_id: str | None = None,
                          limit: int = 100_000, offset: int = 0) -> list[PairRecord]:
        """Verdicts in the order they were given: the order Elo ratings are computed in."""
        clauses, params = [], []
        if judge is not None:
            clauses.append("judge = ?")
            params.append(judge)
        if scenario_id is not None:
            clauses.append("scenario_id = ?")
            params.append(scenario_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.query(f"SELECT * FROM pairwise {where} ORDER BY verdict_id LIMIT ? OFFSET ?",
                          [*params, limit, offset])
        return [PairRecord(**{**r, "blind": bool(r["blind"])}) for r in rows]


__all__ = [
    "PAIR_VERDICTS",
    "JudgingQueries",
    "PairCandidate",
    "PairRecord",
    "QueueEntry",
    "QueueFilter",
]
