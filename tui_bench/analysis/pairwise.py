"""Win rates and ratings from pairwise verdicts ("which of these two answers is better").

Rankings use a Bradley-Terry model fitted to every verdict at once (``analysis.stats``), with a
seeded bootstrap interval per model: the same verdicts in any order give the same table. The
online Elo below is kept for reference; it depends on the order the verdicts came in.

Conventions (those of Chatbot Arena): a tie and "both bad" are both draws, because neither
answer beat the other. Elo starts every model at 1000 and moves by K = 32 per verdict, in the
order the verdicts were given, so the same verdicts always give the same table. The win rate is
the score rate that matches Elo: (wins + half the draws) / games. This module imports neither
Textual nor rich.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui_bench.domain import PAIR_VERDICTS, PairVerdict

ELO_START = 1000.0
ELO_K = 32.0
Outcome = PairVerdict
OUTCOMES = PAIR_VERDICTS


@dataclass(frozen=True, slots=True)
class Verdict:
    """One comparison, with the sides unmasked: who was left, who was right, who won."""

    left: str
    right: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Standing:
    """One model's record over all its comparisons."""

    model: str
    games: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    win_rate: float | None
    elo: float
    rating: float | None = None       # Bradley-Terry strength on the Elo scale (1000 = average)
    rating_low: float | None = None   # 95% bootstrap interval
    rating_high: float | None = None


def expected_score(rating: float, other: float) -> float:
    """Elo's expected score of ``rating`` against ``other``."""
    return 1.0 / (1.0 + 10 ** ((other - rating) / 400.0))


def _left_score(outcome: str) -> float:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown verdict {outcome!r}; use one of {', '.join(OUTCOMES)}")
    return {"left": 1.0, "right": 0.0}.get(outcome, 0.5)


def elo_ratings(verdicts: Iterable[Verdict], *, k: float = ELO_K,
                start: float = ELO_START) -> dict[str, float]:
    """Sequential Elo over the verdicts in order; a model compared with itself is skipped."""
    ratings: dict[str, float] = {}
    for v in verdicts:
        if v.left == v.right:
            continue
        left = ratings.setdefault(v.left, start)
        right = ratings.setdefault(v.right, start)
        expected = expected_score(left, right)
        delta = k * (_left_score(v.outcome) - expected)
        ratings[v.left] = left + delta
        ratings[v.right] = right - delta
    return ratings


def standings(verdicts: Iterable[Verdict], *, k: float = ELO_K,
              start: float = ELO_START) -> list[Standing]:
    """Per model: games, wins, losses, draws, win rate and Elo; best Elo first."""
    items = [v for v in verdicts if v.left != v.right]
    tally: dict[str, list[int]] = {}  # games, wins, losses, ties, both_bad
    for v in items:
        score = _left_score(v.outcome)
        for model, mine in ((v.left, score), (v.right, 1.0 - score)):
            row = tally.setdefault(model, [0, 0, 0, 0, 0])
            row[0] += 1
            if v.outcome == "tie":
                row[3] += 1
            elif v.outcome == "both_bad":
                row[4] += 1
            elif mine == 1.0:
                row[1] += 1
            else:
                row[2] += 1
    ratings = elo_ratings(items, k=k, start=start)
    from tui_bench.analysis.stats import bradley_terry

    fit = {b.model: b for b in bradley_terry(
        [(v.left, v.right, _left_score(v.outcome)) for v in items]).standings}
    out = [Standing(model=m, games=g, wins=w, losses=lo, ties=t, both_bad=bb,
                    win_rate=(w + 0.5 * (t + bb)) / g if g else None,
                    elo=ratings.get(m, start), rating=fit[m].rating, rating_low=fit[m].low,
                    rating_high=fit[m].high)
           for m, (g, w, lo, t, bb) in tally.items()]
    return sorted(out, key=lambda s: (-(s.rating or 0.0), s.model))


def side_labels(left_model: str, right_model: str, left_batch: str,
                right_batch: str) -> tuple[str, str]:
    """What is being ranked: the model, or "model @ batch" when one model meets itself."""
    if left_model != right_model:
        return left_model, right_model
    return f"{left_model} @ {left_batch}", f"{right_model} @ {right_batch}"
