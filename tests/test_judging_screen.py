"""The judging screen driven by keys only, checked on the rendered text and in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Select

from tests.conftest import (
    CODE_V1,
    Host,
    add_judged_runs,
    judging_catalog,
    judging_scenario,
    judgment,
    screen_text,
    settle,
)
from tui_bench.catalog import Catalog
from tui_bench.domain import Criterion, Rubric
from tui_bench.judge_name import judge_file, remember_judge, remembered_judge
from tui_bench.store import Store
from tui_bench.store.judging import QueueFilter
from tui_bench.tui.screens.judge import JudgeScreen
from tui_bench.tui.screens.pairwise import PairwiseScreen
from tui_bench.tui.widgets.rubric_dialogs import JudgeNameDialog, QueueFilterDialog
from tui_bench.tui.widgets.rubric_state import ScoreSheet

SIZE = (170, 60)


class FakeClock:
    """Digit typing depends on time; tests move it by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _host(store: Store, cat: Catalog, **kwargs: object) -> Host:
    kwargs.setdefault("judge", "alice")
    kwargs.setdefault("filters", QueueFilter(shuffled=False))
    kwargs.setdefault("blind", True)
    kwargs.setdefault("clock", FakeClock())  # digits typed together join however slow the box
    return Host(lambda: JudgeScreen(store=store, catalog=cat, **kwargs))  # type: ignore[arg-type]


def _two_runs(store: Store, cat: Catalog) -> list[str]:
    runs = add_judged_runs(store, cat, [
        {"model": "ollama:alpha", "scenario_id": "fizz", "auto_score": 0.71},
        {"model": "ollama:beta", "scenario_id": "sort", "auto_score": 0.33},
    ])
    llm = judgment(runs[0].run_id, "ollama:judge", {
        "correctness": 11, "structure": 12, "performance": 13, "best_practices": 14,
        "documentation": 9, "testing": 1}, kind="model")
    store.save_judgments([llm])
    return [r.run_id for r in runs]


def _notices(app: Host) -> str:
    return " | ".join(n.message for n in app._notifications)


async def test_judge_a_run_with_keys_only_blind_then_revealed(store: Store) -> None:
    cat = judging_catalog()
    first, second = _two_runs(store, cat)
    app = _host(store, cat)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = screen_text(app)
        assert "model hidden (blind)" in before
        assert "ollama:alpha" not in before and "ollama:beta" not in before
        assert "0.71" not in before and "expected_elements" not in before
        assert "ollama:judge" not in before  # the LLM judge's scores do not anchor the person
        assert "unset" in before and "Write a Python function for fizz." in before
        assert "def fizz(n):" in before  # the output, code block and all
        await pilot.press("1", "8", "down", "1", "6", "down", "1", "2", "down",
                          "1", "5", "down", "9", "down", "shift+right", "right", "left")
        await pilot.press("n", *"solid answer", "escape")
        text = screen_text(app)
        assert "Total 75 / 100 · 75% · good" in text
        await pilot.press("enter")
        await settle(pilot)
        saved = [j for j in store.judgments(first) if j.judge_kind == "person"]
        assert len(saved) == 1
        j = saved[0]
        assert j.scores == {"correctness": 18, "structure": 16, "performance": 12,
                            "best_practices": 15, "documentation": 9, "testing": 5}
        assert (j.total, j.percent, j.band) == (75, 75.0, "good")
        assert (j.judge, j.rubric_id, j.rubric_version, j.blind) == ("alice", "code-v1", 3, True)
        assert j.notes == "solid answer"
        after = screen_text(app)
        # The saved run is revealed beside the person's scores; the next run stays blind.
        assert "Last saved" in after and "ollama:alpha" in after and "0.71" in after
        assert "expected_elements" in after and "ollama:judge (LLM)" in after
        assert "ollama:beta" not in after and "scenario sort" in after


async def test_save_refused_while_a_criterion_is_unset(store: Store) -> None:
    cat = judging_catalog()
    first, _ = _two_runs(store, cat)
    app = _host(store, cat)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.press("2", "0", "down", "down", "5")
        await pilot.press("enter")
        await settle(pilot)
        assert [j for j in store.judgments(first) if j.judge_kind == "person"] == []
        notices = _notices(app)
        assert "not saved: Structure, Best practices, Documentation, Testing still unset" in notices
        text = screen_text(app)
        assert "scenario fizz" in text  # still on the same run
        assert "unset: Structure, Best practices," in text


async def test_digits_undo_and_steps(store: Store) -> None:
    cat = judging_catalog()
    _two_runs(store, cat)
    clock = FakeClock()
    app = _host(store, cat, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.target
        assert isinstance(screen, JudgeScreen)
        sheet = screen.sheet
        assert sheet is not None
        await pilot.press("1", "5")
        assert sheet.value("correctness") == 15
        await pilot.press("ctrl+z")  # "15" was one change
        assert sheet.value("correctness") is None
        await pilot.press("1")
        clock.now += 5  # too slow: the next digit starts a new number
        await pilot.press("5")
        assert sheet.value("correctness") == 5
        await pilot.press("2", "5")  # 25 is above 20: the 5 starts over
        assert sheet.value("correctness") == 5
        await pilot.press("down", "left")  # an unset slider sits at its minimum
        assert sheet.value("structure") == 0
        await pilot.press("shift+right", "shift+right", "right", "left", "left")
        assert sheet.value("structure") == 9
        await pilot.press("down", "down", "down", "down", "down", "9", "9")  # testing max 10
        assert sheet.value("testing") == 9
        await pilot.press("ctrl+z", "ctrl+z")
        assert sheet.value("testing") is None and sheet.value("structure") == 10
        assert sheet.current.id == "structure"  # undo goes back to where the change was
        assert "Structure 0–20" in screen_text(app) and " 10 / 20" in screen_text(app)


def test_score_sheet_rules() -> None:
    clock = FakeClock()
    sheet = ScoreSheet(CODE_V1, clock=clock)
    assert [c.id for c in sheet.unset] == [c.id for c in CODE_V1.criteria]
    assert sheet.percent is None and sheet.band is None
    sheet.digit("2")
    sheet.digit("0")
    assert sheet.value("correctness") == 20
    sheet.digit("1")  # 201 is out of range: starts over at 1
    assert sheet.value("correctness") == 1
    assert sheet.undo() is not None and sheet.value("correctness") == 20
    sheet.move(-3)
    assert sheet.cursor == 0
    sheet.move(99)
    assert sheet.current.id == "testing"
    small = Rubric(id="stars", name="Stars", criteria=[
        Criterion(id="stars", name="Stars", min=1, max=5)])
    stars = ScoreSheet(small, clock=clock)
    assert stars.digit("7") == "Stars goes from 1 to 5"
    assert stars.digit("0") == "Stars goes from 1 to 5"
    assert stars.value("stars") is None and stars.history == []
    assert stars.step(-1) and stars.value("stars") == 1  # first move sets the minimum
    prefilled = ScoreSheet(CODE_V1, {c.id: c.max for c in CODE_V1.criteria})
    assert prefilled.complete and prefilled.band == "production-ready"
    assert prefilled.undo() is None


async def test_first_use_asks_for_the_name_and_remembers_it(store: Store) -> None:
    cat = judging_catalog()
    first, _ = _two_runs(store, cat)
    assert remembered_judge() is None
    app = _host(store, cat, judge=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, JudgeNameDialog)
        await pilot.press(*"carol", "enter")
        await settle(pilot)
        assert isinstance(app.screen, JudgeScreen)
        assert remembered_judge() == "carol"
        assert judge_file().parent == Path(str(judge_file().parent))
        await pilot.press("2", "0", "down", "2", "0", "down", "1", "5", "down", "2", "0",
                          "down", "1", "5", "down", "1", "0", "enter")
        await settle(pilot)
    j = [j for j in store.judgments(first) if j.judge_kind == "person"][0]
    assert (j.judge, j.total, j.band) == ("carol", 100, "production-ready")
    app = _host(store, cat, judge=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, JudgeScreen)  # asked once, not again
        assert "Judging as carol" in screen_text(app)


async def test_previous_shows_the_saved_judgment_and_saving_again_replaces_it(
        store: Store) -> None:
    cat = judging_catalog()
    first, second = _two_runs(store, cat)
    app = _host(store, cat)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("1", "0", "down", "1", "0", "down", "1", "0", "down", "1", "0",
                          "down", "1", "0", "down", "5", "enter")
        await settle(pilot)
        await pilot.press("right_square_bracket")  # skip the second run
        await settle(pilot)
        assert "Nothing (more) to judge" in screen_text(app)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)
        text = screen_text(app)
        assert "scenario fizz" in text and "you judged this run before" in text
        assert "model ollama:alpha" in text  # already judged: nothing left to hide
        await pilot.press("1", "5", "enter")  # correctness 10 -> 15
        await settle(pilot)
    mine = [j for j in store.judgments(first) if j.judge_kind == "person"]
    assert len(mine) == 1 and mine[0].scores["correctness"] == 15 and mine[0].total == 60
    assert mine[0].blind is False  # judged again with the model in view
    assert store.judgments(second) == []


async def test_anchors_blind_toggle_and_unjudged_cycle(store: Store) -> None:
    cat = judging_catalog()
    first, second = _two_runs(store, cat)
    store.save_judgments([judgment(second, "bob", {c.id: 5 for c in CODE_V1.criteria})])
    app = _host(store, cat)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("1", "5", "a")
        text = screen_text(app)
        assert "▶  15  works, misses edge cases" in text and "correct everywhere" in text
        await pilot.press("escape")  # closes the anchors, does not leave
        assert "correct everywhere" not in screen_text(app)
        assert "1 waiting" in screen_text(app)  # bob's run is not in "unjudged by anyone"
        await pilot.press("u")  # not judged by me: bob's run comes back
        await settle(pilot)
        assert "2 waiting" in screen_text(app)
        await pilot.press("b")  # blind off: the model shows at once
        text = screen_text(app)
        assert "model ollama:alpha" in text and "0.71" in text
        await pilot.press(*["1", "0", "down"] * 5, "1", "0", "enter")
        await settle(pilot)
    mine = [j for j in store.judgments(first) if j.judge_kind == "person"]
    assert mine[0].blind is False


async def test_agreement_panel_shows_figures_and_na(store: Store) -> None:
    cat = judging_catalog()
    runs = add_judged_runs(store, cat, [{"model": "ollama:alpha"}, {"model": "ollama:beta"},
                                 {"model": "ollama:gamma"}], batch_id="batch_a")
    for i, run in enumerate(runs):
        scores = {c.id: min(c.max, 4 + 3 * i) for c in CODE_V1.criteria} | {"testing": 5}
        store.save_judgments([judgment(run.run_id, "bob", scores),
                              judgment(run.run_id, "carol", scores),
                              judgment(run.run_id, "ollama:judge", {**scores, "correctness": 0},
                                       kind="model")])
    app = _host(store, cat, filters=QueueFilter(unjudged="all", shuffled=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        text = screen_text(app)
        assert "Agreement on code-v1" in text and "people: bob, carol" in text
        assert "LLM judge: ollama:judge" in text
        line = next(row for row in text.splitlines() if "Structure" in row and "(n=3)" in row)
        assert line.count("1.00 (n=3)") == 3  # people agree, and so does the model here
        # The model always gives 0: no better than chance (kappa 0), worse by alpha.
        line = next(row for row in text.splitlines() if "Correctness" in row and "(n=3)" in row)
        assert "1.00 (n=3)" in line and "0.00 (n=3)" in line and "-0.50 (n=3)" in line
        # Everyone always gives 5: agreement cannot be told from chance, so no number.
        line = next(row for row in text.splitlines() if "Testing" in row and "(n=3)" in row)
        assert line.count("n/a (n=3)") == 3


async def test_queue_filters_pages_and_stored_definitions(store: Store) -> None:
    full = judging_catalog()
    rows = [{"model": m, "scenario_id": s} for m in ("ollama:alpha", "ollama:beta")
            for s in ("fizz", "sort", "essay")]
    add_judged_runs(store, full, rows)
    add_judged_runs(store, full, [{"model": "ollama:alpha", "status": "error"}], batch_id="batch_e")
    # A catalog that lost "sort": its runs are judged with the stored definition's rubric.
    partial = Catalog(scenarios={"fizz": judging_scenario("fizz")},
                      rubrics=dict(full.rubrics))
    f = QueueFilter(rubric_id="code-v1", rubric_scenarios=("fizz",), shuffled=False)
    assert store.count_queue(f) == 4  # fizz and sort (through the stored rubric), two models
    assert store.count_queue(QueueFilter(rubric_id="writing-v1")) == 2
    assert store.count_queue(QueueFilter()) == 6  # the failed run is never queued
    pages = store.judging_queue(QueueFilter(shuffled=False), limit=4)
    more = store.judging_queue(QueueFilter(shuffled=False), after=pages[-1].key, limit=4)
    assert len(pages) == 4 and len(more) == 2
    assert not {e.run_id for e in pages} & {e.run_id for e in more}
    shuffled = store.judging_queue(QueueFilter(), limit=10)
    assert sorted(e.run_id for e in shuffled) == sorted(e.run_id for e in pages + more)
    app = _host(store, partial, filters=QueueFilter(scenario_id="sort", shuffled=False),
                page_size=1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "scenario sort" in text and "Code quality (code-v1 v3)" in text
        await pilot.press(*["2", "0", "down"] * 5, "1", "0", "enter")
        await settle(pilot)
        assert "scenario sort" in screen_text(app)  # the second page: the other model's run
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "Nothing (more) to judge" in screen_text(app)
    assert store.count_queue(QueueFilter(scenario_id="sort")) == 1


@pytest.mark.parametrize("present", [True, False])
def test_remembered_judge_file(tmp_path: Path, present: bool) -> None:
    path = tmp_path / "cfg" / "judge.json"
    if present:
        remember_judge("  dana ", path)
        assert remembered_judge(path) == "dana"
    else:
        path.parent.mkdir()
        path.write_text("{not json", encoding="utf-8")
        assert remembered_judge(path) is None


async def test_filter_dialog_and_pairwise_key(store: Store) -> None:
    cat = judging_catalog()
    _two_runs(store, cat)
    app = _host(store, cat)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "2 waiting" in screen_text(app)
        await pilot.press("f")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, QueueFilterDialog)
        dialog.query_one("#filter-model", Select).value = "ollama:beta"
        dialog.query_one("#filter-rubric", Select).value = "code-v1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, JudgeScreen)
        assert screen.filter.model == "ollama:beta" and "sort" in screen.filter.rubric_scenarios
        text = screen_text(app)
        assert "1 waiting" in text and "scenario sort" in text
        await pilot.press("f", "escape")  # cancelled: nothing changes
        await settle(pilot)
        assert app.screen is screen and screen.filter.model == "ollama:beta"
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PairwiseScreen) and app.screen.judge == "alice"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
