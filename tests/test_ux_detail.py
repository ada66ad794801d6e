"""Details a person can read (issue 18): which tests failed, in words, in batch detail; every
enrich skip reason whole, not cut at the table's edge."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.conftest import Host as MintHost
from tests.conftest import screen_text
from tests.test_mint_screen import setup, shown
from tui_bench.analysis.evaluation_text import evaluation_lines
from tui_bench.catalog import Catalog
from tui_bench.domain import Evaluation, RunRecord
from tui_bench.settings import Settings
from tui_bench.specialists.enrich import EnrichProgress
from tui_bench.store import Store
from tui_bench.tui.screens.batches import run_detail
from tui_bench.tui.screens.mint import MintScreen

TESTS_DETAIL = {
    "extraction": "fenced", "passed": 1, "total": 3, "reason": "",
    "failures": [{"test": "test_negative", "error": "AssertionError: assert add(-2, -3) == -5 "
                  "where the function returned the absolute value instead of the sum"},
                 {"test": "test_zero", "error": "TypeError: unsupported operand"}],
    "duration_s": 0.21, "stdout": "",
}


def test_batch_detail_says_which_tests_failed() -> None:
    run = RunRecord(run_id="r1", batch_id="b", model="embedded:smollm2", prompt_version="v1",
                    scenario_id="coding-add", tier="L2", output="def add(a, b): ...",
                    auto_score=0.33, success=False,
                    evaluations=[Evaluation(evaluator="tests", score=0.33, weight=0.6,
                                            detail=TESTS_DETAIL),
                                 Evaluation(evaluator="expected_elements", score=0.5,
                                            detail={"found": ["def add"], "missing": ["return"]})])
    console = Console(width=110, record=True, file=io.StringIO())
    console.print(run_detail(run, [], []))
    text = " ".join(console.export_text().split())
    assert "1/3 passed" in text
    assert "✗ test_negative: AssertionError: assert add(-2, -3) == -5" in text
    assert "absolute value instead of the sum" in text  # wrapped, not cut at 80 characters
    assert "✗ test_zero: TypeError" in text and "missing: return" in text
    assert "{'" not in text and "'failures'" not in text
    assert evaluation_lines({"skipped": True, "why": "no judge configured"}) == [
        "skipped: no judge configured"]


async def test_enrich_skip_reasons_are_shown_whole(tmp_path: Path, store: Store) -> None:
    templates, snapshots = setup(tmp_path, store)
    screen = MintScreen(store=store, catalog=Catalog(), settings=Settings(),
                        templates_dir=templates, snapshots_dir=snapshots)
    reason = ("cannot fetch https://docs.example.org/very/long/path/to/a/page.html: the server "
              "answered HTTP 404 Not Found after following two redirects")
    async with MintHost(screen).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        screen.query_one("#enrich-progress").add_row("1", "Style guide", "queued", "", key="0")
        screen._progress(EnrichProgress(index=0, total=1, title="Style guide", state="skipped",
                                        reason=reason))
        await pilot.pause()
        reasons = " ".join(shown(screen, "#enrich-reasons").split())
        assert reason in reasons
        assert "two redirects" in " ".join(screen_text(pilot.app).split())
