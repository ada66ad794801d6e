"""How much does tui-bench itself cost per cell, and how fast does it start?

Prints figures and ratios; asserts nothing (speed is measured here, not in timed tests).

    python benchmarks/harness.py            # default sizes
    python benchmarks/harness.py --cells 10000 --model-cells 6

Figures:
- harness cost per cell with an instant backend (total time minus time inside the backend),
  with cheap evaluators only and with the sandboxed `tests` evaluator;
- the same against the real embedded model's time per cell, as a ratio;
- tokens/s through tui-bench (embedded_direct.py compares it with llama-cpp-python called
  directly on the same messages, time to first token included);
- start-up time of `tui-bench --help` and of `tui-bench --run` up to its first cell.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator

from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import load_catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, GenerationOptions
from tui_bench.engine.runner import Runner
from tui_bench.locations import shipped
from tui_bench.settings import Settings
from tui_bench.store import Store

ANSWER = ("```python\ndef fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
          "        s = ('Fizz' if i % 3 == 0 else '') + ('Buzz' if i % 5 == 0 else '')\n"
          "        out.append(s or str(i))\n    return out\n```\n")


class TimedBackend(InstantBackend):
    """An instant backend that adds up the time spent inside its own stream."""

    def __init__(self) -> None:
        super().__init__(ANSWER, pieces=32, concurrency=8)
        self.inside_s = 0.0

    async def chat(self, model: str, messages: Any, options: Any, *,
                   schema: Any = None) -> AsyncIterator[Any]:
        stream = super().chat(model, messages, options, schema=schema)
        while True:
            started = time.perf_counter()
            try:
                chunk = await anext(stream)
            except StopAsyncIteration:
                self.inside_s += time.perf_counter() - started
                return
            self.inside_s += time.perf_counter() - started
            yield chunk


def harness_cost(cells: int, evaluators: list[str], workdir: Path) -> tuple[float, float]:
    """Seconds per cell of harness work (everything but the backend) and cells per second."""
    catalog = load_catalog([shipped("scenarios")])
    base = catalog.scenarios["coding-fizzbuzz"]
    catalog.scenarios["bench"] = base.model_copy(update={
        "id": "bench", "evaluators": [EvaluatorSpec(name=n) for n in evaluators]})
    store = Store(workdir / f"harness-{len(evaluators)}-{cells}.db")
    backend = TimedBackend()
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    spec = BatchSpec(batch_id=f"bench-{len(evaluators)}-{cells}", models=["ollama:instant"],
                     scenarios=["bench"], iterations=cells, concurrency=4,
                     options=GenerationOptions(max_tokens=64))
    started = time.perf_counter()
    result = asyncio.run(runner.run(spec))
    total = time.perf_counter() - started
    assert result.done == cells, result
    store.close()
    return (total - backend.inside_s) / cells, cells / total


def model_cost(cells: int, workdir: Path) -> tuple[float, float, float]:
    """Seconds per cell on the embedded model, its tokens/s through tui-bench, and share of
    the wall time spent outside the backend."""
    catalog = load_catalog([shipped("scenarios")])
    store = Store(workdir / "model.db")
    runner = Runner(store, catalog)
    spec = BatchSpec(batch_id="bench-model", models=["embedded:smollm2"],
                     scenarios=["coding-fizzbuzz"], iterations=cells,
                     options=GenerationOptions(max_tokens=128, temperature=0.0))
    started = time.perf_counter()
    asyncio.run(runner.run(spec))
    total = time.perf_counter() - started
    runs = store.runs("bench-model")
    inside = sum((r.telemetry.total_ms or 0) / 1000 for r in runs)
    tps = statistics.median(r.telemetry.tokens_per_s for r in runs if r.telemetry.tokens_per_s)
    return total / cells, tps, (total - inside) / total


def startup(args: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui_bench", *args], capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000, help="cells on the instant backend")
    parser.add_argument("--model-cells", type=int, default=5, help="cells on the real model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cheap, cheap_rate = harness_cost(args.cells, ["expected_elements", "structure"], work)
        sandbox_cells = max(20, args.cells // 20)
        sandboxed, sandbox_rate = harness_cost(sandbox_cells, ["tests", "expected_elements"], work)
        per_model_cell, through_tps, outside_share = model_cost(args.model_cells, work)
        db = str(work / "startup.db")
        help_s = startup(["--help"])
        run_s = startup(["--run", "--models", f"embedded:{work / 'none.gguf'}", "--scenarios",
                         "coding-fizzbuzz", "--retries", "0", "-q", "--db", db])
    print(f"harness cost per cell, cheap evaluators ({args.cells} cells): "
          f"{cheap * 1000:.2f} ms  ({cheap_rate:.0f} cells/s)")
    print(f"harness cost per cell, sandboxed tests ({sandbox_cells} cells): "
          f"{sandboxed * 1000:.1f} ms  ({sandbox_rate:.1f} cells/s)")
    print(f"embedded model time per cell (128 tokens max, {args.model_cells} cells): "
          f"{per_model_cell * 1000:.0f} ms; share of wall time outside the backend "
          f"{outside_share:.1%}")
    print(f"ratio harness/model per cell: cheap {cheap / per_model_cell:.2%}, "
          f"with sandbox {sandboxed / per_model_cell:.2%}")
    print(f"tokens/s through tui-bench {through_tps:.1f} (against llama-cpp-python direct: "
          "benchmarks/embedded_direct.py)")
    print(f"start-up: tui-bench --help {help_s * 1000:.0f} ms; tui-bench --run to its first "
          f"cell's result (model file missing, so no load) {run_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
