"""Agent cells: the workspace and its path guard, the tools, and the whole loop end to end.

The loop is driven twice: by a scripted OpenAI-compatible server that plays a known sequence of
tool calls through the real OpenAI backend (checking everything the store keeps), and by the
embedded SmolLM2 model for real (slow).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import (
    AgentSpec,
    BatchSpec,
    CannedReply,
    EvaluatorSpec,
    Scenario,
    ValidationCommand,
)
from tui_bench.engine.events import ToolCalled
from tui_bench.engine.runner import Runner
from tui_bench.engine.tools import ToolBox, canned_reply
from tui_bench.engine.workspace import PREFIX, Workspace, sweep_stale
from tui_bench.scoring.registry import EvalInput, EvalResult, register
from tui_bench.scoring.sandbox import run_command
from tui_bench.settings import Settings
from tui_bench.store import Store
from tui_bench.tui.live_state import LiveState
from tui_bench.tui.screens.batches import BatchDetailScreen

from .servers.openai_server import OpenAITestServer, Script
from .test_batches_screen import Host, settle, text_of

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _probe(inp: EvalInput) -> EvalResult:
    """Share of the scenario's validation commands that pass in the final workspace (a
    stand-in for the shipped ``validation`` evaluator, so this test stands on its own)."""
    assert inp.workspace is not None and inp.workspace.is_dir()
    spec = inp.scenario.agent
    assert spec is not None
    passed = [run_command(shlex.split(c.run), inp.workspace, timeout_s=c.timeout_s).exit_code == 0
              for c in spec.validation_commands]
    return EvalResult(sum(passed) / len(passed), {"passed": sum(passed),
                                                   "changed": inp.changed_files,
                                                   "diff_has_fix": "+    return a + b" in inp.diff})


register("agent_test_probe", _probe, replace=True)


def make_fixture(root: Path) -> Path:
    repo = root / "fixture" / "repo"
    (repo / "__pycache__").mkdir(parents=True)
    (repo / "calc.py").write_text(BUGGY)
    (repo / "test_calc.py").write_text(TESTS)
    (repo / "__pycache__" / "calc.cpython-311.pyc").write_bytes(b"\0junk")
    (repo / ".venv").mkdir()
    (repo / ".venv" / "big").write_text("x")
    return repo


def agent_scenario(root: Path, **agent: object) -> Scenario:
    make_fixture(root)
    spec = AgentSpec(
        fixture="fixture/repo", max_turns=agent.pop("max_turns", 10),  # type: ignore[arg-type]
        ask_user=[CannedReply(when="which", reply="calc.py"), CannedReply(reply="just fix it")],
        validation_commands=[{"name": "tests", "run": "python -m pytest -q -p no:cacheprovider",
                              "timeout_s": 60}], **agent)  # type: ignore[list-item, arg-type]
    return Scenario(
        id="agent-fix-add", name="Fix add", suite="agent-test", category="bugfix",
        prompt="The test fails: add() subtracts. Fix calc.py so the tests pass.",
        tiers={"L0": "Fix the bug."}, kind="agent", agent=spec, rubric="code-v1",
        evaluators=[EvaluatorSpec(name="agent_test_probe")], source=str(root / "agent.yaml"))


def my_workspaces() -> list[str]:
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(f"{PREFIX}{os.getpid()}-")]


# --------------------------------------------------------------------------- workspace, tools


async def test_tools_refuse_escapes_and_report_problems(tmp_path: Path) -> None:
    fixture = make_fixture(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    (fixture / "link").symlink_to(tmp_path)  # a symlink that leads out of the repository
    (fixture / "inner").symlink_to("calc.py")  # a relative one that stays inside is fine
    workspace = Workspace.create(fixture)
    try:
        copied = sorted(p.name for p in workspace.root.iterdir())
        assert copied == ["calc.py", "inner", "link", "test_calc.py"]  # no .venv, __pycache__
        spec = AgentSpec(fixture="x", tools=["read_file", "write_file", "list_directory"],
                         validation_commands=[ValidationCommand(name="t", run="true")])
        box = ToolBox(workspace, spec)
        escapes = [("read_file", {"path": "../secret.txt"}),
                   ("read_file", {"path": str(outside)}),
                   ("read_file", {"path": "link/secret.txt"}),
                   ("write_file", {"path": "link/planted.txt", "content": "x"}),
                   ("write_file", {"path": "../../planted.txt", "content": "x"}),
                   ("list_directory", {"path": ".."})]
        for name, args in escapes:
            outcome = await box.call(name, json.dumps(args))
            assert outcome.problem == "refused", (name, args, outcome)
            assert "top secret" not in outcome.content
        assert not (tmp_path / "planted.txt").exists()
        assert not list(tmp_path.rglob("planted.txt"))
        assert (await box.call("read_file", '{"path": "inner"}')).content == BUGGY
        # Malformed calls and a tool the scenario does not allow: answered, never raised.
        assert (await box.call("read_file", '{"path": ')).problem == "malformed"
        assert (await box.call("read_file", '{"file": "calc.py"}')).problem == "malformed"
        assert (await box.call("read_file", '{"path": 3}')).problem == "malformed"
        assert (await box.call("delete_everything", "{}")).problem == "malformed"
        refused = await box.call("run_command", '{"command": "ls"}')
        assert refused.problem == "refused" and "not available" in refused.content
        listing = await box.call("list_directory", "{}")
        assert listing.problem is None and "calc.py" in listing.content
        wrote = await box.call("write_file", json.dumps({"path": "pkg/new.py", "content": "1\n"}))
        assert wrote.problem is None
        await box.call("write_file", json.dumps({"path": "calc.py", "content": FIXED}))
        diff = workspace.diff()
        assert diff.changed_files == ["calc.py", "pkg/new.py"]
        assert (diff.lines_added, diff.lines_removed) == (2, 1)
        assert "-    return a - b\n+    return a + b\n" in diff.text
    finally:
        workspace.remove()
    assert not workspace.root.exists()


async def test_hanging_and_flooding_commands_end_with_a_reason(tmp_path: Path) -> None:
    workspace = Workspace.create(make_fixture(tmp_path))
    try:
        spec = AgentSpec(fixture="x", command_timeout_s=1,
                         validation_commands=[ValidationCommand(name="t", run="true")])
        box = ToolBox(workspace, spec)
        hang = await box.call("run_command", json.dumps(
            {"command": "python -c 'import time; time.sleep(60)'"}))
        assert hang.content.startswith("[stopped: still running after 1s]")
        flood = await box.call("run_command", json.dumps(
            {"command": "python -c 'while True: print(\"x\" * 1000)'"}))
        assert flood.content.startswith("[stopped: output over 64000 bytes]")
        assert len(flood.content) < 7_000  # cut again for the model
        patient = ToolBox(workspace, spec.model_copy(update={"command_timeout_s": 120}))
        ok = await patient.call("run_command", json.dumps({"command": "python -m pytest -q"}))
        assert ok.content.startswith("[exit code 1]") and "1 failed" in ok.content
        assert (await box.call("run_command", '{"command": "\\"unclosed"}')).problem == "malformed"
    finally:
        workspace.remove()


def test_canned_replies_and_stale_workspaces(tmp_path: Path) -> None:
    spec = AgentSpec(fixture="x", ask_user=[CannedReply(when="Which FILE", reply="calc.py"),
                                            CannedReply(reply="default")],
                     validation_commands=[ValidationCommand(name="t", run="true")])
    assert canned_reply(spec, "which file is broken?") == "calc.py"
    assert canned_reply(spec, "anything else?") == "default"
    # A workspace left by a process that no longer exists is removed at the next start.
    dead = tmp_path / f"{PREFIX}999999999-abc"
    (dead / "repo").mkdir(parents=True)
    alive = tmp_path / f"{PREFIX}{os.getpid()}-mine"
    alive.mkdir()
    assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and alive.exists()


# --------------------------------------------------------------------------- the loop


def scripted_session() -> list[Script]:
    def call(name: str, arguments: str) -> Script:
        return Script(pieces=[], tool_calls=[{"name": name, "arguments": arguments}],
                      usage={"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60})

    return [
        call("list_directory", json.dumps({"path": "."})),
        call("read_file", json.dumps({"path": "calc.py"})),
        Script(pieces=[], tool_calls=[{"name": "read_file", "arguments": '{"path": "calc'},
                                      {"name": "read_file", "arguments": '{"path": "../x"}'}]),
        call("ask_user", json.dumps({"question": "Which file should I change?"})),
        call("write_file", json.dumps({"path": "calc.py", "content": FIXED})),
        call("run_command", json.dumps({"command": "python -m pytest -q -p no:cacheprovider"})),
        Script(pieces=["Fixed ", "add() in calc.py."]),
    ]


async def test_scripted_model_drives_the_loop_through_the_openai_backend(
        tmp_path: Path, store: Store) -> None:
    scenario = agent_scenario(tmp_path)
    server = OpenAITestServer().start()
    try:
        server.queue(*scripted_session())
        settings = Settings(openai_base_url=server.url, max_retries=0)
        events: list[object] = []
        live = LiveState()  # what the live screen reads
        seen_live: list[str] = []

        def sink(event: Any) -> None:
            events.append(event)
            live.on_event(event)
            if isinstance(event, ToolCalled):
                seen_live.append(live.running[event.run_id].text)

        runner = Runner(store, Catalog(scenarios={scenario.id: scenario}),
                        pool=BackendPool(settings), settings=settings, on_event=sink)
        spec = BatchSpec(batch_id="b-agent", models=["openai:scripted-model"],
                         scenarios=[scenario.id], tiers=["L0"])
        result = await runner.run(spec)
        await runner.pool.aclose()
    finally:
        server.close()
    assert (result.done, result.failed) == (1, 0)
    run = store.get_run(result.run_ids[0])
    assert run is not None and run.mode == "agent" and run.status == "ok", run
    assert run.output == "Fixed add() in calc.py."
    assert run.auto_score == 1.0 and run.success is True
    probe = run.evaluations[0]
    assert probe.detail == {"passed": 1, "changed": ["calc.py"], "diff_has_fix": True}

    agent = store.agent_telemetry(run.run_id)
    assert agent is not None
    assert agent.turns == 7 and agent.end_reason == "model_stopped" and run.agent == agent
    assert agent.tool_calls == {"list_directory": 1, "read_file": 3, "ask_user": 1,
                                "write_file": 1, "run_command": 1}
    assert (agent.malformed_calls, agent.refused_calls) == (1, 1)
    assert (agent.files_changed, agent.lines_added, agent.lines_removed) == (1, 1, 1)
    # Summed over the turns: five reported 10 each, the others were counted (4 call deltas, 2
    # text pieces).
    assert run.telemetry.completion_tokens == 56

    diff = store.artifact(run.run_id, "diff")
    assert diff is not None and "-    return a - b\n+    return a + b\n" in diff
    transcript = store.transcript(run.run_id)
    roles = [m["role"] for m in transcript]
    assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
    assert transcript[1]["content"] == "Fix the bug."  # the tier's prompt
    results = [m["content"] for m in transcript if m["role"] == "tool"]
    assert results[0].splitlines() == ["calc.py", "test_calc.py"]
    assert results[1] == BUGGY
    assert "not valid JSON" in results[2] and "outside the workspace" in results[3]
    assert results[4] == "calc.py"  # the canned reply whose 'when' matched
    assert results[6].startswith("[exit code 0]") and "1 passed" in results[6]

    # What the server was sent: the tools, and each result tied to its call.
    bodies = [r["body"] for r in server.requests if r["body"]]
    assert len(bodies) == 7
    assert {t["function"]["name"] for t in bodies[0]["tools"]} == {
        "read_file", "write_file", "list_directory", "run_command", "ask_user"}
    last = bodies[-1]["messages"]
    assert any(m.get("tool_call_id") == "call_0" and m["role"] == "tool" for m in last)
    assert sum(isinstance(e, ToolCalled) for e in events) == 7
    assert my_workspaces() == []
    # The live screen's state showed each call and its short result as the cell worked.
    assert "▸ read_file" in seen_live[1] and "→ def add(a, b):" in seen_live[1]
    assert "[malformed]" in seen_live[2] and "[refused]" in seen_live[3]
    assert "→ [exit code 0]" in seen_live[-1]

    # The batch detail shows the agent's telemetry, transcript and diff.
    app = Host(BatchDetailScreen(store, "b-agent"))
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        shown = text_of(app.screen.query_one("#run-detail", Static))
    assert "7 turns · ended: model_stopped" in shown and "malformed 1 · refused 1" in shown
    assert "▸ write_file" in shown and "→ ask_user: calc.py" in shown
    assert "-    return a - b" in shown and "+    return a + b" in shown


async def test_turn_limit_and_a_missing_fixture(tmp_path: Path, store: Store) -> None:
    scenario = agent_scenario(tmp_path, max_turns=2)
    broken = scenario.model_copy(update={
        "id": "agent-broken", "agent": scenario.agent.model_copy(  # type: ignore[union-attr]
            update={"fixture": "nowhere"})})
    server = OpenAITestServer().start()
    try:
        server.default = Script(pieces=[], tool_calls=[
            {"name": "list_directory", "arguments": "{}"}])
        settings = Settings(openai_base_url=server.url, max_retries=0)
        runner = Runner(store, Catalog(scenarios={scenario.id: scenario, broken.id: broken}),
                        pool=BackendPool(settings), settings=settings)
        result = await runner.run(BatchSpec(batch_id="b2", models=["openai:m"],
                                            scenarios=[scenario.id, broken.id],
                                            mode="iterative"))  # the scenario's kind decides
        await runner.pool.aclose()
    finally:
        server.close()
    runs = {r.scenario_id: r for r in store.runs("b2", with_evaluations=True)}
    limited = runs[scenario.id]
    agent = store.agent_telemetry(limited.run_id)
    assert agent is not None and agent.end_reason == "turn_limit" and agent.turns == 2
    assert limited.success is False and store.artifact(limited.run_id, "diff") == ""
    assert limited.mode == "agent" and store.attempts(limited.run_id) == []
    failed = runs[broken.id]
    assert failed.status == "error"
    assert failed.error is not None and "agent-broken: agent.fixture: folder not found" in \
        failed.error
    assert result.failed == 1 and my_workspaces() == []


async def test_the_cell_deadline_ends_the_loop(tmp_path: Path, store: Store) -> None:
    scenario = agent_scenario(tmp_path, command_timeout_s=30)
    server = OpenAITestServer().start()
    try:
        nap = json.dumps({"command": "python -c 'import time; time.sleep(1.5)'"})
        server.default = Script(pieces=[], tool_calls=[{"name": "run_command", "arguments": nap}])
        settings = Settings(openai_base_url=server.url, max_retries=0, agent_timeout_s=1.0)
        runner = Runner(store, Catalog(scenarios={scenario.id: scenario}),
                        pool=BackendPool(settings), settings=settings)
        result = await runner.run(BatchSpec(batch_id="b3", models=["openai:m"],
                                            scenarios=[scenario.id]))
        await runner.pool.aclose()
    finally:
        server.close()
    agent = store.agent_telemetry(result.run_ids[0])
    assert agent is not None and agent.end_reason == "timeout" and agent.turns == 1
    assert store.get_run(result.run_ids[0]).status == "ok"  # type: ignore[union-attr]


@pytest.mark.slow
async def test_embedded_model_runs_an_agent_cell(tmp_path: Path, store: Store) -> None:
    scenario = agent_scenario(tmp_path, max_turns=3)
    events: list[object] = []
    runner = Runner(store, Catalog(scenarios={scenario.id: scenario}), on_event=events.append)
    result = await runner.run(BatchSpec(batch_id="b-emb", models=["embedded:smollm2"],
                                        scenarios=[scenario.id]))
    await runner.pool.aclose()
    run = store.get_run(result.run_ids[0])
    assert run is not None and run.status == "ok", run
    agent = store.agent_telemetry(run.run_id)
    assert agent is not None and 1 <= agent.turns <= 3
    assert agent.end_reason in ("model_stopped", "turn_limit", "token_budget")
    # The constrained answers are real calls: at least one ran a tool.
    assert sum(agent.tool_calls.values()) >= 1
    assert any(isinstance(e, ToolCalled) for e in events)
    assert run.auto_score is not None and run.evaluations[0].evaluator == "agent_test_probe"
    assert store.transcript(run.run_id)[0]["role"] == "system"
    assert store.artifact(run.run_id, "diff") is not None
    assert my_workspaces() == []
    await asyncio.sleep(0)


# --------------------------------------------------------------------------- crash safety

SCENARIO_YAML = """\
id: {id}
name: Crash {id}
suite: agent-crash
category: bugfix
prompt: Fix add() in calc.py.
kind: agent
rubric: code-v1
evaluators: [{{name: expected_elements}}]
expected_elements: [done]
agent:
  fixture: repo
  command_timeout_s: 120
  validation_commands: [{{name: tests, run: python -m pytest -q}}]
"""
SLEEPER = "import time; time.sleep(61.25)"


def _sleepers() -> list[int]:
    """The sleeping command itself (not the sandbox starting it: killed while bwrap is still
    setting itself up, bwrap may not yet be tied to its parent)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
                if argv[0] == b"python" and any(b"61.25" in a for a in argv):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _wait_for(condition: object, timeout: float = 120.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_a_killed_agent_batch_resumes_without_repeats_or_leftovers(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import SCENARIOS, cli_env

    folder = tmp_path / "scn"
    make_fixture(tmp_path)
    folder.mkdir()
    os.rename(tmp_path / "fixture" / "repo", folder / "repo")
    for sid in ("agent-crash-a", "agent-crash-b"):
        (folder / f"{sid}.yaml").write_text(SCENARIO_YAML.format(id=sid))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    db = tmp_path / "bench.db"
    server = OpenAITestServer().start()

    def launch(*grid: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tui_bench", *grid, "--db", str(db), "--scenarios-dir",
             str(SCENARIOS), "--scenarios-dir", str(folder), "--openai-base-url", server.url,
             "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=cli_env(TMPDIR=str(scratch)))

    try:
        sleep = json.dumps({"command": f"python -c '{SLEEPER}'"})
        server.queue(Script(pieces=["done"]),  # cell a: finished at once
                     Script(pieces=[], tool_calls=[{"name": "run_command", "arguments": sleep}]))
        first = launch("--run", "--batch-id", "crash", "--models", "openai:scripted-model",
                       "--scenarios", "agent-crash-a,agent-crash-b", "--concurrency", "1")
        _wait_for(lambda: bool(_sleepers()))  # cell b is inside its command
        assert [p.name.split("-")[3] for p in scratch.iterdir()] == [str(first.pid)]
        first.send_signal(signal.SIGKILL)
        first.communicate()
        _wait_for(lambda: not _sleepers(), timeout=30)  # the sandboxed command died with it
        assert len(list(scratch.iterdir())) == 1  # its workspace is left behind, for now

        def chats() -> int:  # generations, not the reachability probe's model listing
            return sum(r['path'].endswith('/chat/completions') for r in server.requests)

        asked = chats()
        server.queue(Script(pieces=["done"]))
        second = launch("--resume", "crash")
        out, _ = second.communicate(timeout=300)
        assert second.returncode == 0, out
    finally:
        server.close()
    assert chats() - asked == 1  # only cell b was asked again
    store = Store(db)
    runs = store.runs("crash")
    assert sorted((r.scenario_id, r.status) for r in runs) == [
        ("agent-crash-a", "ok"), ("agent-crash-b", "ok")]
    assert all(store.artifact(r.run_id, "transcript") for r in runs)
    assert list(scratch.iterdir()) == []  # the killed run's workspace was swept at resume


@pytest.mark.slow
async def test_ollama_tools_drive_an_agent_cell(tmp_path: Path, store: Store) -> None:
    """Ollama's ``tools`` out and ``message.tool_calls`` back, through the real backend (the
    loopback Ollama plays a tool-capable model with SmolLM2)."""
    from .servers.ollama_server import SMOLLM2_NAME, OllamaTestServer

    scenario = agent_scenario(tmp_path, max_turns=2)
    server = OllamaTestServer().start()
    try:
        settings = Settings(ollama_hosts=[server.url], max_retries=0)
        runner = Runner(store, Catalog(scenarios={scenario.id: scenario}),
                        pool=BackendPool(settings), settings=settings)
        result = await runner.run(BatchSpec(
            batch_id="b-ollama", models=[f"ollama:{SMOLLM2_NAME}"], scenarios=[scenario.id]))
        await runner.pool.aclose()
        chats = [c for c in server.chats() if c.get("tools")]
    finally:
        server.close()
    run = store.get_run(result.run_ids[0])
    assert run is not None and run.status == "ok", run
    assert chats and {t["function"]["name"] for t in chats[0]["tools"]} >= {"read_file"}
    agent = store.agent_telemetry(run.run_id)
    assert agent is not None and sum(agent.tool_calls.values()) >= 1
    assert len(chats) == 2  # greedy SmolLM2 calls a tool on the first turn
    second = chats[1]["messages"]  # the call and its result went back in Ollama's shape
    assert any(m["role"] == "tool" and m.get("tool_name") for m in second)
    assert any(isinstance(c["function"]["arguments"], dict)
               for m in second for c in m.get("tool_calls") or [])


def test_the_agent_engine_imports_no_ui() -> None:
    import subprocess
    import sys

    code = ("import tui_bench.engine.modes.agent, tui_bench.engine.tools, "
            "tui_bench.engine.workspace, tui_bench.backends.tool_prompt, tui_bench.store.agent\n"
            "import sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "tui_bench" in loaded and "textual" not in loaded and "rich" not in loaded


async def test_a_scripted_model_passes_a_shipped_scenario(
        tmp_path: Path, store: Store, shipped_catalog: Catalog) -> None:
    """The loop and the shipped evaluators together: a model that writes the reference fix
    through the tools passes validation, oracle and scope, and its diff is the fix."""
    from tests.agent_support import apply_patch
    from tui_bench.agent_files import fixture_dir, reference_patch_path

    scenario = shipped_catalog.scenarios["agent-fix-word-count"]
    fixed = tmp_path / "fixed"
    shutil.copytree(fixture_dir(scenario), fixed)
    apply_patch(reference_patch_path(scenario), fixed)  # type: ignore[arg-type]
    content = (fixed / "textstats.py").read_text()
    server = OpenAITestServer().start()
    try:
        server.queue(
            Script(pieces=[], tool_calls=[{"name": "read_file",
                                           "arguments": '{"path": "textstats.py"}'}]),
            Script(pieces=[], tool_calls=[{"name": "write_file", "arguments": json.dumps(
                {"path": "textstats.py", "content": content})}]),
            Script(pieces=[], tool_calls=[{"name": "run_command",
                                           "arguments": '{"command": "python -m pytest -q"}'}]),
            Script(pieces=["word_count now splits on any whitespace."]))
        settings = Settings(openai_base_url=server.url, max_retries=0)
        runner = Runner(store, shipped_catalog, pool=BackendPool(settings), settings=settings)
        result = await runner.run(BatchSpec(batch_id="b-shipped", models=["openai:m"],
                                            scenarios=[scenario.id]))
        await runner.pool.aclose()
    finally:
        server.close()
    run = store.get_run(result.run_ids[0])
    assert run is not None and run.status == "ok" and run.success is True, run
    scores = {e.evaluator: e.score for e in run.evaluations if e.weight > 0}
    assert scores["validation"] == scores["oracle"] == scores["scope"] == 1.0, run.evaluations
    patch = reference_patch_path(scenario).read_text()  # type: ignore[union-attr]
    diff = store.artifact(run.run_id, "diff") or ""
    assert [line for line in diff.splitlines() if line[:1] in "+-"] == \
        [line for line in patch.splitlines() if line[:1] in "+-"]
    agent = store.agent_telemetry(run.run_id)
    assert agent is not None and agent.end_reason == "model_stopped" and agent.files_changed == 1


def test_headless_prints_each_tool_call() -> None:
    from rich.console import Console

    from tui_bench.domain import Cell
    from tui_bench.engine.events import CellStarted
    from tui_bench.headless import ProgressPrinter

    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    printer = ProgressPrinter(console)
    cell = Cell(batch_id="b", model="openai:m", prompt_version="v1", scenario_id="agent-x",
                tier="L2")
    printer(CellStarted(cell, "r1"))
    printer(ToolCalled("r1", 2, "read_file", '{"path": "[x].py"}', "error: nope", "refused"))
    assert 'agent-x turn 2 · read_file({"path": "[x].py"}) [refused] → error: nope' in \
        console.export_text()
    printer_quiet = ProgressPrinter(console, quiet=True)
    printer_quiet(ToolCalled("r1", 4, "list_directory", "{}", "a.py", None))
    assert "list_directory" not in console.export_text()
