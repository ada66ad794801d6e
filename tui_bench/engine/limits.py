"""Limits on what streams in: tokens, bytes and time, enforced by the client.

A server may ignore ``max_tokens``, never stop, or send megabytes; none of that may keep a cell
running or grow the process. The runner feeds each piece of text to a :class:`StreamBudget`,
which says when the answer is complete enough (``max_tokens`` pieces: the cell ends normally,
``done_reason="length"``) or over a hard limit (answer bytes, the cell's deadline: the cell
ends as failed with the limit named). Nothing here knows about backends or screens.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from tui_bench.backends.base import BackendError

CLIENT_CUT = "length"
"""``done_reason`` of an answer the client stopped at ``max_tokens``, as servers report it."""


class LimitExceeded(BackendError):
    """A hard limit ended the cell: never transient, retrying would only hit it again."""

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message, host=host, transient=False)


def human_bytes(count: int) -> str:
    """``1048576`` -> ``1 MB``, for messages people read."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= size:
            return f"{count / size:g} {unit}"
    return f"{count} bytes"


@dataclass
class StreamBudget:
    """What one generation may still receive. ``max_pieces`` is the client-side
    ``max_tokens`` (servers send one content piece per sampled token, so pieces never
    outnumber tokens); ``max_bytes`` caps the UTF-8 size of the answer; ``deadline`` is a
    ``time.monotonic()`` instant after which the cell stops (``None``: none)."""

    max_pieces: int
    max_bytes: int
    deadline: float | None = None
    deadline_s: float | None = None
    pieces: int = 0
    size: int = 0
    host: str | None = field(default=None)

    def take(self, text: str) -> str:
        """Account for one piece; returns the part of it that fits. Raises
        :class:`LimitExceeded` when the answer would pass ``max_bytes``."""
        if not text:
            return text
        self.pieces += 1
        added = len(text.encode("utf-8", "surrogatepass"))
        if self.size + added > self.max_bytes:
            raise LimitExceeded(
                f"the answer passed the {human_bytes(self.max_bytes)} cap on answer size "
                f"(--max-answer-bytes) after {self.pieces} pieces", host=self.host)
        self.size += added
        return text

    @property
    def full(self) -> bool:
        """``max_tokens`` pieces taken: one more means the server ignored the limit."""
        return self.pieces >= self.max_pieces

    def wait_limit(self, limit: float) -> tuple[float, bool]:
        """The wait for the next piece: ``limit`` or what is left before the deadline,
        whichever is shorter, and whether the deadline is the binding one."""
        if self.deadline is None:
            return limit, False
        left = self.deadline - time.monotonic()
        if left <= limit:
            return max(left, 0.0), True
        return limit, False

    def deadline_passed(self) -> LimitExceeded:
        return LimitExceeded(f"the cell's deadline of {self.deadline_s:g}s passed "
                             "(--cell-deadline)", host=self.host)


class WaitTimer:
    """A time limit on each wait for the next piece of a stream, at the cost of a clock read.

    ``asyncio.timeout`` builds a timer per wait: per streamed token that is most of the
    runner's own work against a fast server. This keeps one timer for the whole stream and
    moves a deadline: the timer, when it fires early (the deadline moved on), re-arms itself
    for the new one. Past the deadline while a wait is under way, the task is cancelled and
    :meth:`expired` turns that cancel into a timeout (a cancel from outside stays a cancel).
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._deadline: float | None = None
        self._handle: Any = None
        self._fired = False

    def arm(self, seconds: float) -> None:
        """A wait starts that may last ``seconds``."""
        deadline = self._loop.time() + seconds
        self._deadline = deadline
        if self._handle is None or self._handle.when() > deadline:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(deadline, self._check)

    def disarm(self) -> None:
        """The wait is over (the timer stays, for the next one). A cancel this timer made that
        the stream swallowed (the wait ended some other way) is withdrawn, so the task is not
        left with a cancel request nobody will consume."""
        self._deadline = None
        if self._fired:
            self._fired = False
            if self._task is not None:
                self._task.uncancel()

    def _check(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._loop.time() < deadline:
            self._handle = self._loop.call_at(deadline, self._check)
            return
        if self._task is not None and not self._task.done():
            self._fired = True
            self._task.cancel()

    def expired(self) -> bool:
        """Called on a ``CancelledError`` during a wait: True if this timer caused it and
        nothing else cancelled the task meanwhile (the caller raises a timeout instead)."""
        if not self._fired:
            return False
        self._fired = False
        return self._task is None or self._task.uncancel() == 0

    def close(self) -> None:
        self.disarm()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
