"""What every tui-bench screen shares: one typed way to reach the app.

Screens read the app's store, catalog, settings, models and running batch through
``self.bench``, typed as ``BenchApp``; no string lookups, ``getattr`` or ``type: ignore``.
Data from the store is loaded in a thread worker (``@work(thread=True)``) that posts one of the
screen's own typed messages; the handler updates the widgets on the message loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import Screen

if TYPE_CHECKING:
    from tui_bench.tui.app import BenchApp

ResultT = TypeVar("ResultT")


class BenchScreen(Screen[ResultT]):
    """A screen that lives inside ``BenchApp``."""

    @property
    def bench(self) -> BenchApp:
        """The app, typed. A screen hosted by another app is a bug, and says so."""
        from tui_bench.tui.app import BenchApp  # the app imports the screens, not the reverse

        app = self.app
        if not isinstance(app, BenchApp):
            raise TypeError(f"{type(self).__name__} runs inside BenchApp, not {type(app).__name__}")
        return app
