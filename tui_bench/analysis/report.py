"""The whole report in one object: what ``tui-bench report`` prints and ``--json`` writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tui_bench.analysis.effort import RefineEffort, refine_effort
from tui_bench.analysis.findings import (
    SURPRISE_MARGIN,
    Effort,
    ScenarioDifficulty,
    SpecialistEffect,
    Surprise,
    difficulty,
    effort,
    specialist_effect,
    surprises,
)
from tui_bench.analysis.leaderboard import Leaderboard, ScorePoint, leaderboard, score_over_time
from tui_bench.store import Store

REPORT_FORMAT = "tui-bench.report/1"


@dataclass
class Report:
    """Rankings, score over time, difficulty, specialists, effort and surprises."""

    batch_id: str | None
    leaderboard: Leaderboard
    over_time: dict[str, list[ScorePoint]] = field(default_factory=dict)
    difficulty: list[ScenarioDifficulty] = field(default_factory=list)
    specialists: list[SpecialistEffect] = field(default_factory=list)
    effort: list[Effort] = field(default_factory=list)
    surprises: list[Surprise] = field(default_factory=list)
    surprise_margin: float = SURPRISE_MARGIN
    refine: RefineEffort = field(default_factory=RefineEffort)  # refine runs' effort

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "batch_id": self.batch_id,
            "leaderboard": self.leaderboard.to_dict(),
            "over_time": {m: [asdict(p) for p in pts] for m, pts in self.over_time.items()},
            "difficulty": [{**asdict(d), "fail_share": d.fail_share} for d in self.difficulty],
            "specialists": [{**asdict(s), "score_change": s.score_change,
                             "success_change": s.success_change} for s in self.specialists],
            "effort": [asdict(e) for e in self.effort],
            "surprises": [asdict(s) for s in self.surprises],
            "surprise_margin": self.surprise_margin,
            "refine_effort": asdict(self.refine),
        }


def build_report(store: Store, *, batch_id: str | None = None,
                 margin: float = SURPRISE_MARGIN, last: int | None = 30) -> Report:
    """Every section of the report over all batches, or over one when ``batch_id`` is set.

    Score over time always spans batches (the last ``last`` per model): one batch has no time.
    """
    return Report(
        batch_id=batch_id,
        leaderboard=leaderboard(store, batch_id=batch_id),
        over_time=score_over_time(store, last=last),
        difficulty=difficulty(store, batch_id=batch_id),
        specialists=specialist_effect(store, batch_id=batch_id),
        effort=effort(store, batch_id=batch_id),
        surprises=surprises(store, margin=margin, batch_id=batch_id),
        surprise_margin=margin,
        refine=refine_effort(store, batch_id=batch_id),
    )
