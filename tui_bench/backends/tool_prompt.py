"""Tool calling for a model without a tool-calling chat template, through constrained JSON.

A small GGUF model such as SmolLM2-135M has no tool format of its own and cannot be trusted to
invent one. So the tools are described in the system prompt and every answer is constrained by
a JSON Schema (llama.cpp turns it into a grammar) to be either one call,
``{"tool": NAME, "arguments": {...}}``, or a final answer, ``{"final": "..."}``. The conversation
in the OpenAI shape (assistant ``tool_calls``, ``tool`` results) is replayed in that same form.
"""

from __future__ import annotations

import json
from typing import Any

from tui_bench.backends.base import Chunk, Message, TextChunk, Tool, ToolCallChunk


def _function(tool: Tool) -> dict[str, Any]:
    return tool.get("function", tool) if isinstance(tool, dict) else {}


def answer_schema(tools: list[Tool]) -> dict[str, Any]:
    """One call of a listed tool with its own arguments, or a final answer."""
    options: list[dict[str, Any]] = []
    for tool in tools:
        function = _function(tool)
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        options.append({
            "type": "object",
            "properties": {"tool": {"type": "string", "enum": [function.get("name", "")]},
                           "arguments": parameters},
            "required": ["tool", "arguments"],
        })
    options.append({"type": "object", "properties": {"final": {"type": "string"}},
                    "required": ["final"]})
    return {"title": "agent_step", "anyOf": options}


def instructions(tools: list[Tool]) -> str:
    """What the system prompt adds: the tools and the one answer format."""
    lines = ["You can use these tools:"]
    for tool in tools:
        function = _function(tool)
        params = ", ".join((function.get("parameters") or {}).get("properties", {}))
        lines.append(f"- {function.get('name')}({params}): {function.get('description', '')}")
    lines.append('Answer with JSON only: {"tool": NAME, "arguments": {...}} to call a tool, or '
                 '{"final": "what you did"} when the task is done.')
    return "\n".join(lines)


def replay(messages: list[Message], tools: list[Tool]) -> list[Message]:
    """The conversation as plain system/user/assistant text the chat template understands."""
    note = instructions(tools)
    out: list[Message] = []
    if messages and messages[0].get("role") == "system":
        out.append({"role": "system", "content": f"{messages[0].get('content') or ''}\n\n{note}"})
        rest = messages[1:]
    else:
        out.append({"role": "system", "content": note})
        rest = messages
    for message in rest:
        role = message.get("role")
        if role == "tool":
            name = message.get("name") or message.get("tool_name") or "the tool"
            out.append({"role": "user", "content":
                        f"Result of {name}:\n"
                        f"{message.get('content') or ''}"})
        elif role == "assistant" and message.get("tool_calls"):
            call = (message["tool_calls"][0] or {}).get("function") or {}
            arguments: Any = call.get("arguments") or "{}"
            try:
                arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                pass
            out.append({"role": "assistant", "content": json.dumps(
                {"tool": call.get("name"), "arguments": arguments})})
        else:
            out.append({"role": str(role), "content": message.get("content") or ""})
    return out


def parse_answer(text: str) -> list[Chunk]:
    """The constrained answer as chunks: a ``ToolCallChunk`` for a call, else the final text.

    A cut answer (the token limit hit inside the JSON) is passed on as a call whose arguments
    are the raw text, so the agent loop counts it as malformed instead of ending quietly.
    """
    try:
        data = json.loads(text)
    except ValueError:
        head = text.lstrip()
        if head.startswith('{"tool"'):
            name = head.split('"', 4)[3] if head.count('"') >= 4 else ""
            return [ToolCallChunk(name, text, "call_0")]
        return [TextChunk(text)] if text else []
    if isinstance(data, dict) and "tool" in data:
        return [ToolCallChunk(str(data.get("tool") or ""),
                              json.dumps(data.get("arguments", {})), "call_0")]
    if isinstance(data, dict) and "final" in data:
        return [TextChunk(str(data["final"]))]
    return [TextChunk(text)]
