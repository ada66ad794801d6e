"""Reading files other people wrote without letting them take the tool down.

Scenarios, rubrics, templates and judgment files come from anywhere. Before parsing, a file
must be a regular file (a FIFO named ``x.yaml`` would block forever) under a size cap; parse
errors of depth (``RecursionError``) become one line; and after parsing, the data's *expanded*
size and depth are bounded, which is what stops a YAML alias bomb: ``safe_load`` builds the
shared references cheaply, and every later traversal (validation, hashing, JSON) would expand
them into gigabytes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SCENARIO_MAX_BYTES = 1 << 20
"""A scenario or rubric file: the largest shipped one is a few kilobytes."""

TEMPLATE_MAX_BYTES = 256 << 10
"""A JSON5 template: the pure-Python parser takes seconds per megabyte."""

JUDGMENT_MAX_BYTES = 64 << 20
"""A judgment file holds every exported run's output, so it may be large, not unbounded."""

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings accepted from a file."""

MAX_NODES = 200_000
"""Most values a parsed file may expand to, shared (aliased) values counted each time used."""


class UnsafeFileError(ValueError):
    """A file refused before or after parsing; the message names the file."""


def read_text(path: Path, max_bytes: int) -> str:
    """The file's UTF-8 text, if it is a regular file of at most ``max_bytes``."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UnsafeFileError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe, device or socket"
            raise UnsafeFileError(f"{path}: not a regular file ({kind}); refused")
        if info.st_size > max_bytes:
            raise UnsafeFileError(f"{path}: {info.st_size:,} bytes, above the "
                                  f"{max_bytes:,}-byte limit for this kind of file; refused")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            raw = handle.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > max_bytes:  # grew while we looked
        raise UnsafeFileError(f"{path}: above the {max_bytes:,}-byte limit; refused")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def check_shape(data: Any, path: Path | str, *, max_depth: int = MAX_DEPTH,
                max_nodes: int = MAX_NODES) -> Any:
    """``data`` unchanged if its expanded size and depth are within bounds. Walks without
    recursion and stops at the first bound passed, so a bomb costs milliseconds."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise UnsafeFileError(f"{path}: expands to more than {max_nodes:,} values "
                                  "(a YAML alias bomb?); refused")
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= max_depth:
            raise UnsafeFileError(f"{path}: nested deeper than {max_depth} levels; refused")
        stack.extend((child, depth + 1) for child in children)
    return data


def parse_guarded(text: str, path: Path | str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)`` with deep nesting reported as one line instead of a RecursionError."""
    try:
        data = parse(text)
    except RecursionError:
        raise UnsafeFileError(f"{path}: nested too deeply to parse; refused") from None
    return check_shape(data, path)


def load_yaml(path: Path, max_bytes: int = SCENARIO_MAX_BYTES) -> Any:
    """A YAML file's data, bounded; ``yaml.YAMLError`` still raised for syntax errors."""
    return parse_guarded(read_text(path, max_bytes), path, yaml.safe_load)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a file may hold")


def load_json(path: Path, max_bytes: int = JUDGMENT_MAX_BYTES) -> Any:
    """A JSON file's data, bounded; ``NaN`` and ``Infinity`` refused, ``1e400`` too (it
    parses as infinity). ``json.JSONDecodeError`` still raised for syntax errors."""
    def number(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{text[:40]} is too large a number")
        return value

    return parse_guarded(read_text(path, max_bytes), path, lambda text: json.loads(
        text, parse_constant=_refuse_constant, parse_float=number))
