"""The CI gate on known data: the bar, the baseline, the margin, and the reasons it gives."""

from __future__ import annotations

import pytest

from tests.conftest import add_batch, at, run
from tui_bench.analysis.gate import evaluate_gate
from tui_bench.cli import main
from tui_bench.store import Store

M = "ollama:m1"


def _candidate(store: Store, last: float = 0.3, status: str = "ok") -> None:
    add_batch(store, "base", [run("base", M, "s1", 0.9), run("base", M, "s2", 0.8),
                              run("base", M, "s3", 0.75), run("base", M, "s4", 0.9)],
              created_at=at(1))
    add_batch(store, "new", [run("new", M, "s1", 0.9), run("new", M, "s2", 0.8),
                             run("new", M, "s3", 0.75), run("new", M, "s4", last, status=status)],
              created_at=at(2))


def test_below_the_bar_fails_with_both_reasons(store: Store) -> None:
    _candidate(store)
    result = evaluate_gate(store, "new", fail_under=0.8, baseline=None)
    assert not result.passed and result.exit_code == 1
    assert result.success_rate == 0.75
    assert result.mean_score == pytest.approx(0.6875)
    assert result.reasons == ["success rate 75% (3 of 4 runs) is below 80%",
                              "mean score 0.688 is below 0.800"]
    assert result.regressed_cells == []


def test_above_the_bar_passes(store: Store) -> None:
    _candidate(store)
    result = evaluate_gate(store, "new", fail_under=0.6, baseline=None)
    assert result.passed and result.reasons == [] and result.exit_code == 0


def test_an_errored_run_counts_against_the_success_rate(store: Store) -> None:
    _candidate(store, last=0.0, status="error")
    result = evaluate_gate(store, "new", fail_under=0.8, baseline=None)
    assert result.success_rate == 0.75  # 3 passes of 4 runs, not 3 of 3 finished
    assert result.mean_score == pytest.approx((0.9 + 0.8 + 0.75) / 3)
    assert result.reasons == ["success rate 75% (3 of 4 runs) is below 80%"]


def test_regression_against_the_baseline_names_the_cells(store: Store) -> None:
    _candidate(store)
    result = evaluate_gate(store, "new", fail_under=None, baseline="base")
    assert not result.passed
    assert [c.scenario_id for c in result.regressed_cells] == ["s4"]
    assert result.regressed_cells[0].flip == "broke"
    assert result.reasons[0].startswith("mean score fell 0.150 against baseline base")
    assert result.reasons[1] == ("success rate fell from 100% to 75% against baseline base, "
                                 "more than the margin 5%")
    assert "1 cell(s) regressed: ollama:m1 · s4 · L2/v1 #1" in result.reasons[2]


def test_a_drop_within_the_margin_passes(store: Store) -> None:
    add_batch(store, "base", [run("base", M, "s1", 0.80), run("base", M, "s2", 0.50)],
              created_at=at(1))
    add_batch(store, "new", [run("new", M, "s1", 0.75), run("new", M, "s2", 0.45),
                             run("new", M, "s9", 0.1)], created_at=at(2))
    result = evaluate_gate(store, "new", fail_under=None, baseline="base", margin=0.05)
    assert result.passed, result.reasons  # exactly the margin is not "more than" it
    assert result.regressed_cells == []
    strict = evaluate_gate(store, "new", fail_under=None, baseline="base", margin=0.04)
    assert not strict.passed
    assert [c.scenario_id for c in strict.regressed_cells] == ["s1", "s2"]


def test_missing_batches_fail_with_a_reason(store: Store) -> None:
    _candidate(store)
    assert evaluate_gate(store, "nope", fail_under=0.5, baseline=None).reasons == [
        "batch nope not found"]
    result = evaluate_gate(store, "new", fail_under=None, baseline="gone")
    assert not result.passed and result.reasons == ["baseline batch gone not found"]
    add_batch(store, "empty", [], created_at=at(3))
    assert evaluate_gate(store, "empty", fail_under=0.5, baseline=None).reasons == [
        "batch empty has no runs"]


def test_batches_gate_command_exit_status(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _candidate(store)
    db = ["--db", store.path]
    assert main(["batches", "gate", "new", "--fail-under", "0.6", *db]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["batches", "gate", "new", "--baseline", "base", *db]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "s4" in captured.err
    assert main(["batches", "gate", "new", *db]) == 2  # neither bar nor baseline
