"""The engine: plan the grid, run cells on the real embedded model, resume, retry, iterate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tui_bench.backends import BackendPool
from tui_bench.backends.base import Done, TextChunk
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.events import BatchFinished, BatchStarted, CellFinished, CellRetrying, Token
from tui_bench.engine.plan import new_batch_id, new_run_id, plan
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

RUBRIC = """
id: code-v1
name: Code
criteria:
  - {id: correctness, name: Correctness, max: 20, anchors: {0: fails, 20: passes}}
"""
SCENARIO = """
id: coding-double
name: Double a number
suite: coding
category: algorithms
prompt: "Write a Python function double(x) that returns x times two. Reply with code only."
entry_point: double
expected_elements: ["def double", "return"]
tests: |
  def test_two():
      assert double(2) == 4
  def test_negative():
      assert double(-3) == -6
evaluators:
  - {name: tests, weight: 0.7}
  - {name: expected_elements, weight: 0.3}
"""
RIGHT = "```python\ndef double(x):\n    return x * 2\n```"
WRONG = "```python\ndef double(x):\n    return x + 2\n```"


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    (tmp_path / "scen" / "rubrics").mkdir(parents=True)
    (tmp_path / "scen" / "rubrics" / "code.yaml").write_text(RUBRIC)
    (tmp_path / "scen" / "double.yaml").write_text(SCENARIO)
    (tmp_path / "scen" / "triple.yaml").write_text(
        SCENARIO.replace("coding-double", "coding-triple"))
    loaded = load_catalog([tmp_path / "scen"])
    assert loaded.problems == []
    return loaded


def spec(**kw: Any) -> BatchSpec:
    base = dict(batch_id=new_batch_id(), models=["embedded:smollm2"],
                scenarios=["coding-double"], options=GenerationOptions(max_tokens=24))
    base.update(kw)
    return BatchSpec(**base)


class Scripted(InstantBackend):
    """Answers from a list, one per call: enough to prove the iterative loop's plumbing."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__()
        self.answers = answers

    async def chat(self, model, messages, options, *, schema=None):  # type: ignore[override]
        self.requests.append({"messages": messages})
        yield TextChunk(self.answers[min(len(self.requests), len(self.answers)) - 1])
        yield Done(completion_tokens=5, prompt_tokens=10, eval_ms=10.0, host="scripted")


def test_identifiers() -> None:
    assert new_batch_id().startswith("batch_") and len(new_batch_id()) == len("batch_20260101_000000_abcd")
    run_id = new_run_id()
    assert run_id.startswith("run_") and len(run_id.split("_")[2]) == 6


def test_plan_groups_by_model_and_can_interleave() -> None:
    grid = spec(models=["embedded:smollm2", "ollama:a"], scenarios=["x", "y"], tiers=["L1", "L2"],
                iterations=2)
    cells = plan(grid)
    assert len(cells) == 2 * 2 * 2 * 2
    assert [c.model for c in cells[:8]] == ["embedded:smollm2"] * 8
    mixed = plan(grid.model_copy(update={"group_by_model": False}))
    assert [c.model for c in mixed[:2]] == ["embedded:smollm2", "ollama:a"]
    assert {c.key for c in mixed} == {c.key for c in cells}


@pytest.mark.slow
async def test_batch_on_the_embedded_model(store: Store, catalog: Catalog) -> None:
    events: list[Any] = []
    runner = Runner(store, catalog, on_event=events.append)
    result = await runner.run(spec(scenarios=["coding-double", "coding-triple"]))
    await runner.pool.aclose()
    assert (result.done, result.failed, result.status) == (2, 0, "finished")
    runs = store.runs(result.batch_id, with_evaluations=True)
    assert len(runs) == 2
    for run in runs:
        tel = run.telemetry
        assert run.output and run.status == "ok"
        assert 0 < tel.completion_tokens <= 24 and tel.prompt_tokens > 10
        assert tel.ttft_ms > 0 and tel.total_ms >= tel.ttft_ms and tel.tokens_per_s > 1
        assert tel.options["max_tokens"] == 24 and tel.options["seed"] == 42
        assert {e.evaluator for e in run.evaluations} == {"tests", "expected_elements"}
        assert run.auto_score is not None and run.success == (run.auto_score >= 0.7)
    # The warmup call paid the model's load, so no measured cell did; its time is kept apart.
    assert [r.telemetry.paid_load for r in runs] == [False, False]
    warmups = store.batch_environment(result.batch_id)["warmups"]
    assert list(warmups) == ["embedded:smollm2 ctx=2048"] and warmups[
        "embedded:smollm2 ctx=2048"] > 0
    assert all(r.environment["warmup_ms"] > 0 for r in runs)
    kinds = [type(e) for e in events]
    assert kinds[0] is BatchStarted and kinds[-1] is BatchFinished
    assert kinds.count(CellFinished) == 2 and Token in kinds
    assert store.get_batch(result.batch_id)["status"] == "finished"


@pytest.mark.slow
async def test_interrupted_batch_resumes_without_redoing_or_duplicating(
        store: Store, catalog: Catalog) -> None:
    grid = spec(scenarios=["coding-double", "coding-triple"], iterations=2)
    runner: Runner

    def stop_after_first(event: Any) -> None:
        if isinstance(event, CellFinished):
            runner.cancel()

    runner = Runner(store, catalog, on_event=stop_after_first)
    first = await runner.run(grid)
    await runner.pool.aclose()
    assert first.status == "cancelled" and first.done == 1
    assert store.get_batch(grid.batch_id)["status"] == "cancelled"
    # Only the cell that had reached the model is kept as cancelled; queued ones left no row.
    assert store.count_runs(grid.batch_id, status="cancelled") <= 1
    # What the result counts is what the store holds (queued cells were never runs).
    assert first.cancelled == store.count_runs(grid.batch_id, status="cancelled")
    kept = {r.run_id for r in store.runs(grid.batch_id, status="ok")}

    again = Runner(store, catalog)
    second = await again.run(store.batch_spec(grid.batch_id), resume=True)
    await again.pool.aclose()
    assert second.skipped == 1 and second.done == 3 and second.status == "finished"
    runs = store.runs(grid.batch_id)
    assert len(runs) == 4 and all(r.status == "ok" for r in runs)
    assert len({r.cell_key for r in runs}) == 4
    assert kept <= {r.run_id for r in runs}, "the finished cell was not run again"


async def test_transient_faults_are_retried_within_bounds(store: Store, catalog: Catalog) -> None:
    flaky = InstantBackend(RIGHT, fail_times=2)
    settings = Settings(max_retries=2, retry_base_s=0.01)
    events: list[Any] = []
    runner = Runner(store, catalog, pool=BackendPool(settings, {"ollama": flaky}),
                    on_event=events.append)
    result = await runner.run(spec(models=["ollama:flaky"]))
    assert result.done == 1
    run = store.runs(result.batch_id)[0]
    assert run.retries == 2 and run.success is True
    assert sum(isinstance(e, CellRetrying) for e in events) == 2

    broken = InstantBackend(RIGHT, fail_times=10)
    runner = Runner(store, catalog, pool=BackendPool(settings, {"ollama": broken}))
    result = await runner.run(spec(models=["ollama:down"]))
    run = store.runs(result.batch_id)[0]
    assert result.failed == 1 and run.status == "error" and run.retries == 2
    assert "instant.test" in run.error and "after 2 retries" in run.error
    assert broken.calls == 3

    fatal = InstantBackend(RIGHT, fail_times=10, transient=False)
    runner = Runner(store, catalog, pool=BackendPool(settings, {"ollama": fatal}))
    await runner.run(spec(models=["ollama:fatal"]))
    assert fatal.calls == 1, "a permanent fault is not retried"


async def test_a_stalled_stream_fails_the_cell_not_the_batch(store: Store,
                                                              catalog: Catalog) -> None:
    class Stalling(InstantBackend):
        async def chat(self, model, messages, options, *, schema=None):  # type: ignore[override]
            yield TextChunk("def double(x):")
            await asyncio.sleep(30)

    settings = Settings(max_retries=0, stall_timeout_s=0.2)
    runner = Runner(store, catalog, pool=BackendPool(settings, {"ollama": Stalling()}))
    result = await runner.run(spec(models=["ollama:stall"],
                                   scenarios=["coding-double", "coding-triple"]))
    # The batch ran to its end; with every cell errored it says "failed", not "finished".
    assert result.failed == 2 and result.status == "failed"
    assert all("stream stalled" in r.error for r in store.runs(result.batch_id))


async def test_iterative_mode_sends_failures_back(store: Store, catalog: Catalog) -> None:
    backend = Scripted([WRONG, RIGHT])
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    result = await runner.run(spec(models=["ollama:s"], mode="iterative", max_iterations=3))
    run = store.runs(result.batch_id)[0]
    assert (run.attempts, run.first_success, run.success) == (2, False, True)
    feedback = backend.requests[1]["messages"][-1]["content"]
    assert "passed 1 of 2 tests" in feedback and "test_negative" in feedback
    assert backend.requests[1]["messages"][-2] == {"role": "assistant", "content": WRONG}
    attempts = store.attempts(run.run_id)
    assert [a.success for a in attempts] == [False, True] and attempts[0].output == WRONG


async def test_comparative_mode_reports_what_iterating_bought(store: Store,
                                                               catalog: Catalog) -> None:
    from tui_bench.analysis.summary import batch_summary

    backend = Scripted([WRONG, WRONG, WRONG])
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    result = await runner.run(spec(models=["ollama:s"], mode="comparative", max_iterations=3,
                                   scenarios=["coding-double"]))
    summary = batch_summary(store, result.batch_id)["summary"]["comparative"]
    assert summary["cells"] == 1
    assert summary["zero_shot"]["success_rate"] == 0.0
    assert summary["iterative"]["success_rate"] == 0.0 and summary["iterative"]["attempts"] == 3
    assert summary["zero_shot"]["completion_tokens"] == 5
    assert summary["iterative"]["completion_tokens"] == 15


@pytest.mark.slow
async def test_iterative_mode_on_the_embedded_model(store: Store, catalog: Catalog) -> None:
    runner = Runner(store, catalog)
    result = await runner.run(spec(mode="iterative", max_iterations=2))
    await runner.pool.aclose()
    run = store.runs(result.batch_id)[0]
    attempts = store.attempts(run.run_id)
    assert run.status == "ok" and len(attempts) == run.attempts
    if run.first_success:
        assert run.attempts == 1
    else:
        assert run.attempts == 2 and attempts[0].feedback


async def test_a_broken_listener_loses_nothing(store: Store, catalog: Catalog) -> None:
    def explode(event: Any) -> None:
        raise RuntimeError("listener bug")

    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": InstantBackend(RIGHT)}),
                    on_event=explode)
    result = await runner.run(spec(models=["ollama:x"]))
    assert result.done == 1 and store.count_runs(result.batch_id) == 1


async def test_unknown_scenario_is_refused_before_anything_is_stored(
        store: Store, catalog: Catalog) -> None:
    runner = Runner(store, catalog)
    with pytest.raises(ValueError, match="unknown scenario"):
        await runner.run(spec(scenarios=["nope"]))
    assert store.count_batches() == 0
