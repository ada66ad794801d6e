"""Shared fixtures: every test gets its own database; none touches the user's bench.db."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

# The loopback servers' fixtures, for every test module that asks for them by name.
from tests.servers.fixtures import (  # noqa: F401
    _ollama_servers,
    _openai_scripted,
    llama_server,
    ollama_pair,
    ollama_server,
    openai_scripted,
)
from tui_bench.backends import BackendError, BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.domain import (
    BatchSpec,
    Criterion,
    Evaluation,
    EvaluatorSpec,
    Judgment,
    ModelInfo,
    Rubric,
    RunRecord,
    Scenario,
    Telemetry,
    band_for,
)
from tui_bench.engine.plan import new_run_id
from tui_bench.scoring import ScoringContext
from tui_bench.scoring import score as score_output
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.app import BenchApp, make_app
from tui_bench.tui.screens.choose import ChooseScreen
from tui_bench.tui.widgets.scenario_tree import ScenarioTree

ROOT = Path(__file__).resolve().parent.parent
# How long a test may wait for the real model to finish some cells. A ceiling, never a sleep:
# on two cores shared with other work, a cell that takes a second alone can take a minute.
REAL_MODEL_DEADLINE = float(os.environ.get("TUI_BENCH_TEST_DEADLINE", "900"))
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's config or database, or a real Ollama/OpenAI server."""
    monkeypatch.setenv("TUI_BENCH_DB", str(tmp_path / "bench.db"))
    monkeypatch.setenv("TUI_BENCH_CONFIG", str(tmp_path / "settings.json"))
    monkeypatch.setenv("TUI_BENCH_DATA", str(tmp_path / "user-data"))
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


# --------------------------------------------------------------------------- TUI: a fixed tiny catalog, fake backends, waiting


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


# --------------------------------------------------------------------------- Judging: a code-v1 rubric, a small catalog, stored runs, a host app


CODE_V1 = Rubric(
    id="code-v1", name="Code quality", version=3,
    criteria=[
        Criterion(id="correctness", name="Correctness", max=20,
                  anchors={0: "wrong or does not run", 10: "works for common cases",
                           15: "works, misses edge cases", 20: "correct everywhere"}),
        Criterion(id="structure", name="Structure", max=20,
                  anchors={0: "a tangle", 10: "readable", 20: "clean, well factored"}),
        Criterion(id="performance", name="Performance", max=15,
                  anchors={0: "hopeless", 8: "fine for small inputs", 15: "optimal"}),
        Criterion(id="best_practices", name="Best practices", max=20,
                  anchors={0: "none", 10: "some", 20: "idiomatic"}),
        Criterion(id="documentation", name="Documentation", max=15,
                  anchors={0: "none", 8: "some comments", 15: "clear docstrings"}),
        Criterion(id="testing", name="Testing", max=10,
                  anchors={0: "no tests", 5: "a few tests", 10: "thorough tests"}),
    ])

WRITING = Rubric(
    id="writing-v1", name="Writing", criteria=[
        Criterion(id="clarity", name="Clarity", max=10, anchors={0: "muddled", 10: "clear"}),
        Criterion(id="accuracy", name="Accuracy", max=10, anchors={0: "wrong", 10: "right"})])


def judging_scenario(sid: str = "fizz", rubric: str = "code-v1", prompt: str | None = None) -> Scenario:
    return Scenario(id=sid, name=sid.title(), suite="coding", category="functions",
                    prompt=prompt or f"Write a Python function for {sid}.", rubric=rubric)


def judging_catalog(*scenarios: Scenario) -> Catalog:
    items = scenarios or (judging_scenario("fizz"), judging_scenario("sort"), judging_scenario("essay", "writing-v1"))
    return Catalog(scenarios={s.id: s for s in items},
                   rubrics={CODE_V1.id: CODE_V1, WRITING.id: WRITING})


OUTPUT = "Here is the code:\n\n```python\ndef fizz(n):\n    return 'fizz' if n % 3 == 0 else n\n```\n"


def add_judged_runs(store: Store, cat: Catalog, rows: list[dict[str, Any]],
             batch_id: str = "batch_t") -> list[RunRecord]:
    """Store runs (model, scenario_id, run_id...) as if a batch had produced them."""
    models = sorted({r.get("model", "ollama:alpha") for r in rows})
    scenarios = sorted({r.get("scenario_id", "fizz") for r in rows})
    if store.get_batch(batch_id) is None:
        store.save_batch(BatchSpec(batch_id=batch_id, models=models, scenarios=scenarios),
                         len(rows))
    out = []
    for i, row in enumerate(rows):
        scen = cat.scenarios.get(row.get("scenario_id", "fizz")) or judging_scenario(
            row.get("scenario_id", "fizz"))
        record = RunRecord(
            run_id=row.get("run_id", f"run_{batch_id}_{i}"), batch_id=batch_id,
            model=row.get("model", "ollama:alpha"), prompt_version=row.get("prompt_version", "v1"),
            scenario_id=scen.id, tier=row.get("tier", "L2"), iteration=row.get("iteration", 1),
            output=row.get("output", OUTPUT), prompt=scen.prompt,
            scenario_hash=scen.definition_hash(), status=row.get("status", "ok"),
            started_at=row.get("started_at", f"2024-01-01T00:00:{i:02d}.000+00:00"),
            telemetry=Telemetry(ttft_ms=42.0, completion_tokens=24, tokens_per_s=61.5,
                                total_ms=450.0),
            evaluations=[Evaluation(evaluator="expected_elements", score=0.625)],
            auto_score=row.get("auto_score", 0.625), success=False)
        store.save_run(record, scen)
        out.append(record)
    return out


def judgment(run_id: str, judge: str, scores: dict[str, int], *, kind: str = "person",
             rubric: Rubric = CODE_V1) -> Judgment:
    percent = rubric.percent(scores)
    return Judgment(run_id=run_id, judge=judge, judge_kind=kind, rubric_id=rubric.id,  # type: ignore[arg-type]
                    rubric_version=rubric.version, scores=scores, total=sum(scores.values()),
                    percent=percent, band=band_for(percent))


class Host(App[None]):
    """A bare app that opens one screen on mount, so screen tests need no app shell.

    Give it the screen, or a function that builds it (then it is built inside the app).
    """

    def __init__(self, screen: Screen[Any] | Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = screen
        self.target: Screen[Any] | None = None

    def on_mount(self) -> None:
        made = self.make_screen
        self.target = made if isinstance(made, Screen) else made()
        self.push_screen(self.target)


def screen_text(app: App[Any]) -> str:
    """The characters on the terminal right now, as the person would read them."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


# --------------------------------------------------------------------------- Reports: batches and runs with hand-picked scores


_ids = itertools.count(1)


def report_scenario(scenario_id: str, category: str) -> Scenario:
    return Scenario(id=scenario_id, name=scenario_id, suite="test", category=category,
                    prompt=f"do {scenario_id}")


def run(batch_id: str, model: str, scenario_id: str, score: float | None, *,
        category: str = "code", success: bool | None = None, status: str = "ok",
        tier: str = "L2", prompt_version: str = "v1", specialist: str = "",
        iteration: int = 1, ttft_ms: float | None = None, tps: float | None = None,
        cost: float | None = None, attempts: int = 1, mode: str = "zero-shot",
        output: str = "", run_id: str | None = None) -> tuple[RunRecord, Scenario]:
    """A run with a known score; success defaults to score >= 0.7, as the scorer does."""
    if success is None and score is not None and status == "ok":
        success = score >= 0.7
    record = RunRecord(
        run_id=run_id or f"run_{next(_ids):06d}", batch_id=batch_id, model=model,
        prompt_version=prompt_version, scenario_id=scenario_id, tier=tier,
        specialist=specialist, iteration=iteration, status=status,  # type: ignore[arg-type]
        output=output or f"answer of {model} to {scenario_id}",
        error=None if status == "ok" else "backend failed",
        auto_score=score if status == "ok" else None,
        success=success if status == "ok" else None,
        telemetry=Telemetry(ttft_ms=ttft_ms, tokens_per_s=tps, cost=cost),
        attempts=attempts, mode=mode)
    return record, report_scenario(scenario_id, category)


def add_batch(store: Store, batch_id: str, runs: list[tuple[RunRecord, Scenario]], *,
              created_at: str, mode: str = "zero-shot", max_iterations: int = 3,
              status: str = "finished", duration_s: int = 60) -> None:
    """Save a batch and its runs, then date it so batches sort in a known order."""
    models = sorted({r.model for r, _ in runs})
    scenarios = sorted({r.scenario_id for r, _ in runs})
    spec = BatchSpec(batch_id=batch_id, models=models or ["embedded:smollm2"],
                     scenarios=scenarios or ["none"], mode=mode,  # type: ignore[arg-type]
                     max_iterations=max_iterations)
    store.save_batch(spec, len(runs))
    for record, scen in runs:
        store.save_run(record.model_copy(update={"batch_id": batch_id}), scen)
    finished = created_at.removesuffix("+00:00")
    minutes, seconds = divmod(duration_s, 60)
    store.set_batch_times(batch_id, created_at=created_at, started_at=created_at,
                          finished_at=f"{finished[:14]}{minutes:02d}:{seconds:02d}+00:00",
                          status=status)


def judge(store: Store, run_id: str, percent: float, *, judge_name: str = "ann",
          kind: str = "person") -> None:
    store.save_judgment(Judgment(
        run_id=run_id, judge=judge_name, judge_kind=kind, rubric_id="code-v1",  # type: ignore
        scores={"all": int(percent)}, total=int(percent), percent=percent,
        band=band_for(percent)))


def at(day: int, hour: int = 0) -> str:
    """A creation time on day ``day`` of January 2025."""
    return f"2025-01-{day:02d}T{hour:02d}:00:00+00:00"


def by_key(rows: list[Any], **match: Any) -> Any:
    """The one row whose attributes equal ``match``."""
    found = [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


# --------------------------------------------------------------------------- Screens: reading what they show, and letting their workers finish


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (rich renderables rendered at a fixed width)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def rows(table: DataTable) -> list[list[str]]:
    """Every row of a table as the text of its cells."""
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def _handled(app: App[Any], timeout: float) -> None:
    """Wait until every message already queued for the app, each screen on its stack and their
    widgets has been handled to the end: a callback queued behind them runs only then."""
    pumps = [app]
    for screen in app.screen_stack:
        pumps.extend(screen.walk_children(with_self=True))
    pending = {id(p) for p in pumps}
    done = asyncio.Event()

    def one_more(key: int) -> None:
        pending.discard(key)
        if not pending:
            done.set()

    for pump in pumps:
        if not pump.call_later(one_more, id(pump)):
            pending.discard(id(pump))  # closed: nothing will be handled there any more
    if pending:
        await asyncio.wait_for(done.wait(), timeout)


async def settle(pilot: Any, timeout: float = 60.0) -> None:
    """Let every worker finish and every message it posted be handled, even under load.

    A worker cancelled by its exclusive successor raises from ``wait()``, so
    ``workers.wait_for_complete()`` is not usable here; this waits on each and ignores how it
    ended, then waits until all messages queued for the app, its screens and widgets are
    handled, and goes round again while that starts new workers.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout

    def left() -> float:
        if time.monotonic() > deadline:
            raise AssertionError(f"the app was still busy after {timeout}s")
        return max(0.1, deadline - time.monotonic())

    while True:
        await pilot.pause()
        busy = [w for w in app.workers if not w.is_finished]
        if busy:
            await asyncio.wait_for(asyncio.gather(*(w.wait() for w in busy),
                                                  return_exceptions=True), timeout=left())
        await _handled(app, left())
        if not busy and not any(not w.is_finished for w in app.workers):
            break
    await pilot.pause()


# --------------------------------------------------------------------------- Specialists: runs with and without a template


def add_mint_runs(store: Store, batch_id: str, rows: list[tuple[str, str, str, float | None]]) -> None:
    """rows: (model, specialist, status, score)."""
    store.save_batch(BatchSpec(batch_id=batch_id, models=sorted({r[0] for r in rows}),
                               scenarios=["s1"], specialists=sorted({r[1] for r in rows})),
                     len(rows))
    for index, (model, specialist, status, score) in enumerate(rows):
        store.save_run(RunRecord(
            run_id=f"run_{batch_id}_{index}", batch_id=batch_id, model=model,
            prompt_version="v1", scenario_id="s1", tier="L2", specialist=specialist,
            iteration=index + 1, status=status, output="x", auto_score=score,
            success=None if score is None else score >= 0.7,
            error=None if status == "ok" else "boom",
            telemetry=Telemetry(ttft_ms=10.0, completion_tokens=5),
            evaluations=[] if score is None else [Evaluation(evaluator="tests", score=score)]))


# --------------------------------------------------------------------------- The app on the real model: choosing a batch by keys


def coding_catalog(shipped: Catalog) -> tuple[Catalog, list[str]]:
    """The shipped coding scenarios when they are there, else the tiny fixed catalog."""
    coding = sorted(s.id for s in shipped.scenarios.values() if s.suite == "coding")
    if len(coding) >= 3:
        return shipped, coding
    catalog = tiny_catalog()
    return catalog, sorted(s for s in catalog.scenarios if s.startswith("coding-"))


def real_model_app(store: Store, catalog: Catalog) -> BenchApp:
    # Two threads for the model, the app's loop keeps what is left.
    return make_app(store=store, catalog=catalog, settings=Settings(embedded_threads=2))


async def choose_in_app(app: BenchApp, pilot: Any, scenario_ids: list[str], max_tokens: int) -> None:
    """From home: n, pick smollm2 by typing its name, mark scenarios, set max tokens."""
    await pilot.press("n")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ChooseScreen)
    await wait_until(pilot, lambda: not app.discovering, 30)
    screen.query_one("#model-table").focus()
    await pilot.press(*"smol", "enter")  # type to filter; enter to the table
    picker: Any = screen.query_one("#models")
    if "embedded:smollm2" not in picker.selected:  # a first run has it picked already
        await pilot.press("enter")
    assert picker.selected == ["embedded:smollm2"]
    tree = screen.query_one(ScenarioTree)
    tree.focus()
    for scenario_id in scenario_ids:
        assert tree.reveal(scenario_id)
        await pilot.pause()
        assert tree.cursor_node is not None and tree.cursor_node.data.key == scenario_id
        await pilot.press("space")
    box = screen.query_one("#opt-max-tokens", Input)
    box.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(box.value), *str(max_tokens))
    assert box.value == str(max_tokens)
    await pilot.pause()


def cell_statuses(table: DataTable[Any]) -> list[str]:
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]


# --------------------------------------------------------------------------- Rescoring: a batch of known outputs


RESCORE_SCENARIO = """
id: {id}
name: {id}
suite: mine
category: facts
rubric: tip-v1
prompt: "Name a colour."
expected_elements: [{expected}]
evaluators:
  - {{name: expected_elements, weight: 1}}
"""
OUTPUTS = ["red and blue", "blue only", "green", "red"]


def write_scenario(folder: Path, scenario_id: str, expected: str) -> None:
    (folder / f"{scenario_id}.yaml").write_text(
        RESCORE_SCENARIO.format(id=scenario_id, expected=expected))


def make_batch(tmp_path: Path, store: Store) -> tuple[Store, Path]:
    """A batch of 8 runs (two scenarios x four outputs), scored as it ran."""
    folder = tmp_path / "user-scenarios"
    folder.mkdir()
    write_scenario(folder, "colour-red", "red")
    write_scenario(folder, "colour-blue", "blue")
    catalog = load_catalog([folder, SCENARIOS])
    spec = BatchSpec(batch_id="b-colours", models=["embedded:smollm2"],
                     scenarios=["colour-red", "colour-blue"], iterations=len(OUTPUTS))
    store.save_batch(spec, 8)
    for scenario_id in spec.scenarios:
        scenario = catalog.scenario(scenario_id)
        for i, output in enumerate(OUTPUTS, 1):
            scored = asyncio.run(score_output(ScoringContext(scenario=scenario, output=output)))
            store.save_run(RunRecord(
                run_id=new_run_id(), batch_id=spec.batch_id, model="embedded:smollm2",
                prompt_version="v1", scenario_id=scenario_id, tier="L2", iteration=i,
                output=output, scenario_hash=scenario.definition_hash(),
                evaluations=scored.evaluations, auto_score=scored.auto_score,
                success=scored.success), scenario)
    store.set_batch_status(spec.batch_id, "finished")
    return store, folder
