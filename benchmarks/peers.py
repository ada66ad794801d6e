"""tui-bench against its peers on the same loopback servers: cells/s, capacity used, cost, start-up.

Starts loopback model servers (``tests/servers/capacity_server.py``: OpenAI and Ollama APIs,
a set number of slots, each request held ``--service-ms`` before its answer streams) in a
process of their own, and runs, each on a fresh database:

- tui-bench at its defaults, with ``--adaptive`` and with an explicit ``-j`` against one
  64-slot OpenAI-compatible server (a vLLM replica), and at defaults against eight one-slot
  Ollama hosts: cells/s and the share of the servers' capacity used (served requests' time over
  the servers' slot-time, as the servers measured it);
- the harness's own cost per cell against an instant server (CPU time of the tui-bench process
  per cell, and wall time per cell), steady state, in process;
- start-up of ``tui-bench --run`` to its first stored result against an instant server;
- Inspect and promptfoo on the same 64-slot server at their defaults and at their best
  concurrency, where installed, and the ratios. They are not dependencies of tui-bench;
  install them outside the project (see the README, "Measuring tui-bench itself"), and point
  ``--inspect`` / ``--promptfoo`` at their executables (or put them on PATH).

    python benchmarks/peers.py            # the full run (a few minutes)
    python benchmarks/peers.py --quick    # fewer cells
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """id: peer-add
name: Peer comparison, one short answer
suite: peers
category: chat
prompt: Write a Python function add(a, b) that returns the sum of a and b.
expected_elements: ["def add"]
evaluators:
  - {name: expected_elements, weight: 1}
max_tokens: 64
"""
PROMPT = "Write a Python function add(a, b) that returns the sum of a and b."


@contextmanager
def servers(count: int, slots: int, service_ms: float) -> Iterator[tuple[list[str], Path]]:
    """Loopback servers in their own process; yields their URLs and the stats file they
    write when stopped."""
    stats = Path(tempfile.mkstemp(suffix=".json")[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.capacity_server", "--count", str(count),
         "--slots", str(slots), "--service-ms", str(service_ms), "--stats-file", str(stats)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    urls = proc.stdout.readline().split()
    try:
        yield urls, stats
    finally:
        proc.terminate()
        proc.wait(10)


def server_stats(stats: Path) -> dict[str, float]:
    return json.loads(stats.read_text()) if stats.exists() and stats.stat().st_size else {}


TARGET = ROOT
"""The checkout whose tui-bench is measured (``--target``: an older copy, for before/after)."""


def tui_bench(args: list[str], work: Path, cells: int) -> float | None:
    """Wall seconds of one headless batch of ``cells`` cells (a new database each time);
    ``None`` when this tui-bench refuses the flags (an older one, measured for comparison)."""
    scenarios = work / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "peer-add.yaml").write_text(SCENARIO)
    db = work / f"bench-{time.monotonic_ns()}.db"
    command = [sys.executable, "-m", "tui_bench", "--run", "--scenarios-dir", str(scenarios),
               "--scenarios", "peer-add", "--iterations", str(cells), "-q", "--db", str(db),
               "--openai-api-key", "x", *args]
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=TARGET, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(TARGET)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"  tui-bench failed: {done.stderr.strip().splitlines()[-1][:200]}")
        return None
    return elapsed


def capacity_run(label: str, args: list[str], count: int, slots: int, service_ms: float,
                 cells: int, work: Path) -> dict[str, float]:
    with servers(count, slots, service_ms) as (urls, stats):
        hosts = ([a for url in urls for a in ("--ollama-host", url)] if "ollama" in label
                 else ["--openai-base-url", urls[0]])
        elapsed = tui_bench([*hosts, *args], work, cells)
    if elapsed is None:
        return {"rate": 0.0, "share": 0.0, "wall": 0.0}
    seen = server_stats(stats)
    capacity = count * slots / (service_ms / 1000)
    # The batch as the servers saw it (first request to last answer): start-up is reported
    # on its own below.
    rate = seen.get("served", 0) / seen["window_s"] if seen.get("window_s") else 0.0
    print(f"  {label:<38} {rate:6.1f} cells/s = {rate / capacity:4.0%} of capacity "
          f"({capacity:.0f}/s); slots busy {seen.get('busy_share', 0):4.0%}; most at once "
          f"{seen.get('most_at_once', 0)}; {cells / elapsed:.1f} cells/s counting start-up")
    return {"rate": rate, "share": rate / capacity, "wall": cells / elapsed}


COST_PROBE = """
import asyncio, json, sys, time
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, GenerationOptions, Scenario
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

url, cells, db, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
scenario = Scenario(id="peer-add", name="add", suite="peers", category="chat",
                    prompt="Write a Python function add(a, b).", expected_elements=["def add"],
                    evaluators=[EvaluatorSpec(name="expected_elements")], max_tokens=64)
catalog = Catalog(scenarios={"peer-add": scenario}, rubrics={})

async def batch(pool, store, n, name):
    spec = BatchSpec(batch_id=name, models=[f"{backend}:loopback"], scenarios=["peer-add"],
                     iterations=n, options=GenerationOptions(max_tokens=64),
                     concurrency=64 if backend == "ollama" else None)
    result = await Runner(store, catalog, pool=pool).run(spec)
    assert result.done == n, result

async def measure():
    store = Store(db)
    pool = BackendPool(Settings(openai_base_url=url, openai_api_key="x") if backend == "openai"
                       else Settings(ollama_hosts=[url]))
    await batch(pool, store, 100, "warm")
    wall, cpu = time.perf_counter(), time.process_time()
    await batch(pool, store, cells, "measured")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await pool.aclose()
    print(json.dumps([cpu / cells * 1000, wall / cells * 1000]))

asyncio.run(measure())
"""


def harness_cost(cells: int, target: Path, backend: str = "openai") -> tuple[float, float]:
    """CPU and wall ms per cell of the tui-bench process, steady state (after a warm-up batch:
    imports, connections), against an instant server; ``target`` is the checkout measured,
    ``backend`` the API it speaks (``openai`` or ``ollama``, 64 at once)."""
    with servers(1, 64, 0) as (urls, _), tempfile.TemporaryDirectory() as tmp:
        probe = [sys.executable, "-c", COST_PROBE, urls[0], str(cells), str(Path(tmp) / "c.db"),
                 backend]
        done = subprocess.run(probe, check=False, cwd=target, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(target)})
    if done.returncode != 0:
        raise SystemExit(f"cost probe failed: {done.stderr.strip()[-500:]}")
    cpu, wall = json.loads(done.stdout.strip().splitlines()[-1])
    return float(cpu), float(wall)


def startup(work: Path, repeats: int = 7) -> tuple[float, float]:
    """``tui-bench --run`` of one cell against an instant server: seconds from launch to its
    first result line (jsonl), best of ``repeats`` (a busy machine only ever adds), and the
    CPU seconds the whole process used (median; load-independent)."""
    import resource

    scenarios = work / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "peer-add.yaml").write_text(SCENARIO)
    times, cpus = [], []
    with servers(1, 64, 0) as (urls, _):
        for number in range(repeats):
            command = [sys.executable, "-m", "tui_bench", "--run", "--scenarios-dir",
                       str(scenarios), "--scenarios", "peer-add", "--progress", "jsonl",
                       "--db", str(work / f"startup-{number}.db"), "--openai-base-url",
                       urls[0], "--openai-api-key", "x", "--models", "openai:loopback"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            proc = subprocess.Popen(command, cwd=TARGET, stdout=subprocess.PIPE, text=True,
                                    stderr=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONPATH": str(TARGET)})
            assert proc.stdout is not None
            for line in proc.stdout:
                if '"cell_finished"' in line:
                    times.append(time.perf_counter() - started)
                    break
            proc.wait(30)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    cpus.sort()
    return min(times), cpus[len(cpus) // 2]


def inspect_rate(exe: str, url: str, cells: int, connections: int | None,
                 work: Path) -> float:
    task = work / "peer_task.py"
    task.write_text(
        "from inspect_ai import Task, task\nfrom inspect_ai.dataset import Sample\n"
        "from inspect_ai.scorer import includes\nfrom inspect_ai.solver import generate\n\n"
        "@task\ndef peer():\n"
        f"    return Task(dataset=[Sample(input={PROMPT!r}, target='def add', id=i)"
        f" for i in range({cells})], solver=generate(), scorer=includes())\n")
    command = [exe, "eval", task.name, "--model", "openai/loopback", "-M",
               "responses_api=false", "--log-dir", str(work / "inspect-logs"),
               "--display", "none", "--max-tokens", "64"]
    if connections:
        command += ["--max-connections", str(connections)]
    env = {**os.environ, "OPENAI_BASE_URL": url + "/v1", "OPENAI_API_KEY": "x",
           "INSPECT_LOG_LEVEL": "error"}
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=work, capture_output=True, text=True,
                          env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"  inspect failed: {done.stderr.strip()[-300:]}")
        return 0.0
    return cells / elapsed


def promptfoo_rate(exe: str, url: str, cells: int, jobs: int | None, work: Path) -> float:
    config = work / "promptfooconfig.json"
    config.write_text(json.dumps({
        "prompts": [PROMPT + " (case {{n}})"],
        "providers": [{"id": "openai:chat:loopback",
                       "config": {"apiBaseUrl": url + "/v1", "apiKey": "x", "max_tokens": 64}}],
        "tests": [{"vars": {"n": i}, "assert": [{"type": "contains", "value": "def add"}]}
                  for i in range(cells)]}))
    command = [exe, "eval", "-c", str(config), "--no-cache", "--no-write", "--no-table"]
    if jobs:
        command += ["-j", str(jobs)]
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=work, capture_output=True, text=True,
                          env=env)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 100):  # 100: some assertion failed, the run itself worked
        print(f"  promptfoo failed: {done.stderr.strip()[-300:]}")
        return 0.0
    return cells / elapsed


def peer(label: str, rate_of: object, exe: str | None, cells: int, default: int | None,
         best: int, ours: dict[str, float], work: Path, service_ms: float) -> None:
    """A peer at its defaults and at ``best`` at once; rates as the servers saw the batch and
    counting start-up, each against tui-bench's at defaults."""
    if not exe:
        print(f"  {label}: not installed (see --{label.lower()})")
        return
    for name, setting in (("defaults", default), (f"best, {best} at once", best)):
        with servers(1, 64, service_ms) as (urls, stats):
            wall = rate_of(exe, urls[0], cells, setting, work)  # type: ignore[operator]
        seen = server_stats(stats)
        rate = seen.get("served", 0) / seen["window_s"] if seen.get("window_s") else 0.0
        served = int(seen.get("served", 0))
        if served != cells:
            print(f"  ({label} sent {served} requests for {cells} cells)")
        print(f"  {label} at {name:<22} {rate:6.1f} cells/s ({wall:.1f} counting start-up); "
              f"tui-bench at defaults does {ours['rate'] / rate if rate else float('nan'):.1f}x"
              f" ({ours['wall'] / wall if wall else float('nan'):.1f}x counting start-up)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cells")
    parser.add_argument("--service-ms", type=float, default=200.0)
    parser.add_argument("--inspect", default=shutil.which("inspect"),
                        help="Inspect's executable (default: on PATH)")
    parser.add_argument("--promptfoo", default=shutil.which("promptfoo"),
                        help="promptfoo's executable (default: on PATH)")
    parser.add_argument("--skip", default="", help="comma-separated: ours,cost,startup,peers")
    parser.add_argument("--target", type=Path, default=ROOT,
                        help="measure the tui-bench of this checkout (e.g. an older one)")
    args = parser.parse_args()
    global TARGET
    TARGET = args.target.resolve()
    skip = set(args.skip.split(","))
    big = 320 if args.quick else 640
    small = 100 if args.quick else 200
    ms = args.service_ms
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = {"rate": 0.0, "wall": 0.0}
        if "ours" not in skip:
            print(f"tui-bench, loopback servers holding each request {ms:g} ms:")
            one = ["--models", "openai:loopback"]
            ours = capacity_run("one 64-slot OpenAI server, defaults", one, 1, 64, ms, big,
                                work)
            capacity_run("one 64-slot OpenAI server, --adaptive", [*one, "--adaptive"], 1, 64,
                         ms, big, work)
            capacity_run("one 64-slot OpenAI server, -j 64", [*one, "-j", "64"], 1, 64, ms,
                         big, work)
            capacity_run("eight 1-slot ollama hosts, defaults", ["--models", "ollama:loopback"],
                         8, 1, ms, small, work)
        if "cost" not in skip:
            for backend in ("openai", "ollama"):
                cpu, wall = harness_cost(500 if args.quick else 2000, TARGET, backend)
                print(f"harness cost per cell, instant {backend} server, steady state: "
                      f"{cpu:.2f} ms CPU, {wall:.2f} ms wall")
        if "startup" not in skip:
            wall, cpu = startup(work)
            print(f"start-up of tui-bench --run to its first result, instant server: "
                  f"{wall:.2f} s (best of 7); CPU of the whole one-cell run {cpu:.2f} s")
        if "peers" not in skip:
            print("peers on one 64-slot OpenAI server:")
            peer("Inspect", inspect_rate, args.inspect, big, None, 64, ours, work, ms)
            peer("promptfoo", promptfoo_rate, args.promptfoo, big, None, 64, ours, work, ms)


if __name__ == "__main__":
    main()
