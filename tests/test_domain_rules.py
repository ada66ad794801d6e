"""The domain owns its rules: one way to build a judgment, vocabularies from their types."""

from __future__ import annotations

from typing import get_args

from tui_bench.analysis.pairwise import OUTCOMES
from tui_bench.domain import (
    BACKENDS,
    MODES,
    PAIR_VERDICTS,
    BackendName,
    Criterion,
    Judgment,
    Mode,
    PairVerdict,
    Rubric,
)


def rubric() -> Rubric:
    return Rubric(id="r", name="R", version=3, criteria=[
        Criterion(id="a", name="A", max=3, anchors={0: "no", 3: "yes"}),
        Criterion(id="b", name="B", max=3, anchors={0: "no", 3: "yes"}),
        Criterion(id="c", name="C", max=3, anchors={0: "no", 3: "yes"}),
    ])


def test_a_judgment_from_scores_agrees_on_total_percent_and_band() -> None:
    made = Judgment.from_scores(rubric(), {"a": 3, "b": 2, "c": 3}, run_id="run_1", judge="ann",
                                notes="tidy")
    assert (made.total, made.percent, made.band) == (8, 88.89, "very good")
    assert (made.rubric_id, made.rubric_version, made.judge_kind) == ("r", 3, "person")
    assert made.notes == "tidy" and made.blind
    model = Judgment.from_scores(rubric(), {"a": 3, "b": 3, "c": 3}, judge="m",
                                 judge_kind="model", reason="all good")
    assert (model.percent, model.band, model.reason) == (100.0, "production-ready", "all good")


def test_vocabularies_are_their_literal_types() -> None:
    assert MODES == get_args(Mode) and "iterative" in MODES
    assert BACKENDS == get_args(BackendName) and "embedded" in BACKENDS
    assert PAIR_VERDICTS == get_args(PairVerdict) == OUTCOMES
