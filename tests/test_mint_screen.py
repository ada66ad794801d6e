"""The specialists screen, hosted in a bare app: choose, preview, mint and enrich by keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from textual.widgets import DataTable, Static

from tests.conftest import Host, add_mint_runs, settle, text_of
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.settings import Settings
from tui_bench.specialists.templates import resolve_template
from tui_bench.store import Store
from tui_bench.tui.screens.mint import MintScreen

ROOT = Path(__file__).resolve().parent.parent


def setup(tmp_path: Path, store: Store) -> tuple[Path, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    add_mint_runs(store, "batch_old", [("embedded:a", "", "ok", 0.2)])
    add_mint_runs(store, "batch_new", [("embedded:a", "", "ok", 0.4), ("embedded:a", "", "ok", 0.6),
                                  ("embedded:a", "productivity-coach", "ok", 0.8),
                                  ("embedded:a", "python-craftsman", "ok", 0.1)])
    store.conn.execute("UPDATE batches SET created_at = '2030-01-01' WHERE batch_id = 'batch_new'")
    return templates, tmp_path / "snapshots"


def shown(screen: MintScreen, selector: str) -> str:
    """What a Static shows, as plain text."""
    return text_of(screen.query_one(selector, Static))


async def test_preview_mint_and_past_snapshots(tmp_path: Path, store: Store) -> None:
    templates, snapshots = setup(tmp_path, store)
    screen = MintScreen(store=store, catalog=Catalog(), settings=Settings(),
                        templates_dir=templates, snapshots_dir=snapshots)
    app = Host(screen)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert screen.template_key == "productivity-coach"  # first alphabetically
        assert screen.batch_id == "batch_new"  # newest first
        assert "resolves to file" in shown(screen, "#mint-status")
        batches = screen.query_one("#batches", DataTable)
        assert [str(c) for c in batches.get_row("batch_new")[3:]] == ["2", "1", "1"]
        preview = shown(screen, "#preview")
        assert "baseline 0.500" in preview and "specialist 0.800" in preview
        assert "+60.0%" in preview

        await pilot.press("m")
        await settle(pilot)
        written = snapshots / "productivity-coach" / "1.0.0" / "snapshot-001.json5"
        assert written.is_file()
        assert screen.query_one("#snapshots", DataTable).row_count == 1
        assert store.snapshots("productivity-coach")[0]["improvement"] is not None

        # Another template: its own counts, and no snapshots yet.
        await pilot.press("down")
        await settle(pilot)
        assert screen.template_key == "python-craftsman"
        assert [str(c) for c in batches.get_row("batch_new")[3:]] == ["2", "1", "1"]
        assert screen.query_one("#snapshots", DataTable).row_count == 0
        assert "-80.0%" in shown(screen, "#preview")

        # A batch with no specialist runs says so instead of dividing.
        batches.focus()
        await pilot.press("down")
        await settle(pilot)
        assert screen.batch_id == "batch_old"
        assert "no specialist runs in this batch" in shown(screen, "#preview")


async def test_enrich_shows_progress_per_document(tmp_path: Path, store: Store) -> None:
    templates, snapshots = setup(tmp_path, store)
    answer = json.dumps({"summary": "s", "key_concepts": ["k"], "use_cases": ["u"],
                         "relevance": "r"})
    pool = BackendPool(overrides={"embedded": InstantBackend(answer)})
    screen = MintScreen(store=store, catalog=Catalog(), settings=Settings(),
                        templates_dir=templates, snapshots_dir=snapshots, pool=pool)
    app = Host(screen)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        progress = screen.query_one("#enrich-progress", DataTable)
        states = [str(progress.get_row(str(i))[2]) for i in range(progress.row_count)]
        # Two shipped docs are local files; the Wikipedia link may or may not be reachable.
        assert states[:2] == ["enriched", "enriched"]
        assert set(states) <= {"enriched", "skipped"}
        resolved = resolve_template("productivity-coach", templates)
        assert resolved.kind == "enriched"
        assert "enriched enriched-001.json5" in str(
            screen.query_one("#templates", DataTable).get_row("productivity-coach")[2])
        assert "resolves to enriched" in shown(screen, "#mint-status")


async def test_an_empty_store_and_folder_explain_themselves(tmp_path: Path, store: Store) -> None:
    screen = MintScreen(store=store, templates_dir=tmp_path / "none",
                        snapshots_dir=tmp_path / "snaps")
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "No templates in" in shown(screen, "#mint-status")
        await pilot.press("m")
        await settle(pilot)
        assert not (tmp_path / "snaps").exists()
