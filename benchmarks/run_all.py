"""Every speed figure tui-bench tracks, in one go: run this and read the output.

    python benchmarks/run_all.py            # full sizes (several minutes on two cores)
    python benchmarks/run_all.py --quick    # smaller sizes, same figures

It runs, each in its own process so one cannot warm the other's caches:
- harness.py: harness cost per cell (instant backend), tokens/s through tui-bench against
  llama-cpp-python directly, start-up time of `tui-bench --run`;
- db_scale.py: the database at 100,000 runs (browser first page, leaderboard, compare);
- judge_latency.py: key press to update in the judging screen while a batch streams;
- tui_latency.py: key press to update in the live run screen while a batch streams;
- sandbox_cost.py: the sandbox's cost per `tests` run;
- agent_turn.py: the agent harness's own cost per turn and per cell (scripted instant model);
- effort_scale.py: the effort report and a calibration's analysis over 100,000 refine runs;
- embedded_direct.py: the embedded backend against llama-cpp-python called directly, same
  messages: time to first token and tokens/s;
- peers.py: cells/s and capacity used against loopback servers (defaults, --adaptive, -j),
  harness CPU per cell, start-up, and Inspect and promptfoo where installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    quick = args.quick
    steps = [
        ("harness.py", ["--cells", "1000", "--model-cells", "3"] if quick else ["--cells", "10000"]),
        ("db_scale.py", ["--runs", "20000", "--batches", "40"] if quick else []),
        ("judge_latency.py", ["--presses", "30"] if quick else []),
        ("tui_latency.py", []),
        ("agent_turn.py", ["--cells", "10"] if quick else []),
        ("sandbox_cost.py", ["--runs", "10"] if quick else []),
        ("effort_scale.py", ["--runs", "20000"] if quick else []),
        ("embedded_direct.py", ["--rounds", "2", "--cells", "2"] if quick else []),
        ("peers.py", ["--quick"] if quick else []),
    ]
    failed = 0
    for script, extra in steps:
        print(f"\n== {script} {' '.join(extra)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / script), *extra])
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
