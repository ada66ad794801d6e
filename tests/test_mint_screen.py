"""The specialists screen, hosted in a bare app: choose, preview, mint and enrich by keys."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Static

from tests.test_specialists_mint import add_runs
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.settings import Settings
from tui_bench.specialists.templates import resolve_template
from tui_bench.store import Store
from tui_bench.tui.screens.mint import MintScreen

ROOT = Path(__file__).resolve().parent.parent


class Host(App[None]):
    def __init__(self, screen: MintScreen) -> None:
        super().__init__()
        self._screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._screen)


def setup(tmp_path: Path, store: Store) -> tuple[Path, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    add_runs(store, "batch_old", [("embedded:a", "", "ok", 0.2)])
    add_runs(store, "batch_new", [("embedded:a", "", "ok", 0.4), ("embedded:a", "", "ok", 0.6),
                                  ("embedded:a", "productivity-coach", "ok", 0.8),
                                  ("embedded:a", "python-craftsman", "ok", 0.1)])
    store.conn.execute("UPDATE batches SET created_at = '2030-01-01' WHERE batch_id = 'batch_new'")
    return templates, tmp_path / "snapshots"


def text_of(screen: MintScreen, selector: str) -> str:
    """What a Static shows, as plain text (rich renderables rendered at a fixed width)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def test_preview_mint_and_past_snapshots(tmp_path: Path, store: Store) -> None:
    templates, snapshots = setup(tmp_path, store)
    screen = MintScreen(store=store, catalog=Catalog(), settings=Settings(),
                        templates_dir=templates, snapshots_dir=snapshots)
    app = Host(screen)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert screen.template_key == "productivity-coach"  # first alphabetically
        assert screen.batch_id == "batch_new"  # newest first
        assert "resolves to file" in text_of(screen, "#mint-status")
        batches = screen.query_one("#batches", DataTable)
        assert [str(c) for c in batches.get_row("batch_new")[3:]] == ["2", "1", "1"]
        preview = text_of(screen, "#preview")
        assert "baseline 0.500" in preview and "specialist 0.800" in preview
        assert "+60.0%" in preview

        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        written = snapshots / "productivity-coach" / "1.0.0" / "snapshot-001.json5"
        assert written.is_file()
        assert screen.query_one("#snapshots", DataTable).row_count == 1
        assert store.snapshots("productivity-coach")[0]["improvement"] is not None

        # Another template: its own counts, and no snapshots yet.
        await pilot.press("down")
        await pilot.pause()
        assert screen.template_key == "python-craftsman"
        assert [str(c) for c in batches.get_row("batch_new")[3:]] == ["2", "1", "1"]
        assert screen.query_one("#snapshots", DataTable).row_count == 0
        assert "-80.0%" in text_of(screen, "#preview")

        # A batch with no specialist runs says so instead of dividing.
        batches.focus()
        await pilot.press("down")
        await pilot.pause()
        assert screen.batch_id == "batch_old"
        assert "no specialist runs in this batch" in text_of(screen, "#preview")


async def test_enrich_shows_progress_per_document(tmp_path: Path, store: Store) -> None:
    templates, snapshots = setup(tmp_path, store)
    answer = json.dumps({"summary": "s", "key_concepts": ["k"], "use_cases": ["u"],
                         "relevance": "r"})
    pool = BackendPool(overrides={"embedded": InstantBackend(answer)})
    screen = MintScreen(store=store, catalog=Catalog(), settings=Settings(),
                        templates_dir=templates, snapshots_dir=snapshots, pool=pool)
    app = Host(screen)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        progress = screen.query_one("#enrich-progress", DataTable)
        states = [str(progress.get_row(str(i))[2]) for i in range(progress.row_count)]
        # Two shipped docs are local files; the Wikipedia link may or may not be reachable.
        assert states[:2] == ["enriched", "enriched"]
        assert set(states) <= {"enriched", "skipped"}
        resolved = resolve_template("productivity-coach", templates)
        assert resolved.kind == "enriched"
        assert "enriched enriched-001.json5" in str(
            screen.query_one("#templates", DataTable).get_row("productivity-coach")[2])
        assert "resolves to enriched" in text_of(screen, "#mint-status")


async def test_an_empty_store_and_folder_explain_themselves(tmp_path: Path, store: Store) -> None:
    screen = MintScreen(store=store, templates_dir=tmp_path / "none",
                        snapshots_dir=tmp_path / "snaps")
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "No templates in" in text_of(screen, "#mint-status")
        await pilot.press("m")
        await pilot.pause()
        assert not (tmp_path / "snaps").exists()
