"""Hostile files and flags: each refused in one line naming the file or flag, no traceback,
nothing stored, and (for files) the other files still load.

Big payloads are generated here, never committed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    code, out, err = run_cli("--run", "-q", "--db", str(db), "-s", SCENARIO,
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
