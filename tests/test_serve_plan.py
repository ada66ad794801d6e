"""``tui-bench serve`` without a browser: the address, the warning, and the per-tab command."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from tui_bench.cli import main
from tui_bench.commands.serve import add_arguments, plan_from
from tui_bench.integrations.serve import ServePlan, is_loopback


def _args(*argv: str) -> argparse.Namespace:
    from tui_bench.cli import add_common

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    add_common(parser)
    return parser.parse_args(list(argv))


def test_loopback_by_default_and_the_tabs_open_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    plan = plan_from(_args("--db", str(db), "--ollama-host", "http://gpu:11434",
                           "--scenarios-dir", "suites"))
    assert plan.host == "127.0.0.1" and not plan.exposed
    assert plan.url == "http://127.0.0.1:8000"
    argv = shlex.split(plan.command)
    assert argv[1:3] == ["-m", "tui_bench"]
    assert argv[argv.index("--db") + 1] == str(db)
    assert argv[argv.index("--ollama-host") + 1] == "http://gpu:11434"
    assert Path(argv[argv.index("--scenarios-dir") + 1]).is_absolute()


def test_is_loopback() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.1.2.3", "::1", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "192.168.1.4", "example.org")))
    assert ServePlan(host="::1", port=9).url == "http://[::1]:9"


def test_another_address_warns_that_there_is_no_authentication(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[ServePlan] = []
    monkeypatch.setattr("tui_bench.integrations.serve.serve", seen.append)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    out = capsys.readouterr()
    assert "no authentication" in out.err and "0.0.0.0" in out.err
    assert "http://0.0.0.0:8123" in out.out
    assert seen[0].exposed
    assert main(["serve"]) == 0
    assert "authentication" not in capsys.readouterr().err


def test_bad_port_and_busy_port_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err

    def busy(plan: ServePlan) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr("tui_bench.integrations.serve.serve", busy)
    assert main(["serve", "--port", "8124"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "127.0.0.1:8124" in err and "in use" in err
