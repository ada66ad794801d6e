"""Your own data: JSONL and CSV rows become scenario files that load beside the shipped ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SCENARIOS, cli_env
from tui_bench import locations
from tui_bench.catalog import load_catalog
from tui_bench.cli import main
from tui_bench.integrations import importers
from tui_bench.store import Store

JSONL_ROWS = [
    ('{"qid": "capital-fr", "question": "What is the capital of France?\\nOne word.", '
     '"answer": "Paris", "topic": "geography"}'),
    '{"qid": "sum", "question": "What is 2 + 3?", "answer": ["5"], "topic": "maths"}',
    '{"qid": "broken", "question": "no closing brace"',
    '',
    '{"qid": "no-question", "answer": "x"}',
    '["not", "an", "object"]',
    '{"qid": "sum", "question": "What is 3 + 3?", "answer": "6"}',
    '{"qid": "colour", "question": "Name the colour of the sky.", "answer": "blue"}',
]
CSV_TEXT = (
    "qid,question,answer,topic\n"
    "planet,Which planet is largest?,Jupiter,astronomy\n"
    "empty,,nothing,astronomy\n"
    '"multi","Write ""hello""\nin capitals",HELLO,words\n'
    "extra,What is 1 + 1?,2,maths,surplus\n"
    "ocean,Name the largest ocean.,Pacific,geography\n"
)
MAPPING = ["--prompt-field", "question", "--expected-field", "answer", "--id-field", "qid",
           "--category-field", "topic"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "questions.jsonl").write_text("\n".join(JSONL_ROWS) + "\n")
    (folder / "more.csv").write_text(CSV_TEXT)
    return folder


def test_import_round_trips_jsonl_and_csv_and_skips_bad_rows_by_line(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "mine"
    assert main(["import", str(data / "questions.jsonl"), "--suite", "quiz", *MAPPING,
                 "--scenarios-dir", str(user)]) == 0
    captured = capsys.readouterr()
    assert "imported 3 scenario(s)" in captured.out and "4 bad row(s) skipped" in captured.out
    errors = captured.err.splitlines()
    assert [line.split(": line ")[1].split(":")[0] for line in errors] == ["3", "5", "6", "7"]
    assert "not valid JSON" in errors[0] and "'question' (the prompt) is missing" in errors[1]
    assert "not a JSON object" in errors[2] and "duplicate id 'quiz-sum'" in errors[3]

    assert main(["import", str(data / "more.csv"), "--suite", "trivia", *MAPPING,
                 "--evaluators", "oracle,expected_elements", "--scenarios-dir", str(user)]) == 0
    captured = capsys.readouterr()
    assert "imported 3 scenario(s)" in captured.out
    assert "more.csv: line 3:" in captured.err and "more.csv: line 6:" in captured.err
    assert "more values than the header" in captured.err

    # Ordinary, readable scenario files that load beside the shipped suites without a problem.
    text = (user / "quiz" / "quiz-capital-fr.yaml").read_text()
    assert "prompt: |-\n  What is the capital of France?\n  One word." in text
    assert yaml.safe_load(text)["expected_elements"] == ["Paris"]
    multi = yaml.safe_load((user / "trivia" / "trivia-multi.yaml").read_text())
    assert multi["prompt"] == 'Write "hello"\nin capitals' and multi["category"] == "words"
    assert multi["oracle"] == [{"answer": "HELLO"}]
    catalog = load_catalog(locations.scenarios_dirs([str(user)]))
    assert catalog.problems == []
    assert sorted(s.id for s in catalog.suites["quiz"]) == ["quiz-capital-fr", "quiz-colour",
                                                            "quiz-sum"]
    assert {"coding", "writing", "quiz", "trivia"} <= set(catalog.suites)
    assert not list(user.glob(".*"))  # no staging folder left behind


def test_nothing_half_written(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "mine"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": ""}\nnot json\n')
    assert main(["import", str(bad), "--suite", "none", "--scenarios-dir", str(user)]) == 1
    err = capsys.readouterr().err
    assert "no row could be imported" in err and "bad.jsonl: line 2: not valid JSON" in err
    assert not (user / "none").exists()

    assert main(["import", str(data), "--suite", "all", *MAPPING,
                 "--scenarios-dir", str(user)]) == 0
    before = sorted(p.name for p in (user / "all").iterdir())
    assert len(before) == 6  # the folder's JSONL and CSV files together
    assert main(["import", str(data), "--suite", "all", "--scenarios-dir", str(user)]) == 1
    assert "exists; pass --replace" in capsys.readouterr().err

    calls = {"n": 0}
    real = importers.to_yaml

    def failing(row: dict) -> str:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(row)

    monkeypatch.setattr(importers, "to_yaml", failing)
    assert main(["import", str(data), "--suite", "all", *MAPPING, "--replace",
                 "--scenarios-dir", str(user)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in (user / "all").iterdir()) == before
    assert [p.name for p in user.iterdir()] == ["all"]  # no staging or old folder left


def test_a_user_scenario_with_a_shipped_id_is_reported_not_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    shipped = (SCENARIOS / "coding" / "coding-fizzbuzz.yaml").read_text()
    (user / "fizz.yaml").write_text(shipped.replace("name:", "name: Mine", 1))
    assert main(["scenarios", "--scenarios-dir", str(user)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duplicate id 'coding-fizzbuzz'" in err[0]
    assert str(user / "fizz.yaml") in err[0] and "not used" in err[0]
    catalog = load_catalog(locations.scenarios_dirs([str(user)]))
    assert catalog.scenario("coding-fizzbuzz").source.startswith(str(SCENARIOS))


def test_user_folders_come_from_the_flag_the_environment_and_the_data_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag, env = tmp_path / "flag", tmp_path / "env"
    data_home = tmp_path / "xdg"
    (data_home / "tui-bench" / "scenarios").mkdir(parents=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv(locations.DATA_ENV, raising=False)  # conftest's, which XDG yields to
    monkeypatch.setenv(locations.SCENARIOS_ENV, str(env))
    dirs = locations.scenarios_dirs([str(flag), str(SCENARIOS)])
    assert dirs[0].resolve() == SCENARIOS.resolve()
    assert dirs[1:] == [flag, env, data_home / "tui-bench" / "scenarios"]
    assert locations.import_dir(None) == env
    monkeypatch.delenv(locations.SCENARIOS_ENV)
    assert locations.import_dir(None) == Path.cwd() / "scenarios"


@pytest.mark.slow
def test_imported_scenarios_run_on_the_embedded_model(data: Path, tmp_path: Path) -> None:
    env = cli_env(TUI_BENCH_SCENARIOS=str(tmp_path / "mine"),
                  XDG_DATA_HOME=str(tmp_path / "xdg"))

    def tui_bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tui_bench", *args], capture_output=True,
                              text=True, timeout=300, env=env, cwd=tmp_path, check=False)

    done = tui_bench("import", str(data / "questions.jsonl"), "--suite", "quiz", *MAPPING)
    assert done.returncode == 0, done.stderr
    db = str(tmp_path / "quiz.db")
    ran = tui_bench("--run", "--suite", "quiz", "--max-tokens", "16", "--db", db,
                    "--batch-id", "b-quiz", "--json", str(tmp_path / "quiz.json"))
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    summary = json.loads((tmp_path / "quiz.json").read_text())
    assert summary["summary"]["ok"] == 3
    store = Store(db)
    runs = store.runs("b-quiz", with_evaluations=True)
    assert {r.scenario_id for r in runs} == {"quiz-capital-fr", "quiz-sum", "quiz-colour"}
    assert all(r.output.strip() and r.evaluations[0].evaluator == "expected_elements"
               for r in runs)
    assert os.path.isdir(tmp_path / "mine" / "quiz")
