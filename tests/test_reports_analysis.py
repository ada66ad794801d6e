"""Reports on data with known answers: rankings, over time, difficulty, specialists, effort,
surprises, and the rollup staying right as runs and judgments change."""

from __future__ import annotations

import statistics

import pytest

from tests.conftest import add_batch, at, by_key, judge, run
from tui_bench.analysis.findings import difficulty, effort, specialist_effect, surprises
from tui_bench.analysis.leaderboard import OVERALL, leaderboard, score_over_time
from tui_bench.analysis.report import build_report
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:m2"


def _ranking_data(store: Store) -> None:
    runs = [
        run("A", M1, "s1", 0.9, category="code", ttft_ms=100, tps=10, cost=0.01, run_id="r1"),
        run("A", M1, "s2", 0.5, category="code", ttft_ms=200, tps=20, cost=0.02, run_id="r2"),
        run("A", M1, "s3", 0.8, category="prose", tps=30, run_id="r3"),
        run("A", M2, "s1", 0.6, category="code", run_id="r4"),
        run("A", M2, "s2", 0.4, category="code", run_id="r5"),
        run("A", M2, "s3", None, category="prose", status="error", run_id="r6"),
    ]
    add_batch(store, "A", runs, created_at=at(1))
    judge(store, "r1", 80, judge_name="ann")
    judge(store, "r1", 90, judge_name="bob")
    judge(store, "r2", 60, judge_name="ann")
    judge(store, "r4", 10, judge_name="gpt", kind="model")  # not a person: not counted


def test_overall_ranking_has_exact_figures(store: Store) -> None:
    _ranking_data(store)
    board = leaderboard(store)
    first, second = board.overall
    assert (first.rank, first.model, second.rank, second.model) == (1, M1, 2, M2)
    assert first.category == OVERALL and first.prompt_version == "v1"
    assert first.runs == 3
    assert first.mean_score == pytest.approx((0.9 + 0.5 + 0.8) / 3)
    assert first.success_rate == pytest.approx(2 / 3)
    assert first.score_spread == pytest.approx(statistics.pstdev([0.9, 0.5, 0.8]))
    assert first.mean_ttft_ms == pytest.approx(150.0)
    assert first.mean_tokens_per_s == pytest.approx(20.0)
    assert first.cost == pytest.approx(0.03)
    # person judgments: r1 is the mean of its two (85), r2 is 60
    assert first.judged == 2 and first.mean_judged == pytest.approx(72.5)
    # the failed run is no finished run: m2 has two, none passed, nothing judged, no timing
    assert second.runs == 2
    assert second.mean_score == pytest.approx(0.5)
    assert second.success_rate == 0.0
    assert second.mean_judged is None and second.judged == 0
    assert second.mean_ttft_ms is None and second.mean_tokens_per_s is None
    assert second.cost is None


def test_per_category_ranking(store: Store) -> None:
    _ranking_data(store)
    board = leaderboard(store)
    assert list(board.by_category) == ["code", "prose"]
    code = board.by_category["code"]
    assert [s.model for s in code] == [M1, M2]
    assert code[0].mean_score == pytest.approx(0.7)
    assert code[0].score_spread == pytest.approx(0.2)
    assert code[1].mean_score == pytest.approx(0.5)
    assert code[1].score_spread == pytest.approx(0.1)
    prose = board.by_category["prose"]
    assert [(s.model, s.runs, s.mean_score) for s in prose] == [(M1, 1, pytest.approx(0.8))]
    assert prose[0].score_spread == 0.0


def test_ranking_of_one_batch_and_per_prompt_version(store: Store) -> None:
    _ranking_data(store)
    add_batch(store, "B", [run("B", M1, "s1", 0.2), run("B", M1, "s1", 0.4, prompt_version="v2")],
              created_at=at(2))
    board = leaderboard(store, batch_id="B")
    assert [(s.model, s.prompt_version, s.mean_score) for s in board.overall] == [
        (M1, "v2", pytest.approx(0.4)), (M1, "v1", pytest.approx(0.2))]
    everything = leaderboard(store)
    assert by_key(everything.overall, model=M1, prompt_version="v1").runs == 4


def test_empty_database_reports_nothing_and_no_zeroes(store: Store) -> None:
    report = build_report(store)
    assert report.leaderboard.overall == [] and report.difficulty == []
    assert report.to_dict()["leaderboard"]["overall"] == []


def test_rollup_follows_new_runs_replaced_cells_and_judgments(store: Store) -> None:
    _ranking_data(store)
    assert leaderboard(store).overall[0].mean_score == pytest.approx(2.2 / 3)
    record, scen = run("A", M1, "s2", 1.0, category="code", run_id="r2b")
    store.save_run(record, scen)  # a resumed cell replaces the earlier run
    assert leaderboard(store).overall[0].mean_score == pytest.approx(2.7 / 3)
    judge(store, "r3", 30)
    assert leaderboard(store).overall[0].judged == 2  # r2's judgment went with its run
    assert leaderboard(store).overall[0].mean_judged == pytest.approx((85 + 30) / 2)
    assert store.refresh_rollup() == 0  # nothing stale: nothing recomputed


def test_score_over_time(store: Store) -> None:
    add_batch(store, "old", [run("old", M1, "s1", 0.4), run("old", M1, "s2", 0.6),
                             run("old", M2, "s1", 0.9)], created_at=at(1))
    add_batch(store, "new", [run("new", M1, "s1", 1.0)], created_at=at(5))
    points = score_over_time(store)
    assert [(p.batch_id, p.mean_score, p.scored) for p in points[M1]] == [
        ("old", pytest.approx(0.5), 2), ("new", pytest.approx(1.0), 1)]
    assert [p.batch_id for p in points[M2]] == ["old"]
    assert [p.batch_id for p in score_over_time(store, last=1)[M1]] == ["new"]


def test_difficulty_orders_scenarios_most_models_fail(store: Store) -> None:
    _ranking_data(store)
    rows = difficulty(store)
    assert [d.scenario_id for d in rows] == ["s2", "s1", "s3"]
    s2, s1, s3 = rows
    assert (s2.models, s2.models_failed, s2.failed_by) == (2, 2, [M1, M2])
    assert s2.success_rate == 0.0 and s2.mean_score == pytest.approx(0.45)
    assert (s1.models_failed, s1.failed_by, s1.fail_share) == (1, [M2], 0.5)
    assert s1.success_rate == 0.5
    assert (s3.models, s3.models_failed, s3.category) == (1, 0, "prose")


def test_specialist_against_baseline_pairs_cells_within_a_batch(store: Store) -> None:
    add_batch(store, "C", [
        run("C", M1, "s1", 0.5), run("C", M1, "s1", 0.8, specialist="py"),
        run("C", M1, "s2", 0.4), run("C", M1, "s2", 0.6, specialist="py"),
    ], created_at=at(1))
    # a batch with only specialist runs has nothing to compare against
    add_batch(store, "D", [run("D", M1, "s1", 0.1, specialist="py")], created_at=at(2))
    (effect,) = specialist_effect(store)
    assert (effect.model, effect.specialist, effect.pairs, effect.batches) == (M1, "py", 2, 1)
    assert effect.baseline_score == pytest.approx(0.45)
    assert effect.specialist_score == pytest.approx(0.7)
    assert effect.score_change == pytest.approx(0.25)
    assert (effect.baseline_success, effect.specialist_success) == (0.0, 0.5)
    assert effect.success_change == 0.5
    assert specialist_effect(store, batch_id="D") == []


def test_effort_is_attempts_over_each_batch_budget(store: Store) -> None:
    add_batch(store, "E", [
        run("E", M1, "s1", 0.9, attempts=1, mode="iterative"),
        run("E", M1, "s2", 0.9, attempts=2, mode="iterative"),
        run("E", M1, "s3", 0.2, attempts=4, mode="iterative"),
    ], created_at=at(1), mode="iterative", max_iterations=4)
    add_batch(store, "F", [run("F", M1, "s1", 0.8, attempts=2, mode="comparative")],
              created_at=at(2), mode="comparative", max_iterations=2)
    add_batch(store, "Z", [run("Z", M2, "s1", 0.8)], created_at=at(3))  # zero-shot: no effort
    (only,) = effort(store)
    assert (only.model, only.runs) == (M1, 4)
    assert only.mean_attempts == pytest.approx(9 / 4)
    assert only.budget_share == pytest.approx((1 / 4 + 2 / 4 + 4 / 4 + 2 / 2) / 4)
    assert only.first_answer_share == pytest.approx(1 / 4)
    (e,) = effort(store, batch_id="E")
    assert e.budget_share == pytest.approx(7 / 12) and e.first_answer_share == pytest.approx(1 / 3)


def test_surprises_need_weights_and_a_clear_margin(store: Store) -> None:
    add_batch(store, "G", [
        run("G", M1, "s1", 0.5), run("G", M2, "s1", 0.8),   # m2 beats m1 by 0.3
        run("G", M1, "s2", 0.6), run("G", M2, "s2", 0.7),   # by 0.1: not clear
        run("G", M1, "s3", 0.40), run("G", M2, "s3", 0.55),  # by exactly 0.15: counts
    ], created_at=at(1))
    assert surprises(store) == []  # no routing weights yet
    store.save_weight_changes([
        {"category": "code", "model": M1, "old_weight": None, "new_weight": 0.9,
         "mean_score": 0.9, "runs": 1, "learning_rate": 0.1, "source_batch": "x"},
        {"category": "code", "model": M2, "old_weight": None, "new_weight": 0.3,
         "mean_score": 0.3, "runs": 1, "learning_rate": 0.1, "source_batch": "x"}])
    found = surprises(store)
    assert [(s.scenario_id, s.model, s.favoured_model) for s in found] == [
        ("s1", M2, M1), ("s3", M2, M1)]
    assert (found[0].score, found[0].favoured_score) == (0.8, 0.5)
    assert found[0].margin == pytest.approx(0.3)
    assert [s.scenario_id for s in surprises(store, margin=0.2)] == ["s1"]


def test_browser_figures_from_the_rollup_match_the_runs(store: Store) -> None:
    _ranking_data(store)
    add_batch(store, "dead", [run("dead", M1, "s1", None, status="error")], created_at=at(2))
    add_batch(store, "empty", [], created_at=at(3))
    ids = ["A", "dead", "empty"]
    rolled, live = store.batch_figures(ids), store.batch_figures_live(ids)
    assert rolled["A"] == {"runs": 6, "done": 5, "failed": 1, "passed": 2, "scored": 5,
                           "mean_score": pytest.approx((0.9 + 0.5 + 0.8 + 0.6 + 0.4) / 5)}
    assert live["A"] == rolled["A"]
    assert rolled["dead"] == {"runs": 1, "done": 0, "failed": 1, "passed": 0, "scored": 0,
                              "mean_score": None}  # nothing finished: no mean, not 0
    assert "empty" not in rolled
    page = {b["batch_id"]: b for b in store.batch_page()}
    assert (page["empty"]["runs"], page["empty"]["mean_score"]) == (0, None)
    assert [s.model for s in leaderboard(store).overall] == [M1, M2]  # no all-failed rows
