"""Small dialogs of the judging screens: who is judging, and which runs to judge."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from tui_bench.store.judging import QueueFilter

DIALOG_CSS = """
    %s {
        align: center middle;
    }
    %s > .dialog {
        width: 72;
        height: auto;
        padding: 1 2;
        border: thick $accent;
        background: $surface;
    }
    %s .dialog-buttons {
        height: auto;
        margin-top: 1;
    }
    %s .dialog > Label {
        width: 100%;  /* wrap long prompts instead of cutting them at the border */
    }
"""

UNJUDGED_CHOICES = [("not judged by anyone yet", "anyone"), ("not judged by me yet", "me"),
                    ("all finished runs", "all")]


class JudgeNameDialog(ModalScreen[str | None]):
    """Asked once: the name every judgment is recorded under (kept in judge.json)."""

    DEFAULT_CSS = DIALOG_CSS.replace("%s", "JudgeNameDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="judge-name-dialog", classes="dialog"):
            yield Label("Who is judging? Your name is stored with every judgment, and "
                        "remembered for next time.")
            yield Input(value=self.current or "", placeholder="your name", id="judge-name")

    @on(Input.Submitted, "#judge-name")
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name:
            self.notify("a name is needed to record judgments", severity="warning")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QueueFilterDialog(ModalScreen[QueueFilter | None]):
    """Pick which runs the queue holds: batch, model, scenario, rubric, judged or not."""

    DEFAULT_CSS = DIALOG_CSS.replace("%s", "QueueFilterDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, current: QueueFilter, facets: dict[str, list[str]]) -> None:
        super().__init__()
        self.current = current
        self.facets = facets

    def _select(self, name: str, prompt: str, value: str | None) -> Select[str]:
        options = [(v, v) for v in self.facets.get(name, [])]
        if value is not None and value not in self.facets.get(name, []):
            options.insert(0, (value, value))
        return Select(options, prompt=prompt, allow_blank=True, id=f"filter-{name}",
                      value=value if value is not None else Select.NULL)

    def compose(self) -> ComposeResult:
        f = self.current
        with Vertical(id="queue-filter-dialog", classes="dialog"):
            yield Label("Which runs to judge (tab moves, ctrl+s applies, escape cancels)")
            yield self._select("batch_id", "any batch", f.batch_id)
            yield self._select("model", "any model", f.model)
            yield self._select("scenario_id", "any scenario", f.scenario_id)
            yield self._select("rubric", "any rubric", f.rubric_id)
            yield Select(UNJUDGED_CHOICES, allow_blank=False, value=f.unjudged,
                         id="filter-unjudged")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply", variant="primary", id="filter-apply")
                yield Button("Cancel", id="filter-cancel")

    def _value(self, name: str) -> str | None:
        value = self.query_one(f"#filter-{name}", Select).value
        return None if value is Select.NULL else str(value)

    def action_apply(self) -> None:
        self.dismiss(replace(
            self.current, batch_id=self._value("batch_id"), model=self._value("model"),
            scenario_id=self._value("scenario_id"), rubric_id=self._value("rubric"),
            unjudged=self._value("unjudged") or "anyone"))  # type: ignore[arg-type]

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#filter-apply")
    def _apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#filter-cancel")
    def _cancel(self) -> None:
        self.action_cancel()
