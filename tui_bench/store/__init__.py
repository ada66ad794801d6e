"""The one package that speaks SQL. ``Store`` gathers the queries of every feature.

``core`` holds the connection, migrations, batches, runs and the registry; each feature keeps
its own queries (and the tables it adds to the schema) in a module of its own, combined here.
"""

from __future__ import annotations

from tui_bench.store.agent import AgentQueries
from tui_bench.store.cache import CacheQueries
from tui_bench.store.controls import ControlQueries
from tui_bench.store.core import (
    CELL_COLUMNS,
    REGISTRY_STATUSES,
    CoreStore,
    StoreError,
)
from tui_bench.store.effort import EffortQueries
from tui_bench.store.integrations import IntegrationQueries
from tui_bench.store.judging import JudgingQueries
from tui_bench.store.leases import LeaseHeld, LeaseQueries
from tui_bench.store.migrations import migrations
from tui_bench.store.reports import ReportQueries
from tui_bench.store.scorings import ScoringQueries
from tui_bench.store.settings import SettingsQueries
from tui_bench.store.specialists import SpecialistQueries
from tui_bench.store.suspects import SuspectQueries


class Store(AgentQueries, JudgingQueries, ReportQueries, SpecialistQueries, SettingsQueries,
            ControlQueries, LeaseQueries, IntegrationQueries, SuspectQueries, ScoringQueries,
            CacheQueries, EffortQueries, CoreStore):
    """All reads and writes of ``bench.db``."""


__all__ = ["CELL_COLUMNS", "REGISTRY_STATUSES", "LeaseHeld", "Store", "StoreError",
           "migrations"]
