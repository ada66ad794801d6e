"""Routing weights: the moving average on known values, the history, the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import add_batch, at, run
from tui_bench.analysis.weights import (
    WEIGHTS_FORMAT,
    current_weights,
    ema,
    favoured_models,
    plan_update,
    update_weights,
    write_weights_file,
)
from tui_bench.cli import main
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:m2"


def test_ema_known_values() -> None:
    assert ema(None, 0.8, 0.1) == 0.8
    assert ema(0.8, 0.4, 0.1) == pytest.approx(0.76)
    assert ema(0.8, 0.4, 1.0) == pytest.approx(0.4)


def test_first_weight_is_the_mean_then_moves_by_the_learning_rate(store: Store) -> None:
    add_batch(store, "b1", [run("b1", M1, "s1", 0.9), run("b1", M1, "s2", 0.7),
                            run("b1", M2, "s1", 0.5),
                            run("b1", M2, "w1", 0.2, category="prose")], created_at=at(1))
    first = update_weights(store, learning_rate=0.1)
    assert [(c.category, c.model, c.old_weight, c.new_weight, c.runs) for c in first] == [
        ("code", M1, None, pytest.approx(0.8), 2), ("code", M2, None, pytest.approx(0.5), 1),
        ("prose", M2, None, pytest.approx(0.2), 1)]
    add_batch(store, "b2", [run("b2", M1, "s1", 0.4)], created_at=at(2))
    second = update_weights(store, learning_rate=0.1)
    moved = [c for c in second if not c.skipped]
    assert [(c.model, c.old_weight, c.mean_score, c.source_batch) for c in moved] == [
        (M1, pytest.approx(0.8), pytest.approx(0.4), "b2")]
    assert moved[0].new_weight == pytest.approx(0.76)
    assert moved[0].change == pytest.approx(-0.04)
    assert current_weights(store)["code"] == {M1: pytest.approx(0.76), M2: pytest.approx(0.5)}
    assert favoured_models(store) == {"code": M1, "prose": M2}


def test_a_batch_is_learned_from_once_and_history_is_kept(store: Store) -> None:
    add_batch(store, "b1", [run("b1", M1, "s1", 0.8)], created_at=at(1))
    add_batch(store, "b2", [run("b2", M1, "s1", 0.4)], created_at=at(2))
    update_weights(store, learning_rate=0.5, batch_id="b1")
    update_weights(store, learning_rate=0.5)
    again = update_weights(store, learning_rate=0.5)
    assert [c.skipped for c in again] == [True]
    assert current_weights(store)["code"][M1] == pytest.approx(0.6)
    history = store.weight_history()
    assert [(h["old_weight"], h["new_weight"], h["source_batch"]) for h in history] == [
        (pytest.approx(0.8), pytest.approx(0.6), "b2"), (None, pytest.approx(0.8), "b1")]
    assert [c.new_weight for c in plan_update(store, learning_rate=0.5)] == [
        pytest.approx(0.6)]


def test_weights_file_and_command(store: Store, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    add_batch(store, "b1", [run("b1", M1, "s1", 0.8), run("b1", M2, "s1", 0.6)],
              created_at=at(1))
    out = tmp_path / "w" / "routing_weights.json"
    assert main(["weights", "--update", "--output", str(out), "--db", store.path]) == 0
    assert "2 weight(s) changed" in capsys.readouterr().out
    document = json.loads(out.read_text())
    assert document["format"] == WEIGHTS_FORMAT
    assert document["categories"] == {"code": {M1: 0.8, M2: 0.6}}
    assert document["favoured"] == {"code": M1}
    add_batch(store, "b2", [run("b2", M2, "s1", 1.0)], created_at=at(2))
    assert main(["weights", "--update", "--learning-rate", "0.5", "--json", "--output", str(out),
                 "--db", store.path]) == 0
    changes = json.loads(capsys.readouterr().out)
    moved = [c for c in changes if not c["skipped"]]
    assert [(c["model"], c["new_weight"], c["change"]) for c in moved] == [
        (M2, pytest.approx(0.8), pytest.approx(0.2))]
    assert json.loads(out.read_text())["categories"]["code"][M2] == pytest.approx(0.8)
    assert main(["weights", "--history", "--json", "--db", store.path]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["weights", "--update", "--learning-rate", "2", "--db", store.path]) == 2
    write_weights_file(store, tmp_path / "again.json")
    # 0.8 each: a tie goes to the first name
    assert json.loads((tmp_path / "again.json").read_text())["favoured"] == {"code": M1}
