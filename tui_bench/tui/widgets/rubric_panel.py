"""The right-hand side of the judging screen: one slider per criterion, its anchor, the total.

The panel draws a ``ScoreSheet`` and never changes it: keys are the screen's business. The one
thing that starts here is a mouse click on a slider, posted up as ``RubricPanel.Picked``.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static
from textual_slider import Slider

from tui_bench.domain import Criterion, Rubric
from tui_bench.tui.widgets.rubric_state import ScoreSheet

UNSET = "unset"
KEYS_HINT = "↑↓ criterion · ←→ ±1 · shift+←→ ±5 · digits type a value · ⏎ save & next"
# What a band means where its name alone does not say (it reads like a verdict otherwise).
BAND_NOTES = {"reference only": "below 60%: keep as a reference, not fit to use as is"}


def band_note(band: str | None) -> str:
    """`` (below 60%: ...)`` for a band whose name needs explaining, else nothing."""
    note = BAND_NOTES.get(band or "")
    return f" ({note})" if note else ""


def total_text(sheet: ScoreSheet) -> Text:
    """``Total 72 / 100 · 72% · good``, or what is still missing."""
    rubric = sheet.rubric
    if sheet.complete:
        percent = sheet.percent or 0.0
        return Text.assemble(("Total ", "bold"), f"{sheet.total} / {rubric.max_total} · ",
                             f"{percent:.0f}% · ", (str(sheet.band), "bold"),
                             band_note(sheet.band))
    names = ", ".join(c.name for c in sheet.unset)
    return Text.assemble(("Total ", "bold"), f"{sheet.total} / {rubric.max_total} so far · ",
                         ("unset: ", "bold"), names)


def anchor_lines(criterion: Criterion, value: int | None) -> Text:
    """Every anchor of a criterion, the one the value sits on marked."""
    text = Text.assemble((f"{criterion.name}", "bold"), f" ({criterion.min}–{criterion.max})")
    if criterion.description:
        text.append(f"\n{criterion.description}", style="italic")
    if not criterion.anchors:
        text.append("\nno anchors in this rubric")
        return text
    active = None
    if value is not None:
        below = [s for s in criterion.anchors if s <= value]
        active = max(below) if below else None
    for score in sorted(criterion.anchors):
        mark = "▶" if score == active else " "
        text.append(f"\n{mark} {score:>3}  {criterion.anchors[score]}",
                    style="bold" if score == active else "")
    return text


class CriterionRow(Vertical):
    """One criterion: name and range, the slider, the value (or "unset"), the anchor."""

    def __init__(self, criterion: Criterion, index: int) -> None:
        super().__init__(classes="criterion -unset")
        self.criterion = criterion
        self.index = index

    def compose(self) -> ComposeResult:
        with Horizontal(classes="criterion-line"):
            yield Static(classes="criterion-title")
            slider = Slider(self.criterion.min, self.criterion.max, value=self.criterion.min,
                            classes="criterion-slider")
            slider.can_focus = False  # the screen owns the keys; the mouse still works
            yield slider
            yield Static(classes="criterion-value")
        yield Static(classes="criterion-anchor")

    def show(self, value: int | None, current: bool) -> None:
        crit = self.criterion
        mark = "▶ " if current else "  "
        self.query_one(".criterion-title", Static).update(Text.assemble(
            mark, (crit.name, "bold"), f" {crit.min}–{crit.max}"))
        shown = Text(UNSET, style="italic") if value is None else Text(
            f"{value:>3} / {crit.max}", style="bold")
        self.query_one(".criterion-value", Static).update(shown)
        slider = self.query_one(Slider)
        with self.prevent(Slider.Changed):
            slider.value = crit.min if value is None else value
        if value is None:
            anchor = "move ←/→ or type a number to set it"
        else:
            anchor = crit.anchor_for(value) or "—"
        self.query_one(".criterion-anchor", Static).update(anchor)
        self.set_class(value is None, "-unset")
        self.set_class(current, "-current")


class RubricPanel(Vertical, can_focus=True):
    """The score sheet's sliders; focused while judging so keys reach the screen."""

    class Picked(Message):
        """A slider was moved with the mouse."""

        def __init__(self, criterion_id: str, value: int) -> None:
            super().__init__()
            self.criterion_id = criterion_id
            self.value = value

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rubric: Rubric | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="rubric-title")
        yield Vertical(id="rubric-criteria")
        yield Static(id="rubric-total")

    async def load(self, sheet: ScoreSheet) -> None:
        """Build a row per criterion, unless the rubric is the one already shown."""
        rubric = sheet.rubric
        if self._rubric is None or (self._rubric.id, self._rubric.version) != (
                rubric.id, rubric.version):
            box = self.query_one("#rubric-criteria", Vertical)
            await box.remove_children()
            await box.mount_all([CriterionRow(c, i) for i, c in enumerate(rubric.criteria)])
            self._rubric = rubric
            self.query_one("#rubric-title", Static).update(Text.assemble(
                ("Rubric ", "bold"), f"{rubric.name} ({rubric.id} v{rubric.version})\n",
                (KEYS_HINT, "dim")))
        self.show(sheet)

    def show(self, sheet: ScoreSheet) -> None:
        for row in self.query(CriterionRow):
            row.show(sheet.value(row.criterion.id), row.index == sheet.cursor)
        self.query_one("#rubric-total", Static).update(total_text(sheet))
        rows = list(self.query(CriterionRow))
        if rows and sheet.cursor < len(rows):
            rows[sheet.cursor].scroll_visible(animate=False)

    def on_slider_changed(self, event: Slider.Changed) -> None:
        event.stop()
        row = next((r for r in event.slider.ancestors if isinstance(r, CriterionRow)), None)
        if row is not None:
            self.post_message(self.Picked(row.criterion.id, int(event.value)))
