"""Evaluators by name, so a scenario can ask for one and the engine never needs to know it.

An evaluator is a function ``(EvalInput) -> EvalResult``, plain or ``async``. Register one with
``@evaluator("name")``; a third-party package can also expose them through the entry-point
group ``tui_bench.evaluators`` (each entry point is a module or callable imported on first use,
whose import registers its evaluators).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tui_bench.domain import Judgment, Rubric, Scenario

if TYPE_CHECKING:
    from tui_bench.scoring.extract import Extraction
    from tui_bench.scoring.judge import JudgeClient

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "tui_bench.evaluators"

Status = Literal["ok", "skipped", "unparseable", "error"]


@dataclass
class EvalInput:
    """Everything an evaluator may look at for one run."""

    scenario: Scenario
    output: str
    code: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    rubric: Rubric | None = None
    judge: JudgeClient | None = None
    extraction: Extraction | None = None
    # Agent scenarios: the final workspace (still on disk while evaluators run), its diff
    # against the fixture, and the paths the agent changed (relative, '/'-separated).
    workspace: Path | None = None
    diff: str = ""
    changed_files: list[str] = field(default_factory=list)


@dataclass
class EvalResult:
    """A verdict: ``score`` in 0..1 and what led to it.

    ``status`` other than ``ok``/``error`` means the evaluator could not give a verdict (no
    judge, nothing to compare, an unreadable judge answer): such a result is stored with weight
    0 so it does not drag the weighted mean toward zero.
    """

    score: float
    detail: dict[str, Any] = field(default_factory=dict)
    status: Status = "ok"
    judgment: Judgment | None = None

    @property
    def counted(self) -> bool:
        return self.status in ("ok", "error")

    @classmethod
    def skipped(cls, why: str, **detail: Any) -> EvalResult:
        return cls(0.0, {"skipped": True, "why": why, **detail}, status="skipped")


EvaluatorFn = Callable[[EvalInput], EvalResult | Awaitable[EvalResult]]


@dataclass(frozen=True)
class Registered:
    name: str
    fn: EvaluatorFn
    is_async: bool
    description: str
    inline: bool = False  # instant on answers of normal size: run on the loop, no thread hop


_REGISTRY: dict[str, Registered] = {}
_plugins_loaded = False


def register(name: str, fn: EvaluatorFn, *, replace: bool = False,
             inline: bool = False) -> EvaluatorFn:
    """Add an evaluator under ``name``; refuses to shadow one silently."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"evaluator name {name!r} must be letters, digits, '_' or '-'")
    if name in _REGISTRY and not replace and _REGISTRY[name].fn is not fn:
        raise ValueError(f"evaluator {name!r} is already registered")
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    _REGISTRY[name] = Registered(name, fn, inspect.iscoroutinefunction(fn), doc[0] if doc else "",
                                 inline)
    return fn


def evaluator(name: str, *, replace: bool = False,
              inline: bool = False) -> Callable[[EvaluatorFn], EvaluatorFn]:
    """Decorator form of :func:`register`. ``inline``: a pure function of the answer that takes
    microseconds, run on the event loop (a thread hop would cost more than the work)."""

    def wrap(fn: EvaluatorFn) -> EvaluatorFn:
        return register(name, fn, replace=replace, inline=inline)

    return wrap


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    try:
        points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - broken metadata must not stop scoring
        return
    for point in points:
        try:
            point.load()
        except Exception as exc:  # noqa: BLE001
            log.warning("evaluator plugin %s failed to load: %s", point.name, exc)


def get(name: str) -> Registered | None:
    """The evaluator called ``name``, or None."""
    if name not in _REGISTRY:
        _load_plugins()
    return _REGISTRY.get(name)


def names() -> list[str]:
    """Every registered evaluator name, sorted."""
    _load_plugins()
    return sorted(_REGISTRY)
