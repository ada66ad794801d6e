"""The LLM judge: schema from the rubric, strict parsing, unparseable answers left out, and a
real grading by the embedded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tui_bench.domain import GenerationOptions, Rubric, Scenario
from tui_bench.scoring import BackendJudge, JudgeClient, ScoringContext, score
from tui_bench.scoring.judge import Unparseable, judge_messages, parse_judgment, rubric_schema

ROOT = Path(__file__).resolve().parent.parent / "scenarios"


def load(kind: str, name: str) -> Any:
    return yaml.safe_load((ROOT / kind / f"{name}.yaml").read_text())


CODE_RUBRIC = Rubric.model_validate(load("rubrics", "code-v1"))
TIP_RUBRIC = Rubric.model_validate(load("rubrics", "tip-v1"))
FIZZBUZZ = Scenario.model_validate(load("coding", "coding-fizzbuzz"))
TIP = Scenario.model_validate(load("writing", "writing-tip-oncall-engineer"))
GOOD_ANSWER = f"```python\n{FIZZBUZZ.reference_solution}```"


class ScriptedJudge:
    """A JudgeClient that answers with a fixed text and remembers what it was asked."""

    def __init__(self, answer: str, name: str = "test:scripted") -> None:
        self.answer = answer
        self.name = name
        self.calls: list[tuple[list[dict[str, str]], dict | None]] = []

    async def complete(self, messages: list[dict[str, str]], schema: dict | None) -> str:
        self.calls.append((messages, schema))
        return self.answer


class FailingJudge:
    name = "test:down"

    async def complete(self, messages: list[dict[str, str]], schema: dict | None) -> str:
        raise ConnectionError("judge unreachable")


def with_judge(scenario: Scenario, weight: float) -> Scenario:
    data = scenario.model_dump()
    data["evaluators"] = [e for e in data["evaluators"] if e["name"] != "llm_judge"]
    data["evaluators"].append({"name": "llm_judge", "weight": weight, "options": {}})
    return Scenario.model_validate(data)


def test_schema_has_one_bounded_integer_per_criterion_and_a_reason() -> None:
    schema = rubric_schema(CODE_RUBRIC)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == [c.id for c in CODE_RUBRIC.criteria] + ["reason"]
    assert schema["properties"]["correctness"]["type"] == "integer"
    assert (schema["properties"]["correctness"]["minimum"],
            schema["properties"]["correctness"]["maximum"]) == (0, 20)
    assert schema["properties"]["reason"]["type"] == "string"
    tip = rubric_schema(TIP_RUBRIC)
    assert tip["properties"]["tone"]["minimum"] == 1 and tip["properties"]["tone"]["maximum"] == 5


def test_prompt_carries_task_answer_criteria_and_anchors() -> None:
    messages = judge_messages(CODE_RUBRIC, FIZZBUZZ, GOOD_ANSWER)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert FIZZBUZZ.prompt.strip() in user
    assert "def fizzbuzz" in user
    for crit in CODE_RUBRIC.criteria:
        assert f"{crit.id} ({crit.min}-{crit.max})" in user
        for text in crit.anchors.values():
            assert text.strip() in user


def test_long_answers_are_cut_for_the_judge() -> None:
    messages = judge_messages(CODE_RUBRIC, FIZZBUZZ, "x" * 50_000, max_output_chars=1000)
    assert len(messages[1]["content"]) < 10_000
    assert "answer cut for length" in messages[1]["content"]


def test_parse_accepts_a_complete_sheet_in_prose_or_fences() -> None:
    sheet = {"relevance": 4, "actionability": 5, "tone": 3, "reason": "Concrete."}
    assert parse_judgment(json.dumps(sheet), TIP_RUBRIC) == (
        {"relevance": 4, "actionability": 5, "tone": 3}, "Concrete.")
    wrapped = f"Here is my grade:\n```json\n{json.dumps(sheet)}\n```"
    assert parse_judgment(wrapped, TIP_RUBRIC)[0]["tone"] == 3
    prose = f"Sure. {json.dumps(sheet)} Hope this helps."
    assert parse_judgment(prose, TIP_RUBRIC)[0]["relevance"] == 4


@pytest.mark.parametrize("answer,problem", [
    ('{"relevance": 6, "actionability": 5, "tone": 3, "reason": "x"}', "outside 1..5"),
    ('{"relevance": 0, "actionability": 5, "tone": 3, "reason": "x"}', "outside 1..5"),
    ('{"relevance": 4, "tone": 3, "reason": "x"}', "'actionability' is not set"),
    ('{"relevance": 4.5, "actionability": 5, "tone": 3, "reason": "x"}', "not a whole number"),
    ('{"relevance": "4", "actionability": 5, "tone": 3, "reason": "x"}', "not a whole number"),
    ('{"relevance": true, "actionability": 5, "tone": 3, "reason": "x"}', "not a whole number"),
    ("[4, 5, 3]", "expected a JSON object"),
    ("I would give it a four.", "no JSON object"),
    ('{"relevance": 4, "actionability": 5, "tone": 3', "invalid JSON"),
])
def test_parse_refuses_anything_incomplete_or_out_of_range(answer: str, problem: str) -> None:
    with pytest.raises(Unparseable) as info:
        parse_judgment(answer, TIP_RUBRIC)
    assert problem in str(info.value)


async def test_valid_judge_answer_becomes_a_judgment() -> None:
    judge = ScriptedJudge(json.dumps({"correctness": 20, "structure": 18, "performance": 15,
                                      "best_practices": 16, "documentation": 12, "testing": 5,
                                      "reason": "Correct and tidy; no tests."}))
    scen = with_judge(FIZZBUZZ, 0.2)
    result = await score(ScoringContext(scenario=scen, output=GOOD_ANSWER, rubric=CODE_RUBRIC,
                                        judge=judge))
    assert len(judge.calls) == 1
    _messages, schema = judge.calls[0]
    assert schema == rubric_schema(CODE_RUBRIC)
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.score == pytest.approx(0.86) and judged.weight == 0.2
    assert judged.detail["total"] == 86 and judged.detail["judge"] == "test:scripted"
    assert judged.detail["band"] == "very good"
    [judgment] = result.judgments
    assert judgment.judge_kind == "model" and judgment.judge == "test:scripted"
    assert (judgment.rubric_id, judgment.rubric_version) == ("code-v1", 1)
    assert judgment.total == 86 and judgment.percent == pytest.approx(86.0)
    assert judgment.band == "very good" and judgment.run_id == ""
    assert judgment.reason == "Correct and tidy; no tests."


async def test_junk_from_the_judge_is_unparseable_not_zero() -> None:
    scen = with_judge(FIZZBUZZ, 0.5)
    without = await score(ScoringContext(scenario=scen, output=GOOD_ANSWER, rubric=CODE_RUBRIC))
    junk = ScriptedJudge("The code looks great!!! 10/10 would run again")
    result = await score(ScoringContext(scenario=scen, output=GOOD_ANSWER, rubric=CODE_RUBRIC,
                                        judge=junk))
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.detail["unparseable"] is True
    assert judged.detail["raw"] == junk.answer
    assert judged.detail["status"] == "unparseable" and judged.detail["requested_weight"] == 0.5
    assert judged.weight == 0
    assert result.judgments == []
    # the automatic score is exactly what it is without a judge: junk did not pull it down
    assert result.auto_score == pytest.approx(without.auto_score)
    assert result.auto_score is not None and result.auto_score > 0.9


async def test_out_of_range_judge_answer_is_unparseable() -> None:
    judge = ScriptedJudge('{"relevance": 9, "actionability": 5, "tone": 3, "reason": "x"}')
    result = await score(ScoringContext(scenario=with_judge(TIP, 1.0), output="Do X.",
                                        rubric=TIP_RUBRIC, judge=judge))
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.detail["unparseable"] is True and judged.weight == 0
    assert any("outside 1..5" in p for p in judged.detail["problems"])


async def test_failing_judge_is_skipped_not_counted() -> None:
    result = await score(ScoringContext(scenario=with_judge(TIP, 1.0), output="Do X today.",
                                        rubric=TIP_RUBRIC, judge=FailingJudge()))
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.weight == 0 and judged.detail["skipped"] is True
    assert "judge unreachable" in judged.detail["error"]


async def test_missing_rubric_skips_the_judge() -> None:
    judge = ScriptedJudge("{}")
    result = await score(ScoringContext(scenario=with_judge(TIP, 1.0), output="Do X.",
                                        judge=judge))
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.detail["skipped"] is True and judge.calls == []


class FakeBackend:
    """Just enough of a Backend to check that BackendJudge passes the schema through."""

    name = "fake"
    default_concurrency = 1

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    async def chat(self, model: str, messages: list[dict[str, str]], options: GenerationOptions,
                   *, schema: dict[str, Any] | None = None):
        from tui_bench.backends.base import Done, TextChunk

        self.seen = {"model": model, "schema": schema, "options": options}
        yield TextChunk('{"relevance": 5, ')
        yield TextChunk('"actionability": 4, "tone": 5, "reason": "ok"}')
        yield Done(completion_tokens=12)


async def test_backend_judge_adapts_a_backend() -> None:
    backend = FakeBackend()
    judge = BackendJudge(backend, "tiny", "fake:tiny", GenerationOptions(max_tokens=99))
    assert isinstance(judge, JudgeClient) and judge.name == "fake:tiny"
    text = await judge.complete([{"role": "user", "content": "grade"}], {"type": "object"})
    assert json.loads(text)["tone"] == 5
    assert backend.seen["model"] == "tiny" and backend.seen["schema"] == {"type": "object"}
    assert backend.seen["options"].max_tokens == 99


@pytest.mark.slow
async def test_embedded_model_judges_with_the_rubric() -> None:
    """SmolLM2-135M grades a tip under a JSON-Schema grammar.

    A 135M judge is a poor judge, so the test does not ask for a sensible grade; it asks that
    what gets stored is honest: either a complete in-range score sheet with a matching total,
    percent and band, or an answer recorded as unparseable with weight 0 (never a zero score).
    """
    from tui_bench.backends.embedded import EmbeddedBackend
    from tui_bench.domain import band_for

    backend = EmbeddedBackend()
    judge = BackendJudge(backend, "smollm2", "embedded:smollm2",
                         GenerationOptions(temperature=0.0, max_tokens=200, num_ctx=4096))
    tip = ("Triage first: before you start sprint work, spend ten minutes reading last night's "
           "alerts, silence the noisy ones and add a runbook line for each page. Then block 90 "
           "minutes for focused work with the pager on vibrate.")
    try:
        result = await score(ScoringContext(scenario=with_judge(TIP, 0.5), output=tip,
                                            rubric=TIP_RUBRIC, judge=judge))
    finally:
        await backend.aclose()
    judged = next(e for e in result.evaluations if e.evaluator == "llm_judge")
    assert judged.detail["judge"] == "embedded:smollm2"
    if judged.detail.get("unparseable"):
        assert judged.weight == 0 and result.judgments == []
        assert judged.detail["raw"]
    else:
        [judgment] = result.judgments
        assert set(judgment.scores) == {"relevance", "actionability", "tone"}
        for crit in TIP_RUBRIC.criteria:
            assert crit.min <= judgment.scores[crit.id] <= crit.max
        assert judgment.total == sum(judgment.scores.values())
        assert judgment.percent == pytest.approx(TIP_RUBRIC.percent(judgment.scores), abs=0.01)
        assert judgment.band == band_for(judgment.percent)
        assert judgment.judge_kind == "model" and judgment.rubric_id == "tip-v1"
        assert judged.weight == 0.5
        assert judged.score == pytest.approx(judgment.percent / 100)
        assert TIP_RUBRIC.validate_scores(judgment.scores) == []
