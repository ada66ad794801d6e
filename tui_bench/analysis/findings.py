"""What a leaderboard alone hides: hard scenarios, what specialists buy, effort, surprises.

Each function takes the store (and optionally one batch) and returns plain dataclasses, so the
CLI, the TUI and exports present the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui_bench.analysis.leaderboard import ratio, rows_over
from tui_bench.analysis.weights import favoured_models
from tui_bench.store import Store

# A model "fails" a scenario when it passes less than half of its runs of it.
FAIL_BELOW = 0.5
SURPRISE_MARGIN = 0.15


# --------------------------------------------------------------------------- difficulty


@dataclass
class ScenarioDifficulty:
    """How many of the models that tried a scenario failed it."""

    scenario_id: str
    category: str
    models: int
    models_failed: int
    failed_by: list[str]
    runs: int
    success_rate: float | None
    mean_score: float | None

    @property
    def fail_share(self) -> float | None:
        return ratio(self.models_failed, self.models)


def difficulty(store: Store, *, batch_id: str | None = None,
               batch_ids: Sequence[str] | None = None) -> list[ScenarioDifficulty]:
    """Scenarios ordered hardest first: the share of models that fail them, then mean score."""
    per_model: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows_over(store.scenario_model_sums, batch_id, batch_ids):
        key = (row["scenario_id"], row["model"])
        merged = per_model.setdefault(key, {"category": row["category"], "runs": 0,
                                            "decided": 0, "passed": 0, "scored": 0,
                                            "score_sum": 0.0})
        for name in ("runs", "decided", "passed", "scored", "score_sum"):
            merged[name] += row[name] or 0
    by_scenario: dict[str, dict[str, dict[str, Any]]] = {}
    for (scenario_id, model), row in per_model.items():
        by_scenario.setdefault(scenario_id, {})[model] = row
    out: list[ScenarioDifficulty] = []
    for scenario_id, models in by_scenario.items():
        rows = list(models.values())
        failed = sorted(model for model, row in models.items() if _fails(row))
        out.append(ScenarioDifficulty(
            scenario_id=scenario_id, category=rows[0]["category"], models=len(rows),
            models_failed=len(failed), failed_by=failed, runs=sum(r["runs"] for r in rows),
            success_rate=ratio(sum(r["passed"] for r in rows), sum(r["decided"] for r in rows)),
            mean_score=ratio(sum(r["score_sum"] for r in rows), sum(r["scored"] for r in rows))))
    out.sort(key=lambda d: (-(d.fail_share or 0.0), d.mean_score is None,
                            d.mean_score or 0.0, d.scenario_id))
    return out


def _fails(row: dict[str, Any]) -> bool:
    share = ratio(row["passed"], row["decided"])
    return share is not None and share < FAIL_BELOW


# --------------------------------------------------------------------------- specialists


@dataclass
class SpecialistEffect:
    """Baseline against specialist-enabled runs of the same cells, per model and template."""

    model: str
    specialist: str
    pairs: int
    batches: int
    baseline_score: float | None
    specialist_score: float | None
    baseline_success: float | None
    specialist_success: float | None
    # Paired statistics over the twin cells: McNemar's exact p on the pass/fail flips and a
    # paired t interval (95%) of the score change.
    specialist_only: int = 0
    baseline_only: int = 0
    p_value: float | None = None
    change_low: float | None = None
    change_high: float | None = None

    @property
    def score_change(self) -> float | None:
        if self.baseline_score is None or self.specialist_score is None:
            return None
        return self.specialist_score - self.baseline_score

    @property
    def success_change(self) -> float | None:
        if self.baseline_success is None or self.specialist_success is None:
            return None
        return self.specialist_success - self.baseline_success


def specialist_effect(store: Store, *, batch_id: str | None = None,
                      batch_ids: Sequence[str] | None = None) -> list[SpecialistEffect]:
    """Paired comparison within batches that ran both: what the specialist prompt bought."""
    from tui_bench.analysis.stats import mcnemar_exact, t_interval_from_sums

    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows_over(store.specialist_sums, batch_id, batch_ids):
        into = merged.setdefault((row["model"], row["specialist"]), dict.fromkeys(row, 0))
        for name, value in row.items():
            if name in ("model", "specialist"):
                into[name] = value
            else:
                into[name] = (into[name] or 0) + (value or 0)
    out = []
    for _, r in sorted(merged.items()):
        effect = SpecialistEffect(
            model=r["model"], specialist=r["specialist"], pairs=r["pairs"], batches=r["batches"],
            baseline_score=ratio(r["baseline_sum"], r["scored"]),
            specialist_score=ratio(r["specialist_sum"], r["scored"]),
            baseline_success=ratio(r["baseline_passed"], r["baseline_decided"]),
            specialist_success=ratio(r["specialist_passed"], r["specialist_decided"]),
            specialist_only=int(r.get("specialist_only") or 0),
            baseline_only=int(r.get("baseline_only") or 0))
        effect.p_value = mcnemar_exact(effect.baseline_only, effect.specialist_only)
        if r["scored"] and r.get("diff_sq") is not None:
            diff_sum = float(r["specialist_sum"]) - float(r["baseline_sum"])
            interval = t_interval_from_sums(int(r["scored"]), diff_sum, float(r["diff_sq"]))
            if interval is not None:
                effect.change_low, effect.change_high = interval
        out.append(effect)
    return out


# --------------------------------------------------------------------------- effort


@dataclass
class Effort:
    """How hard a model worked in iterative runs: attempts used against the budget."""

    model: str
    runs: int
    mean_attempts: float | None
    budget_share: float | None  # mean of attempts / the batch's max_iterations
    first_answer_share: float | None  # cells that stopped after one answer


def effort(store: Store, *, batch_id: str | None = None) -> list[Effort]:
    """Per model over iterative and comparative runs; zero-shot runs have no effort to show."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in store.effort_sums(batch_id=batch_id):
        groups.setdefault(row["model"], []).append(row)
    out = []
    for model, rows in sorted(groups.items()):
        runs = sum(r["runs"] for r in rows)
        budgeted = [r for r in rows if r["max_iterations"]]
        budget_runs = sum(r["runs"] for r in budgeted)
        out.append(Effort(
            model=model, runs=runs,
            mean_attempts=ratio(sum(r["attempts"] for r in rows), runs),
            budget_share=ratio(sum(r["attempts"] / float(r["max_iterations"])
                                   for r in budgeted), budget_runs),
            first_answer_share=ratio(sum(r["first_answer"] for r in rows), runs)))
    return out


# --------------------------------------------------------------------------- surprises


@dataclass
class Surprise:
    """A run that beat the model its category's routing weights favour, on the same cell."""

    run_id: str
    batch_id: str
    category: str
    scenario_id: str
    model: str
    score: float
    favoured_model: str
    favoured_score: float
    margin: float


def surprises(store: Store, *, margin: float = SURPRISE_MARGIN, batch_id: str | None = None,
              limit: int = 50) -> list[Surprise]:
    """Largest margins first; empty until routing weights exist (``tui-bench weights``)."""
    favoured = favoured_models(store)
    rows = store.surprise_pairs(favoured, margin=margin, batch_id=batch_id, limit=limit)
    return [Surprise(run_id=r["run_id"], batch_id=r["batch_id"], category=r["category"],
                     scenario_id=r["scenario_id"], model=r["model"], score=r["score"],
                     favoured_model=r["favoured_model"], favoured_score=r["favoured_score"],
                     margin=r["margin"]) for r in rows]
