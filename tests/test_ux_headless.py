"""Headless as a new user meets it (issue 18): a dead backend stores no batch, a missing
OpenAI key is named, and an all-errored batch is not called finished."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

from tests.conftest import tiny_catalog
from tests.test_headless import tui_bench
from tui_bench.backends import BackendPool
from tui_bench.backends.base import BackendError
from tui_bench.domain import BatchSpec
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _batches(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM batches").fetchone()[0])


def test_unreachable_backend_stores_no_batch_and_missing_key_is_named(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    host = f"http://127.0.0.1:{_free_port()}"
    for _ in range(2):  # retried: still nothing in the history
        out = tui_bench("--run", "--models", "ollama:qwen2.5:0.5b", "--scenarios",
                        "coding-fizzbuzz", "--ollama-host", host, "--db", str(db))
        assert out.returncode == 1, out.stderr
        assert "nothing was stored" in out.stderr and "127.0.0.1" in out.stderr
        assert "Traceback" not in out.stderr
    assert _batches(db) == 0
    out = tui_bench("--run", "--models", "openai:gpt-4o-mini", "--scenarios",
                    "coding-fizzbuzz", "--db", str(db))
    assert out.returncode == 1
    assert "no OpenAI API key" in out.stderr and "OPENAI_API_KEY" in out.stderr
    assert _batches(db) == 0


class Broken:
    """A backend whose every call errors for good (a model the server refuses)."""

    name = "broken"
    default_concurrency = 1

    def chat(self, *args: object, **kwargs: object) -> object:
        async def stream():  # type: ignore[no-untyped-def]
            raise BackendError("model refused", host="broken")
            yield  # pragma: no cover
        return stream()

    async def list_models(self) -> list[object]:
        return []

    async def aclose(self) -> None:
        return None


def test_batch_whose_every_cell_errored_is_failed_not_finished(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    pool = BackendPool(Settings(), overrides={"ollama": Broken()})  # type: ignore[dict-item]
    spec = BatchSpec(batch_id="b-err", models=["ollama:nope"],
                     scenarios=["coding-add", "coding-double"])
    runner = Runner(store, tiny_catalog(), pool=pool)
    result = asyncio.run(runner.run(spec))
    assert result.failed == 2 and result.status == "failed"
    assert (store.get_batch("b-err") or {})["status"] == "failed"
    store.close()
