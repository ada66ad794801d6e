"""Paired statistics where batches are compared, and a CI gate that can require significance."""

from __future__ import annotations

import json

from tests.conftest import add_batch, at, run
from tui_bench.analysis.compare import compare_batches
from tui_bench.analysis.gate import evaluate_gate
from tui_bench.cli import main
from tui_bench.store import Store

M = "ollama:m1"


def _pair(store: Store, before: list[float], after: list[float]) -> None:
    add_batch(store, "base", [run("base", M, f"s{i}", s) for i, s in enumerate(before)],
              created_at=at(1))
    add_batch(store, "new", [run("new", M, f"s{i}", s) for i, s in enumerate(after)],
              created_at=at(2))


def test_a_small_noisy_drop_passes_a_gate_that_asks_for_significance(store: Store) -> None:
    _pair(store, [0.9, 0.8, 0.75, 0.9], [0.9, 0.8, 0.75, 0.3])  # one pass -> fail of four
    plain = evaluate_gate(store, "new", fail_under=None, baseline="base")
    assert not plain.passed  # without --significance the margin alone decides
    result = evaluate_gate(store, "new", fail_under=None, baseline="base", significance=0.05)
    assert result.passed
    assert any(r.startswith("not significant at 0.05, so the gate passes") and "McNemar p=1"
               in r for r in result.reasons)
    assert result.paired is not None and result.paired["a_only"] == 1


def test_a_consistent_drop_fails_and_says_it_is_significant(store: Store) -> None:
    _pair(store, [0.9] * 12, [0.2] * 12)
    result = evaluate_gate(store, "new", fail_under=None, baseline="base", significance=0.05)
    assert not result.passed
    line = next(r for r in result.reasons if "significant at 0.05" in r)
    assert "McNemar p=0.000488" in line and "12 pairs" in line  # 2 / 2**12
    assert main(["batches", "gate", "new", "--db", store.path, "--baseline", "base",
                 "--significance", "0.05"]) == 1
    assert main(["batches", "gate", "new", "--db", store.path, "--baseline", "base",
                 "--significance", "2"]) == 2


def test_batches_compare_shows_paired_statistics(store: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    _pair(store, [0.9, 0.2, 0.8, 0.4, 0.6], [0.95, 0.3, 0.85, 0.5, 0.7])
    comparison = compare_batches(store, "base", "new")
    paired = comparison.paired()
    assert paired.pairs == 5 and abs(paired.mean_diff - 0.08) < 1e-9
    assert 0 < paired.diff_low <= 0.08 <= paired.diff_high
    assert main(["batches", "compare", "base", "new", "--db", store.path]) == 0
    out = capsys.readouterr().out
    assert "paired on the shared cells: score +0.080" in out and "5 pairs" in out
    assert "McNemar p" in out
    assert main(["batches", "compare", "base", "new", "--db", store.path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["paired"]["scored_pairs"] == 5 and M in data["paired_per_model"]


def test_leaderboard_intervals_say_which_neighbours_are_not_distinguishable(
        store: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    from tui_bench.analysis.leaderboard import leaderboard

    scores = {"ollama:a": [0.9, 0.85, 0.95, 0.9, 0.88, 0.92],
              "ollama:b": [0.86, 0.9, 0.84, 0.91, 0.87, 0.89],  # within noise of a
              "ollama:c": [0.2, 0.25, 0.15, 0.2, 0.22, 0.18]}
    add_batch(store, "lb", [run("lb", m, f"s{i}", s) for m, ss in scores.items()
                            for i, s in enumerate(ss)], created_at=at(1))
    board = leaderboard(store).overall
    assert [s.model for s in board] == ["ollama:a", "ollama:b", "ollama:c"]
    a, b, c = board
    assert a.score_low < a.mean_score < a.score_high
    assert a.success_low is not None and a.success_high == 1.0
    assert (a.distinct_from_next, b.distinct_from_next, c.distinct_from_next) == (
        False, True, None)
    assert main(["report", "--db", store.path]) == 0
    out = capsys.readouterr().out
    assert "≈ next" in out and "ahead" in out and "score 95% CI" in out


def test_pass_hat_k_beside_pass_at_k_and_flaky_cells_listed() -> None:
    from tui_bench.analysis.summary import flaky_cells, pass_at_k_table

    records = []
    for scenario, results in (("s1", [0.9, 0.2, 0.8]), ("s2", [0.9, 0.95, 0.9])):
        for iteration, score in enumerate(results, start=1):
            record, _ = run("b", M, scenario, score, iteration=iteration)
            records.append(record)
    table = pass_at_k_table(records, ks=(1, 3))[M]
    # s1: 2 of 3 pass -> pass@3 1, pass^3 0; s2: all pass -> both 1.
    assert table["pass@3"] == 1.0 and table["pass^3"] == 0.5
    assert abs(table["pass@1"] - (2 / 3 + 1) / 2) < 1e-9 and table["pass^1"] == table["pass@1"]
    flaky = flaky_cells(records)
    assert [(c["scenario_id"], c["passes"], c["iterations"]) for c in flaky] == [("s1", 2, 3)]
    assert flaky[0]["score_variance"] > 0.1


def test_specialist_comparison_and_snapshot_carry_paired_statistics(
        store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json5

    from tests.test_specialists_mint import TEMPLATES
    from tui_bench.analysis.findings import specialist_effect
    from tui_bench.specialists.mint import mint_snapshot
    from tui_bench.specialists.snapshot import schema_problems

    rows = []
    for i in range(8):  # the specialist fixes 6 of 8 cells and breaks none
        rows.append(run("sp", M, f"s{i}", 0.3 if i < 6 else 0.9))
        rows.append(run("sp", M, f"s{i}", 0.9, specialist="python-craftsman"))
    add_batch(store, "sp", rows, created_at=at(1))
    (effect,) = specialist_effect(store, batch_id="sp")
    assert (effect.pairs, effect.specialist_only, effect.baseline_only) == (8, 6, 0)
    assert abs(effect.p_value - 2 / 2 ** 6) < 1e-12
    assert 0 < effect.change_low < effect.score_change < effect.change_high
    minted = mint_snapshot(store, "python-craftsman", "sp", templates_dir=TEMPLATES,
                           output_dir=tmp_path / "snapshots")
    data = json5.loads(minted.path.read_text())
    paired = data["benchmarks"]["paired"]
    assert (paired["pairs"], paired["specialist_only"], paired["baseline_only"]) == (8, 6, 0)
    assert abs(paired["mcnemar_p"] - 0.03125) < 1e-12
    assert paired["change_low"] > 0 and abs(paired["mean_change"] - 0.45) < 1e-9
    assert schema_problems(data) == []
