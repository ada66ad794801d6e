"""The store must not be fooled: one batch, one runner; what is reported is what is stored;
a damaged database is one line and a doctor, never a traceback or a false success."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_bad_input import run_cli
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec
from tui_bench.engine.events import CellFinished, CellStarted
from tui_bench.engine.runner import Runner
from tui_bench.headless import JsonLinesPrinter
from tui_bench.store import LeaseHeld, Store

SCENARIOS = ["writing-tip-data-analyst", "writing-tip-new-manager"]
ANSWER = "Batch your ad-hoc requests into two fixed windows a day and say so in your status."


def _spec(batch_id: str, iterations: int = 3) -> BatchSpec:
    return BatchSpec(batch_id=batch_id, models=["embedded:smollm2"], scenarios=SCENARIOS,
                     iterations=iterations, concurrency=1)


def _runner(store: Store, catalog: Catalog, *, delay_s: float = 0.0,
            on_event: Any = None, slots: int = 8) -> Runner:
    backend = InstantBackend(ANSWER, delay_s=delay_s, concurrency=slots)
    pool = BackendPool(overrides={"embedded": backend})
    return Runner(store, catalog, pool=pool, on_event=on_event or (lambda e: None))


async def test_a_second_runner_of_a_batch_refuses_while_the_first_runs(
        store: Store, shipped_catalog: Catalog) -> None:
    started = asyncio.Event()
    first = _runner(store, shipped_catalog, delay_s=0.02,
                    on_event=lambda e: started.set() if isinstance(e, CellStarted) else None)
    task = asyncio.create_task(first.run(_spec("one-runner")))
    await asyncio.wait_for(started.wait(), 10)
    second = _runner(store, shipped_catalog)
    with pytest.raises(LeaseHeld, match="another process.*one batch, one runner"):
        await second.run(_spec("one-runner"), resume=True)
    result = await task
    assert result.done == 6
    ok = {r.run_id for r in store.runs("one-runner")}
    assert len(ok) == 6 and store.lease_of("one-runner") is None, "released when done"
    again = await second.run(_spec("one-runner"), resume=True)
    assert again.skipped == 6 and again.done == 0
    assert {r.run_id for r in store.runs("one-runner")} == ok, "no run was replaced"


async def test_a_stale_lease_is_taken_over(store: Store, shipped_catalog: Catalog) -> None:
    store.save_batch(_spec("stale"), 6)
    store.acquire_lease("stale", "a dead runner", stale_after_s=60, now=time.time() - 600)
    result = await _runner(store, shipped_catalog).run(_spec("stale"), resume=True)
    assert result.done == 6 and result.status == "finished"


async def test_a_runner_whose_lease_was_taken_stops(store: Store,
                                                    shipped_catalog: Catalog) -> None:
    def steal(event: Any) -> None:
        if isinstance(event, CellFinished):  # another runner takes over while this one runs
            store.acquire_lease("stolen", "thief", stale_after_s=0)

    runner = _runner(store, shipped_catalog, delay_s=0.05, on_event=steal)
    runner.lease_options = {"heartbeat_s": 0.05}
    result = await runner.run(_spec("stolen", iterations=20))
    assert result.status == "cancelled" and result.done < 40


def test_the_cli_refuses_a_resume_while_another_process_holds_the_batch(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    store = Store(db)
    store.save_batch(_spec("held"), 6)
    store.acquire_lease("held", "gpu-box pid 4242", stale_after_s=60)
    code, _, err = run_cli("--resume", "held", "-q", "--db", str(db))
    assert code == 1 and "gpu-box pid 4242" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert store.count_runs("held") == 0


async def test_jsonl_reports_exactly_the_cells_that_are_stored(
        store: Store, shipped_catalog: Catalog) -> None:
    out = io.StringIO()
    printer = JsonLinesPrinter(out)
    runner: Runner

    def listen(event: Any) -> None:
        printer(event)
        if isinstance(event, CellFinished):
            runner.cancel()  # cancel mid-way, with cells still queued

    # Four workers, one backend slot: three cells wait for the backend when the cancel comes.
    runner = _runner(store, shipped_catalog, delay_s=0.01, on_event=listen, slots=1)
    spec = _spec("cancelled").model_copy(update={"concurrency": None})
    result = await runner.run(spec)
    assert result.status == "cancelled"
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    reported = {x["run_id"] for x in lines if x["event"] == "cell_finished"}
    stored = {r.run_id for r in store.runs("cancelled")}
    assert reported == stored and set(result.run_ids) == stored
    assert len(stored) < 6


# --------------------------------------------------------------------------- damaged pages


async def _damaged_copy(tmp_path: Path, catalog: Catalog) -> tuple[Path, Path, int]:
    """A database with one batch of runs, and a copy with some of the runs' pages wrecked."""
    good = tmp_path / "good.db"
    store = Store(good)
    result = await _runner(store, catalog).run(_spec("b1", iterations=30))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    conn = sqlite3.connect(good)
    leaves = [row[0] for row in conn.execute(
        "SELECT pageno FROM dbstat WHERE name = 'runs' AND pagetype = 'leaf' ORDER BY pageno")]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    bad = tmp_path / "bad.db"
    shutil.copy(good, bad)
    _wreck(bad, leaves[2:4], page)
    return good, bad, result.done


def _wreck(path: Path, pages: list[int], page_size: int) -> None:
    with open(path, "r+b") as handle:
        for number in pages:
            handle.seek((number - 1) * page_size)
            handle.write(b"\xff" * page_size)


async def test_a_damaged_database_is_one_line_everywhere_and_the_doctor_recovers_it(
        tmp_path: Path, shipped_catalog: Catalog) -> None:
    good, bad, stored = await _damaged_copy(tmp_path, shipped_catalog)
    for command in (["batches", "list"], ["batches", "show", "b1"], ["report"],
                    ["export", "b1", "--format", "json"],
                    ["judge", "--export", str(tmp_path / "pending.json")]):
        code, _, err = run_cli(*command, "--db", str(bad))
        assert code == 1, (command, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (command, err)
        assert str(bad) in err and "tui-bench doctor" in err, (command, err)
    before = bad.read_bytes()
    code, _, err = run_cli("--run", "-q", "-s", SCENARIOS[0], "--db", str(bad))
    assert code == 1 and "damaged" in err and "tui-bench doctor" in err
    assert bad.read_bytes() == before, "a batch never writes into a damaged file"

    code, out, err = run_cli("doctor", "--db", str(good))
    assert code == 0 and "ok" in out
    code, out, err = run_cli("doctor", "--db", str(bad))
    assert code == 1 and "damaged" in err
    for method in ("rows", "auto"):
        out_db = tmp_path / f"recovered-{method}.db"
        code, out, err = run_cli("doctor", "--db", str(bad), "--recover", str(out_db),
                                 "--method", method)
        assert code == 0, err
        assert f"{out_db}: ok" in out
        recovered = Store(out_db)
        kept = recovered.count_runs("b1")
        assert 0 < kept < stored, (kept, stored)  # what was readable, not what was wrecked
        assert recovered.get_batch("b1") is not None
        recovered.close()
    code, _, err = run_cli("doctor", "--db", str(bad), "--recover", str(out_db))
    assert code == 1 and "exists" in err


@pytest.mark.slow
def test_a_batch_whose_writes_fail_does_not_report_success(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "save_run", broken)
    db = tmp_path / "bench.db"
    code, _, err = run_cli("--run", "-q", "-s", SCENARIOS[0], "--max-tokens", "4",
                           "--db", str(db))
    assert code == 1 and "disk I/O error" in err and str(db) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_killed_runner_on_this_host_does_not_block_a_resume(tmp_path: Path) -> None:
    """The crash suite's case: SIGKILL leaves a fresh lease, but its process is gone."""
    import signal
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.send_signal(signal.SIGKILL)
    child.wait()
    from tui_bench.engine.lease import BatchLease, holder_is_dead

    dead = f"{socket.gethostname()} pid {child.pid} #abc123"
    assert holder_is_dead(dead)
    assert not holder_is_dead(f"{socket.gethostname()} pid {os.getpid()} #abc123")
    assert not holder_is_dead(f"another-host pid {child.pid} #abc123")
    db = tmp_path / "bench.db"
    store = Store(db)
    store.save_batch(_spec("killed"), 6)
    store.acquire_lease("killed", dead, stale_after_s=60)
    lease = BatchLease(store, "killed")
    lease.acquire()  # at once, not after the 60 s stale bound
    assert store.lease_of("killed")["owner"] == lease.owner


async def test_the_app_says_a_damaged_database_in_one_line_instead_of_empty_tables(
        tmp_path: Path, shipped_catalog: Catalog) -> None:
    from tests.conftest import fixed_pool, make_app
    from tui_bench.settings import Settings
    from tui_bench.tui.screens.home import HomeScreen

    good, bad, _done = await _damaged_copy(tmp_path, shipped_catalog)
    conn = sqlite3.connect(good)  # wreck the batches table too: home reads it first
    pages = [row[0] for row in conn.execute(
        "SELECT pageno FROM dbstat WHERE name = 'batches'")]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    _wreck(bad, pages, page_size)
    store = Store(bad)
    app = make_app(store=store, catalog=shipped_catalog, settings=Settings(),
                   pool_factory=fixed_pool)
    said: list[str] = []
    original = app.notify

    def notify(message: str, **kw: Any) -> None:
        said.append(message)
        original(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            assert isinstance(app.screen, HomeScreen)
            deadline = time.monotonic() + 60
            while not any("doctor" in line for line in said) and time.monotonic() < deadline:
                await pilot.pause(0.05)
            errors = [line for line in said if "doctor" in line]
            assert len(errors) == 1, said
            assert str(bad) in errors[0] and "malformed" in errors[0]
    finally:
        store.close()
