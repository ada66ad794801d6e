"""Flags checked up front, so a bad value is one plain line before anything runs or is stored.

argparse checks types; these check meaning: a list flag given but empty, a grid too big to
plan, a name no terminal should be asked to print, a URL that cannot be parsed, a database
path that is not a file.
"""

from __future__ import annotations

import argparse
import math
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui_bench.commands.errors import UsageError, split_csv

MAX_CELLS = 100_000
"""Most cells one batch may plan: far beyond any real grid, far below a MemoryError."""

MAX_NAME_CHARS = 256
"""Longest model, judge or template reference accepted from a flag."""


def check_text_flags(args: argparse.Namespace) -> None:
    """Every string flag must be valid UTF-8 (argv bytes that are not arrive as surrogates)."""
    for name, value in vars(args).items():
        for text in _strings(value):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"--{name.replace('_', '-')}: not valid UTF-8 "
                                 f"({text.encode('utf-8', 'backslashreplace').decode()[:60]})"
                                 ) from None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str):
                yield item


def listed(values: list[str] | None, flag: str, default: list[str]) -> list[str]:
    """A list flag's items, the default when the flag is absent; given but empty is an error."""
    items = split_csv(values)
    if values is not None and not items:
        raise UsageError(f"{flag}: no names given ({', '.join(map(repr, values))})")
    return items or default


def check_name(text: str | None, flag: str) -> None:
    if text is not None and len(text) > MAX_NAME_CHARS:
        raise UsageError(f"{flag}: name of {len(text):,} characters; at most {MAX_NAME_CHARS}")


def check_numbers(args: argparse.Namespace) -> None:
    """Numbers whose wrong sign or infinity used to be accepted silently."""
    def need(value: float | None, flag: str, *, low: float, strict: bool,
             what: str) -> None:
        if value is None:
            return
        if not math.isfinite(value) or (value <= low if strict else value < low):
            raise UsageError(f"{flag}: {value:g} is not {what}")

    need(getattr(args, "timeout", None), "--timeout", low=0, strict=True, what="a positive time")
    need(getattr(args, "stall_timeout", None), "--stall-timeout", low=0, strict=True,
         what="a positive time")
    need(getattr(args, "cell_deadline", None), "--cell-deadline", low=0, strict=True,
         what="a positive time")
    need(getattr(args, "retries", None), "--retries", low=0, strict=False,
         what="zero or more")
    def each(name: str, flag: str, kind: type) -> list[Any]:
        """A flag that may be a comma list (a grid axis): every value, parsed."""
        from tui_bench.commands.axes import parse_values

        value = getattr(args, name, None)
        return parse_values(flag, value, kind) if isinstance(value, str) else (
            [] if value is None else [value])

    for threads in each("threads", "--threads", int):
        need(threads, "--threads", low=0, strict=True, what="1 or more")
    need(getattr(args, "max_answer_bytes", None), "--max-answer-bytes", low=0, strict=True,
         what="1 or more")
    for temperature in each("temperature", "--temperature", float):
        need(temperature, "--temperature", low=0, strict=False,
             what="a finite temperature of 0 or more")
    for top_p in each("top_p", "--top-p", float):
        need(top_p, "--top-p", low=0, strict=True, what="in (0, 1]")
    for flag in ("price_in", "price_out", "max_model_b"):
        need(getattr(args, flag, None), "--" + flag.replace("_", "-"), low=0, strict=False,
             what="zero or more")


def check_url(url: str | None, flag: str) -> None:
    """A server URL that cannot be parsed is refused now, not once per cell."""
    if not url:
        return
    text = url.strip()
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise UsageError(f"{flag} {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{flag} {url!r}: only http:// and https:// servers are spoken to")
    if not parts.hostname:
        raise UsageError(f"{flag} {url!r}: no host in the URL")


def check_db_path(path: Path) -> None:
    """The database must be a regular file (or not exist yet): ``/dev/null`` or a FIFO would
    make SQLite create ``/dev/null-journal`` beside it or hang."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"--db {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"--db {path}: is a folder, not a database file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"--db {path}: not a regular file (a device, pipe or socket)")


def check_grid(models: int, scenarios: int, tiers: int, versions: int, specialists: int,
               iterations: int, settings: int = 1) -> None:
    """Refuse a grid too big to plan before planning it (settings: swept option combinations)."""
    if iterations < 1:
        raise UsageError(f"--iterations: {iterations} is not 1 or more")
    cells = models * scenarios * tiers * versions * specialists * iterations * settings
    if cells > MAX_CELLS:
        raise UsageError(f"the batch would have {cells:,} cells; at most {MAX_CELLS:,} "
                         "(lower --iterations or choose fewer models or scenarios)")


def check_common(args: argparse.Namespace) -> None:
    """What every command's shared flags must satisfy."""
    check_text_flags(args)
    check_numbers(args)
    for url in split_csv(getattr(args, "openai_base_url", None)):
        check_url(url, "--openai-base-url")
    for host in split_csv(getattr(args, "ollama_host", None)):
        check_url(host, "--ollama-host")
