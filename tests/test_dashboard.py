"""``tui-bench report --html``: one self-contained dashboard over every batch or chosen ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import add_batch, at, judge, run
from tui_bench.analysis.dashboard import dashboard_context, pearson
from tui_bench.cli import main
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:<m2>"


def _history(store: Store) -> None:
    """Two batches over two categories, a specialist twin, and judged runs."""
    add_batch(store, "B1", [
        run("B1", M1, "s1", 0.9, category="code", tps=40.0, run_id="a1"),
        run("B1", M1, "s2", 0.3, category="code", tps=40.0, run_id="a2"),
        run("B1", M2, "s1", 0.5, category="code", tps=10.0, run_id="a3"),
        run("B1", M2, "w1", 0.8, category="writing", tps=12.0, run_id="a4"),
        run("B1", M1, "s1", 0.95, category="code", specialist="craft", tps=38.0, run_id="a5"),
    ], created_at=at(1))
    add_batch(store, "B2", [
        run("B2", M1, "s1", 0.7, category="code", tps=41.0, run_id="b1"),
        run("B2", M2, "s2", 0.1, category="code", tps=11.0, run_id="b2"),
    ], created_at=at(2))
    for run_id, percent in (("a1", 88.0), ("a2", 35.0), ("a3", 61.0), ("b1", 70.0)):
        judge(store, run_id, percent)


def test_dashboard_holds_every_section_with_counts_spread_and_inline_charts(
        store: Store, tmp_path: Path) -> None:
    _history(store)
    out = tmp_path / "team.html"
    assert main(["report", "--html", str(out), "--db", store.path]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\\s*=\\s*["']?https?:""", page)
    assert "@media print" in page
    for heading in ("Leaderboard", "Per-category rankings", "Score over time",
                    "Speed against quality", "Hardest scenarios", "Specialist effect",
                    "Judged against automatic scores"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert page.count("<svg") >= 6 and "<polyline" in page
    # M1 over both batches: baseline runs 0.9, 0.3, 0.7 and the specialist run 0.95.
    ctx = dashboard_context(store)
    top = ctx["overall"][0]
    assert top[1] == M1 and top[3] == "4" and top[4] == f"{(0.9 + 0.3 + 0.7 + 0.95) / 4:.3f}"
    assert top[5] != "—" and top[8] == "3"  # a spread, and three judged runs
    assert set(ctx["categories"]) == {"code", "writing"}
    assert [row[0] for row in ctx["hardest"]][:1] == ["s2"]  # failed by both models
    assert ctx["specialists"] == [[M1, "craft", "1", "1", "0.900", "0.950", "+0.050",
                                   "100% → 100%"]]
    person = {row[0]: row for row in ctx["judged"]}
    assert person[M1][2] == "3" and person[M1][5] != "—"
    assert "&lt;m2&gt;" in page and "<m2>" not in page  # text from the database is escaped


def test_chosen_batches_only(store: Store, tmp_path: Path) -> None:
    _history(store)
    ctx = dashboard_context(store, ["B2"])
    assert ctx["scope"] == "batches B2" and ctx["run_count"] == 2
    assert {row[1] for row in ctx["over_time"]} == {"B2"}
    assert ctx["specialists"] == []
    both = dashboard_context(store, ["B1", "B2"])
    assert both["overall"] == dashboard_context(store)["overall"]
    out = tmp_path / "b2.html"
    assert main(["report", "--html", str(out), "--batch", "B2", "--db", store.path]) == 0
    assert "batches B2" in out.read_text()
    assert main(["report", "--html", str(out), "--batch", "nope", "--db", store.path]) == 1
    assert main(["report", "--batch", "B1", "--batch", "B2", "--db", store.path]) == 2


def test_an_empty_database_is_a_page_that_says_so(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    assert main(["report", "--html", str(out), "--db", store.path]) == 0
    assert "No finished runs yet." in out.read_text()


def test_pearson() -> None:
    assert pearson([(0, 0), (1, 1), (2, 2)]) == pytest.approx(1.0)
    assert pearson([(0, 2), (1, 1), (2, 0)]) == pytest.approx(-1.0)
    assert pearson([(0, 1), (1, 1)]) is None and pearson([(1, 0), (1, 1), (1, 2)]) is None


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium is not installed")
def test_the_dashboard_renders_in_chromium(store: Store, tmp_path: Path) -> None:
    _history(store)
    page = tmp_path / "team.html"
    assert main(["report", "--html", str(page), "--db", store.path]) == 0
    shot = tmp_path / "dashboard.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,2600", page.as_uri()],
        check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one
    if os.environ.get("TUI_BENCH_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["TUI_BENCH_KEEP_SCREENSHOT"])
