"""The loader: good files load, each broken file is named with its field, the rest still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_bench.catalog import SelectionError, load_catalog

RUBRIC = """
id: code-v1
name: Code
criteria:
  - id: correctness
    name: Correctness
    max: 20
    anchors: {0: nothing runs, 10: half the cases, 20: every case}
"""

GOOD = """
id: coding-add
name: Add two numbers
suite: coding
category: algorithms
prompt: Write a Python function add(a, b).
tiers:
  L0-minimal: add(a, b) in Python.
  L3: Write add(a, b) with type hints and a docstring.
expected_elements: ["def add"]
evaluators:
  - {name: expected_elements, weight: 1}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path, "rubrics/code-v1.yaml", RUBRIC)
    write(tmp_path, "coding/add.yaml", GOOD)
    return tmp_path


def test_good_files_load(folder: Path) -> None:
    catalog = load_catalog([folder])
    assert catalog.problems == []
    scenario = catalog.scenarios["coding-add"]
    assert scenario.prompt_for("L0") == "add(a, b) in Python."
    assert scenario.prompt_for("L2") == scenario.prompt  # no L2 variant: the base prompt
    assert catalog.rubric_for(scenario).max_total == 20
    assert scenario.source and scenario.source.endswith("add.yaml")


@pytest.mark.parametrize("text, field, words", [
    ("id: x\nname: [unclosed\n", None, "YAML syntax error at line"),
    (GOOD.replace("category: algorithms\n", ""), "category", "required field is missing"),
    (GOOD.replace("weight: 1", "weight: heavy"), "evaluators[0].weight", "number"),
    (GOOD + "promt: typo\n", "promt", "unknown field"),
    (GOOD.replace("L3:", "L9:"), "tiers", "unknown tier"),
    ("- just\n- a list\n", None, "expected a mapping"),
    ("", None, "empty file"),
])
def test_broken_file_is_named_with_its_field(folder: Path, text: str, field: str | None,
                                             words: str) -> None:
    bad = write(folder, "coding/broken.yaml", text)
    catalog = load_catalog([folder])
    assert "coding-add" in catalog.scenarios, "the good scenario still loads"
    problems = [p for p in catalog.problems if p.path == str(bad)]
    assert len(problems) >= 1
    message = str(problems[0])
    assert str(bad) in message and words in message
    if field:
        assert problems[0].field == field


def test_duplicate_id_and_unknown_rubric(folder: Path) -> None:
    write(folder, "coding/again.yaml", GOOD)
    write(folder, "writing/tip.yaml", GOOD.replace("coding-add", "tip-x") + "rubric: tip-v9\n")
    catalog = load_catalog([folder])
    messages = [str(p) for p in catalog.problems]
    assert any("duplicate id 'coding-add'" in m for m in messages)
    assert any("rubric 'tip-v9' is not defined" in m for m in messages)


def test_broken_rubric_is_reported(folder: Path) -> None:
    write(folder, "rubrics/bad.yaml", RUBRIC.replace("code-v1", "bad").replace("max: 20", "max: -1"))
    catalog = load_catalog([folder])
    assert any("bad.yaml" in p.path and p.field == "criteria[0]" for p in catalog.problems)


def test_selection(folder: Path) -> None:
    write(folder, "coding/sub.yaml", GOOD.replace("coding-add", "coding-sub"))
    catalog = load_catalog([folder])
    assert [s.id for s in catalog.select(patterns=["coding-*"])] == ["coding-add", "coding-sub"]
    assert [s.id for s in catalog.select(suites=["coding"])] == ["coding-add", "coding-sub"]
    assert [s.id for s in catalog.select(patterns=["coding:1-2"])] == ["coding-sub"]
    with pytest.raises(SelectionError, match="unknown suite 'nope'"):
        catalog.select(suites=["nope"])
    with pytest.raises(SelectionError, match="no scenario matches 'zzz'"):
        catalog.select(patterns=["zzz"])


def test_missing_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    catalog = load_catalog([tmp_path / "nowhere"])
    assert catalog.scenarios == {}
    assert "scenario folder not found" in str(catalog.problems[0])


@pytest.mark.parametrize("bad_id", ["", "two words", "a,b", "coding:1"])
def test_ids_that_cli_selection_could_not_name_are_refused(folder: Path, bad_id: str) -> None:
    write(folder, "coding/odd.yaml", GOOD.replace("id: coding-add", f"id: '{bad_id}'"))
    catalog = load_catalog([folder])
    assert any(p.path.endswith("odd.yaml") and p.field == "id" for p in catalog.problems)
