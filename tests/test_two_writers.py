"""Two writers: the TUI and a headless run fill the same bench.db at once, and neither fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.conftest import (
    REAL_MODEL_DEADLINE,
    cell_statuses,
    choose_in_app,
    cli_env,
    coding_catalog,
    real_model_app,
    wait_until,
)
from tui_bench.catalog import Catalog
from tui_bench.store import Store

pytestmark = pytest.mark.slow


async def test_tui_and_headless_write_the_same_database(tmp_path: Path,
                                                        shipped_catalog: Catalog) -> None:
    db = tmp_path / "shared.db"
    store = Store(db)
    headless = subprocess.Popen(
        [sys.executable, "-m", "tui_bench", "--run", "--batch-id", "from-cli", "--suite",
         "writing", "--max-tokens", "12", "--threads", "1", "--db", str(db),
         "--progress", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env())
    catalog, coding = coding_catalog(shipped_catalog)
    app = real_model_app(store, catalog)
    async with app.run_test(size=(120, 36)) as pilot:
        await choose_in_app(app, pilot, coding[:2], max_tokens=16)
        await pilot.press("ctrl+r")
        session = app.session
        assert session is not None
        await wait_until(pilot, lambda: not session.active, REAL_MODEL_DEADLINE)
        await pilot.pause(0.3)
        assert cell_statuses(app.screen.query_one("#cells", DataTable)) == ["ok"] * 2
        tui_batch = session.spec.batch_id
    out, err = headless.communicate(timeout=REAL_MODEL_DEADLINE)
    assert headless.returncode == 0, err
    assert "locked" not in err + out
    assert store.get_batch("from-cli")["status"] == "finished"
    assert store.count_runs("from-cli", status="ok") == 4
    assert store.get_batch(tui_batch)["status"] == "finished"
    assert store.count_runs(tui_batch, status="ok") == 2
    assert store.integrity_check() == "ok"
