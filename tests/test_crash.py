"""Crash suite: SIGKILL a headless batch at random moments, resume it, lose and repeat nothing.

CI runs 20 kills (the issue's minimum); TUI_BENCH_CRASH_KILLS=100 runs a longer campaign.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tui_bench.store import Store

KILLS = int(os.environ.get("TUI_BENCH_CRASH_KILLS", "20"))
BATCH = "crash-suite"


def launch(db: Path, resume: bool) -> subprocess.Popen:
    grid = (["--resume", BATCH] if resume else
            ["--run", "--batch-id", BATCH, "--suite", "coding,writing", "--iterations", "4",
             "--max-tokens", "6"])
    return subprocess.Popen([sys.executable, "-m", "tui_bench", *grid, "--db", str(db),
                             "--progress", "jsonl"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=cli_env())


def reported_runs(output: str) -> list[str]:
    """Run ids the process said were finished, from the lines it managed to flush."""
    ids = []
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill
        if event.get("event") == "cell_finished":
            ids.append(event["run_id"])
    return ids


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    rng = random.Random(20261124)
    reported: list[str] = []
    kills = 0
    while kills < KILLS:
        exists = db.exists() and Store(db).get_batch(BATCH) is not None
        proc = launch(db, resume=exists)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is not None:
            reported += reported_runs(proc.stdout.read())
            break  # the batch finished before we could kill it again
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported += reported_runs(out)
        kills += 1
    final = launch(db, resume=True)
    out, _ = final.communicate(timeout=600)
    assert final.returncode == 0
    reported += reported_runs(out)

    store = Store(db)
    assert store.integrity_check() == "ok"
    runs = store.runs(BATCH, limit=10_000)
    batch = store.get_batch(BATCH)
    assert batch["status"] == "finished"
    assert len(runs) == batch["total_cells"] == 13 * 4
    assert len({r.cell_key for r in runs}) == len(runs), "no cell is stored twice"
    assert all(r.status == "ok" for r in runs)
    stored = {r.run_id for r in runs}
    assert len(reported) == len(set(reported)), "no finished cell was run again"
    assert set(reported) <= stored, "every run reported finished is in the database"
    assert kills >= min(KILLS, 5)
