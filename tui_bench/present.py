"""Numbers, percentages, durations and timestamps as people read them, said one way everywhere.

The TUI, the headless printer, the commands and the exports all format through here, so a
duration reads the same on the live screen, in ``tui-bench batches list`` and in a Markdown
export. Plain strings only: no rich, no Textual. Unknown values are a dash, never ``0`` or
``None``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tui_bench.domain import Telemetry

DASH = "—"


def number(value: Any, pattern: str = "{:.2f}") -> str:
    """A figure: a dash when unknown, ``yes``/``no`` for a flag, ``pattern`` for a number."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return pattern.format(value)
    return str(value)


def score(value: float | None) -> str:
    """An automatic score in 0..1, to three places: ``0.742``."""
    return number(value, "{:.3f}")


def percent(value: float | None, digits: int = 0) -> str:
    """A share in 0..1 as a percentage: ``74%``."""
    return number(value, f"{{:.{digits}%}}")


def rate(value: float | None) -> str:
    """Tokens per second: ``61.4``."""
    return number(value, "{:.1f}")


def cost(value: float | None) -> str:
    """Money in dollars, to a hundredth of a cent: ``$0.0042``."""
    return DASH if value is None else f"${value:.4f}"


def duration(seconds: float | None) -> str:
    """``850ms``, ``4.2s``, ``42s``, ``3m05s``, ``1h02m``; a dash when unknown.

    Short spans keep the precision that matters for a single call; long ones the minutes.
    """
    if seconds is None:
        return DASH
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def milliseconds(value: float | None) -> str:
    """A duration measured in milliseconds (telemetry), said like any other duration."""
    return duration(None if value is None else value / 1000)


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds between two stored ISO timestamps; None when either is missing or unreadable."""
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def span(start: str | None, end: str | None, status: str = "") -> str:
    """How long a batch took: a duration, ``running`` while it runs, else a dash."""
    if not start or not end:
        return "running" if status == "running" else DASH
    return duration(seconds_between(start, end))


def interval(low: float | None, high: float | None, pattern: str = "{:.2f}") -> str:
    """A confidence interval as ``0.41–0.77``, or a dash when there is none."""
    if low is None or high is None:
        return DASH
    return f"{pattern.format(low)}–{pattern.format(high)}"


def timestamp(stamp: str | None) -> str:
    """A stored ISO timestamp as ``2026-11-24 10:15`` (UTC, as stored)."""
    if not stamp:
        return DASH
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16].replace("T", " ")


def short_timestamp(stamp: str | None) -> str:
    """The same without the year, for narrow tables: ``11-24 10:15``."""
    if not stamp:
        return DASH
    try:
        return datetime.fromisoformat(stamp).strftime("%m-%d %H:%M")
    except ValueError:
        return stamp[:16]


def telemetry(t: Telemetry, *, full: bool = False) -> str:
    """A run's telemetry on one line; unknown figures are left out rather than zeroed.

    ``full`` adds load time, cost, why generation stopped and the host (the batch detail);
    without it a judge sees only the figures a judgment may weigh.
    """
    parts: list[str | None] = [
        t.ttft_ms is not None and f"first token {milliseconds(t.ttft_ms)}" or None,
        t.total_ms is not None and f"total {milliseconds(t.total_ms)}" or None,
        t.completion_tokens is not None and f"{t.completion_tokens} tokens" or None,
        t.tokens_per_s is not None and f"{rate(t.tokens_per_s)} tok/s" or None,
    ]
    if full:
        parts += [t.load_ms is not None and f"load {milliseconds(t.load_ms)}" or None,
                  t.cost is not None and cost(t.cost) or None,
                  t.done_reason and f"stop: {t.done_reason}" or None,
                  t.host and f"host {t.host}" or None]
    return " · ".join(p for p in parts if p) or "no telemetry"
