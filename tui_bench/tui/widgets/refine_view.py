"""A refine run in the batch detail: its effort, then every round's action, self-score, score
and answer (answers cut to a few lines; the whole text stays in the attempts table)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui_bench.domain import Attempt, RefineTelemetry

ANSWER_LINES = 8


def _cut(text: str, lines: int = ANSWER_LINES) -> str:
    rows = text.splitlines()
    if len(rows) <= lines:
        return text.rstrip("\n")
    return "\n".join(rows[:lines]) + f"\n… {len(rows) - lines} more lines"


def effort_line(t: RefineTelemetry) -> str:
    def score(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    level = f" ({t.effort} effort)" if t.effort else ""
    return (f"threshold {t.threshold:g}{level} · {t.new_answer_count} new answer(s) of "
            f"{t.max_new_answers} · effort ratio {t.effort_ratio:.2f} · ended: "
            f"{t.end_reason or 'unknown'} · first answer {score(t.first_score)} → final "
            f"{score(t.final_score)}" + (" · one answer only" if t.collapsed else ""))


def refine_detail(refine: RefineTelemetry | None, rounds: list[Attempt]) -> Group:
    """Rich renderables for a refine run."""
    parts: list[Any] = [Text("Refine", style="bold")]
    if refine is None:
        parts.append(Text("no refine telemetry stored", style="dim"))
    else:
        style = "red" if refine.malformed else ""
        parts.append(Text(effort_line(refine), style=style))
    table = Table(title="Rounds", title_justify="left", box=None, padding=(0, 1),
                  show_lines=False)
    for name in ("#", "action", "self-score", "score", "answer"):
        table.add_column(name, justify="right" if name in ("#", "self-score", "score")
                         else "left", overflow="fold")
    for a in rounds:
        action = Text(a.action or "—", style={"malformed": "red", "stop": "green"}.get(
            a.action or "", ""))
        scored = "—" if a.auto_score is None else f"{a.auto_score:.3f}"
        text = a.output if a.action != "malformed" else f"{a.feedback}\n{a.output}"
        table.add_row(str(a.attempt), action, "—" if a.self_score is None else str(a.self_score),
                      scored, _cut(text or ""))
    parts.append(table)
    return Group(*parts)
