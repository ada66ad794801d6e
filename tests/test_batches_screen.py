"""Pilot tests of the batch browser, a batch's detail and the compare screen, hosted alone."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from tests.conftest import Host, add_batch, at, judge, rows, run, settle, text_of
from tui_bench.domain import Evaluation
from tui_bench.store import Store
from tui_bench.tui.screens.batches import BatchCompareScreen, BatchDetailScreen, BatchesScreen

M1, M2 = "ollama:m1", "ollama:m2"


def _data(store: Store) -> None:
    first, scen = run("b_old", M1, "s1", 0.8, tps=20.0, output="def old(): pass")
    first.evaluations = [Evaluation(evaluator="tests", score=0.8, weight=2.0)]
    add_batch(store, "b_old", [(first, scen), run("b_old", M2, "s1", 0.5)], created_at=at(1))
    answer, scen = run("b_new", M1, "s1", 0.4, tps=25.0, run_id="r_new",
                       output="def answer():\n    return 42")
    answer.evaluations = [Evaluation(evaluator="tests", score=0.25, weight=2.0,
                                     detail={"passed": 1, "failed": 3})]
    add_batch(store, "b_new", [(answer, scen), run("b_new", M2, "s1", 0.9)], created_at=at(3),
              mode="iterative")
    add_batch(store, "b_mid", [run("b_mid", M2, "s2", 0.7)], created_at=at(2))
    judge(store, "r_new", 55, judge_name="ann")


async def test_browser_lists_newest_first_and_search_filters(store: Store) -> None:
    _data(store)
    app = Host(BatchesScreen(store=store, catalog=None, settings=None))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BatchesScreen)
        table = screen.query_one("#batch-table", DataTable)
        listed = rows(table)
        assert [r[1] for r in listed] == ["b_new", "b_mid", "b_old"]
        assert listed[0][3:] == ["iterative", "finished", "2", "1", "2", "2", "0", "0.650",
                                 "1m00s"]
        assert "3 batches" in text_of(screen.query_one("#batches-status", Static))
        await pilot.press("slash", "s", "2")
        await settle(pilot)
        assert [r[1] for r in rows(table)] == ["b_mid"]
        await pilot.press("escape")  # clears the search
        await settle(pilot)
        assert len(rows(table)) == 3
        await pilot.press("escape")  # back to the table
        await pilot.press("f")  # mode filter: zero-shot
        await settle(pilot)
        assert [r[1] for r in rows(table)] == ["b_mid", "b_old"]


async def test_detail_shows_a_runs_output_evaluations_and_judgments(store: Store) -> None:
    _data(store)
    app = Host(BatchesScreen(store=store))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the newest batch
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, BatchDetailScreen) and detail.batch_id == "b_new"
        head = text_of(detail.query_one("#batch-head", Static))
        assert "b_new" in head and "iterative" in head and "mean score 0.650" in head
        table = detail.query_one("#run-table", DataTable)
        assert [r[0] for r in rows(table)] == [M1, M2]
        shown = text_of(detail.query_one("#run-detail", Static))
        assert "return 42" in shown
        assert "tests" in shown and "0.250" in shown and "1/4 passed" in shown
        assert "ann" in shown and "55%" in shown
        assert "25.0 tok/s" in shown
        await pilot.press("down")
        await settle(pilot)
        assert "answer of ollama:m2 to s1" in text_of(detail.query_one("#run-detail", Static))
        await pilot.press("escape")
        assert isinstance(app.screen, BatchesScreen)


async def test_compare_shows_flips(store: Store) -> None:
    _data(store)
    app = Host(BatchesScreen(store=store))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "down", "space", "c")  # b_new and b_old
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, BatchCompareScreen)
        assert (compare.before, compare.after) == ("b_old", "b_new")
        summary = text_of(compare.query_one("#compare-summary", Static))
        assert "2 shared cells" in summary and "1 fail→pass" in summary
        assert "1 pass→fail" in summary
        cells = rows(compare.query_one("#compare-table", DataTable))
        assert [(r[0], r[6], r[7], r[9]) for r in cells] == [
            (M1, "0.800", "0.400", "pass → fail"), (M2, "0.500", "0.900", "fail → pass")]
        models = rows(compare.query_one("#compare-models", DataTable))
        assert [(r[0], r[4], r[5]) for r in models] == [(M1, "0", "1"), (M2, "1", "0")]
        # Paired statistics: one flip each way is no evidence of a change (McNemar p = 1).
        assert "paired: score +0.000" in summary and "McNemar p=1" in summary
        assert [(r[10], r[11]) for r in models] == [("-0.400–-0.400", "1"),
                                                    ("+0.400–+0.400", "1")]


async def test_compare_with_the_previous_batch_from_the_detail(store: Store) -> None:
    _data(store)
    app = Host(BatchDetailScreen(store, "b_new"))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, BatchCompareScreen)
        assert (compare.before, compare.after) == ("b_mid", "b_new")
        assert "0 shared cells" in text_of(compare.query_one("#compare-summary", Static))


async def test_empty_database(store: Store) -> None:
    app = Host(BatchesScreen(store=store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        status = text_of(app.screen.query_one("#batches-status", Static))
        assert "0 batches" in status and "no batches yet" in status
        await pilot.press("enter", "c", "space", "pagedown")  # nothing to act on: no error
        await settle(pilot)
        assert isinstance(app.screen, BatchesScreen)
