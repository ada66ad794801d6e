"""An agent run in the batch detail: its telemetry, its transcript and its final diff.

Plain rich renderables built from what the store returns, so the screen only loads (in a
worker) and shows. Long tool results are cut to a few lines: the full text stays in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text

from tui_bench.domain import AgentTelemetry

RESULT_LINES = 6
DIFF_LINES = 400


@dataclass
class AgentRun:
    """What the batch detail shows for an agent run."""

    telemetry: AgentTelemetry | None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""


def _cut(text: str, lines: int = RESULT_LINES) -> str:
    rows = text.splitlines()
    if len(rows) <= lines:
        return text.rstrip("\n")
    return "\n".join(rows[:lines]) + f"\n… {len(rows) - lines} more lines"


def telemetry_line(t: AgentTelemetry) -> str:
    calls = ", ".join(f"{name} {count}" for name, count in sorted(t.tool_calls.items()))
    return (f"{t.turns} turns · ended: {t.end_reason or 'unknown'} · tools: {calls or 'none'} · "
            f"malformed {t.malformed_calls} · refused {t.refused_calls} · "
            f"{t.files_changed} files +{t.lines_added} −{t.lines_removed}")


def transcript_text(transcript: list[dict[str, Any]]) -> Text:
    """Each message on its own: who spoke, the calls made and what each returned."""
    out = Text()
    for message in transcript:
        role = str(message.get("role"))
        if role == "system":
            continue
        if role == "tool":
            out.append(f"  → {message.get('name')}: ", style="cyan")
            out.append(_cut(str(message.get("content") or "")) + "\n", style="dim")
            continue
        content = str(message.get("content") or "").strip()
        if content:
            out.append(f"{role}: ", style="bold")
            out.append(_cut(content, 12) + "\n")
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            out.append(f"▸ {function.get('name')}", style="bold cyan")
            out.append(f"({_cut(str(function.get('arguments') or ''), 3)})\n")
    return out


def agent_detail(run: AgentRun) -> Group:
    parts: list[Any] = [Text("Agent", style="bold")]
    if run.telemetry is not None:
        parts.append(Text(telemetry_line(run.telemetry)))
    parts.append(Text("Transcript", style="bold"))
    parts.append(transcript_text(run.transcript) if run.transcript
                 else Text("(no transcript)", style="dim"))
    parts.append(Text("Diff", style="bold"))
    if run.diff:
        parts.append(Syntax(_cut(run.diff, DIFF_LINES), "diff", theme="ansi_dark",
                            background_color="default", word_wrap=True))
    else:
        parts.append(Text("(no changes)", style="dim"))
    return Group(*parts)
