"""The specialists screen: pick a template and a batch, preview the proof, mint, enrich.

Left, the templates (with the version each name resolves to) and the batches a page at a time
(with how many baseline and specialist runs each holds for the chosen template). Right, the
comparison a snapshot would carry, enrichment progress per document, and the snapshots already
minted for the template. Minting and enrichment run in workers; the screen only reads the store.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui_bench import locations
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import DEFAULT_MODEL
from tui_bench.settings import Settings
from tui_bench.specialists.enrich import (
    DEFAULT_MAX_TOKENS,
    EnrichError,
    EnrichProgress,
    EnrichResult,
    enrich_template,
)
from tui_bench.specialists.mint import (
    MintError,
    MintResult,
    comparison_for_batch,
    is_template_run,
    mint_snapshot,
)
from tui_bench.specialists.snapshot import Comparison, Figures
from tui_bench.specialists.templates import (
    ResolvedTemplate,
    TemplateError,
    list_templates,
    resolve_template,
)
from tui_bench.store import Store
from tui_bench.tui.widgets.format import short_time

PAGE_SIZE = 50
STATE_STYLE = {"fetching": "cyan", "asking": "yellow", "enriched": "green", "skipped": "red"}


@dataclass
class TemplateRow:
    """A template as listed: resolved, or the reason it could not be."""

    key: str
    resolved: ResolvedTemplate | None
    problem: str | None = None


def _num(value: float | None, pattern: str = "{:.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def figures_line(figures: Figures) -> Text:
    """Baseline → specialist, and the change (or why there is none), on one line."""
    text = Text()
    text.append(f"baseline {_num(figures.baseline_avg_score)}", style="bold")
    text.append(f" ({figures.baseline_scored}/{figures.baseline_runs} runs)  →  ")
    text.append(f"specialist {_num(figures.specialist_avg_score)}", style="bold")
    text.append(f" ({figures.specialist_scored}/{figures.specialist_runs} runs)")
    if figures.improvement is not None:
        style = "green" if figures.improvement > 0 else "red" if figures.improvement < 0 else ""
        text.append(f"   {figures.improvement:+.3f}", style=style)
        if figures.improvement_pct is not None:
            text.append(f" ({figures.improvement_pct:+.1f}%)", style=style)
    return text


def comparison_renderable(comparison: Comparison, batch_id: str, key: str) -> Group:
    """The preview: the whole batch, its notes, then one row per model."""
    parts: list[Text | Table] = [Text.assemble(("Comparison ", "bold"), f"{key} in {batch_id}"),
                                 figures_line(comparison)]
    parts.extend(Text(f"• {note}", style="italic yellow") for note in comparison.notes)
    if comparison.per_model:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for name, justify in (("model", "left"), ("baseline", "right"), ("specialist", "right"),
                              ("change", "right"), ("%", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for model, fig in comparison.per_model.items():
            table.add_row(model, f"{_num(fig.baseline_avg_score)} ({fig.baseline_scored})",
                          f"{_num(fig.specialist_avg_score)} ({fig.specialist_scored})",
                          _num(fig.improvement, "{:+.3f}"),
                          _num(fig.improvement_pct, "{:+.1f}") if fig.improvement_pct
                          is not None else ("n/a" if fig.improvement is not None else "—"))
        parts.append(table)
    return Group(*parts)


class MintScreen(Screen[None]):
    """Mint specialist snapshots and enrich templates, keyboard only."""

    CSS_PATH = "mint.tcss"
    SUB_TITLE = "Specialists"
    AUTO_FOCUS = "#templates"

    BINDINGS = [
        Binding("m", "mint", "Mint"),
        Binding("e", "enrich", "Enrich"),
        Binding("r", "refresh", "Refresh"),
        Binding("right_square_bracket", "page(1)", "Older batches", key_display="]"),
        Binding("left_square_bracket", "page(-1)", "Newer batches", key_display="["),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store: Store, catalog: Catalog | None = None,
                 settings: Settings | None = None, *, templates_dir: Path | None = None,
                 snapshots_dir: Path | None = None, pool: BackendPool | None = None,
                 enrich_model: str = DEFAULT_MODEL, enrich_max_tokens: int = DEFAULT_MAX_TOKENS,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.store = store
        self.catalog = catalog
        self.settings = settings or Settings.from_env()
        self._skip_reasons: dict[int, str] = {}
        self.templates_dir = Path(templates_dir or locations.templates_dir())
        self.snapshots_dir = Path(snapshots_dir or locations.snapshots_dir())
        self._pool = pool
        self.enrich_model = enrich_model
        self.enrich_max_tokens = enrich_max_tokens
        self.page_size = page_size
        self.page = 0
        self.templates: dict[str, TemplateRow] = {}
        self.template_key: str | None = None
        self.batch_id: str | None = None
        self.busy: str | None = None
        self.last_result: MintResult | EnrichResult | None = None

    # ---- layout

    def compose(self) -> ComposeResult:
        yield Static(id="mint-status")
        with Horizontal(id="mint-body"):
            with Vertical(id="mint-left"):
                yield Static("Templates", classes="section")
                yield DataTable(id="templates", cursor_type="row", zebra_stripes=True)
                yield Static("Batches", classes="section", id="batches-title")
                yield DataTable(id="batches", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="mint-right") as right:
                right.can_focus = False
                yield Static(id="preview", classes="panel")
                yield Static("Enrichment", classes="section")
                yield DataTable(id="enrich-progress", cursor_type="row")
                yield Static(id="enrich-reasons")
                yield Static("Snapshots of this template", classes="section")
                yield DataTable(id="snapshots", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#templates", DataTable).add_columns(
            "template", "version", "resolves to", "docs")
        self.query_one("#batches", DataTable).add_columns(
            "batch", "created", "status", "base", "spec", "other")
        progress = self.query_one("#enrich-progress", DataTable)
        progress.add_column("#", key="index")
        progress.add_column("document", key="title")
        progress.add_column("state", key="state")
        progress.add_column("reason", key="reason")
        self.query_one("#snapshots", DataTable).add_columns(
            "#", "version", "batch", "baseline", "specialist", "change", "minted", "by")
        self.action_refresh()

    # ---- reading the store and the templates folder

    def action_refresh(self) -> None:
        self.load_templates()
        self.load_batches()
        self.show_selection()

    def load_templates(self) -> None:
        table = self.query_one("#templates", DataTable)
        keep = self.template_key
        table.clear()
        self.templates = {}
        for key in list_templates(self.templates_dir):
            try:
                row = TemplateRow(key, resolve_template(key, self.templates_dir))
            except TemplateError as exc:
                row = TemplateRow(key, None, str(exc))
            self.templates[key] = row
            if row.resolved is not None:
                template = row.resolved.template
                table.add_row(key, template.version, self._kind_label(row.resolved),
                              str(len(template.documentation)), key=key)
            else:
                table.add_row(key, "—", Text("broken", style="red"), "—", key=key)
        if not self.templates:
            self.template_key = None
            return
        self.template_key = keep if keep in self.templates else next(iter(self.templates))
        table.move_cursor(row=table.get_row_index(self.template_key))

    def _kind_label(self, resolved: ResolvedTemplate) -> str:
        if resolved.kind == "file":
            return "file"
        return f"{resolved.kind} {resolved.path.name}"

    def load_batches(self) -> None:
        table = self.query_one("#batches", DataTable)
        keep = self.batch_id
        table.clear()
        rows = self.store.list_batches(limit=self.page_size, offset=self.page * self.page_size)
        if not rows and self.page > 0:
            self.page -= 1
            rows = self.store.list_batches(limit=self.page_size,
                                           offset=self.page * self.page_size)
        sides = self.store.batch_sides([r["batch_id"] for r in rows])
        key = self.template_key or ""
        for row in rows:
            counts = sides.get(row["batch_id"], {})
            special = sum(n for s, n in counts.items() if is_template_run(s, key))
            other = sum(n for s, n in counts.items() if s and not is_template_run(s, key))
            table.add_row(row["batch_id"], short_time(row["created_at"]),
                          row["status"], str(counts.get("", 0)), str(special), str(other),
                          key=row["batch_id"])
        total = self.store.count_batches()
        first = self.page * self.page_size + 1 if rows else 0
        self.query_one("#batches-title", Static).update(
            f"Batches {first}–{first + len(rows) - 1 if rows else 0} of {total}"
            f" · base: runs without a persona, spec: with {key or '—'}, other: other templates")
        ids = [r["batch_id"] for r in rows]
        self.batch_id = keep if keep in ids else (ids[0] if ids else None)
        if self.batch_id is not None:
            table.move_cursor(row=ids.index(self.batch_id))

    def load_snapshots(self) -> None:
        table = self.query_one("#snapshots", DataTable)
        table.clear()
        if self.template_key is None:
            return
        for row in self.store.snapshots(self.template_key, limit=self.page_size):
            change = _num(row["improvement"], "{:+.3f}")
            if row["improvement_percent"] is not None:
                change += f" ({row['improvement_percent']:+.1f}%)"
            table.add_row(f"{row['number']:03d}", row["version"], row["batch_id"],
                          _num(row["baseline_mean"]), _num(row["specialist_mean"]), change,
                          short_time(row["created_at"]), row["minted_by"],
                          key=str(row["snapshot_id"]))

    def show_selection(self) -> None:
        """Status line, preview and snapshots for the chosen template and batch."""
        status = self.query_one("#mint-status", Static)
        preview = self.query_one("#preview", Static)
        row = self.templates.get(self.template_key or "")
        if row is None:
            status.update(f"No templates in {self.templates_dir}")
            preview.update("")
            self.load_snapshots()
            return
        if row.resolved is None:
            status.update(Text(f"{row.key}: {row.problem}", style="red"))
        else:
            status.update(Text.assemble((row.resolved.template.name, "bold"),
                                        f" {row.resolved.template.version} resolves to ",
                                        (f"{row.resolved.kind}", "bold"),
                                        f": {row.resolved.path}"))
        if self.batch_id is None:
            preview.update("No batches yet: run one with --specialist "
                           f"{row.key} to compare the template with the baseline.")
        else:
            comparison = comparison_for_batch(self.store, self.batch_id, row.key)
            preview.update(comparison_renderable(comparison, self.batch_id, row.key))
        self.load_snapshots()

    # ---- choosing

    @on(DataTable.RowHighlighted, "#templates")
    def _template_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.template_key:
            self.template_key = key
            self.load_batches()
            self.show_selection()

    @on(DataTable.RowHighlighted, "#batches")
    def _batch_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.batch_id:
            self.batch_id = key
            self.show_selection()

    def action_page(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.load_batches()
        self.show_selection()

    def action_leave(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # ---- minting

    def action_mint(self) -> None:
        if self.busy:
            self.notify(f"wait: {self.busy} is running", severity="warning")
            return
        if self.template_key is None or self.batch_id is None:
            self.notify("choose a template and a batch first", severity="warning")
            return
        self.busy = "minting"
        self._mint(self.template_key, self.batch_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="mint",
          description="mint a snapshot")
    def _mint(self, key: str, batch_id: str) -> None:
        """File writes and one insert: off the message loop, reported back by call_from_thread."""
        try:
            result = mint_snapshot(self.store, key, batch_id, templates_dir=self.templates_dir,
                                   output_dir=self.snapshots_dir)
        except (MintError, OSError) as exc:
            self.app.call_from_thread(self._failed, "mint", str(exc))
            return
        self.app.call_from_thread(self._minted, result)

    def _minted(self, result: MintResult) -> None:
        self.busy = None
        self.last_result = result
        self.notify(f"snapshot {result.number:03d} written to {result.path}", title="Minted")
        self.show_selection()

    def _failed(self, what: str, message: str) -> None:
        self.busy = None
        self.notify(message, title=f"Could not {what}", severity="error", timeout=10)

    # ---- enrichment

    def action_enrich(self) -> None:
        if self.busy:
            self.notify(f"wait: {self.busy} is running", severity="warning")
            return
        row = self.templates.get(self.template_key or "")
        if row is None or row.resolved is None:
            self.notify("choose a template that loads first", severity="warning")
            return
        progress = self.query_one("#enrich-progress", DataTable)
        progress.clear()
        self._skip_reasons = {}
        self.query_one("#enrich-reasons", Static).update("")
        for index, doc in enumerate(row.resolved.template.documentation):
            progress.add_row(str(index + 1), doc.title, "queued", "", key=str(index))
        self.busy = "enrichment"
        self._enrich(row.key)

    def _pool_for_enrichment(self) -> tuple[BackendPool, bool]:
        """The app's pool when it has one (the model is loaded once), else a private one."""
        if self._pool is not None:
            return self._pool, False
        shared = getattr(self.app, "pool", None)
        if isinstance(shared, BackendPool):
            return shared, False
        return BackendPool(self.settings), True

    @work(exclusive=True, exit_on_error=False, group="enrich", description="enrich a template")
    async def _enrich(self, key: str) -> None:
        pool, own = self._pool_for_enrichment()
        try:
            result = await enrich_template(
                key, templates_dir=self.templates_dir, model=self.enrich_model, pool=pool,
                max_tokens=self.enrich_max_tokens, on_progress=self._progress)
        except (EnrichError, ValueError, OSError) as exc:
            self._failed("enrich", str(exc))
            return
        finally:
            if own:
                await pool.aclose()
        self.busy = None
        self.last_result = result
        self.notify(f"{len(result.enriched)} enriched, {len(result.skipped)} skipped; "
                    f"written to {result.path}", title="Enriched")
        self.load_templates()
        self.show_selection()

    def _progress(self, step: EnrichProgress) -> None:
        table = self.query_one("#enrich-progress", DataTable)
        key = str(step.index)
        if key not in table.rows:
            return
        table.update_cell(key, "state", Text(step.state, style=STATE_STYLE.get(step.state, "")),
                          update_width=True)
        reason = step.reason or ""
        # The table shows the start of a reason, cut at a word; the whole of every skip
        # reason is written out under the table, wrapped, so none is lost off the edge.
        table.update_cell(key, "reason", textwrap.shorten(reason, 48, placeholder=" …"),
                          update_width=True)
        if step.state == "skipped" and reason:
            self._skip_reasons[step.index] = f"#{step.index + 1} {step.title}: {reason}"
            self.query_one("#enrich-reasons", Static).update(Text(
                "\n".join(self._skip_reasons[i] for i in sorted(self._skip_reasons)),
                style="red"))
