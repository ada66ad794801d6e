"""Scoring: turn one model output into evaluations, a weighted score, feedback and judgments.

The engine calls :func:`score` with a :class:`ScoringContext`; everything else here is detail.
Evaluators are looked up by name in the registry, so a scenario can name a new one without
the engine changing. An evaluator that raises scores 0 with the error recorded; one that cannot
give a verdict (no judge, unreadable judge answer, nothing to check) is stored with weight 0 so
``auto_score`` stays an honest weighted mean of real verdicts.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_bench.domain import Evaluation, EvaluatorSpec, Judgment, Rubric, Scenario
from tui_bench.scoring import evaluators as _builtin  # noqa: F401 - registers the built-ins
from tui_bench.scoring import judge as _judge  # noqa: F401 - registers llm_judge
from tui_bench.scoring.extract import Extraction, extract_code
from tui_bench.scoring.judge import BackendJudge, JudgeClient
from tui_bench.scoring.registry import EvalInput, EvalResult, evaluator, register
from tui_bench.scoring.registry import get as get_evaluator
from tui_bench.scoring.registry import names as evaluator_names
from tui_bench.scoring.sandbox import SandboxResult, run_python
from tui_bench.scoring.suspect import suspect_reason

__all__ = [
    "BackendJudge", "EvalInput", "EvalResult", "JudgeClient", "SandboxResult", "ScoreResult",
    "ScoringContext", "evaluator", "evaluator_names", "extract_code", "get_evaluator",
    "register", "run_python", "score", "tests_feedback",
]

MAX_FEEDBACK_FAILURES = 5


@dataclass
class ScoringContext:
    """One output to score, with what the evaluators may need beyond the scenario."""

    scenario: Scenario
    output: str
    rubric: Rubric | None = None
    judge: JudgeClient | None = None
    workspace: Path | None = None  # agent scenarios: the final workspace, see EvalInput
    diff: str = ""
    changed_files: list[str] = field(default_factory=list)


@dataclass
class ScoreResult:
    """Every evaluator's verdict, the weighted score and what to tell the model next."""

    evaluations: list[Evaluation]
    auto_score: float | None
    success: bool | None
    feedback: str | None
    judgments: list[Judgment] = field(default_factory=list)
    suspect: str | None = None  # the answer reached for its own scoring: success held back
    suspect_success: bool | None = None  # the success it would have had


INLINE_MAX_CHARS = 20_000
"""Answers up to this long are scored by inline evaluators on the loop; longer ones in a thread,
so parsing a flood of text never stalls other cells' streams."""


async def _run_one(spec: EvaluatorSpec, inp: EvalInput) -> EvalResult:
    registered = get_evaluator(spec.name)
    if registered is None:
        return EvalResult(0.0, {"error": f"unknown evaluator {spec.name!r}"}, status="error")
    try:
        if registered.is_async:
            result = await registered.fn(inp)  # type: ignore[misc]
        elif registered.inline and len(inp.output) <= INLINE_MAX_CHARS:
            result = registered.fn(inp)
        else:
            result = await asyncio.to_thread(registered.fn, inp)
        if asyncio.iscoroutine(result):  # a sync wrapper around an async evaluator
            result = await result
    except Exception as exc:  # noqa: BLE001 - one broken evaluator must not sink the run
        return EvalResult(0.0, {"error": f"{type(exc).__name__}: {exc}"}, status="error")
    if not isinstance(result, EvalResult):
        return EvalResult(0.0, {"error": f"evaluator returned {type(result).__name__}"},
                          status="error")
    if not isinstance(result.score, (int, float)) or math.isnan(result.score) \
            or not 0.0 <= result.score <= 1.0:
        return EvalResult(0.0, {"error": f"score {result.score!r} is outside 0..1",
                                "detail": result.detail}, status="error")
    return result


def _evaluation(spec: EvaluatorSpec, result: EvalResult) -> Evaluation:
    detail: dict[str, Any] = dict(result.detail)
    if result.status == "error":
        detail.setdefault("error", "evaluator failed")
    weight = spec.weight if result.counted else 0.0
    if not result.counted:
        detail["status"] = result.status
        detail["requested_weight"] = spec.weight
    return Evaluation(evaluator=spec.name, score=float(result.score), weight=weight, detail=detail)


def tests_feedback(scenario: Scenario, detail: dict[str, Any]) -> str | None:
    """What to tell the model after a failed test run (iterative mode); None if all passed."""
    passed, total = detail.get("passed"), detail.get("total")
    reason = detail.get("reason")
    if reason is None and total and passed == total:
        return None
    if "passed" not in detail:
        return None  # the tests evaluator failed itself: nothing true to say to the model
    entry = f"`{scenario.entry_point}`" if scenario.entry_point else "the code"
    lines: list[str] = []
    if reason == "no code found in the answer":
        lines.append("No Python code was found in your answer.")
    else:
        lines.append(f"Your code passed {passed} of {total} tests.")
        if reason:
            lines.append(f"The run stopped: {reason}.")
        failures = detail.get("failures") or []
        if failures:
            lines.append("Failures:")
            for failure in failures[:MAX_FEEDBACK_FAILURES]:
                lines.append(f"- {failure.get('test')}: {failure.get('error')}")
            if len(failures) > MAX_FEEDBACK_FAILURES:
                lines.append(f"- ... and {len(failures) - MAX_FEEDBACK_FAILURES} more")
    lines.append(f"Fix {entry} and reply with the complete corrected code in one ```python block.")
    return "\n".join(lines)


async def score(ctx: ScoringContext) -> ScoreResult:
    """Run every evaluator the scenario names (concurrently), then weigh their verdicts."""
    scenario = ctx.scenario
    extraction: Extraction = extract_code(ctx.output, scenario.entry_point)
    specs = list(scenario.evaluators)
    inputs = [EvalInput(scenario=scenario, output=ctx.output, code=extraction.code,
                        options=dict(spec.options), rubric=ctx.rubric, judge=ctx.judge,
                        extraction=extraction, workspace=ctx.workspace, diff=ctx.diff,
                        changed_files=list(ctx.changed_files)) for spec in specs]
    results = await asyncio.gather(*(_run_one(s, i) for s, i in zip(specs, inputs, strict=True)))

    evaluations = [_evaluation(s, r) for s, r in zip(specs, results, strict=True)]
    weight = sum(e.weight for e in evaluations)
    auto_score = (sum(e.score * e.weight for e in evaluations) / weight) if weight > 0 else None
    success = None if auto_score is None else auto_score >= scenario.threshold - 1e-9

    feedback: str | None = None
    if scenario.tests:
        for spec, result in zip(specs, results, strict=True):
            if spec.name == "tests" and result.status == "ok":
                feedback = tests_feedback(scenario, result.detail)
                break
    judgments = [r.judgment for r in results if r.judgment is not None]
    suspect = suspect_reason([c for e in evaluations for c in e.detail.get("suspect") or []])
    held = success
    if suspect is not None and success is not None:
        success = False
    return ScoreResult(evaluations=evaluations,
                       auto_score=None if auto_score is None else round(auto_score, 6),
                       success=success, feedback=feedback, judgments=judgments,
                       suspect=suspect, suspect_success=held if suspect else None)
