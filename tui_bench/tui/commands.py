"""The command palette's view of the keys: every binding of the screen it was opened from.

Built from the live bindings rather than a second list, so a key added to a screen shows up
in the palette (and in help) without anyone remembering to register it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

# App actions the built-in system commands already offer under the same name.
COVERED_BY_SYSTEM = {"quit", "change_theme"}


class BenchCommands(Provider):
    """One command per key binding of the calling screen (and its focused widget)."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.system or not active.enabled:
                continue
            if active.node is not self.screen and active.node is not self.app \
                    and not binding.show:
                continue  # a widget's own cursor keys (up, page down...): not commands
            if active.node is self.app and binding.action in COVERED_BY_SYSTEM:
                continue
            name = binding.description
            if name in seen:
                continue
            seen.add(name)
            shown = binding.key_display or self.app.get_key_display(binding)
            help_text = f"key {shown}" + (f" · {binding.tooltip}" if binding.tooltip else "")
            yield name, help_text, partial(self.app.run_action, binding.action, active.node)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            # The help text counts too: "weights" finds the tab whose key says so.
            score = max(matcher.match(name), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
