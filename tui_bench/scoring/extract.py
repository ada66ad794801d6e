"""Find the code in a model's answer: fenced blocks first, then the raw text, salvaged if needed.

Small models wrap code in prose, leave a fence unclosed when they run out of tokens, show usage
in a second block, or think aloud in ``<think>`` tags. Scoring should grade the function they
wrote, not trip on the wrapping.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from tui_bench.scoring import pyparse

PYTHON_TAGS = {"python", "py", "python3", "py3", "pycon", "ipython"}
THINK_RE = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
FENCE_OPEN_RE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)")
CODE_START_RE = re.compile(r"^(?:async\s+def|def|class|import|from\s+\S+\s+import|@\w)\b")
MAX_TRIM_STEPS = 200


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language tag (lower case, may be empty) and its text."""

    lang: str
    text: str
    closed: bool = True


@dataclass(frozen=True)
class Extraction:
    """The code to run, and how it was found (kept in evaluation details for debugging)."""

    code: str
    method: str  # fenced-python | fenced | raw | raw-trimmed | none
    blocks: int = 0


def strip_thinking(text: str) -> str:
    """Drop ``<think>...</think>`` sections (reasoning models draft code there)."""
    return THINK_RE.sub("", text)


def fenced_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block, in order; an unclosed last fence runs to the end of the text."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE_OPEN_RE.match(lines[i])
        if not match:
            i += 1
            continue
        fence = match.group("fence")
        lang = match.group("lang").lower()
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped and stripped[0] == fence[0] and set(stripped) == {fence[0]} \
                    and len(stripped) >= len(fence):
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(lang, textwrap.dedent("\n".join(body)).strip("\n") + "\n", closed))
    return blocks


def defines(code: str, name: str) -> bool:
    """Whether ``code`` has a ``def name(`` (at any indentation: a method counts too)."""
    pattern = rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\("
    return re.search(pattern, code, re.MULTILINE) is not None


def parses(code: str) -> bool:
    try:
        pyparse.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def salvage(text: str) -> str | None:
    """Code inside unfenced prose: from the first code-looking line, trimmed until it parses."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if CODE_START_RE.match(line)), None)
    if start is None:
        return None
    body = lines[start:]
    for _ in range(MAX_TRIM_STEPS):
        if not body:
            break
        candidate = "\n".join(body).rstrip() + "\n"
        if parses(candidate):
            return candidate
        body = body[:-1]
    return "\n".join(lines[start:]).rstrip() + "\n"


def extract_code(output: str, entry_point: str | None = None) -> Extraction:
    """The code a model meant, preferring a python block that defines ``entry_point``.

    Several candidate blocks: the last one defining the entry point wins (a corrected version
    usually comes after the first try); when none does, the blocks are joined in order.
    """
    text = strip_thinking(output or "")
    blocks = fenced_blocks(text)
    python_blocks = [b for b in blocks if b.lang in PYTHON_TAGS]
    candidates = python_blocks or blocks
    method = "fenced-python" if python_blocks else "fenced"
    candidates = [b for b in candidates if b.text.strip()]
    if candidates:
        if entry_point:
            defining = [b for b in candidates if defines(b.text, entry_point)]
            if defining:
                return Extraction(defining[-1].text, method, len(blocks))
        if len(candidates) == 1:
            return Extraction(candidates[0].text, method, len(blocks))
        return Extraction("\n\n".join(b.text.rstrip("\n") for b in candidates) + "\n", method,
                          len(blocks))
    stripped = text.strip()
    if not stripped:
        return Extraction("", "none", len(blocks))
    if parses(stripped):
        return Extraction(stripped + "\n", "raw", len(blocks))
    salvaged = salvage(text)
    if salvaged is not None:
        return Extraction(salvaged, "raw-trimmed", len(blocks))
    return Extraction("", "none", len(blocks))  # prose only: nothing that looks like code
