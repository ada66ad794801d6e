"""``tui-bench batches list|show|compare`` and ``tui-bench report`` for scripts."""

from __future__ import annotations

import json

import pytest

from tests.conftest import add_batch, at, run
from tui_bench.cli import main
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:m2"


def _three(store: Store) -> None:
    add_batch(store, "b_old", [run("b_old", M1, "s1", 0.4), run("b_old", M2, "s1", 0.8)],
              created_at=at(1))
    add_batch(store, "b_mid", [run("b_mid", M1, "s1", 0.9),
                               run("b_mid", M2, "s1", None, status="error")],
              created_at=at(2), mode="iterative")
    add_batch(store, "b_new", [run("b_new", M1, "s2", 0.6)], created_at=at(3))


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_list_newest_first_with_figures(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _three(store)
    assert main(["batches", "list", "--json", "--db", store.path]) == 0
    data = _json(capsys)
    assert data["total"] == 3
    assert [b["batch_id"] for b in data["batches"]] == ["b_new", "b_mid", "b_old"]
    mid = data["batches"][1]
    assert (mid["done"], mid["failed"], mid["mean_score"], mid["mode"]) == (1, 1, 0.9,
                                                                           "iterative")
    assert data["batches"][2]["mean_score"] == pytest.approx(0.6)
    assert data["batches"][0]["duration_s"] == 60.0
    # --db before the action word works too; paging and filters
    assert main(["batches", "--db", store.path, "list", "--json", "--limit", "1",
                 "--offset", "1"]) == 0
    assert [b["batch_id"] for b in _json(capsys)["batches"]] == ["b_mid"]
    assert main(["batches", "list", "--json", "--mode", "iterative", "--db", store.path]) == 0
    assert [b["batch_id"] for b in _json(capsys)["batches"]] == ["b_mid"]
    assert main(["batches", "list", "--json", "--search", "m2", "--db", store.path]) == 0
    assert [b["batch_id"] for b in _json(capsys)["batches"]] == ["b_mid", "b_old"]
    assert main(["batches", "list", "--db", store.path]) == 0
    assert "b_new" in capsys.readouterr().out


def test_show_and_compare(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _three(store)
    assert main(["batches", "show", "b_mid", "--json", "--db", store.path]) == 0
    summary = _json(capsys)
    assert summary["batch_id"] == "b_mid" and summary["summary"]["failed"] == 1
    assert main(["batches", "show", "b_mid", "--db", store.path]) == 0
    out = capsys.readouterr().out
    assert "b_mid" in out and "ollama:m1" in out
    assert main(["batches", "compare", "b_old", "b_mid", "--json", "--db", store.path]) == 0
    comparison = _json(capsys)
    assert comparison["summary"]["fixed"] == 1 and comparison["summary"]["broke"] == 1
    assert main(["batches", "compare", "b_old", "b_mid", "--db", store.path]) == 0
    out = capsys.readouterr().out
    assert "1 fail→pass" in out and "1 pass→fail" in out
    assert main(["batches", "show", "nope", "--db", store.path]) == 1
    assert main(["batches", "compare", "b_old", "nope", "--db", store.path]) == 1


def test_report_command(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _three(store)
    assert main(["report", "--json", "--db", store.path]) == 0
    report = _json(capsys)
    overall = report["leaderboard"]["overall"]
    assert [(s["model"], s["runs"]) for s in overall] == [(M2, 1), (M1, 3)]
    assert overall[1]["mean_score"] == pytest.approx((0.4 + 0.9 + 0.6) / 3)
    assert overall[0]["success_rate"] == 1.0 and overall[0]["mean_judged"] is None
    assert [p["batch_id"] for p in report["over_time"][M1]] == ["b_old", "b_mid", "b_new"]
    assert main(["report", "--batch", "b_mid", "--json", "--db", store.path]) == 0
    assert [s["model"] for s in _json(capsys)["leaderboard"]["overall"]] == [M1]
    assert main(["report", "--db", store.path]) == 0
    out = capsys.readouterr().out
    assert "Ranking · every batch" in out and "Score over time" in out
    assert "No surprises" in out
    assert main(["report", "--batch", "nope", "--db", store.path]) == 1
