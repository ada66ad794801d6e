"""Evaluators for agent scenarios: judge the workspace the agent leaves behind, not its words.

``validation`` runs every validation command, ``build``/``tests``/``lint`` run one by name,
``oracle`` checks expected facts about the final files, ``scope`` asks whether only the files
the task allows were touched, ``diff_size`` compares the change with the reference patch.
Every command (validation commands and ``python`` oracle facts) runs through the sandbox's
``run_command``, with the workspace as its working folder. For a prompt scenario there is no
workspace, and each of these skips with that reason.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import math
import re
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from tui_bench.agent_files import (
    AgentFileError,
    command_argv,
    load_oracle,
    reference_patch_path,
)
from tui_bench.domain import OracleFact, Scenario, ValidationCommand
from tui_bench.scoring.registry import EvalInput, EvalResult, evaluator
from tui_bench.scoring.sandbox import run_command

# Quieter, faster pytest and no bytecode left in the workspace.
COMMAND_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
OUTPUT_TAIL = 600
FACT_MARKER = "@@tui-bench-oracle@@"
HUNK_RE = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
PYTEST_COUNT_RE = re.compile(r"(\d+) (passed|failed|errors?)\b")


# --------------------------------------------------------------------------- commands


@dataclass
class CommandCheck:
    """One validation command run in a workspace: did it pass, and if not, why."""

    name: str
    run: str
    passed: bool
    exit_code: int | None
    timed_out: bool
    reason: str | None  # why it did not run to an exit code (not found, timeout, ...)
    output: str  # the end of what it printed
    duration_s: float
    fixed_by_task: bool = True

    @property
    def could_run(self) -> bool:
        """It ran and exited on its own (pass or fail), as opposed to never starting or hanging."""
        return self.exit_code is not None and not self.timed_out

    def as_detail(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration_s"] = round(self.duration_s, 3)
        return out


def run_check(command: ValidationCommand, workspace: Path) -> CommandCheck:
    """Run one validation command in the sandbox with its own timeout. Blocking."""
    try:
        argv = command_argv(command)
    except ValueError as exc:
        return CommandCheck(command.name, command.run, False, None, False,
                            f"cannot split the command: {exc}", "", 0.0, command.fixed_by_task)
    result = run_command(argv, workspace, timeout_s=command.timeout_s, env=COMMAND_ENV)
    passed = result.exit_code == 0 and not result.timed_out and not result.truncated
    return CommandCheck(command.name, command.run, passed, result.exit_code, result.timed_out,
                        result.reason, result.output[-OUTPUT_TAIL:], result.duration_s,
                        command.fixed_by_task)


def run_checks(scenario: Scenario, workspace: Path) -> list[CommandCheck]:
    """Every validation command of the scenario, in order. Blocking."""
    assert scenario.agent is not None
    return [run_check(c, workspace) for c in scenario.agent.validation_commands]


def _workspace(inp: EvalInput) -> Path | EvalResult:
    """The final workspace, or a skipped result saying why there is none."""
    if inp.scenario.kind != "agent" or inp.scenario.agent is None:
        return EvalResult.skipped("not an agent scenario: there is no workspace to check")
    if inp.workspace is None or not inp.workspace.is_dir():
        return EvalResult.skipped("the run left no workspace to check")
    return inp.workspace


@evaluator("validation")
def validation(inp: EvalInput) -> EvalResult:
    """Share of the scenario's validation commands that pass in the final workspace."""
    workspace = _workspace(inp)
    if isinstance(workspace, EvalResult):
        return workspace
    checks = run_checks(inp.scenario, workspace)
    passed = sum(c.passed for c in checks)
    return EvalResult(passed / len(checks), {
        "passed": passed, "total": len(checks), "commands": [c.as_detail() for c in checks]})


def pytest_share(output: str) -> float | None:
    """Passed / (passed + failed + errors) from pytest's summary line, if it printed one."""
    lines = [line for line in output.splitlines() if PYTEST_COUNT_RE.search(line)]
    if not lines:
        return None
    counts = {"passed": 0, "failed": 0, "error": 0}
    for number, word in PYTEST_COUNT_RE.findall(lines[-1]):
        counts["error" if word.startswith("error") else word] += int(number)
    total = sum(counts.values())
    return counts["passed"] / total if total else None


def command_check(inp: EvalInput, name: str) -> EvalResult:
    """Run the validation command called ``name`` (or ``options.run``); 1 if it passes.

    A failing pytest run scores the share of its tests that passed.
    """
    workspace = _workspace(inp)
    if isinstance(workspace, EvalResult):
        return workspace
    assert inp.scenario.agent is not None
    if inp.options.get("run"):
        command = ValidationCommand(
            name=name, run=str(inp.options["run"]),
            timeout_s=float(inp.options.get("timeout_s", inp.scenario.agent.command_timeout_s)))
    else:
        found = [c for c in inp.scenario.agent.validation_commands if c.name == name]
        if not found:
            return EvalResult.skipped(f"no validation command named {name!r} and no 'run' option")
        command = found[0]
    check = run_check(command, workspace)
    score = 1.0 if check.passed else 0.0
    if not check.passed and check.could_run:
        share = pytest_share(check.output)
        score = share if share is not None else 0.0
    return EvalResult(score, check.as_detail())


@evaluator("build")
def build(inp: EvalInput) -> EvalResult:
    """Run the validation command named ``build`` (or ``options.run``); 1 if it passes."""
    return command_check(inp, "build")


@evaluator("lint")
def lint(inp: EvalInput) -> EvalResult:
    """Run the validation command named ``lint`` (or ``options.run``); 1 if it passes."""
    return command_check(inp, "lint")


# --------------------------------------------------------------------------- oracle


def _inside(workspace: Path, relative: str) -> Path | None:
    """``relative`` resolved inside the workspace, or None when it points outside."""
    root = workspace.resolve()
    path = (root / relative).resolve()
    return path if path == root or root in path.parents else None


def _config(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix in (".ini", ".cfg"):
        parser = configparser.ConfigParser()
        parser.read_string(text)
        return {name: dict(parser[name]) for name in parser.sections()}
    return yaml.safe_load(text)


def _lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise KeyError(key)
    return data


def same(got: Any, expected: Any) -> bool:
    """Equal as data: numbers within 1e-9, lists and tuples alike, dict keys as given."""
    if isinstance(got, bool) or isinstance(expected, bool):
        return got is expected if isinstance(got, bool) == isinstance(expected, bool) else False
    if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(same(a, b)
                                                 for a, b in zip(got, expected, strict=True))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)
    return bool(got == expected)


def file_fact(fact: OracleFact, workspace: Path) -> tuple[bool, Any]:
    """Check a fact about a file (not ``python``); returns (holds, what was found)."""
    assert fact.path is not None
    path = _inside(workspace, fact.path)
    if path is None:
        return False, f"{fact.path} is outside the workspace"
    if fact.kind == "file_exists":
        return path.is_file(), "present" if path.is_file() else "absent"
    if fact.kind == "file_absent":
        return not path.exists(), "absent" if not path.exists() else "present"
    if not path.is_file():
        return False, f"{fact.path} not found"
    if fact.kind == "config_value":
        assert fact.key is not None
        try:
            value = _lookup(_config(path), fact.key)
        except KeyError:
            return False, f"no key {fact.key!r}"
        except (ValueError, yaml.YAMLError, configparser.Error, tomllib.TOMLDecodeError) as exc:
            return False, f"cannot parse {fact.path}: {type(exc).__name__}"
        return same(value, fact.value) or str(value) == str(fact.value), value
    text = path.read_text(encoding="utf-8", errors="replace")
    assert fact.text is not None
    if fact.kind == "file_contains":
        return fact.text in text, "found" if fact.text in text else "not found"
    if fact.kind == "file_lacks":
        return fact.text not in text, "absent" if fact.text not in text else "still there"
    if fact.kind == "file_equals":
        holds = text.strip() == fact.text.strip()
        return holds, "equal" if holds else f"differs ({len(text)} characters)"
    raise ValueError(f"unknown fact kind {fact.kind!r}")


# Runs in the sandbox: import each module from the workspace, evaluate each expression with
# the module's names (plus ``raises``), print one marked JSON line of results.
FACT_SCRIPT = r"""
import importlib, json, sys
sys.path.insert(0, "")
def raises(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except BaseException as exc:
        return type(exc).__name__
    return None
out = []
for item in json.loads(sys.argv[1]):
    try:
        names = dict(vars(importlib.import_module(item["module"])))
        names["raises"] = raises
        value = eval(item["expr"], names)
        out.append({"value": json.loads(json.dumps(value, default=repr))})
    except BaseException as exc:
        out.append({"error": f"{type(exc).__name__}: {exc}"[:300]})
print(MARKER + json.dumps(out), flush=True)
"""


def python_facts(facts: list[OracleFact], workspace: Path,
                 timeout_s: float) -> list[tuple[bool, Any]]:
    """Evaluate the ``python`` facts in one sandboxed process. Blocking."""
    if not facts:
        return []
    payload = json.dumps([{"module": f.module, "expr": f.expr} for f in facts])
    script = f"MARKER = {FACT_MARKER!r}\n{FACT_SCRIPT}"
    result = run_command([sys.executable, "-I", "-B", "-c", script, payload], workspace,
                         timeout_s=timeout_s, env=COMMAND_ENV)
    line = next((x for x in reversed(result.output.splitlines()) if x.startswith(FACT_MARKER)),
                None)
    if line is None:
        why = result.reason or f"exit code {result.exit_code}"
        tail = result.output.strip().splitlines()[-1:] or [""]
        return [(False, f"the check did not finish ({why}) {tail[0][:200]}".strip())] * len(facts)
    answers = json.loads(line[len(FACT_MARKER):])
    out: list[tuple[bool, Any]] = []
    for fact, answer in zip(facts, answers, strict=False):
        if "error" in answer:
            out.append((False, answer["error"]))
        else:
            out.append((same(answer["value"], fact.expected), answer["value"]))
    return out


def check_facts(scenario: Scenario, workspace: Path) -> list[dict[str, Any]]:
    """Every oracle fact with whether it holds in ``workspace``. Blocking."""
    assert scenario.agent is not None
    facts = load_oracle(scenario)
    python = [f for f in facts if f.kind == "python"]
    python_results = iter(python_facts(python, workspace, scenario.agent.command_timeout_s))
    out: list[dict[str, Any]] = []
    for fact in facts:
        holds, found = (next(python_results) if fact.kind == "python"
                        else file_fact(fact, workspace))
        where = f"{fact.module}: {fact.expr}" if fact.kind == "python" else fact.path
        entry = {"kind": fact.kind, "where": where, "holds": holds, "found": found}
        if fact.note:
            entry["note"] = fact.note
        out.append(entry)
    return out


def agent_oracle(inp: EvalInput) -> EvalResult:
    """Share of the scenario's oracle facts that hold in the final workspace."""
    workspace = _workspace(inp)
    if isinstance(workspace, EvalResult):
        return workspace
    try:
        checked = check_facts(inp.scenario, workspace)
    except AgentFileError as exc:
        raise ValueError(f"{exc.field}: {exc}") from None
    if not checked:
        return EvalResult.skipped("the scenario has no oracle facts")
    held = sum(bool(c["holds"]) for c in checked)
    return EvalResult(held / len(checked), {"held": held, "total": len(checked),
                                            "facts": checked})


# --------------------------------------------------------------------------- the change itself


def _diff_name(line: str, prefix: str) -> str:
    name = line[4:].split("\t")[0].strip()
    return name.removeprefix(prefix)


def diff_stats(diff: str) -> tuple[list[str], int, int]:
    """Files named in a unified diff (new names; a deleted file's old one), lines added and
    removed. Hunk headers are followed, so a removed line that reads ``--- x`` is a line."""
    files: list[str] = []
    added = removed = 0
    old_name = ""
    old_left = new_left = 0  # lines still due in the current hunk
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            if line.startswith("+"):
                added, new_left = added + 1, new_left - 1
            elif line.startswith("-"):
                removed, old_left = removed + 1, old_left - 1
            elif not line.startswith("\\"):  # "\ No newline at end of file" is no line
                old_left, new_left = old_left - 1, new_left - 1
            continue
        hunk = HUNK_RE.match(line)
        if hunk:
            old_left = int(hunk.group(1)) if hunk.group(1) is not None else 1
            new_left = int(hunk.group(2)) if hunk.group(2) is not None else 1
        elif line.startswith("--- "):
            old_name = _diff_name(line, "a/")
        elif line.startswith("+++ "):
            new_name = _diff_name(line, "b/")
            files.append(new_name if new_name != "/dev/null" else old_name)
    return list(dict.fromkeys(files)), added, removed


def _changed(inp: EvalInput) -> list[str]:
    return list(inp.changed_files) or diff_stats(inp.diff)[0]


@evaluator("scope")
def scope(inp: EvalInput) -> EvalResult:
    """Share of the changed files that the scenario's ``scope`` globs allow (``*`` spans '/')."""
    if inp.scenario.kind != "agent" or inp.scenario.agent is None:
        return EvalResult.skipped("not an agent scenario: there is no workspace to check")
    globs = list(inp.options.get("scope") or inp.scenario.agent.scope)
    if not globs:
        return EvalResult.skipped("the scenario sets no scope")
    changed = _changed(inp)
    if not changed:
        return EvalResult.skipped("nothing was changed")
    outside = [f for f in changed if not any(fnmatch.fnmatchcase(f, g) for g in globs)]
    return EvalResult(1 - len(outside) / len(changed),
                      {"changed": changed, "outside_scope": outside, "scope": globs})


@evaluator("diff_size")
def diff_size(inp: EvalInput) -> EvalResult:
    """1 while lines changed stay within budget (``max_lines``, else the reference patch's
    size x ``factor``, 3 by default), then budget / lines changed."""
    if inp.scenario.kind != "agent" or inp.scenario.agent is None:
        return EvalResult.skipped("not an agent scenario: there is no workspace to check")
    _, added, removed = diff_stats(inp.diff)
    changed = added + removed
    if changed == 0:
        return EvalResult.skipped("nothing was changed")
    detail: dict[str, Any] = {"lines_changed": changed, "added": added, "removed": removed}
    if "max_lines" in inp.options:
        budget = float(inp.options["max_lines"])
    else:
        patch = reference_patch_path(inp.scenario)
        if patch is None or not patch.is_file():
            return EvalResult.skipped("no max_lines option and no reference patch", **detail)
        _, ref_added, ref_removed = diff_stats(patch.read_text(encoding="utf-8"))
        factor = float(inp.options.get("factor", 3))
        detail.update(reference_lines=ref_added + ref_removed, factor=factor)
        budget = max(1.0, (ref_added + ref_removed) * factor)
    detail["budget"] = budget
    return EvalResult(min(1.0, budget / changed), detail)
