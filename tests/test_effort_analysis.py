"""Effort figures, validation, the scenario check, the threshold search and the registry."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tui_bench.analysis.effort import (
    EffortRow,
    calibrate,
    effort_row,
    mean_interval,
    parse_targets,
    rows_by_level,
    rows_by_threshold,
    scenario_checks,
    search_threshold,
    spearman,
    validate,
)
from tui_bench.domain import EffortSetting
from tui_bench.store import Store


def outcome(model: str = "m", threshold: float = 5, new: int = 0, cap: int = 4,
            first: float = 0.5, final: float | None = None, scenario: str = "s1",
            malformed: bool = False, effort: str | None = None) -> dict[str, Any]:
    return {"model": model, "threshold": threshold, "new_answer_count": new,
            "max_new_answers": cap, "effort_ratio": new / cap, "collapsed": new == 0,
            "first_score": first, "final_score": first if final is None else final,
            "rounds": 1 + new + (0 if new == cap else 1), "malformed": malformed,
            "scenario_id": scenario, "effort": effort, "batch_id": "b"}


def grid(model: str, effort_at: dict[int, list[int]], **kw: Any) -> list[dict[str, Any]]:
    return [outcome(model, t, n, scenario=f"s{i % 2}", **kw)
            for t, news in effort_at.items() for i, n in enumerate(news)]


FOLLOWS = {3: [0, 0, 1, 0, 1], 5: [1, 1, 2, 1, 2], 7: [2, 3, 2, 3, 2], 9: [4, 3, 4, 4, 3]}


def test_effort_row_figures() -> None:
    rows = [outcome(new=0, first=0.4), outcome(new=2, first=0.2, final=0.8),
            outcome(new=4, first=0.0, final=0.6), outcome(new=1, malformed=True)]
    row = effort_row("m", "T=5", rows, target=0.5)
    assert (row.runs, row.malformed, row.threshold) == (4, 1, 5)
    assert row.mean_ratio == pytest.approx(0.5)  # (0 + 0.5 + 1) / 3, malformed left out
    assert row.ratio_low is not None and row.ratio_low <= 0.5 <= (row.ratio_high or 0)
    assert row.one_answer_rate == pytest.approx(1 / 3)
    # rounds: 2 (answer + stop), 4 (answer, 2 new, stop), 5 (answer, 4 new, cap: no stop)
    assert row.mean_rounds == pytest.approx((2 + 4 + 5) / 3)
    assert row.quality == pytest.approx((0.4 + 0.8 + 0.6) / 3)
    # quality gained: (0 + 0.6 + 0.6) over (1 + 3 + 4) rounds after the first
    assert row.gain_per_round == pytest.approx(1.2 / 8)
    assert row.held is True
    assert effort_row("m", "x", rows[:1], target=0.9).held is False


def test_mean_interval_is_seeded_and_sane() -> None:
    assert mean_interval([]) == (None, None, None)
    assert mean_interval([0.5]) == (0.5, None, None)
    values = [0.1, 0.4, 0.5, 0.9, 0.6]
    first, second = mean_interval(values), mean_interval(values)
    assert first == second and first[1] < first[0] < first[2]


def test_validation_passes_where_effort_follows_the_threshold() -> None:
    check = validate("m", grid("m", FOLLOWS))
    assert check.passed, check.reason
    assert check.rho is not None and check.rho > 0.8
    assert check.rho_low is not None and check.rho_low > 0
    assert check.one_answer_rate == pytest.approx(3 / 20)


@pytest.mark.parametrize("data, words", [
    ({3: [4, 3, 4, 4, 3], 5: [2, 3, 2, 3, 2], 7: [1, 1, 2, 1, 2], 9: [0, 0, 1, 0, 1]},
     "does not rise"),
    ({3: [0] * 5, 9: [0] * 5}, "one-answer collapse"),
    ({3: [2] * 5, 9: [2] * 5}, "in every run: it does not follow"),
    ({3: [0, 4, 1, 3, 2], 9: [2, 1, 3, 1, 4]}, "does not clearly rise"),
    ({5: [0, 1, 2]}, "at least two thresholds"),
])
def test_validation_fails_plainly_where_effort_does_not_follow(
        data: dict[int, list[int]], words: str) -> None:
    check = validate("m", grid("m", data))
    assert not check.passed and words in check.reason


def test_noise_without_signal_is_not_calibrated() -> None:
    rng = random.Random(3)
    noise = {t: [rng.randint(0, 4) for _ in range(8)] for t in (3, 5, 7, 9)}
    assert not validate("m", grid("m", noise)).passed


def test_spearman_matches_textbook() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 1], [1, 2]) is None


def _rows(points: list[tuple[float, float]]) -> list[EffortRow]:
    return [EffortRow("m", f"T={t}", t, 5, 0, r, None, None, 1 - r, 2.0, t / 10, 0.1, 0.0)
            for t, r in points]


def test_threshold_search_interpolates_between_measured_thresholds() -> None:
    rows = _rows([(3, 0.1), (5, 0.3), (7, 0.6), (9, 0.9)])
    low = search_threshold("low", 0.25, rows)
    assert low.threshold == pytest.approx(3 + 2 * (0.15 / 0.2))
    assert low.ratio == pytest.approx(0.25)
    assert low.quality == pytest.approx(0.3 + 0.75 * 0.2)
    assert "between T=3 and T=5" in low.note
    assert search_threshold("m", 0.6, rows).threshold == 7
    below = search_threshold("low", 0.05, rows)
    assert below.threshold == 3 and "lowest threshold already" in below.note
    high = search_threshold("high", 0.95, rows)
    assert high.threshold == 9 and "out of reach" in high.note
    # A dip in the measurements is read as flat (effort never falls as T rises).
    dip = search_threshold("x", 0.5, _rows([(3, 0.2), (5, 0.6), (7, 0.4), (9, 0.8)]))
    assert 3 < dip.threshold < 5


def test_scenario_check_names_trivial_scenarios_and_refuses_a_trivial_suite() -> None:
    easy = [outcome(threshold=t, new=n, first=1.0, scenario="easy")
            for t, n in ((3, 0), (3, 1), (9, 2), (9, 4))]
    hard = [outcome(threshold=t, new=n, first=0.2, scenario="hard")
            for t, n in ((3, 0), (3, 1), (9, 3), (9, 4))]
    checks = {c.scenario_id: c for c in scenario_checks(easy + hard)}
    assert checks["easy"].trivial and not checks["hard"].trivial
    result = calibrate(easy + hard, {"low": 0.25})
    assert result.refused and "of easy;" in result.refused
    assert all(not m.levels for m in result.models)


def test_calibrate_sets_levels_only_for_models_that_pass() -> None:
    data = grid("good", FOLLOWS) + grid("flat", {3: [0] * 5, 9: [0] * 5})
    result = calibrate(data, parse_targets("low=0.25,medium=0.5,high=0.85"))
    by_model = {m.model: m for m in result.models}
    assert result.refused is None
    assert [lv.level for lv in by_model["good"].levels] == ["low", "medium", "high"]
    thresholds = [lv.threshold for lv in by_model["good"].levels]
    assert thresholds == sorted(thresholds) and 3 <= thresholds[0] < thresholds[-1] <= 9
    assert by_model["flat"].levels == [] and not by_model["flat"].validation.passed
    json.dumps(result.to_dict())  # stored as JSON with the calibration


def test_rows_by_level_say_whether_the_level_held() -> None:
    runs = [outcome(new=1, effort="low"), outcome(new=1, effort="low"),
            outcome(new=4, effort="high"), outcome(new=2, effort="high")]
    rows = rows_by_level(runs, {("m", "low"): 0.25, ("m", "high"): 0.4})
    assert [(r.group, r.held) for r in rows] == [("low", True), ("high", False)]
    assert [r.group for r in rows_by_threshold(runs)] == ["T=5"]


@pytest.mark.parametrize("text", ["low", "huge=0.3", "low=x", "low=1.5", ""])
def test_bad_targets_are_named(text: str) -> None:
    with pytest.raises(ValueError):
        parse_targets(text)


def test_effort_registry_round_trip(store: Store) -> None:
    settings = [EffortSetting(model="embedded:smollm2", level=level, threshold=t,
                              target_ratio=r, measured_ratio=r, one_answer_rate=0.2,
                              quality=0.5, trials=5, calibration_id="cal_1")
                for level, t, r in (("high", 8.5, 0.85), ("low", 3.2, 0.25))]
    store.save_effort_settings(settings)
    got = store.effort_settings()
    assert [s.level for s in got] == ["low", "high"]  # levels in order, not insertion
    assert got[0] == settings[1] and got[1] == settings[0]
    store.verify_effort_setting("embedded:smollm2", "low", "batch_x")
    low = store.effort_setting("embedded:smollm2", "low")
    assert low and low.status == "verified" and low.verified_batch == "batch_x"
    # A new calibration replaces the model's candidates.
    store.save_effort_settings([settings[1].model_copy(update={"threshold": 4.0})])
    again = store.effort_setting("embedded:smollm2", "low")
    assert again and again.threshold == 4.0 and again.status == "candidate"
    assert store.effort_setting("embedded:smollm2", "medium") is None


def test_effort_modules_load_no_ui_and_no_scipy_until_needed() -> None:
    import subprocess
    import sys

    code = ("import tui_bench.analysis.effort, tui_bench.engine.modes.refine, "
            "tui_bench.engine.refine_action, tui_bench.store.effort, tui_bench.commands.calibrate\n"
            "import sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert "textual" not in out and "scipy" not in out and "numpy" not in out


def test_large_samples_use_normal_theory_and_agree_with_the_bootstrap() -> None:
    from tui_bench.analysis.effort import LARGE_N, spearman_interval

    rng = random.Random(5)
    xs = [float(rng.choice((3, 5, 7, 9))) for _ in range(LARGE_N + 100)]
    ys = [min(1.0, max(0.0, x / 10 + rng.gauss(0, 0.3))) for x in xs]
    big = mean_interval(ys)
    boot = mean_interval(ys[:LARGE_N])  # bootstrapped
    assert big[1] is not None and boot[1] is not None and big[1] < big[0] < (big[2] or 0)
    assert abs((big[2] - big[1]) - (boot[2] - boot[1]) * (LARGE_N / len(ys)) ** 0.5) < 0.02
    low, high = spearman_interval(xs, ys)
    b_low, b_high = spearman_interval(xs[:LARGE_N], ys[:LARGE_N])
    assert low is not None and b_low is not None and 0 < low < high and 0 < b_low < b_high


def test_a_model_without_finished_runs_is_named_not_left_out() -> None:
    result = calibrate(grid("good", FOLLOWS), {"low": 0.25}, models=["good", "broken"])
    broken = next(m for m in result.models if m.model == "broken")
    assert not broken.validation.passed and "no finished refine run" in broken.validation.reason
    assert broken.levels == []


def _store_outcomes(store: Store, rows: list[dict[str, Any]]) -> None:
    """Refine runs as the runner stores them, from outcome-shaped rows."""
    from tui_bench.domain import BatchSpec, RefineTelemetry, RunRecord

    store.save_batch(BatchSpec(batch_id="b", models=["m"], scenarios=["s"], mode="refine"), 1)
    for i, o in enumerate(rows):
        refine = RefineTelemetry(
            threshold=o["threshold"], max_new_answers=o["max_new_answers"],
            new_answer_count=o["new_answer_count"], first_score=o["first_score"],
            final_score=o["final_score"], malformed=o["malformed"], effort=o["effort"])
        store.save_run(RunRecord(
            run_id=f"r{i}", batch_id="b", model=o["model"], prompt_version="v1",
            scenario_id=o["scenario_id"], tier="L2", iteration=i + 1, mode="refine",
            attempts=o["rounds"], refine=refine))


def test_the_report_from_sums_matches_the_figures_from_runs(store: Store) -> None:
    from dataclasses import asdict

    from tui_bench.analysis.effort import LARGE_N, refine_effort

    rng = random.Random(11)
    rows = [outcome("m", 3, rng.randint(0, 2), first=rng.random(), final=rng.random(),
                    malformed=i % 13 == 0) for i in range(LARGE_N + 40)]  # a large group
    rows += grid("m", {9: [2, 3, 4, 4, 3]}) + [outcome("m", 5, 1, effort="low"),
                                               outcome("m", 5, 2, effort="low")]
    _store_outcomes(store, rows)
    store.save_effort_settings([EffortSetting(
        model="m", level="low", threshold=5, target_ratio=0.25, trials=2,
        calibration_id="c")])
    outcomes = store.refine_outcomes()
    report = refine_effort(store)
    expected = rows_by_threshold([o for o in outcomes if not o["effort"]])
    levels = rows_by_level(outcomes, {("m", "low"): 0.25})
    for got, want in zip([*report.by_threshold, *report.by_level], [*expected, *levels],
                         strict=True):
        for name, value in asdict(want).items():
            assert getattr(got, name) == (pytest.approx(value) if isinstance(value, float)
                                          else value), name
    assert [r.group for r in report.by_threshold] == ["T=3", "T=9"]
    assert report.by_threshold[0].malformed == sum(1 for i in range(LARGE_N + 40) if i % 13 == 0)
    assert report.by_level[0].held is True
