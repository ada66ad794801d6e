"""score(): the contract the engine relies on — weights, failures, skips, feedback, plug-ins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tui_bench.domain import EvaluatorSpec, Scenario
from tui_bench.scoring import (
    EvalInput,
    EvalResult,
    ScoreResult,
    ScoringContext,
    evaluator,
    evaluator_names,
    score,
)
from tui_bench.scoring.registry import register, unregister

TESTS = ("def test_two():\n    assert double(2) == 4\n\n"
         "def test_zero():\n    assert double(0) == 0\n\n"
         "def test_negative():\n    assert double(-3) == -6\n")
GOOD = "```python\ndef double(x: int) -> int:\n    \"\"\"Twice x.\"\"\"\n    return 2 * x\n```"
WRONG = "```python\ndef double(x):\n    return x + 3\n```"


def scenario(evaluators: list[dict[str, Any]], **fields: Any) -> Scenario:
    base: dict[str, Any] = {
        "id": "coding-double", "name": "double", "suite": "coding", "category": "algorithms",
        "prompt": "Write double(x).", "entry_point": "double", "tests": TESTS,
        "expected_elements": ["def double", "return"],
        "evaluators": [EvaluatorSpec(**e) for e in evaluators]}
    base.update(fields)
    return Scenario(**base)


STANDARD = [{"name": "tests", "weight": 0.6}, {"name": "structure", "weight": 0.15},
            {"name": "expected_elements", "weight": 0.15},
            {"name": "documentation", "weight": 0.1}]


async def test_all_good_answer_scores_high_with_no_feedback() -> None:
    result = await score(ScoringContext(scenario=scenario(STANDARD), output=GOOD))
    assert isinstance(result, ScoreResult)
    assert [e.evaluator for e in result.evaluations] == [
        "tests", "structure", "expected_elements", "documentation"]
    by_name = {e.evaluator: e for e in result.evaluations}
    assert by_name["tests"].score == 1.0 and by_name["tests"].detail["passed"] == 3
    # documentation: docstring + hints, no comment -> 0.8
    assert by_name["documentation"].score == pytest.approx(0.8)
    expected = 0.6 * 1 + 0.15 * 1 + 0.15 * 1 + 0.1 * 0.8
    assert result.auto_score == pytest.approx(expected)
    assert result.success is True
    assert result.feedback is None
    assert result.judgments == []


async def test_wrong_answer_gets_feedback_naming_the_failures() -> None:
    result = await score(ScoringContext(scenario=scenario(STANDARD), output=WRONG))
    tests_eval = result.evaluations[0]
    assert tests_eval.score == pytest.approx(0.0)
    assert result.success is False
    assert result.feedback is not None
    assert "passed 0 of 3 tests" in result.feedback
    assert "test_two" in result.feedback and "assert double(2) == 4" in result.feedback
    assert "`double`" in result.feedback


async def test_feedback_when_no_code_is_found() -> None:
    result = await score(ScoringContext(scenario=scenario(STANDARD), output="I cannot help."))
    assert result.feedback is not None and "No Python code" in result.feedback


async def test_no_tests_means_no_feedback() -> None:
    scen = scenario([{"name": "expected_elements"}], tests=None)
    result = await score(ScoringContext(scenario=scen, output=WRONG))
    assert result.feedback is None
    assert result.auto_score == pytest.approx(1.0)


async def test_weighted_mean_respects_weights() -> None:
    scen = scenario([{"name": "tests", "weight": 3}, {"name": "expected_elements", "weight": 1}])
    result = await score(ScoringContext(scenario=scen, output="def double(x):\n    return x\n"))
    # tests: 1 of 3 (double(0) == 0 passes); elements: both present
    assert result.evaluations[0].score == pytest.approx(1 / 3)
    assert result.auto_score == pytest.approx((3 * (1 / 3) + 1 * 1.0) / 4)


async def test_threshold_decides_success() -> None:
    strict = scenario([{"name": "tests"}], threshold=1.0)
    partial = "def double(x):\n    return x\n"
    assert (await score(ScoringContext(scenario=strict, output=partial))).success is False
    assert (await score(ScoringContext(scenario=strict, output=GOOD))).success is True


async def test_raising_evaluator_scores_zero_and_scoring_goes_on() -> None:
    @evaluator("test_explodes")
    def explodes(inp: EvalInput) -> EvalResult:
        raise RuntimeError("kaboom")

    try:
        scen = scenario([{"name": "expected_elements", "weight": 1},
                         {"name": "test_explodes", "weight": 1}])
        result = await score(ScoringContext(scenario=scen, output=GOOD))
        broken = result.evaluations[1]
        assert broken.score == 0.0 and broken.weight == 1
        assert "RuntimeError: kaboom" in broken.detail["error"]
        assert result.auto_score == pytest.approx(0.5)
    finally:
        unregister("test_explodes")


async def test_unknown_evaluator_is_recorded_not_fatal() -> None:
    scen = scenario([{"name": "expected_elements"}, {"name": "no_such_thing"}])
    result = await score(ScoringContext(scenario=scen, output=GOOD))
    assert "unknown evaluator" in result.evaluations[1].detail["error"]
    assert result.evaluations[1].score == 0.0


async def test_out_of_range_score_is_an_error() -> None:
    register("test_too_high", lambda inp: EvalResult(1.5))
    try:
        result = await score(ScoringContext(scenario=scenario([{"name": "test_too_high"}]),
                                            output=GOOD))
        assert result.evaluations[0].score == 0.0
        assert "outside 0..1" in result.evaluations[0].detail["error"]
    finally:
        unregister("test_too_high")


async def test_skipped_evaluators_weigh_nothing() -> None:
    scen = scenario([{"name": "expected_elements", "weight": 1},
                     {"name": "llm_judge", "weight": 5},
                     {"name": "oracle", "weight": 5}])
    result = await score(ScoringContext(scenario=scen, output=GOOD))
    judge, oracle = result.evaluations[1], result.evaluations[2]
    for skipped in (judge, oracle):
        assert skipped.weight == 0
        assert skipped.detail["skipped"] is True
        assert skipped.detail["status"] == "skipped"
        assert skipped.detail["requested_weight"] == 5
    assert judge.detail["why"] == "no judge configured"
    assert result.auto_score == pytest.approx(1.0)


async def test_nothing_counted_means_no_score() -> None:
    result = await score(ScoringContext(scenario=scenario([{"name": "llm_judge"}]), output=GOOD))
    assert result.auto_score is None and result.success is None


async def test_third_party_evaluator_plugs_in_by_name() -> None:
    @evaluator("test_shouting")
    async def shouting(inp: EvalInput) -> EvalResult:
        """Share of upper-case letters (an async evaluator)."""
        letters = [c for c in inp.output if c.isalpha()]
        await asyncio.sleep(0)
        share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        return EvalResult(share, {"letters": len(letters), "option": inp.options.get("x")})

    try:
        assert "test_shouting" in evaluator_names()
        scen = scenario([{"name": "test_shouting", "options": {"x": 7}}], tests=None)
        result = await score(ScoringContext(scenario=scen, output="ABcd"))
        assert result.evaluations[0].score == pytest.approx(0.5)
        assert result.evaluations[0].detail == {"letters": 4, "option": 7}
    finally:
        unregister("test_shouting")


def test_registering_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("tests", lambda inp: EvalResult(1.0))
    assert {"tests", "structure", "expected_elements", "documentation", "error_handling",
            "oracle", "format", "llm_judge"} <= set(evaluator_names())


async def test_evaluators_run_concurrently() -> None:
    """Slow evaluators (sandbox, judge) overlap instead of queueing behind each other."""
    gate = asyncio.Event()

    @evaluator("test_waits")
    async def waits(inp: EvalInput) -> EvalResult:
        await asyncio.wait_for(gate.wait(), timeout=2)
        return EvalResult(1.0)

    @evaluator("test_opens")
    async def opens(inp: EvalInput) -> EvalResult:
        gate.set()
        return EvalResult(1.0)

    try:
        scen = scenario([{"name": "test_waits"}, {"name": "test_opens"}], tests=None)
        result = await score(ScoringContext(scenario=scen, output=""))
        assert [e.score for e in result.evaluations] == [1.0, 1.0]
    finally:
        unregister("test_waits")
        unregister("test_opens")
