"""Agent mode: the model works in a fresh copy of a fixture repository with tools, then what it
leaves behind is scored.

Turns go on until the model answers without calling a tool, or the scenario's turn limit or
token budget is reached, or the cell's time runs out. Every call is answered (an error message
for a malformed or refused one) and shown as a ``ToolCalled`` event. The scenario's evaluators
then score the final workspace (still on disk), its diff and the changed files; the transcript
and the diff are stored with the run, and the workspace is removed whatever happened.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tui_bench.agent_files import fixture_dir
from tui_bench.domain import AgentSpec, AgentTelemetry, ModelRef, Scenario
from tui_bench.engine.events import ToolCalled
from tui_bench.engine.modes.base import CellSession
from tui_bench.engine.tools import ToolBox
from tui_bench.engine.workspace import DiffSummary, Workspace, sweep_stale
from tui_bench.store.agent_rows import DIFF, TRANSCRIPT

DEFAULT_SYSTEM = (
    "You are a careful software engineer working in a small repository. Use the tools to look "
    "at files, change them and run commands (such as the tests). Change only what the task "
    "needs. When the task is done, stop calling tools and say in one sentence what you changed.")
MIN_CONTEXT = 8192  # agent conversations grow with every tool result
MIN_ANSWER_TOKENS = 1024  # a write_file call carries a whole file
DEFAULT_TIMEOUT_S = 900.0
CHARS_PER_TOKEN = 3  # a cautious estimate of what a tool result adds to the next prompt


_swept = False


def _sweep_once() -> None:
    """Remove workspaces a killed run left behind, once per process, before the first cell."""
    global _swept
    if not _swept:
        _swept = True
        sweep_stale()


class AgentSetupError(Exception):
    """The scenario cannot run (its fixture is missing): one line naming scenario and field."""


def fixture_path(scenario: Scenario) -> Path:
    """The scenario's fixture folder (relative to the scenario file), checked to exist."""
    path = fixture_dir(scenario)
    if not path.is_dir():
        raise AgentSetupError(f"scenario {scenario.id}: agent.fixture: folder not found: {path}")
    return path


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class AgentMode:
    """A model with tools in a workspace copy of a repository, judged by what it leaves."""

    name = "agent"
    keeps_attempts = False

    async def run(self, session: CellSession) -> None:
        scenario = session.scenario
        spec = scenario.agent
        assert spec is not None
        fixture = fixture_path(scenario)
        await asyncio.to_thread(_sweep_once)
        workspace = await asyncio.to_thread(Workspace.create, fixture)
        transcript: list[dict[str, Any]] = []
        telemetry = AgentTelemetry()
        diff: DiffSummary | None = None
        try:
            box = ToolBox(workspace, spec)
            options = session.options.model_copy(update={
                "num_ctx": max(session.options.num_ctx, MIN_CONTEXT),
                "max_tokens": max(session.options.max_tokens, MIN_ANSWER_TOKENS)})
            messages = list(session.messages)
            if not messages or messages[0].get("role") != "system":
                messages.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
            transcript.extend(messages)
            session.announce(1)
            final = await self._loop(session, spec, box, options, messages, transcript,
                                     telemetry)
            diff = await asyncio.to_thread(workspace.diff)
            self._count(telemetry, diff)
            session.record.output = final
            scored = await session.score(final, workspace=workspace.root, diff=diff.text,
                                         changed_files=diff.changed_files)
            session.judgments[:] = list(scored.judgments)
            session.record.evaluations = list(scored.evaluations)
            session.record.auto_score = scored.auto_score
            session.record.success = scored.success
            session.record.suspect = scored.suspect
            session.record.suspect_success = scored.suspect_success
        finally:
            # Kept for a cancelled or failed cell too: what the agent did up to then.
            if diff is None:
                try:
                    diff = workspace.diff()
                    self._count(telemetry, diff)
                except OSError:
                    diff = DiffSummary("")
            session.record.agent = telemetry
            session.artifacts[TRANSCRIPT] = json.dumps(transcript, ensure_ascii=False)
            session.artifacts[DIFF] = diff.text
            workspace.remove()

    @staticmethod
    def _count(telemetry: AgentTelemetry, diff: DiffSummary) -> None:
        telemetry.files_changed = len(diff.changed_files)
        telemetry.lines_added = diff.lines_added
        telemetry.lines_removed = diff.lines_removed

    async def _loop(self, session: CellSession, spec: AgentSpec, box: ToolBox, options: Any,
                    messages: list[dict[str, Any]], transcript: list[dict[str, Any]],
                    telemetry: AgentTelemetry) -> str:
        """Turns until the loop ends; returns the model's final words (empty if it never
        stopped by itself) and sets ``telemetry.end_reason``."""
        settings = session.settings
        limit_s = getattr(settings, "agent_timeout_s", None) or DEFAULT_TIMEOUT_S
        deadline = session.started + limit_s
        tools = box.schemas()
        windowed = ModelRef.parse(session.cell.model).backend != "openai"
        spent = 0
        while True:
            if telemetry.turns >= spec.max_turns:
                telemetry.end_reason = "turn_limit"
                return ""
            if spent >= spec.token_budget:
                telemetry.end_reason = "token_budget"
                return ""
            left = deadline - time.monotonic()
            if left <= 0:
                telemetry.end_reason = "timeout"
                return ""
            telemetry.turns += 1
            try:
                gen = await asyncio.wait_for(session.generate(messages, tools=tools,
                                                              options=options), left)
            except TimeoutError:
                telemetry.end_reason = "timeout"
                return ""
            done = gen.done
            used = (done.prompt_tokens or 0) + (done.completion_tokens or 0)
            spent += used
            if not gen.tool_calls:
                transcript.append({"role": "assistant", "content": gen.text})
                telemetry.end_reason = "model_stopped"
                return gen.text
            sent_calls = [
                {"id": call.id or f"call_{telemetry.turns}_{i}", "type": "function",
                 "function": {"name": call.name, "arguments": call.arguments}}
                for i, call in enumerate(gen.tool_calls)]
            assistant = {"role": "assistant", "content": gen.text, "tool_calls": sent_calls}
            messages.append(assistant)
            transcript.append(assistant)
            for call, sent in zip(gen.tool_calls, sent_calls, strict=True):
                outcome = await box.call(call.name, call.arguments)
                if outcome.problem == "malformed":
                    telemetry.malformed_calls += 1
                elif outcome.problem == "refused":
                    telemetry.refused_calls += 1
                if call.name in box.allowed or outcome.problem is None:
                    telemetry.tool_calls[call.name] = telemetry.tool_calls.get(call.name, 0) + 1
                reply = {"role": "tool", "tool_call_id": sent["id"], "name": call.name,
                         "content": outcome.content}
                messages.append(reply)
                transcript.append(reply)
                session.emit(ToolCalled(session.run_id, telemetry.turns, call.name,
                                        _short(call.arguments), outcome.short, outcome.problem))
            # The next turn would not fit the model's context window: that too is a budget.
            # (Only where the context is ours to set: embedded and Ollama take ``num_ctx``.)
            if windowed:
                added = sum(len(str(m.get("content") or "")) for m in
                            messages[-len(gen.tool_calls):]) // CHARS_PER_TOKEN
                if used + added + options.max_tokens > options.num_ctx:
                    telemetry.end_reason = "token_budget"
                    return ""
