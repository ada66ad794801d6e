"""The runner's hold on a batch: taken before planning, renewed while cells run, let go after.

See ``store/leases.py`` for why. The heartbeat runs on the batch's event loop; a holder that
finds its lease taken over (it was suspended past the stale bound) stops its batch rather
than write over the new runner's cells.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable

from tui_bench.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
"""How often a running batch says it is alive."""

STALE_AFTER_S = 60.0
"""A lease not renewed for this long belongs to a runner that died: it may be taken over."""


def owner_id() -> str:
    """Who holds a lease, as a person reading the refusal would want it: host, pid, nonce."""
    return f"{socket.gethostname()} pid {os.getpid()} #{secrets.token_hex(3)}"


def holder_is_dead(owner: str) -> bool:
    """True when the holder is a process on this host that no longer runs (killed or
    crashed): its batch can be resumed at once instead of after the stale bound."""
    match = re.fullmatch(r"(.*) pid (\d+) #[0-9a-f]+", owner)
    if match is None or match.group(1) != socket.gethostname():
        return False
    pid = int(match.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped still has a pid; /proc says it is a zombie (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


class BatchLease:
    """One runner's lease on one batch."""

    def __init__(self, store: Store, batch_id: str, *, heartbeat_s: float = HEARTBEAT_S,
                 stale_after_s: float = STALE_AFTER_S) -> None:
        self.store = store
        self.batch_id = batch_id
        self.owner = owner_id()
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self._task: asyncio.Task[None] | None = None

    def acquire(self) -> None:
        """Raises ``LeaseHeld`` (one line, naming the holder) if a live runner has the batch."""
        self.store.acquire_lease(self.batch_id, self.owner, stale_after_s=self.stale_after_s,
                                 is_dead=holder_is_dead)

    def keep_alive(self, on_lost: Callable[[], None]) -> None:
        """Renew the heartbeat until released; ``on_lost`` is called if the lease was taken."""
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_s)
                try:
                    alive = self.store.renew_lease(self.batch_id, self.owner)
                except Exception:  # a busy or failing database: try again next beat
                    log.exception("lease heartbeat for %s failed", self.batch_id)
                    continue
                if not alive:
                    log.error("lease on %s was taken over; stopping this runner", self.batch_id)
                    on_lost()
                    return

        self._task = asyncio.get_running_loop().create_task(beat(), name="lease-heartbeat")

    def release(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            self.store.release_lease(self.batch_id, self.owner)
        except Exception:  # the lease expires on its own; never mask the batch's own outcome
            log.exception("releasing the lease on %s failed", self.batch_id)
