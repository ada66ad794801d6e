"""Baseline against specialist where people read results (issue 18): the headless table has a
specialist column and the report, Markdown and HTML exports show the comparison."""

from __future__ import annotations

import io

from rich.console import Console

from tests.conftest import add_mint_runs
from tui_bench.analysis.export import to_markdown
from tui_bench.analysis.html import to_html
from tui_bench.analysis.summary import batch_summary
from tui_bench.headless import print_report
from tui_bench.store import Store

ROWS = [("embedded:a", "", "ok", 0.5), ("embedded:a", "python-craftsman", "ok", 0.75),
        ("embedded:b", "", "ok", 0.4), ("embedded:b", "python-craftsman", "ok", 0.4)]


def test_specialist_column_and_comparison_everywhere(store: Store) -> None:
    add_mint_runs(store, "b1", ROWS)
    summary = batch_summary(store, "b1")
    (entry,) = summary["summary"]["specialists"]
    assert entry["specialist"] == "python-craftsman"
    assert entry["baseline_avg_score"] == 0.45 and entry["specialist_avg_score"] == 0.575
    assert round(entry["improvement_pct"], 1) == 27.8
    assert [m["model"] for m in entry["models_compared"]] == ["embedded:a", "embedded:b"]
    console = Console(width=200, record=True, file=io.StringIO())
    print_report(console, store, "b1", summary)
    text = console.export_text()
    header = next(line for line in text.splitlines() if "scenario" in line)
    assert "specialist" in header
    assert "python-craftsman" in text and "specialist python-craftsman: baseline 0.450 → 0.575" \
        in text
    md = to_markdown(summary)
    assert "## Baseline against specialist" in md
    assert "| python-craftsman | all models | 0.450 | 0.575 | +0.125 | +27.8% |" in md
    html = to_html(summary)
    assert "Baseline against specialist" in html and "+27.8%" in html


def test_no_specialist_no_column(store: Store) -> None:
    add_mint_runs(store, "b2", [ROWS[0], ROWS[2]])
    summary = batch_summary(store, "b2")
    assert "specialists" not in summary["summary"]
    assert "Baseline against specialist" not in to_markdown(summary)
