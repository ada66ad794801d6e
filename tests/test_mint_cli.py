"""``tui-bench mint`` and ``tui-bench enrich`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest

from tests.conftest import add_mint_runs
from tui_bench.cli import main
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_mint_command_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.db"
    store = Store(db)
    add_mint_runs(store, "b1", [("embedded:a", "", "ok", 0.5), ("embedded:a", "python-craftsman", "ok", 0.6)])
    store.close()
    out = tmp_path / "snaps"
    code = main(["mint", "python-craftsman", "--batch-id", "b1", "--output", str(out),
                 "--db", str(db), "--templates-dir", str(ROOT / "templates")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    path = out / "python-craftsman" / "1.0.0" / "snapshot-001.json5"
    assert f"written to {path.resolve()}" in printed
    assert "baseline 0.500 over 1/1 runs · specialist 0.600 over 1/1 runs" in printed
    assert "+20.0%" in printed
    assert json5.loads(path.read_text())["benchmarks"]["batch_id"] == "b1"


def test_mint_command_explains_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mint", "no-such-template", "--batch-id", "b1", "--db", str(tmp_path / "x.db"),
                 "--templates-dir", str(ROOT / "templates"), "--output", str(tmp_path / "o")])
    assert code == 1
    assert "unknown template 'no-such-template'" in capsys.readouterr().err
    bad = tmp_path / "templates"
    bad.mkdir()
    (bad / "evil.json5").write_text(json.dumps({"name": "../../etc", "version": "1",
                                                "purpose": "p", "persona": "q"}))
    code = main(["mint", "evil", "--batch-id", "b1", "--db", str(tmp_path / "x.db"),
                 "--templates-dir", str(bad), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "evil.json5: name: name '../../etc' contains a path separator" in err
    assert not (tmp_path / "o").exists()


def test_enrich_command_says_what_failed_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json5").write_text(json.dumps({
        "name": "t", "version": "1", "purpose": "p", "persona": "q",
        "documentation": [{"title": "gone", "path": "gone.md"}]}))
    code = main(["enrich", "t", "--templates-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "[1/1] skipped gone: fetch failed: file not found" in captured.err
    assert "no document could be enriched" in captured.err
    assert not (tmp_path / "t").exists()
