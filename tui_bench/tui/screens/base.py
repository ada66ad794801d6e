"""What every tui-bench screen shares: one typed way to reach the app.

Screens read the app's store, catalog, settings, models and running batch through
``self.bench``, typed as ``BenchApp``; no string lookups, ``getattr`` or ``type: ignore``.
Data from the store is loaded in a thread worker (``@work(thread=True)``) that posts one of the
screen's own typed messages; the handler updates the widgets on the message loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tui_bench.store import StoreError
from tui_bench.store.doctor import database_error_line, is_database_error

if TYPE_CHECKING:
    from tui_bench.tui.app import BenchApp

ResultT = TypeVar("ResultT")


class BenchScreen(Screen[ResultT]):
    """A screen that lives inside ``BenchApp``."""

    _database_error_said = False  # one notice per screen, however many reads fail

    @property
    def bench(self) -> BenchApp:
        """The app, typed. A screen hosted by another app is a bug, and says so."""
        from tui_bench.tui.app import BenchApp  # the app imports the screens, not the reverse

        app = self.app
        if not isinstance(app, BenchApp):
            raise TypeError(f"{type(self).__name__} runs inside BenchApp, not {type(app).__name__}")
        return app

    @on(Worker.StateChanged)
    def _say_database_errors(self, event: Worker.StateChanged) -> None:
        """A store read that failed in a worker says so in one line, instead of empty tables.

        Damaged pages, a full disk or a locked file: the same words as the CLI, pointing at
        ``tui-bench doctor``, shown once per screen.
        """
        error = event.worker.error
        if event.state != WorkerState.ERROR or error is None:
            return
        if not (is_database_error(error) or isinstance(error, StoreError)):
            return
        if self._database_error_said:
            return
        self._database_error_said = True
        line = database_error_line(error, self.bench.store.path)
        self.notify(line, title="Database error", severity="error", timeout=30)
