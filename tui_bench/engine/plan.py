"""Turn a ``BatchSpec`` into the ordered list of cells to run, and mint identifiers."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from tui_bench.domain import (
    OPTION_AXES,
    BatchSpec,
    Cell,
    GenerationOptions,
    ModelRef,
    normalise_tier,
)

BATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def new_batch_id(now: datetime | None = None) -> str:
    """``batch_YYYYmmdd_HHMMSS_xxxx``: sortable by time, unique enough to never collide."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M%S")
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
        "option_axes": normalise_axes(spec.option_axes),
        "refine_thresholds": {str(ModelRef.parse(m)): t
                              for m, t in spec.refine_thresholds.items()},
    })


def value_text(value: float) -> str:
    """A setting as it appears in an options key: ``0.7``, ``8192``, ``0``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def normalise_axes(axes: dict[str, list[float | int]]) -> dict[str, list[float | int]]:
    """Known options only, in a fixed order, each value once; one value is no axis.

    A single value is simply the batch's option (it goes in ``BatchSpec.options``), so a batch
    without a sweep keeps empty options keys and matches batches made before axes existed.
    """
    unknown = sorted(set(axes) - set(OPTION_AXES))
    if unknown:
        raise ValueError(f"unknown option axis {unknown[0]!r}; known: {', '.join(OPTION_AXES)}")
    out: dict[str, list[float | int]] = {}
    for name in OPTION_AXES:
        values = list(dict.fromkeys(axes.get(name, [])))
        if len(values) > 1:
            # Validate each value the way a single option would be.
            for value in values:
                GenerationOptions.model_validate({name: value})
            out[name] = values
    return out


def parse_values(label: str, text: str | None, kind: type) -> list[Any]:
    """``"0,0.7"`` -> ``[0.0, 0.7]``, each value once; ValueError naming ``label`` otherwise."""
    if text is None or not str(text).strip():
        return []
    out = []
    for part in str(text).replace(" ", ",").split(","):
        if not part:
            continue
        try:
            out.append(kind(part))
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"{label}: {part!r} is not {what}") from None
    return list(dict.fromkeys(out))


def options_key(settings: dict[str, float | int]) -> str:
    """The canonical short text of swept settings, e.g. ``t=0.7,ctx=8192``."""
    return ",".join(f"{OPTION_AXES[name]}={value_text(settings[name])}"
                    for name in OPTION_AXES if name in settings)


def option_combinations(spec: BatchSpec) -> list[tuple[str, tuple[tuple[str, float | int], ...]]]:
    """Every combination of the swept options as (options key, overrides); one empty one
    when nothing is swept."""
    axes = normalise_axes(spec.option_axes)
    if not axes:
        return [("", ())]
    # Settings that make a backend reload the model vary slowest, so each load happens once.
    names = sorted(axes, key=lambda n: n not in ("num_ctx", "threads"))
    out = []
    for values in itertools.product(*(axes[n] for n in names)):
        chosen = dict(zip(names, values, strict=True))
        out.append((options_key(chosen), tuple(chosen.items())))
    return out


def cell_options(spec: BatchSpec, cell: Cell) -> GenerationOptions:
    """The batch's options with this cell's swept settings applied."""
    if not cell.settings:
        return spec.options
    return spec.options.model_copy(update=dict(cell.settings))


def plan(spec: BatchSpec) -> list[Cell]:
    """Every cell of the grid, all of one model's cells together so weights load once, and
    within a model each setting combination's cells together (a new context size reloads)."""
    cells = [
        Cell(batch_id=spec.batch_id, model=model, prompt_version=version, scenario_id=scenario,
             tier=tier, specialist=specialist, iteration=iteration, options_key=key,
             settings=settings)
        for model in spec.models
        for key, settings in option_combinations(spec)  # a model's settings together: one load
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
