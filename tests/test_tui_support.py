"""Helpers for the TUI tests (no tests here): a fixed tiny catalog, fake backends, waiting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tui_bench.backends import BackendError, BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog
from tui_bench.domain import Criterion, EvaluatorSpec, ModelInfo, Rubric, Scenario
from tui_bench.settings import Settings

TINY_RUBRIC = Rubric(id="code-v1", name="Code", criteria=[
    Criterion(id="correctness", name="Correctness", max=20),
    Criterion(id="structure", name="Structure", max=20)])


def tiny_catalog() -> Catalog:
    """Three coding scenarios and one writing one: fixed, so layouts and counts never drift."""
    def coding(sid: str, fn: str, ask: str, tests: str) -> Scenario:
        return Scenario(
            id=sid, name=ask, suite="coding", category="basics",
            prompt=f"Write a Python function `{fn}` that {ask}. Reply with one ```python block.",
            tiers={"L0": f"Write `{fn}`.", "L3": f"Write `{fn}`; {ask}; add a docstring."},
            entry_point=fn, tests=tests, max_tokens=48,
            evaluators=[EvaluatorSpec(name="tests", weight=2), EvaluatorSpec(name="structure")])
    return Catalog(
        scenarios={s.id: s for s in [
            coding("coding-add", "add(a, b)", "returns a + b",
                   "def test_add():\n    assert add(2, 3) == 5\n"),
            coding("coding-double", "double(x)", "returns x * 2",
                   "def test_double():\n    assert double(4) == 8\n"),
            coding("coding-negate", "negate(x)", "returns -x",
                   "def test_negate():\n    assert negate(4) == -4\n"),
            Scenario(id="writing-haiku", name="A haiku", suite="writing", category="poems",
                     prompt="Write a haiku about tests.", expected_elements=["test"]),
        ]},
        rubrics={"code-v1": TINY_RUBRIC})


class FixedModels:
    """A backend that offers a fixed list of models (layout tests: no discovery races)."""

    default_concurrency = 1

    def __init__(self, name: str, models: list[ModelInfo]) -> None:
        self.name = name
        self.models = models

    async def chat(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - not called
        raise BackendError("a fixed-models backend cannot chat")

    async def list_models(self) -> list[ModelInfo]:
        return list(self.models)

    async def aclose(self) -> None:
        return None


class Unreachable(FixedModels):
    """A backend whose server is not there."""

    async def list_models(self) -> list[ModelInfo]:
        raise BackendError("cannot connect to Ollama at http://127.0.0.1:11434",
                           host="127.0.0.1:11434")


SMOLLM2 = ModelInfo(ref="embedded:smollm2", backend="embedded", name="smollm2",
                    parameter_size="135M", quantization="Q4_1", host="in-process")


def fixed_pool(settings: Settings) -> BackendPool:
    """Embedded offers smollm2 (listing only), Ollama is down."""
    return BackendPool(settings, overrides={
        "embedded": FixedModels("embedded", [SMOLLM2]),  # type: ignore[dict-item]
        "ollama": Unreachable("ollama", []),  # type: ignore[dict-item]
    })


def instant_pool(answer: str | None = None, **kwargs: Any):
    """A pool whose embedded backend answers at once with canned text (engine overhead only)."""
    def factory(settings: Settings) -> BackendPool:
        backend = InstantBackend(answer, **kwargs) if answer else InstantBackend(**kwargs)
        backend.list_models = FixedModels("embedded", [SMOLLM2]).list_models  # type: ignore
        return BackendPool(settings, overrides={
            "embedded": backend, "ollama": Unreachable("ollama", [])})  # type: ignore[dict-item]
    return factory


async def wait_until(pilot: Any, condition: Any, timeout: float = 120.0,
                     step: float = 0.1) -> None:
    """Poll the app (letting it run) until ``condition()`` holds, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(step)
    await asyncio.sleep(0)
