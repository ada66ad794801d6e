"""tui-bench calibrate: bad input, the registry's export, --effort and --verify, and (slow) a
calibration of the embedded model from the CLI whose result shows in the TUI."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from textual.widgets import DataTable, Static, TabbedContent

from tests.conftest import ROOT, Host, cli_env, rows, settle, text_of
from tests.test_refine import RIGHT, STOP, WRONG, Scripted, new, one_scenario_catalog
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.cli import main
from tui_bench.commands.calibrate import apply_effort, verify
from tui_bench.domain import BatchSpec, EffortSetting, GenerationOptions
from tui_bench.engine.runner import Runner
from tui_bench.headless import refine_lines
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.batches import run_detail
from tui_bench.tui.screens.models import ModelsScreen
from tui_bench.tui.screens.reports import ReportsScreen


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return one_scenario_catalog(tmp_path)


def setting(model: str, level: str, threshold: float, target: float) -> EffortSetting:
    return EffortSetting(model=model, level=level, threshold=threshold,  # type: ignore[arg-type]
                         target_ratio=target, measured_ratio=target, one_answer_rate=0.3,
                         quality=0.6, trials=5, calibration_id="cal_x")


@pytest.mark.parametrize("flags, words", [
    (["--thresholds", "5"], "--thresholds: give at least two"),
    (["--thresholds", "3,11"], "outside 1..10"),
    (["--thresholds", "3,x"], "'x' is not a number"),
    (["--targets", "huge=0.3"], "--targets: 'huge=0.3'"),
    (["--targets", "low=2"], "between 0 and 1"),
    (["--trials", "0"], "--trials: 0"),
    (["--max-new-answers", "0"], "--max-new-answers"),
    (["--scenarios", "agent-*"], "agent scenarios do not refine"),
    (["--resume", "cal_nope"], "no calibration 'cal_nope'"),
])
def test_bad_calibration_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           flags: list[str], words: str) -> None:
    db = tmp_path / "c.db"
    code = main(["calibrate", "--db", str(db), "--scenarios", "coding-fizzbuzz", *flags])
    err = capsys.readouterr().err
    assert code in (1, 2) and words in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not Store(db).list_batches()  # nothing stored


def test_effort_without_a_calibration_names_the_model(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.db"
    code = main(["--run", "--db", str(db), "--effort", "low", "--scenarios", "coding-fizzbuzz"])
    err = capsys.readouterr().err
    assert code == 2 and "--effort low: no calibrated low threshold for embedded:smollm2" in err
    assert not Store(db).list_batches()


def test_export_registry_yaml_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.db"
    store = Store(db)
    saved = [setting("embedded:smollm2", "low", 3.4, 0.25),
             setting("embedded:smollm2", "high", 8.9, 0.85)]
    store.save_effort_settings(saved)
    for name, read in (("effort.yaml", yaml.safe_load), ("effort.json", json.loads)):
        path = tmp_path / name
        assert main(["calibrate", "--db", str(db), "--export", str(path)]) == 0
        document = read(path.read_text())
        assert document["format"] == "tui-bench.effort/1"
        assert [EffortSetting(**s) for s in document["settings"]] == [saved[0], saved[1]]
    assert main(["calibrate", "--db", str(db), "--export", str(tmp_path / "e.txt")]) == 2
    assert "give a .yaml, .yml or .json file" in capsys.readouterr().err


async def test_effort_level_uses_the_calibrated_threshold_and_verify_marks_it(
        store: Store, catalog: Catalog) -> None:
    store.save_effort_settings([setting("ollama:m", "low", 4.5, 0.25),
                                setting("ollama:m", "high", 8.0, 0.85)])
    spec = apply_effort(store, BatchSpec(
        batch_id="b_low", models=["ollama:m"], scenarios=["coding-double"],
        max_new_answers=4, options=GenerationOptions(max_tokens=64)), "low")
    assert spec.mode == "refine" and spec.refine_thresholds == {"ollama:m": 4.5}
    backend = Scripted([WRONG, new(RIGHT), STOP])  # one new answer of four: ratio 0.25
    runner = Runner(store, catalog, pool=BackendPool(Settings(), {"ollama": backend}))
    assert (await runner.run(spec)).done == 1
    assert "below 4.5," in backend.requests[1]["messages"][-1]["content"]
    line, = refine_lines(store, "b_low")  # the headless run's summary line
    assert line.startswith("refine ollama:m low: effort ratio 0.25, held its target 0.25")
    out = io.StringIO()
    verify(store, "b_low", Console(file=out, width=200), as_json=False)
    assert "held (0.25 vs 0.25)" in out.getvalue() and "verified: ollama:m low" in out.getvalue()
    low, high = store.effort_settings("ollama:m")
    assert (low.status, low.verified_batch, high.status) == ("verified", "b_low", "candidate")
    with pytest.raises(Exception, match="cannot run in --mode iterative"):
        apply_effort(store, spec.model_copy(update={"mode": "iterative"}), "low")


@pytest.mark.slow
async def test_calibrate_the_embedded_model_from_the_cli_and_see_it_in_the_tui(
        tmp_path: Path) -> None:
    db = tmp_path / "cal.db"
    args = [sys.executable, "-m", "tui_bench", "calibrate", "--db", str(db),
            "--scenarios", "coding-celsius-to-fahrenheit", "--thresholds", "3,9",
            "--trials", "2", "--max-tokens", "64", "--max-new-answers", "2",
            "--calibration-id", "cal_e2e", "--quiet"]
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True,
                                   timeout=900, cwd=ROOT, env=cli_env(PYTHONPATH=str(ROOT)),
                                   check=False)
    assert done.returncode == 0, done.stderr
    assert "calibration cal_e2e" in done.stdout and "embedded:smollm2:" in done.stdout
    verdict = next(line for line in done.stdout.splitlines()
                   if line.startswith("embedded:smollm2:"))
    assert "calibrated" in verdict  # "calibrated: ..." or "not calibrated: <why>"

    store = Store(db)
    outcomes = store.refine_outcomes(["cal_e2e_t3", "cal_e2e_t9"])
    assert len(outcomes) == 4 and {o["threshold"] for o in outcomes} == {3.0, 9.0}
    assert all(o["max_new_answers"] == 2 and o["rounds"] >= 2 for o in outcomes)
    record = store.calibration("cal_e2e")
    assert record and record["result"]["models"][0]["model"] == "embedded:smollm2"
    # Resuming a finished calibration runs nothing again and stores no duplicate.
    again = await asyncio.to_thread(
        subprocess.run, [*args[:4], "--db", str(db), "--resume", "cal_e2e", "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env=cli_env(PYTHONPATH=str(ROOT)), check=False)
    assert again.returncode == 0, again.stderr
    assert len(store.refine_outcomes()) == 4

    # The TUI: the calibration tab names the model and its verdict; the reports' effort tab
    # has a row per threshold; a run's detail lists every round with its self-score.
    app = Host(ModelsScreen(store=store))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#models-tabs", TabbedContent).active = "calibration"
        await pilot.pause()
        summary = text_of(screen.query_one("#calibration-summary", Static))
        assert "calibration cal_e2e" in summary and "T = 3, 9" in summary
        assert verdict.split(":", 2)[2].strip()[:40] in summary
    app = Host(ReportsScreen(store=store))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#refine-effort-table", DataTable)
        assert [(r[0], r[1], r[2]) for r in rows(table)] == [
            ("embedded:smollm2", "T=3", "2"), ("embedded:smollm2", "T=9", "2")]
    run = store.get_run(outcomes[0]["run_id"])
    assert run is not None
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(run_detail(run, [], store.attempts(run.run_id),
                             refine=store.refine_telemetry(run.run_id)))
    shown = console.export_text()
    assert "Rounds" in shown and "threshold 3" in shown and "self-score" in shown


async def test_e_on_home_opens_models_and_effort(store: Store) -> None:
    from tests.test_tui_app import _app

    store.save_effort_settings([setting("embedded:smollm2", "medium", 6.2, 0.5)])
    app, _ = _app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ModelsScreen)
        table = app.screen.query_one("#effort-settings", DataTable)
        assert [r[:4] for r in rows(table)] == [["embedded:smollm2", "medium", "6.20", "0.50"]]
        summary = text_of(app.screen.query_one("#calibration-summary", Static))
        assert "No calibration yet" in summary
