"""Statistics behind every "A beats B": pure functions over numbers, no store, no screens.

Why these and not a single p-value: tui-bench compares the *same cells* run two ways (two
models, two settings, two batches), so the tests are paired. McNemar's exact test asks whether
the pass/fail flips lean one way more than chance allows; a seeded paired bootstrap gives an
interval for the score difference; Wilson intervals keep success rates honest on small counts;
Bradley-Terry ranks pairwise verdicts without depending on their order (online Elo does).
numpy and scipy are imported inside the functions that need them, so start-up stays fast.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_LEVEL = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20261130

Interval = tuple[float, float]


def _z(level: float) -> float:
    return statistics.NormalDist().inv_cdf(0.5 + level / 2)


# --------------------------------------------------------------------------- intervals


def wilson_interval(successes: int, n: int, level: float = DEFAULT_LEVEL) -> Interval | None:
    """Wilson score interval for a success rate; ``None`` for no trials.

    Unlike the textbook ``p ± z·se`` it never leaves 0..1 and stays sensible at 0 of 5.
    """
    if n <= 0:
        return None
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def t_interval_from_sums(n: int, total: float, squares: float,
                         level: float = DEFAULT_LEVEL) -> Interval | None:
    """Student-t interval for a mean known only by its count, sum and sum of squares."""
    if n <= 0:
        return None
    m = total / n
    if n == 1:
        return m, m
    var = max(0.0, (squares - n * m * m) / (n - 1))
    from scipy import stats as st  # lazily: slow to import

    half = float(st.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var / n)
    return m - half, m + half


def mean_interval(values: Iterable[float], level: float = DEFAULT_LEVEL) -> Interval | None:
    """Student-t interval for the mean of ``values`` (None when there are none)."""
    got = [float(v) for v in values]
    return t_interval_from_sums(len(got), sum(got), sum(v * v for v in got), level)


def bootstrap_mean_interval(values: Sequence[float], *, level: float = DEFAULT_LEVEL,
                            resamples: int = DEFAULT_RESAMPLES,
                            seed: int = DEFAULT_SEED) -> Interval | None:
    """Percentile bootstrap interval for a mean; the same seed gives the same interval."""
    if not values:
        return None
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def clip(interval: Interval | None, low: float = 0.0, high: float = 1.0) -> Interval | None:
    """An interval kept inside the range its figure can take (a score is never below 0)."""
    if interval is None:
        return None
    return max(low, interval[0]), min(high, interval[1])


def overlaps(a: Interval | None, b: Interval | None) -> bool:
    """Two intervals share ground: the figures they belong to are not distinguishable."""
    if a is None or b is None:
        return True
    return a[0] <= b[1] and b[0] <= a[1]


# --------------------------------------------------------------------------- paired tests


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    ``b`` pairs passed on the first side only, ``c`` on the second only. Under "no difference"
    each discordant pair is a fair coin, so the p-value is a binomial tail doubled (capped at 1).
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_bootstrap(before: Sequence[float], after: Sequence[float], *,
                     level: float = DEFAULT_LEVEL, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> tuple[float, Interval] | None:
    """Mean of ``after - before`` over pairs, with a seeded percentile bootstrap interval."""
    if len(before) != len(after):
        raise ValueError("paired samples must have the same length")
    if not before:
        return None
    diffs = [float(a) - float(b) for b, a in zip(before, after, strict=False)]
    interval = bootstrap_mean_interval(diffs, level=level, resamples=resamples, seed=seed)
    assert interval is not None
    return statistics.fmean(diffs), interval


@dataclass
class PairedComparison:
    """Side A against side B on the same cells: who passes where, and the score difference."""

    pairs: int = 0                  # cells with both sides present
    scored_pairs: int = 0           # of those, cells with a score on both sides
    a_only: int = 0                 # passed on A only (McNemar's b)
    b_only: int = 0                 # passed on B only (McNemar's c)
    both: int = 0
    neither: int = 0
    p_value: float | None = None    # McNemar exact, two-sided
    mean_a: float | None = None
    mean_b: float | None = None
    mean_diff: float | None = None  # B - A
    diff_low: float | None = None
    diff_high: float | None = None
    level: float = DEFAULT_LEVEL

    def significant(self, alpha: float = 0.05) -> bool:
        """A real difference: the pass/fail flips are lopsided, or the score interval excludes 0."""
        flips = self.p_value is not None and self.p_value < alpha
        scores = (self.diff_low is not None and self.diff_high is not None
                  and (self.diff_low > 0 or self.diff_high < 0))
        return flips or scores

    def significantly_worse(self, alpha: float = 0.05) -> bool:
        """Side B is worse than side A beyond chance: more A-only passes than B-only with
        McNemar p < alpha, or a score-difference interval wholly below zero."""
        flips = (self.p_value is not None and self.p_value < alpha
                 and self.a_only > self.b_only)
        scores = self.diff_high is not None and self.diff_high < 0
        return flips or scores

    def describe(self) -> str:
        """One line a person can read: the difference, its interval, the pairs, the p-value."""
        if not self.pairs:
            return "no cells in common"
        parts = []
        if self.mean_diff is not None:
            parts.append(f"score {self.mean_diff:+.3f} "
                         f"[{self.diff_low:+.3f}, {self.diff_high:+.3f}] "
                         f"({self.level:.0%} CI, {self.scored_pairs} pairs)")
        parts.append(f"pass/fail flips {self.a_only} vs {self.b_only}, "
                     f"McNemar p={self.p_value:.3g}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_comparison(pairs: Iterable[tuple[float | None, float | None, bool, bool]], *,
                      level: float = DEFAULT_LEVEL, resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED) -> PairedComparison:
    """Compare two sides cell by cell: ``(score_a, score_b, passed_a, passed_b)`` per cell."""
    rows = list(pairs)
    out = PairedComparison(pairs=len(rows), level=level)
    for _, _, pa, pb in rows:
        if pa and pb:
            out.both += 1
        elif pa:
            out.a_only += 1
        elif pb:
            out.b_only += 1
        else:
            out.neither += 1
    out.p_value = mcnemar_exact(out.a_only, out.b_only) if rows else None
    scored = [(a, b) for a, b, _, _ in rows if a is not None and b is not None]
    out.scored_pairs = len(scored)
    if scored:
        before = [float(a) for a, _ in scored]
        after = [float(b) for _, b in scored]
        result = paired_bootstrap(before, after, level=level, resamples=resamples, seed=seed)
        assert result is not None
        out.mean_diff, (out.diff_low, out.diff_high) = result
        out.mean_a, out.mean_b = statistics.fmean(before), statistics.fmean(after)
    return out


# --------------------------------------------------------------------------- repeated attempts


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k attempts drawn from n (c of them passing) *all* pass.

    The unbiased estimator C(c, k) / C(n, k); pass@k asks for *any* pass, pass^k for every
    one, which is what a user who reruns a prompt experiences as reliability.
    """
    if k <= 0 or k > n:
        raise ValueError(f"k must be between 1 and n={n}")
    return math.comb(c, k) / math.comb(n, k)


@dataclass
class CellSpread:
    """One cell's results across its iterations."""

    key: tuple[Any, ...]
    iterations: int
    passes: int
    mean_score: float | None
    score_variance: float | None  # sample variance (n - 1)

    @property
    def flaky(self) -> bool:
        """Passed some iterations and failed others: the same question, different verdicts."""
        return 0 < self.passes < self.iterations


def cell_spread(cells: dict[tuple[Any, ...], list[tuple[float | None, bool]]]) -> list[CellSpread]:
    """Per cell (key -> list of (score, passed) per iteration), its variance and flakiness."""
    out = []
    for key, results in cells.items():
        scores = [float(s) for s, _ in results if s is not None]
        out.append(CellSpread(
            key=key, iterations=len(results), passes=sum(bool(p) for _, p in results),
            mean_score=statistics.fmean(scores) if scores else None,
            score_variance=statistics.variance(scores) if len(scores) > 1 else None))
    return out


# --------------------------------------------------------------------------- Bradley-Terry


@dataclass
class BTStanding:
    """One model's Bradley-Terry strength on the Elo scale, with a bootstrap interval."""

    model: str
    rating: float
    low: float | None = None
    high: float | None = None
    games: int = 0


@dataclass
class BTFit:
    """Strengths fitted to every verdict at once, so their order does not matter."""

    standings: list[BTStanding] = field(default_factory=list)
    games: int = 0
    level: float = DEFAULT_LEVEL

    def rating(self, model: str) -> float | None:
        return next((s.rating for s in self.standings if s.model == model), None)


# (left, right, left's score: 1 win, 0 loss, 0.5 draw)
Game = tuple[str, str, float]


def bradley_terry_strengths(games: Sequence[Game], *, prior: float = 0.5,
                            iterations: int = 1000, tol: float = 1e-10) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry strengths by Hunter's MM algorithm.

    A draw is half a win each way. ``prior`` adds that many drawn games between every model
    and a fixed reference of strength 1, so a model that won every game still has a finite
    strength; ``prior=0`` gives the plain maximum-likelihood fit. Strengths are scaled to a
    geometric mean of 1.
    """
    models = sorted({g[0] for g in games} | {g[1] for g in games})
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    if n == 0:
        return {}
    wins = [prior / 2] * n
    pair_games: dict[tuple[int, int], float] = {}
    for left, right, score in games:
        if left == right:
            continue
        i, j = index[left], index[right]
        wins[i] += score
        wins[j] += 1 - score
        key = (min(i, j), max(i, j))
        pair_games[key] = pair_games.get(key, 0.0) + 1
    p = [1.0] * n
    for _ in range(iterations):
        denom = [prior / (p[i] + 1.0) for i in range(n)]
        for (i, j), count in pair_games.items():
            share = count / (p[i] + p[j])
            denom[i] += share
            denom[j] += share
        new = [wins[i] / denom[i] if denom[i] > 0 else p[i] for i in range(n)]
        new = [max(v, 1e-12) for v in new]
        scale = math.exp(statistics.fmean(math.log(v) for v in new))
        new = [v / scale for v in new]
        change = max(abs(math.log(a) - math.log(b)) for a, b in zip(new, p, strict=False))
        p = new
        if change < tol:
            break
    return dict(zip(models, p, strict=False))


def elo_scale(strength: float) -> float:
    """A Bradley-Terry strength on the familiar Elo scale (1000 = the geometric mean)."""
    return 1000.0 + 400.0 * math.log10(strength)


def bradley_terry(games: Sequence[Game], *, level: float = DEFAULT_LEVEL,
                  resamples: int = 200, seed: int = DEFAULT_SEED,
                  prior: float = 0.5) -> BTFit:
    """Fit every verdict at once and bootstrap the verdicts for a seeded interval per model."""
    games = [g for g in games if g[0] != g[1]]
    fit = bradley_terry_strengths(games, prior=prior)
    counts: dict[str, int] = {}
    for left, right, _ in games:
        counts[left] = counts.get(left, 0) + 1
        counts[right] = counts.get(right, 0) + 1
    samples: dict[str, list[float]] = {m: [] for m in fit}
    rng = random.Random(seed)
    if games and resamples > 0:
        for _ in range(resamples):
            drawn = [games[rng.randrange(len(games))] for _ in games]
            strengths = bradley_terry_strengths(drawn, prior=prior, iterations=200, tol=1e-6)
            for model in fit:
                if model in strengths:
                    samples[model].append(elo_scale(strengths[model]))
    alpha = (1 - level) / 2
    standings = []
    for model, strength in fit.items():
        got = sorted(samples[model])
        low = high = None
        if len(got) >= 10:
            low = got[int(alpha * (len(got) - 1))]
            high = got[math.ceil((1 - alpha) * (len(got) - 1))]
        standings.append(BTStanding(model=model, rating=elo_scale(strength), low=low, high=high,
                                    games=counts.get(model, 0)))
    standings.sort(key=lambda s: (-s.rating, s.model))
    return BTFit(standings=standings, games=len(games), level=level)


# --------------------------------------------------------------------------- Pareto


def pareto_front(points: Sequence[tuple[float | None, float | None]]) -> list[int]:
    """Indices of points no other point beats on both axes (higher is better on each).

    Points with an unknown figure cannot be placed and are never on the front.
    """
    known = [(i, q, s) for i, (q, s) in enumerate(points) if q is not None and s is not None]
    front = []
    for i, q, s in known:
        dominated = any(q2 >= q and s2 >= s and (q2 > q or s2 > s) for _, q2, s2 in known)
        if not dominated:
            front.append(i)
    return front
