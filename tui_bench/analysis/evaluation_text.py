"""An evaluator's detail said in words a person can act on: which tests failed and why, which
expected elements were missing, what was skipped. Shared by the batch detail screen and the
exports, so nobody has to read a raw dict cut off mid-word."""

from __future__ import annotations

import textwrap
from typing import Any

MAX_FAILURES_SHOWN = 5
LINE = 160  # longer text is shortened at a word, never mid-word


def _short(value: Any, width: int = LINE) -> str:
    text = " ".join(str(value).split())
    return textwrap.shorten(text, width, placeholder=" …") if text else ""


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    return str(value)


def evaluation_lines(detail: dict[str, Any]) -> list[str]:
    """The detail as short lines, most useful first."""
    if not detail:
        return []
    lines: list[str] = []
    if detail.get("skipped"):
        why = detail.get("why") or detail.get("reason") or "no reason given"
        lines.append(_short(f"skipped: {why}"))
        return lines
    if detail.get("error"):
        lines.append(_short(f"error: {detail['error']}"))
    done = {"error", "skipped"}
    if "passed" in detail and "total" in detail:
        lines.append(f"{detail['passed']}/{detail['total']} passed")
        done |= {"passed", "total"}
    elif isinstance(detail.get("passed"), int) and isinstance(detail.get("failed"), int):
        lines.append(f"{detail['passed']}/{detail['passed'] + detail['failed']} passed")
        done |= {"passed", "failed"}
    failures = detail.get("failures") or []
    for failure in failures[:MAX_FAILURES_SHOWN]:
        if isinstance(failure, dict):
            name = failure.get("test") or failure.get("name") or "test"
            why = failure.get("error") or failure.get("message") or ""
            lines.append(_short(f"✗ {name}: {why}"))
        else:
            lines.append(_short(f"✗ {failure}"))
    if len(failures) > MAX_FAILURES_SHOWN:
        lines.append(f"… and {len(failures) - MAX_FAILURES_SHOWN} more failures")
    done |= {"failures", "stdout", "duration_s"}
    if detail.get("reason"):
        lines.append(_short(f"reason: {detail['reason']}"))
    done.add("reason")
    checks = detail.get("checks")
    if isinstance(checks, list):
        for check in checks:
            if isinstance(check, dict) and not check.get("ok", True):
                lines.append(_short(f"✗ expected {check.get('expected', '?')}, "
                                    f"got {check.get('got')}"))
        done.add("checks")
    if "missing" in detail or "found" in detail:
        lines.append(_short(f"found: {_value(detail.get('found') or [])} · missing: "
                            f"{_value(detail.get('missing') or [])}"))
        done |= {"missing", "found"}
    rest = [f"{k} {_value(v)}" for k, v in detail.items() if k not in done]
    if rest:
        lines.append(_short(" · ".join(rest)))
    return lines
