"""The embedded backend against llama-cpp-python called directly: time to first token, tokens/s.

Both sides get exactly the same messages (a system prompt included: the ones tui-bench stored
for its runs are replayed), the same model file, context size, threads, max tokens,
temperature and seed. tui-bench runs cells through the runner (cheap evaluators only, so
scoring does not compete with generation for the CPU); direct use calls
``create_chat_completion`` in a loop as a script would. Rounds alternate between the two so a
machine whose load changes treats both alike; the first call of each side (loading the model)
is left out. Time to first token through tui-bench is the runner's own measure, from the
request to the first text chunk.

    python benchmarks/embedded_direct.py [--rounds 3] [--cells 4] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tui_bench.backends import BackendPool
from tui_bench.catalog import load_catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, GenerationOptions
from tui_bench.engine.runner import Runner
from tui_bench.locations import shipped, smollm2_path
from tui_bench.settings import Settings
from tui_bench.store import Store

SYSTEM = "You are a careful Python programmer. Answer with one short code block."


async def through_tui_bench(runner: Runner, store: Store, cells: int,
                            options: GenerationOptions, name: str) -> list[Any]:
    spec = BatchSpec(batch_id=name, models=["embedded:smollm2"], scenarios=["bench-fizzbuzz"],
                     iterations=cells, options=options)
    result = await runner.run(spec)
    assert result.done == cells, [r.error for r in store.runs(name)]
    return store.runs(name)


def direct(llm: Any, messages: list[dict[str, str]], options: GenerationOptions,
           calls: int) -> list[tuple[float, float]]:
    """(ms to first token, tokens/s) per call, as the backend counts them."""
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        first = None
        count = 0
        for chunk in llm.create_chat_completion(
                messages=messages, max_tokens=options.max_tokens, stream=True,
                temperature=options.temperature, seed=options.seed):
            if chunk["choices"][0]["delta"].get("content"):
                count += 1
                first = first or time.perf_counter()
        ended = time.perf_counter()
        if first is not None:
            out.append(((first - started) * 1000, count / (ended - first)))
    return out


def main() -> None:
    asyncio.run(compare())


async def compare() -> None:
    """One event loop for the whole comparison (a runner belongs to one loop)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cells", type=int, default=4, help="cells (and direct calls) a round")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    from llama_cpp import Llama

    catalog = load_catalog([shipped("scenarios")])
    base = catalog.scenarios["coding-fizzbuzz"]
    catalog.scenarios["bench-fizzbuzz"] = base.model_copy(update={
        "id": "bench-fizzbuzz", "system": SYSTEM,
        "evaluators": [EvaluatorSpec(name="expected_elements")]})
    options = GenerationOptions(max_tokens=args.max_tokens, temperature=0.0, seed=42)
    threads = max(1, (os.cpu_count() or 2) // 2)  # the backend's default, both sides
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "embedded.db")
        runner = Runner(store, catalog, pool=BackendPool(Settings()))
        runs = await through_tui_bench(runner, store, 1, options, "warm")  # loads the model
        run = runs[0]
        messages = ([{"role": "system", "content": run.system}] if run.system else []) + [
            {"role": "user", "content": run.prompt}]
        assert messages[0]["content"] == SYSTEM
        llm = Llama(model_path=str(smollm2_path()), n_ctx=options.num_ctx, verbose=False,
                    n_threads=threads, n_threads_batch=threads)
        direct(llm, messages, options, 1)  # warm, like the first cell
        for number in range(args.rounds):
            for r in await through_tui_bench(runner, store, args.cells, options,
                                             f"round-{number}"):
                assert r.prompt == run.prompt and r.system == run.system  # same messages
                if r.telemetry.ttft_ms is not None and r.telemetry.tokens_per_s:
                    ours.append((r.telemetry.ttft_ms, r.telemetry.tokens_per_s))
            theirs.extend(direct(llm, messages, options, args.cells))
        await runner.pool.aclose()
        store.close()
    ttft_ours = statistics.median(t for t, _ in ours)
    ttft_direct = statistics.median(t for t, _ in theirs)
    tps_ours = statistics.median(r for _, r in ours)
    tps_direct = statistics.median(r for _, r in theirs)
    print(f"same messages (system prompt included), {len(ours)} cells vs {len(theirs)} calls, "
          f"max {args.max_tokens} tokens, {threads} thread(s):")
    print(f"  time to first token: tui-bench {ttft_ours:.2f} ms, direct {ttft_direct:.2f} ms, "
          f"ratio (direct/tui-bench) {ttft_direct / ttft_ours:.2f}")
    print(f"  tokens/s: tui-bench {tps_ours:.1f}, direct {tps_direct:.1f}, "
          f"ratio (tui-bench/direct) {tps_ours / tps_direct:.2f}")


if __name__ == "__main__":
    main()
