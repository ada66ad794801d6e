"""Rows and problem lines for the model pickers; figures are formatted by ``present``."""

from __future__ import annotations

from rich.text import Text

from tui_bench.domain import ModelInfo

ModelRow = tuple[str | None, Text | str, str, Text]


def size_text(info: ModelInfo) -> str:
    """``135M Q4_1``: parameters and quantization in one short column."""
    parts = [p for p in (info.parameter_size, info.quantization) if p]
    return " ".join(parts) or "—"


def model_rows(models: list[ModelInfo], errors: dict[str, str],
               discovering: bool) -> list[ModelRow]:
    """Rows ``(ref or None, model, size, state)``; a dead backend is one row marked down."""
    rows: list[ModelRow] = []
    for info in sorted(models, key=lambda m: m.ref):
        state = Text("up", style="green") if info.reachable else Text("down", style="red")
        rows.append((info.ref, info.ref, size_text(info), state))
    for backend in sorted(errors):
        rows.append((None, Text(f"{backend}:*", style="dim"), "", Text("down", style="red")))
    if discovering:
        rows.append((None, Text("asking backends…", style="dim italic"), "", Text("")))
    elif not rows:
        rows.append((None, Text("no models found", style="dim"), "", Text("")))
    return rows


HOW_TO_POINT = {
    "ollama": "none at the default address; point at a server with --ollama-host URL or "
              "OLLAMA_HOST",
}


def backend_problems(errors: dict[str, str], notes: dict[str, str] | None = None) -> Text:
    """One line per unreachable backend someone asked for, with the reason it gave; one calm
    line per backend nobody asked for, saying how to point at a server."""
    text = Text()
    for backend, error in sorted(errors.items()):
        if text:
            text.append("\n")
        text.append(f"{backend} unreachable: ", style="bold red")
        text.append(first_line(error, 200), style="red")
    for backend in sorted(notes or {}):
        if text:
            text.append("\n")
        text.append(f"{backend}: ", style="dim bold")
        text.append(HOW_TO_POINT.get(backend, "not configured"), style="dim")
    return text


def first_line(text: str, limit: int = 60) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"
