"""The store: versioned schema, one row per cell, commits that survive a reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tui_bench.domain import BatchSpec, Evaluation, Judgment, RunRecord, Scenario, Telemetry
from tui_bench.store import Store, StoreError, migrations

SCENARIO = Scenario(id="s1", name="S1", suite="coding", category="algorithms", prompt="p")


def record(run_id: str, status: str = "ok", score: float | None = 0.5, iteration: int = 1
           ) -> RunRecord:
    return RunRecord(run_id=run_id, batch_id="b1", model="embedded:smollm2",
                     prompt_version="v1", scenario_id="s1", tier="L2", iteration=iteration,
                     status=status, output="out", auto_score=score, success=bool(score),
                     scenario_hash=SCENARIO.definition_hash(),
                     telemetry=Telemetry(ttft_ms=12.5, completion_tokens=7, paid_load=True),
                     evaluations=[Evaluation(evaluator="tests", score=0.5, detail={"n": 1})])


def test_fresh_database_is_at_the_latest_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    assert store.schema_version == len(migrations())
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"idx_runs_cell", "idx_runs_batch_status", "idx_judgments_run"} <= indexes
    store.close()
    again = Store(tmp_path / "a.db")  # reopening runs no step twice
    assert again.schema_version == len(migrations())


def test_a_later_step_upgrades_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Store(path)
    old.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"], scenarios=["s1"]), 1)
    old.close()
    step = "ALTER TABLE batches ADD COLUMN label TEXT NOT NULL DEFAULT 'none';"
    upgraded = Store(path, migrations=[*migrations(), step])
    assert upgraded.schema_version == len(migrations()) + 1
    assert upgraded.query("SELECT label FROM batches") == [{"label": "none"}]


def test_a_failed_step_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Store(path).close()
    with pytest.raises(StoreError, match="no such table: nowhere"):
        Store(path, migrations=[*migrations(), "CREATE TABLE t (a); SELECT nonsense FROM nowhere;"])
    check = Store(path)
    assert check.schema_version == len(migrations())
    assert not check.query("SELECT name FROM sqlite_master WHERE name = 't'")


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer tui-bench"):
        Store(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(path)


def test_save_run_round_trip_and_replace(store: Store) -> None:
    store.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"], scenarios=["s1"]), 2)
    store.save_run(record("r1", status="error", score=None), SCENARIO)
    assert store.finished_cell_keys("b1") == set()
    store.save_run(record("r2"), SCENARIO)  # the same cell, finished this time: replaces r1
    assert store.count_runs("b1") == 1
    got = store.get_run("r2")
    assert got is not None and got.telemetry.ttft_ms == 12.5 and got.telemetry.paid_load is True
    assert got.evaluations[0].detail == {"n": 1}
    assert store.finished_cell_keys("b1") == {("embedded:smollm2", "v1", "s1", "L2", "", 1, "")}
    assert store.scenario_definition(SCENARIO.definition_hash())["prompt"] == "p"
    assert store.table_counts()["evaluations"] == 1


def test_committed_runs_survive_a_new_connection(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    writer = Store(path)
    writer.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"], scenarios=["s1"]), 1)
    writer.save_run(record("r1"), SCENARIO)
    reader = Store(path)  # no close, no checkpoint: WAL readers see committed rows
    assert reader.count_runs("b1") == 1
    assert reader.integrity_check() == "ok"


def test_registry_keeps_what_a_person_set(store: Store) -> None:
    from tui_bench.domain import ModelInfo

    store.set_model_status("ollama:qwen2.5:0.5b", "verified", tier="small", notes="fast")
    store.record_models([ModelInfo(ref="ollama:qwen2.5:0.5b", backend="ollama",
                                   name="qwen2.5:0.5b", parameter_size="494M")])
    row = store.registry()[0]
    assert (row["status"], row["tier"], row["notes"]) == ("verified", "small", "fast")
    assert row["details"]["parameter_size"] == "494M" and row["reachable"] is True
    with pytest.raises(ValueError):
        store.set_model_status("ollama:x", "great")


def _schema(path) -> dict[str, str]:
    import sqlite3
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    conn.close()
    return {name: " ".join(sql.split()) for name, sql in rows}


def test_a_database_from_every_earlier_step_upgrades_to_the_fresh_schema(tmp_path):
    """Each named step is append-only: a file made by steps 1..k opens and reaches today's shape."""
    from tui_bench.store.migrations import MIGRATIONS, migration_names

    assert len(set(migration_names())) == len(MIGRATIONS)
    assert all(name.startswith(f"m{i:03d}_") for i, name in enumerate(migration_names(), 1))
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    for k in range(len(MIGRATIONS)):
        old = tmp_path / f"step{k}.db"
        Store(old, migrations=migrations()[:k]).close()
        upgraded = Store(old)
        assert upgraded.schema_version == len(MIGRATIONS)
        upgraded.close()
        assert _schema(old) == _schema(fresh)


def test_a_failed_write_raises_the_stores_own_error(store: Store) -> None:
    """Callers catch ``StoreError``, never ``sqlite3``'s; the failed write leaves nothing."""
    orphan = Judgment(run_id="run_missing", judge="ann", rubric_id="r", scores={"a": 1},
                      total=1, percent=100.0, band="production-ready")
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.save_judgment(orphan)
    assert store.judgments() == []
    store.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"],
                               scenarios=["s"]), total_cells=1)  # the store still writes
