"""The settings report: per model and setting, quality, speed and the Pareto front; in the
analysis, from ``tui-bench report --settings`` and on the reports screen's Settings tab."""

from __future__ import annotations

import json

from textual.widgets import DataTable, TabbedContent
from textual_plotext import PlotextPlot

from tests.conftest import Host, add_batch, at, rows, run, settle
from tui_bench.analysis.settings_report import settings_report
from tui_bench.cli import main
from tui_bench.store import Store
from tui_bench.tui.screens.reports import ReportsScreen

M1 = "ollama:m1"
# setting -> (scores, tokens/s): cold-512 is best and fast, hot-512 faster but worse,
# cold-1024 slower and worse than cold-512 (dominated: off the front).
SWEEP = {"t=0,ctx=512": ([0.9, 0.6], 100.0), "t=0.7,ctx=512": ([0.5, 0.3], 120.0),
         "t=0,ctx=1024": ([0.6, 0.6], 80.0)}


def _sweep(store: Store) -> None:
    runs = []
    for key, (scores, tps) in SWEEP.items():
        for n, score in enumerate(scores, start=1):
            record, scenario = run("sw", M1, f"s{n}", score, tps=tps, ttft_ms=50.0)
            record.options_key = key
            runs.append((record, scenario))
    add_batch(store, "sw", runs, created_at=at(1))


def test_settings_report_groups_by_setting_and_finds_the_front(store: Store) -> None:
    _sweep(store)
    report = settings_report(store, batch_id="sw")
    rows_ = {r.setting: r for r in report.models[M1]}
    assert set(rows_) == set(SWEEP)
    assert [r.setting for r in report.front(M1)] == ["t=0,ctx=512", "t=0.7,ctx=512"]
    cold = rows_["t=0,ctx=512"]
    assert cold.runs == 2 and abs(cold.mean_score - 0.75) < 1e-9 and cold.success_rate == 0.5
    assert 0 <= cold.score_low < 0.75 < cold.score_high <= 1 and cold.success_low < 0.5 < cold.success_high


def test_report_settings_command(store: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    _sweep(store)
    assert main(["report", "--db", store.path, "--settings", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["models"][M1]["pareto"] == ["t=0,ctx=512", "t=0.7,ctx=512"]
    assert main(["report", "--db", store.path, "--settings"]) == 0
    out = capsys.readouterr().out
    assert "Settings · ollama:m1" in out and "★" in out and "t=0,ctx=1024" in out


async def test_settings_tab_shows_table_and_pareto_chart(store: Store) -> None:
    _sweep(store)
    app = Host(ReportsScreen(store=store))
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#report-tabs", TabbedContent).active == "settings"
        table = rows(screen.query_one("#settings-table", DataTable))
        front = {r[2] for r in table if r[0] == "★"}
        assert front == {"t=0,ctx=512", "t=0.7,ctx=512"} and len(table) == 3
        chart = screen.query_one("#settings-plot", PlotextPlot)
        drawn = str(chart.render())
        assert chart.size.height > 8
        assert "Quality against speed" in drawn and "Pareto front" in drawn
