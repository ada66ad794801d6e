"""Queries and tables for reports: leaderboards, comparisons, routing weights."""

from __future__ import annotations

from tui_bench.store.core import CoreStore

# Tables this feature adds to the schema (appended to migration step 1 while unreleased).
SCHEMA = ""


class ReportQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""
