"""Turn a ``BatchSpec`` into the ordered list of cells to run, and mint identifiers."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timezone

from tui_bench.domain import BatchSpec, Cell, ModelRef, normalise_tier

BATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def new_batch_id(now: datetime | None = None) -> str:
    """``batch_YYYYmmdd_HHMMSS_xxxx``: sortable by time, unique enough to never collide."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d_%H%M%S")
    return f"batch_{stamp}_{secrets.token_hex(2)}"


def new_run_id() -> str:
    """``run_<epoch ms>_<6 hex>``."""
    return f"run_{int(time.time() * 1000)}_{secrets.token_hex(3)}"


def check_batch_id(batch_id: str) -> str:
    """A user-given batch id must be a plain token: it ends up in file names and URLs."""
    if not BATCH_ID_PATTERN.match(batch_id):
        raise ValueError(
            f"batch id {batch_id!r} may hold only letters, digits and _ . : - (at most 128)")
    return batch_id


def normalise_spec(spec: BatchSpec) -> BatchSpec:
    """Canonical spellings (``embedded:smollm2``, ``L2``) so resumed cells match stored ones."""
    models = [str(ModelRef.parse(m)) for m in spec.models]
    tiers = [normalise_tier(t) for t in spec.tiers]
    return spec.model_copy(update={
        "models": list(dict.fromkeys(models)),
        "tiers": list(dict.fromkeys(tiers)),
        "scenarios": list(dict.fromkeys(spec.scenarios)),
        "prompt_versions": list(dict.fromkeys(spec.prompt_versions)),
        "specialists": list(dict.fromkeys(spec.specialists)),
        "refine_thresholds": {str(ModelRef.parse(m)): t
                              for m, t in spec.refine_thresholds.items()},
    })


def plan(spec: BatchSpec) -> list[Cell]:
    """Every cell of the grid, all of one model's cells together so weights load once."""
    cells = [
        Cell(batch_id=spec.batch_id, model=model, prompt_version=version, scenario_id=scenario,
             tier=tier, specialist=specialist, iteration=iteration)
        for model in spec.models
        for version in spec.prompt_versions
        for scenario in spec.scenarios
        for tier in spec.tiers
        for specialist in spec.specialists
        for iteration in range(1, spec.iterations + 1)
    ]
    if not spec.group_by_model:
        # Interleave models, so a slow model does not hold every other model's results back.
        by_model: dict[str, list[Cell]] = {}
        for cell in cells:
            by_model.setdefault(cell.model, []).append(cell)
        queues = list(by_model.values())
        cells = [queue[i] for i in range(max(map(len, queues), default=0))
                 for queue in queues if i < len(queue)]
    return cells
