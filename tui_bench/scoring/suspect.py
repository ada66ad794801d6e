"""Name the constructs in an answer that reach for the machinery scoring it.

The sandbox runs the tests in a process the answer does not share, so the known forgeries
(writing to the result pipe, patching the harness, values that compare equal to anything) no
longer work. Some reach remains where the OS layer is missing (the fallback: same uid as the
files the judge imports, no namespaces), and new tricks may appear; an answer that uses frame
introspection, ``ctypes``, ``gc``, ``_posixsubprocess`` or ``os._exit`` has no business doing
so in a benchmark answer. Such a run is stored as **suspect**: not counted as a success until
a person looks and clears it (``tui-bench batches clear-suspect RUN_ID``).
"""

from __future__ import annotations

import ast

from tui_bench.scoring.pyparse import parse

SUSPECT_MODULES = {
    "ctypes": "ctypes", "_ctypes": "ctypes", "gc": "gc", "_posixsubprocess": "_posixsubprocess",
    "inspect": "frame introspection", "cffi": "ctypes",
}
SUSPECT_ATTRIBUTES = {
    "_getframe": "frame introspection", "currentframe": "frame introspection",
    "f_back": "frame introspection", "f_globals": "frame introspection",
    "f_locals": "frame introspection", "f_builtins": "frame introspection",
    "tb_frame": "frame introspection", "gi_frame": "frame introspection",
    "cr_frame": "frame introspection", "get_referrers": "gc", "get_objects": "gc",
    "_exit": "os._exit", "fork_exec": "_posixsubprocess",
}
MAX_FINDINGS = 5


def suspect_constructs(code: str) -> list[str]:
    """What in ``code`` could tamper with its own scoring, as ``"ctypes (line 3)"``; in order."""
    try:
        tree = parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        return []
    found: dict[str, int] = {}

    def note(what: str, node: ast.AST) -> None:
        found.setdefault(what, getattr(node, "lineno", 0))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in SUSPECT_MODULES:
                    note(SUSPECT_MODULES[top], node)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in SUSPECT_MODULES:
                note(SUSPECT_MODULES[top], node)
            for alias in node.names:
                if alias.name in SUSPECT_ATTRIBUTES:
                    note(SUSPECT_ATTRIBUTES[alias.name], node)
        elif isinstance(node, ast.Attribute) and node.attr in SUSPECT_ATTRIBUTES:
            note(SUSPECT_ATTRIBUTES[node.attr], node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value in SUSPECT_MODULES:
            note(SUSPECT_MODULES[node.value], node)  # __import__("ctypes"), importlib
    ordered = sorted(found.items(), key=lambda item: item[1])
    return [f"{what} (line {line})" for what, line in ordered[:MAX_FINDINGS]]


def suspect_reason(constructs: list[str]) -> str | None:
    """One line for the run's record, or None when nothing was found."""
    return ("the answer uses " + ", ".join(constructs)) if constructs else None
