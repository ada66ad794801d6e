"""Queries and tables for specialists: minted snapshots."""

from __future__ import annotations

from tui_bench.store.core import CoreStore

# Tables this feature adds to the schema (appended to migration step 1 while unreleased).
SCHEMA = ""


class SpecialistQueries(CoreStore):
    """Mixed into Store; uses self.query and self.transaction from the core."""
