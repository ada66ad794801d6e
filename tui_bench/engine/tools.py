"""The agent's tools: JSON schemas the model sees, and handlers that act only in its workspace.

Every call comes back as a :class:`ToolOutcome` whose ``content`` is what the model reads next;
nothing a model sends can raise out of here. A call that cannot be run (bad JSON, a missing or
mistyped argument, an unknown tool) is *malformed*; one that is well formed but not allowed (a
tool the scenario does not list, a path outside the workspace) is *refused*. Both are answered
with an error message so the loop goes on, and counted. ``run_command`` runs through the
sandbox (``scoring.sandbox.run_command``), never in this process.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from dataclasses import dataclass
from typing import Any, Literal

from tui_bench.domain import AGENT_TOOLS, AgentSpec
from tui_bench.engine.workspace import SKIPPED, PathRefused, Workspace

MAX_OUTPUT_CHARS = 6_000  # what the model reads of one result
MAX_WRITE_CHARS = 200_000
MAX_LISTING = 200
COMMAND_OUTPUT_BYTES = 64_000

Problem = Literal["malformed", "refused"]


def _tool(name: str, description: str, **params: str) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object",
                       "properties": {k: {"type": "string", "description": v}
                                      for k, v in params.items()},
                       "required": list(params)}}}


SCHEMAS: dict[str, dict[str, Any]] = {
    "read_file": _tool("read_file", "Read a text file of the repository.",
                       path="path relative to the repository root"),
    "write_file": _tool("write_file", "Create or replace a file with the given content.",
                        path="path relative to the repository root",
                        content="the whole new content of the file"),
    "list_directory": _tool("list_directory", "List a folder of the repository.",
                            path="folder relative to the repository root ('.' for the root)"),
    "run_command": _tool("run_command", "Run a command (e.g. 'python -m pytest -q') in the "
                         "repository root, offline, and see its output.",
                         command="the command line"),
    "ask_user": _tool("ask_user", "Ask the user a question about the task.",
                      question="the question"),
}


@dataclass
class ToolOutcome:
    """What the model is told, and whether the call was a problem (malformed or refused)."""

    content: str
    problem: Problem | None = None

    @property
    def short(self) -> str:
        """One line for a transcript view."""
        line = self.content.strip().splitlines()[0] if self.content.strip() else "(empty)"
        return line[:120]


def truncate(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Head and tail of a long text, saying how much was left out."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3):]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters left out ...]\n{tail}"


def canned_reply(spec: AgentSpec, question: str) -> str:
    """The scenario's answer: the first reply whose ``when`` occurs in the question, else its
    default (a reply without ``when``)."""
    asked = question.casefold()
    for reply in spec.ask_user:
        if reply.when and reply.when.casefold() in asked:
            return reply.reply
    for reply in spec.ask_user:
        if not reply.when:
            return reply.reply
    return "No answer is available; decide from the repository and the task."


class ToolBox:
    """The tools a scenario allows, bound to one workspace."""

    def __init__(self, workspace: Workspace, spec: AgentSpec) -> None:
        self.workspace = workspace
        self.spec = spec
        self.allowed = [t for t in AGENT_TOOLS if t in spec.tools]

    def schemas(self) -> list[dict[str, Any]]:
        return [SCHEMAS[name] for name in self.allowed]

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        """Run one call; never raises for anything the model sent."""
        if name not in SCHEMAS:
            known = ", ".join(self.allowed)
            return ToolOutcome(f"error: unknown tool {name!r}; the tools are: {known}",
                               "malformed")
        if name not in self.allowed:
            return ToolOutcome(f"error: the tool {name!r} is not available in this task",
                               "refused")
        try:
            args = json.loads(arguments) if arguments and arguments.strip() else {}
        except ValueError as exc:
            return ToolOutcome(f"error: the arguments of {name} are not valid JSON ({exc})",
                               "malformed")
        if not isinstance(args, dict):
            return ToolOutcome(f"error: the arguments of {name} must be a JSON object",
                               "malformed")
        params = SCHEMAS[name]["function"]["parameters"]
        for key in params["required"]:
            if key == "path" and name == "list_directory":
                args.setdefault("path", ".")
            if key not in args:
                return ToolOutcome(f"error: {name} needs the argument {key!r}", "malformed")
            if not isinstance(args[key], str):
                return ToolOutcome(f"error: the argument {key!r} of {name} must be a string",
                                   "malformed")
        try:
            handler = getattr(self, f"_{name}")
            return await handler(**{k: args[k] for k in params["required"]})
        except PathRefused as exc:
            return ToolOutcome(f"error: refused: {exc}", "refused")
        except OSError as exc:
            return ToolOutcome(f"error: {name} failed: {exc.strerror or exc}")

    # ---- handlers (arguments already checked)

    async def _read_file(self, path: str) -> ToolOutcome:
        target = self.workspace.resolve(path)
        if not target.is_file():
            return ToolOutcome(f"error: {path!r} is not a file")
        data = target.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return ToolOutcome(f"error: {path!r} is not a text file ({len(data)} bytes)")
        return ToolOutcome(truncate(text))

    async def _write_file(self, path: str, content: str) -> ToolOutcome:
        if len(content) > MAX_WRITE_CHARS:
            return ToolOutcome(f"error: content over {MAX_WRITE_CHARS} characters")
        target = self.workspace.resolve(path)
        if target == self.workspace.root or target.is_dir():
            return ToolOutcome(f"error: {path!r} is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return ToolOutcome(f"wrote {self.workspace.relative(target)} "
                           f"({len(content.splitlines())} lines)")

    async def _list_directory(self, path: str) -> ToolOutcome:
        target = self.workspace.resolve(path)
        if not target.is_dir():
            return ToolOutcome(f"error: {path!r} is not a folder")
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir()
                       if p.name not in SKIPPED)
        more = f"\n... and {len(names) - MAX_LISTING} more" if len(names) > MAX_LISTING else ""
        return ToolOutcome("\n".join(names[:MAX_LISTING]) + more if names else "(empty folder)")

    async def _run_command(self, command: str) -> ToolOutcome:
        from tui_bench.scoring.sandbox import run_command

        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return ToolOutcome(f"error: cannot parse the command: {exc}", "malformed")
        if not argv:
            return ToolOutcome("error: the command is empty", "malformed")
        result = await asyncio.to_thread(
            run_command, argv, self.workspace.root, timeout_s=self.spec.command_timeout_s,
            output_bytes=COMMAND_OUTPUT_BYTES)
        # Said here from the flags, whatever words the sandbox uses for its reason.
        if result.timed_out:
            status = f"stopped: still running after {self.spec.command_timeout_s:g}s"
        elif result.truncated:
            status = f"stopped: output over {COMMAND_OUTPUT_BYTES} bytes"
        elif result.exit_code is not None:
            status = f"exit code {result.exit_code}"
        else:
            status = f"did not run: {result.reason or 'unknown reason'}"
        return ToolOutcome(f"[{status}]\n{truncate(result.output)}")

    async def _ask_user(self, question: str) -> ToolOutcome:
        return ToolOutcome(canned_reply(self.spec, question))
