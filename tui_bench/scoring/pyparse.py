"""``ast.parse`` that is safe to call from several threads at once.

Evaluators run in threads concurrently. CPython 3.11 keeps the AST builder's recursion depth
per interpreter, so two parses at the same moment can make one fail with "AST constructor
recursion depth mismatch", a SystemError that says nothing about the code. One lock around the
parse removes the race; parses are short, so nobody waits long.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """Parse ``source`` as a module; raises SyntaxError/ValueError as ``ast.parse`` does."""
    with _LOCK:
        return ast.parse(source, filename)
