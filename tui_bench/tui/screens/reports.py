"""Reports: rankings (overall and per category), score over time, difficulty, specialists,
effort, surprises and the routing weights, over every batch or one.

The whole report is built in a thread worker from the store's rollup (a few milliseconds on
100,000 runs), then each tab fills its table; score over time is a textual-plotext chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane, Tabs
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from tui_bench.analysis.effort import EFFORT_COLUMNS, row_cells
from tui_bench.analysis.leaderboard import OVERALL, ScorePoint, Standing
from tui_bench.analysis.report import Report, build_report
from tui_bench.analysis.settings_report import SettingsReport, settings_report
from tui_bench.analysis.weights import current_weights
from tui_bench.catalog import Catalog
from tui_bench.present import cost, interval, number, percent, score
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.screens.base import BenchScreen

TABS = ("ranking", "over-time", "difficulty", "specialists", "effort", "surprises", "weights",
        "settings")
MAX_SERIES = 8  # lines on the chart: the best-ranked models, so it stays readable
# What an empty tab says: how to put something in it.
EMPTY_HINTS = {
    "ranking": "No finished runs yet: start a batch (n on the home screen, or tui-bench --run).",
    "difficulty": "No finished runs yet: start a batch (n on the home screen, or tui-bench --run).",
    "specialists": "No specialist runs yet: run cells with and without a specialist, e.g. "
                   "tui-bench --run --suite coding --specialist python-craftsman "
                   "(or pick a specialist on the new-batch screen).",
    "effort": "No iterative runs yet: effort counts the attempts of --mode iterative or "
              "comparative runs (tui-bench --run --mode iterative --max-iterations 3).",
    "surprises": "No surprises: no run beat its category's favoured model by the margin "
                 "(favourites come from routing weights: tui-bench weights --update).",
    "weights": "No routing weights yet: tui-bench weights --update computes them from "
               "finished runs.",
}


def _columns(table: DataTable, labels: tuple[str, ...]) -> None:
    table.clear(columns=True)
    for label in labels:
        table.add_column(label, key=label)


class ReportsScreen(BenchScreen[None]):
    """Leaderboards and what they hide, a tab each."""

    @dataclass
    class Loaded(Message):
        """The report and the routing weights, built off the message loop."""

        report: Report
        weights: dict[str, dict[str, float]]
        by_setting: SettingsReport | None = None

    CSS_PATH = "reports.tcss"
    SUB_TITLE = "Reports"
    AUTO_FOCUS = "#ranking-table"

    BINDINGS = [
        Binding("g", "category(1)", "Next category"),
        Binding("G", "category(-1)", "Previous category", show=False),
        Binding("b", "batch", "Batch scope"),
        Binding("r", "reload", "Refresh"),
        Binding("tab", "step_tab(1)", "Next tab", priority=True),
        Binding("shift+tab", "step_tab(-1)", "Previous tab", show=False, priority=True),
        Binding("right", "arrow_tab(1)", "Next tab", show=False, priority=True),
        Binding("left", "arrow_tab(-1)", "Previous tab", show=False, priority=True),
        *[Binding(str(i + 1), f"tab('{tab}')", tab.replace("-", " "), show=False)
          for i, tab in enumerate(TABS)],
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog | None = None,
                 settings: Settings | None = None, *, batch_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.batch_id = batch_id
        self.report: Report | None = None
        self.weights: dict[str, dict[str, float]] = {}
        self.category = OVERALL

    def compose(self) -> ComposeResult:
        with Horizontal(id="reports-bar"):
            yield Static("", id="reports-status")
            yield Input(placeholder="batch id (empty: every batch)", id="report-batch")
        with TabbedContent(initial="ranking", id="report-tabs"):
            with TabPane("Ranking", id="ranking"):
                yield Static("", id="ranking-title", classes="report-title")
                yield Static("", id="ranking-hint", classes="empty-hint")
                yield DataTable(id="ranking-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Over time", id="over-time"):
                yield Static("", id="over-time-hint", classes="empty-hint")
                yield PlotextPlot(id="over-time-plot")
            with TabPane("Difficulty", id="difficulty"):
                yield Static("", id="difficulty-hint", classes="empty-hint")
                yield DataTable(id="difficulty-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Specialists", id="specialists"):
                yield Static("", id="specialists-hint", classes="empty-hint")
                yield DataTable(id="specialists-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Effort", id="effort"):
                yield Static("", id="effort-hint", classes="empty-hint")
                yield DataTable(id="effort-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="refine-effort-title", classes="report-title")
                yield DataTable(id="refine-effort-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Surprises", id="surprises"):
                yield Static("", id="surprises-title", classes="report-title")
                yield Static("", id="surprises-hint", classes="empty-hint")
                yield DataTable(id="surprises-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Weights", id="weights"):
                yield Static("", id="weights-hint", classes="empty-hint")
                yield DataTable(id="weights-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Settings", id="settings"):
                yield DataTable(id="settings-table", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="settings-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#report-batch", Input).display = False
        _columns(self.query_one("#ranking-table", DataTable),
                 ("#", "model", "version", "runs", "score", "spread", "success", "judged %",
                  "judged", "ttft ms", "tok/s", "cost", "score 95% CI", "success 95% CI",
                  "vs next"))
        _columns(self.query_one("#difficulty-table", DataTable),
                 ("scenario", "category", "failed", "of models", "success", "score",
                  "failed by"))
        _columns(self.query_one("#specialists-table", DataTable),
                 ("model", "specialist", "pairs", "batches", "baseline", "with specialist",
                  "change", "success", "change 95% CI", "McNemar p"))
        _columns(self.query_one("#effort-table", DataTable),
                 ("model", "runs", "mean attempts", "of budget", "first answer"))
        _columns(self.query_one("#refine-effort-table", DataTable),
                 (*EFFORT_COLUMNS, "target", "held"))
        _columns(self.query_one("#surprises-table", DataTable),
                 ("batch", "category", "scenario", "model", "score", "favoured", "its score",
                  "margin"))
        _columns(self.query_one("#weights-table", DataTable), ("category", "model", "weight"))
        _columns(self.query_one("#settings-table", DataTable),
                 ("front", "model", "setting", "runs", "score", "95% CI", "success", "tok/s",
                  "ttft ms", "truncated"))
        self.action_reload()

    # ---- loading

    def action_reload(self) -> None:
        self._status("loading…")
        self._load(self.batch_id)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False,
          description="report")
    def _load(self, batch_id: str | None) -> None:
        report = build_report(self.store, batch_id=batch_id)
        weights = current_weights(self.store)
        by_setting = settings_report(self.store, batch_id=batch_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(report, weights, by_setting))

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        self._show(message.report, message.weights, message.by_setting)

    def _show(self, report: Report, weights: dict[str, dict[str, float]],
              by_setting: SettingsReport | None = None) -> None:
        self.report, self.weights = report, weights
        if self.category != OVERALL and self.category not in report.leaderboard.by_category:
            self.category = OVERALL
        self._fill_ranking()
        self._draw_over_time(report.over_time, report.leaderboard.overall)
        self._fill_difficulty()
        self._fill_specialists()
        self._fill_effort()
        self._fill_surprises()
        self._fill_weights()
        if by_setting is not None:
            self._fill_settings(by_setting)
        self._show_hints()
        self._status()

    def _show_hints(self) -> None:
        """A tab with nothing to show says how to fill it instead of a bare header."""
        for tab, hint in EMPTY_HINTS.items():
            empty = not self.query_one(f"#{tab}-table", DataTable).row_count
            widget = self.query_one(f"#{tab}-hint", Static)
            widget.update(hint if empty else "")
            widget.display = empty
        over_time = self.query_one("#over-time-hint", Static)
        over_time.update(EMPTY_HINTS["ranking"])
        over_time.display = self.report is None or not self.report.over_time

    def _status(self, note: str | None = None) -> None:
        scope = f"batch {self.batch_id}" if self.batch_id else "every batch"
        parts = [f"scope: {scope}  (b to change)"]
        if note:
            parts.append(note)
        elif self.report is not None and not self.report.leaderboard.overall:
            parts.append("no finished runs yet")
        self.query_one("#reports-status", Static).update(" · ".join(parts))

    # ---- tabs

    def categories(self) -> list[str]:
        if self.report is None:
            return [OVERALL]
        return [OVERALL, *self.report.leaderboard.by_category]

    def standings(self) -> list[Standing]:
        if self.report is None:
            return []
        board = self.report.leaderboard
        if self.category == OVERALL:
            return board.overall
        return board.by_category.get(self.category, [])

    def _fill_ranking(self) -> None:
        table = self.query_one("#ranking-table", DataTable)
        table.clear()
        for s in self.standings():
            table.add_row(str(s.rank), s.model, s.prompt_version, str(s.runs),
                          score(s.mean_score), score(s.score_spread),
                          percent(s.success_rate), number(s.mean_judged, "{:.1f}"), str(s.judged),
                          number(s.mean_ttft_ms, "{:.0f}"), number(s.mean_tokens_per_s, "{:.1f}"),
                          cost(s.cost), interval(s.score_low, s.score_high, "{:.2f}"),
                          interval(s.success_low, s.success_high, "{:.0%}"), s.versus_next(),
                          key=f"{s.model}|{s.prompt_version}")
        names = self.categories()
        title = " · ".join(f"[b reverse] {n} [/]" if n == self.category else n for n in names)
        self.query_one("#ranking-title", Static).update(
            Text.from_markup(f"category (g): {title}"))

    def _draw_over_time(self, over_time: dict[str, list[ScorePoint]],
                        overall: list[Standing]) -> None:
        plot = self.query_one("#over-time-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        ranked = list(dict.fromkeys(s.model for s in overall))
        models = [m for m in ranked if m in over_time][:MAX_SERIES] or list(over_time)[:MAX_SERIES]
        batches = sorted({(p.created_at, p.batch_id) for m in models for p in over_time[m]})
        position = {batch_id: i for i, (_, batch_id) in enumerate(batches)}
        for model in models:
            points = [p for p in over_time[model] if p.mean_score is not None]
            if points:
                plt.plot([position[p.batch_id] for p in points],
                         [p.mean_score for p in points], label=model, marker="dot")
        if batches:
            step = max(1, len(batches) // 6)
            ticks = list(range(0, len(batches), step))
            plt.xticks([float(t) for t in ticks], [batches[i][0][5:10] for i in ticks])
        plt.ylim(0, 1)
        plt.title("Mean score per batch" + ("" if models else " — no finished runs yet"))
        plt.xlabel("batch (created)")
        plot.refresh()

    def _fill_difficulty(self) -> None:
        table = self.query_one("#difficulty-table", DataTable)
        table.clear()
        assert self.report is not None
        for d in self.report.difficulty:
            table.add_row(d.scenario_id, d.category, str(d.models_failed), str(d.models),
                          percent(d.success_rate), score(d.mean_score),
                          ", ".join(d.failed_by) or "—", key=d.scenario_id)

    def _fill_specialists(self) -> None:
        table = self.query_one("#specialists-table", DataTable)
        table.clear()
        assert self.report is not None
        for s in self.report.specialists:
            change = s.score_change
            table.add_row(s.model, s.specialist, str(s.pairs), str(s.batches),
                          score(s.baseline_score), score(s.specialist_score),
                          Text(number(change, "{:+.3f}"), style="" if change is None else (
                              "green" if change > 0 else "red" if change < 0 else "")),
                          f"{percent(s.baseline_success)} → {percent(s.specialist_success)}",
                          interval(s.change_low, s.change_high, "{:+.3f}"),
                          number(s.p_value, "{:.3g}"))

    def _fill_effort(self) -> None:
        table = self.query_one("#effort-table", DataTable)
        table.clear()
        assert self.report is not None
        for e in self.report.effort:
            table.add_row(e.model, str(e.runs), number(e.mean_attempts), percent(e.budget_share),
                          percent(e.first_answer_share))
        table.display = bool(self.report.effort)  # iterative effort, when there is any
        refine = self.query_one("#refine-effort-table", DataTable)
        refine.clear()
        rows = [*self.report.refine.by_threshold, *self.report.refine.by_level]
        for row in rows:
            cells: list[Any] = row_cells(row)
            if row.held is not None:
                cells[-1] = Text(cells[-1], style="green" if row.held else "red")
            refine.add_row(*cells)
        self.query_one("#refine-effort-title", Static).update(
            "Refine effort per model and threshold, and per --effort level against its target"
            if rows else "No refine runs yet: tui-bench calibrate, or --mode refine")

    def _fill_surprises(self) -> None:
        table = self.query_one("#surprises-table", DataTable)
        table.clear()
        assert self.report is not None
        for s in self.report.surprises:
            table.add_row(s.batch_id, s.category, s.scenario_id, s.model, f"{s.score:.3f}",
                          s.favoured_model, f"{s.favoured_score:.3f}",
                          Text(f"{s.margin:+.3f}", style="green"))
        note = (f"runs that beat the favoured model of their category by ≥ "
                f"{self.report.surprise_margin}")
        if not self.weights:
            note += " — no routing weights yet (tui-bench weights --update)"
        self.query_one("#surprises-title", Static).update(note)

    def _fill_weights(self) -> None:
        table = self.query_one("#weights-table", DataTable)
        table.clear()
        for category, models in self.weights.items():
            ordered = sorted(models.items(), key=lambda kv: (-kv[1], kv[0]))
            for index, (model, weight) in enumerate(ordered):
                table.add_row(category if index == 0 else "", model, f"{weight:.4f}")

    # ---- actions

    def _fill_settings(self, by_setting: SettingsReport) -> None:
        """Each model's setting combinations, and quality against speed with the front marked."""
        table = self.query_one("#settings-table", DataTable)
        table.clear()
        plt = self.query_one("#settings-plot", PlotextPlot).plt
        plt.clear_data()
        plt.clear_figure()
        for model, rows in list(by_setting.models.items())[:MAX_SERIES]:
            for r in rows:
                ci = ("—" if r.score_low is None or r.score_high is None
                      else f"{r.score_low:.2f}–{r.score_high:.2f}")
                table.add_row("★" if r.pareto else "", model, r.setting, str(r.runs),
                              score(r.mean_score), ci, percent(r.success_rate),
                              number(r.tokens_per_s, "{:.1f}"), number(r.ttft_ms, "{:.0f}"),
                              str(r.truncated), key=f"{model}|{r.setting}")
            placed = [r for r in rows if r.mean_score is not None and r.tokens_per_s is not None]
            if placed:
                plt.scatter([r.tokens_per_s for r in placed], [r.mean_score for r in placed],
                            label=model, marker="●")
            front = sorted((r for r in placed if r.pareto), key=lambda r: r.tokens_per_s or 0)
            if front:
                plt.plot([r.tokens_per_s for r in front], [r.mean_score for r in front],
                         label=f"{model} Pareto front", marker="braille")
                for r in front:
                    plt.text(r.setting, x=r.tokens_per_s, y=r.mean_score)
        plt.title("Quality against speed per setting" if by_setting.models
                  else "Quality against speed — no finished runs yet")
        plt.xlabel("tokens/s")
        plt.ylabel("mean score")
        self.query_one("#settings-plot", PlotextPlot).refresh()

    def action_category(self, step: int) -> None:
        names = self.categories()
        index = names.index(self.category) if self.category in names else 0
        self.category = names[(index + step) % len(names)]
        self.action_tab("ranking")
        self._fill_ranking()

    def action_tab(self, tab: str) -> None:
        self.query_one("#report-tabs", TabbedContent).active = tab
        self._focus_tab()

    def action_step_tab(self, step: int) -> None:
        """tab / shift+tab: the next or previous report, wrapping around."""
        active = self.query_one("#report-tabs", TabbedContent).active
        index = TABS.index(active) if active in TABS else 0
        self.action_tab(TABS[(index + step) % len(TABS)])

    def action_arrow_tab(self, step: int) -> None:
        """←/→ switch tabs, except in a table wider than the screen, which they scroll."""
        focused = self.focused
        if isinstance(focused, DataTable) and focused.max_scroll_x > 0:
            at_edge = focused.scroll_x <= 0 if step < 0 else focused.scroll_x >= \
                focused.max_scroll_x
            if not at_edge:
                focused.scroll_relative(x=4 * step, animate=False)
                return
        self.action_step_tab(step)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the batch field has the keyboard, tab and arrows are the field's."""
        if action in ("step_tab", "arrow_tab") and isinstance(self.focused, Input):
            return False
        return True

    def _focus_tab(self) -> None:
        """Keys go to the active tab's table; on the chart, to the tab bar, so that the
        screen coming back (after help or the palette) does not jump to another tab."""
        tabs = self.query_one("#report-tabs", TabbedContent)
        active = tabs.active
        tables = self.query(f"#{active} DataTable")
        if tables:
            tables.first().focus()
        else:
            tabs.query_one(Tabs).focus()

    def action_batch(self) -> None:
        field = self.query_one("#report-batch", Input)
        field.display = True
        field.value = self.batch_id or ""
        field.focus()

    @on(Input.Submitted, "#report-batch")
    def _batch_chosen(self, event: Input.Submitted) -> None:
        value = event.value.strip() or None
        if value is not None and self.store.get_batch(value) is None:
            self.notify(f"no batch {value}", severity="warning")
            return
        event.input.display = False
        self.batch_id = value
        self._focus_tab()
        self.action_reload()

    def action_leave(self) -> None:
        field = self.query_one("#report-batch", Input)
        if field.display:
            field.display = False
            self._focus_tab()
            return
        self.app.pop_screen()

    def current_rows(self, table_id: str) -> list[list[Any]]:
        """The rows a table shows, as plain text (tests and the command palette)."""
        table = self.query_one(f"#{table_id}", DataTable)
        return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
