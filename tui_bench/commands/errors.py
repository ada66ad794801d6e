"""The two ways a command fails on purpose, each reported as one plain line."""

from __future__ import annotations

from collections.abc import Sequence


class UsageError(Exception):
    """A bad command-line value: reported in one line, exit status 2."""


class CommandError(Exception):
    """A failure a person can act on (a missing batch, a locked database): exit status 1."""


def split_csv(values: Sequence[str] | None) -> list[str]:
    """Flags that take lists accept both ``--x a,b`` and ``--x a --x b``."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out
