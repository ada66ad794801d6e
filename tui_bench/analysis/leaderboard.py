"""Rankings of models (per prompt version), overall and per category, and score over time.

The store hands back sums and counts per (category, model, prompt version); this module merges
them into rankings. Means come from sums over counts, so a mean of nothing is ``None`` (shown
as "—"), never 0, and the overall ranking is exact, not a mean of category means.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tui_bench.analysis import stats
from tui_bench.store import Store

OVERALL = "overall"


def ratio(total: float | None, count: int | None) -> float | None:
    """``total / count``, or ``None`` when nothing was counted."""
    if not count or total is None:
        return None
    return float(total) / count


def spread_from_sums(total: float | None, squares: float | None, count: int | None) -> float | None:
    """Population standard deviation from a sum and a sum of squares (as ``summary.spread``)."""
    if not count or total is None or squares is None:
        return None
    if count == 1:
        return 0.0
    m = total / count
    return math.sqrt(max(0.0, squares / count - m * m))


@dataclass
class Sums:
    """Mergeable sums and counts for one group of finished runs."""

    runs: int = 0
    scored: int = 0
    score_sum: float = 0.0
    score_sq: float = 0.0
    decided: int = 0
    passed: int = 0
    ttft_n: int = 0
    ttft_sum: float = 0.0
    tps_n: int = 0
    tps_sum: float = 0.0
    cost_n: int = 0
    cost_sum: float = 0.0
    judged: int = 0
    judged_sum: float = 0.0
    judged_sq: float = 0.0

    def add(self, row: dict[str, Any]) -> None:
        for name in self.__dataclass_fields__:
            value = row.get(name)
            if value is not None:
                setattr(self, name, getattr(self, name) + value)


@dataclass
class Standing:
    """One (model, prompt version) in a ranking: automatic and judged figures with counts."""

    category: str
    model: str
    prompt_version: str
    runs: int
    rank: int = 0
    mean_score: float | None = None
    score_spread: float | None = None
    success_rate: float | None = None
    judged: int = 0
    mean_judged: float | None = None  # person judgments, percent of the rubric (0..100)
    judged_spread: float | None = None
    mean_ttft_ms: float | None = None
    mean_tokens_per_s: float | None = None
    cost: float | None = None
    # 95% intervals: Student t for the mean score, Wilson for the success rate.
    score_low: float | None = None
    score_high: float | None = None
    success_low: float | None = None
    success_high: float | None = None
    # False when the next-ranked entry's score interval overlaps this one's: the runs do not
    # show which of the two is better. None for the last entry or without intervals.
    distinct_from_next: bool | None = None

    @property
    def score_interval(self) -> tuple[float, float] | None:
        if self.score_low is None or self.score_high is None:
            return None
        return self.score_low, self.score_high

    def versus_next(self) -> str:
        """How this entry stands against the next-ranked one, in a few words."""
        if self.distinct_from_next is None:
            return ""
        return "ahead" if self.distinct_from_next else "≈ next"

    @classmethod
    def from_sums(cls, category: str, model: str, prompt_version: str, s: Sums) -> Standing:
        score_ci = stats.clip(stats.t_interval_from_sums(s.scored, s.score_sum, s.score_sq))
        success_ci = stats.wilson_interval(s.passed, s.decided)
        return cls(
            score_low=score_ci[0] if score_ci else None,
            score_high=score_ci[1] if score_ci else None,
            success_low=success_ci[0] if success_ci else None,
            success_high=success_ci[1] if success_ci else None,
            category=category, model=model, prompt_version=prompt_version, runs=s.runs,
            mean_score=ratio(s.score_sum, s.scored),
            score_spread=spread_from_sums(s.score_sum, s.score_sq, s.scored),
            success_rate=ratio(s.passed, s.decided),
            judged=s.judged,
            mean_judged=ratio(s.judged_sum, s.judged),
            judged_spread=spread_from_sums(s.judged_sum, s.judged_sq, s.judged),
            mean_ttft_ms=ratio(s.ttft_sum, s.ttft_n),
            mean_tokens_per_s=ratio(s.tps_sum, s.tps_n),
            cost=s.cost_sum if s.cost_n else None,
        )


def _order(standings: Iterable[Standing]) -> list[Standing]:
    """Best first: mean score, then success rate, then judged; unknowns last; ranks from 1."""
    def key(s: Standing) -> tuple[Any, ...]:
        return (s.mean_score is None, -(s.mean_score or 0.0),
                s.success_rate is None, -(s.success_rate or 0.0),
                s.mean_judged is None, -(s.mean_judged or 0.0), s.model, s.prompt_version)

    ordered = sorted(standings, key=key)
    for number, standing in enumerate(ordered, start=1):
        standing.rank = number
    for this, after in itertools.pairwise(ordered):
        mine, theirs = this.score_interval, after.score_interval
        if mine is not None and theirs is not None:
            this.distinct_from_next = not stats.overlaps(mine, theirs)
    return ordered


@dataclass
class Leaderboard:
    """The overall ranking and one per category."""

    overall: list[Standing] = field(default_factory=list)
    by_category: dict[str, list[Standing]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"overall": [asdict(s) for s in self.overall],
                "by_category": {c: [asdict(s) for s in rows]
                                for c, rows in self.by_category.items()}}


def rows_over(query: Callable[..., list[dict[str, Any]]], batch_id: str | None,
              batch_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    """A per-batch store query over several chosen batches: their rows, one batch after another
    (sums and counts, so the callers' merging stays exact)."""
    if batch_ids is None:
        return query(batch_id=batch_id)
    return [row for one in batch_ids for row in query(batch_id=one)]


def leaderboard(store: Store, *, batch_id: str | None = None,
                batch_ids: Sequence[str] | None = None) -> Leaderboard:
    """Rank every (model, prompt version) over finished runs, overall and per category
    (over every batch, one, or the chosen ``batch_ids``)."""
    groups: dict[tuple[str, str, str], Sums] = {}
    for row in rows_over(store.leaderboard_sums, batch_id, batch_ids):
        groups.setdefault((row["category"], row["model"], row["prompt_version"]), Sums()).add(row)
    overall: dict[tuple[str, str], Sums] = {}
    by_category: dict[str, list[Standing]] = {}
    for (category, model, version), sums in sorted(groups.items()):
        overall.setdefault((model, version), Sums()).add(asdict(sums))
        by_category.setdefault(category, []).append(
            Standing.from_sums(category, model, version, sums))
    return Leaderboard(
        overall=_order(Standing.from_sums(OVERALL, m, v, s) for (m, v), s in overall.items()),
        by_category={c: _order(rows) for c, rows in sorted(by_category.items())})


# --------------------------------------------------------------------------- over time


@dataclass
class ScorePoint:
    """A model's mean score in one batch, placed at the batch's creation time."""

    batch_id: str
    created_at: str
    mean_score: float | None
    scored: int


def score_over_time(store: Store, *, models: list[str] | None = None,
                    batch_id: str | None = None,
                    last: int | None = None) -> dict[str, list[ScorePoint]]:
    """Per model, its mean score batch by batch, oldest first (the last ``last`` batches)."""
    out: dict[str, list[ScorePoint]] = {}
    for row in store.score_points(models=models, batch_id=batch_id):
        out.setdefault(row["model"], []).append(ScorePoint(
            batch_id=row["batch_id"], created_at=row["created_at"],
            mean_score=row["mean_score"], scored=row["scored"]))
    if last:
        out = {model: points[-last:] for model, points in out.items()}
    return dict(sorted(out.items()))
