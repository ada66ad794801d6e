"""Agent runs in the store: their telemetry and artifacts (transcript, final diff), read back.

Written by ``CoreStore.save_run`` in the run's own transaction (see ``agent_rows``).
"""

from __future__ import annotations

import json
from typing import Any

from tui_bench.domain import AgentTelemetry, RunRecord
from tui_bench.store.agent_rows import DIFF, TRANSCRIPT
from tui_bench.store.core import CoreStore

__all__ = ["DIFF", "TRANSCRIPT", "AgentQueries"]


class AgentQueries(CoreStore):
    """Mixed into Store: reads of agent telemetry and run artifacts."""

    def agent_telemetry(self, run_id: str) -> AgentTelemetry | None:
        rows = self.query("SELECT * FROM agent_runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        row = rows[0]
        return AgentTelemetry(
            turns=row["turns"], tool_calls=json.loads(row["tool_calls"] or "{}"),
            malformed_calls=row["malformed_calls"], refused_calls=row["refused_calls"],
            files_changed=row["files_changed"], lines_added=row["lines_added"],
            lines_removed=row["lines_removed"], end_reason=row["end_reason"])

    def get_run(self, run_id: str, *, with_evaluations: bool = True) -> RunRecord | None:
        """A run; an agent run carries its agent telemetry too."""
        record = super().get_run(run_id, with_evaluations=with_evaluations)
        if record is not None and record.mode == "agent":
            record.agent = self.agent_telemetry(run_id)
        return record

    def artifact_names(self, run_id: str) -> list[str]:
        return [r["name"] for r in self.query(
            "SELECT name FROM run_artifacts WHERE run_id = ? ORDER BY name", (run_id,))]

    def artifact(self, run_id: str, name: str) -> str | None:
        rows = self.query("SELECT content FROM run_artifacts WHERE run_id = ? AND name = ?",
                          (run_id, name))
        return str(rows[0]["content"]) if rows else None

    def transcript(self, run_id: str) -> list[dict[str, Any]]:
        """The agent's conversation, message by message (empty for other runs)."""
        text = self.artifact(run_id, TRANSCRIPT)
        return list(json.loads(text)) if text else []
