"""Each built-in evaluator, called directly, on outputs whose right score is known."""

from __future__ import annotations

from typing import Any

import pytest

from tui_bench.domain import OracleAnswer, Scenario
from tui_bench.scoring.evaluators import (
    complete_from_prompt,
    documentation,
    error_handling,
    expected_elements,
    format_,
    oracle,
    structure,
)
from tui_bench.scoring.evaluators import tests as run_tests
from tui_bench.scoring.extract import extract_code
from tui_bench.scoring.registry import EvalInput

DOCUMENTED = '''
import re


def slugify(text: str) -> str:
    """A URL slug for text."""
    # runs of anything else become one hyphen
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
'''
BARE = "def slugify(text):\n    return text.lower().replace(' ', '-')\n"


def scenario(**fields: Any) -> Scenario:
    base: dict[str, Any] = {"id": "t", "name": "t", "suite": "coding", "category": "text",
                            "prompt": "Write slugify(text).", "entry_point": "slugify"}
    base.update(fields)
    return Scenario(**base)


def inp(output: str, scen: Scenario | None = None, **options: Any) -> EvalInput:
    scen = scen or scenario()
    extraction = extract_code(output, scen.entry_point)
    return EvalInput(scenario=scen, output=output, code=extraction.code, options=options,
                     extraction=extraction)


# ---- structure


def test_structure_full_marks_for_a_clean_module_with_the_entry_point() -> None:
    result = structure(inp(DOCUMENTED))
    assert result.score == pytest.approx(1.0)
    assert result.detail["entry_point_defined"] is True
    assert result.detail["imports"] == ["re"]


def test_structure_missing_entry_point_and_loose_code_cost_points() -> None:
    result = structure(inp("def other(x):\n    return x\n\nprint(other(1))\n"))
    assert result.score == pytest.approx(0.55)
    assert result.detail["entry_point_defined"] is False
    assert result.detail["top_level_statements"] == 1


def test_structure_zero_when_it_does_not_parse() -> None:
    result = structure(inp("def slugify(text)\n    return text\n"))
    assert result.score == 0.0 and result.detail["parses"] is False


# ---- expected elements


def test_expected_elements_share_and_lists() -> None:
    scen = scenario(expected_elements=["def slugify", "RE.SUB", "strip", "lambda"])
    result = expected_elements(inp(DOCUMENTED, scen))
    assert result.score == pytest.approx(0.75)
    assert result.detail["missing"] == ["lambda"]
    assert result.detail["found"] == ["def slugify", "RE.SUB", "strip"]


def test_expected_elements_skipped_when_none_are_listed() -> None:
    result = expected_elements(inp(DOCUMENTED, scenario(expected_elements=[])))
    assert result.status == "skipped"


# ---- documentation


def test_documentation_rewards_docstrings_hints_and_comments() -> None:
    assert documentation(inp(DOCUMENTED)).score == pytest.approx(1.0)
    bare = documentation(inp(BARE))
    assert bare.score == 0.0
    assert bare.detail["docstrings"] == "0/1"


def test_documentation_partial() -> None:
    code = 'def slugify(text):\n    """Slug."""\n    return text\n'
    assert documentation(inp(code)).score == pytest.approx(0.5)


# ---- error handling


def test_error_handling_validating_function_scores_high() -> None:
    code = ("def add(a, b):\n"
            "    if not isinstance(a, (int, float)):\n"
            "        raise TypeError('a')\n"
            "    return a + b\n")
    result = error_handling(inp(code, scenario(entry_point="add")))
    assert result.score == pytest.approx(1.0)
    assert result.detail["isinstance_checks"] == 1 and result.detail["raises"] == 1


def test_error_handling_swallowing_errors_scores_low() -> None:
    code = "def add(a, b):\n    try:\n        return a + b\n    except:\n        pass\n"
    result = error_handling(inp(code, scenario(entry_point="add")))
    assert result.score == 0.0
    assert result.detail["bare_except"] == 1


# ---- oracle


@pytest.mark.parametrize("output,answer,expected", [
    ("The answer is 42.", OracleAnswer(answer="42", match="numeric"), 1.0),
    ("So the total is 1,234.5 dollars", OracleAnswer(answer="1234.5", match="numeric"), 1.0),
    ("#### 3.14159", OracleAnswer(answer="3.1416", match="numeric", tolerance=1e-4), 1.0),
    ("Answer: 41", OracleAnswer(answer="42", match="numeric"), 0.0),
    ("Final answer: The Eiffel Tower!", OracleAnswer(answer="eiffel tower"), 1.0),
    ("I think it is Paris, France.", OracleAnswer(answer="Paris"), 1.0),
    ("Answer: paris", OracleAnswer(answer="Paris", match="exact"), 0.0),
    ("Answer: Paris", OracleAnswer(answer="Paris", match="exact"), 1.0),
    ("result=[7] done", OracleAnswer(answer="7", pattern=r"result=\[(\d+)\]"), 1.0),
    ("result=[8] done", OracleAnswer(answer="7", pattern=r"result=\[(\d+)\]"), 0.0),
])
def test_oracle_matching(output: str, answer: OracleAnswer, expected: float) -> None:
    result = oracle(inp(output, scenario(oracle=[answer])))
    assert result.score == expected, result.detail


def test_oracle_share_of_several_answers() -> None:
    scen = scenario(oracle=[OracleAnswer(answer="4", match="numeric", pattern=r"a=(\S+)"),
                            OracleAnswer(answer="9", match="numeric", pattern=r"b=(\S+)")])
    result = oracle(inp("a=4 b=10", scen))
    assert result.score == 0.5
    assert [c["ok"] for c in result.detail["checks"]] == [True, False]


def test_oracle_skipped_without_answers() -> None:
    assert oracle(inp("42")).status == "skipped"


# ---- tests (runs the sandbox)

SLUG_TESTS = ("def test_basic():\n    assert slugify('Hello World') == 'hello-world'\n\n"
              "def test_strip():\n    assert slugify(' a ') == 'a'\n")


def test_tests_evaluator_runs_the_extracted_code() -> None:
    scen = scenario(tests=SLUG_TESTS)
    answer = f"Here:\n```python\n{DOCUMENTED}```"
    result = run_tests(inp(answer, scen))
    assert result.score == 1.0
    assert result.detail["passed"] == 2 and result.detail["extraction"] == "fenced-python"
    half = run_tests(inp(f"```python\n{BARE}```", scen))
    assert half.score == 0.5
    assert half.detail["failures"][0]["test"] == "test_strip"


def test_tests_evaluator_with_no_code() -> None:
    result = run_tests(inp("", scenario(tests=SLUG_TESTS)))
    assert result.score == 0.0
    assert result.detail["reason"] == "no code found in the answer"
    assert result.detail["total"] == 2


def test_tests_evaluator_raises_for_broken_scenario_tests() -> None:
    with pytest.raises(ValueError, match="tests are broken"):
        run_tests(inp(BARE, scenario(tests="def test_x(:\n")))


PROMPT_BLOCK = ('from typing import List\n\n\ndef helper(x: int) -> int:\n    return x * 2\n\n\n'
                'def double_all(xs: List[int]) -> List[int]:\n    """Double every item."""\n')


def test_complete_from_prompt_puts_back_imports_and_helpers() -> None:
    answer = "def double_all(xs: List[int]) -> List[int]:\n    return [helper(x) for x in xs]\n"
    code, how = complete_from_prompt(answer, PROMPT_BLOCK, "double_all")
    assert how == "prelude"
    assert code.index("from typing import List") < code.index("def helper") < code.index(
        "def double_all")
    assert code.count("def double_all") == 1


def test_complete_from_prompt_accepts_a_bare_body() -> None:
    code, how = complete_from_prompt("return [helper(x) for x in xs]\n", PROMPT_BLOCK,
                                     "double_all")
    assert how == "body"
    namespace: dict[str, Any] = {}
    exec(compile(code, "x", "exec"), namespace)  # noqa: S102 - our own fixed code
    assert namespace["double_all"]([1, 2]) == [2, 4]


def test_tests_evaluator_completes_humaneval_style_answers() -> None:
    scen = scenario(entry_point="double_all",
                    prompt=f"Complete:\n```python\n{PROMPT_BLOCK}```\n",
                    tests="def check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n")
    answer = "```python\ndef double_all(xs: List[int]) -> List[int]:\n    return [helper(x) for x in xs]\n```"
    assert run_tests(inp(answer, scen, complete_from_prompt=True)).score == 1.0
    assert run_tests(inp(answer, scen)).score == 0.0  # without it, List and helper are missing


# ---- format

TIP = ("Batch your alert reviews: check the on-call queue at 10:00 and 15:00 instead of "
       "reacting to every ping, and write one runbook line for each alert you handle.")


def test_format_within_limits() -> None:
    result = format_(inp(TIP, min_words=10, max_words=120))
    assert result.score == 1.0
    assert result.detail["words"] == 30


def test_format_over_the_limit_scores_in_proportion() -> None:
    result = format_(inp(" ".join(["word"] * 240), max_words=120))
    assert result.score == pytest.approx(0.5)


def test_format_bullets() -> None:
    text = "Title\n- one step\n- two step\n"
    assert format_(inp(text, min_bullets=2, max_bullets=3)).score == 1.0
    assert format_(inp("Title\n- one step\n", min_bullets=2)).score == pytest.approx(0.5)


def test_format_empty_output_is_zero_and_no_options_is_skipped() -> None:
    assert format_(inp("", max_words=10)).score == 0.0
    assert format_(inp(TIP)).status == "skipped"
