"""The score sheet a person fills in: values, the current criterion, typed digits and undo.

Plain Python (no Textual), so the rules of the keyboard model are testable on their own and
the widgets only draw what this holds. A criterion nobody touched is *unset* (``None``), not
its minimum: a judgment is saved only when every criterion was set on purpose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tui_bench.domain import Criterion, Rubric, band_for

DIGIT_WINDOW_S = 1.0  # "1" then "5" within this many seconds sets 15
BIG_STEP = 5


@dataclass(frozen=True, slots=True)
class Change:
    """One undoable change: which criterion, what it held before, where the cursor was."""

    criterion: str
    before: int | None
    cursor: int


class ScoreSheet:
    """A rubric being filled in for one run."""

    def __init__(self, rubric: Rubric, scores: dict[str, int] | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 window: float = DIGIT_WINDOW_S) -> None:
        self.rubric = rubric
        self.values: dict[str, int | None] = {c.id: None for c in rubric.criteria}
        for key, value in (scores or {}).items():
            if key in self.values:
                self.values[key] = int(value)
        self.cursor = 0
        self.history: list[Change] = []
        self._clock = clock
        self._window = window
        self._typed = ""
        self._typed_at = 0.0
        self.changed = False  # anything set since the sheet was opened

    # ---- reading

    @property
    def current(self) -> Criterion:
        return self.rubric.criteria[self.cursor]

    def value(self, criterion_id: str) -> int | None:
        return self.values[criterion_id]

    @property
    def unset(self) -> list[Criterion]:
        return [c for c in self.rubric.criteria if self.values[c.id] is None]

    @property
    def complete(self) -> bool:
        return not self.unset

    @property
    def scores(self) -> dict[str, int]:
        """The set values only (all of them once the sheet is complete)."""
        return {k: v for k, v in self.values.items() if v is not None}

    @property
    def total(self) -> int:
        return sum(self.scores.values())

    @property
    def percent(self) -> float | None:
        return self.rubric.percent(self.scores) if self.complete else None

    @property
    def band(self) -> str | None:
        percent = self.percent
        return None if percent is None else band_for(percent)

    # ---- moving

    def move(self, delta: int) -> None:
        """Go to another criterion; a half-typed number ends there."""
        self.cursor = max(0, min(len(self.rubric.criteria) - 1, self.cursor + delta))
        self._typed = ""

    # ---- changing

    def set(self, criterion_id: str, value: int, *, record: bool = True) -> bool:
        """Set a value (clamped to the range); False when nothing changed."""
        crit = next(c for c in self.rubric.criteria if c.id == criterion_id)
        value = max(crit.min, min(crit.max, int(value)))
        before = self.values[criterion_id]
        if before == value:
            return False
        if record:
            self.history.append(Change(criterion_id, before, self.cursor))
        self.values[criterion_id] = value
        self.changed = True
        return True

    def step(self, delta: int) -> bool:
        """Move the current slider; an unset slider rests at its minimum, so the first move
        to the left sets the minimum and to the right sets minimum + step."""
        crit = self.current
        self._typed = ""
        held = self.values[crit.id]
        if held is None:
            return self.set(crit.id, crit.min + max(delta, 0))
        return self.set(crit.id, held + delta)

    def digit(self, char: str) -> str | None:
        """Type a digit: digits typed within the window make one number (1, 5 -> 15), as long
        as it stays in range. Returns a message when the digit cannot be used."""
        crit = self.current
        now = self._clock()
        if self._typed and now - self._typed_at <= self._window:
            joined = int(self._typed + char)
            if crit.min <= joined <= crit.max:
                self._typed += char
                self._typed_at = now
                self.values[crit.id] = joined  # same change as the first digit: one undo
                self.changed = True
                return None
        value = int(char)
        if not crit.min <= value <= crit.max:
            self._typed = ""
            return f"{crit.name} goes from {crit.min} to {crit.max}"
        self._typed, self._typed_at = char, now
        self.set(crit.id, value)
        return None

    def undo(self) -> Change | None:
        """Take back the last change (a typed number counts as one) and go to its criterion."""
        self._typed = ""
        if not self.history:
            return None
        change = self.history.pop()
        self.values[change.criterion] = change.before
        self.cursor = next(i for i, c in enumerate(self.rubric.criteria)
                           if c.id == change.criterion)
        return change
