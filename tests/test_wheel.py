"""Installed like any Python tool: the wheel carries the scenarios, templates and schema.

Builds the wheel from a copy of the source tree, installs it (without dependencies) into a
fresh venv that borrows this venv's site-packages for them, and runs it from a folder that is
not the checkout, as a new user would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
                              "*.db", "*.db-*", "snapshots", "tests", "benchmarks")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}\n{out.stdout}\n{out.stderr}"
    return out


def test_the_wheel_finds_what_ships_and_runs_a_cell(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", tmp_path / "dist", source, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("tui_bench-*.whl"))

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    fresh_python = fresh / "bin" / "python"
    site = Path(run(fresh_python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).stdout.strip())
    # Dependencies (llama-cpp-python compiles for minutes) come from this venv, after the wheel.
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", fresh_python, "install", "--no-deps", "-q",
        wheel, cwd=tmp_path)

    user = tmp_path / "elsewhere"
    user.mkdir()
    env = cli_env(TUI_BENCH_DB=str(user / "bench.db"))
    for name in ("PYTHONPATH", "TUI_BENCH_SCENARIOS", "TUI_BENCH_TEMPLATES"):
        env.pop(name, None)
    where = run(fresh_python, "-c", "import tui_bench; print(tui_bench.__file__)", cwd=user,
                env=env).stdout
    assert where.startswith(str(site)), where

    tool = fresh / "bin" / "tui-bench"
    scenarios = run(tool, "scenarios", cwd=user, env=env).stdout
    assert "coding-fizzbuzz" in scenarios and "code-v1" in scenarios
    located = run(tool, "locate", "templates", cwd=user, env=env).stdout.strip()
    assert located.startswith(str(site)) and Path(located, "python-craftsman.json5").is_file()

    run(tool, "--run", "--scenarios", "coding-fizzbuzz", "--tier", "L0", "--max-tokens", "48",
        "--quiet", "--json", user / "out.json", cwd=user, env=env)
    summary = json.loads((user / "out.json").read_text())
    assert summary["cells"] == 1 and summary["status"] == "finished", summary
    (cell,) = summary["runs"]
    assert cell["status"] == "ok" and cell["model"] == "embedded:smollm2"
    assert cell["completion_tokens"] > 0 and "tests" in cell["evaluations"]
    page = run(tool, "export", summary["batch_id"], "--format", "html", cwd=user, env=env).stdout
    assert "<html" in page and summary["batch_id"] in page  # the Jinja2 templates shipped too
    assert not any(p.name.startswith("tui_bench") for p in user.iterdir() if p.is_dir())
