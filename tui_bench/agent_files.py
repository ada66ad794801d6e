"""The files an agent scenario names (fixture, oracle, reference patch), found and checked.

Paths in an ``agent`` block are relative to the scenario file. The catalog uses
:func:`agent_problems` so that a scenario whose fixture is missing, whose oracle does not parse
or whose validation command names a program that is not there is reported in one line that
names the field, and left out, while the other scenarios still load. Evaluators and the warmup
use the same helpers to find the files and to split the commands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tui_bench.domain import OracleFact, Scenario, ValidationCommand

# Folders never copied into a workspace or compared in a diff.
IGNORED_NAMES = frozenset({".venv", "venv", "node_modules", "__pycache__", ".pytest_cache",
                           ".mypy_cache", ".ruff_cache", ".git"})
# Where validation commands look for programs: this Python's folder first (so ``python`` and
# ``python -m pytest`` are the interpreter tui-bench runs on), then the usual system folders.
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


class AgentFileError(ValueError):
    """A file an agent scenario names is missing or broken; ``field`` says which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def command_path() -> str:
    """The ``PATH`` validation commands run with."""
    return os.pathsep.join([os.path.dirname(sys.executable), *SYSTEM_PATH])


def scenario_dir(scenario: Scenario) -> Path:
    """The folder the scenario file is in: what its agent paths are relative to."""
    return Path(scenario.source).parent if scenario.source else Path.cwd()


def _resolve(scenario: Scenario, relative: str) -> Path:
    return (scenario_dir(scenario) / relative).resolve()


def fixture_dir(scenario: Scenario) -> Path:
    """The fixture repository of an agent scenario (not checked to exist)."""
    if scenario.agent is None:
        raise AgentFileError("kind", f"scenario {scenario.id!r} is not an agent scenario")
    return _resolve(scenario, scenario.agent.fixture)


def reference_patch_path(scenario: Scenario) -> Path | None:
    if scenario.agent is None or not scenario.agent.reference_patch:
        return None
    return _resolve(scenario, scenario.agent.reference_patch)


def load_oracle(scenario: Scenario) -> list[OracleFact]:
    """The oracle facts of an agent scenario (empty without an oracle file).

    Raises :class:`AgentFileError` naming ``agent.oracle`` (and the fact) when the file is
    missing, is not YAML, or holds a fact that does not validate.
    """
    if scenario.agent is None or not scenario.agent.oracle:
        return []
    path = _resolve(scenario, scenario.agent.oracle)
    field = "agent.oracle"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentFileError(field, f"oracle file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentFileError(field, f"cannot read oracle file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AgentFileError(field, f"oracle file {path} is not valid YAML{where}") from None
    if not isinstance(data, dict) or not isinstance(data.get("facts"), list):
        raise AgentFileError(field, f"oracle file {path} needs a 'facts:' list")
    facts: list[OracleFact] = []
    for number, item in enumerate(data["facts"]):
        try:
            facts.append(OracleFact.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ()))
            what = f" {loc}" if loc else ""
            raise AgentFileError(f"{field} facts[{number}]{what}",
                                 f"{err.get('msg', 'invalid')} (in {path})") from None
        missing = _missing_for(facts[-1])
        if missing:
            raise AgentFileError(f"{field} facts[{number}]",
                                 f"kind {facts[-1].kind} needs {missing} (in {path})")
    return facts


def _missing_for(fact: OracleFact) -> str | None:
    need = {"file_contains": ("path", "text"), "file_lacks": ("path", "text"),
            "file_equals": ("path", "text"), "file_exists": ("path",),
            "file_absent": ("path",), "config_value": ("path", "key"),
            "python": ("module", "expr")}[fact.kind]
    absent = [name for name in need if getattr(fact, name) is None]
    return ", ".join(absent) if absent else None


def command_argv(command: ValidationCommand) -> list[str]:
    """The command split as a shell would, without a shell; ValueError on bad quoting."""
    argv = shlex.split(command.run)
    if not argv:
        raise ValueError("the command is empty")
    return argv


def find_program(program: str, workdir: Path | None = None) -> str | None:
    """Where ``program`` is: on the command ``PATH``, or a path inside ``workdir``."""
    if "/" in program:
        base = workdir if workdir is not None else Path.cwd()
        path = (base / program) if not os.path.isabs(program) else Path(program)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=command_path())


def agent_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """What is wrong with the files and commands an agent scenario names, as (field, message)."""
    spec = scenario.agent
    if spec is None:
        return []
    problems: list[tuple[str, str]] = []
    fixture = fixture_dir(scenario)
    if not fixture.is_dir():
        problems.append(("agent.fixture", f"fixture folder not found: {fixture}"))
    for number, command in enumerate(spec.validation_commands):
        field = f"agent.validation_commands[{number}].run"
        try:
            argv = command_argv(command)
        except ValueError as exc:
            problems.append((field, f"cannot split {command.run!r}: {exc}"))
            continue
        if find_program(argv[0], fixture) is None:
            message = (f"program {argv[0]!r} not found (command {command.name!r}; "
                       f"PATH is {command_path()})")
            problems.append((field, message))
    names = [c.name for c in spec.validation_commands]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("agent.validation_commands", f"command name {name!r} is used twice"))
    try:
        load_oracle(scenario)
    except AgentFileError as exc:
        problems.append((exc.field, str(exc)))
    patch = reference_patch_path(scenario)
    if patch is not None and not patch.is_file():
        problems.append(("agent.reference_patch", f"reference patch not found: {patch}"))
    return problems


def owned_paths(data: Any, path: Path) -> list[Path]:
    """Files and folders a raw scenario mapping claims (fixture, oracle): not scenarios."""
    if not isinstance(data, dict) or data.get("kind") != "agent":
        return []
    agent = data.get("agent")
    if not isinstance(agent, dict):
        return []
    out: list[Path] = []
    for key in ("fixture", "oracle"):
        value = agent.get(key)
        if isinstance(value, str) and value:
            out.append((path.parent / value).resolve())
    return out
