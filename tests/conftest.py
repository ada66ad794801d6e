"""Shared fixtures: every test gets its own database; none touches the user's bench.db."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_bench.catalog import Catalog, load_catalog
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's config or database, or a real Ollama/OpenAI server."""
    monkeypatch.setenv("TUI_BENCH_DB", str(tmp_path / "bench.db"))
    monkeypatch.setenv("TUI_BENCH_CONFIG", str(tmp_path / "settings.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))  # no user scenarios
    for name in ("OLLAMA_HOST", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "test.db")
    yield db
    db.close()


@pytest.fixture(scope="session")
def shipped_catalog() -> Catalog:
    """The scenarios and rubrics that ship in scenarios/, loaded once."""
    return load_catalog([SCENARIOS])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running ``tui-bench`` as a subprocess in tests."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OLLAMA_HOST", "OPENAI_BASE_URL", "OPENAI_API_KEY")}
    env.update(extra)
    return env
