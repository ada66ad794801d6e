"""Refine mode: the model answers, then reviews its own answer against a threshold T and either
submits a new answer or stops, until it stops or the cap on new answers is reached.

How often a model chooses to refine at a given T is its *effort*; ``tui-bench calibrate``
measures it over a grid of thresholds. Every round's answer and self-score is kept as an
attempt; the run's telemetry carries the effort figures (:class:`RefineTelemetry`).
"""

from __future__ import annotations

from tui_bench.domain import Attempt, GenerationOptions, RefineTelemetry
from tui_bench.engine.limits import CLIENT_CUT
from tui_bench.engine.modes.base import CellSession
from tui_bench.engine.refine_action import (
    NEW_ANSWER,
    MalformedAction,
    action_schema,
    answer_chars_for,
    parse_action,
    review_prompt,
)


class RefineMode:
    """Answer, then review-and-replace until the model stops or ``max_new_answers`` is hit."""

    name = "refine"
    keeps_attempts = True

    async def run(self, session: CellSession) -> None:
        record, spec = session.record, session.spec
        # The threshold is the model's own when the batch asked for a calibrated effort level.
        threshold = spec.threshold_for(session.cell.model)
        cap = spec.max_new_answers
        refine = RefineTelemetry(threshold=threshold, max_new_answers=cap, effort=spec.effort)
        record.refine = refine  # filled in as the rounds go; stored with the run
        options = trial_options(session)
        session.announce(1)
        gen = await session.generate(list(session.messages), options=options)
        answer = gen.text
        await self._keep(session, 1, answer, "answer", None, None)
        refine.first_score = refine.final_score = record.auto_score
        record.first_success = record.success
        schema = action_schema(answer_chars_for(options.max_tokens))
        review = review_prompt(threshold)
        round_no = 1
        while refine.new_answer_count < cap:
            round_no += 1
            session.announce(round_no)
            messages = [*session.messages, {"role": "assistant", "content": answer},
                        {"role": "user", "content": review}]
            gen = await session.generate(messages, schema=schema, options=options)
            try:
                action = parse_action(gen.text)
            except MalformedAction as exc:
                refine.malformed = True
                refine.end_reason = "malformed"
                cut = gen.done.done_reason in ("length", CLIENT_CUT)
                self._note(session, round_no, gen.text, "malformed", None,
                           f"not an action: {exc}" + (
                               " (cut off by the token limit: raise --max-tokens)" if cut
                               else ""))
                return
            if action.action != NEW_ANSWER:
                refine.end_reason = "stopped"
                self._note(session, round_no, answer, "stop", action.self_score, None)
                return
            refine.new_answer_count += 1
            answer = action.answer or ""
            await self._keep(session, round_no, answer, NEW_ANSWER, action.self_score, None)
            refine.final_score = record.auto_score
        refine.end_reason = "cap"

    async def _keep(self, session: CellSession, round_no: int, answer: str, action: str,
                    self_score: int | None, feedback: str | None) -> None:
        """Score an answer, make it the run's current one, and keep it as an attempt."""
        record = session.record
        record.output = answer  # kept even if scoring fails below
        scored = await session.score(answer)
        session.judgments[:] = list(scored.judgments)
        record.evaluations = list(scored.evaluations)
        record.auto_score = scored.auto_score
        record.success = scored.success
        record.suspect, record.suspect_success = scored.suspect, scored.suspect_success
        session.attempts.append(Attempt(
            run_id=session.run_id, attempt=round_no, output=answer, auto_score=scored.auto_score,
            success=scored.success, feedback=feedback or scored.feedback,
            telemetry=session.telemetry[-1], action=action, self_score=self_score))

    @staticmethod
    def _note(session: CellSession, round_no: int, text: str, action: str,
              self_score: int | None, feedback: str | None) -> None:
        """A round that brought no new answer (stop, malformed): kept, not scored."""
        session.attempts.append(Attempt(
            run_id=session.run_id, attempt=round_no, output=text, feedback=feedback,
            telemetry=session.telemetry[-1], action=action, self_score=self_score))


def trial_options(session: CellSession) -> GenerationOptions:
    """Each iteration of a sampled cell is its own trial: seed + iteration - 1, so repeated
    trials are different samples and a rerun is still the same."""
    options = session.options
    if options.seed is None or options.temperature == 0 or session.cell.iteration == 1:
        return options
    return options.model_copy(update={"seed": options.seed + session.cell.iteration - 1})
