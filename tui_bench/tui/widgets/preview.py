"""What a scenario asks and how it is scored, as the choose screen's preview pane shows it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tui_bench.catalog import Catalog
from tui_bench.domain import DEFAULT_PROMPT_VERSION, DEFAULT_TIER, Scenario


def scenario_preview(scenario: Scenario | None, catalog: Catalog, *, tier: str = DEFAULT_TIER,
                     version: str = DEFAULT_PROMPT_VERSION) -> RenderableType:
    """The prompt for ``tier``/``version``, evaluators with weights, and the rubric."""
    if scenario is None:
        return Text("Move onto a scenario to see its prompt, evaluators and rubric.",
                    style="dim")
    head = Text.assemble((scenario.id, "bold"), "  ", (scenario.name, "italic"))
    facts = Text(f"{scenario.suite} / {scenario.category} · {scenario.complexity} · "
                 f"pass at {scenario.threshold:.2f}", style="dim")
    parts: list[RenderableType] = [head, facts]
    system = scenario.system_for(version)
    if system:
        parts += [Text("system", style="bold underline"), Text(system)]
    parts += [Text(f"prompt ({tier}, {version})", style="bold underline"),
              Text(scenario.prompt_for(tier, version))]
    total = sum(e.weight for e in scenario.evaluators) or 1.0
    evaluators = Text("evaluators ", style="bold")
    evaluators.append(", ".join(
        f"{e.name} ×{e.weight:g} ({100 * e.weight / total:.0f}%)" for e in scenario.evaluators))
    parts.append(evaluators)
    rubric = catalog.rubric_for(scenario)
    if rubric is None:
        parts.append(Text(f"rubric {scenario.rubric} (not loaded)", style="red"))
    else:
        line = Text.assemble(("rubric ", "bold"), f"{rubric.name} ({rubric.id}, "
                             f"{rubric.max_total} points)")
        parts.append(line)
        for crit in rubric.criteria:
            parts.append(Text(f"  {crit.name} {crit.min}–{crit.max}", style="dim"))
    return Group(*parts)
