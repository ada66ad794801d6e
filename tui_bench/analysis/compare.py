"""Two batches side by side, cell by cell: score changes, pass/fail flips, tokens/s changes.

Cells are matched on their key (model, prompt version, scenario, tier, specialist, iteration,
swept settings).
A run that errored counts as not passing, so a cell that passed before and errors now is a
"broke" flip, and its score change is unknown rather than a made-up drop to zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tui_bench.analysis.stats import PairedComparison, paired_comparison
from tui_bench.analysis.summary import mean
from tui_bench.store import Store
from tui_bench.store.core import CELL_COLUMNS

CellKey = tuple[str, str, str, str, str, int, str]

# A score change smaller than this is noise, not an improvement or a regression.
MIN_CHANGE = 0.01
# A cell cancelled on either side was never measured there: no verdict, no flip.
UNMEASURED = "not compared"


def _passed(run: dict[str, Any] | None) -> bool:
    return bool(run and run["status"] == "ok" and run["success"])


def _score(run: dict[str, Any] | None) -> float | None:
    if run is None or run["status"] != "ok":
        return None
    return run["auto_score"]


def _tps(run: dict[str, Any] | None) -> float | None:
    if run is None or run["status"] != "ok":
        return None
    return run["tokens_per_s"]


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@dataclass
class CellChange:
    """One cell in both batches."""

    model: str
    prompt_version: str
    scenario_id: str
    tier: str
    specialist: str
    iteration: int
    options_key: str  # swept settings ('' when none): part of the cell, so only like meets like
    status_before: str
    status_after: str
    score_before: float | None
    score_after: float | None
    passed_before: bool
    passed_after: bool
    tps_before: float | None
    tps_after: float | None
    run_before: str
    run_after: str

    @property
    def key(self) -> CellKey:
        return (self.model, self.prompt_version, self.scenario_id, self.tier, self.specialist,
                self.iteration, self.options_key)

    @property
    def score_change(self) -> float | None:
        return _delta(self.score_before, self.score_after)

    @property
    def tps_change(self) -> float | None:
        return _delta(self.tps_before, self.tps_after)

    @property
    def cancelled(self) -> bool:
        """Cancelled on either side: it did not run there, so nothing changed or flipped."""
        return "cancelled" in (self.status_before, self.status_after)

    @property
    def flip(self) -> str | None:
        """``fixed`` (fail -> pass), ``broke`` (pass -> fail) or ``None``."""
        if self.passed_before == self.passed_after or self.cancelled:
            return None
        return "fixed" if self.passed_after else "broke"

    def verdict(self, min_change: float = MIN_CHANGE) -> str:
        """``improved``, ``regressed`` or ``same``: a flip decides, else the score change;
        ``not compared`` when either side was cancelled."""
        if self.cancelled:
            return UNMEASURED
        if self.flip == "fixed":
            return "improved"
        if self.flip == "broke":
            return "regressed"
        change = self.score_change
        if change is None:
            if self.status_before == "ok" and self.status_after != "ok":
                return "regressed"
            if self.status_before != "ok" and self.status_after == "ok":
                return "improved"
            return "same"
        if change >= min_change:
            return "improved"
        if change <= -min_change:
            return "regressed"
        return "same"

    def label(self) -> str:
        spec = f" +{self.specialist}" if self.specialist else ""
        spec += f" [{self.options_key}]" if self.options_key else ""
        return (f"{self.model} · {self.scenario_id} · {self.tier}/{self.prompt_version}{spec}"
                f" #{self.iteration}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score_change": self.score_change,
                "tps_change": self.tps_change, "flip": self.flip, "verdict": self.verdict()}


@dataclass
class GroupChange:
    """The cells of one model (or all of them) summed up."""

    cells: int = 0
    improved: int = 0
    regressed: int = 0
    same: int = 0
    fixed: int = 0
    broke: int = 0
    not_compared: int = 0  # cancelled on one side
    mean_before: float | None = None
    mean_after: float | None = None
    mean_change: float | None = None
    success_before: float | None = None
    success_after: float | None = None
    tps_before: float | None = None
    tps_after: float | None = None
    tps_change: float | None = None


def summarise(cells: list[CellChange], min_change: float = MIN_CHANGE) -> GroupChange:
    """Counts of each verdict and flip, and means over cells with a figure on both sides."""
    verdicts = [c.verdict(min_change) for c in cells]
    scored = [c for c in cells if c.score_change is not None]
    timed = [c for c in cells if c.tps_change is not None]
    before = mean(c.score_before for c in scored)
    after = mean(c.score_after for c in scored)
    return GroupChange(
        cells=len(cells), improved=verdicts.count("improved"),
        regressed=verdicts.count("regressed"), same=verdicts.count("same"),
        not_compared=verdicts.count(UNMEASURED),
        fixed=sum(c.flip == "fixed" for c in cells), broke=sum(c.flip == "broke" for c in cells),
        mean_before=before, mean_after=after, mean_change=_delta(before, after),
        success_before=mean(float(c.passed_before) for c in cells),
        success_after=mean(float(c.passed_after) for c in cells),
        tps_before=mean(c.tps_before for c in timed), tps_after=mean(c.tps_after for c in timed),
        tps_change=mean(c.tps_change for c in timed))


@dataclass
class BatchComparison:
    """Batch ``before`` against batch ``after``: matched cells and what only one side ran."""

    before: str
    after: str
    cells: list[CellChange] = field(default_factory=list)
    only_before: list[CellKey] = field(default_factory=list)
    only_after: list[CellKey] = field(default_factory=list)
    min_change: float = MIN_CHANGE

    @property
    def summary(self) -> GroupChange:
        return summarise(self.cells, self.min_change)

    def per_model(self) -> dict[str, GroupChange]:
        models: dict[str, list[CellChange]] = {}
        for cell in self.cells:
            models.setdefault(cell.model, []).append(cell)
        return {m: summarise(cs, self.min_change) for m, cs in sorted(models.items())}

    def paired(self, model: str | None = None, *, level: float = 0.95) -> PairedComparison:
        """McNemar's exact test on the flips and a paired bootstrap CI of the score change,
        over the shared cells (of one model, or all)."""
        return paired_stats([c for c in self.cells if model is None or c.model == model],
                            level=level)

    def with_verdict(self, verdict: str) -> list[CellChange]:
        return [c for c in self.cells if c.verdict(self.min_change) == verdict]

    def flips(self) -> list[CellChange]:
        return [c for c in self.cells if c.flip is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "min_change": self.min_change,
            "summary": asdict(self.summary),
            "per_model": {m: asdict(g) for m, g in self.per_model().items()},
            "paired": self.paired().to_dict(),
            "paired_per_model": {m: self.paired(m).to_dict() for m in self.per_model()},
            "cells": [c.to_dict() for c in self.cells],
            "only_before": [dict(zip(CELL_COLUMNS, k, strict=True)) for k in self.only_before],
            "only_after": [dict(zip(CELL_COLUMNS, k, strict=True)) for k in self.only_after],
        }


def paired_stats(cells: list[CellChange], *, level: float = 0.95) -> PairedComparison:
    """Before is side A, after side B: a positive difference means the later batch scored more."""
    return paired_comparison(((c.score_before, c.score_after, c.passed_before, c.passed_after)
                              for c in cells), level=level)


def _key(run: dict[str, Any]) -> CellKey:
    return tuple(run[c] for c in CELL_COLUMNS)


def compare_batches(store: Store, before: str, after: str, *,
                    min_change: float = MIN_CHANGE) -> BatchComparison:
    """Match the two batches' cells; raise ``KeyError`` naming a batch that does not exist."""
    for batch_id in (before, after):
        if store.get_batch(batch_id) is None:
            raise KeyError(batch_id)
    old = {_key(r): r for r in store.batch_cells(before)}
    new = {_key(r): r for r in store.batch_cells(after)}
    cells = []
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        cells.append(CellChange(
            *key, status_before=a["status"], status_after=b["status"],
            score_before=_score(a), score_after=_score(b),
            passed_before=_passed(a), passed_after=_passed(b),
            tps_before=_tps(a), tps_after=_tps(b), run_before=a["run_id"],
            run_after=b["run_id"]))
    return BatchComparison(
        before=before, after=after, cells=cells,
        only_before=sorted(old.keys() - new.keys()), only_after=sorted(new.keys() - old.keys()),
        min_change=min_change)
