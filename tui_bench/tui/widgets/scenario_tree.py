"""Pick scenarios: suites, then categories, then scenarios; space marks, enter opens or marks.

HumanEval's 164 problems are not read until its suite is opened, in a thread, so the choose
screen opens at once however big the suites are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui_bench.catalog import HUMANEVAL_SUITE, Catalog
from tui_bench.domain import Scenario

MARK_ON = "[x] "
MARK_OFF = "[ ] "


@dataclass(frozen=True)
class NodeData:
    kind: str  # "suite", "category" or "scenario"
    key: str  # suite name, "suite/category" or scenario id
    suite: str


class ScenarioTree(Tree[NodeData]):
    """A tree of the catalog with a mark on each chosen scenario."""

    BINDINGS = [Binding("space", "toggle_mark", "Toggle scenario")]

    class Changed(Message):
        """The set of marked scenarios changed."""

    class Previewed(Message):
        """The cursor rests on a scenario: show it."""

        def __init__(self, scenario: Scenario | None) -> None:
            super().__init__()
            self.scenario = scenario

    @dataclass
    class HumanEvalLoaded(Message):
        """The HumanEval problems, read in a worker (or why they could not be)."""

        problems: list[Scenario]
        problem: str | None

    def __init__(self, catalog: Catalog, marked: Iterable[str] = (), *,
                 id: str | None = None) -> None:
        super().__init__("scenarios", id=id)
        self.catalog = catalog
        self.marked: list[str] = list(dict.fromkeys(marked))
        self.show_root = False
        self.guide_depth = 2
        self._scenarios: dict[str, Scenario] = dict(catalog.scenarios)
        self._humaneval: TreeNode[NodeData] | None = None
        self._humaneval_state = "closed"  # closed, loading, loaded, failed

    def on_mount(self) -> None:
        for suite, scenarios in sorted(self.catalog.suites.items()):
            self._add_suite(suite, scenarios)
        self._humaneval = self.root.add(
            self._branch_label(HUMANEVAL_SUITE, []), data=NodeData("suite", HUMANEVAL_SUITE,
                                                                   HUMANEVAL_SUITE),
            allow_expand=True)
        self._refresh_humaneval_label()
        self.root.expand()
        first = next(iter(self.root.children), None)
        if first is not None and first is not self._humaneval:
            first.expand()

    def _add_suite(self, suite: str, scenarios: list[Scenario],
                   node: TreeNode[NodeData] | None = None) -> TreeNode[NodeData]:
        if node is None:
            node = self.root.add("", data=NodeData("suite", suite, suite))
        by_category: dict[str, list[Scenario]] = {}
        for scenario in sorted(scenarios, key=lambda s: s.id):
            by_category.setdefault(scenario.category, []).append(scenario)
        for category, items in sorted(by_category.items()):
            branch = node.add("", data=NodeData("category", f"{suite}/{category}", suite),
                              expand=len(by_category) == 1)
            for scenario in items:
                branch.add_leaf(self._leaf_label(scenario),
                                data=NodeData("scenario", scenario.id, suite))
            branch.set_label(self._branch_label(category, [s.id for s in items]))
        node.set_label(self._branch_label(suite, [s.id for s in scenarios]))
        return node

    # ---- labels

    def _leaf_label(self, scenario: Scenario) -> Text:
        on_ = scenario.id in self.marked
        return Text.assemble((MARK_ON if on_ else MARK_OFF, "bold" if on_ else "dim"),
                             scenario.id)

    def _branch_label(self, name: str, ids: list[str]) -> Text:
        chosen = sum(1 for i in ids if i in self.marked)
        counts = f" {chosen}/{len(ids)}" if ids else ""
        return Text.assemble((name, "bold"), (counts, "dim"))

    def _refresh_humaneval_label(self) -> None:
        if self._humaneval is None:
            return
        chosen = sum(1 for i in self.marked if i.startswith(f"{HUMANEVAL_SUITE}-"))
        note = {"closed": " (164, read when opened)", "loading": " (reading…)",
                "failed": " (unavailable)"}.get(self._humaneval_state, "")
        label = Text.assemble((HUMANEVAL_SUITE, "bold"), (note, "dim italic"))
        if self._humaneval_state == "loaded":
            ids = [s for s in self._scenarios if s.startswith(f"{HUMANEVAL_SUITE}-")]
            label = self._branch_label(HUMANEVAL_SUITE, ids)
        elif chosen:
            label.append(f" {chosen} chosen", style="dim")
        self._humaneval.set_label(label)

    def _relabel(self, node: TreeNode[NodeData]) -> None:
        """Refresh a node's label and its ancestors' counts after marks changed."""
        current: TreeNode[NodeData] | None = node
        while current is not None and current.data is not None:
            data = current.data
            if data.kind == "scenario":
                scenario = self._scenarios.get(data.key)
                if scenario is not None:
                    current.set_label(self._leaf_label(scenario))
            elif current is self._humaneval:
                self._refresh_humaneval_label()
            else:
                name = data.key.split("/", 1)[-1]
                current.set_label(self._branch_label(name, self._leaf_ids(current)))
            current = current.parent

    def _leaf_ids(self, node: TreeNode[NodeData]) -> list[str]:
        out: list[str] = []
        for child in node.children:
            if child.data is not None and child.data.kind == "scenario":
                out.append(child.data.key)
            else:
                out.extend(self._leaf_ids(child))
        return out

    # ---- marking

    def action_toggle_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None:
            return
        if node is self._humaneval and self._humaneval_state != "loaded":
            node.expand()
            self.notify("reading HumanEval; press space again to take the whole suite")
            return
        if node.data.kind == "scenario":
            self._set_marks([node.data.key], node.data.key not in self.marked)
            self._relabel(node)
        else:
            ids = self._leaf_ids(node)
            take = not all(i in self.marked for i in ids)
            self._set_marks(ids, take)
            for leaf in self._leaves(node):
                leaf.set_label(self._leaf_label(self._scenarios[leaf.data.key]))  # type: ignore[union-attr]
            for child in node.children:
                if child.data is not None and child.data.kind == "category":
                    self._relabel_branch(child)
            self._relabel(node)
        self.post_message(self.Changed())

    def _relabel_branch(self, node: TreeNode[NodeData]) -> None:
        name = node.data.key.split("/", 1)[-1] if node.data else ""
        node.set_label(self._branch_label(name, self._leaf_ids(node)))

    def _leaves(self, node: TreeNode[NodeData]) -> list[TreeNode[NodeData]]:
        out: list[TreeNode[NodeData]] = []
        for child in node.children:
            if child.data is not None and child.data.kind == "scenario":
                out.append(child)
            else:
                out.extend(self._leaves(child))
        return out

    def _set_marks(self, ids: list[str], on_: bool) -> None:
        if on_:
            self.marked.extend(i for i in ids if i not in self.marked)
        else:
            drop = set(ids)
            self.marked = [i for i in self.marked if i not in drop]

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        if event.node.data is not None and event.node.data.kind == "scenario":
            event.stop()
            self.action_toggle_mark()

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        data = event.node.data
        scenario = self._scenarios.get(data.key) if data and data.kind == "scenario" else None
        self.post_message(self.Previewed(scenario))

    # ---- HumanEval, read on first opening

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        if event.node is self._humaneval and self._humaneval_state in ("closed", "failed"):
            self._humaneval_state = "loading"
            self._refresh_humaneval_label()
            self._load_humaneval()

    @work(thread=True, exclusive=True, exit_on_error=False, group="humaneval")
    def _load_humaneval(self) -> None:
        try:
            problems = self.catalog.humaneval()
        except Exception as exc:  # the package or its data file is missing
            self.post_message(self.HumanEvalLoaded([], f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.HumanEvalLoaded(problems, None))

    @on(HumanEvalLoaded)
    def _on_humaneval_loaded(self, message: HumanEvalLoaded) -> None:
        message.stop()  # the tree's own business
        if message.problem is not None:
            self._humaneval_failed(message.problem)
        else:
            self._humaneval_loaded(message.problems)

    def _humaneval_loaded(self, problems: list[Scenario]) -> None:
        assert self._humaneval is not None
        self._scenarios.update((s.id, s) for s in problems)
        self._humaneval_state = "loaded"
        self._humaneval.remove_children()
        self._add_suite(HUMANEVAL_SUITE, problems, node=self._humaneval)
        self._humaneval.expand()
        self.post_message(self.Changed())

    def _humaneval_failed(self, reason: str) -> None:
        self._humaneval_state = "failed"
        self._refresh_humaneval_label()
        self.notify(f"HumanEval is not available: {reason}", severity="error")

    def reveal(self, scenario_id: str) -> bool:
        """Open the branches above a scenario and put the cursor on it."""
        def find(node: TreeNode[NodeData]) -> TreeNode[NodeData] | None:
            for child in node.children:
                if child.data is not None and child.data.key == scenario_id:
                    return child
                found = find(child)
                if found is not None:
                    return found
            return None

        node = find(self.root)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(self.move_cursor, node)
        return True

    def scenario(self, scenario_id: str) -> Scenario | None:
        return self._scenarios.get(scenario_id)
