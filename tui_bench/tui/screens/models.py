"""Models and effort: the model registry beside the registry of calibrated effort settings,
and the latest calibrations with what each found per model (validation, levels, trivial
scenarios). Everything is read in a thread worker; nothing here computes figures: the
calibration's result is stored by ``tui-bench calibrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tui_bench.catalog import Catalog
from tui_bench.domain import EffortSetting
from tui_bench.present import number, percent, timestamp
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.base import BenchScreen

REGISTRY_COLUMNS = ("model", "status", "tier", "reachable", "last seen")
EFFORT_COLUMNS = ("model", "level", "threshold", "target", "measured", "one-answer",
                  "quality", "trials", "status", "calibration")
LEVEL_COLUMNS = ("model", "level", "target", "threshold", "effort ratio", "one-answer",
                 "quality", "how")


class ModelsScreen(BenchScreen[None]):
    """The model registry and calibrated effort levels, and what calibration found."""

    @dataclass
    class Loaded(Message):
        """The registry, effort settings and latest calibrations, read off the message loop."""

        registry: list[dict[str, Any]]
        settings: list[EffortSetting]
        calibrations: list[dict[str, Any]]

    CSS_PATH = "models.tcss"
    SUB_TITLE = "Models & effort"
    AUTO_FOCUS = "#effort-settings"

    BINDINGS = [
        Binding("r", "reload", "Refresh"),
        Binding("1", "tab('registry')", "Registry", show=False),
        Binding("2", "tab('calibration')", "Calibration", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="registry", id="models-tabs"):
            with TabPane("Registry", id="registry"), Vertical(id="models-registries"):
                with Vertical():
                    yield Static("Models", classes="models-title")
                    yield DataTable(id="model-registry", cursor_type="row",
                                    zebra_stripes=True)
                with Vertical():
                    yield Static("Calibrated effort (tui-bench calibrate)",
                                 classes="models-title")
                    yield DataTable(id="effort-settings", cursor_type="row",
                                    zebra_stripes=True)
            with TabPane("Calibration", id="calibration"), VerticalScroll():
                yield Static("", id="calibration-summary")
                yield DataTable(id="calibration-levels", cursor_type="row",
                                zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        for selector, columns in (("#model-registry", REGISTRY_COLUMNS),
                                  ("#effort-settings", EFFORT_COLUMNS),
                                  ("#calibration-levels", LEVEL_COLUMNS)):
            table = self.query_one(selector, DataTable)
            for label in columns:
                table.add_column(label, key=label)
        self.action_reload()

    def action_reload(self) -> None:
        self._load()

    def action_tab(self, tab: str) -> None:
        self.query_one("#models-tabs", TabbedContent).active = tab

    def action_leave(self) -> None:
        self.app.pop_screen()

    @work(thread=True, exclusive=True, group="models", exit_on_error=False,
          description="models and effort")
    def _load(self) -> None:
        registry = self.store.registry()
        settings = self.store.effort_settings()
        calibrations = self.store.calibrations(limit=5)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(registry, settings, calibrations))

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        self._show(message.registry, message.settings, message.calibrations)

    def _show(self, registry: list[dict[str, Any]], settings: list[EffortSetting],
              calibrations: list[dict[str, Any]]) -> None:
        table = self.query_one("#model-registry", DataTable)
        table.clear()
        for row in registry:
            reachable = {None: "—", 0: "no", 1: "yes"}.get(row.get("reachable"), "—")
            table.add_row(row["model"], row["status"], row.get("tier") or "—", reachable,
                          timestamp(row.get("last_seen")) if row.get("last_seen") else "",
                          key=row["model"])
        table = self.query_one("#effort-settings", DataTable)
        table.clear()
        for s in settings:
            status = Text(s.status, style="green" if s.status == "verified" else "yellow",
                          justify="left")
            table.add_row(s.model, s.level, f"{s.threshold:.2f}", f"{s.target_ratio:.2f}",
                          number(s.measured_ratio), percent(s.one_answer_rate), number(s.quality),
                          str(s.trials), status, s.calibration_id,
                          key=f"{s.model}/{s.level}")
        self._show_calibrations(calibrations)

    def _show_calibrations(self, calibrations: list[dict[str, Any]]) -> None:
        summary = self.query_one("#calibration-summary", Static)
        levels = self.query_one("#calibration-levels", DataTable)
        levels.clear()
        if not calibrations:
            summary.update("No calibration yet. Run: tui-bench calibrate --models MODEL "
                           "--suite SUITE --thresholds 3,5,7,9 --trials 5")
            return
        latest = calibrations[0]
        spec, result = latest["spec"], latest.get("result")
        lines = [Text.assemble(
            ("calibration ", "bold"), (latest["calibration_id"], "bold"),
            f" · {len(spec['models'])} model(s) × {len(spec['scenarios'])} scenario(s) × "
            f"{spec['trials']} trial(s) at T = "
            f"{', '.join(f'{t:g}' for t in spec['thresholds'])}")]
        if result is None:
            lines.append(Text("not finished: resume with tui-bench calibrate --resume "
                              f"{latest['calibration_id']}", style="yellow"))
        else:
            for check in result["scenarios"]:
                if check["trivial"]:
                    lines.append(Text(f"scenario {check['scenario_id']} is trivial "
                                      f"({check['top_first']} of {check['runs']} first answers "
                                      "at the top score)", style="yellow"))
            if result.get("refused"):
                lines.append(Text(f"calibrated nothing: {result['refused']}", style="red"))
            for model in result["models"]:
                check = model["validation"]
                ok = bool(model["levels"])
                lines.append(Text.assemble(
                    (model["model"], "bold"), ": ",
                    ("calibrated" if ok else "not calibrated", "green" if ok else "red"),
                    f": {check['reason']}"))
                for lv in model["levels"]:
                    levels.add_row(model["model"], lv["level"], f"{lv['target']:.2f}",
                                   f"{lv['threshold']:.2f}", f"{lv['ratio']:.2f}",
                                   percent(lv["one_answer_rate"]), number(lv["quality"]),
                                   lv["note"])
        older = [c["calibration_id"] for c in calibrations[1:]]
        if older:
            lines.append(Text(f"earlier: {', '.join(older)} (tui-bench calibrate --show ID)",
                              style="dim"))
        summary.update(Text("\n").join(lines))
