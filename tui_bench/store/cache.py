"""The response cache's one query: a stored fresh generation with the same cache key.

Only runs that really called their model (``cached = 0``) and finished cleanly serve as a
source, so a cached run always points at the generation it reused.
"""

from __future__ import annotations

from typing import Any

from tui_bench.store.core import CoreStore


class CacheQueries(CoreStore):
    """Mixed into Store; uses self.query from the core."""

    def cached_generation(self, cache_key: str) -> dict[str, Any] | None:
        """The newest clean, fresh run whose generation has this key, or None."""
        rows = self.query(
            """SELECT run_id, output, prompt_tokens, completion_tokens, done_reason
               FROM runs WHERE cache_key = ? AND status = 'ok' AND cached = 0
               ORDER BY finished_at DESC LIMIT 1""", (cache_key,))
        return rows[0] if rows else None
