"""Writing an agent run's telemetry row and artifacts (transcript, final diff).

Both are written inside the run's own transaction (``CoreStore.save_run`` calls
:func:`write_agent_run`), so a finished agent cell is stored whole or not at all, and a cell
run again replaces them with its row (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from tui_bench.domain import RunRecord

TRANSCRIPT = "transcript"  # JSON list of messages: role, content, tool calls and results
DIFF = "diff"  # unified diff of the final workspace against the fixture


def write_agent_run(conn: sqlite3.Connection, record: RunRecord,
                    artifacts: Mapping[str, str]) -> None:
    """Insert the run's agent telemetry and artifacts (inside the caller's transaction)."""
    agent = record.agent
    if agent is not None:
        conn.execute(
            "INSERT INTO agent_runs (run_id, turns, tool_calls, malformed_calls, refused_calls, "
            "files_changed, lines_added, lines_removed, end_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.run_id, agent.turns, json.dumps(agent.tool_calls, sort_keys=True),
             agent.malformed_calls, agent.refused_calls, agent.files_changed,
             agent.lines_added, agent.lines_removed, agent.end_reason))
    conn.executemany(
        "INSERT INTO run_artifacts (run_id, name, content) VALUES (?, ?, ?)",
        [(record.run_id, name, content) for name, content in artifacts.items()])
