"""Exports of a known batch read back the same numbers: json, csv, md and standalone html."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.conftest import add_batch, at, run
from tui_bench.analysis.export import export_batch, render
from tui_bench.analysis.summary import batch_summary
from tui_bench.cli import main
from tui_bench.domain import Evaluation
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:m2"


def _known(store: Store) -> None:
    runs = [run("K", M1, "s1", 0.9, tps=40.0, ttft_ms=120.0, cost=0.002, run_id="k1"),
            run("K", M1, "s2", 0.55, tps=60.0, ttft_ms=80.0, run_id="k2"),
            run("K", M2, "s1", 0.7125, tps=12.5, run_id="k3"),
            run("K", M2, "s2", None, status="error", run_id="k4",
                output="<script>alert('x')</script> | pipe")]
    runs[0][0].evaluations = [Evaluation(evaluator="tests", score=1.0, weight=2.0),
                              Evaluation(evaluator="expected_elements", score=0.7)]
    runs[1][0].evaluations = [Evaluation(evaluator="tests", score=0.25, weight=2.0)]
    add_batch(store, "K", runs, created_at=at(3), duration_s=125)


def test_json_is_the_portable_summary(store: Store) -> None:
    _known(store)
    data = json.loads(export_batch(store, "K", "json"))
    assert data == json.loads(json.dumps(batch_summary(store, "K"), default=str))
    assert data["format"] == "tui-bench.batch-summary/1"
    s = data["summary"]
    assert (s["runs"], s["ok"], s["failed"]) == (4, 3, 1)
    assert s["mean_score"] == pytest.approx((0.9 + 0.55 + 0.7125) / 3)
    assert s["success_rate"] == pytest.approx(2 / 3)
    assert data["duration_s"] == 125.0


def test_csv_has_one_row_per_run_that_parses_back(store: Store) -> None:
    _known(store)
    rows = list(csv.DictReader(io.StringIO(export_batch(store, "K", "csv"))))
    assert [r["run_id"] for r in rows] == ["k1", "k2", "k3", "k4"]
    by_id = {r["run_id"]: r for r in rows}
    assert float(by_id["k1"]["auto_score"]) == 0.9
    assert float(by_id["k3"]["auto_score"]) == 0.7125
    assert float(by_id["k3"]["tokens_per_s"]) == 12.5
    assert by_id["k1"]["success"] == "true" and by_id["k2"]["success"] == "false"
    assert float(by_id["k1"]["eval:tests"]) == 1.0
    assert float(by_id["k1"]["eval:expected_elements"]) == 0.7
    assert by_id["k2"]["eval:expected_elements"] == ""  # not evaluated: empty, not 0
    assert by_id["k4"]["status"] == "error" and by_id["k4"]["auto_score"] == ""
    assert float(by_id["k1"]["cost"]) == 0.002 and by_id["k2"]["cost"] == ""


def test_markdown_tables_hold_the_figures(store: Store) -> None:
    _known(store)
    text = export_batch(store, "K", "md")
    assert text.startswith("# Batch K")
    assert "| success rate | 67% |" in text
    assert "| mean score | 0.721 |" in text
    assert f"| {M1} | 2 | 2 | 0 | 50% | 0.725 |" in text
    assert f"| {M2} | 2 | 1 | 1 | 100% | 0.713 |" in text
    assert "| tests | 0.625 |" in text
    assert "| ollama:m2 | s2 | L2 | v1 | — | 1 | error | — | — |" in text


def test_html_stands_alone_with_figures_and_charts(store: Store) -> None:
    _known(store)
    page = export_batch(store, "K", "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<style>" in page and page.count("<svg") >= 4
    assert "<script" not in page  # the error run's output is not in it, and nothing runs
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)  # nothing to fetch
    assert "<link" not in page
    for figure in ("0.721", "67%", "0.725", "0.713", "12.5", "40.0", "backend failed"):
        assert figure in page, figure
    assert f"<td>{M1}</td>" in page


def test_html_escapes_text_from_the_database(store: Store) -> None:
    add_batch(store, "X", [run("X", "ollama:<b>bold</b>", "s<1>", 0.5)], created_at=at(1))
    page = export_batch(store, "X", "html")
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_unknown_format_and_missing_batch(store: Store) -> None:
    _known(store)
    with pytest.raises(ValueError):
        render(batch_summary(store, "K"), "pdf")
    with pytest.raises(KeyError):
        export_batch(store, "missing", "json")


def test_export_command_writes_each_format(store: Store, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _known(store)
    db = ["--db", store.path]
    for name in ("json", "csv", "md", "html"):
        target = tmp_path / f"out.{name}"
        assert main(["export", "K", "--output", str(target), *db]) == 0
        assert target.read_text() == export_batch(store, "K", name)
    assert main(["export", "K", "--format", "csv", *db]) == 0
    assert capsys.readouterr().out.startswith("run_id,model,")
    assert main(["export", "nope", *db]) == 1
    assert main(["export", "K", "--output", str(tmp_path / "x.pdf"), *db]) == 2
