"""The README's examples are real (issue 18): the annotated scenario and template validate, and
the HumanEval range is said the way it works (B excluded)."""

from __future__ import annotations

import re
from pathlib import Path

import json5
import yaml

from tui_bench.catalog import Catalog
from tui_bench.domain import Scenario
from tui_bench.specialists.templates import Template

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _block(lang: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, lang
    return blocks[0]


def test_annotated_scenario_and_template_validate() -> None:
    scenario = Scenario.model_validate(yaml.safe_load(_block("yaml")))
    assert scenario.id == "coding-fizzbuzz" and scenario.versions["v2"].system == "Be terse."
    template = Template.model_validate(json5.loads(_block("json5")))
    assert template.name == "python-craftsman" and template.documentation


def test_humaneval_range_excludes_its_end(shipped_catalog: Catalog) -> None:
    assert "all 164 are `humaneval:0-164`" in README and "*not including* B" in README
    assert len(shipped_catalog.select([], ["humaneval:0-2"])) == 2
    assert len(shipped_catalog.select([], ["humaneval:0-164"])) == 164
