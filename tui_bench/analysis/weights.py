"""Routing weights: per category, how much to trust each model, learned from its scores.

A weight moves toward the model's latest mean score in the category by an exponential moving
average, ``new = old + rate * (mean - old)``; a first weight starts at the mean. "Latest" is
the newest batch that ran the model in the category (or the batch asked for), and a batch is
learned from once: updating again from the same batch changes nothing. Every change is kept
in a history table, and the current weights can be written as ``routing_weights.json`` for a
router to read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui_bench.domain import utc_now
from tui_bench.store import Store

WEIGHTS_FORMAT = "tui-bench.routing-weights/1"
DEFAULT_LEARNING_RATE = 0.1
WEIGHTS_FILE = "routing_weights.json"


@dataclass
class WeightChange:
    """One (model, category) weight before and after an update, and why."""

    category: str
    model: str
    old_weight: float | None
    new_weight: float
    mean_score: float
    runs: int
    learning_rate: float
    source_batch: str
    skipped: bool = False  # already learned from this batch: nothing changed

    @property
    def change(self) -> float | None:
        return None if self.old_weight is None else self.new_weight - self.old_weight

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


def ema(old: float | None, mean: float, learning_rate: float) -> float:
    """Move ``old`` toward ``mean`` by ``learning_rate``; a first weight is the mean itself."""
    if old is None:
        return mean
    return old + learning_rate * (mean - old)


def plan_update(store: Store, *, learning_rate: float = DEFAULT_LEARNING_RATE,
                batch_id: str | None = None) -> list[WeightChange]:
    """What an update would change, without writing it."""
    if not 0 < learning_rate <= 1:
        raise ValueError("the learning rate must be in (0, 1]")
    current = {(w["category"], w["model"]): w for w in store.routing_weights()}
    changes: list[WeightChange] = []
    for row in store.latest_category_means(batch_id=batch_id):
        key = (row["category"], row["model"])
        stored = current.get(key)
        old = None if stored is None else float(stored["weight"])
        already = stored is not None and stored["source_batch"] == row["batch_id"]
        changes.append(WeightChange(
            category=row["category"], model=row["model"], old_weight=old,
            new_weight=old if already and old is not None else ema(
                old, float(row["mean_score"]), learning_rate),
            mean_score=float(row["mean_score"]), runs=int(row["runs"]),
            learning_rate=learning_rate, source_batch=row["batch_id"], skipped=already))
    return changes


def update_weights(store: Store, *, learning_rate: float = DEFAULT_LEARNING_RATE,
                   batch_id: str | None = None) -> list[WeightChange]:
    """Apply the update and record it in the history; skipped changes are not written."""
    changes = plan_update(store, learning_rate=learning_rate, batch_id=batch_id)
    store.save_weight_changes(asdict(c) for c in changes if not c.skipped)
    return changes


def current_weights(store: Store) -> dict[str, dict[str, float]]:
    """Category -> model -> weight, heaviest first."""
    out: dict[str, dict[str, float]] = {}
    for row in store.routing_weights():
        out.setdefault(row["category"], {})[row["model"]] = float(row["weight"])
    return out


def favoured_models(store: Store) -> dict[str, str]:
    """Category -> the model its routing weights favour (ties go to the first name)."""
    out: dict[str, str] = {}
    for category, models in current_weights(store).items():
        out[category] = min(models.items(), key=lambda item: (-item[1], item[0]))[0]
    return out


def weights_document(store: Store) -> dict[str, Any]:
    """The portable weights file: every category's weights and its favoured model."""
    weights = current_weights(store)
    return {
        "format": WEIGHTS_FORMAT,
        "updated_at": utc_now(),
        "categories": weights,
        "favoured": favoured_models(store),
    }


def write_weights_file(store: Store, path: Path) -> dict[str, Any]:
    """Write ``routing_weights.json`` atomically (a temporary file, then a rename)."""
    document = weights_document(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return document
