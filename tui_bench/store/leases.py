"""Batch leases: one batch, one runner.

Two ``--resume`` of one batch at once both ran the missing cells, and one silently replaced
runs the other had reported. A runner now takes the batch's lease before it plans; a second
runner finds it held and refuses. The holder renews a heartbeat; a lease whose heartbeat is
older than ``stale_after_s`` belongs to a runner that died, and may be taken over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tui_bench.store.core import CoreStore, StoreError


class LeaseHeld(StoreError):
    """Another live runner holds the batch; the message names it and how long ago it spoke."""


class LeaseQueries(CoreStore):
    """Mixed into Store; every change is one ``BEGIN IMMEDIATE`` transaction, so two runners
    asking at once are ordered by SQLite and exactly one wins."""

    def acquire_lease(self, batch_id: str, owner: str, *, stale_after_s: float,
                      now: float | None = None,
                      is_dead: Callable[[str], bool] = lambda holder: False) -> None:
        """Take the batch for ``owner``, or raise :class:`LeaseHeld`. ``is_dead(holder)`` may
        say a holder is gone before its heartbeat is stale (a killed process on this host)."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            row = conn.execute("SELECT owner, heartbeat_at FROM batch_leases WHERE batch_id = ?",
                               (batch_id,)).fetchone()
            if row is not None and row["owner"] != owner:
                age = now - float(row["heartbeat_at"])
                if age < stale_after_s and not is_dead(str(row["owner"])):
                    raise LeaseHeld(
                        f"batch {batch_id!r} is being run by another process ({row['owner']}, "
                        f"alive {age:.0f}s ago); one batch, one runner. If that process is "
                        f"gone, its lease expires {stale_after_s - age:.0f}s from now")
            conn.execute(
                """INSERT INTO batch_leases (batch_id, owner, acquired_at, heartbeat_at)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT(batch_id) DO UPDATE SET owner = excluded.owner,
                       acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at""",
                (batch_id, owner, now, now))

    def renew_lease(self, batch_id: str, owner: str, *, now: float | None = None) -> bool:
        """Say ``owner`` is alive; False if the lease is no longer its own (taken over)."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE batch_leases SET heartbeat_at = ? WHERE batch_id = ? AND owner = ?",
                (now, batch_id, owner))
            return cur.rowcount == 1

    def release_lease(self, batch_id: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM batch_leases WHERE batch_id = ? AND owner = ?",
                         (batch_id, owner))

    def lease_of(self, batch_id: str) -> dict[str, object] | None:
        rows = self.query("SELECT * FROM batch_leases WHERE batch_id = ?", (batch_id,))
        return rows[0] if rows else None
