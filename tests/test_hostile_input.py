"""Hostile files and flags: each refused in one line naming the file or flag, no traceback,
nothing stored, and (for files) the other files still load.

Big payloads are generated here, never committed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from tests.test_bad_input import run_cli

SCENARIO = "writing-tip-data-analyst"
HOSTILE_FLAGS = [
    (["--timeout", "-1"], "--timeout"),
    (["--retries", "-1"], "--retries"),
    (["--temperature", "inf"], "--temperature"),
    (["--threads", "0"], "--threads"),
    (["--stall-timeout", "0"], "--stall-timeout"),
    (["--cell-deadline", "nan"], "--cell-deadline"),
    (["--max-answer-bytes", "0"], "--max-answer-bytes"),
    (["-m", ",,,"], "--models"),
    (["--tier", ","], "--tier"),
    (["--prompt-version", "v999"], "--prompt-version v999"),
    (["--openai-base-url", "http://[::1"], "--openai-base-url"),
    (["--ollama-host", "ftp://x"], "--ollama-host"),
    (["-n", "1000000000"], "1,000,000,000 cells"),
    (["-m", "ollama:" + "q" * 100_000], "--models"),
    (["--judge", os.fsdecode(b"judge-\xff")], "--judge: not valid UTF-8"),
    (["--mint-template", "nosuch"], "--mint-template"),
]


@pytest.mark.parametrize(("extra", "named"), HOSTILE_FLAGS,
                         ids=[" ".join(a)[:30] for a, _ in HOSTILE_FLAGS])
def test_a_hostile_flag_is_refused_up_front(tmp_path: Path, extra: list[str], named: str) -> None:
    db = tmp_path / "bench.db"
    code, _, err = run_cli("--run", "-q", "--db", str(db), "-s", SCENARIO,
                           "--openai-base-url", "http://127.0.0.1:9/v1", *extra)
    assert code == 2, (code, err)
    assert named in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    # Refused before the database holds a batch (it may exist, empty, for some flags).
    if db.exists():
        from tui_bench.store import Store

        assert Store(db).count_batches() == 0


@pytest.mark.parametrize("target", ["/dev/null", "fifo"])
def test_a_database_that_is_not_a_regular_file_is_refused(tmp_path: Path, target: str) -> None:
    path = target
    if target == "fifo":
        path = str(tmp_path / "bench.db")
        os.mkfifo(path)
    code, _, err = run_cli("batches", "list", "--db", path)
    assert code == 2 and "not a regular file" in err and path in err
    assert not Path("/dev/null-journal").exists() or target != "/dev/null"


# --------------------------------------------------------------------------- files

ALIAS_BOMB = """id: writing-bomb
name: bomb
suite: writing
category: writing
prompt: hi
evaluators:
  - name: format
    options:
      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def _hostile_folder(root: Path) -> dict[str, str]:
    """A scenario folder with one good file and one of each hostile kind: name -> a word the
    one-line problem must hold."""
    (root / "rubrics").mkdir(parents=True)
    for rubric in (SCENARIOS / "rubrics").glob("*.yaml"):
        (root / "rubrics" / rubric.name).write_text(rubric.read_text())
    # A user folder adds to the shipped suites, so the good file takes an id of its own.
    good = (SCENARIOS / "writing" / f"{SCENARIO}.yaml").read_text().replace(
        f"id: {SCENARIO}", f"id: {SCENARIO}-mine")
    (root / "good.yaml").write_text(good)
    (root / "bomb.yaml").write_text(ALIAS_BOMB)
    (root / "deep.yaml").write_text("id: deep\nx: " + "[" * 20_000 + "]" * 20_000 + "\n")
    (root / "nested.yaml").write_text("id: nested\nx: " + "[" * 200 + "]" * 200 + "\n")
    with open(root / "huge.yaml", "wb") as handle:  # 50 MB, sparse: cheap to make
        handle.truncate(50 << 20)
    os.mkfifo(root / "pipe.yaml")
    (root / "twin.yaml").write_text(good.replace(f"id: {SCENARIO}-mine",
                                                 f"id: {SCENARIO}-mine\u200b"))
    return {"bomb.yaml": "alias bomb", "deep.yaml": "nested too deeply",
            "nested.yaml": "nested deeper than", "huge.yaml": "byte limit",
            "pipe.yaml": "not a regular file", "twin.yaml": "U+200B"}


def test_hostile_scenario_files_are_each_one_line_and_the_good_one_loads(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    expected = _hostile_folder(folder)
    began = time.monotonic()
    code, out, err = run_cli("scenarios", "--check", "--scenarios-dir", str(folder))
    assert time.monotonic() - began < 20
    assert code == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == len(expected), err
    for name, word in expected.items():
        (line,) = [x for x in lines if str(folder / name) in x]
        assert word in line, line
    # The good file still loads and runs would see it.
    code, out, _ = run_cli("scenarios", "--scenarios-dir", str(folder))
    assert f"{SCENARIO}-mine" in out


def _template(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json5").write_text(body)


@pytest.mark.parametrize(("body", "word"), [
    ("{a: " + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ("{a: '" + "x" * (1 << 20) + "'}", "byte limit"),
])
def test_a_hostile_template_is_refused_in_one_line(tmp_path: Path, body: str, word: str) -> None:
    templates = tmp_path / "templates"
    _template(templates, "hostile", body)
    began = time.monotonic()
    code, _, err = run_cli("--run", "-q", "--db", str(tmp_path / "b.db"), "-s", SCENARIO,
                           "--templates-dir", str(templates), "--specialist", "hostile")
    assert time.monotonic() - began < 20
    assert code == 2 and word in err and "hostile.json5" in err and "Traceback" not in err


def test_a_fifo_template_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    os.mkfifo(templates / "pipe.json5")
    code, _, err = run_cli("--run", "-q", "--db", str(tmp_path / "b.db"), "-s", SCENARIO,
                           "--templates-dir", str(templates), "--specialist", "pipe")
    assert code == 2 and "'pipe'" in err  # not taken for a template file; nothing waits


@pytest.mark.parametrize(("text", "word"), [
    ('{"runs": [{"run_id": "r", "scores": {"correctness": NaN}}]}', "NaN"),
    ('{"runs": [{"run_id": "r", "scores": {"correctness": Infinity}}]}', "Infinity"),
    ('{"runs": [{"run_id": "r", "scores": {"correctness": 1e400}}]}', "1e400"),
    ('{"runs": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("fifo", "not a regular file"),
])
def test_a_hostile_judgment_file_is_one_line(tmp_path: Path, text: str, word: str) -> None:
    path = tmp_path / "judged.json"
    if text == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(text)
    code, _, err = run_cli("judge", "--apply", str(path), "--db", str(tmp_path / "b.db"),
                           "--judge", "ada")
    assert code == 1 and word in err and str(path) in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
