"""An answer that reaches for its own scoring is stored as suspect: shown as such in the
headless table, the exports, the CLI and the batch detail screen, and not counted as a success
until a person clears it (``batches clear-suspect`` or ``s`` on the batch detail screen)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from tests.conftest import Host, rows, settle, text_of
from tui_bench.analysis.export import export_batch
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.cli import main
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.plan import new_batch_id
from tui_bench.engine.runner import Runner
from tui_bench.headless import results_table
from tui_bench.scoring.suspect import suspect_constructs
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.batches import BatchDetailScreen

# Right answers both; the second walks the garbage collector, which a benchmark answer has no
# business doing: it is held as suspect, its 5/5 not counted until a person looks.
HONEST = ("```python\ndef count_vowels(text):\n"
          "    return sum(1 for ch in text.lower() if ch in 'aeiou')\n```\n")
REACHING = ("```python\nimport gc\n\ndef count_vowels(text):\n"
            "    gc.get_objects()\n"
            "    return sum(1 for ch in text.lower() if ch in 'aeiou')\n```\n")


def test_the_constructs_that_reach_for_the_scorer_are_named() -> None:
    code = ("import sys, ctypes\nfrom _posixsubprocess import fork_exec\nimport os\n"
            "f = sys._getframe().f_back\nos._exit(0)\n__import__('gc')\n")
    assert suspect_constructs(code) == [
        "ctypes (line 1)", "_posixsubprocess (line 2)", "frame introspection (line 4)",
        "os._exit (line 5)", "gc (line 6)"]
    assert suspect_constructs("import math\ndef f(x):\n    return math.sqrt(x)\n") == []
    assert suspect_constructs("def f(:\n") == []  # a syntax error is the tests' to report


async def _run(store: Store, catalog: Catalog, answer: str) -> str:
    pool = BackendPool(Settings(), {"embedded": InstantBackend(answer)})
    spec = BatchSpec(batch_id=new_batch_id(), models=["embedded:smollm2"],
                     scenarios=["coding-count-vowels"], options=GenerationOptions(max_tokens=64))
    result = await Runner(store, catalog, pool=pool).run(spec)
    await pool.aclose()
    assert result.done == 1
    return result.batch_id


async def test_a_suspect_run_is_held_shown_everywhere_and_cleared_by_a_person(
        store: Store, shipped_catalog: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    honest_batch = await _run(store, shipped_catalog, HONEST)
    [honest] = store.runs(honest_batch, with_evaluations=True)
    assert (honest.success, honest.suspect) == (True, None), honest.evaluations

    batch = await _run(store, shipped_catalog, REACHING)
    [run] = store.runs(batch, with_evaluations=True)
    assert run.auto_score is not None and run.auto_score >= 0.7  # it would have passed
    assert (run.success, run.suspect_success, run.held_as_suspect) == (False, True, True)
    assert run.suspect == "the answer uses gc (line 1)"
    tests = next(e for e in run.evaluations if e.evaluator == "tests")
    assert tests.score == 1.0 and tests.detail["suspect"] == ["gc (line 1)"]
    assert tests.detail["isolation"] in ("bwrap", "fallback")

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(results_table([run], title="runs"))
    assert "suspect" in console.export_text()
    csv_text = export_batch(store, batch, "csv")
    header, line = csv_text.splitlines()[:2]
    assert "suspect" in header.split(",") and "the answer uses gc" in line
    assert "| suspect |" in export_batch(store, batch, "md")
    assert store.batch_figures([batch])[batch]["passed"] == 0  # excluded from success

    assert main(["batches", "suspects", "--json", "--db", store.path]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["suspect_success"]) for r in listed] == [(run.run_id, 1)]
    assert main(["batches", "clear-suspect", run.run_id, "--db", store.path]) == 0
    assert "counted again as pass" in capsys.readouterr().out
    cleared = store.get_run(run.run_id)
    assert cleared is not None and cleared.success is True and not cleared.held_as_suspect
    assert store.batch_figures([batch])[batch]["passed"] == 1
    assert main(["batches", "clear-suspect", run.run_id, "--db", store.path]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not held as suspect" in err[0]


async def test_the_batch_detail_screen_shows_and_clears_a_suspect_run(
        store: Store, shipped_catalog: Catalog) -> None:
    batch = await _run(store, shipped_catalog, REACHING)
    [run] = store.runs(batch)
    app = Host(BatchDetailScreen(store, batch))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#run-table", DataTable)
        assert rows(table)[0][6] == "suspect"
        detail = text_of(app.screen.query_one("#run-detail", Static))
        assert "Suspect" in detail and "the answer uses gc" in detail
        await pilot.press("s")
        await settle(pilot)
        assert rows(table)[0][6] == "pass"
    stored = store.get_run(run.run_id)
    assert stored is not None and stored.success is True and stored.suspect_cleared_at
