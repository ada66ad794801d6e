"""Score a batch's stored outputs again, without calling the model that generated them.

Generating is the expensive part; scoring keeps improving (a better evaluator, a new rubric, a
stronger judge). A rescore opens a new scoring of the batch (see ``store/scorings.py``), scores
each finished run with the scenario as the catalog has it now (or the stored version when the
scenario is gone), optionally with other evaluators, rubric or judge, and commits each run the
moment it is scored. Interrupted, the same command continues the unfinished scoring and never
scores a run twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from tui_bench.catalog import Catalog
from tui_bench.domain import EvaluatorSpec, GenerationOptions, ModelRef, RunRecord, Scenario
from tui_bench.store import Store

log = logging.getLogger(__name__)

PAGE = 500
DEFAULT_CONCURRENCY = 2


class RescoreError(ValueError):
    """The rescore cannot start: an unknown batch, evaluator or rubric, a clashing scoring."""


@dataclass
class RescoreResult:
    batch_id: str
    scoring: int
    status: str = "running"
    scored: int = 0
    skipped: int = 0  # already scored by this scoring (a resumed rescore)
    unscorable: list[str] = field(default_factory=list)  # run ids with the reason
    resumed: bool = False
    elapsed_s: float = 0.0


def parse_evaluators(text: str | None) -> list[tuple[str, float | None]]:
    """``tests,expected_elements=0.5`` -> [(name, weight or None)]; weights are numbers >= 0."""
    out: list[tuple[str, float | None]] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, weight = item.partition("=")
        value: float | None = None
        if sep:
            try:
                value = float(weight)
            except ValueError:
                raise RescoreError(f"--evaluators: weight {weight!r} of {name!r} is not a "
                                   "number") from None
            if value < 0:
                raise RescoreError(f"--evaluators: weight of {name!r} is negative")
        out.append((name.strip(), value))
    return out


def evaluator_label(chosen: list[tuple[str, float | None]]) -> list[str]:
    return [name if weight is None else f"{name}={weight:g}" for name, weight in chosen]


def _with_evaluators(scenario: Scenario, chosen: list[tuple[str, float | None]]) -> Scenario:
    """The scenario scored by the chosen evaluators; its own weight and options where it has
    that evaluator, weight 1 otherwise."""
    own = {spec.name: spec for spec in scenario.evaluators}
    specs = []
    for name, weight in chosen:
        base = own.get(name, EvaluatorSpec(name=name))
        specs.append(base if weight is None else base.model_copy(update={"weight": weight}))
    return scenario.model_copy(update={"evaluators": specs})


class Rescorer:
    """Rescores batches against a store and catalog. One per event loop (the judge's backend)."""

    def __init__(self, store: Store, catalog: Catalog, *, pool: Any = None,
                 scorer: Callable[..., Any] | None = None,
                 on_scored: Callable[[RunRecord, Any], None] | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.pool = pool
        self._scorer = scorer
        self.on_scored = on_scored
        self._cancelled = False
        self._judge: Any = None

    def cancel(self) -> None:
        """Stop after the runs being scored now; the scoring stays resumable."""
        self._cancelled = True

    # ---- checks

    def check(self, batch_id: str, evaluators: str | None, rubric: str | None,
              judge: str | None) -> list[tuple[str, float | None]]:
        """Refuse what cannot run before anything is stored; return the chosen evaluators."""
        from tui_bench.scoring import evaluator_names

        if self.store.get_batch(batch_id) is None:
            raise RescoreError(f"no batch {batch_id!r} in {self.store.path}")
        if self.store.count_runs(batch_id, status="ok") == 0:
            raise RescoreError(f"batch {batch_id} has no finished runs to score")
        chosen = parse_evaluators(evaluators)
        known = set(evaluator_names())
        for name, _ in chosen:
            if name not in known:
                raise RescoreError(f"--evaluators: unknown evaluator {name!r} (known: "
                                   f"{', '.join(sorted(known))})")
        if rubric is not None and rubric not in self.catalog.rubrics:
            raise RescoreError(f"--rubric: unknown rubric {rubric!r} (known: "
                               f"{', '.join(sorted(self.catalog.rubrics)) or 'none'})")
        if judge is not None:
            try:
                ModelRef.parse(judge)
            except ValueError as exc:
                raise RescoreError(f"--judge: {exc}") from None
        return chosen

    # ---- the rescore

    async def run(self, batch_id: str, *, evaluators: str | None = None,
                  rubric: str | None = None, judge: str | None = None,
                  concurrency: int = DEFAULT_CONCURRENCY) -> RescoreResult:
        """Score every finished run of the batch in a new (or the unfinished) scoring."""
        chosen = self.check(batch_id, evaluators, rubric, judge)
        labels = evaluator_label(chosen)
        open_scoring = self.store.unfinished_scoring(batch_id)
        if open_scoring is not None:
            same = (open_scoring["evaluators"] == labels and open_scoring["rubric"] == rubric
                    and open_scoring["judge"] == judge)
            if not same:
                own = "the scenarios' own"
                raise RescoreError(
                    f"scoring {open_scoring['number']} of {batch_id} is unfinished (evaluators "
                    f"{','.join(open_scoring['evaluators']) or own}, rubric "
                    f"{open_scoring['rubric'] or own}, judge "
                    f"{open_scoring['judge'] or 'none'}): run it again with the same options "
                    "to finish it")
            number = int(open_scoring["number"])
            self.store.set_scoring_status(batch_id, number, "running")
        else:
            number = self.store.begin_scoring(batch_id, evaluators=labels, rubric=rubric,
                                              judge=judge)
        result = RescoreResult(batch_id=batch_id, scoring=number,
                               resumed=open_scoring is not None)
        done = self.store.scored_run_ids(batch_id, number)
        self._judge = self._make_judge(judge) if judge else None
        self._cancelled = False
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(max(1, concurrency))
        completed = False
        try:
            offset = 0
            while not self._cancelled:
                page = self.store.runs(batch_id, status="ok", limit=PAGE, offset=offset)
                if not page:
                    break
                offset += len(page)
                todo = []
                for run in page:
                    if run.run_id in done:
                        result.skipped += 1
                    else:
                        todo.append(run)

                async def one(run: RunRecord) -> None:
                    async with semaphore:
                        if self._cancelled:
                            return
                        await self._rescore_run(run, number, chosen, rubric, result)

                await asyncio.gather(*(one(run) for run in todo))
            completed = not self._cancelled
        finally:
            # Cancelled, interrupted (Ctrl+C) or failed: the scoring stays open to resume.
            result.elapsed_s = time.perf_counter() - started
            result.status = "finished" if completed else "interrupted"
            self.store.set_scoring_status(batch_id, number, result.status)
        return result

    def _scenario(self, run: RunRecord) -> tuple[Scenario | None, str]:
        scenario = self.catalog.scenario(run.scenario_id)
        if scenario is None and run.scenario_hash:
            definition = self.store.scenario_definition(run.scenario_hash)
            if definition is not None:
                try:
                    scenario = Scenario.model_validate(definition)
                except ValidationError:
                    scenario = None
        if scenario is None:
            return None, "scenario not in the catalog and no stored version"
        if scenario.kind == "agent":
            return None, "agent runs need their final workspace, which is not stored"
        return scenario, ""

    async def _rescore_run(self, run: RunRecord, number: int,
                           chosen: list[tuple[str, float | None]], rubric: str | None,
                           result: RescoreResult) -> None:
        from tui_bench.scoring import ScoringContext, score

        scenario, reason = self._scenario(run)
        if scenario is None:
            result.unscorable.append(f"{run.run_id}: {reason}")
            return
        if chosen:
            scenario = _with_evaluators(scenario, chosen)
        if self._judge is not None and not any(e.name == "llm_judge" for e in scenario.evaluators):
            scenario = scenario.model_copy(update={
                "evaluators": [*scenario.evaluators, EvaluatorSpec(name="llm_judge", weight=0)]})
        the_rubric = (self.catalog.rubrics.get(rubric) if rubric
                      else self.catalog.rubric_for(scenario))
        ctx = ScoringContext(scenario=scenario, output=run.output, rubric=the_rubric,
                             judge=self._judge)
        scored = await (self._scorer or score)(ctx)
        self.store.save_rescore(run.run_id, number, evaluations=scored.evaluations,
                                auto_score=scored.auto_score, success=scored.success,
                                scenario=scenario, judgments=scored.judgments,
                                suspect=scored.suspect, suspect_success=scored.suspect_success)
        result.scored += 1
        if self.on_scored is not None:
            try:
                self.on_scored(run, scored)
            except Exception:  # a broken listener must never lose a result
                log.exception("rescore listener failed")

    def _make_judge(self, judge: str) -> Any:
        from tui_bench.backends import BackendPool
        from tui_bench.scoring import BackendJudge

        if self.pool is None:
            self.pool = BackendPool()
        ref = ModelRef.parse(judge)
        backend, name = self.pool.for_model(ref)
        options = GenerationOptions(temperature=0.0, seed=42, max_tokens=512, num_ctx=4096)
        return BackendJudge(backend, name, str(ref), options)
