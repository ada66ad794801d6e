"""Pilot test of the reports screen, hosted alone, on data with known answers."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static, TabbedContent
from textual_plotext import PlotextPlot

from tests.conftest import Host, add_batch, at, judge, rows, run, settle, text_of
from tui_bench.analysis.weights import update_weights
from tui_bench.store import Store
from tui_bench.tui.screens.reports import ReportsScreen

M1, M2 = "ollama:m1", "ollama:m2"


def _data(store: Store) -> None:
    add_batch(store, "b1", [
        run("b1", M1, "s1", 0.9, tps=30.0, run_id="a1"), run("b1", M1, "w1", 0.3,
                                                           category="prose"),
        run("b1", M2, "s1", 0.5), run("b1", M2, "w1", 0.6, category="prose"),
    ], created_at=at(1))
    update_weights(store)  # code favours m1 (0.9), prose favours m2 (0.6)
    add_batch(store, "b2", [
        run("b2", M1, "s1", 0.2), run("b2", M2, "s1", 0.8),  # m2 beats the favoured m1
        run("b2", M1, "s1", 0.9, specialist="py"),
    ], created_at=at(2))
    judge(store, "a1", 90)


async def test_reports_screen_tabs(store: Store) -> None:
    _data(store)
    app = Host(ReportsScreen(store=store, catalog=None, settings=None))
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        ranking = rows(screen.query_one("#ranking-table", DataTable))
        # m1: 0.9, 0.3, 0.2, 0.9 -> 0.575; m2: 0.5, 0.6, 0.8 -> 0.633
        assert [(r[0], r[1], r[3], r[4]) for r in ranking] == [
            ("1", M2, "3", "0.633"), ("2", M1, "4", "0.575")]
        assert ranking[1][7] == "90.0" and ranking[1][8] == "1"  # judged % and count
        assert ranking[0][7] == "—"  # never judged: no figure, not 0
        await pilot.press("g")  # category "code"
        await pilot.pause()
        code = rows(screen.query_one("#ranking-table", DataTable))
        assert [(r[1], r[4]) for r in code] == [(M1, "0.667"), (M2, "0.650")]
        assert "code" in text_of(screen.query_one("#ranking-title", Static))

        await pilot.press("2")
        await pilot.pause()
        assert screen.query_one("#report-tabs", TabbedContent).active == "over-time"
        chart = screen.query_one("#over-time-plot", PlotextPlot)
        assert chart.size.height > 5 and "Mean score per batch" in str(chart.render())

        difficulty = rows(screen.query_one("#difficulty-table", DataTable))
        assert [r[0] for r in difficulty] == ["w1", "s1"]  # m1 fails w1; s1 split
        specialists = rows(screen.query_one("#specialists-table", DataTable))
        assert [(r[0], r[1], r[4], r[5], r[6]) for r in specialists] == [
            (M1, "py", "0.200", "0.900", "+0.700")]
        surprises = rows(screen.query_one("#surprises-table", DataTable))
        assert [(r[0], r[3], r[4], r[5], r[6], r[7]) for r in surprises] == [
            ("b2", M2, "0.800", M1, "0.200", "+0.600")]
        weights = rows(screen.query_one("#weights-table", DataTable))
        assert [r[1:] for r in weights] == [[M1, "0.9000"], [M2, "0.5000"], [M2, "0.6000"],
                                            [M1, "0.3000"]]


async def test_batch_scope(store: Store) -> None:
    _data(store)
    app = Host(ReportsScreen(store=store))
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("b")
        field = screen.query_one("#report-batch", Input)
        assert field.has_focus
        await pilot.press(*"b1", "enter")
        await settle(pilot)
        assert screen.batch_id == "b1"
        assert "scope: batch b1" in text_of(screen.query_one("#reports-status", Static))
        ranking = rows(screen.query_one("#ranking-table", DataTable))
        assert [(r[1], r[3], r[4]) for r in ranking] == [(M1, "2", "0.600"), (M2, "2", "0.550")]
        await pilot.press("b", "ctrl+a", "backspace", *"nope", "enter")
        await pilot.pause()
        assert screen.batch_id == "b1"  # an unknown batch is refused
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, ReportsScreen)


async def test_empty_database(store: Store) -> None:
    app = Host(ReportsScreen(store=store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert "no finished runs yet" in text_of(app.screen.query_one("#reports-status", Static))
        await pilot.press("g", "2", "3")
        await pilot.pause()
