"""Settings as grid axes: cell keys, the store, resume across option axes, warmup, environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions, RunRecord
from tui_bench.engine.plan import cell_options, normalise_spec, option_combinations, plan
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.store.migrations import migrations

from .conftest import ROOT, cli_env

SCENARIO = """
id: hello
name: Hello
suite: writing
category: greeting
prompt: Say hello.
expected_elements: ["hello"]
evaluators: [{name: expected_elements}]
rubric: tip-v1
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    folder = tmp_path / "scen"
    (folder / "rubrics").mkdir(parents=True)
    for rubric in (ROOT / "scenarios" / "rubrics").glob("*.yaml"):
        (folder / "rubrics" / rubric.name).write_text(rubric.read_text())
    (folder / "hello.yaml").write_text(SCENARIO)
    loaded = load_catalog([folder])
    assert loaded.problems == []
    return loaded


def sweep(**kw: Any) -> BatchSpec:
    base: dict[str, Any] = {
        "batch_id": "sweep", "models": ["ollama:echo"], "scenarios": ["hello"],
        "options": GenerationOptions(max_tokens=64),
        "option_axes": {"temperature": [0.0, 0.7], "num_ctx": [2048, 8192]}}
    base.update(kw)
    return BatchSpec(**base)


def test_option_axes_become_cells_with_canonical_keys() -> None:
    spec = normalise_spec(sweep(iterations=2))
    keys = [k for k, _ in option_combinations(spec)]
    # Context size varies slowest (a new size reloads the model); keys read t first.
    assert keys == ["t=0,ctx=2048", "t=0.7,ctx=2048", "t=0,ctx=8192", "t=0.7,ctx=8192"]
    cells = plan(spec)
    assert len(cells) == 8 and len({c.key for c in cells}) == 8
    hot = next(c for c in cells if c.options_key == "t=0.7,ctx=8192")
    options = cell_options(spec, hot)
    assert (options.temperature, options.num_ctx, options.max_tokens) == (0.7, 8192, 64)
    # One value is the batch's option, not an axis: keys stay empty, as in older batches.
    single = normalise_spec(sweep(option_axes={"temperature": [0.7]}))
    assert [c.options_key for c in plan(single)] == [""]
    with pytest.raises(ValueError, match="unknown option axis 'warmth'"):
        normalise_spec(sweep(option_axes={"warmth": [1, 2]}))
    with pytest.raises(ValueError, match="temperature"):
        normalise_spec(sweep(option_axes={"temperature": [0.1, -1.0]}))


async def test_sweep_stores_each_setting_and_resume_skips_exactly_the_finished(
        store: Store, catalog: Catalog) -> None:
    backend = InstantBackend("hello there")
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    result = await runner.run(sweep())
    assert result.done == 4
    runs = {r.options_key: r for r in store.runs("sweep")}
    assert set(runs) == {"t=0,ctx=2048", "t=0.7,ctx=2048", "t=0,ctx=8192", "t=0.7,ctx=8192"}
    sent = sorted((r["options"].temperature, r["options"].num_ctx) for r in backend.requests)
    assert sent == [(0.0, 2048), (0.0, 8192), (0.7, 2048), (0.7, 8192)]
    got = runs["t=0.7,ctx=8192"]
    assert got.telemetry.options["temperature"] == 0.7
    assert got.environment["context_size"] == 8192 and got.truncated is False
    # Lose two cells of different settings (as a crash would), then resume.
    for key in ("t=0,ctx=8192", "t=0.7,ctx=2048"):
        store.conn.execute("DELETE FROM runs WHERE run_id = ?", (runs[key].run_id,))
    backend.requests.clear()
    again = await Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend})).run(
        store.batch_spec("sweep"), resume=True)
    assert (again.skipped, again.done) == (2, 2)
    sent = sorted((r["options"].temperature, r["options"].num_ctx) for r in backend.requests)
    assert sent == [(0.0, 8192), (0.7, 2048)]
    assert store.count_runs("sweep") == 4
    assert store.finished_cell_keys("sweep") == {
        ("ollama:echo", "v1", "hello", "L2", "", 1, k) for k in runs}


async def test_warmup_runs_once_per_model_and_context_and_is_recorded(
        store: Store, catalog: Catalog) -> None:
    class Loading(InstantBackend):
        needs_warmup = True  # pretend it has weights to load

    backend = Loading("hello")
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    await runner.run(sweep(iterations=2))
    warm = [r for r in backend.requests if r["options"].max_tokens == 1]
    assert sorted(r["options"].num_ctx for r in warm) == [2048, 8192]  # not per temperature
    assert len(backend.requests) == 2 + 8
    env = store.batch_environment("sweep")
    assert env is not None and set(env["warmups"]) == {
        "ollama:echo ctx=2048", "ollama:echo ctx=8192"}
    assert env["host"]["cores"] and env["tool_version"]
    assert all("warmup_ms" in r.environment for r in store.runs("sweep"))
    backend.requests.clear()
    await Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend})).run(
        sweep(batch_id="cold", model_warmup=False))
    assert all(r["options"].max_tokens != 1 for r in backend.requests)


def test_truncated_flag_and_old_rows_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Store(path, migrations=migrations()[:1])  # a database from before option axes
    old.save_batch(BatchSpec(batch_id="b", models=["ollama:echo"], scenarios=["hello"]), 1)
    old.conn.execute(
        "INSERT INTO runs (run_id, batch_id, model, backend, prompt_version, scenario_id, tier, "
        "status, started_at, finished_at) VALUES ('r0', 'b', 'ollama:echo', 'ollama', 'v1', "
        "'hello', 'L2', 'ok', 'x', 'x')")
    old.close()
    store = Store(path)
    assert store.finished_cell_keys("b") == {("ollama:echo", "v1", "hello", "L2", "", 1, "")}
    record = RunRecord(run_id="r1", batch_id="b", model="ollama:echo", prompt_version="v1",
                       scenario_id="hello", tier="L2", options_key="ctx=512", truncated=True,
                       environment={"context_size": 512})
    store.save_run(record)
    got = store.get_run("r1")
    assert got is not None and got.truncated is True and got.environment == {"context_size": 512}
    assert store.count_runs("b") == 2  # the same cell at another setting is another cell
    store.close()


@pytest.mark.slow
def test_cli_sweeps_the_embedded_model_over_temperature_and_context(tmp_path: Path) -> None:
    db = tmp_path / "sweep.db"
    base = [sys.executable, "-m", "tui_bench"]
    run = subprocess.run(
        [*base, "--run", "--db", str(db), "--scenarios", "coding-celsius-to-fahrenheit",
         "--tier", "L0", "--max-tokens", "16", "--temperature", "0,0.7", "--num-ctx",
         "512,1024", "--batch-id", "sw", "-q"],
        check=False, capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    store = Store(db)
    runs = store.runs("sw")
    assert sorted(r.options_key for r in runs) == [
        "t=0,ctx=1024", "t=0,ctx=512", "t=0.7,ctx=1024", "t=0.7,ctx=512"]
    for r in runs:
        assert r.status == "ok"
        env = r.environment
        assert env["quantization"] == "Q4_1" and env["digest"].startswith("sha256:")
        assert env["context_size"] in (512, 1024) and env["warmup_ms"] > 0
        assert r.telemetry.load_ms == 0.0  # the warmup paid the load, not the first cell
    assert len(store.batch_environment("sw")["warmups"]) == 2
    store.close()
    report = subprocess.run([*base, "report", "--db", str(db), "--settings", "--json"],
                            check=False, capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    combos = data["models"]["embedded:smollm2"]["settings"]
    assert len(combos) == 4 and any(c["pareto"] for c in combos)
    again = subprocess.run([*base, "--resume", "sw", "--db", str(db), "-q"],
                           check=False, capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert Store(db).count_runs("sw") == 4
