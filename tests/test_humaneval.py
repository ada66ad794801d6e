"""HumanEval from the installed package: 164 scenarios whose canonical solutions all pass."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_bench.scoring.evaluators import tests as evaluate_tests
from tui_bench.scoring.extract import extract_code
from tui_bench.scoring.humaneval import humaneval_path, load_humaneval, pass_at_k
from tui_bench.scoring.registry import EvalInput

SCENARIOS = load_humaneval()


def run(scenario, answer: str):
    extraction = extract_code(answer, scenario.entry_point)
    spec = scenario.evaluators[0]
    return evaluate_tests(EvalInput(scenario=scenario, output=answer, code=extraction.code,
                                     options=dict(spec.options), extraction=extraction))


def test_scenarios_are_complete() -> None:
    assert humaneval_path().name == "HumanEval.jsonl.gz"
    assert [s.id for s in SCENARIOS] == [f"humaneval-{n}" for n in range(164)]
    first = SCENARIOS[0]
    assert first.suite == "humaneval" and first.category == "algorithms"
    assert first.entry_point == "has_close_elements"
    assert "def check(candidate)" in (first.tests or "")
    assert "```python" in first.prompt and "def has_close_elements" in first.prompt
    assert "whole function" in first.prompt
    assert [e.name for e in first.evaluators] == ["tests"]
    assert first.evaluators[0].weight == 1.0 and first.rubric == "code-v1"
    assert first.reference_solution and first.reference_solution.startswith("from typing")
    assert len({s.definition_hash() for s in SCENARIOS}) == 164


def test_a_wrong_answer_fails() -> None:
    scenario = SCENARIOS[0]
    wrong = ("```python\ndef has_close_elements(numbers, threshold):\n    return False\n```")
    result = run(scenario, wrong)
    assert result.score == 0.0
    assert result.detail["total"] == 1 and result.detail["passed"] == 0
    assert result.detail["failures"][0]["test"] == "check"


def test_an_answer_without_the_prompts_imports_still_runs() -> None:
    """Models often drop ``from typing import List``; the prompt's imports are put back."""
    scenario = SCENARIOS[0]
    answer = ("```python\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
              "    return any(abs(a - b) < threshold\n"
              "               for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```")
    result = run(scenario, answer)
    assert result.score == 1.0, result.detail


@pytest.mark.slow
def test_every_canonical_solution_passes() -> None:
    def one(scenario):
        return scenario.id, run(scenario, f"```python\n{scenario.reference_solution}\n```")

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, SCENARIOS))
    failed = [(sid, r.detail) for sid, r in results if r.score != 1.0]
    assert failed == []
    assert len(results) == 164


def test_pass_at_k_known_values() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)
    assert pass_at_k(5, 1, 5) == 1.0  # fewer failures than draws: a pass is certain
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0


@pytest.mark.parametrize("n,c,k", [(0, 0, 1), (5, 6, 1), (5, 2, 0), (5, 2, 6), (5, -1, 1)])
def test_pass_at_k_rejects_impossible_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


@given(st.integers(1, 60).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_the_combinatorial_formula(args: tuple[int, int, int]) -> None:
    n, c, k = args
    exact = 1.0 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-9)
