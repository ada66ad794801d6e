"""The refine review: the prompt that carries the threshold, the action schema, and parsing.

Each refine round after the first shows the model its current answer and one shared,
rubric-style review prompt; the model replies with an action, ``new_answer`` (with the answer)
or ``stop``, constrained by :func:`action_schema`. A reply that is not an action raises
:class:`MalformedAction`: the caller counts it and ends the cell, never reading it as a stop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

NEW_ANSWER = "new_answer"
STOP = "stop"
CRITERIA = (
    ("correctness", "it does exactly what the task asks, without mistakes"),
    ("completeness", "every part of the task is handled, edge cases included"),
    ("clarity", "it is well organised and easy to follow"),
    ("craft", "it follows the good practice of its kind (idiomatic, documented, tested)"),
)
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n```$", re.DOTALL)


class MalformedAction(ValueError):
    """A refine reply that is not an action; the message says what was wrong with it."""


@dataclass(frozen=True)
class RefineAction:
    action: Literal["new_answer", "stop"]
    self_score: int
    answer: str | None = None


def threshold_text(threshold: float) -> str:
    """``7`` for a whole threshold, ``6.4`` for an interpolated one."""
    return f"{threshold:g}" if float(threshold).is_integer() else f"{threshold:.1f}"


def review_prompt(threshold: float) -> str:
    """The shared review prompt of every round after the first, carrying threshold T."""
    t = threshold_text(threshold)
    lines = "\n".join(f"- {name}: {text}" for name, text in CRITERIA)
    return (
        "Review your current answer above. Score it against these criteria as a whole, from 1 "
        "(poor) to 10 (excellent):\n"
        f"{lines}\n"
        f"If it scores below {t}, submit a new, complete answer:\n"
        '{"action": "new_answer", "self_score": <1-10>, "answer": "<your complete new answer>"}\n'
        f"Otherwise (a score of {t} or more), stop:\n"
        '{"action": "stop", "self_score": <1-10>}\n'
        "Reply with that JSON object only.")


def action_schema(max_answer_chars: int | None = None) -> dict[str, Any]:
    """JSON Schema of an action: ``new_answer`` with its answer, or ``stop``.

    Scores are an enum (grammar-based constraint, as in llama.cpp, enforces enums but not
    numeric ranges); ``max_answer_chars`` keeps a constrained answer closable within the token
    budget, since an object cut off by the limit would be malformed.
    """
    score = {"type": "integer", "enum": list(range(1, 11))}
    answer: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_answer_chars is not None:
        answer["maxLength"] = max_answer_chars
    new_answer = {"type": "object", "properties": {
        "action": {"type": "string", "enum": [NEW_ANSWER]}, "self_score": score,
        "answer": answer}, "required": ["action", "self_score", "answer"],
        "additionalProperties": False}
    stop = {"type": "object", "properties": {
        "action": {"type": "string", "enum": [STOP]}, "self_score": score},
        "required": ["action", "self_score"], "additionalProperties": False}
    return {"title": "refine_action", "anyOf": [new_answer, stop]}


def answer_chars_for(max_tokens: int) -> int:
    """How long a constrained answer may be so the JSON around it still fits the budget."""
    return max(32, (max_tokens - 24) * 2)


def parse_action(text: str) -> RefineAction:
    """The action in a reply; :class:`MalformedAction` for anything else."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise MalformedAction("empty reply")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedAction(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise MalformedAction(f"a JSON {type(data).__name__}, not an object")
    action = data.get("action")
    if action not in (NEW_ANSWER, STOP):
        raise MalformedAction(f"action {action!r} is neither 'new_answer' nor 'stop'")
    score = data.get("self_score")
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 10:
        raise MalformedAction(f"self_score {score!r} is not a whole number from 1 to 10")
    if action == STOP:
        return RefineAction("stop", score)
    answer = data.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise MalformedAction("new_answer without a non-empty 'answer'")
    return RefineAction("new_answer", score, answer)
