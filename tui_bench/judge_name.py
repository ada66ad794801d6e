"""Who is judging: the one name kept beside the app's settings, not in ``bench.db``.

A database can be shared by several people judging the same runs (that is what agreement
needs), so "who am I" is per person: ``judge.json`` next to ``locations.config_path()``. The
judging screens and ``tui-bench judge`` read it; the store never touches files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tui_bench import locations

JUDGE_FILE = "judge.json"


def judge_file() -> Path:
    """``judge.json`` beside the app's settings file: per person, not per database."""
    return locations.config_path().parent / JUDGE_FILE


def remembered_judge(path: Path | None = None) -> str | None:
    """The name this person judges under, or None before they have said it."""
    target = path or judge_file()
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def remember_judge(name: str, path: Path | None = None) -> None:
    """Write the name atomically, so a crash never leaves half a file behind."""
    target = path or judge_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name.strip()}) + "\n", encoding="utf-8")
    os.replace(tmp, target)
