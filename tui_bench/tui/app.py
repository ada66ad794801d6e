"""The Textual app: wires the store, catalog, backends and screens together, nothing more.

``make_app`` is the one factory the CLI and the tests share; everything the app touches is
injected, so a test can hand it a temporary database and a pool of fake backends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme
from textual.widgets import Footer

from tui_bench import locations
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, ModelInfo
from tui_bench.present import duration
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.commands import BenchCommands
from tui_bench.tui.prefs import load_preferences, save_preferences
from tui_bench.tui.screens.batches import BatchesScreen
from tui_bench.tui.screens.choose import ChooseScreen
from tui_bench.tui.screens.confirm import YesNoDialog
from tui_bench.tui.screens.help import HelpScreen, bindings_for
from tui_bench.tui.screens.home import HomeScreen
from tui_bench.tui.screens.judge import JudgeScreen
from tui_bench.tui.screens.live import LiveScreen
from tui_bench.tui.screens.mint import MintScreen
from tui_bench.tui.screens.models import ModelsScreen
from tui_bench.tui.screens.reports import ReportsScreen
from tui_bench.tui.session import BatchSession

PoolFactory = Callable[[Settings], BackendPool]
NARROW_FOOTER_BELOW = 100
DISCOVERY_TIMEOUT_S = 8.0

# Commands offered in the palette from anywhere: (name, help, app action).
NAVIGATION: list[tuple[str, str, str]] = [
    ("Home", "Back to the home screen", "home"),
    ("New batch", "Choose models and scenarios, then run them", "new_batch"),
    ("Batches", "Browse past batches", "batches"),
    ("Judge", "Judge runs against their rubric", "judge"),
    ("Reports", "Leaderboards and comparisons", "reports"),
    ("Specialists", "Mint specialist snapshots", "mint"),
    ("Models & effort", "The model registry and calibrated effort levels", "models"),
    ("Live run", "Watch the batch that is running", "live"),
    ("Refresh models", "Ask every backend again which models it offers", "discover"),
]

# The feature screens' main actions, findable by name from anywhere (always offered: their
# names are what people search for, even where a key opens the same screen).
FEATURE_ACTIONS: list[tuple[str, str, str]] = [
    ("Resume a batch", "Home lists unfinished batches; u resumes the selected one", "home"),
    ("Export a batch", "Batches: open a batch, x exports HTML (tui-bench export: json, csv, "
     "md)", "batches"),
    ("Compare batches", "Batches: space marks two batches, c compares them", "batches"),
    ("Routing weights", "Reports, Weights tab: which model each category favours",
     "reports_tab('weights')"),
    ("Enrich a template", "Specialists: choose a template, e fetches its docs and enriches it",
     "mint"),
    ("Mint a snapshot", "Specialists: choose a template and a batch, m mints", "mint"),
]


class BenchApp(App[int]):
    """tui-bench's full-screen front end."""

    TITLE = "tui-bench"
    CSS_PATH = ["app.tcss"]
    COMMANDS = App.COMMANDS | {BenchCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("t", "change_theme", "Theme", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, *, store: Store, catalog: Catalog, settings: Settings,
                 pool_factory: PoolFactory | None = None, config_path: Path | None = None,
                 discover: bool = True) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.pool_factory: PoolFactory = pool_factory or BackendPool
        self.config_path = config_path or locations.config_path()
        self.prefs, self._prefs_problem = load_preferences(self.config_path)
        self._discover_on_start = discover
        self._pool: BackendPool | None = None
        self.session: BatchSession | None = None
        self.models: list[ModelInfo] = []
        self.backend_errors: dict[str, str] = {}
        # Backends nobody configured (Ollama at its default address) that did not answer:
        # worth one calm line on how to point at a server, not a red error.
        self.backend_notes: dict[str, str] = {}
        self.discovering = False
        self.models_changed: Signal[None] = Signal(self, "models-changed")
        self.batch_changed: Signal[None] = Signal(self, "batch-changed")

    # ---- start-up and shutdown

    @property
    def pool(self) -> BackendPool:
        """The backend pool, created on the app's own loop the first time it is needed."""
        if self._pool is None:
            self._pool = self.pool_factory(self.settings)
        return self._pool

    def on_mount(self) -> None:
        if self.prefs.theme and self.prefs.theme in self.available_themes:
            self.theme = self.prefs.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.screen_change_signal.subscribe(self, lambda _: self.call_after_refresh(
            self._fit_footer))
        self.push_screen(HomeScreen())
        if self._prefs_problem:
            self.notify(self._prefs_problem, title="Settings ignored", severity="warning",
                        timeout=10)
        if self._discover_on_start:
            self.action_discover()

    async def on_unmount(self) -> None:
        if self.session is not None and self.session.active:
            self.session.cancel()
        if self._pool is not None:
            await self._pool.aclose()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_footer)

    def _fit_footer(self) -> None:
        """Below 100 columns every screen's footer goes compact and drops the palette key
        (ctrl+p still works; ? lists it): otherwise the keys run under it and both garble."""
        if self.size.width >= NARROW_FOOTER_BELOW:
            return
        for footer in self.screen.query(Footer):
            footer.compact = True
            footer.show_command_palette = False

    # ---- preferences

    def _remember_theme(self, theme: Theme) -> None:
        self.prefs.theme = theme.name
        self.save_prefs()

    def save_prefs(self) -> None:
        """Write the remembered choices; a failure is a notification, never a crash."""
        try:
            save_preferences(self.config_path, self.prefs)
        except OSError as exc:
            self.notify(f"cannot save settings to {self.config_path}: {exc}",
                        severity="warning")

    # ---- model discovery

    def action_discover(self) -> None:
        self.discovering = True
        self.models_changed.publish(None)
        self._discover()

    @work(exclusive=True, exit_on_error=False, group="discover", description="model discovery")
    async def _discover(self) -> None:
        """Ask every configured backend for its models at once; a dead one is just unreachable."""
        pool = self.pool

        async def one(name: str) -> tuple[str, list[ModelInfo], str | None]:
            try:
                backend = pool.get(name)
                found = await asyncio.wait_for(backend.list_models(), DISCOVERY_TIMEOUT_S)
                return name, list(found), None
            except TimeoutError:
                return name, [], f"no answer in {DISCOVERY_TIMEOUT_S:g}s"
            except Exception as exc:  # unreachable, misconfigured or not installed
                return name, [], str(exc) or type(exc).__name__

        try:
            results = await asyncio.gather(*(one(n) for n in pool.configured()))
            models: list[ModelInfo] = []
            errors: dict[str, str] = {}
            for name, found, error in results:
                models.extend(found)
                if error is not None:
                    errors[name] = error
            self.models = models
            unasked = {name for name in errors if self._unasked(name)}
            self.backend_errors = {k: v for k, v in errors.items() if k not in unasked}
            self.backend_notes = {k: v for k, v in errors.items() if k in unasked}
            if models:
                try:
                    self.store.record_models(models)
                except Exception as exc:  # the registry is a nicety here
                    self.log.warning(f"could not record models: {exc}")
        finally:
            self.discovering = False
            self.models_changed.publish(None)

    def _unasked(self, backend: str) -> bool:
        """Ollama is always asked at its default address; only a host someone named counts
        as asked for."""
        return backend == "ollama" and not self.settings.ollama_hosts

    # ---- batches

    def start_batch(self, spec: BatchSpec, *, resume: bool = False) -> BatchSession | None:
        """Run a batch in an app-level worker and show it live; one batch at a time."""
        if self.session is not None and self.session.active:
            self.notify(f"batch {self.session.spec.batch_id} is still running; "
                        "cancel it first", severity="warning")
            return None
        from tui_bench.engine.runner import Runner

        session = BatchSession(spec, resume=resume)
        persona = None
        if any(spec.specialists):  # specialist cells take the template's persona
            from tui_bench.specialists.templates import persona_resolver

            persona = persona_resolver(locations.templates_dir())
        session.runner = Runner(self.store, self.catalog, pool=self.pool,
                                settings=self.settings, on_event=session.state.on_event,
                                persona=persona)
        self.session = session
        session.worker = self.run_worker(
            self._run_session(session), name=f"batch {spec.batch_id}", group="batch",
            exit_on_error=False, description=f"running {spec.batch_id}")
        self.batch_changed.publish(None)
        return session

    async def _run_session(self, session: BatchSession) -> None:
        state = session.state
        if state.status == "cancelled":  # cancelled before it could start
            return
        sampler = self.set_interval(1.0, state.sample_rates, name="tokens/s sampler")
        try:
            assert session.runner is not None
            result = await session.runner.run(session.spec, resume=session.resume)
        except Exception as exc:  # a batch that cannot start: say why, keep the app
            state.status = "failed"
            state.error = f"{type(exc).__name__}: {exc}" if not isinstance(
                exc, ValueError) else str(exc)
            self.notify(state.error, title="Batch did not run", severity="error", timeout=15)
        else:
            severity: SeverityLevel = ("information" if result.status == "finished"
                                       else "warning")
            self.notify(f"{result.status}: {result.done} ok, {result.failed} failed, "
                        f"{result.cancelled} cancelled in {duration(result.elapsed_s)}",
                        title=session.spec.batch_id, severity=severity)
        finally:
            sampler.stop()
            self.batch_changed.publish(None)

    async def stop_batch(self) -> None:
        """Cancel the running batch and wait until what finished is stored."""
        session = self.session
        if session is None or not session.active:
            return
        session.cancel()
        if session.worker is not None:
            try:
                await session.worker.wait()
            except Exception as exc:  # the worker's own error was already reported
                self.log.warning(f"batch worker ended with {exc!r}")

    # ---- navigation

    def action_home(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()

    def action_new_batch(self) -> None:
        self.push_screen(ChooseScreen())

    def action_live(self) -> None:
        if self.session is None:
            self.notify("no batch has run in this session yet", severity="warning")
            return
        if isinstance(self.screen, LiveScreen):
            return
        self.push_screen(LiveScreen(self.session))

    def show_live(self) -> None:
        """Replace the current screen (the choose screen) with the live run."""
        assert self.session is not None
        self.switch_screen(LiveScreen(self.session))

    def action_batches(self) -> None:
        self.push_screen(BatchesScreen(store=self.store, catalog=self.catalog,
                                       settings=self.settings))

    def action_judge(self) -> None:
        self.push_screen(JudgeScreen(store=self.store, catalog=self.catalog,
                                     settings=self.settings))

    def action_reports(self) -> None:
        self.push_screen(ReportsScreen(store=self.store, catalog=self.catalog,
                                       settings=self.settings))

    def action_mint(self) -> None:
        self.push_screen(MintScreen(store=self.store, catalog=self.catalog,
                                    settings=self.settings, pool=self.pool))

    def action_models(self) -> None:
        self.push_screen(ModelsScreen(store=self.store, catalog=self.catalog,
                                      settings=self.settings))

    def action_reports_tab(self, tab: str) -> None:
        """Reports, opened on one tab (the palette's "Routing weights")."""
        screen = ReportsScreen(store=self.store, catalog=self.catalog, settings=self.settings)
        self.push_screen(screen)
        self.call_after_refresh(screen.action_tab, tab)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(bindings_for(self.screen), title=self.screen_title()))

    def screen_title(self) -> str:
        """What the user calls the screen: its SUB_TITLE, else its class name said as words
        (``BatchDetailScreen`` -> ``Batch detail``), never the bare class name."""
        title = self.screen.SUB_TITLE
        if title:
            return str(title)
        words = re.findall(r"[A-Z][a-z0-9]*", type(self.screen).__name__.removesuffix("Screen"))
        return " ".join(words).capitalize() or "this screen"

    # ---- quitting

    async def action_quit(self) -> None:
        if self.session is not None and self.session.active:
            self._confirm_quit()
        else:
            self.exit(0)

    @work(exclusive=True, group="quit")
    async def _confirm_quit(self) -> None:
        if isinstance(self.screen, YesNoDialog):
            return
        state = self.session.state if self.session else None
        left = f" ({state.finished} of {state.to_run} cells done)" if state else ""
        quit_now = await self.push_screen_wait(YesNoDialog(
            f"A batch is running{left}. Stop it and quit?\n"
            "Finished cells stay stored; resume the batch from the home screen.",
            yes="Stop and quit", no="Keep running"))
        if quit_now:
            await self.stop_batch()
            self.exit(0)

    # ---- command palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        bound = {active.binding.action.removeprefix("app.")
                 for active in screen.active_bindings.values()}
        for name, help_text, action in NAVIGATION:
            if action not in bound:  # the screen's own binding already offers it by name
                yield SystemCommand(name, help_text, self._action_callback(action))
        for name, help_text, action in FEATURE_ACTIONS:
            yield SystemCommand(name, help_text, self._action_callback(action))

    def _action_callback(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)
        return run


def make_app(store: Store, catalog: Catalog, settings: Settings,
             pool_factory: PoolFactory | None = None, *, config_path: Path | None = None,
             discover: bool = True) -> BenchApp:
    """Build the app around an open store; the CLI and the tests both come through here."""
    return BenchApp(store=store, catalog=catalog, settings=settings, pool_factory=pool_factory,
                    config_path=config_path, discover=discover)
