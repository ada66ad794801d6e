"""The built-in evaluators. Each one answers one question about an output, as a score in 0..1.

They are registered by name (see ``registry.py``); a scenario lists the ones it wants with a
weight. Static checks read the extracted code with ``ast``; only ``tests`` runs anything, and it
does so in the sandbox.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
import unicodedata
from typing import Any

from tui_bench.domain import OracleAnswer
from tui_bench.scoring import agent_checks, pyparse
from tui_bench.scoring.extract import defines, fenced_blocks, strip_thinking
from tui_bench.scoring.registry import EvalInput, EvalResult, evaluator
from tui_bench.scoring.sandbox import planned_tests, run_python
from tui_bench.scoring.suspect import suspect_constructs

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)


def _parse(code: str) -> tuple[ast.Module | None, str | None]:
    if not code.strip():
        return None, "no code found"
    try:
        return pyparse.parse(code), None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return None, f"syntax error{f' at line {line}' if line else ''}: {getattr(exc, 'msg', exc)}"


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, FUNCTION_NODES)]


# --------------------------------------------------------------------------- structure


@evaluator("structure", inline=True)
def structure(inp: EvalInput) -> EvalResult:
    """Does the code parse, define functions or classes, and define the entry point?"""
    tree, error = _parse(inp.code)
    if tree is None:
        return EvalResult(0.0, {"parses": False, "error": error})
    functions = [n.name for n in _functions(tree)]
    classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    imports: list[str] = []
    wildcard = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append(node.module or ".")
            wildcard = wildcard or any(a.name == "*" for a in node.names)
    # Top-level statements other than definitions, imports, constants, docstrings and a
    # __main__ guard run on import: in a library function that is a side effect.
    loose = 0
    for node in tree.body:
        if isinstance(node, (*FUNCTION_NODES, ast.ClassDef, ast.Import, ast.ImportFrom,
                             ast.Assign, ast.AnnAssign, ast.Pass)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            continue
        loose += 1
    entry = inp.scenario.entry_point
    top_level = {n.name for n in tree.body if isinstance(n, (*FUNCTION_NODES, ast.ClassDef))}
    has_defs = bool(functions or classes)
    parts: dict[str, float] = {"parses": 0.3, "definitions": 0.25 if has_defs else 0.0}
    if entry:
        parts["entry_point"] = 0.35 if entry in top_level else 0.0
    else:
        parts["definitions"] = 0.6 if has_defs else 0.0
    parts["clean_module"] = 0.1 if (loose == 0 and not wildcard) else 0.0
    return EvalResult(round(sum(parts.values()), 4), {
        "parses": True,
        "functions": functions,
        "classes": classes,
        "imports": imports,
        "entry_point": entry,
        "entry_point_defined": (entry in top_level) if entry else None,
        "top_level_statements": loose,
        "wildcard_import": wildcard,
        "parts": parts,
    })


# --------------------------------------------------------------------------- expected elements


@evaluator("expected_elements", inline=True)
def expected_elements(inp: EvalInput) -> EvalResult:
    """Share of the scenario's expected elements that appear in the output (case-insensitive)."""
    elements = [str(e) for e in inp.options.get("elements", inp.scenario.expected_elements)]
    if not elements:
        return EvalResult.skipped("the scenario lists no expected elements")
    haystack = _fold(strip_thinking(inp.output))
    found = [e for e in elements if _fold(e) in haystack]
    missing = [e for e in elements if e not in found]
    return EvalResult(len(found) / len(elements), {"found": found, "missing": missing})


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# --------------------------------------------------------------------------- documentation


def _comment_count(code: str) -> int:
    count = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT and not token.string.startswith("#!"):
                count += 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return count


@evaluator("documentation", inline=True)
def documentation(inp: EvalInput) -> EvalResult:
    """Docstrings on functions and classes, comments, and type hints on functions."""
    tree, error = _parse(inp.code)
    if tree is None:
        return EvalResult(0.0, {"error": error})
    functions = _functions(tree)
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    documentable: list[ast.AST] = [*functions, *classes]
    documented = [n for n in documentable if ast.get_docstring(n)]  # type: ignore[arg-type]
    if documentable:
        docstring_share = len(documented) / len(documentable)
    else:
        docstring_share = 1.0 if ast.get_docstring(tree) else 0.0

    def hinted(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        args = [a for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)
                if a.arg not in ("self", "cls")]
        return fn.returns is not None and all(a.annotation is not None for a in args)

    hint_share = (sum(hinted(f) for f in functions) / len(functions)) if functions else 0.0
    comments = _comment_count(inp.code)
    score = 0.5 * docstring_share + 0.3 * hint_share + (0.2 if comments else 0.0)
    return EvalResult(round(score, 4), {
        "docstrings": f"{len(documented)}/{len(documentable)}",
        "module_docstring": bool(ast.get_docstring(tree)),
        "type_hints": f"{sum(hinted(f) for f in functions)}/{len(functions)}",
        "comments": comments,
    })


# --------------------------------------------------------------------------- error handling


def _is_guard(stmt: ast.stmt) -> bool:
    """``if <condition>: raise/return`` (a guard clause)."""
    return (isinstance(stmt, ast.If) and bool(stmt.body)
            and isinstance(stmt.body[-1], (ast.Raise, ast.Return)))


@evaluator("error_handling", inline=True)
def error_handling(inp: EvalInput) -> EvalResult:
    """Raises on bad input, checks inputs (isinstance, guard clauses), handles errors narrowly."""
    tree, error = _parse(inp.code)
    if tree is None:
        return EvalResult(0.0, {"error": error})
    raises = sum(isinstance(n, ast.Raise) for n in ast.walk(tree))
    handlers = [h for n in ast.walk(tree) if isinstance(n, ast.Try) for h in n.handlers]
    bare = [h for h in handlers if h.type is None
            or (isinstance(h.type, ast.Name) and h.type.id == "BaseException")]
    swallowing = [h for h in handlers if len(h.body) == 1 and isinstance(h.body[0], ast.Pass)]
    isinstance_checks = sum(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                            and n.func.id in ("isinstance", "issubclass", "callable")
                            for n in ast.walk(tree))
    guards = 0
    for fn in _functions(tree):
        body = fn.body[1:] if ast.get_docstring(fn) else fn.body
        for stmt in body[:3]:  # guards come first
            if _is_guard(stmt):
                guards += 1
    parts = {
        "raises": 0.35 if raises else 0.0,
        "input_checks": 0.35 if (isinstance_checks or guards) else 0.0,
        "handles": 0.3 if handlers and not bare and not swallowing else 0.0,
    }
    if not handlers and raises and (isinstance_checks or guards):
        parts["handles"] = 0.3  # validating up front is as good as catching later
    return EvalResult(round(sum(parts.values()), 4), {
        "raises": raises,
        "try_except": len(handlers),
        "bare_except": len(bare),
        "swallowed": len(swallowing),
        "isinstance_checks": isinstance_checks,
        "guard_clauses": guards,
        "parts": parts,
    })


# --------------------------------------------------------------------------- oracle

NUMBER_RE = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
MARKER_RES = [
    re.compile(r"\\boxed\{([^{}]*)\}"),
    re.compile(r"^\s*#{4}\s*(.+)$", re.MULTILINE),
    re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*\**\s*(.+)", re.IGNORECASE),
]
ARTICLES_RE = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD-style)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text)
    return " ".join(ARTICLES_RE.sub(" ", text).split())


def _number(text: str) -> float | None:
    matches = NUMBER_RE.findall(text)
    if not matches:
        return None
    try:
        return float(matches[-1].replace(",", ""))
    except ValueError:
        return None


def _candidates(output: str, oracle: OracleAnswer) -> tuple[list[str], bool]:
    """Answer candidates, and whether they came from an explicit pattern or marker."""
    if oracle.pattern:
        found = []
        for match in re.finditer(oracle.pattern, output, re.IGNORECASE | re.MULTILINE):
            found.append(match.group(1) if match.groups() else match.group(0))
        return found, True
    for marker in MARKER_RES:
        found = [m.group(1).strip() for m in marker.finditer(output)]
        if found:
            return [found[-1]], True
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return ([lines[-1]] if lines else []), False


def _matches(candidate: str, oracle: OracleAnswer, explicit: bool) -> bool:
    if oracle.match == "exact":
        return candidate.strip() == oracle.answer.strip()
    if oracle.match == "numeric":
        got, want = _number(candidate), _number(oracle.answer)
        if got is None or want is None:
            return False
        return math.isclose(got, want, rel_tol=oracle.tolerance, abs_tol=oracle.tolerance)
    got_text, want_text = normalise(candidate), normalise(oracle.answer)
    if not want_text:
        return False
    if got_text == want_text:
        return True
    # Without an explicit marker the last line is prose: accept the answer as whole words in it.
    return not explicit and f" {want_text} " in f" {got_text} "


@evaluator("oracle", inline=True)
def oracle(inp: EvalInput) -> EvalResult:
    """Share of the scenario's known answers that the output gives (exact, normalised, numeric)."""
    if inp.scenario.kind == "agent":  # facts about the final workspace, not answers in text
        return agent_checks.agent_oracle(inp)
    answers = inp.scenario.oracle
    if not answers:
        return EvalResult.skipped("the scenario has no oracle answers")
    text = strip_thinking(inp.output)
    checks: list[dict[str, Any]] = []
    for answer in answers:
        try:
            candidates, explicit = _candidates(text, answer)
        except re.error as exc:
            raise ValueError(f"bad oracle pattern {answer.pattern!r}: {exc}") from exc
        hit = next((c for c in candidates if _matches(c, answer, explicit)), None)
        checks.append({
            "expected": answer.answer,
            "match": answer.match,
            "got": (hit if hit is not None else (candidates[-1] if candidates else None)),
            "ok": hit is not None,
        })
    passed = sum(c["ok"] for c in checks)
    return EvalResult(passed / len(checks), {"checks": checks, "passed": passed,
                                             "total": len(checks)})


# --------------------------------------------------------------------------- tests


def prompt_code(prompt: str) -> str | None:
    """The first python block in a prompt (HumanEval puts the signature and docstring there)."""
    blocks = fenced_blocks(prompt)
    for block in blocks:
        if block.lang in ("python", "py", ""):
            return block.text
    return None


def complete_from_prompt(code: str, prompt_block: str, entry_point: str) -> tuple[str, str]:
    """Add what the prompt already gave (imports, helpers, or the signature) to the answer.

    A model asked to finish a function may answer with the function alone, dropping the
    ``from typing import List`` or the helper above it; or with the body only. Either way the
    prompt's code is what the task started from, so it is fair to put it back.
    """
    try:
        tree = pyparse.parse(prompt_block)
    except SyntaxError:
        return code, "prompt does not parse"
    if defines(code, entry_point):
        lines = prompt_block.splitlines()
        keep: list[str] = []
        for node in tree.body:
            if isinstance(node, FUNCTION_NODES) and node.name == entry_point:
                continue
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            keep.extend(lines[start - 1: node.end_lineno])
        prelude = "\n".join(keep)
        return (prelude + "\n\n" + code if prelude.strip() else code), "prelude"
    body = code
    first = next((line for line in body.splitlines() if line.strip()), "")
    if first and not first[0].isspace():
        body = "\n".join("    " + line if line.strip() else line for line in body.splitlines())
    return prompt_block.rstrip("\n") + "\n" + body + "\n", "body"


@evaluator("tests")
def tests(inp: EvalInput) -> EvalResult:
    """Run the scenario's tests against the extracted code in the sandbox; share that pass.

    Options: ``timeout_s`` (10), ``memory_mb`` (512), ``output_cap`` (64000 bytes), and
    ``complete_from_prompt`` (put back the imports/helpers/signature the prompt's code block
    gave, for HumanEval-style "complete this function" tasks).
    """
    scenario = inp.scenario
    if scenario.kind == "agent":  # the workspace's own test command
        return agent_checks.command_check(inp, "tests")
    if not scenario.tests:
        return EvalResult.skipped("the scenario has no tests")
    code = inp.code
    detail: dict[str, Any] = {}
    if inp.extraction is not None:
        detail["extraction"] = inp.extraction.method
    if not code.strip():
        planned = planned_tests(scenario.tests, scenario.entry_point)
        return EvalResult(0.0, {**detail, "passed": 0, "total": len(planned), "failures": [],
                                "reason": "no code found in the answer"})
    answer = code
    if inp.options.get("complete_from_prompt") and scenario.entry_point:
        block = prompt_code(scenario.prompt)
        if block:
            code, how = complete_from_prompt(code, block, scenario.entry_point)
            detail["completed_from_prompt"] = how
    result = run_python(
        code, scenario.tests, entry_point=scenario.entry_point,
        timeout_s=float(inp.options.get("timeout_s", 10)),
        memory_mb=int(inp.options.get("memory_mb", 512)),
        output_cap=int(inp.options.get("output_cap", 64_000)),
    )
    if result.total == 0 and result.reason and result.reason.startswith("tests error"):
        raise ValueError(f"the scenario's tests are broken: {result.reason}")
    score = result.passed / result.total if result.total else 0.0
    constructs = suspect_constructs(answer)  # after the run: the other evaluators' parses are done
    if constructs:
        detail["suspect"] = constructs
    return EvalResult(score, {**detail, **result.as_detail()})


# --------------------------------------------------------------------------- format


BULLET_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+\S")
WORD_RE = re.compile(r"[\w'’-]+")


@evaluator("format", inline=True)
def format_(inp: EvalInput) -> EvalResult:
    """Length and shape of prose: word range, bullet count, line count (writing scenarios).

    Options: ``min_words``, ``max_words``, ``min_bullets``, ``max_bullets``, ``max_lines``.
    A count outside its range scores in proportion to how far it is, not zero at one word over.
    """
    text = strip_thinking(inp.output).strip()
    opts = inp.options
    words = len(WORD_RE.findall(text))
    lines = [line for line in text.splitlines() if line.strip()]
    bullets = sum(1 for line in lines if BULLET_RE.match(line))
    checks: dict[str, float] = {}
    if "min_words" in opts:
        low = int(opts["min_words"])
        checks["min_words"] = 1.0 if words >= low else words / low if low else 1.0
    if "max_words" in opts:
        high = int(opts["max_words"])
        checks["max_words"] = 1.0 if words <= high else high / words
    if "min_bullets" in opts:
        low = int(opts["min_bullets"])
        checks["min_bullets"] = 1.0 if bullets >= low else bullets / low if low else 1.0
    if "max_bullets" in opts:
        high = int(opts["max_bullets"])
        checks["max_bullets"] = 1.0 if bullets <= high else (high / bullets if bullets else 1.0)
    if "max_lines" in opts:
        high = int(opts["max_lines"])
        checks["max_lines"] = 1.0 if len(lines) <= high else high / len(lines)
    detail: dict[str, Any] = {"words": words, "lines": len(lines), "bullets": bullets,
                              "checks": {k: round(v, 4) for k, v in checks.items()}}
    if not text:
        return EvalResult(0.0, {**detail, "error": "empty output"})
    if not checks:
        return EvalResult.skipped("no format options given", **detail)
    return EvalResult(round(sum(checks.values()) / len(checks), 4), detail)
