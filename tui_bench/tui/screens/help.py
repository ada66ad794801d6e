"""Help: the keys of the screen you came from, read from its bindings, not written by hand."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def _base_bindings() -> set[tuple[str, str]]:
    """(key, action) pairs Textual's own App and Screen bind (focus, copy, ctrl+q)."""
    from textual.app import App

    out: set[tuple[str, str]] = set()
    for binding in [*App.BINDINGS, *Screen.BINDINGS]:
        if isinstance(binding, Binding):
            out.update((key.strip(), binding.action) for key in binding.key.split(","))
    return out


def bindings_for(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """``(key, what it does, where)`` for the keys of ``screen``: its own first, then the
    focused widget's (those shown in the footer), then the app's."""
    app = screen.app
    base = _base_bindings()
    rows: list[tuple[int, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.system:
            continue
        if active.node is app:
            rank, where = 2, "app"
        elif active.node is screen:
            rank, where = 0, "screen"
        else:
            if not binding.show:  # a widget's own cursor keys: the usual, not worth a line
                continue
            rank, where = 1, type(active.node).__name__
        if (binding.key, binding.action) in base or binding.action == "command_palette":
            continue
        key = binding.key_display or app.get_key_display(binding)
        if (key, binding.action) in seen:
            continue
        seen.add((key, binding.action))
        does = binding.description + (f": {binding.tooltip}" if binding.tooltip else "")
        rows.append((rank, key, does, where))
    rows.sort(key=lambda r: r[0])
    out = [(key, description, where) for _, key, description, where in rows]
    palette = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette"))
    out.append((palette, "Command palette: every action by name", "app"))
    out.append(("tab", "Next pane (shift+tab: previous)", "screen"))
    return out


class HelpScreen(ModalScreen[None]):
    """A table of keys; any of escape, ``q`` or ``?`` closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc")]

    def __init__(self, rows: list[tuple[str, str, str]], *, title: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.title_text = title

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("from", style="dim", no_wrap=True)
        for key, description, where in self.rows:
            table.add_row(key, description, where)
        with Vertical(id="help"):
            yield Static(Text(f"Keys · {self.title_text}", style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(table)
            yield Static("esc closes", id="help-hint")
