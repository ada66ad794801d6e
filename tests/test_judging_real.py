"""Judging with the shipped code-v1 rubric: how many keys one judgment costs, and a run that
came from the real embedded model."""

from __future__ import annotations

import pytest

from tests.conftest import Host, add_judged_runs, screen_text, settle
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.plan import new_batch_id
from tui_bench.engine.runner import Runner
from tui_bench.judge_name import remember_judge
from tui_bench.store import Store
from tui_bench.tui.screens.judge import JudgeScreen

SCENARIO = "coding-fizzbuzz"


def _code_v1(shipped_catalog: Catalog) -> None:
    rubric = shipped_catalog.rubrics["code-v1"]
    assert [c.id for c in rubric.criteria] == ["correctness", "structure", "performance",
                                              "best_practices", "documentation", "testing"]
    assert shipped_catalog.scenarios[SCENARIO].rubric == "code-v1"


async def test_keystrokes_for_one_code_v1_judgment(store: Store, shipped_catalog: Catalog) -> None:
    """One code-v1 judgment (6 criteria), from opening the screen to saved-and-next, takes
    16 keys for this sheet (18, 15, 12, 15, 8, 5): one or two digits per criterion (10),
    a ↓ between criteria (5) and ⏎ (1). The range is 12 keys (every score one digit) to 18
    (every score two digits); the judge's name is asked once, on first use, and not counted.
    Nothing else is needed: the first criterion has the keyboard when the screen opens.
    """
    _code_v1(shipped_catalog)
    remember_judge("erin")
    runs = add_judged_runs(store, shipped_catalog, [{"scenario_id": SCENARIO, "model": "ollama:a"},
                                             {"scenario_id": SCENARIO, "model": "ollama:b"}])
    keys = ["1", "8", "down", "1", "5", "down", "1", "2", "down", "1", "5", "down", "8",
            "down", "5", "enter"]
    app = Host(lambda: JudgeScreen(store=store, catalog=shipped_catalog))
    async with app.run_test(size=(100, 30)) as pilot:  # a small terminal: the sheet scrolls
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
        await settle(pilot)
        saved = [j for r in runs for j in store.judgments(r.run_id)]
        assert len(saved) == 1  # saved ...
        screen = app.target
        assert isinstance(screen, JudgeScreen) and screen.pos == 1  # ... and on to the next
        assert screen.run is not None and screen.run.run_id != saved[0].run_id
    j = saved[0]
    assert j.scores == {"correctness": 18, "structure": 15, "performance": 12,
                        "best_practices": 15, "documentation": 8, "testing": 5}
    assert (j.total, j.band, j.judge, j.rubric_id, j.rubric_version) == (
        73, "good", "erin", "code-v1", shipped_catalog.rubrics["code-v1"].version)
    assert len(keys) == 16


@pytest.mark.slow
async def test_judge_a_run_from_the_embedded_model(store: Store,
                                                   shipped_catalog: Catalog) -> None:
    runner = Runner(store, shipped_catalog)
    spec = BatchSpec(batch_id=new_batch_id(), models=["embedded:smollm2"], scenarios=[SCENARIO],
                     options=GenerationOptions(max_tokens=24))
    try:
        result = await runner.run(spec)
    finally:
        await runner.pool.aclose()
    assert result.done == 1
    run = store.runs(result.batch_id)[0]
    assert run.output and run.status == "ok"
    app = Host(lambda: JudgeScreen(store=store, catalog=shipped_catalog, judge="frank"))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "embedded:smollm2" not in text and "model hidden" in text
        assert run.output.strip().splitlines()[0][:20] in text or "```" in run.output
        await pilot.press("5", "down", "5", "down", "4", "down", "5", "down", "0", "down", "0",
                          "enter")
        await settle(pilot)
        assert "embedded:smollm2" in screen_text(app)  # revealed once saved
    j = store.judgment_by(run.run_id, "frank")
    assert j is not None and (j.total, j.band, j.blind) == (19, "reference only", True)
    assert j.rubric_id == "code-v1"
