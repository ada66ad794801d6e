"""The shipped scenarios and rubrics: valid, complete, and their tests really test something.

Loads the YAML directly (not through the catalog) so a content problem is reported here, by
file, whatever the loader does.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tui_bench.domain import TIERS, Rubric, Scenario
from tui_bench.scoring import ScoringContext, evaluator_names, score
from tui_bench.scoring.evaluators import tests as evaluate_tests
from tui_bench.scoring.extract import extract_code
from tui_bench.scoring.registry import EvalInput

ROOT = Path(__file__).resolve().parent.parent / "scenarios"
CODING = sorted((ROOT / "coding").glob("*.yaml"))
WRITING = sorted((ROOT / "writing").glob("*.yaml"))
RUBRICS = sorted((ROOT / "rubrics").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def scenario(path: Path) -> Scenario:
    return Scenario.model_validate(load(path))


RUBRIC_BY_ID = {r.id: r for r in (Rubric.model_validate(load(p)) for p in RUBRICS)}


def run_tests(scen: Scenario, answer: str) -> dict[str, Any]:
    extraction = extract_code(answer, scen.entry_point)
    result = evaluate_tests(EvalInput(scenario=scen, output=answer, code=extraction.code,
                                       extraction=extraction))
    return {"score": result.score, **result.detail}


def test_counts() -> None:
    assert len(CODING) >= 6
    assert len(WRITING) >= 3
    assert {p.stem for p in RUBRICS} >= {"code-v1", "tip-v1"}


@pytest.mark.parametrize("path", CODING + WRITING, ids=lambda p: p.stem)
def test_scenario_is_valid_and_named_after_its_file(path: Path) -> None:
    scen = scenario(path)
    assert scen.id == path.stem
    assert scen.rubric in RUBRIC_BY_ID, f"{path.name}: rubric {scen.rubric!r} does not exist"
    assert set(scen.tiers) == set(TIERS), f"{path.name}: needs tiers L0..L3"
    assert scen.tiers["L2"] == scen.prompt
    assert len(scen.tiers["L0"]) < len(scen.tiers["L1"]) < len(scen.tiers["L3"])
    known = set(evaluator_names())
    for spec in scen.evaluators:
        assert spec.name in known, f"{path.name}: unknown evaluator {spec.name!r}"
    assert sum(e.weight for e in scen.evaluators) == pytest.approx(1.0)
    assert scen.expected_elements


@pytest.mark.parametrize("path", CODING, ids=lambda p: p.stem)
def test_coding_scenario_shape(path: Path) -> None:
    scen = scenario(path)
    assert scen.suite == "coding" and scen.language == "python" and scen.rubric == "code-v1"
    assert scen.category in {"algorithms", "backend", "data", "text"}
    assert scen.entry_point and scen.tests and scen.reference_solution
    assert f"def {scen.entry_point}" in scen.expected_elements
    names = [line.split("(")[0][4:] for line in scen.tests.splitlines()
             if line.startswith("def test_")]
    assert 3 <= len(names) <= 6, f"{path.name}: {len(names)} tests"
    for tier, text in scen.tiers.items():
        assert scen.entry_point in text, f"{path.name}: tier {tier} does not name the function"
    weights = {e.name: e.weight for e in scen.evaluators}
    assert weights["tests"] >= 0.5


@pytest.mark.parametrize("path", WRITING, ids=lambda p: p.stem)
def test_writing_scenario_shape(path: Path) -> None:
    scen = scenario(path)
    assert scen.suite == "writing" and scen.category == "writing"
    assert scen.language == "en" and scen.rubric == "tip-v1"
    assert scen.tests is None and scen.entry_point is None
    names = {e.name for e in scen.evaluators}
    assert {"expected_elements", "format"} <= names
    fmt = next(e for e in scen.evaluators if e.name == "format")
    assert "max_words" in fmt.options


@pytest.mark.parametrize("path", RUBRICS, ids=lambda p: p.stem)
def test_rubric_anchors_pin_several_points(path: Path) -> None:
    rubric = Rubric.model_validate(load(path))
    assert rubric.id == path.stem
    for crit in rubric.criteria:
        assert len(crit.anchors) >= 3, f"{crit.id}: too few anchors"
        assert crit.min in crit.anchors and crit.max in crit.anchors
        for text in crit.anchors.values():
            assert len(text.split()) >= 4, f"{crit.id}: anchor {text!r} says too little"


def test_default_rubrics_have_the_documented_ranges() -> None:
    code = RUBRIC_BY_ID["code-v1"]
    assert {c.id: (c.min, c.max) for c in code.criteria} == {
        "correctness": (0, 20), "structure": (0, 20), "performance": (0, 15),
        "best_practices": (0, 20), "documentation": (0, 15), "testing": (0, 10)}
    assert code.max_total == 100
    tip = RUBRIC_BY_ID["tip-v1"]
    assert {c.id: (c.min, c.max) for c in tip.criteria} == {
        "relevance": (1, 5), "actionability": (1, 5), "tone": (1, 5)}


WRONG_ANSWERS = [
    "def {name}(*args, **kwargs):\n    return None\n",
    "def {name}(*args, **kwargs):\n    raise NotImplementedError\n",
]


def _check_reference(path: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    scen = scenario(path)
    good = run_tests(scen, f"```python\n{scen.reference_solution}```")
    wrong = [run_tests(scen, w.format(name=scen.entry_point)) for w in WRONG_ANSWERS]
    return path.stem, good, wrong


def test_reference_solutions_pass_and_wrong_answers_fail() -> None:
    """Every coding scenario's own tests accept its reference and reject a stub."""
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(_check_reference, CODING))
    for name, good, wrong in outcomes:
        assert good["score"] == 1.0 and good["reason"] is None, (name, good)
        for result in wrong:
            assert result["score"] < 0.5, (name, result)


async def test_reference_solution_scores_as_a_success_end_to_end() -> None:
    scen = scenario(ROOT / "coding" / "coding-fizzbuzz.yaml")
    result = await score(ScoringContext(scenario=scen, output=f"```python\n"
                                        f"{scen.reference_solution}```",
                                        rubric=RUBRIC_BY_ID["code-v1"]))
    assert result.success is True and result.feedback is None
    assert result.auto_score is not None and result.auto_score >= 0.9


async def test_a_good_tip_scores_well_and_an_essay_does_not() -> None:
    scen = scenario(ROOT / "writing" / "writing-tip-oncall-engineer.yaml")
    tip = ("Triage alerts first. Before you open your sprint ticket, spend ten minutes on "
           "last night's on-call alerts: silence the noisy ones and add a runbook line for each "
           "page. You will know it worked when tonight's pager is quieter.")
    good, essay = await asyncio.gather(
        score(ScoringContext(scenario=scen, output=tip)),
        score(ScoringContext(scenario=scen, output=" ".join(["productivity"] * 600))))
    assert good.auto_score == pytest.approx(1.0) and good.success is True
    assert essay.auto_score is not None and essay.auto_score < 0.5 and essay.success is False
