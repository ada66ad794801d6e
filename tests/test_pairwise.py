"""Pairwise verdicts: known verdicts give known win rates and Elo; the hidden mapping is stored;
the screen hides models, shuffles sides and records what the person could not see."""

from __future__ import annotations

import pytest

from tests.conftest import Host, add_judged_runs, judging_catalog, screen_text, settle
from tui_bench.analysis.pairwise import (
    Verdict,
    elo_ratings,
    expected_score,
    side_labels,
    standings,
)
from tui_bench.store import Store
from tui_bench.tui.screens.pairwise import PairwiseScreen


def test_elo_known_values() -> None:
    # A beats B: both start at 1000, expected 0.5, A gains 32 * 0.5 = 16.
    assert elo_ratings([Verdict("A", "B", "left")]) == {"A": 1016.0, "B": 984.0}
    # A beats B again: expected for A = 1 / (1 + 10^(-32/400)) = 0.545922...; gain 14.5305
    two = elo_ratings([Verdict("A", "B", "left"), Verdict("B", "A", "right")])
    assert two["A"] == pytest.approx(1030.5305, abs=1e-3)
    assert two["B"] == pytest.approx(969.4695, abs=1e-3)
    assert expected_score(1016, 984) == pytest.approx(0.545922, abs=1e-6)


def test_tie_and_both_bad_are_draws() -> None:
    assert elo_ratings([Verdict("A", "B", "tie")]) == {"A": 1000.0, "B": 1000.0}
    after = elo_ratings([Verdict("A", "B", "left"), Verdict("A", "B", "both_bad")])
    # the draw pulls the winner back: A expected 0.545922 but scored 0.5
    assert after["A"] == pytest.approx(1016 + 32 * (0.5 - 0.545922), abs=1e-3)
    assert after["A"] + after["B"] == pytest.approx(2000.0)


def test_order_matters_and_is_deterministic() -> None:
    verdicts = [Verdict("A", "B", "left"), Verdict("B", "C", "left"), Verdict("C", "A", "tie")]
    assert elo_ratings(verdicts) == elo_ratings(list(verdicts))
    assert elo_ratings(verdicts) != elo_ratings(list(reversed(verdicts)))


def test_standings_win_rates() -> None:
    verdicts = [Verdict("A", "B", "left"), Verdict("B", "A", "right"), Verdict("A", "B", "tie"),
                Verdict("C", "A", "both_bad"), Verdict("C", "B", "left")]
    table = {s.model: s for s in standings(verdicts)}
    a, b, c = table["A"], table["B"], table["C"]
    assert (a.games, a.wins, a.losses, a.ties, a.both_bad) == (4, 2, 0, 1, 1)
    assert a.win_rate == pytest.approx((2 + 0.5 * 2) / 4)
    assert (b.games, b.wins, b.losses, b.ties) == (4, 0, 3, 1)
    assert b.win_rate == pytest.approx(0.5 / 4)
    assert c.win_rate == pytest.approx((1 + 0.5) / 2)
    # Bradley-Terry over all verdicts: C beat B outright and drew A, so it edges A (online Elo,
    # in verdict order, had A first); B, who lost to both, is last.
    assert [s.model for s in standings(verdicts)] == ["C", "A", "B"]
    with pytest.raises(ValueError):
        elo_ratings([Verdict("A", "B", "maybe")])  # type: ignore[arg-type]


def test_side_labels_tell_batches_apart_for_one_model() -> None:
    assert side_labels("m1", "m2", "b1", "b2") == ("m1", "m2")
    assert side_labels("m1", "m1", "b1", "b2") == ("m1 @ b1", "m1 @ b2")


def _two_models(store: Store) -> None:
    cat = judging_catalog()
    add_judged_runs(store, cat, [
        {"model": "ollama:alpha", "scenario_id": "fizz", "output": "ALPHA-FIZZ"},
        {"model": "ollama:beta", "scenario_id": "fizz", "output": "BETA-FIZZ"},
        {"model": "ollama:alpha", "scenario_id": "sort", "output": "ALPHA-SORT"},
        {"model": "ollama:beta", "scenario_id": "sort", "output": "BETA-SORT"},
        {"model": "ollama:beta", "scenario_id": "sort", "tier": "L0", "output": "lonely"},
    ])


def test_store_candidates_and_hidden_mapping(store: Store) -> None:
    _two_models(store)
    pairs = store.pairwise_candidates(judge="alice")
    assert len(pairs) == 2  # fizz and sort; the L0 run has no partner
    _, pair = pairs[0]
    left, right = pair.b_run_id, pair.a_run_id
    store.save_pairwise(left_run_id=left, right_run_id=right, verdict="right", judge="alice")
    stored = store.pairwise_verdicts()[0]
    assert (stored.left_run_id, stored.right_run_id) == (left, right)
    assert stored.left_model == store.get_run(left).model
    assert stored.right_model == store.get_run(right).model
    assert stored.verdict == "right" and stored.blind and stored.judge == "alice"
    assert len(store.pairwise_candidates(judge="alice")) == 1  # compared pairs drop out
    assert len(store.pairwise_candidates(judge="bob")) == 2  # but only for that judge
    assert store.pairwise_candidates(judge="alice", across="batches") == []
    with pytest.raises(ValueError):
        store.save_pairwise(left_run_id=left, right_run_id=right, verdict="meh", judge="x")


async def test_pairwise_screen_hides_models_and_stores_mapping(store: Store) -> None:
    _two_models(store)
    app = Host(lambda: PairwiseScreen(store=store, catalog=judging_catalog(), judge="alice", seed=7))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.target
        assert isinstance(screen, PairwiseScreen)
        text = screen_text(app)
        assert "ollama:alpha" not in text and "ollama:beta" not in text
        left, right = screen.left, screen.right
        assert left is not None and right is not None
        assert left.output.split("-")[1] == right.output.split("-")[1]  # same cell
        assert left.output in text and right.output in text
        await pilot.press("1")  # left is better
        await settle(pilot)
        first = store.pairwise_verdicts()[0]
        assert (first.left_run_id, first.left_model) == (left.run_id, left.model)
        assert (first.right_run_id, first.right_model) == (right.run_id, right.model)
        assert first.verdict == "left"
        assert f"left was {left.model}" in screen_text(app)  # revealed after the verdict
        await pilot.press("t")
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert "No pairs left" in text and "Pairwise standings" in text
        assert [v.verdict for v in store.pairwise_verdicts()] == ["left", "tie"]


def test_standings_rank_by_bradley_terry_whatever_the_verdict_order() -> None:
    # B beats C often, A beats B narrowly, A never met C: online Elo depends on the order.
    verdicts = ([Verdict("A", "B", "left")] * 3 + [Verdict("A", "B", "right")] * 2
                + [Verdict("B", "C", "left")] * 5 + [Verdict("B", "C", "right")])
    forward, backward = standings(verdicts), standings(list(reversed(verdicts)))
    assert [s.model for s in forward] == [s.model for s in backward] == ["A", "B", "C"]
    assert {s.model: s.rating for s in forward} == pytest.approx(
        {s.model: s.rating for s in backward})
    for s in forward:
        assert s.rating_low is not None and s.rating_low <= s.rating <= s.rating_high
