"""How the batch browser, the leaderboard and a compare hold up on a big database.

Fills a fresh database with ~100,000 runs over ~200 batches (several models, scenarios in four
categories, tiers, specialist on/off, three evaluations per run, some person judgments and a
few iterative batches), then times the queries the screens make, median of several runs:

    /work/venv/bin/python benchmarks/db_scale.py [--runs 100000] [--batches 200] [--db PATH]

Not part of the test run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tui_bench.analysis.compare import compare_batches
from tui_bench.analysis.findings import difficulty, effort, specialist_effect, surprises
from tui_bench.analysis.leaderboard import leaderboard, score_over_time
from tui_bench.analysis.weights import update_weights
from tui_bench.domain import BatchSpec, Evaluation, Judgment, RunRecord, Telemetry, band_for
from tui_bench.store import Store

MODELS = [f"ollama:model-{name}" for name in (
    "qwen2.5:0.5b", "qwen2.5:1.5b", "llama3.2:1b", "llama3.2:3b", "gemma3:1b", "phi4-mini",
    "smollm2:360m", "granite3.1:2b")]
CATEGORIES = ["algorithms", "strings", "data", "writing"]
SCENARIOS = [f"{CATEGORIES[i % 4]}-{i:02d}" for i in range(60)]
CATEGORY_OF = {s: s.rsplit("-", 1)[0] for s in SCENARIOS}
EVALUATORS = ["expected_elements", "tests", "syntax"]


def fill(store: Store, *, runs: int, batches: int, seed: int = 7) -> None:
    """Write ``batches`` batches of about ``runs / batches`` runs each, spread over 200 days."""
    rng = random.Random(seed)
    skill = {m: rng.uniform(0.35, 0.85) for m in MODELS}
    hardness = {s: rng.uniform(-0.3, 0.2) for s in SCENARIOS}
    per_batch = max(1, runs // batches)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    run_number = 0
    for b in range(batches):
        created = start + timedelta(hours=24 * b + rng.randint(0, 20))
        batch_id = f"batch_{created:%Y%m%d_%H%M%S}_{b:04x}"
        models = rng.sample(MODELS, 5)
        specialists = ["", "python-expert"] if b % 3 == 0 else [""]
        tiers = ["L1", "L2"]
        per_cell = len(models) * len(tiers) * len(specialists)
        scenarios = rng.sample(SCENARIOS, max(1, min(len(SCENARIOS), per_batch // per_cell)))
        iterations = max(1, per_batch // (per_cell * len(scenarios)))
        mode = "iterative" if b % 10 == 0 else "zero-shot"
        spec = BatchSpec(batch_id=batch_id, models=models, scenarios=scenarios, tiers=tiers,
                         specialists=specialists, iterations=iterations, mode=mode,
                         max_iterations=3)
        cells = len(models) * len(scenarios) * len(tiers) * len(specialists) * iterations
        store.save_batch(spec, cells)
        records: list[RunRecord] = []
        judgments: list[Judgment] = []
        for model in models:
            for scenario in scenarios:
                for tier in tiers:
                    for specialist in specialists:
                        for iteration in range(1, iterations + 1):
                            run_number += 1
                            run_id = f"run_{run_number:09d}_{rng.randrange(16**6):06x}"
                            base = skill[model] + hardness[scenario] + (0.05 if specialist else 0)
                            status = "error" if rng.random() < 0.02 else "ok"
                            evals = [Evaluation(evaluator=name, score=min(1.0, max(0.0, rng.gauss(
                                base, 0.15))), weight=1.0) for name in EVALUATORS]
                            score = (statistics.fmean(e.score for e in evals)
                                     if status == "ok" else None)
                            tps = rng.uniform(20, 120) * (1.5 - skill[model])
                            began = created + timedelta(seconds=run_number % 3600)
                            records.append(RunRecord(
                                run_id=run_id, batch_id=batch_id, model=model,
                                prompt_version="v1", scenario_id=scenario, tier=tier,
                                specialist=specialist, iteration=iteration, status=status,
                                output="def solve(x):\n    return x\n" * 8,
                                error=None if status == "ok" else "backend timed out",
                                prompt=f"Write {scenario}", started_at=began.isoformat(),
                                finished_at=(began + timedelta(seconds=3)).isoformat(),
                                telemetry=Telemetry(
                                    ttft_ms=rng.uniform(30, 900), total_ms=rng.uniform(500, 9000),
                                    prompt_tokens=rng.randint(40, 400),
                                    completion_tokens=rng.randint(50, 256), tokens_per_s=tps),
                                evaluations=evals if status == "ok" else [],
                                auto_score=score, success=None if score is None else score >= 0.7,
                                attempts=rng.randint(1, 3) if mode == "iterative" else 1,
                                mode=mode))
                            if status == "ok" and rng.random() < 0.02:
                                percent = round(100 * min(1.0, max(0.0, rng.gauss(base, 0.1))))
                                judgments.append(Judgment(
                                    run_id=run_id, judge="me", rubric_id="code-v1",
                                    scores={"all": percent}, total=percent, percent=percent,
                                    band=band_for(percent)))
        store.bulk_save_runs(records, categories=CATEGORY_OF, judgments=judgments)
        store.set_batch_times(batch_id, created_at=created.isoformat(),
                              started_at=created.isoformat(),
                              finished_at=(created + timedelta(minutes=rng.randint(5, 90)))
                              .isoformat(), status="finished")


def touch(store: Store, batch_id: str) -> None:
    """Write to a batch as a running batch would, so its rollup goes stale."""
    with store.transaction() as conn:
        conn.execute("UPDATE runs SET retries = retries WHERE run_id = (SELECT run_id FROM runs "
                     "WHERE batch_id = ? LIMIT 1)", (batch_id,))


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time in milliseconds over ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path, help="database to (re)use; default a temporary file")
    args = parser.parse_args(argv)
    folder = None
    if args.db is None:
        folder = tempfile.TemporaryDirectory()
        args.db = Path(folder.name) / "scale.db"
    fresh = not args.db.exists()
    store = Store(args.db)
    if fresh:
        began = time.perf_counter()
        fill(store, runs=args.runs, batches=args.batches)
        store.conn.execute("ANALYZE")
        print(f"filled in {time.perf_counter() - began:.1f} s")
    counts = store.table_counts()
    print(f"{counts['batches']} batches, {counts['runs']} runs, "
          f"{counts['evaluations']} evaluations, {counts['judgments']} judgments")
    began = time.perf_counter()
    rebuilt = store.refresh_rollup()
    print(f"report rollup: {rebuilt} batches recomputed in "
          f"{(time.perf_counter() - began) * 1000:.0f} ms (once; then only batches written to)")
    update_weights(store)
    page = store.batch_page(limit=50)
    newest, older = page[0]["batch_id"], page[1]["batch_id"]
    figures = {
        "browser first page (50 batches + count)":
            lambda: (store.batch_page(limit=50), store.count_batch_page()),
        "  for comparison: core list_batches (subquery per row)":
            lambda: store.list_batches(limit=50),
        "browser page 3 with a search":
            lambda: (store.batch_page(limit=50, offset=100, search="qwen"),
                     store.count_batch_page(search="qwen")),
        "batch detail first page (200 runs)": lambda: store.batch_runs_page(newest, limit=200),
        "leaderboard (overall + per category)": lambda: leaderboard(store),
        "leaderboard of one batch": lambda: leaderboard(store, batch_id=newest),
        "leaderboard after a new run (one batch re-rolled)":
            lambda: (touch(store, newest), leaderboard(store)),
        "compare two batches": lambda: compare_batches(store, older, newest),
        "score over time": lambda: score_over_time(store, last=30),
        "difficulty": lambda: difficulty(store),
        "specialist effect": lambda: specialist_effect(store),
        "effort": lambda: effort(store),
        "surprises": lambda: surprises(store),
    }
    width = max(len(name) for name in figures)
    for name, fn in figures.items():
        print(f"{name:<{width}}  {timed(fn, args.repeat):8.1f} ms")
    size = store.database_size()
    print(f"database size: {size / 1e6:.1f} MB ({args.db})")
    store.close()
    if folder is not None:
        folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
