"""The statistics against known values: textbook examples, scipy, and hand-made tournaments."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from tui_bench.analysis import stats


def test_mcnemar_exact_matches_the_textbook_example_and_scipy() -> None:
    # Fagerland, Lydersen & Laake (2013), airway hyper-responsiveness: b = 1, c = 7,
    # exact conditional p = 0.070 (2 * (1 + 8) / 256).
    assert stats.mcnemar_exact(1, 7) == pytest.approx(0.0703125)
    assert stats.mcnemar_exact(7, 1) == pytest.approx(0.0703125)
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(5, 5) == 1.0
    from scipy.stats import binomtest

    for b, c in ((3, 12), (0, 9), (20, 31)):
        expected = binomtest(min(b, c), b + c, 0.5).pvalue
        assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def test_wilson_interval_known_values() -> None:
    # Newcombe (1998), example: 81 of 263 -> 0.2553 to 0.3662 (95%).
    low, high = stats.wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = stats.wilson_interval(0, 5)
    assert low == 0.0 and 0.4 < high < 0.5  # 0 of 5 is not "certainly 0%"
    assert stats.wilson_interval(0, 0) is None


def test_t_interval_matches_scipy() -> None:
    values = [0.2, 0.4, 0.9, 0.7, 0.55]
    from scipy import stats as st

    m = sum(values) / len(values)
    expected = st.t.interval(0.95, len(values) - 1, loc=m, scale=st.sem(values))
    got = stats.mean_interval(values)
    assert got == pytest.approx(expected)
    assert stats.mean_interval([0.5]) == (0.5, 0.5)
    assert stats.mean_interval([]) is None


def test_paired_bootstrap_covers_a_known_difference_and_is_seeded() -> None:
    rng = random.Random(1)
    before = [rng.random() for _ in range(200)]
    after = [b + 0.1 + rng.gauss(0, 0.05) for b in before]  # a true shift of +0.1
    diff, (low, high) = stats.paired_bootstrap(before, after)
    assert low < 0.1 < high
    assert low > 0.08 and high < 0.12  # pairing removes the between-cell spread
    assert stats.paired_bootstrap(before, after) == (diff, (low, high))
    # No difference at all: the interval is around zero.
    _, (low0, high0) = stats.paired_bootstrap(before, before)
    assert low0 == high0 == 0.0


def test_paired_comparison_counts_flips_and_says_when_it_is_significant() -> None:
    pairs = ([(0.9, 0.2, True, False)] * 9 + [(0.3, 0.8, False, True)]
             + [(0.8, 0.8, True, True)] * 10)
    result = stats.paired_comparison(pairs)
    assert (result.pairs, result.a_only, result.b_only, result.both) == (20, 9, 1, 10)
    assert result.p_value == pytest.approx(stats.mcnemar_exact(9, 1))
    assert result.p_value < 0.05 and result.significant(0.05)
    assert result.mean_diff < 0 and result.diff_high < 0
    assert "McNemar p=0.0215" in result.describe() and "20 pairs" in result.describe()
    noisy = stats.paired_comparison([(0.9, 0.2, True, False), (0.2, 0.9, False, True)])
    assert not noisy.significant(0.05)


def test_pass_hat_k_is_all_pass_beside_pass_at_k() -> None:
    from tui_bench.scoring.humaneval import pass_at_k

    # 10 attempts, 5 pass: any of 3 almost surely passes; all 3 rarely do.
    assert stats.pass_hat_k(10, 5, 3) == pytest.approx(math.comb(5, 3) / math.comb(10, 3))
    assert stats.pass_hat_k(10, 5, 3) < pass_at_k(10, 5, 3)
    assert stats.pass_hat_k(4, 4, 4) == 1.0 and stats.pass_hat_k(4, 3, 4) == 0.0
    with pytest.raises(ValueError):
        stats.pass_hat_k(3, 1, 4)


def test_cell_spread_lists_flaky_cells() -> None:
    spread = stats.cell_spread({
        ("m", "a"): [(1.0, True), (0.2, False), (0.9, True)],
        ("m", "b"): [(1.0, True), (1.0, True), (1.0, True)],
    })
    flaky = [s.key for s in spread if s.flaky]
    assert flaky == [("m", "a")]
    assert spread[0].score_variance == pytest.approx(0.19)
    assert spread[1].score_variance == 0.0


def _tournament(strengths: dict[str, float], games_per_pair: int) -> list[stats.Game]:
    """Verdicts whose counts match the strengths exactly: the fit must give them back."""
    games: list[stats.Game] = []
    names = sorted(strengths)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            wins = round(games_per_pair * strengths[a] / (strengths[a] + strengths[b]))
            games += [(a, b, 1.0)] * wins + [(b, a, 1.0)] * (games_per_pair - wins)
    return games


def test_bradley_terry_recovers_known_strengths_whatever_the_order() -> None:
    games = _tournament({"a": 4.0, "b": 2.0, "c": 1.0}, 30)  # 20/30, 24/30, 20/30
    fit = stats.bradley_terry_strengths(games, prior=0)
    assert fit["a"] / fit["c"] == pytest.approx(4.0, rel=1e-6)
    assert fit["b"] / fit["c"] == pytest.approx(2.0, rel=1e-6)
    shuffled = list(games)
    random.Random(3).shuffle(shuffled)
    again = stats.bradley_terry_strengths(shuffled, prior=0)
    assert again == pytest.approx(fit)
    # scipy's optimiser on the same likelihood agrees with the MM fit.
    from scipy.optimize import minimize

    names = sorted(fit)

    def nll(theta):  # type: ignore[no-untyped-def]
        t = dict(zip(names, [0.0, *theta]))
        return -sum(s * (t[l] - math.log(math.exp(t[l]) + math.exp(t[r])))
                    + (1 - s) * (t[r] - math.log(math.exp(t[l]) + math.exp(t[r])))
                    for l, r, s in games)

    best = minimize(nll, [0.0, 0.0]).x
    assert math.exp(best[0]) == pytest.approx(fit["b"] / fit["a"], rel=1e-3)


def test_bradley_terry_intervals_and_ordering_on_a_hand_made_tournament() -> None:
    games = _tournament({"strong": 8.0, "middle": 3.0, "weak": 1.0}, 20)
    games += [("weak", "middle", 0.5)] * 4  # draws count half each way
    result = stats.bradley_terry(games, resamples=100)
    assert [s.model for s in result.standings] == ["strong", "middle", "weak"]
    for s in result.standings:
        assert s.low is not None and s.high is not None and s.low <= s.rating <= s.high
    # An unbeaten model still gets a finite rating thanks to the prior.
    unbeaten = stats.bradley_terry([("x", "y", 1.0)] * 5, resamples=20)
    assert math.isfinite(unbeaten.standings[0].rating)
    assert unbeaten.standings[0].model == "x"


def test_pareto_front_and_overlap() -> None:
    points = [(0.9, 10.0), (0.5, 50.0), (0.4, 40.0), (0.9, 5.0), (None, 100.0)]
    assert stats.pareto_front(points) == [0, 1]
    assert stats.overlaps((0.1, 0.5), (0.4, 0.9))
    assert not stats.overlaps((0.1, 0.3), (0.4, 0.9))


def test_importing_stats_does_not_import_scipy_or_numpy() -> None:
    code = ("import sys, tui_bench.analysis.stats; "
            "print('scipy' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
