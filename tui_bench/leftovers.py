"""Folders a killed tui-bench process left behind, recognised by the pid in their name.

Sandbox folders (``tui-bench-sandbox-<pid>-…``) and agent workspaces (``tui-bench-ws-<pid>-…``)
carry their owner's pid, so the next start can tell a dead run's leftovers from a live run's
folders and remove only the former.
"""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(parent: Path, prefix: str) -> list[Path]:
    """Folders in ``parent`` named ``<prefix><pid>-…`` whose process is gone (never ours)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    found: list[Path] = []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or pid_alive(int(pid_text)):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        found.append(Path(entry.path))
    return found
