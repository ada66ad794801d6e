"""Queries for the settings report: each finished run's settings, quality and speed."""

from __future__ import annotations

from typing import Any

from tui_bench.store.core import CoreStore


class SettingsQueries(CoreStore):
    def setting_rows(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Finished runs, lean: model, swept and actual settings, score, success, speed, size."""
        where, params = "WHERE status = 'ok'", []
        if batch_id is not None:
            where += " AND batch_id = ?"
            params.append(batch_id)
        return self.query(
            f"""SELECT model, options_key, json_extract(options, '$.temperature') AS temperature,
                       json_extract(options, '$.num_ctx') AS num_ctx, auto_score, success,
                       tokens_per_s, ttft_ms, truncated,
                       json_extract(environment, '$.size_bytes') AS size_bytes,
                       json_extract(environment, '$.memory_bytes') AS memory_bytes
                FROM runs {where} ORDER BY model, options_key""", params)
