"""Choose what to run: models, scenarios and options, with the grid size and a time estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Footer, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from tui_bench import locations
from tui_bench.catalog import HUMANEVAL_SUITE
from tui_bench.domain import (
    DEFAULT_MODEL,
    DEFAULT_PROMPT_VERSION,
    DEFAULT_TIER,
    MODES,
    BatchSpec,
    GenerationOptions,
    ModelRef,
    normalise_tier,
)
from tui_bench.engine.plan import (
    new_batch_id,
    normalise_axes,
    option_combinations,
    parse_values,
    plan,
)
from tui_bench.present import duration
from tui_bench.tui.prefs import ChoiceOptions
from tui_bench.tui.screens.base import BenchScreen
from tui_bench.tui.widgets.model_picker import ModelPicker
from tui_bench.tui.widgets.preview import scenario_preview
from tui_bench.tui.widgets.scenario_tree import ScenarioTree

DEFAULT_CELL_S = 10.0  # the guess per cell when no past run of a model is stored


class ChooseScreen(BenchScreen[None]):
    """Models x scenarios x options; ctrl+r starts the batch and shows it live."""

    @dataclass
    class TimingsLoaded(Message):
        """Mean cell time per model from past runs, for the estimate."""

        models: tuple[str, ...]
        timings: dict[str, tuple[float, int]]

    SUB_TITLE = "new batch"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start batch", priority=True),
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+f", "focus_filter", "Filter models", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._timings: dict[str, tuple[float, int]] = {}
        self._timed_models: tuple[str, ...] = ()
        self._preview_id: str | None = None

    def compose(self) -> ComposeResult:
        app = self.bench
        prefs = app.prefs
        known = set(app.catalog.scenarios)
        remembered = [s for s in prefs.scenarios
                      if s in known or s.startswith(f"{HUMANEVAL_SUITE}-")]
        opts = prefs.options
        # A first run (nothing remembered) starts with the model that works offline.
        models = prefs.models or [DEFAULT_MODEL]
        yield Header()
        with Horizontal(id="choose-main"):
            with Vertical(id="choose-left"):
                with Vertical(id="models-box", classes="pane"):
                    yield ModelPicker(models, id="models")
                with Vertical(id="scenarios-box", classes="pane"):
                    yield ScenarioTree(app.catalog, remembered, id="scenarios")
            with Vertical(id="choose-right"):
                with VerticalScroll(id="preview-box", classes="pane"):
                    yield Static(id="preview")
                with Grid(id="options", classes="pane"):
                    yield Label("mode")
                    yield Select([(m, m) for m in MODES], value=opts.mode if opts.mode in MODES
                                 else "zero-shot", allow_blank=False, id="opt-mode",
                                 compact=True)
                    yield Label("special")
                    # Each cell once as is and once with the template's persona.
                    yield Select([(f"{name} (with and without)", name)
                                  for name in specialist_templates()],
                                 prompt="no specialist", id="opt-specialist", compact=True)
                    yield Label("tiers")
                    yield Input(",".join(opts.tiers), id="opt-tiers", compact=True)
                    yield Label("version")
                    yield Input(",".join(opts.prompt_versions), id="opt-version", compact=True)
                    yield Label("repeat")
                    yield Input(str(opts.iterations), id="opt-iterations", type="integer",
                                compact=True)
                    # A comma list sweeps the option: each value is an axis of the grid.
                    yield Label("max tok")
                    yield Input(_axis_text(opts, "max_tokens", opts.max_tokens),
                                id="opt-max-tokens", compact=True)
                    yield Label("temp")
                    yield Input(_axis_text(opts, "temperature", opts.temperature),
                                id="opt-temperature", placeholder="0 or 0,0.7", compact=True)
                    yield Label("seed")
                    yield Input(_axis_text(opts, "seed", opts.seed), id="opt-seed",
                                placeholder="none", compact=True)
                    yield Label("ctx")
                    yield Input(_axis_text(opts, "num_ctx", opts.num_ctx), id="opt-num-ctx",
                                placeholder="2048 or 2048,8192", compact=True)
                    yield Label("top p")
                    yield Input(_axis_text(opts, "top_p", opts.top_p), id="opt-top-p",
                                placeholder="default", compact=True)
                    yield Label("threads")
                    yield Input(_axis_text(opts, "threads", opts.threads), id="opt-threads",
                                placeholder="auto", compact=True)
                    yield Label("workers")
                    yield Input("" if opts.concurrency is None else str(opts.concurrency),
                                id="opt-concurrency", placeholder="auto", type="integer",
                                compact=True)
                    yield Label("cache")
                    yield Checkbox(id="opt-cache", compact=True,
                                   tooltip="Reuse a stored answer of the same model, prompt, "
                                   "options, seed and iteration (zero-shot; marked cached)")
        yield Static(id="grid-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#models-box").border_title = "Models · space/enter picks"
        self.query_one("#scenarios-box").border_title = "Scenarios · space picks"
        self.query_one("#preview-box").border_title = "Preview"
        self.query_one("#options").border_title = "Options"
        app = self.bench
        app.models_changed.subscribe(self, lambda _: self._show_models())
        self._show_models()
        self._show_preview()
        self._update_summary()
        # Always the model table first (not the filter, not wherever discovery timing led).
        self.query_one("#model-table").focus()

    def _show_models(self) -> None:
        app = self.bench
        self.query_one(ModelPicker).set_models(app.models, app.backend_errors, app.discovering,
                                               notes=app.backend_notes)
        self._update_summary()

    def action_focus_filter(self) -> None:
        self.query_one("#model-filter", Input).focus()

    # ---- reacting to choices

    @on(ModelPicker.Changed)
    @on(ScenarioTree.Changed)
    @on(Input.Changed, "#options Input")
    @on(Select.Changed, "#opt-mode")
    @on(Select.Changed, "#opt-specialist")
    def _changed(self, event: Any) -> None:
        if isinstance(event, Input.Changed) and event.input.id in ("opt-tiers", "opt-version"):
            self._show_preview()
        self._update_summary()

    @on(ScenarioTree.Previewed)
    def _previewed(self, event: ScenarioTree.Previewed) -> None:
        self._preview_id = event.scenario.id if event.scenario else None
        self._show_preview()

    def _show_preview(self) -> None:
        tree = self.query_one(ScenarioTree)
        scenario = tree.scenario(self._preview_id) if self._preview_id else None
        tiers = _split(self.query_one("#opt-tiers", Input).value)
        versions = _split(self.query_one("#opt-version", Input).value)
        try:
            tier = normalise_tier(tiers[0]) if tiers else DEFAULT_TIER
        except ValueError:
            tier = DEFAULT_TIER
        version = versions[0] if versions else DEFAULT_PROMPT_VERSION
        self.query_one("#preview", Static).update(
            scenario_preview(scenario, self.bench.catalog, tier=tier, version=version))

    # ---- the spec the fields describe

    def choice_options(self) -> ChoiceOptions:
        """Read the option fields; raises ValueError naming the field that is wrong."""
        def text(field_id: str) -> str:
            return self.query_one(f"#{field_id}", Input).value.strip()

        def integer(field_id: str, name: str, *, blank: int | None = None) -> int | None:
            raw = text(field_id)
            if not raw:
                return blank
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"{name} must be a whole number") from None

        tiers = []
        for item in _split(text("opt-tiers")) or [DEFAULT_TIER]:
            tiers.append(normalise_tier(item))
        axes: dict[str, list[Any]] = {}
        for name, field_id, label, kind in AXIS_FIELDS:
            values = parse_values(label, text(field_id), kind)
            if len(values) > 1:
                axes[name] = values
            axes.setdefault(f"_{name}", values[:1])
        first = {name: (axes.pop(f"_{name}") or [None])[0] for name, *_ in AXIS_FIELDS}
        mode = self.query_one("#opt-mode", Select).value
        return ChoiceOptions(
            tiers=tiers, prompt_versions=_split(text("opt-version")) or [DEFAULT_PROMPT_VERSION],
            iterations=integer("opt-iterations", "repeat", blank=1) or 1,
            mode=str(mode), concurrency=integer("opt-concurrency", "workers"),
            seed=first["seed"], temperature=first["temperature"] or 0.0,
            max_tokens=first["max_tokens"] or 256, num_ctx=first["num_ctx"] or 2048,
            top_p=first["top_p"], threads=first["threads"], axes=axes)

    def build_spec(self) -> BatchSpec:
        """The batch the screen describes; ValueError with a plain reason when it cannot be."""
        models = list(self.query_one(ModelPicker).selected)
        scenarios = list(self.query_one(ScenarioTree).marked)
        if not models:
            raise ValueError("pick at least one model")
        if not scenarios:
            raise ValueError("pick at least one scenario")
        opts = self.choice_options()
        specialist = self.query_one("#opt-specialist", Select).value
        specialists = ["", str(specialist)] if isinstance(specialist, str) else [""]
        try:
            normalise_axes(opts.axes)  # a swept value out of range is named before the start
            return BatchSpec(
                specialists=specialists,
                batch_id=new_batch_id(), models=[str(ModelRef.parse(m)) for m in models],
                scenarios=scenarios, tiers=opts.tiers, prompt_versions=opts.prompt_versions,
                iterations=opts.iterations, mode=opts.mode,  # type: ignore[arg-type]
                concurrency=opts.concurrency, option_axes=opts.axes,
                cache=self.query_one("#opt-cache", Checkbox).value and opts.mode == "zero-shot",
                options=GenerationOptions(temperature=opts.temperature, seed=opts.seed,
                                          max_tokens=opts.max_tokens, num_ctx=opts.num_ctx,
                                          top_p=opts.top_p, threads=opts.threads))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise ValueError(f"{where}: {err.get('msg')}") from None

    def _estimate(self, spec: BatchSpec, cells: int) -> tuple[float, str]:
        models = tuple(spec.models)
        if models != self._timed_models:  # guess until the past timings are read
            self._timings, self._timed_models = {}, models
            self._load_timings(models)
        per_model = cells / max(len(models), 1)
        seconds = 0.0
        guessed = []
        for model in models:
            timing = self._timings.get(model)
            if timing is None:
                guessed.append(model)
                seconds += per_model * DEFAULT_CELL_S
            else:
                seconds += per_model * timing[0] / 1000
        if not guessed:
            basis = "from past runs"
        elif len(guessed) == len(models):
            basis = "guessed"
        else:
            basis = "partly guessed"
        return seconds, basis

    @work(thread=True, exclusive=True, group="timings", exit_on_error=False,
          description="read past cell timings")
    def _load_timings(self, models: tuple[str, ...]) -> None:
        timings = self.bench.store.mean_total_ms(list(models))
        if not get_current_worker().is_cancelled:
            self.post_message(self.TimingsLoaded(models, timings))

    @on(TimingsLoaded)
    def _on_timings_loaded(self, message: TimingsLoaded) -> None:
        if message.models == self._timed_models:
            self._timings = message.timings
            self._update_summary()

    def _update_summary(self) -> None:
        summary = self.query_one("#grid-summary", Static)
        try:
            spec = self.build_spec()
        except ValueError as exc:
            summary.update(Text.assemble(("✗ ", "bold red"), str(exc)))
            summary.set_class(True, "invalid")
            return
        cells = len(plan(spec))
        seconds, basis = self._estimate(spec, cells)
        summary.set_class(False, "invalid")
        factors = [_count(len(spec.models), "model"), _count(len(spec.scenarios), "scenario"),
                   _count(len(spec.tiers), "tier")]
        if len(spec.prompt_versions) > 1:
            factors.append(_count(len(spec.prompt_versions), "version"))
        settings = len(option_combinations(spec))
        if settings > 1:
            factors.append(_count(settings, "setting"))
        if spec.iterations > 1:
            factors.append(f"{spec.iterations}×")
        if any(spec.specialists):
            factors.append("2 (with and without specialist)")
        summary.update(Text.assemble(
            (_count(cells, "cell"), "bold"), (" = " + " × ".join(factors), "dim"),
            " · ", (f"~{duration(seconds)}", "bold"), (f" ({basis})", "dim"),
            " · ", ("ctrl+r", "bold"), " starts"))

    # ---- start

    def action_start(self) -> None:
        try:
            spec = self.build_spec()
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            return
        app = self.bench
        app.prefs.models = list(self.query_one(ModelPicker).selected)
        app.prefs.scenarios = list(self.query_one(ScenarioTree).marked)
        app.prefs.options = self.choice_options()
        app.save_prefs()
        if app.start_batch(spec) is not None:
            app.show_live()


def specialist_templates() -> list[str]:
    """The templates a batch can run as specialists (the folder tui-bench locate shows)."""
    from tui_bench.specialists.templates import list_templates

    return list_templates(locations.templates_dir())


# option name, field id, label in messages, type: the options a comma list turns into axes.
AXIS_FIELDS: tuple[tuple[str, str, str, type], ...] = (
    ("max_tokens", "opt-max-tokens", "max tokens", int),
    ("temperature", "opt-temperature", "temperature", float),
    ("seed", "opt-seed", "seed", int),
    ("num_ctx", "opt-num-ctx", "ctx", int),
    ("top_p", "opt-top-p", "top p", float),
    ("threads", "opt-threads", "threads", int),
)


def _axis_text(opts: ChoiceOptions, name: str, value: float | int | None) -> str:
    """A remembered option as the field shows it: the swept list, else the single value."""
    values = opts.axes.get(name) or ([] if value is None else [value])
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
