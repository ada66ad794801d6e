"""Pick models: a filter line over a table of every backend's models, space/enter toggles."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tui_bench.domain import ModelInfo, ModelRef
from tui_bench.tui.widgets.format import backend_problems, model_rows

MARK_ON = "[x]"
MARK_OFF = "[ ]"


class ModelTable(DataTable[str | Text]):
    """The table part; printable keys go to the filter, so typing filters from anywhere."""

    BINDINGS = [Binding("space", "toggle_model", "Toggle model")]

    def on_key(self, event: events.Key) -> None:
        # "?" is help everywhere (no model name has one), so it is not typed into the filter.
        if event.is_printable and event.character and event.character not in " ?":
            picker = self.parent
            if isinstance(picker, ModelPicker):
                event.stop()
                event.prevent_default()
                picker.type_into_filter(event.character)

    def action_toggle_model(self) -> None:
        picker = self.parent
        if isinstance(picker, ModelPicker):
            picker.toggle_current()


class ModelFilter(Input):
    """The filter line; ``?`` still opens help here, as the footer promises."""

    async def _on_key(self, event: events.Key) -> None:
        if event.character == "?":
            event.stop()
            event.prevent_default()
            await self.app.run_action("help")
            return
        await super()._on_key(event)


class ModelPicker(Vertical):
    """Models from every configured backend with size, quantization and reachability."""

    class Changed(Message):
        """The set of selected models changed."""

        def __init__(self, picker: ModelPicker) -> None:
            super().__init__()
            self.picker = picker

        @property
        def control(self) -> ModelPicker:
            return self.picker

    def __init__(self, selected: Iterable[str] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: list[str] = list(dict.fromkeys(selected))
        self._models: list[ModelInfo] = []
        self._errors: dict[str, str] = {}
        self._discovering = False
        self.added: list[str] = []  # typed in by hand: discovery did not list them

    def compose(self) -> ComposeResult:
        yield ModelFilter(placeholder="type to filter · backend:name + enter adds a model "
                          "not listed", id="model-filter", compact=True, select_on_focus=False)
        yield ModelTable(id="model-table", cursor_type="row")
        yield Static(id="model-problems", classes="hidden")

    def on_mount(self) -> None:
        table = self.query_one(ModelTable)
        table.add_column("model", key="model")
        table.add_column("size", key="size")
        table.add_column("", key="state")

    @property
    def filter_text(self) -> str:
        return self.query_one("#model-filter", Input).value.strip().lower()

    def set_models(self, models: list[ModelInfo], errors: dict[str, str],
                   discovering: bool, *, notes: dict[str, str] | None = None) -> None:
        self._models, self._errors, self._discovering = list(models), dict(errors), discovering
        self._render_rows()
        problems = self.query_one("#model-problems", Static)
        problems.update(backend_problems(errors, notes))
        problems.set_class(not (errors or notes), "hidden")

    def _render_rows(self) -> None:
        table = self.query_one(ModelTable)
        keep = table.cursor_row
        table.clear()
        needle = self.filter_text
        rows = model_rows(self._models, self._errors, self._discovering)
        known = {m.ref for m in self._models}
        # Remembered choices a backend did not offer this time stay visible, to unpick them.
        missing = Text("checking…", style="dim") if self._discovering else Text(
            "not found", style="yellow")
        rows[:0] = [(ref, ref, "—", Text("added", style="cyan") if ref in self.added
                     else missing) for ref in self.selected if ref not in known]
        for index, (ref, label, size, state) in enumerate(rows):
            if needle and needle not in str(label).lower():
                continue
            table.add_row(self._label(ref, label), size, state, key=ref or f"-{index}")
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))

    @on(Input.Changed, "#model-filter")
    def _filter(self) -> None:
        self._render_rows()

    @on(Input.Submitted, "#model-filter")
    def _to_table(self, event: Input.Submitted) -> None:
        """Enter goes back to the table; ``backend:name`` that nothing listed is added."""
        typed = event.value.strip()
        known = {m.ref for m in self._models}
        if ":" in typed and typed not in known:
            try:
                ref = str(ModelRef.parse(typed))
            except ValueError as exc:
                self.app.notify(str(exc), severity="warning")
                return
            if ref not in known:
                if ref not in self.added:
                    self.added.append(ref)
                event.input.value = ""
                if ref not in self.selected:
                    self.toggle(ref)
                self._render_rows()
                self.app.notify(f"added {ref}; it is checked when the batch starts",
                                timeout=4)
        self.query_one(ModelTable).focus()

    def type_into_filter(self, character: str) -> None:
        box = self.query_one("#model-filter", Input)
        box.focus()
        box.insert_text_at_cursor(character)

    @on(DataTable.RowSelected, "#model-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.toggle_current()

    def toggle_current(self) -> None:
        table = self.query_one(ModelTable)
        if not table.row_count:
            return
        row_key, _ = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0))
        self.toggle(str(row_key.value))

    def toggle(self, ref: str) -> None:
        if ref.startswith("-"):  # an unreachable backend or a placeholder row
            return
        if ref in self.selected:
            self.selected.remove(ref)
        else:
            self.selected.append(ref)
        table = self.query_one(ModelTable)
        if ref in table.rows:
            table.update_cell(ref, "model", self._label(ref, ref))
        self.post_message(self.Changed(self))

    def _label(self, ref: str | None, label: Text | str) -> Text:
        if ref is None:
            return Text.assemble("    ", label)
        chosen = ref in self.selected
        return Text.assemble((MARK_ON if chosen else MARK_OFF, "bold" if chosen else "dim"),
                             " ", (str(label), "bold" if chosen else ""))
