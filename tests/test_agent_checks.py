"""Agent evaluators on hand-made workspaces, the warmup control, and bad agent YAML."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent_support import load_scenario, write_agent_scenario
from tests.conftest import cli_env
from tui_bench.catalog import load_catalog
from tui_bench.domain import BatchSpec, EvaluatorSpec, Scenario
from tui_bench.engine.warmup import ControlResult, control, warm_up, without_broken
from tui_bench.scoring import ScoringContext, score
from tui_bench.scoring.agent_checks import diff_stats, pytest_share
from tui_bench.scoring.registry import EvalInput, get
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent
PY_OK = "python -c 'raise SystemExit(0)'"
PY_FAIL = "python -c 'raise SystemExit(3)'"
DIFF = """\
diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
-def add(a, b): return a - b
+def add(a, b): return a + b
 X = 1
diff --git a/notes.txt b/notes.txt
new file mode 100644
--- /dev/null
+++ b/notes.txt
@@ -0,0 +1,3 @@
+one
+two
+three
"""


def run(name: str, scenario: Scenario, workspace: Path | None, **extra: object) -> object:
    fn = get(name)
    assert fn is not None
    options = extra.pop("options", {})
    return fn.fn(EvalInput(scenario=scenario, output="", workspace=workspace,
                           options=options, **extra))  # type: ignore[arg-type]


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    """A hand-made agent scenario; its workspace is a copy of the fixture in ``ws``."""
    path = write_agent_scenario(
        tmp_path, "hand-made", {"calc.py": "def add(a, b): return a + b\nX = 1\n",
                                "conf.json": json.dumps({"db": {"port": 5432}}),
                                "conf.toml": "[server]\nhost = 'example'\n",
                                "conf.ini": "[paths]\nroot = /srv\n",
                                "test_calc.py": "from calc import add\n\n"
                                "def test_one():\n    assert add(1, 1) == 2\n\n"
                                "def test_two():\n    assert add(2, 2) == 5\n"},
        {"validation_commands": [{"name": "ok", "run": PY_OK},
                                 {"name": "tests", "run": "python -m pytest -q -p no:cacheprovider"},
                                 {"name": "fails", "run": PY_FAIL}],
         "scope": ["calc.py", "tests/*"], "reference_patch": "hand-made/ref.patch"},
        oracle=[
            {"kind": "file_contains", "path": "calc.py", "text": "a + b"},
            {"kind": "file_lacks", "path": "calc.py", "text": "a - b"},
            {"kind": "file_equals", "path": "conf.ini", "text": "[paths]\nroot = /srv"},
            {"kind": "file_exists", "path": "calc.py"},
            {"kind": "file_absent", "path": "calc.py"},  # does not hold
            {"kind": "config_value", "path": "conf.json", "key": "db.port", "value": 5432},
            {"kind": "config_value", "path": "conf.toml", "key": "server.host",
             "value": "example"},
            {"kind": "config_value", "path": "conf.ini", "key": "paths.root", "value": "/srv"},
            {"kind": "python", "module": "calc", "expr": "add(2, 3)", "expected": 5},
            {"kind": "python", "module": "calc", "expr": "add(2, 3)", "expected": 6},  # no
            {"kind": "python", "module": "calc", "expr": "raises(add, 1)",
             "expected": "TypeError"},
            {"kind": "python", "module": "nosuch", "expr": "1", "expected": 1},  # no
            {"kind": "file_contains", "path": "../outside.txt", "text": "x"},  # no: escape
        ])
    (tmp_path / "outside.txt").write_text("x")
    (tmp_path / "hand-made" / "ref.patch").write_text(DIFF)
    shutil.copytree(tmp_path / "hand-made" / "repo", tmp_path / "ws")
    return load_scenario(path)


def test_validation_and_command_evaluators(scenario: Scenario, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    result = run("validation", scenario, ws)
    assert result.score == pytest.approx(1 / 3)  # type: ignore[attr-defined]
    commands = {c["name"]: c for c in result.detail["commands"]}  # type: ignore[attr-defined]
    assert commands["ok"]["passed"] and commands["ok"]["exit_code"] == 0
    assert commands["fails"]["exit_code"] == 3 and not commands["fails"]["passed"]
    assert "1 failed, 1 passed" in commands["tests"]["output"]

    tests = run("tests", scenario, ws)
    assert tests.score == 0.5 and tests.detail["exit_code"] == 1  # type: ignore[attr-defined]
    lint = run("lint", scenario, ws, options={"run": PY_OK})
    assert lint.score == 1.0 and lint.detail["name"] == "lint"  # type: ignore[attr-defined]
    build = run("build", scenario, ws)
    assert build.status == "skipped"  # type: ignore[attr-defined]
    assert "no validation command named 'build'" in build.detail["why"]  # type: ignore[attr-defined]


def test_oracle_facts_each_kind(scenario: Scenario, tmp_path: Path) -> None:
    result = run("oracle", scenario, tmp_path / "ws")
    holds = [f["holds"] for f in result.detail["facts"]]  # type: ignore[attr-defined]
    assert holds == [True, True, True, True, False, True, True, True, True, False, True, False,
                     False]
    facts = result.detail["facts"]  # type: ignore[attr-defined]
    assert facts[9]["found"] == 5 and "ModuleNotFoundError" in facts[11]["found"]
    assert "outside the workspace" in facts[12]["found"]
    assert result.score == pytest.approx(9 / 13)  # type: ignore[attr-defined]


def test_scope_and_diff_size(scenario: Scenario) -> None:
    assert diff_stats(DIFF) == (["calc.py", "notes.txt"], 4, 1)
    scoped = run("scope", scenario, None, diff=DIFF)
    assert scoped.score == 0.5  # type: ignore[attr-defined]
    assert scoped.detail["outside_scope"] == ["notes.txt"]  # type: ignore[attr-defined]
    listed = run("scope", scenario, None, changed_files=["calc.py", "tests/test_x.py"])
    assert listed.score == 1.0  # type: ignore[attr-defined]
    # Against the reference patch (5 lines) x factor 1: a 10-line change scores 0.5.
    # Hunk lines that look like headers ("--- y", "+++ z") are lines, not file names.
    bigger = DIFF + "--- a/calc.py\n+++ b/calc.py\n@@ -5,2 +5,3 @@\n-- x\n--- y\n+a\n+b\n+++ z\n"
    assert diff_stats(bigger) == (["calc.py", "notes.txt"], 7, 3)
    sized = run("diff_size", scenario, None, diff=bigger, options={"factor": 1})
    assert sized.score == 0.5 and sized.detail["reference_lines"] == 5  # type: ignore[attr-defined]
    capped = run("diff_size", scenario, None, diff=DIFF, options={"max_lines": 10})
    assert capped.score == 1.0  # type: ignore[attr-defined]
    assert run("diff_size", scenario, None, diff="").status == "skipped"  # type: ignore[attr-defined]
    assert pytest_share("=== 3 passed, 1 failed, 1 error in 0.1s ===") == 0.6


async def test_every_agent_evaluator_skips_a_prompt_scenario(shipped_catalog) -> None:  # type: ignore[no-untyped-def]
    prompt = shipped_catalog.scenarios["coding-fizzbuzz"].model_copy(update={"evaluators": [
        EvaluatorSpec(name=n) for n in ("validation", "build", "lint", "scope", "diff_size")]})
    result = await score(ScoringContext(scenario=prompt, output="```python\nx = 1\n```"))
    assert all(e.weight == 0 and e.detail["status"] == "skipped" for e in result.evaluations)
    assert all("not an agent scenario" in e.detail["why"] for e in result.evaluations)
    assert result.auto_score is None


async def test_warmup_reports_broken_scenarios_and_records_them(tmp_path: Path) -> None:
    sound = load_scenario(write_agent_scenario(
        tmp_path, "sound", {"a.py": "x = 1\n"},
        {"validation_commands": [{"name": "task", "run": PY_FAIL},
                                 {"name": "keeps", "run": PY_OK, "fixed_by_task": False}]}))
    broken = load_scenario(write_agent_scenario(
        tmp_path, "broken", {"a.py": "x = 1\n"},
        {"validation_commands": [
            {"name": "already", "run": PY_OK},  # the untouched fixture passes what must be fixed
            {"name": "missing", "run": "no-such-program --flag"},
            {"name": "hangs", "run": "python -c 'import time; time.sleep(30)'", "timeout_s": 0.5},
            {"name": "nomodule", "run": "python -m no_such_module_xyz"},
            {"name": "regressed", "run": PY_FAIL, "fixed_by_task": False}]}))
    gone = load_scenario(write_agent_scenario(
        tmp_path, "gone", {}, {"validation_commands": [{"name": "t", "run": PY_OK}]}))
    (tmp_path / "gone" / "repo").rmdir()

    ok = await control(sound)
    assert ok.ok and ok.reason is None and [c.exit_code for c in ok.commands] == [3, 0]
    bad = await control(broken)
    assert not bad.ok and bad.reason is not None
    assert "already passes 'already'" in bad.reason
    assert "'missing' (no-such-program --flag) could not run: not found: no-such-program" in bad.reason
    assert "'hangs'" in bad.reason and "timed out" in bad.reason
    assert "module 'no_such_module_xyz' is not installed" in bad.reason
    assert "'regressed'" in bad.reason and "fails on the untouched fixture" in bad.reason
    missing = await control(gone)
    assert not missing.ok and "fixture folder not found" in (missing.reason or "")

    store = Store(tmp_path / "controls.db")
    try:
        await warm_up([sound, broken], store, "batch_x")
        rows = {r["scenario_id"]: r for r in store.controls("batch_x")}
        assert rows["sound"]["ok"] and not rows["broken"]["ok"]
        assert len(rows["broken"]["commands"]) == 5
        assert store.broken_scenarios("batch_x") == {"broken": bad.reason}
        await warm_up([sound], store, "batch_x")  # a resumed batch rechecks: one row each
        assert len(store.controls("batch_x")) == 2
    finally:
        store.close()


def test_bad_agent_yaml_gets_one_line_each_and_the_rest_load(tmp_path: Path) -> None:
    base = (ROOT / "scenarios" / "rubrics")
    folder = tmp_path / "scen"
    folder.mkdir()
    (folder / "rubrics").mkdir()
    for rubric in base.glob("*.yaml"):
        (folder / "rubrics" / rubric.name).write_text(rubric.read_text())
    good = {"validation_commands": [{"name": "t", "run": PY_OK}]}
    write_agent_scenario(folder, "good", {"a.py": "x = 1\n", "cfg.yaml": "not: [valid"}, good,
                         oracle=[{"kind": "file_exists", "path": "a.py"}])
    write_agent_scenario(folder, "no-fixture", {}, good)
    (folder / "no-fixture" / "repo").rmdir()
    write_agent_scenario(folder, "bad-tool", {"a.py": ""}, {**good, "tools": ["read_file", "rm"]})
    write_agent_scenario(folder, "bad-program", {"a.py": ""},
                         {"validation_commands": [{"name": "t", "run": "pytestt -q"}]})
    write_agent_scenario(folder, "bad-oracle", {"a.py": ""}, good)
    (folder / "bad-oracle" / "oracle.yaml").write_text("facts: [kind: nope")
    (folder / "bad-oracle.yaml").write_text((folder / "bad-oracle.yaml").read_text().replace(
        "  validation_commands:", "  oracle: bad-oracle/oracle.yaml\n  validation_commands:"))
    write_agent_scenario(folder, "bad-fact", {"a.py": ""}, good,
                         oracle=[{"kind": "python", "module": "a"}])

    catalog = load_catalog([folder])
    assert sorted(catalog.scenarios) == ["good"]  # fixture files (cfg.yaml) are not scenarios
    lines = sorted(str(p) for p in catalog.problems)
    assert len(lines) == 5, lines
    expect = {"no-fixture": "agent.fixture: fixture folder not found",
              "bad-tool": "agent.tools[1]:",
              "bad-program": "agent.validation_commands[0].run: program 'pytestt' not found",
              "bad-oracle": "agent.oracle: oracle file",
              "bad-fact": "agent.oracle facts[0]: kind python needs expr"}
    for name, text in expect.items():
        assert any(f"{name}.yaml: {text}" in line for line in lines), (name, lines)

    done = subprocess.run([sys.executable, "-m", "tui_bench", "scenarios", "--check",
                           "--scenarios-dir", str(folder)], check=False, capture_output=True,
                          text=True, env=cli_env(PYTHONPATH=str(ROOT)), timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 5 and all(line.startswith("error: ") for line in errors)


def test_run_leaves_broken_agent_scenarios_out_before_any_model_time(tmp_path: Path) -> None:
    folder = tmp_path / "scen"
    (folder / "rubrics").mkdir(parents=True)
    for rubric in (ROOT / "scenarios" / "rubrics").glob("*.yaml"):
        (folder / "rubrics" / rubric.name).write_text(rubric.read_text())
    write_agent_scenario(folder, "already-fixed", {"a.py": "x = 1\n"},
                         {"validation_commands": [{"name": "task", "run": PY_OK}]})
    db = tmp_path / "warm.db"
    done = subprocess.run(
        [sys.executable, "-m", "tui_bench", "--run", "--scenarios-dir", str(folder), "--suite",
         "agent-test", "--batch-id", "warm-1", "--db", str(db)], check=False,
        capture_output=True, text=True, env=cli_env(PYTHONPATH=str(ROOT)), timeout=120,
        cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("warmup: scenario already-fixed is broken, left out: the untouched fixture already "
            "passes 'task'") in done.stderr
    assert "every scenario failed its warmup" in done.stderr
    store = Store(db)
    try:
        assert store.broken_scenarios("warm-1").keys() == {"already-fixed"}
        assert store.count_runs("warm-1") == 0
    finally:
        store.close()

    spec = BatchSpec(batch_id="b", models=["embedded:smollm2"], scenarios=["a", "b", "c"])
    kept = without_broken(spec, [ControlResult("b", False, "why"), ControlResult("c", True)])
    assert kept.scenarios == ["a", "c"] and spec.scenarios == ["a", "b", "c"]


async def test_llm_judge_grades_an_agent_on_its_final_diff(shipped_catalog) -> None:  # type: ignore[no-untyped-def]
    from tests.test_scoring_judge import CODE_RUBRIC, ScriptedJudge

    scenario = shipped_catalog.scenarios["agent-fix-word-count"].model_copy(
        update={"evaluators": [EvaluatorSpec(name="llm_judge")]})
    judge = ScriptedJudge(json.dumps({"correctness": 20, "structure": 18, "performance": 15,
                                      "best_practices": 16, "documentation": 12, "testing": 5,
                                      "reason": "A one-line fix."}))
    diff = (ROOT / "scenarios/agent/agent-fix-word-count/reference.patch").read_text()
    result = await score(ScoringContext(scenario=scenario, output="All done, trust me.",
                                        rubric=CODE_RUBRIC, judge=judge, diff=diff))
    user = judge.calls[0][0][-1]["content"]
    assert "+    return len(text.split())" in user and "trust me" not in user
    assert result.evaluations[0].score == pytest.approx(0.86)
