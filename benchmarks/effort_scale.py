"""The effort report and a calibration's analysis over many stored refine runs.

    python benchmarks/effort_scale.py [--runs 100000]

Fills a fresh database with refine runs (models × thresholds, effort rising with T plus noise)
through the store's own ``save_run``, then times what the reports screen and
``tui-bench calibrate --show`` do: read the outcomes, the effort rows with their intervals,
validation and the threshold search.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from tui_bench.analysis.effort import calibrate, refine_effort
from tui_bench.domain import BatchSpec, RefineTelemetry, RunRecord
from tui_bench.store import Store

THRESHOLDS = (3, 5, 7, 9)
MODELS = ("ollama:a", "ollama:b")


def fill(store: Store, runs: int) -> None:
    rng = random.Random(7)
    per = runs // (len(MODELS) * len(THRESHOLDS))
    for model in MODELS:
        for t in THRESHOLDS:
            batch = f"bench_{model[-1]}_t{t}"
            store.save_batch(BatchSpec(batch_id=batch, models=[model], scenarios=["s"],
                                       mode="refine", refine_threshold=t), per)
            for i in range(per):
                new = min(4, max(0, round(t / 2.5 + rng.gauss(0, 1))))
                refine = RefineTelemetry(threshold=t, max_new_answers=4, new_answer_count=new,
                                         first_score=0.3, final_score=0.3 + 0.1 * new,
                                         end_reason="stopped")
                store.save_run(RunRecord(
                    run_id=f"r_{batch}_{i}", batch_id=batch, model=model, prompt_version="v1",
                    scenario_id=f"s{i % 7}", tier="L2", iteration=i // 7 + 1, mode="refine",
                    attempts=new + 2, refine=refine))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "effort.db")
        started = time.perf_counter()
        fill(store, args.runs)
        print(f"stored {args.runs:,} refine runs in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        outcomes = store.refine_outcomes()
        read = time.perf_counter() - started
        started = time.perf_counter()
        report = refine_effort(store)
        whole = time.perf_counter() - started
        import scipy.stats  # noqa: F401 - its first import (~0.5 s) is not the analysis

        started = time.perf_counter()
        found = calibrate(outcomes, {"low": 0.25, "medium": 0.5, "high": 0.85})
        analysis = time.perf_counter() - started
        print(f"read outcomes: {read * 1000:.0f} ms · effort report (read + rows): "
              f"{whole * 1000:.0f} ms for {len(report.by_threshold)} rows · calibration "
              f"analysis: {analysis * 1000:.0f} ms, "
              f"{sum(bool(m.levels) for m in found.models)} of {len(found.models)} calibrated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
