"""The portable summary of one batch: what ``--json FILE`` writes and exports build on.

Statistics are computed only over values that exist: a mean of nothing is ``None``, never 0.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from tui_bench import __version__
from tui_bench.domain import RunRecord
from tui_bench.present import seconds_between
from tui_bench.store import Store

SUMMARY_FORMAT = "tui-bench.batch-summary/1"


def mean(values: Iterable[float | None]) -> float | None:
    got = [float(v) for v in values if v is not None]
    return statistics.fmean(got) if got else None


def spread(values: Iterable[float | None]) -> float | None:
    got = [float(v) for v in values if v is not None]
    return statistics.pstdev(got) if len(got) > 1 else (0.0 if got else None)


def rate(flags: Iterable[bool | None]) -> float | None:
    got = [bool(f) for f in flags if f is not None]
    return sum(got) / len(got) if got else None


def run_row(run: RunRecord) -> dict[str, Any]:
    """One run as a flat, portable record."""
    tel = run.telemetry
    return {
        "run_id": run.run_id,
        "model": run.model,
        "scenario_id": run.scenario_id,
        "tier": run.tier,
        "prompt_version": run.prompt_version,
        "specialist": run.specialist or None,
        "iteration": run.iteration,
        "mode": run.mode,
        "status": run.status,
        "error": run.error,
        "auto_score": run.auto_score,
        "success": run.success,
        "first_success": run.first_success,
        "suspect": run.suspect,
        "suspect_cleared_at": run.suspect_cleared_at,
        "attempts": run.attempts,
        "retries": run.retries,
        "evaluations": {e.evaluator: {"score": e.score, "weight": e.weight}
                        for e in run.evaluations},
        "ttft_ms": tel.ttft_ms,
        "total_ms": tel.total_ms,
        "load_ms": tel.load_ms,
        "paid_load": tel.paid_load,
        "prompt_tokens": tel.prompt_tokens,
        "completion_tokens": tel.completion_tokens,
        "tokens_per_s": tel.tokens_per_s,
        "cost": tel.cost,
        "host": tel.host,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "cached": run.cached,
        "cached_from": run.cached_from,
        "scoring": run.scoring,
    }


def stats(runs: list[RunRecord]) -> dict[str, Any]:
    ok = [r for r in runs if r.status == "ok"]
    return {
        "runs": len(runs),
        "ok": len(ok),
        "failed": sum(r.status == "error" for r in runs),
        "cancelled": sum(r.status == "cancelled" for r in runs),
        "success_rate": rate(r.success for r in ok),
        "mean_score": mean(r.auto_score for r in ok),
        "score_spread": spread(r.auto_score for r in ok),
        # Cached runs reused a stored answer: they have no speed of their own.
        "mean_ttft_ms": mean(r.telemetry.ttft_ms for r in ok if not r.cached),
        "mean_tokens_per_s": mean(r.telemetry.tokens_per_s for r in ok if not r.cached),
        "cached": sum(r.cached for r in runs),
        "prompt_tokens": sum(r.telemetry.prompt_tokens or 0 for r in ok),
        "completion_tokens": sum(r.telemetry.completion_tokens or 0 for r in ok),
        "cost": (sum(r.telemetry.cost for r in ok if r.telemetry.cost is not None)
                 if any(r.telemetry.cost is not None for r in ok) else None),
    }


def counted(detail: dict[str, Any]) -> bool:
    """An evaluation that was skipped or could not be parsed is not a score."""
    return not (detail.get("skipped") or detail.get("unparseable"))


def evaluator_means(runs: list[RunRecord]) -> dict[str, float | None]:
    names = sorted({e.evaluator for r in runs for e in r.evaluations})
    return {name: mean(e.score for r in runs for e in r.evaluations
                       if e.evaluator == name and counted(e.detail))
            for name in names}


def comparison(runs: list[RunRecord], first_tokens: dict[str, int | None]) -> dict[str, Any] | None:
    """What iterating bought: the first answer against the final one, on the same cells.

    ``first_tokens`` maps run id to the completion tokens of its first attempt, the cost of the
    zero-shot side; the iterative side paid for every attempt.
    """
    ok = [r for r in runs if r.status == "ok" and r.first_success is not None
          and r.mode != "zero-shot"]
    if not ok:
        return None
    zero = rate(r.first_success for r in ok)
    final = rate(r.success for r in ok)
    zero_tokens = [first_tokens.get(r.run_id) for r in ok]
    return {
        "cells": len(ok),
        "zero_shot": {"success_rate": zero, "attempts": 1.0,
                      "completion_tokens": (None if any(t is None for t in zero_tokens)
                                            else sum(t or 0 for t in zero_tokens))},
        "iterative": {"success_rate": final, "attempts": mean(r.attempts for r in ok),
                      "completion_tokens": sum(r.telemetry.completion_tokens or 0 for r in ok)},
        "difference": {"success_rate": None if zero is None or final is None else final - zero,
                       "attempts": (mean(r.attempts for r in ok) or 1.0) - 1.0},
        "fixed_by_iterating": sum(bool(r.success) and not r.first_success for r in ok),
    }


def _iteration_groups(runs: list[RunRecord]) -> dict[tuple[str, ...], list[RunRecord]]:
    """A cell's finished runs across its iterations (settings apart: another setting is
    another cell)."""
    groups: dict[tuple[str, ...], list[RunRecord]] = {}
    for run in runs:
        if run.status == "ok":
            key = (run.model, run.options_key, run.prompt_version, run.scenario_id, run.tier,
                   run.specialist)
            groups.setdefault(key, []).append(run)
    return groups


def _model_label(model: str, options_key: str) -> str:
    return f"{model} [{options_key}]" if options_key else model


def pass_at_k_table(runs: list[RunRecord], ks: Iterable[int] = (1, 5, 10)) -> dict[str, Any]:
    """pass@k (any of k attempts passes) and pass^k (all k pass) per model, over cells with
    several iterations (unbiased estimators)."""
    from tui_bench.analysis.stats import pass_hat_k
    from tui_bench.scoring.humaneval import pass_at_k

    per_model: dict[str, dict[str, list[float]]] = {}
    for (model, options_key, *_), group in _iteration_groups(runs).items():
        n, c = len(group), sum(bool(r.success) for r in group)
        for k in ks:
            if n >= k:
                row = per_model.setdefault(_model_label(model, options_key), {})
                row.setdefault(f"pass@{k}", []).append(pass_at_k(n, c, k))
                row.setdefault(f"pass^{k}", []).append(pass_hat_k(n, c, k))
    return {model: {name: statistics.fmean(v) for name, v in by_k.items()}
            for model, by_k in per_model.items()}


def flaky_cells(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Cells that passed some iterations and failed others, most variable score first."""
    from tui_bench.analysis.stats import cell_spread

    groups = _iteration_groups(runs)
    spreads = cell_spread({key: [(r.auto_score, bool(r.success)) for r in group]
                           for key, group in groups.items() if len(group) > 1})
    names = ("model", "options_key", "prompt_version", "scenario_id", "tier", "specialist")
    out = [{**dict(zip(names, s.key, strict=False)), "iterations": s.iterations, "passes": s.passes,
            "mean_score": s.mean_score, "score_variance": s.score_variance}
           for s in spreads if s.flaky]
    return sorted(out, key=lambda d: -(d["score_variance"] or 0.0))


def batch_summary(store: Store, batch_id: str, *, scoring: int | None = None) -> dict[str, Any]:
    """Everything about a batch in one JSON-ready dict (format ``tui-bench.batch-summary/1``).

    Scores are each run's latest scoring, or scoring ``scoring`` of the batch when given.
    """
    batch = store.get_batch(batch_id)
    if batch is None:
        raise KeyError(batch_id)
    runs: list[RunRecord] = []
    offset = 0
    while True:
        page = store.runs(batch_id, limit=2000, offset=offset, with_evaluations=True)
        runs.extend(page)
        if len(page) < 2000:
            break
        offset += 2000
    if scoring is not None:
        runs = store.as_scored(runs, scoring)
    by_model: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_model.setdefault(run.model, []).append(run)
    spec = batch["spec"]
    summary: dict[str, Any] = {
        "format": SUMMARY_FORMAT,
        "tool": f"tui-bench {__version__}",
        "batch_id": batch_id,
        "mode": batch["mode"],
        "status": batch["status"],
        "started_at": batch["started_at"],
        "finished_at": batch["finished_at"],
        "duration_s": seconds_between(batch["started_at"], batch["finished_at"]),
        "config": spec,
        "cells": batch["total_cells"],
        "scoring": scoring if scoring is not None else store.latest_scoring(batch_id),
        "summary": {
            **stats(runs),
            "evaluators": evaluator_means([r for r in runs if r.status == "ok"]),
            "per_model": {m: stats(rs) for m, rs in sorted(by_model.items())},
        },
        "runs": [run_row(r) for r in runs],
    }
    first_tokens = {r.run_id: next(iter(store.attempts(r.run_id)), None) for r in runs
                    if r.mode != "zero-shot" and r.status == "ok"}
    compared = comparison(runs, {k: (a.telemetry.completion_tokens if a else None)
                                 for k, a in first_tokens.items()})
    if compared is not None:
        summary["summary"]["comparative"] = compared
    if spec.get("iterations", 1) > 1:
        summary["summary"]["pass_at_k"] = pass_at_k_table(runs)
        summary["summary"]["flaky_cells"] = flaky_cells(runs)
    if any(r.specialist for r in runs):  # baseline against specialist, as snapshots name it
        from tui_bench.analysis.specialist_table import specialist_comparison

        summary["summary"]["specialists"] = specialist_comparison(summary["runs"])
    return summary
