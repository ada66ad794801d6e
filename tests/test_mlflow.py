"""MLflow tracking against a real ``mlflow server`` on loopback, read back with MLflow's client.

One server per module (it takes tens of seconds to start on a busy machine); each test uses
its own experiment. The --run tests drive the real embedded model on one short scenario.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SCENARIOS, add_batch, at, run
from tests.servers.loopback import free_port
from tui_bench.cli import main
from tui_bench.domain import Evaluation
from tui_bench.store import Store

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra")

pytestmark = pytest.mark.slow
SCENARIO = "writing-tip-new-manager"


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=root)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"mlflow server exited: {(root / 'server.log').read_text()}")
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("mlflow server did not start within 240 s")
            time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _client(uri: str) -> Any:
    return mlflow.tracking.MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str) -> list[Any]:
    client = _client(uri)
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)


def _mirror(store: Store, uri: str, experiment: str, run_id: str) -> Any:
    mapped = store.mlflow_mapping(uri, experiment, [run_id])[run_id]
    return _client(uri).get_run(mapped["mlflow_run_id"])


def test_run_logs_each_run_and_judging_later_updates_it(
        tracking_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "bench.db"
    common = ["--db", str(db), "--scenarios-dir", str(SCENARIOS)]
    assert main(["--run", "--scenarios", SCENARIO, "--tier", "L0,L2", "--max-tokens", "24",
                 "--batch-id", "b_mlflow", "--quiet", "--mlflow", tracking_uri,
                 "--mlflow-experiment", "live", *common]) == 0
    store = Store(db)
    stored = store.runs("b_mlflow")
    assert len(stored) == 2 and len(_runs(tracking_uri, "live")) == 2
    record = next(r for r in stored if r.tier == "L2")
    logged = _mirror(store, tracking_uri, "live", record.run_id)
    data = logged.data
    assert data.params["model"] == "embedded:smollm2" and data.params["scenario"] == SCENARIO
    assert data.params["tier"] == "L2" and data.params["prompt_version"] == "v1"
    assert data.params["specialist"] == "none" and data.params["options.max_tokens"] == "24"
    assert data.params["options.temperature"] == "0.0"
    assert data.metrics["auto_score"] == pytest.approx(record.auto_score)
    assert data.metrics["completion_tokens"] == record.telemetry.completion_tokens
    assert data.metrics["tokens_per_s"] == pytest.approx(record.telemetry.tokens_per_s)
    assert data.metrics["ttft_ms"] == pytest.approx(record.telemetry.ttft_ms)
    for evaluation in record.evaluations:
        assert data.metrics[f"eval.{evaluation.evaluator}"] == pytest.approx(evaluation.score)
    assert data.tags["batch_id"] == "b_mlflow" and data.tags["mode"] == "zero-shot"
    assert data.tags["judge_pending"] == "true" and logged.info.status == "FINISHED"
    client = _client(tracking_uri)
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {"output.txt",
                                                                           "prompt.txt"}
    output = Path(client.download_artifacts(logged.info.run_id, "output.txt", str(tmp_path)))
    assert output.read_text() == record.output

    # Judge in a file, apply it: the MLflow run gets the judged metrics, judge_pending clears.
    pending = tmp_path / "pending.json"
    assert main(["judge", "--export", str(pending), "--batch", "b_mlflow", *common]) == 0
    doc = json.loads(pending.read_text())
    entry = next(e for e in doc["runs"] if e["run_id"] == record.run_id)
    entry["scores"] = {c["id"]: c["max"] for c in entry["rubric"]["criteria"]}
    pending.write_text(json.dumps(doc))
    assert main(["judge", "--apply", str(pending), "--judge", "ann", *common]) == 0
    assert "updated 1 MLflow run(s)" in capsys.readouterr().out
    after = _mirror(store, tracking_uri, "live", record.run_id).data
    assert after.tags["judge_pending"] == "false"
    assert after.metrics["judged.person.percent"] == 100.0
    criteria = entry["rubric"]["criteria"]
    assert after.metrics["judged.person.total"] == sum(c["max"] for c in criteria)
    assert after.metrics[f"judged.person.{criteria[0]['id']}"] == criteria[0]["max"]

    # Syncing the batch afterwards creates nothing new.
    assert main(["mlflow", "sync", "b_mlflow", "--tracking-uri", tracking_uri,
                 "--experiment", "live", *common]) == 0
    assert "0 run(s) logged, 2 already there" in capsys.readouterr().out
    assert len(_runs(tracking_uri, "live")) == 2
    store.close()


def _seed(store: Store) -> None:
    first = run("S1", "ollama:m1", "s1", 0.9, tps=40.0, ttft_ms=100.0, cost=0.01, run_id="s1a")
    first[0].evaluations = [Evaluation(evaluator="tests", score=1.0)]
    add_batch(store, "S1", [first, run("S1", "ollama:m2", "s1", None, status="error",
                                       run_id="s1b")], created_at=at(1))
    add_batch(store, "S2", [run("S2", "ollama:m1", "s2", 0.4, run_id="s2a")], created_at=at(2))


def test_sync_is_idempotent_and_falls_back_to_tags_without_an_artifact_store(
        tracking_uri: str, store: Store, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed(store)
    # An experiment whose artifacts live on the server's own disk: not reachable over HTTP.
    _client(tracking_uri).create_experiment("on-disk", artifact_location=str(tmp_path / "a"))
    args = ["--tracking-uri", tracking_uri, "--experiment", "on-disk", "--db", store.path]
    assert main(["mlflow", "sync", "S1", *args]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) logged" in out and "in tags" in out
    assert len(_runs(tracking_uri, "on-disk")) == 2
    logged = _mirror(store, tracking_uri, "on-disk", "s1a")
    assert logged.data.tags["output"] == "answer of ollama:m1 to s1"
    assert logged.data.tags["prompt"] == store.get_run("s1a").prompt
    failed = _mirror(store, tracking_uri, "on-disk", "s1b")
    assert failed.info.status == "FAILED" and failed.data.tags["error"] == "backend failed"
    assert failed.data.tags["judge_pending"] == "false"  # nothing to judge in a failed run
    # Twice, then every batch: only S2's run is new.
    assert main(["mlflow", "sync", "S1", *args]) == 0
    assert main(["mlflow", "sync", *args]) == 0
    assert "1 run(s) logged, 2 already there" in capsys.readouterr().out
    assert len(_runs(tracking_uri, "on-disk")) == 3


def test_an_unreachable_server_is_one_line_and_changes_nothing(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(store)
    before = store.table_counts()
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert main(["mlflow", "sync", "--tracking-uri", nowhere, "--db", store.path]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and nowhere in err and "Traceback" not in err
    assert store.table_counts() == before
    assert main(["mlflow", "sync", "--tracking-uri", "sqlite:///x.db", "--db", store.path]) == 1
    assert "http" in capsys.readouterr().err
    assert main(["mlflow", "sync", "nope", "--tracking-uri", nowhere, "--db", store.path]) == 1


def test_run_goes_on_when_mlflow_is_away(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "bench.db"
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert main(["--run", "--scenarios", SCENARIO, "--max-tokens", "8", "--batch-id", "b_away",
                 "--quiet", "--mlflow", nowhere, "--db", str(db),
                 "--scenarios-dir", str(SCENARIOS)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "mlflow" in line]
    assert len(lines) == 1 and nowhere in lines[0] and "Traceback" not in err
    store = Store(db)
    assert [r.status for r in store.runs("b_away")] == ["ok"]
    assert store.mlflow_runs_of([r.run_id for r in store.runs("b_away")]) == []
    store.close()


async def test_saving_in_the_judging_screen_updates_the_mirrored_run(
        tracking_uri: str, store: Store) -> None:
    from tests.conftest import Host, add_judged_runs, judging_catalog
    from tui_bench.integrations.mlflow import MlflowSync
    from tui_bench.store.judging import QueueFilter
    from tui_bench.tui.screens.judge import JudgeScreen

    cat = judging_catalog()
    (first,) = add_judged_runs(store, cat, [{"model": "ollama:alpha", "scenario_id": "fizz",
                                      "auto_score": 0.71}])
    sync = MlflowSync(store, tracking_uri, "screen")
    sync.sync([first.run_id])
    sync.close()
    assert _mirror(store, tracking_uri, "screen", first.run_id).data.tags[
        "judge_pending"] == "true"
    app = Host(lambda: JudgeScreen(store=store, catalog=cat, judge="alice",  # type: ignore
                                   filters=QueueFilter(shuffled=False), blind=True))
    async with app.run_test(size=(170, 60)) as pilot:
        await pilot.pause()
        await pilot.press("1", "8", "down", "1", "6", "down", "1", "2", "down",
                          "1", "5", "down", "9", "down", "shift+right", "right", "left")
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
    data = _mirror(store, tracking_uri, "screen", first.run_id).data
    assert data.tags["judge_pending"] == "false"
    assert data.metrics["judged.person.total"] == 75.0
    assert data.metrics["judged.person.correctness"] == 18.0
