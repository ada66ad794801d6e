"""Re-scoring: stored outputs scored again, every scoring kept, interrupted rescores resume."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from tests.conftest import make_batch, write_scenario
from tui_bench.analysis.scorings import compare_scorings
from tui_bench.analysis.summary import batch_summary
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.cli import main
from tui_bench.domain import BatchSpec, RunRecord
from tui_bench.engine.rescore import Rescorer
from tui_bench.scoring import ScoringContext, score
from tui_bench.store import Store


@pytest.fixture
def batch(tmp_path: Path, store: Store) -> tuple[Store, Path]:
    return make_batch(tmp_path, store)


def by_cell(store: Store) -> dict[tuple[str, int], RunRecord]:
    return {(r.scenario_id, r.iteration): r
            for r in store.runs("b-colours", with_evaluations=True)}


def test_a_changed_evaluator_changes_exactly_the_affected_runs(batch: tuple[Store, Path]) -> None:
    store, folder = batch
    before = by_cell(store)
    assert [before[("colour-blue", i)].success for i in (1, 2, 3, 4)] == [True, True, False,
                                                                          False]
    write_scenario(folder, "colour-blue", "green")  # the scenario changed: now green passes
    catalog = load_catalog([folder, Path(__file__).parent.parent / "scenarios"])
    result = asyncio.run(Rescorer(store, catalog).run("b-colours"))
    assert (result.scoring, result.status, result.scored) == (2, "finished", 8)

    after = by_cell(store)
    changed = {key for key in after if after[key].success != before[key].success}
    assert changed == {("colour-blue", 1), ("colour-blue", 2), ("colour-blue", 3)}
    assert all(after[k].auto_score == before[k].auto_score for k in after if k[0] == "colour-red")
    assert all(run.scoring == 2 for run in after.values())

    # The earlier scoring is kept, evaluations and figures, and can still be read.
    ids = [run.run_id for run in after.values()]
    old = store.evaluations_for(ids, scoring=1)
    assert all(len(old[run_id]) == 1 for run_id in ids)
    first = {(r.scenario_id, r.iteration): r
             for r in store.as_scored(store.runs("b-colours"), 1)}
    assert {k: r.success for k, r in first.items()} == {k: r.success for k, r in before.items()}
    assert batch_summary(store, "b-colours", scoring=1)["summary"]["success_rate"] == 0.5
    assert batch_summary(store, "b-colours")["summary"]["success_rate"] == 3 / 8
    assert batch_summary(store, "b-colours")["scoring"] == 2

    # The new scoring records which scenario version scored it.
    hashes = {r["scenario_hash"] for r in store.query(
        "SELECT s.scenario_hash FROM run_scores s JOIN runs r USING (run_id) "
        "WHERE s.scoring = 2 AND r.scenario_id = 'colour-blue'")}
    assert hashes == {catalog.scenario("colour-blue").definition_hash()}

    comparison = compare_scorings(store, "b-colours")
    flips = {(c.scenario_id, c.iteration): c.flip for c in comparison.cells if c.flip}
    assert flips == {("colour-blue", 1): "broke", ("colour-blue", 2): "broke",
                     ("colour-blue", 3): "fixed"}
    # Reports read the latest scoring: the rollup saw the runs change.
    assert store.batch_figures(["b-colours"])["b-colours"]["passed"] == 3


def test_an_interrupted_rescore_resumes_without_scoring_a_run_twice(
        batch: tuple[Store, Path]) -> None:
    store, folder = batch
    catalog = load_catalog([folder, Path(__file__).parent.parent / "scenarios"])
    calls: list[str] = []
    rescorer = Rescorer(store, catalog)

    async def stopping_scorer(ctx: ScoringContext):  # type: ignore[no-untyped-def]
        calls.append(ctx.output)
        if len(calls) == 3:
            rescorer.cancel()  # like Ctrl+C: the runs being scored finish, the rest wait
        return await score(ctx)

    rescorer._scorer = stopping_scorer
    first = asyncio.run(rescorer.run("b-colours", evaluators="expected_elements=2",
                                     concurrency=1))
    assert first.status == "interrupted" and first.scored == 3
    assert store.unfinished_scoring("b-colours")["number"] == 2

    # A different rescore cannot start while this one is unfinished.
    from tui_bench.engine.rescore import RescoreError

    with pytest.raises(RescoreError, match="scoring 2 of b-colours is unfinished"):
        asyncio.run(Rescorer(store, catalog).run("b-colours"))

    calls.clear()
    again = Rescorer(store, catalog, scorer=stopping_scorer)
    second = asyncio.run(again.run("b-colours", evaluators="expected_elements=2"))
    assert (second.scoring, second.status, second.resumed) == (2, "finished", True)
    assert second.scored == 5 and second.skipped == 3 and len(calls) == 5
    rows = store.query("SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM evaluations "
                       "WHERE scoring = 2")
    assert rows[0] == {"n": 8, "runs": 8}
    assert all(e.weight == 2 for evs in store.evaluations_for(
        [r.run_id for r in store.runs("b-colours")]).values() for e in evs)
    assert [s["status"] for s in store.scorings("b-colours")] == ["finished", "finished"]


def test_rescore_command_lists_compares_and_refuses_bad_input(
        batch: tuple[Store, Path], capsys: pytest.CaptureFixture[str]) -> None:
    store, folder = batch
    common = ["--db", store.path, "--scenarios-dir", str(folder)]
    assert main(["rescore", "b-colours", "--evaluators", "nope", *common]) == 2
    assert "unknown evaluator 'nope'" in capsys.readouterr().err
    assert main(["rescore", "b-missing", *common]) == 1
    assert "no batch 'b-missing'" in capsys.readouterr().err
    assert store.scorings("b-colours")[-1]["number"] == 1  # nothing stored by bad input
    store.save_batch(BatchSpec(batch_id="b-empty", models=["embedded:smollm2"],
                               scenarios=["colour-red"]), 1)
    assert main(["rescore", "b-empty", *common]) == 2
    assert "b-empty has no finished runs to score" in capsys.readouterr().err
    assert store.query("SELECT count(*) AS n FROM scorings")[0]["n"] == 0

    write_scenario(folder, "colour-red", "green")
    assert main(["rescore", "b-colours", *common]) == 0
    out = capsys.readouterr().out
    assert "scoring 2 (new): 8 runs scored" in out and "pass → fail" in out
    assert main(["rescore", "b-colours", "--list", *common]) == 0
    assert "2 (latest)" in capsys.readouterr().out
    assert main(["rescore", "b-colours", "--compare", "2", "1", "--json", *common]) == 0
    assert '"before": "b-colours scoring 2"' in capsys.readouterr().out
    assert main(["batches", "compare", "b-colours", "--scorings", "--db", store.path]) == 0
    assert "b-colours scoring 1 → b-colours scoring 2" in capsys.readouterr().out
    assert main(["batches", "compare", "b-colours", "--db", store.path]) == 2
    assert "or BATCH --scorings" in capsys.readouterr().err
    assert main(["rescore", "b-colours", "--compare", "1", "5", *common]) == 2
    assert "has no scoring 5" in capsys.readouterr().err
    for number, passes in ((1, 4), (2, 3)):
        assert main(["export", "b-colours", "--format", "csv", "--scoring", str(number),
                     *common]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert {r["scoring"] for r in rows} == {str(number)}
        assert sum(r["success"] == "true" for r in rows) == passes
    assert main(["batches", "show", "b-colours", "--scoring", "1", "--json", "--db",
                 store.path]) == 0
    assert '"scoring": 1' in capsys.readouterr().out


def test_rescore_with_a_judge_and_another_rubric(batch: tuple[Store, Path]) -> None:
    import json

    from tui_bench.backends import BackendPool
    from tui_bench.backends.instant import InstantBackend

    store, folder = batch
    catalog = load_catalog([folder, Path(__file__).parent.parent / "scenarios"])
    sheet = {"correctness": 10, "structure": 10, "performance": 10, "best_practices": 10,
             "documentation": 10, "testing": 5, "reason": "fine"}
    judge = InstantBackend(json.dumps(sheet))
    before = {r.run_id: r.auto_score for r in store.runs("b-colours")}
    pool = BackendPool(overrides={"embedded": judge})
    result = asyncio.run(Rescorer(store, catalog, pool=pool).run(
        "b-colours", rubric="code-v1", judge="embedded:smollm2"))
    assert result.scored == 8 and judge.calls == 8  # the judge only: no generation
    judgments = store.judgments(judge_kind="model")
    assert len(judgments) == 8
    assert {(j.judge, j.rubric_id, j.total) for j in judgments} == {
        ("embedded:smollm2", "code-v1", 55)}
    runs = store.runs("b-colours", with_evaluations=True)
    assert all({e.evaluator for e in r.evaluations} == {"expected_elements", "llm_judge"}
               for r in runs)
    assert {r.run_id: r.auto_score for r in runs} == before  # the judge informs, weight 0
    assert store.scorings("b-colours")[-1] | {"created_at": None, "finished_at": None} == {
        "batch_id": "b-colours", "number": 2, "kind": "rescore", "evaluators": [],
        "rubric": "code-v1", "judge": "embedded:smollm2", "status": "finished",
        "created_at": None, "finished_at": None}


async def test_a_rescore_renews_the_suspect_check(store: Store,
                                                   shipped_catalog: Catalog) -> None:
    from tests.test_suspect import REACHING, _run

    batch_id = await _run(store, shipped_catalog, REACHING)
    [run] = store.runs(batch_id)
    assert run.held_as_suspect and run.success is False
    store.clear_suspect(run.run_id)
    assert store.get_run(run.run_id).success is True  # type: ignore[union-attr]

    # The new scoring looks again: the answer still reaches for the scorer, so it is held.
    await Rescorer(store, shipped_catalog).run(batch_id)
    again = store.get_run(run.run_id)
    assert again is not None and again.scoring == 2
    assert (again.success, again.suspect_success, again.held_as_suspect) == (False, True, True)
    # Scored by an evaluator that runs no code, nothing is suspect.
    await Rescorer(store, shipped_catalog).run(batch_id, evaluators="expected_elements")
    honest = store.get_run(run.run_id)
    assert honest is not None and honest.scoring == 3 and honest.suspect is None
    assert honest.success is not None and not honest.held_as_suspect
