"""Queries for warmup controls: what each agent scenario's untouched fixture did in a batch."""

from __future__ import annotations

from typing import Any

from tui_bench.domain import utc_now
from tui_bench.store.core import CoreStore, _dumps, _loads


class ControlQueries(CoreStore):
    """Mixed into Store; one row per (batch, scenario), replaced when a resumed batch rechecks."""

    def save_control(self, batch_id: str, scenario_id: str, *, ok: bool, reason: str | None,
                     commands: list[dict[str, Any]], scenario_hash: str | None = None,
                     duration_s: float | None = None) -> None:
        """Record a scenario's control for a batch (``ok`` False: broken, ``reason`` says why)."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR REPLACE INTO scenario_controls (batch_id, scenario_id,
                       scenario_hash, ok, reason, commands, duration_s, checked_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (batch_id, scenario_id, scenario_hash, int(ok), reason, _dumps(commands),
                 duration_s, utc_now()))

    def controls(self, batch_id: str) -> list[dict[str, Any]]:
        """Every control recorded for a batch, by scenario id."""
        rows = self.query("SELECT * FROM scenario_controls WHERE batch_id = ? "
                          "ORDER BY scenario_id", (batch_id,))
        for row in rows:
            row["ok"] = bool(row["ok"])
            row["commands"] = _loads(row["commands"], [])
        return rows

    def broken_scenarios(self, batch_id: str) -> dict[str, str]:
        """Scenario id -> reason, for the scenarios whose control failed in this batch."""
        return {row["scenario_id"]: row["reason"] or "broken" for row in self.query(
            "SELECT scenario_id, reason FROM scenario_controls WHERE batch_id = ? AND ok = 0",
            (batch_id,))}
