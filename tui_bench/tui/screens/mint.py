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
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tui_bench import locations
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import DEFAULT_MODEL
from tui_bench.present import number, score, short_timestamp
from tui_bench.settings import Settings
from tui_bench.specialists.enrich import (
    DEFAULT_MAX_TOKENS,
    EnrichError,
    EnrichProgress,
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
from tui_bench.tui.screens.base import BenchScreen

PAGE_SIZE = 50
STATE_STYLE = {"fetching": "cyan", "asking": "yellow", "enriched": "green", "skipped": "red"}


@dataclass
class TemplateRow:
    """A template as listed: resolved, or the reason it could not be."""

    key: str
    resolved: ResolvedTemplate | None
    problem: str | None = None


def figures_line(figures: Figures) -> Text:
    """Baseline → specialist, and the change (or why there is none), on one line."""
    text = Text()
    text.append(f"baseline {score(figures.baseline_avg_score)}", style="bold")
    text.append(f" ({figures.baseline_scored}/{figures.baseline_runs} runs)  →  ")
    text.append(f"specialist {score(figures.specialist_avg_score)}", style="bold")
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
            table.add_row(model, f"{score(fig.baseline_avg_score)} ({fig.baseline_scored})",
                          f"{score(fig.specialist_avg_score)} ({fig.specialist_scored})",
                          number(fig.improvement, "{:+.3f}"),
                          number(fig.improvement_pct, "{:+.1f}") if fig.improvement_pct
                          is not None else ("n/a" if fig.improvement is not None else "—"))
        parts.append(table)
    return Group(*parts)


@dataclass
class MintData:
    """What the screen shows for one choice of template, batch page and batch."""

    templates: dict[str, TemplateRow]
    template_key: str | None
    page: int
    batches: list[dict[str, Any]]
    sides: dict[str, dict[str, int]]
    total: int
    batch_id: str | None
    comparison: Comparison | None
    snapshots: list[dict[str, Any]]


class MintScreen(BenchScreen[None]):
    """Mint specialist snapshots and enrich templates, keyboard only."""

    @dataclass
    class Loaded(Message):
        """Templates, batches, comparison and snapshots, read off the message loop."""

        data: MintData
        generation: int

    @dataclass
    class Minted(Message):
        """A snapshot was written and stored."""

        result: MintResult

    @dataclass
    class Failed(Message):
        """Minting failed; ``message`` says why in one line."""

        what: str
        message: str

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
        self._generation = 0  # which reload the screen waits for; older results are dropped

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

    # ---- reading the store and the templates folder (in a thread worker)

    def action_refresh(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Read templates, batches, the comparison and snapshots again, off the message loop."""
        self._generation += 1
        self._load(self.template_key, self.batch_id, self.page, self._generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="mint-load",
          description="read templates and batches")
    def _load(self, template_key: str | None, batch_id: str | None, page: int,
              generation: int) -> None:
        data = self.read(template_key, batch_id, page)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(data, generation))

    def read(self, template_key: str | None, batch_id: str | None, page: int) -> MintData:
        """Everything the screen shows for this choice: files and store reads, no widgets."""
        templates: dict[str, TemplateRow] = {}
        for key in list_templates(self.templates_dir):
            try:
                templates[key] = TemplateRow(key, resolve_template(key, self.templates_dir))
            except TemplateError as exc:
                templates[key] = TemplateRow(key, None, str(exc))
        if template_key not in templates:
            template_key = next(iter(templates), None)
        rows = self.store.list_batches(limit=self.page_size, offset=page * self.page_size)
        if not rows and page > 0:
            page -= 1
            rows = self.store.list_batches(limit=self.page_size, offset=page * self.page_size)
        ids = [r["batch_id"] for r in rows]
        if batch_id not in ids:
            batch_id = ids[0] if ids else None
        comparison = None
        if template_key is not None and batch_id is not None:
            comparison = comparison_for_batch(self.store, batch_id, template_key)
        snapshots = (self.store.snapshots(template_key, limit=self.page_size)
                     if template_key is not None else [])
        return MintData(templates=templates, template_key=template_key, page=page,
                        batches=rows, sides=self.store.batch_sides(ids),
                        total=self.store.count_batches(), batch_id=batch_id,
                        comparison=comparison, snapshots=snapshots)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.generation != self._generation:  # a newer choice is being read already
            return
        data = message.data
        self.templates, self.template_key = data.templates, data.template_key
        self.page, self.batch_id = data.page, data.batch_id
        # Refilling a table moves its cursor; that is not the person choosing another row.
        with self.prevent(DataTable.RowHighlighted):
            self._show_templates(data)
            self._show_batches(data)
        self._show_selection(data)
        self._show_snapshots(data)

    def _show_templates(self, data: MintData) -> None:
        table = self.query_one("#templates", DataTable)
        table.clear()
        for key, row in data.templates.items():
            if row.resolved is not None:
                template = row.resolved.template
                table.add_row(key, template.version, self._kind_label(row.resolved),
                              str(len(template.documentation)), key=key)
            else:
                table.add_row(key, "—", Text("broken", style="red"), "—", key=key)
        if data.template_key is not None:
            table.move_cursor(row=table.get_row_index(data.template_key))

    def _kind_label(self, resolved: ResolvedTemplate) -> str:
        if resolved.kind == "file":
            return "file"
        return f"{resolved.kind} {resolved.path.name}"

    def _show_batches(self, data: MintData) -> None:
        table = self.query_one("#batches", DataTable)
        table.clear()
        key = data.template_key or ""
        for row in data.batches:
            counts = data.sides.get(row["batch_id"], {})
            special = sum(n for s, n in counts.items() if is_template_run(s, key))
            other = sum(n for s, n in counts.items() if s and not is_template_run(s, key))
            table.add_row(row["batch_id"], short_timestamp(row["created_at"]),
                          row["status"], str(counts.get("", 0)), str(special), str(other),
                          key=row["batch_id"])
        rows = data.batches
        first = data.page * self.page_size + 1 if rows else 0
        self.query_one("#batches-title", Static).update(
            f"Batches {first}–{first + len(rows) - 1 if rows else 0} of {data.total}"
            f" · base: runs without a persona, spec: with {key or '—'}, other: other templates")
        if data.batch_id is not None:
            table.move_cursor(row=[r["batch_id"] for r in rows].index(data.batch_id))

    def _show_snapshots(self, data: MintData) -> None:
        table = self.query_one("#snapshots", DataTable)
        table.clear()
        for row in data.snapshots:
            change = number(row["improvement"], "{:+.3f}")
            if row["improvement_percent"] is not None:
                change += f" ({row['improvement_percent']:+.1f}%)"
            table.add_row(f"{row['number']:03d}", row["version"], row["batch_id"],
                          score(row["baseline_mean"]), score(row["specialist_mean"]), change,
                          short_timestamp(row["created_at"]), row["minted_by"],
                          key=str(row["snapshot_id"]))

    def _show_selection(self, data: MintData) -> None:
        """Status line and preview for the chosen template and batch."""
        status = self.query_one("#mint-status", Static)
        preview = self.query_one("#preview", Static)
        row = data.templates.get(data.template_key or "")
        if row is None:
            status.update(f"No templates in {self.templates_dir}")
            preview.update("")
            return
        if row.resolved is None:
            status.update(Text(f"{row.key}: {row.problem}", style="red"))
        else:
            status.update(Text.assemble((row.resolved.template.name, "bold"),
                                        f" {row.resolved.template.version} resolves to ",
                                        (f"{row.resolved.kind}", "bold"),
                                        f": {row.resolved.path}"))
        if data.batch_id is None or data.comparison is None:
            preview.update("No batches yet: run one with --specialist "
                           f"{row.key} to compare the template with the baseline.")
        else:
            preview.update(comparison_renderable(data.comparison, data.batch_id, row.key))

    # ---- choosing

    @on(DataTable.RowHighlighted, "#templates")
    def _template_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.template_key:
            self.template_key = key
            self.reload()

    @on(DataTable.RowHighlighted, "#batches")
    def _batch_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.batch_id:
            self.batch_id = key
            self.reload()

    def action_page(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.reload()

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
        """File writes and one insert: off the message loop, reported back by a message."""
        try:
            result = mint_snapshot(self.store, key, batch_id, templates_dir=self.templates_dir,
                                   output_dir=self.snapshots_dir)
        except (MintError, OSError) as exc:
            self.post_message(self.Failed("mint", str(exc)))
            return
        self.post_message(self.Minted(result))

    @on(Minted)
    def _minted(self, message: Minted) -> None:
        result = message.result
        self.busy = None
        self.notify(f"snapshot {result.number:03d} written to {result.path}", title="Minted")
        self.reload()

    @on(Failed)
    def _failed_message(self, message: Failed) -> None:
        self._failed(message.what, message.message)

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
        """The pool it was given (the app's: the model is loaded once), else a private one."""
        if self._pool is not None:
            return self._pool, False
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
        self.notify(f"{len(result.enriched)} enriched, {len(result.skipped)} skipped; "
                    f"written to {result.path}", title="Enriched")
        self.reload()

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
