"""Generation options from the command line: one value is an option, a comma list an axis.

``--temperature 0,0.7 --num-ctx 2048,8192`` makes four setting combinations per cell; each value
is checked like a single option would be, and a bad one is named with its flag.
"""

from __future__ import annotations

import argparse
from typing import Any

from tui_bench.commands.errors import UsageError
from tui_bench.engine import plan

# option name -> (flag, type)
AXIS_FLAGS: dict[str, tuple[str, type]] = {
    "temperature": ("--temperature", float),
    "top_p": ("--top-p", float),
    "num_ctx": ("--num-ctx", int),
    "seed": ("--seed", int),
    "max_tokens": ("--max-tokens", int),
    "threads": ("--threads", int),
}


def parse_values(flag: str, text: str | None, kind: type) -> list[Any]:
    """``"0,0.7"`` -> ``[0.0, 0.7]``; a value that is not a number is a usage error."""
    try:
        return plan.parse_values(flag, text, kind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def options_and_axes(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The single-valued options (first value of each list) and the swept axes."""
    singles: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    for name, (flag, kind) in AXIS_FLAGS.items():
        values = parse_values(flag, getattr(args, name, None), kind)
        if values:
            singles[name] = values[0]
        if len(values) > 1:
            axes[name] = values
    return singles, axes


def single_threads(args: argparse.Namespace) -> int | None:
    """``--threads N`` for the embedded backend's default; a list is an axis instead."""
    values = parse_values("--threads", getattr(args, "threads", None), int)
    return values[0] if len(values) == 1 else None
