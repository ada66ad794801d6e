"""The live table of cells: one row per run, added when it starts, updated in place after."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tui_bench.domain import Cell, RunRecord
from tui_bench.present import milliseconds, number
from tui_bench.tui.widgets.format import first_line

# (label, key, width): fixed widths so a long scenario id cannot push the numbers off an
# 80-column screen; the detail pane has the full names.
COLUMNS: list[tuple[str, str, int | None]] = [
    ("model", "model", 14),
    ("scenario", "scenario", 20),
    ("tier", "tier", 4),
    ("status", "status", 11),
    ("score", "score", 5),
    ("pass", "pass", 4),
    ("ttft", "ttft", 6),
    ("tok/s", "tps", 5),
]


class CellsTable(DataTable[str | Text]):
    """Rows keyed by run id; ``show_running`` and ``show_record`` touch only their own cells."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        # Names get the room a wide terminal has; the numbers keep their fixed widths.
        spare = max(0, self.app.size.width - 100) // 2
        for label, key, width in COLUMNS:
            if key in ("model", "scenario") and width is not None:
                width += min(spare, 24)
            self.add_column(label, key=key, width=width)

    def add_cell(self, run_id: str, cell: Cell | RunRecord) -> None:
        if run_id in self.rows:
            return
        tier = cell.tier + (f"/{cell.prompt_version}" if cell.prompt_version != "v1" else "")
        scenario = cell.scenario_id + (f" #{cell.iteration}" if cell.iteration > 1 else "")
        if cell.specialist:  # else a baseline and a specialist row read as duplicates
            scenario += f" +{cell.specialist}"
        model = cell.model.split(":", 1)[-1]  # the backend is in the detail pane
        self.add_row(model, scenario, tier, Text("waiting", style="dim"), "", "", "", "",
                     key=run_id)

    def show_running(self, run_id: str, tokens: int, attempt: int, retrying: str | None,
                     tps: float | None, activity: str | None = None, *,
                     began: bool = False) -> None:
        """A running cell's tokens so far and live pace (its ttft comes with the record: the
        engine times it from when the cell got a backend slot, which the screen cannot see)."""
        if run_id not in self.rows:
            return
        if retrying:
            status = Text(retrying, style="dark_orange")
        elif activity:  # an agent cell: its turn and tool calls say more than its tokens
            status = Text(activity, style="yellow")
        elif not tokens:
            # Holding its backend slot (reading the prompt) is running, not waiting.
            status = Text("starting", style="yellow") if began else Text("waiting", style="dim")
        else:
            status = Text(f"running {tokens}t" + (f" a{attempt}" if attempt > 1 else ""),
                          style="yellow")
        self.update_cell(run_id, "status", status)
        self.update_cell(run_id, "tps", number(tps, "{:.0f}"))

    def show_record(self, record: RunRecord) -> None:
        if record.run_id not in self.rows:
            self.add_cell(record.run_id, record)
        tel = record.telemetry
        if record.status == "ok":
            status = Text("ok", style="green")
        elif record.status == "cancelled":
            status = Text("cancelled", style="dark_orange")
        else:
            status = Text(f"error: {first_line(record.error or '', 40)}", style="bold red")
            status.truncate(11, overflow="ellipsis")
        passed = "—" if record.success is None else ("✓" if record.success else "✗")
        values: dict[str, str | Text] = {
            "status": status,
            "score": number(record.auto_score),
            "pass": Text(passed, style="green" if record.success else "red"),
            "ttft": milliseconds(tel.ttft_ms),
            "tps": number(tel.tokens_per_s, "{:.0f}"),
        }
        for column, value in values.items():
            self.update_cell(record.run_id, column, value)

    def run_id_at_cursor(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return str(row_key.value)
