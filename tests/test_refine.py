"""Refine mode: the action a review round replies with, and the loop run by the real runner
(scripted replies prove the plumbing; the embedded model runs in test_calibrate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui_bench.backends import BackendPool
from tui_bench.backends.base import Done, TextChunk
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.plan import new_batch_id
from tui_bench.engine.refine_action import (
    MalformedAction,
    action_schema,
    parse_action,
    review_prompt,
)
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

RUBRIC = """
id: code-v1
name: Code
criteria:
  - {id: correctness, name: Correctness, max: 20}
"""
SCENARIO = """
id: coding-double
name: Double a number
suite: coding
category: algorithms
prompt: "Write a Python function double(x) that returns x times two. Reply with code only."
entry_point: double
tests: |
  def test_two():
      assert double(3) == 6
evaluators:
  - {name: tests}
"""
RIGHT = "def double(x):\n    return x * 2\n"
WRONG = "def double(x):\n    return x + 2\n"


def new(answer: str, score: int = 4) -> str:
    return json.dumps({"action": "new_answer", "self_score": score, "answer": answer})


STOP = json.dumps({"action": "stop", "self_score": 9})


# ---------------------------------------------------------------- parsing


def test_parse_actions() -> None:
    assert parse_action(STOP).action == "stop" and parse_action(STOP).self_score == 9
    got = parse_action(new(RIGHT, 3))
    assert (got.action, got.self_score, got.answer) == ("new_answer", 3, RIGHT)
    fenced = parse_action("```json\n" + STOP + "\n```")
    assert fenced.action == "stop"
    assert parse_action('{"action": "stop", "self_score": 7.0}').self_score == 7


@pytest.mark.parametrize("reply, why", [
    ("", "empty"),
    ("I think it is fine.", "not JSON"),
    ('{"action": "stop", "self_score": 9', "not JSON"),  # cut off by the token limit
    ("[1, 2]", "not an object"),
    ('{"action": "continue", "self_score": 5}', "neither"),
    ('{"action": "stop"}', "self_score None"),
    ('{"action": "stop", "self_score": 11}', "self_score 11"),
    ('{"action": "stop", "self_score": true}', "self_score True"),
    ('{"action": "stop", "self_score": "7"}', "self_score '7'"),
    ('{"action": "new_answer", "self_score": 3}', "without a non-empty"),
    ('{"action": "new_answer", "self_score": 3, "answer": "  "}', "without a non-empty"),
])
def test_malformed_replies_are_named(reply: str, why: str) -> None:
    with pytest.raises(MalformedAction, match=why):
        parse_action(reply)


def test_review_prompt_and_schema_carry_the_threshold() -> None:
    assert "below 7," in review_prompt(7) and "below 6.4," in review_prompt(6.37)
    new_answer, stop = action_schema(100)["anyOf"]
    assert new_answer["properties"]["answer"]["maxLength"] == 100
    assert new_answer["required"] == ["action", "self_score", "answer"]
    assert stop["required"] == ["action", "self_score"]
    assert stop["properties"]["self_score"]["enum"] == list(range(1, 11))


# ---------------------------------------------------------------- the loop


class Scripted(InstantBackend):
    """Replies from a list in order, recording whether each request asked for the schema."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__()
        self.replies = replies

    async def chat(self, model, messages, options, *, schema=None):  # type: ignore[override]
        self.requests.append({"messages": messages, "schema": schema})
        yield TextChunk(self.replies[len(self.requests) - 1])
        yield Done(completion_tokens=5, prompt_tokens=10, eval_ms=10.0, host="scripted")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return one_scenario_catalog(tmp_path)


def one_scenario_catalog(tmp_path: Path) -> Catalog:
    """A catalog of coding-double alone (its test fails x + 2, passes x * 2)."""
    (tmp_path / "scen" / "rubrics").mkdir(parents=True)
    (tmp_path / "scen" / "rubrics" / "code.yaml").write_text(RUBRIC)
    (tmp_path / "scen" / "double.yaml").write_text(SCENARIO)
    loaded = load_catalog([tmp_path / "scen"])
    assert loaded.problems == []
    return loaded


async def run_refine(store: Store, catalog: Catalog, replies: list[str],
                     **kw: Any) -> tuple[Any, Scripted]:
    backend = Scripted(replies)
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    spec = BatchSpec(batch_id=new_batch_id(), models=["ollama:m"], scenarios=["coding-double"],
                     mode="refine", options=GenerationOptions(max_tokens=64), **kw)
    result = await runner.run(spec)
    assert result.done == 1
    return store.runs(result.batch_id)[0], backend


async def test_refine_replaces_answers_until_the_model_stops(store: Store,
                                                             catalog: Catalog) -> None:
    run, backend = await run_refine(store, catalog, [WRONG, new(WRONG, 2), new(RIGHT, 5), STOP],
                                    refine_threshold=6, max_new_answers=4)
    assert run.mode == "refine" and run.output == RIGHT and run.success
    refine = store.refine_telemetry(run.run_id)
    assert refine is not None
    assert (refine.new_answer_count, refine.end_reason, refine.malformed) == (2, "stopped", False)
    assert refine.effort_ratio == 0.5 and not refine.collapsed
    assert (refine.first_score, refine.final_score) == (0.0, 1.0)
    rounds = store.attempts(run.run_id)
    assert [(a.attempt, a.action, a.self_score) for a in rounds] == [
        (1, "answer", None), (2, "new_answer", 2), (3, "new_answer", 5), (4, "stop", 9)]
    assert [a.auto_score for a in rounds[:3]] == [0.0, 0.0, 1.0]
    # Round 1 is free text; every review round asks for the action schema and carries T.
    assert backend.requests[0]["schema"] is None
    review = backend.requests[3]
    assert review["schema"]["title"] == "refine_action"
    assert review["messages"][-2] == {"role": "assistant", "content": RIGHT}
    assert "below 6," in review["messages"][-1]["content"]


async def test_refine_stops_at_the_cap(store: Store, catalog: Catalog) -> None:
    run, backend = await run_refine(store, catalog, [WRONG, new(WRONG), new(RIGHT)],
                                    max_new_answers=2)
    refine = store.refine_telemetry(run.run_id)
    assert refine and (refine.new_answer_count, refine.end_reason) == (2, "cap")
    assert refine.effort_ratio == 1.0 and len(backend.requests) == 3


async def test_a_malformed_reply_ends_the_cell_as_malformed_not_a_stop(
        store: Store, catalog: Catalog) -> None:
    run, _ = await run_refine(store, catalog, [RIGHT, "looks good to me"])
    refine = store.refine_telemetry(run.run_id)
    assert refine and refine.malformed and refine.end_reason == "malformed"
    assert run.status == "ok" and run.output == RIGHT  # the answer it had stays scored
    last = store.attempts(run.run_id)[-1]
    assert last.action == "malformed" and "not an action: not JSON" in (last.feedback or "")
    # A malformed cell is never counted as a (collapsed) stop in the effort figures.
    assert store.refine_outcomes()[0]["malformed"] is True


async def test_a_reply_cut_by_the_token_limit_says_so(store: Store, catalog: Catalog) -> None:
    class Cut(Scripted):
        async def chat(self, model, messages, options, *, schema=None):  # type: ignore[override]
            self.requests.append({"messages": messages, "schema": schema})
            yield TextChunk(self.replies[len(self.requests) - 1])
            yield Done(completion_tokens=64, done_reason="length")

    backend = Cut([RIGHT, '{"action": "new_answer", "self_score": 3, "answer": "def dou'])
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    result = await runner.run(BatchSpec(batch_id=new_batch_id(), models=["ollama:m"],
                                        scenarios=["coding-double"], mode="refine"))
    last = store.attempts(store.runs(result.batch_id)[0].run_id)[-1]
    assert last.action == "malformed" and "raise --max-tokens" in (last.feedback or "")


async def test_calibrated_threshold_per_model(store: Store, catalog: Catalog) -> None:
    run, backend = await run_refine(
        store, catalog, [WRONG, STOP], refine_thresholds={"ollama:m": 3.5}, effort="low")
    refine = store.refine_telemetry(run.run_id)
    assert refine and refine.threshold == 3.5 and refine.effort == "low"
    assert "below 3.5," in backend.requests[1]["messages"][-1]["content"]
    assert refine.collapsed and refine.effort_ratio == 0.0
