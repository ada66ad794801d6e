"""What the app remembers between sessions: theme and the last choices on the choose screen.

A small JSON file at ``locations.config_path()``. It is a convenience, never a dependency:
a missing file gives defaults, a broken one gives defaults plus a message to show, and a
write goes to a temporary file first so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tui_bench.domain import DEFAULT_PROMPT_VERSION, DEFAULT_TIER


class ChoiceOptions(BaseModel):
    """The option fields of the choose screen, as last used."""

    tiers: list[str] = Field(default_factory=lambda: [DEFAULT_TIER])
    prompt_versions: list[str] = Field(default_factory=lambda: [DEFAULT_PROMPT_VERSION])
    iterations: int = 1
    mode: str = "zero-shot"
    concurrency: int | None = None
    seed: int | None = 42
    temperature: float = 0.0
    max_tokens: int = 256
    num_ctx: int = 2048
    top_p: float | None = None
    threads: int | None = None
    # Options swept as grid axes (option name -> values); the fields above hold the first.
    axes: dict[str, list[float | int]] = Field(default_factory=dict)


class Preferences(BaseModel):
    """Remembered choices. Unknown keys are ignored so an older app reads a newer file."""

    theme: str | None = None
    """The Textual theme last picked."""

    models: list[str] = Field(default_factory=list)
    """Models selected for the last batch started."""

    scenarios: list[str] = Field(default_factory=list)
    """Scenarios selected for the last batch started."""

    options: ChoiceOptions = Field(default_factory=ChoiceOptions)
    """Tier, iterations, sampling and so on, as last used."""


def load_preferences(path: Path) -> tuple[Preferences, str | None]:
    """The remembered preferences and, when the file was unreadable, why (to tell the user)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Preferences(), None
    except (OSError, UnicodeDecodeError) as exc:
        return Preferences(), f"cannot read settings {path}: {exc}; using defaults"
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return Preferences.model_validate(data), None
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        return Preferences(), f"settings file {path} is broken ({first}); using defaults"


def save_preferences(path: Path, prefs: Preferences) -> None:
    """Write atomically: a temporary file in the same folder, then a rename over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(prefs.model_dump_json(indent=2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
