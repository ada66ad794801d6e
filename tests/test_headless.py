"""The headless command: runs a real batch, writes JSON, resumes, and fails in one plain line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

SCENARIO = """
id: coding-double
name: Double a number
suite: coding
category: algorithms
prompt: "Write a Python function double(x) that returns x times two."
entry_point: double
expected_elements: ["def double"]
tests: |
  def test_two():
      assert double(2) == 4
evaluators:
  - {name: tests, weight: 0.8}
  - {name: expected_elements, weight: 0.2}
"""
RUBRIC = """
id: code-v1
name: Code
criteria:
  - {id: correctness, name: Correctness, max: 20, anchors: {0: fails, 20: passes}}
"""


def tui_bench(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_bench", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=cli_env())


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    folder = tmp_path / "scen"
    (folder / "rubrics").mkdir(parents=True)
    (folder / "rubrics" / "code.yaml").write_text(RUBRIC)
    (folder / "double.yaml").write_text(SCENARIO)
    (folder / "triple.yaml").write_text(SCENARIO.replace("coding-double", "coding-triple"))
    return folder


def imported_packages(*modules: str) -> set[str]:
    """Top-level packages loaded, in a fresh interpreter, by importing ``modules``."""
    code = (f"import sys, {', '.join(modules)}\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_headless_path_never_loads_textual() -> None:
    """Start-up cost, not layering (import-linter checks that, in .ci/checks): the CLI and
    the headless commands import the app only when it is opened."""
    loaded = imported_packages(
        "tui_bench.cli", "tui_bench.commands.run", "tui_bench.commands.report",
        "tui_bench.commands.export", "tui_bench.commands.batches", "tui_bench.commands.weights",
        "tui_bench.headless")
    assert "tui_bench" in loaded and "textual" not in loaded


@pytest.mark.slow
def test_run_writes_results_and_json_then_resume_skips(tmp_path: Path, scenarios: Path) -> None:
    db = tmp_path / "bench.db"
    summary_path = tmp_path / "out" / "summary.json"
    done = tui_bench("--run", "--scenarios", "coding-double,coding-triple", "--max-tokens", "24",
                     "--batch-id", "b-one", "--db", str(db), "--scenarios-dir", str(scenarios),
                     "--json", str(summary_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "b-one" in done.stdout and "coding-triple" in done.stdout
    summary = json.loads(summary_path.read_text())
    assert summary["batch_id"] == "b-one" and summary["mode"] == "zero-shot"
    assert summary["config"]["models"] == ["embedded:smollm2"]
    assert summary["config"]["options"]["max_tokens"] == 24
    assert summary["started_at"] and summary["finished_at"] and summary["duration_s"] > 0
    assert len(summary["runs"]) == 2 and summary["summary"]["ok"] == 2
    run = summary["runs"][0]
    assert set(run["evaluations"]) == {"tests", "expected_elements"}
    assert run["ttft_ms"] > 0 and run["completion_tokens"] > 0

    again = tui_bench("--resume", "b-one", "--db", str(db), "--scenarios-dir", str(scenarios))
    assert again.returncode == 0, again.stderr
    assert "2 of 2 cells already finished" in again.stdout

    from tui_bench.store import Store

    store = Store(db)
    assert store.count_runs("b-one") == 2
    assert store.get_batch("b-one")["status"] == "finished"


@pytest.mark.parametrize("args, words", [
    (["--run", "--models", "ollama:"], "names a backend but no model"),
    (["--run", "--tier", "L7"], "unknown tier"),
    (["--run", "--iterations", "0"], "--iterations"),
    (["--run", "--suite", "poetry"], "unknown suite 'poetry'"),
    (["--run", "--scenarios", "nope-*"], "no scenario matches 'nope-*'"),
    (["--run", "--batch-id", "../evil"], "batch id"),
    (["--resume", "batch_missing"], "no batch 'batch_missing'"),
    (["--run", "--temperature", "hot"], "--temperature: 'hot' is not a number"),
])
def test_bad_input_is_one_line_no_traceback(tmp_path: Path, scenarios: Path, args: list[str],
                                            words: str) -> None:
    out = tui_bench(*args, "--db", str(tmp_path / "x.db"), "--scenarios-dir", str(scenarios))
    assert out.returncode != 0
    assert words in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_broken_scenario_file_warns_and_the_rest_still_run(tmp_path: Path,
                                                           scenarios: Path) -> None:
    (scenarios / "broken.yaml").write_text("id: x\nname: X\nsuite: coding\n")
    out = tui_bench("scenarios", "--scenarios-dir", str(scenarios))
    assert out.returncode == 1
    assert "broken.yaml: category: required field is missing" in out.stderr
    assert "coding-double" in out.stdout


def test_unreachable_model_refuses_the_batch_with_the_reason(tmp_path: Path,
                                                             scenarios: Path) -> None:
    out = tui_bench("--run", "--models", f"embedded:{tmp_path / 'missing.gguf'}",
                    "--scenarios", "coding-double", "--db", str(tmp_path / "y.db"),
                    "--scenarios-dir", str(scenarios))
    assert out.returncode == 1
    assert "nothing was stored" in out.stderr and "GGUF file not found" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_locate_and_version() -> None:
    out = tui_bench("locate")
    assert out.returncode == 0 and "bench.db" in out.stdout and ".gguf" in out.stdout
    assert tui_bench("--version").stdout.startswith("tui-bench ")


@pytest.mark.slow
def test_comparative_mode_on_a_humaneval_range(tmp_path: Path) -> None:
    """Zero-shot and iterative on the same cells, from the shipped HumanEval suite, end to end."""
    summary_path = tmp_path / "cmp.json"
    out = tui_bench("--run", "--scenarios", "humaneval:0-2", "--mode", "comparative",
                    "--max-iterations", "2", "--max-tokens", "48", "--db",
                    str(tmp_path / "cmp.db"), "--json", str(summary_path))
    assert out.returncode == 0, out.stderr
    assert "iterating: success" in out.stdout
    summary = json.loads(summary_path.read_text())
    assert [r["scenario_id"] for r in summary["runs"]] == ["humaneval-0", "humaneval-1"]
    comparative = summary["summary"]["comparative"]
    assert comparative["cells"] == 2
    for run in summary["runs"]:
        assert 1 <= run["attempts"] <= 2 and set(run["evaluations"]) == {"tests"}
        if not run["first_success"]:
            assert run["attempts"] == 2, "a failed first answer is sent back once"
    assert comparative["iterative"]["completion_tokens"] >= comparative["zero_shot"][
        "completion_tokens"]


@pytest.mark.slow
def test_run_with_the_ci_gate(tmp_path: Path) -> None:
    """--fail-under and --baseline turn a run into a CI check that names what regressed."""
    db = str(tmp_path / "gate.db")
    base = tui_bench("--run", "--scenarios", "coding-safe-add", "--max-tokens", "96",
                     "--batch-id", "base", "--db", db, "-q", "--fail-under", "0")
    assert base.returncode == 0, base.stderr
    assert "gate: passed" in base.stdout
    worse = tui_bench("--run", "--scenarios", "coding-safe-add", "--max-tokens", "3",
                      "--batch-id", "worse", "--db", db, "-q", "--fail-under", "0.9")
    assert worse.returncode == 1
    assert "gate:" in worse.stderr and "below" in worse.stderr
    assert "Traceback" not in worse.stderr
    missing = tui_bench("--run", "--scenarios", "coding-safe-add", "--max-tokens", "3",
                        "--db", db, "-q", "--baseline", "nope")
    assert missing.returncode == 1 and "no baseline batch 'nope'" in missing.stderr


@pytest.mark.slow
def test_run_then_mint_in_one_command(tmp_path: Path) -> None:
    """--specialist runs both sides; --mint-template mints the snapshot from that batch."""
    import json5

    out = tui_bench("--run", "--scenarios", "coding-safe-add", "--max-tokens", "16",
                    "--specialist", "python-craftsman", "--mint-template", "python-craftsman",
                    "--snapshots-dir", str(tmp_path / "snaps"), "--db",
                    str(tmp_path / "mint.db"), "--batch-id", "with-persona")
    assert out.returncode == 0, out.stderr
    files = list((tmp_path / "snaps").rglob("snapshot-001.json5"))
    assert len(files) == 1 and "minted" in out.stdout
    snapshot = json5.loads(files[0].read_text())
    runs = snapshot["benchmarks"]["runs"]
    assert sorted(r["specialist_enabled"] for r in runs) == [False, True]
    assert snapshot["snapshot_metadata"]["batch_id"] == "with-persona"
