"""Agent workspaces: a fresh copy of a fixture per cell, a guard on every path, the final diff.

A workspace lives in the system temp folder under a name that carries the pid of the process
that made it (``tui-bench-ws-<pid>-<random>``), so the next start can remove those left behind
by a process that was killed (:func:`sweep_stale`). Tools never touch a path the guard has not
resolved to inside the workspace: ``..``, absolute paths and symlinks that lead out are refused.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tui_bench.agent_files import IGNORED_NAMES
from tui_bench.leftovers import orphaned

PREFIX = "tui-bench-ws-"
SKIPPED = IGNORED_NAMES  # never copied into a workspace, listed or compared in a diff
MAX_DIFF_FILE_BYTES = 1_000_000  # larger (or binary) files are named in the diff, not shown


class PathRefused(ValueError):
    """A tool asked for a path outside the workspace (or an unusable one)."""


@dataclass
class DiffSummary:
    """The final workspace against its fixture."""

    text: str  # unified diff, every changed file
    changed_files: list[str] = field(default_factory=list)  # relative, '/'-separated
    lines_added: int = 0
    lines_removed: int = 0


def _ignore(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIPPED or n.endswith((".pyc", ".pyo"))}


def _files(root: Path) -> dict[str, Path]:
    """Regular files under ``root`` (skipped folders left out), by relative path."""
    found: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path
    return found


def _text(path: Path | None) -> list[str] | None:
    """A file's lines, or None when it is missing, too large or not text."""
    if path is None:
        return []
    try:
        if path.stat().st_size > MAX_DIFF_FILE_BYTES:
            return None
        return path.read_bytes().decode("utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return None


class Workspace:
    """A private copy of a fixture folder, for one cell; remove it with :meth:`remove`."""

    def __init__(self, fixture: Path, root: Path) -> None:
        self.fixture = fixture
        self.root = root

    @classmethod
    def create(cls, fixture: Path, *, parent: Path | None = None) -> Workspace:
        """Copy ``fixture`` (without virtualenvs, caches, ``.git``) into a new temp folder."""
        fixture = Path(fixture).resolve()
        if not fixture.is_dir():
            raise FileNotFoundError(f"fixture folder not found: {fixture}")
        holder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
        root = holder / "repo"
        try:
            shutil.copytree(fixture, root, ignore=_ignore, symlinks=True)
        except BaseException:
            shutil.rmtree(holder, ignore_errors=True)
            raise
        return cls(fixture, root.resolve())

    # ---- the path guard

    def resolve(self, relative: str) -> Path:
        """The real path of ``relative`` inside the workspace; ``PathRefused`` otherwise."""
        if not isinstance(relative, str):
            raise PathRefused("the path must be a string")
        text = relative.strip() or "."
        if "\x00" in text:
            raise PathRefused(f"{relative!r} is not a usable path")
        if os.path.isabs(text):
            raise PathRefused(f"{relative!r} is absolute; give a path inside the workspace")
        target = (self.root / text).resolve()  # follows symlinks, so one pointing out is seen
        if target != self.root and self.root not in target.parents:
            raise PathRefused(f"{relative!r} is outside the workspace")
        return target

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    # ---- the result

    def diff(self) -> DiffSummary:
        """Unified diff of the workspace against the fixture, with the figures that sum it up."""
        before, after = _files(self.fixture), _files(self.root)
        summary = DiffSummary("")
        parts: list[str] = []
        for name in sorted(set(before) | set(after)):
            old_path, new_path = before.get(name), after.get(name)
            if old_path is not None and new_path is not None:
                try:
                    if old_path.read_bytes() == new_path.read_bytes():
                        continue
                except OSError:
                    pass
            old, new = _text(old_path), _text(new_path)
            summary.changed_files.append(name)
            if old is None or new is None:
                parts.append(f"Binary or large file {name} differs\n")
                continue
            lines = list(difflib.unified_diff(
                old, new, fromfile=f"a/{name}" if old_path else "/dev/null",
                tofile=f"b/{name}" if new_path else "/dev/null"))
            for line in lines[2:]:
                if line.startswith("+"):
                    summary.lines_added += 1
                elif line.startswith("-"):
                    summary.lines_removed += 1
            parts.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                         for line in lines)
        summary.text = "".join(parts)
        return summary

    def remove(self) -> None:
        """Delete the workspace (its holder folder too). Safe to call twice."""
        holder = self.root.parent
        if holder.name.startswith(PREFIX):
            _remove(holder)


def _remove(path: Path) -> None:
    def retry(func: object, target: str, _exc: object) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            os.remove(target) if not os.path.isdir(target) else shutil.rmtree(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove workspaces whose process is gone (a killed run); returns what was removed."""
    removed: list[Path] = []
    for entry in orphaned(Path(parent or tempfile.gettempdir()), PREFIX):
        _remove(entry)
        removed.append(entry)
    return removed
