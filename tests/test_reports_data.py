"""Builders for report tests: batches and runs with hand-picked scores (no tests here).

Every run goes through ``store.save_batch`` and ``store.save_run`` with ``RunRecord`` objects,
the way the engine writes them, so the reports read what a real batch leaves behind.
"""

from __future__ import annotations

import itertools
from typing import Any

from tui_bench.domain import BatchSpec, Judgment, RunRecord, Scenario, Telemetry, band_for
from tui_bench.store import Store

_ids = itertools.count(1)


def scenario(scenario_id: str, category: str) -> Scenario:
    return Scenario(id=scenario_id, name=scenario_id, suite="test", category=category,
                    prompt=f"do {scenario_id}")


def run(batch_id: str, model: str, scenario_id: str, score: float | None, *,
        category: str = "code", success: bool | None = None, status: str = "ok",
        tier: str = "L2", prompt_version: str = "v1", specialist: str = "",
        iteration: int = 1, ttft_ms: float | None = None, tps: float | None = None,
        cost: float | None = None, attempts: int = 1, mode: str = "zero-shot",
        output: str = "", run_id: str | None = None) -> tuple[RunRecord, Scenario]:
    """A run with a known score; success defaults to score >= 0.7, as the scorer does."""
    if success is None and score is not None and status == "ok":
        success = score >= 0.7
    record = RunRecord(
        run_id=run_id or f"run_{next(_ids):06d}", batch_id=batch_id, model=model,
        prompt_version=prompt_version, scenario_id=scenario_id, tier=tier,
        specialist=specialist, iteration=iteration, status=status,  # type: ignore[arg-type]
        output=output or f"answer of {model} to {scenario_id}",
        error=None if status == "ok" else "backend failed",
        auto_score=score if status == "ok" else None,
        success=success if status == "ok" else None,
        telemetry=Telemetry(ttft_ms=ttft_ms, tokens_per_s=tps, cost=cost),
        attempts=attempts, mode=mode)
    return record, scenario(scenario_id, category)


def add_batch(store: Store, batch_id: str, runs: list[tuple[RunRecord, Scenario]], *,
              created_at: str, mode: str = "zero-shot", max_iterations: int = 3,
              status: str = "finished", duration_s: int = 60) -> None:
    """Save a batch and its runs, then date it so batches sort in a known order."""
    models = sorted({r.model for r, _ in runs})
    scenarios = sorted({r.scenario_id for r, _ in runs})
    spec = BatchSpec(batch_id=batch_id, models=models or ["embedded:smollm2"],
                     scenarios=scenarios or ["none"], mode=mode,  # type: ignore[arg-type]
                     max_iterations=max_iterations)
    store.save_batch(spec, len(runs))
    for record, scen in runs:
        store.save_run(record.model_copy(update={"batch_id": batch_id}), scen)
    finished = created_at.removesuffix("+00:00")
    minutes, seconds = divmod(duration_s, 60)
    store.set_batch_times(batch_id, created_at=created_at, started_at=created_at,
                          finished_at=f"{finished[:14]}{minutes:02d}:{seconds:02d}+00:00",
                          status=status)


def judge(store: Store, run_id: str, percent: float, *, judge_name: str = "ann",
          kind: str = "person") -> None:
    store.save_judgment(Judgment(
        run_id=run_id, judge=judge_name, judge_kind=kind, rubric_id="code-v1",  # type: ignore
        scores={"all": int(percent)}, total=int(percent), percent=percent,
        band=band_for(percent)))


def at(day: int, hour: int = 0) -> str:
    """A creation time on day ``day`` of January 2025."""
    return f"2025-01-{day:02d}T{hour:02d}:00:00+00:00"


def by_key(rows: list[Any], **match: Any) -> Any:
    """The one row whose attributes equal ``match``."""
    found = [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]
