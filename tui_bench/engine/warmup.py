"""Warmup: check an agent scenario's fixture before any model time is spent on it.

The control copies the untouched fixture to a temporary folder and runs the validation
commands there. The scenario is broken when a command cannot run at all (program or module
missing, timeout), when a command the task must fix (``fixed_by_task``) already passes, or when
one the task must keep passing already fails. Then no model can be judged fairly on it, so
the runner reports it instead of running its cells.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tui_bench.agent_files import IGNORED_NAMES, fixture_dir
from tui_bench.domain import BatchSpec, Scenario
from tui_bench.scoring.agent_checks import CommandCheck, run_check

MISSING_MODULE_RE = re.compile(r"No module named '?([\w.]+)'?")


@dataclass
class ControlResult:
    """What the untouched fixture did: ``ok`` False means the scenario is broken (``reason``)."""

    scenario_id: str
    ok: bool
    reason: str | None = None
    commands: list[CommandCheck] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"scenario_id": self.scenario_id, "ok": self.ok, "reason": self.reason,
                "duration_s": round(self.duration_s, 3),
                "commands": [c.as_detail() for c in self.commands]}


class ControlStore(Protocol):
    def save_control(self, batch_id: str, scenario_id: str, *, ok: bool, reason: str | None,
                     commands: list[dict[str, Any]], scenario_hash: str | None = None,
                     duration_s: float | None = None) -> None: ...


def copy_fixture(source: Path, dest: Path) -> Path:
    """Copy a fixture repository without virtualenvs, caches or ``.git``; returns ``dest``."""
    shutil.copytree(source, dest, symlinks=True,
                    ignore=shutil.ignore_patterns(*IGNORED_NAMES))
    return dest


def _missing_module(check: CommandCheck) -> str | None:
    """The module a ``python -m MODULE`` command could not find, if that is why it failed."""
    try:
        argv = shlex.split(check.run)
    except ValueError:
        return None
    if len(argv) >= 3 and argv[1] == "-m" and check.exit_code not in (0, None):
        match = MISSING_MODULE_RE.search(check.output)
        if match and match.group(1) == argv[2].split(".")[0]:
            return argv[2]
    return None


def _problem(check: CommandCheck) -> str | None:
    """Why this command makes the scenario broken, or None."""
    if check.timed_out:
        return f"'{check.name}' ({check.run}) could not run: timed out on the untouched fixture"
    if check.exit_code is None:
        return f"'{check.name}' ({check.run}) could not run: {check.reason or 'no exit code'}"
    module = _missing_module(check)
    if module:
        return f"'{check.name}' ({check.run}) could not run: module {module!r} is not installed"
    if check.fixed_by_task and check.passed:
        return (f"the untouched fixture already passes '{check.name}' ({check.run}), "
                "which the task says must be fixed")
    if not check.fixed_by_task and not check.passed:
        return (f"'{check.name}' ({check.run}) fails on the untouched fixture (exit code "
                f"{check.exit_code}), though the task says it passes before and after")
    return None


def control_sync(scenario: Scenario) -> ControlResult:
    """The control for one scenario. Blocking: :func:`control` runs it in a thread."""
    started = time.monotonic()
    if scenario.kind != "agent" or scenario.agent is None:
        return ControlResult(scenario.id, True, None)
    source = fixture_dir(scenario)
    if not source.is_dir():
        return ControlResult(scenario.id, False, f"fixture folder not found: {source}",
                             duration_s=time.monotonic() - started)
    with tempfile.TemporaryDirectory(prefix="tui-bench-warmup-") as tmp:
        workspace = copy_fixture(source, Path(tmp) / "repo")
        checks = [run_check(c, workspace) for c in scenario.agent.validation_commands]
    problems = [p for p in map(_problem, checks) if p]
    return ControlResult(scenario.id, not problems, "; ".join(problems) or None, checks,
                         time.monotonic() - started)


async def control(scenario: Scenario) -> ControlResult:
    """Copy the fixture, run the validation commands on the untouched copy, say if it is sound."""
    return await asyncio.to_thread(control_sync, scenario)


async def warm_up(scenarios: Iterable[Scenario], store: ControlStore | None = None,
                  batch_id: str | None = None) -> list[ControlResult]:
    """The control of every agent scenario, one after the other, recorded for the batch."""
    results: list[ControlResult] = []
    for scenario in scenarios:
        if scenario.kind != "agent":
            continue
        result = await control(scenario)
        results.append(result)
        if store is not None and batch_id is not None:
            store.save_control(batch_id, scenario.id, ok=result.ok, reason=result.reason,
                               commands=[c.as_detail() for c in result.commands],
                               scenario_hash=scenario.definition_hash(),
                               duration_s=result.duration_s)
    return results


def without_broken(spec: BatchSpec, results: Iterable[ControlResult]) -> BatchSpec:
    """The batch without the scenarios whose control failed (the same spec if none did)."""
    broken = {r.scenario_id for r in results if not r.ok}
    if not broken:
        return spec
    return spec.model_copy(update={"scenarios": [s for s in spec.scenarios if s not in broken]})
