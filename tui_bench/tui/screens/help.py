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


def bindings_for(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """``(key, what it does, where)`` for every described binding active on ``screen``."""
    app = screen.app
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description:
            continue
        key = binding.key_display or app.get_key_display(binding)
        where = "app" if active.node is app else (
            "screen" if active.node is screen else type(active.node).__name__)
        if (key, binding.description) in seen:
            continue
        seen.add((key, binding.description))
        rows.append((key, binding.description, where))
    order = {"widget": 0, "screen": 1, "app": 2}
    rows.sort(key=lambda r: order.get(r[2], 0))
    palette = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette"))
    rows.append((palette, "Command palette: every action by name", "app"))
    return rows


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
