"""What does the agent harness itself cost, per turn and per cell?

An instant scripted model answers every turn with a cheap tool call (``list_directory``) and
the last with a final answer, so what is left of the wall time is tui-bench's own work: the
loop, the tool handler, events, telemetry, and per cell the workspace copy, the diff, the
transcript and the commit. Prints figures; asserts nothing.

    python benchmarks/agent_turn.py               # 20 cells of 1 and of 41 turns
    python benchmarks/agent_turn.py --cells 50 --turns 101
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator

from tui_bench.backends import BackendPool, Done, TextChunk, ToolCallChunk
from tui_bench.catalog import Catalog
from tui_bench.domain import AgentSpec, BatchSpec, EvaluatorSpec, Scenario, ValidationCommand
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

FILES = 30  # a small repository: a package of modules and their tests


class ScriptedAgent:
    """Calls ``list_directory`` until the conversation has ``turns`` assistant turns, then
    stops; counts the time spent inside its own stream."""

    name = "instant"
    default_concurrency = 8

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.inside_s = 0.0

    async def chat(self, model: str, messages: list[dict[str, Any]], options: Any, *,
                   schema: Any = None, tools: Any = None) -> AsyncIterator[Any]:
        started = time.perf_counter()
        done_turns = sum(1 for m in messages if m.get("role") == "assistant")
        chunk: Any
        if done_turns + 1 >= self.turns:
            chunk = TextChunk("done")
        else:
            chunk = ToolCallChunk("list_directory", json.dumps({"path": "pkg"}), "call_0")
        self.inside_s += time.perf_counter() - started
        yield chunk
        yield Done(prompt_tokens=10, completion_tokens=5, total_ms=0.0, done_reason="stop",
                   host="instant.test", extra={"paid_load": False})

    async def list_models(self) -> list[Any]:
        return []

    async def aclose(self) -> None:
        return None


def make_fixture(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    for i in range(FILES // 2):
        (repo / "pkg" / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 20)
        (repo / "tests" / f"test_mod{i}.py").write_text(
            f"from pkg.mod{i} import f{i}\n\n\ndef test_f():\n    assert f{i}(1) == {i + 1}\n")
    return repo


def cost(turns: int, cells: int, work: Path) -> tuple[float, float]:
    """Harness seconds per cell (wall time minus time inside the model), and turns per cell."""
    scenario = Scenario(
        id=f"bench-agent-{turns}", name="bench", suite="bench", category="bench",
        prompt="List the package.", kind="agent", source=str(work / "bench.yaml"),
        evaluators=[EvaluatorSpec(name="expected_elements")], expected_elements=["done"],
        agent=AgentSpec(fixture="repo", max_turns=min(turns, 200), token_budget=10**9,
                        tools=["list_directory"],
                        validation_commands=[ValidationCommand(name="t", run="true")]))
    store = Store(work / f"agent-{turns}-{cells}.db")
    model = ScriptedAgent(turns)
    runner = Runner(store, Catalog(scenarios={scenario.id: scenario}),
                    pool=BackendPool(Settings(), {"ollama": model}))  # type: ignore[dict-item]
    spec = BatchSpec(batch_id=f"bench-{turns}-{cells}", models=["ollama:scripted"],
                     scenarios=[scenario.id], iterations=cells, concurrency=1)
    started = time.perf_counter()
    result = asyncio.run(runner.run(spec))
    total = time.perf_counter() - started
    assert result.done == cells, result
    seen = [store.agent_telemetry(r) for r in result.run_ids]
    mean_turns = sum(t.turns for t in seen if t) / cells
    store.close()
    return (total - model.inside_s) / cells, mean_turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--turns", type=int, default=41, help="turns of the long cells")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_fixture(work)
        cost(1, 2, work)  # warm imports and caches
        short, short_turns = cost(1, args.cells, work)
        long, long_turns = cost(args.turns, args.cells, work)
    per_turn = (long - short) / max(long_turns - short_turns, 1)
    print(f"agent harness cost per cell, 1 turn ({args.cells} cells, {FILES}-file fixture: "
          f"copy, diff, transcript, commit): {short * 1000:.1f} ms")
    print(f"agent harness cost per turn (tool call to list_directory, event, telemetry; "
          f"{long_turns:.0f}-turn cells): {per_turn * 1000:.2f} ms")


if __name__ == "__main__":
    main()
