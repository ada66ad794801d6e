"""A language model grades an output against a rubric, with structured output.

The rubric becomes a JSON Schema (one bounded integer per criterion, plus a reason) that
constrained decoding can enforce, and a prompt that spells out every criterion's anchors so a
4 means the same thing in every run. The answer is validated, never repaired: a missing or
out-of-range score makes the whole answer unparseable, which is recorded as such and left out
of the automatic score instead of counting as zero.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tui_bench.backends.base import Backend, collect
from tui_bench.domain import GenerationOptions, Judgment, Rubric, Scenario
from tui_bench.scoring.extract import strip_thinking
from tui_bench.scoring.registry import EvalInput, EvalResult, evaluator

MAX_OUTPUT_CHARS = 4_000
RAW_KEEP = 2_000
SYSTEM_PROMPT = (
    "You are a strict, consistent grader. Score the answer against each criterion using its "
    "anchors: pick the anchor that best describes the answer and use its score or one between "
    "two anchors. Reply with one JSON object and nothing else."
)


@runtime_checkable
class JudgeClient(Protocol):
    """Anything that can answer a chat with text, optionally constrained to a JSON Schema."""

    name: str  # model reference, e.g. "embedded:smollm2"

    async def complete(self, messages: list[dict[str, str]], schema: dict | None) -> str: ...


@dataclass
class BackendJudge:
    """Adapts any ``Backend`` into a ``JudgeClient``: greedy, with room for the JSON answer."""

    backend: Backend
    model_name: str
    ref: str
    options: GenerationOptions = field(
        default_factory=lambda: GenerationOptions(temperature=0.0, max_tokens=384))

    @property
    def name(self) -> str:
        return self.ref

    async def complete(self, messages: list[dict[str, str]], schema: dict | None) -> str:
        text, _done = await collect(
            self.backend.chat(self.model_name, messages, self.options, schema=schema),
            max_pieces=self.options.max_tokens)
        return text


class Unparseable(ValueError):
    """The judge's answer cannot be read as a complete, in-range score sheet."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def rubric_schema(rubric: Rubric) -> dict[str, Any]:
    """JSON Schema for a filled-in rubric: every criterion a bounded integer, plus a reason."""
    properties: dict[str, Any] = {}
    for crit in rubric.criteria:
        properties[crit.id] = {
            "type": "integer",
            "minimum": crit.min,
            "maximum": crit.max,
            "description": f"{crit.name}, {crit.min}-{crit.max}",
        }
    properties["reason"] = {"type": "string", "description": "one or two sentences"}
    return {
        "type": "object",
        "properties": properties,
        "required": [c.id for c in rubric.criteria] + ["reason"],
        "additionalProperties": False,
    }


def judge_messages(rubric: Rubric, scenario: Scenario, output: str, *,
                   max_output_chars: int = MAX_OUTPUT_CHARS) -> list[dict[str, str]]:
    """The grading conversation: rubric with anchors, the task, the answer, the reply format."""
    answer = strip_thinking(output).strip()
    if len(answer) > max_output_chars:
        answer = answer[:max_output_chars] + "\n[... answer cut for length ...]"
    lines = [f"Rubric: {rubric.name} (version {rubric.version})"]
    if rubric.description:
        lines.append(rubric.description.strip())
    for crit in rubric.criteria:
        lines.append("")
        lines.append(f"{crit.id} ({crit.min}-{crit.max}): {crit.name}."
                     + (f" {crit.description.strip()}" if crit.description else ""))
        for score in sorted(crit.anchors):
            lines.append(f"  {score} = {crit.anchors[score].strip()}")
    keys = ", ".join(f'"{c.id}": <{c.min}-{c.max}>' for c in rubric.criteria)
    user = (
        "Task given to the model:\n<<<\n" + scenario.prompt.strip() + "\n>>>\n\n"
        "The model's answer:\n<<<\n" + (answer or "(empty answer)") + "\n>>>\n\n"
        + "\n".join(lines) + "\n\n"
        "Reply with JSON only, in this shape: {" + keys + ', "reason": "<one or two sentences>"}'
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _json_object(text: str) -> Any:
    text = strip_thinking(text).strip()
    fence = re.search(r"```(?:json)?\s*\n(.*?)(?:```|\Z)", text, re.DOTALL)
    if fence:
        text = fence.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    start = text.find("{")
    if start < 0:
        raise Unparseable(["no JSON object in the answer"])
    try:
        value, _end = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as exc:
        raise Unparseable([f"invalid JSON: {exc}"]) from None
    return value


def parse_judgment(text: str, rubric: Rubric) -> tuple[dict[str, int], str]:
    """Scores and reason from a judge's answer; ``Unparseable`` if anything is off."""
    data = _json_object(text)
    if not isinstance(data, dict):
        raise Unparseable([f"expected a JSON object, got {type(data).__name__}"])
    sheet = {c.id: data.get(c.id) for c in rubric.criteria}
    problems = rubric.validate_scores(sheet)
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        problems.append("reason is not a string")
    if problems:
        raise Unparseable(problems)
    return {k: int(v) for k, v in sheet.items()}, reason.strip()  # type: ignore[arg-type]


def make_judgment(rubric: Rubric, scores: dict[str, int], reason: str, judge: str) -> Judgment:
    return Judgment.from_scores(rubric, scores, judge=judge, judge_kind="model", reason=reason)


@evaluator("llm_judge")
async def llm_judge(inp: EvalInput) -> EvalResult:
    """A model fills in the scenario's rubric; the score is the judged percentage."""
    if inp.judge is None:
        return EvalResult.skipped("no judge configured")
    rubric = inp.rubric
    if rubric is None:
        return EvalResult.skipped(f"rubric {inp.scenario.rubric!r} not available")
    judge_name = getattr(inp.judge, "name", "judge")
    # An agent is judged on what it changed: the final diff, not its last message.
    shown = inp.diff if inp.scenario.kind == "agent" and inp.diff else inp.output
    messages = judge_messages(rubric, inp.scenario, shown,
                              max_output_chars=int(inp.options.get("max_output_chars",
                                                                   MAX_OUTPUT_CHARS)))
    schema = rubric_schema(rubric)
    try:
        raw = await inp.judge.complete(messages, schema)
    except Exception as exc:  # noqa: BLE001 - a failing judge is not the graded model's fault
        return EvalResult(0.0, {"skipped": True, "why": "the judge failed",
                                "error": f"{type(exc).__name__}: {exc}", "judge": judge_name},
                          status="skipped")
    try:
        scores, reason = parse_judgment(raw, rubric)
    except Unparseable as exc:
        return EvalResult(0.0, {"unparseable": True, "problems": exc.problems,
                                "raw": raw[:RAW_KEEP], "judge": judge_name},
                          status="unparseable")
    judgment = make_judgment(rubric, scores, reason, judge_name)
    return EvalResult(judgment.percent / 100.0, {
        "scores": scores,
        "total": judgment.total,
        "max_total": rubric.max_total,
        "percent": judgment.percent,
        "band": judgment.band,
        "reason": reason,
        "judge": judge_name,
        "rubric": f"{rubric.id}@{rubric.version}",
    }, judgment=judgment)
