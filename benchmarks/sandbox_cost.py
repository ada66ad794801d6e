"""What does the sandbox cost per run? The `tests` evaluator on a small answer, median of N.

Prints a figure and asserts nothing. ``TUI_BENCH_SANDBOX=fallback`` measures the fallback layers instead.

    python benchmarks/sandbox_cost.py            # 20 runs
    python benchmarks/sandbox_cost.py --runs 50
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from tui_bench.catalog import load_catalog
from tui_bench.locations import shipped
from tui_bench.scoring.registry import EvalInput
from tui_bench.scoring.registry import get as get_evaluator

ANSWER = ("def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
          "        s = ('Fizz' if i % 3 == 0 else '') + ('Buzz' if i % 5 == 0 else '')\n"
          "        out.append(s or str(i))\n    return out\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import tui_bench.scoring  # noqa: F401 - registers the evaluators

    catalog = load_catalog([shipped("scenarios")])
    scenario = catalog.scenarios["coding-fizzbuzz"]
    evaluator = get_evaluator("tests")
    assert evaluator is not None
    inp = EvalInput(scenario=scenario, output=ANSWER, code=ANSWER, options={})
    evaluator.fn(inp)  # the first run pays for the isolation probe
    times: list[float] = []
    detail: dict = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(args.runs):
        started = time.perf_counter()
        result = evaluator.fn(inp)
        times.append(time.perf_counter() - started)
        detail = result.detail  # type: ignore[union-attr]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / args.runs
    print(f"sandbox cost per run (tests evaluator, {detail.get('passed')}/{detail.get('total')} "
          f"passed, isolation {detail.get('isolation', 'n/a')}): median "
          f"{statistics.median(times) * 1000:.0f} ms over {args.runs} runs "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); "
          f"CPU in the sandbox's processes {cpu * 1000:.0f} ms per run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
