"""The command line against loopback servers: ``tui-bench models`` and a batch over all three
backends (the Ollama-speaking test server, llama-cpp-python's server, the embedded model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.servers.fixtures import OLLAMA_MODEL
from tests.servers.llama_server import MODEL_ALIAS, LlamaServer
from tests.servers.loopback import free_port
from tests.servers.ollama_server import OllamaTestServer
from tui_bench.cli import main
from tui_bench.store import Store

SCENARIO = """
id: say-hello
name: Say hello
suite: smoke
category: chat
prompt: "Say hello in five words."
rubric: chat-v1
expected_elements: ["hello"]
evaluators:
  - {name: expected_elements}
"""
RUBRIC = """
id: chat-v1
name: Chat
criteria:
  - {id: helpful, name: Helpful, max: 10}
"""


def tui_bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui_bench", *args], capture_output=True,
                          text=True, timeout=timeout, env=cli_env())


def registry(db: Path) -> dict[str, dict]:
    store = Store(db)
    try:
        return {r["model"]: r for r in store.registry()}
    finally:
        store.close()


def models(db: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["models", "--db", str(db), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_models_records_the_registry_and_mark_changes_it(
        ollama_server: OllamaTestServer, llama_server: LlamaServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "models.db"
    code, out, _ = models(db, "--ollama-host", ollama_server.url, "--openai-base-url",
                          llama_server.base_url, capsys=capsys)
    assert code == 0 and "Models" in out
    rows = registry(db)
    assert {f"ollama:{OLLAMA_MODEL}", f"openai:{MODEL_ALIAS}", "embedded:smollm2"} <= set(rows)
    row = rows[f"ollama:{OLLAMA_MODEL}"]
    assert row["status"] == "candidate" and row["reachable"] is True
    assert row["details"]["parameter_size"] == "134.52M"
    assert row["details"]["host"] == ollama_server.url
    assert row["first_seen"] and row["last_seen"]

    code, out, _ = models(db, "--mark", f"ollama:{OLLAMA_MODEL}", "verified", "--tier", "small",
                          "--notes", "fast enough", capsys=capsys)
    assert code == 0 and "verified" in out
    code, _, err = models(db, "--mark", f"openai:{MODEL_ALIAS}", "excellent", capsys=capsys)
    assert code == 2 and "status must be one of" in err and "Traceback" not in err

    # Listing again keeps what a person set and refreshes last_seen.
    code, out, _ = models(db, "--ollama-host", ollama_server.url, "--json", capsys=capsys)
    listed = {r["model"]: r for r in json.loads(out)["models"]}
    again = listed[f"ollama:{OLLAMA_MODEL}"]
    assert (again["status"], again["tier"], again["notes"]) == ("verified", "small",
                                                                "fast enough")
    assert again["first_seen"] == row["first_seen"] and again["last_seen"] >= row["last_seen"]

    code, out, _ = models(db, "--mark", f"ollama:{OLLAMA_MODEL}", "disabled", capsys=capsys)
    rows = registry(db)
    assert rows[f"ollama:{OLLAMA_MODEL}"]["status"] == "disabled"
    assert rows[f"ollama:{OLLAMA_MODEL}"]["tier"] == "small"


def test_models_says_in_one_line_that_ollama_is_not_running(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = tui_bench("models", "--db", str(tmp_path / "m.db"), "--ollama-host", dead,
                       timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("ollama:")]
    assert lines == [f"ollama: not running at {dead} (start it with `ollama serve`, or point "
                     "--ollama-host / OLLAMA_HOST at a running server)"]
    assert "embedded:smollm2" in result.stdout  # the other backends still listed


def test_mixed_batch_stores_one_ok_run_per_backend(
        ollama_server: OllamaTestServer, llama_server: LlamaServer, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    (scenarios / "rubrics").mkdir(parents=True)
    (scenarios / "hello.yaml").write_text(SCENARIO)
    (scenarios / "rubrics" / "chat.yaml").write_text(RUBRIC)
    db = tmp_path / "mixed.db"
    models = f"ollama:{OLLAMA_MODEL},openai:{MODEL_ALIAS},embedded:smollm2"
    result = tui_bench("--run", "--models", models, "--scenarios", "say-hello",
                       "--max-tokens", "16", "--db", str(db), "--scenarios-dir", str(scenarios),
                       "--ollama-host", ollama_server.url,
                       "--openai-base-url", llama_server.base_url, "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    store = Store(db)
    try:
        runs = {r.model: r for r in store.runs()}
    finally:
        store.close()
    assert set(runs) == set(models.split(","))
    for model, run in runs.items():
        assert run.status == "ok", (model, run.error)
        assert run.output.strip() and run.telemetry.completion_tokens
        assert run.telemetry.completion_tokens <= 16
    assert runs[f"ollama:{OLLAMA_MODEL}"].telemetry.host == ollama_server.url
    assert runs[f"openai:{MODEL_ALIAS}"].telemetry.host == llama_server.base_url
    assert runs["embedded:smollm2"].telemetry.host == "in-process"
    warmup, chat = ollama_server.chats()  # one untimed load call, then the measured cell
    assert chat["options"]["num_predict"] == 16
    assert warmup["model"] == chat["model"]
