"""The live state and the remembered preferences: plain objects, no app needed."""

from __future__ import annotations

import json
from pathlib import Path

from tui_bench.domain import Cell, RunRecord, Telemetry
from tui_bench.engine.events import (
    BatchFinished,
    BatchStarted,
    CellFinished,
    CellRetrying,
    CellStarted,
    Token,
)
from tui_bench.tui.live_state import LiveState
from tui_bench.tui.prefs import Preferences, load_preferences, save_preferences


def _cell(scenario: str) -> Cell:
    return Cell(batch_id="b", model="embedded:smollm2", prompt_version="v1",
                scenario_id=scenario, tier="L2")


def test_live_state_buffers_tokens_and_counts() -> None:
    state = LiveState()
    state.on_event(BatchStarted("b", total=3, skipped=1, models=["embedded:smollm2"]))
    state.on_event(CellStarted(_cell("a"), "run_a"))
    for piece in ["def ", "f():", " pass"]:
        state.on_event(Token("run_a", piece))
    state.on_event(Token("run_unknown", "ignored"))
    assert state.running["run_a"].text == "def f(): pass"
    assert state.order == ["run_a"] and state.running["run_a"].chunks == 3
    state.on_event(CellRetrying(_cell("a"), "run_a", 1, "reset", 0.1))
    assert state.retries == 1 and state.running["run_a"].text == ""
    record = RunRecord(run_id="run_a", batch_id="b", model="embedded:smollm2",
                       prompt_version="v1", scenario_id="a", tier="L2", status="ok",
                       telemetry=Telemetry(prompt_tokens=10, completion_tokens=3, cost=0.5))
    state.on_event(CellFinished(record))
    assert state.ok == 1 and not state.running and state.finished_order == ["run_a"]
    assert (state.tokens_in, state.tokens_out, state.cost) == (10, 3, 0.5)
    assert state.to_run == 2 and state.remaining == 1 and state.eta_s is not None
    state.sample_rates()
    assert list(state.rates) == ["embedded:smollm2"]
    state.on_event(BatchFinished("b", 1, 0, 0, 1.0, "finished"))
    assert not state.active and state.eta_s is None


def test_preferences_round_trip_and_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "settings.json"
    prefs, problem = load_preferences(path)
    assert problem is None and prefs.theme is None
    prefs.theme = "nord"
    prefs.models = ["embedded:smollm2"]
    save_preferences(path, prefs)
    assert json.loads(path.read_text())["theme"] == "nord"
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left
    again, problem = load_preferences(path)
    assert problem is None and again == prefs
    for broken in ["{not json", "[1, 2]", '{"options": {"iterations": "many"}}']:
        path.write_text(broken)
        prefs, problem = load_preferences(path)
        assert prefs == Preferences() and problem and "broken" in problem
    path.write_text('{"theme": "nord", "from_a_newer_version": 1}')
    assert load_preferences(path)[0].theme == "nord"
