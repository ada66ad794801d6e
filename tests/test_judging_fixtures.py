"""Shared builders for the judging tests: a code-v1 rubric, a small catalog, stored runs, and a
host app for the screens. (No tests here; pytest collects nothing from this file.)"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App
from textual.screen import Screen

from tui_bench.catalog import Catalog
from tui_bench.domain import (
    BatchSpec,
    Criterion,
    Evaluation,
    Judgment,
    Rubric,
    RunRecord,
    Scenario,
    Telemetry,
    band_for,
)
from tui_bench.store import Store

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


def scenario(sid: str = "fizz", rubric: str = "code-v1", prompt: str | None = None) -> Scenario:
    return Scenario(id=sid, name=sid.title(), suite="coding", category="functions",
                    prompt=prompt or f"Write a Python function for {sid}.", rubric=rubric)


def catalog(*scenarios: Scenario) -> Catalog:
    items = scenarios or (scenario("fizz"), scenario("sort"), scenario("essay", "writing-v1"))
    return Catalog(scenarios={s.id: s for s in items},
                   rubrics={CODE_V1.id: CODE_V1, WRITING.id: WRITING})


OUTPUT = "Here is the code:\n\n```python\ndef fizz(n):\n    return 'fizz' if n % 3 == 0 else n\n```\n"


def add_runs(store: Store, cat: Catalog, rows: list[dict[str, Any]],
             batch_id: str = "batch_t") -> list[RunRecord]:
    """Store runs (model, scenario_id, run_id...) as if a batch had produced them."""
    models = sorted({r.get("model", "ollama:alpha") for r in rows})
    scenarios = sorted({r.get("scenario_id", "fizz") for r in rows})
    if store.get_batch(batch_id) is None:
        store.save_batch(BatchSpec(batch_id=batch_id, models=models, scenarios=scenarios),
                         len(rows))
    out = []
    for i, row in enumerate(rows):
        scen = cat.scenarios.get(row.get("scenario_id", "fizz")) or scenario(
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
    """A bare app that opens one screen on mount, so screen tests need no app shell."""

    def __init__(self, make_screen: Any) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.target: Screen[Any] | None = None

    def on_mount(self) -> None:
        self.target = self.make_screen()
        self.push_screen(self.target)


def screen_text(app: App[Any]) -> str:
    """The characters on the terminal right now, as the person would read them."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()
