"""Helpers for agent-scenario tests: build a scenario on disk, apply a patch to a workspace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tui_bench.domain import Scenario


def write_agent_scenario(folder: Path, scenario_id: str, files: dict[str, str],
                         agent: dict[str, Any], *, oracle: list[dict[str, Any]] | None = None,
                         **fields: Any) -> Path:
    """An agent scenario file with its fixture (``<id>/repo``) and oracle; returns the YAML."""
    repo = folder / scenario_id / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    repo.mkdir(parents=True, exist_ok=True)
    spec = {"fixture": f"{scenario_id}/repo", **agent}
    if oracle is not None:
        (folder / scenario_id / "oracle.yaml").write_text(yaml.safe_dump({"facts": oracle}))
        spec["oracle"] = f"{scenario_id}/oracle.yaml"
    data = {"id": scenario_id, "name": scenario_id, "suite": "agent-test", "category": "bugfix",
            "kind": "agent", "prompt": "Fix it.", "rubric": "code-v1", "agent": spec, **fields}
    path = folder / f"{scenario_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load_scenario(path: Path) -> Scenario:
    data = yaml.safe_load(path.read_text())
    return Scenario.model_validate({**data, "source": str(path)})


def apply_patch(patch: Path, workdir: Path) -> None:
    """Apply a unified diff (``a/`` ``b/`` prefixes) with git, else patch(1)."""
    if shutil.which("git"):
        argv = ["git", "apply", "--whitespace=nowarn", str(patch)]
    else:
        argv = ["patch", "-p1", "--quiet", "-i", str(patch)]
    subprocess.run(argv, cwd=workdir, check=True, capture_output=True, timeout=30)
