"""One way to say a figure: every front end formats through ``tui_bench.present``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tui_bench import present
from tui_bench.domain import Telemetry

PACKAGE = Path(present.__file__).parent


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "—"), (0.0, "0ms"), (0.85, "850ms"), (4.21, "4.2s"), (42.4, "42s"), (185, "3m05s"),
    (3720, "1h02m"), (-3, "0ms"),
])
def test_one_duration_format(seconds: float | None, text: str) -> None:
    assert present.duration(seconds) == text


def test_figures_percentages_and_timestamps() -> None:
    assert present.milliseconds(1234.0) == "1.2s" and present.milliseconds(None) == "—"
    assert present.number(None) == "—" and present.number(True) == "yes"
    assert present.number(0.5) == "0.50" and present.score(0.74219) == "0.742"
    assert present.percent(0.745) == "74%" and present.percent(None) == "—"
    assert present.rate(61.44) == "61.4" and present.cost(0.0042) == "$0.0042"
    stamp = "2026-11-24T10:15:30.123+00:00"
    assert present.timestamp(stamp) == "2026-11-24 10:15"
    assert present.short_timestamp(stamp) == "11-24 10:15"
    later = "2026-11-24T10:18:35.123+00:00"
    assert present.seconds_between(stamp, later) == 185.0
    assert present.span(stamp, later) == "3m05s"
    assert present.span(stamp, None, "running") == "running" and present.span(None, None) == "—"


def test_telemetry_leaves_unknown_figures_out() -> None:
    t = Telemetry(ttft_ms=850, total_ms=4200, completion_tokens=48, tokens_per_s=61.44,
                  load_ms=None, host="in-process")
    assert present.telemetry(t) == "first token 850ms · total 4.2s · 48 tokens · 61.4 tok/s"
    assert present.telemetry(t, full=True).endswith("61.4 tok/s · host in-process")
    assert present.telemetry(Telemetry()) == "no telemetry"


def test_no_module_keeps_its_own_duration_or_percent_formatter() -> None:
    """The old helpers (``duration_text``, ``short_time``, ``_fmt``, ``pct``...) are gone."""
    retired = {"duration_text", "created_text", "short_time", "ms", "_fmt", "fmt", "pct", "_pct",
               "_num", "telemetry_text", "seconds_between", "duration"}
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "present.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in retired:
                found.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert found == []
