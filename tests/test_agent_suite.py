"""The shipped agent suite: every fixture is broken as shipped and fixed by its reference patch.

For each scenario, the warmup control runs the validation commands on the untouched fixture
(it must be sound: what the task fixes fails, what it keeps passes), then the reference patch
is applied to a copy and the scenario's own evaluators score it through ``scoring.score``:
every validation command and oracle fact must pass, the change must stay in scope, and the run
must count as a success. Without the patch, ``validation`` scores below 1.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.agent_support import apply_patch
from tui_bench.agent_files import fixture_dir, load_oracle, reference_patch_path
from tui_bench.catalog import Catalog
from tui_bench.domain import TIERS
from tui_bench.engine.warmup import control, copy_fixture
from tui_bench.scoring import ScoringContext, score
from tui_bench.scoring.agent_checks import diff_stats

AGENT_IDS = ["agent-add-median", "agent-ask-user-discount", "agent-fix-word-count",
             "agent-rename-count-items"]


def test_the_agent_suite_ships_four_complete_scenarios(shipped_catalog: Catalog) -> None:
    suite = {s.id: s for s in shipped_catalog.suites.get("agent", [])}
    assert sorted(suite) == AGENT_IDS
    assert not [p for p in shipped_catalog.problems if "agent" in p.path]
    for scenario in suite.values():
        assert scenario.kind == "agent" and scenario.agent is not None
        assert sorted(scenario.tiers) == sorted(TIERS)
        names = {e.name: e.weight for e in scenario.evaluators}
        assert {"validation", "oracle", "scope", "llm_judge"} <= set(names)
        assert names["llm_judge"] == 0
        assert all(c.timeout_s <= 60 for c in scenario.agent.validation_commands)
        assert scenario.agent.scope and load_oracle(scenario)
        patch = reference_patch_path(scenario)
        assert patch is not None and patch.is_file()
        # The fixture is a repository, not scenarios: nothing under it was loaded.
        assert not any(str(fixture_dir(scenario)) in (s.source or "")
                       for s in shipped_catalog.scenarios.values())
    # Agent cells take many turns: a bare `--run` leaves them out, `--suite agent` asks.
    assert not [s for s in shipped_catalog.select() if s.kind == "agent"]
    assert len(shipped_catalog.select(["agent"])) == 4
    ask = suite["agent-ask-user-discount"].agent
    assert ask is not None and "ask_user" in ask.tools and ask.ask_user
    assert all(s.agent and s.agent.ask_user and "ask_user" in s.agent.tools for s in suite.values())
    assert "ask" in suite["agent-ask-user-discount"].prompt_for("L0").lower()


@pytest.mark.parametrize("scenario_id", AGENT_IDS)
async def test_fixture_fails_as_shipped_and_passes_with_its_reference_patch(
        shipped_catalog: Catalog, scenario_id: str) -> None:
    scenario = shipped_catalog.scenarios[scenario_id]
    assert scenario.agent is not None

    warm = await control(scenario)
    assert warm.ok, warm.reason
    task_checks = [c for c in warm.commands if c.fixed_by_task]
    assert task_checks and not any(c.passed for c in task_checks)

    patch = reference_patch_path(scenario)
    assert patch is not None
    diff = patch.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = copy_fixture(fixture_dir(scenario), Path(tmp) / "repo")
        untouched = await score(ScoringContext(scenario=scenario, output="", workspace=workspace))
        by_name = {e.evaluator: e for e in untouched.evaluations}
        assert by_name["validation"].score < 1
        assert not untouched.success

        apply_patch(patch, workspace)
        result = await score(ScoringContext(scenario=scenario, output="done", workspace=workspace,
                                            diff=diff, changed_files=diff_stats(diff)[0]))
    by_name = {e.evaluator: e for e in result.evaluations}
    assert by_name["validation"].score == 1.0, by_name["validation"].detail
    assert by_name["oracle"].score == 1.0, by_name["oracle"].detail
    assert by_name["scope"].score == 1.0, by_name["scope"].detail
    if "diff_size" in by_name:
        assert by_name["diff_size"].score == 1.0
    if "tests" in by_name:
        assert by_name["tests"].score == 1.0
    assert by_name["llm_judge"].weight == 0  # no judge given: skipped, not a zero
    assert result.success is True and result.auto_score == 1.0
