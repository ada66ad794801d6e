"""Prompt modes: one answer (zero-shot), or answers fed back their failing tests until they
pass or the attempts run out (iterative; comparative is iterative, read against its first
answer)."""

from __future__ import annotations

from tui_bench.domain import Attempt
from tui_bench.engine.modes.base import CellSession


class PromptMode:
    """Ask, score, and (when attempts remain) tell the model what failed and ask again."""

    def __init__(self, name: str, max_attempts: int = 1) -> None:
        self.name = name
        self.max_attempts = max(1, max_attempts)
        self.keeps_attempts = name != "zero-shot"

    async def run(self, session: CellSession) -> None:
        record = session.record
        messages = list(session.messages)
        for attempt in range(1, self.max_attempts + 1):
            session.announce(attempt)
            gen = await session.generate(messages)
            record.output = gen.text  # kept even if scoring fails below
            scored = await session.score(gen.text)
            session.judgments[:] = list(scored.judgments)
            session.attempts.append(Attempt(
                run_id=session.run_id, attempt=attempt, output=gen.text,
                auto_score=scored.auto_score, success=scored.success,
                feedback=scored.feedback, telemetry=session.telemetry[-1]))
            record.evaluations = list(scored.evaluations)
            record.auto_score = scored.auto_score
            record.success = scored.success
            record.suspect, record.suspect_success = scored.suspect, scored.suspect_success
            if attempt == 1:
                record.first_success = scored.success
            if scored.success or not scored.feedback or attempt == self.max_attempts:
                break
            messages = [*messages, {"role": "assistant", "content": gen.text},
                        {"role": "user", "content": scored.feedback}]
