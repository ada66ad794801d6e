"""Baseline against specialist inside one batch, from its portable run rows.

A batch run with ``--specialist`` holds each cell twice: as is (baseline) and with the
template's persona. This pairs the two sides per template, overall and per model, with the
field names of the specialist snapshot format (``baseline_avg_score``, ``improvement_pct``,
``models_compared``), so the headless report, the exports and a minted snapshot agree.
"""

from __future__ import annotations

from typing import Any

from tui_bench.analysis.summary import mean

COMPARISON_HEADERS = ["specialist", "model", "baseline", "with specialist", "improvement",
                      "improvement %", "success"]


def _scores(runs: list[dict[str, Any]]) -> list[float]:
    return [r["auto_score"] for r in runs if r["status"] == "ok" and r["auto_score"] is not None]


def _success(runs: list[dict[str, Any]]) -> float | None:
    judged = [bool(r["success"]) for r in runs
              if r["status"] == "ok" and r["success"] is not None]
    return sum(judged) / len(judged) if judged else None


def _side_by_side(base: list[dict[str, Any]], spec: list[dict[str, Any]]) -> dict[str, Any]:
    b, s = mean(_scores(base)), mean(_scores(spec))
    improvement = None if b is None or s is None else s - b
    return {
        "baseline_runs": len(base), "specialist_runs": len(spec),
        "baseline_avg_score": b, "specialist_avg_score": s, "improvement": improvement,
        "improvement_pct": None if improvement is None or not b else 100.0 * improvement / b,
        "baseline_success_rate": _success(base), "specialist_success_rate": _success(spec),
    }


def specialist_comparison(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per specialist in the batch (none when it ran no specialist)."""
    baseline = [r for r in runs if not r.get("specialist")]
    out = []
    for name in sorted({r["specialist"] for r in runs if r.get("specialist")}):
        special = [r for r in runs if r.get("specialist") == name]
        models = sorted({r["model"] for r in baseline + special})
        compared = []
        for model in models:
            figures = _side_by_side([r for r in baseline if r["model"] == model],
                                    [r for r in special if r["model"] == model])
            compared.append({"model": model, "baseline_score": figures["baseline_avg_score"],
                             "specialist_score": figures["specialist_avg_score"],
                             "improvement": figures["improvement"]})
        out.append({"specialist": name, **_side_by_side(baseline, special),
                    "models_compared": compared})
    return out


def comparison_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    """Rows for COMPARISON_HEADERS: each specialist over all models, then per model."""
    from tui_bench.present import number, percent, score

    rows = []
    for e in entries:
        rows.append([e["specialist"], "all models", score(e["baseline_avg_score"]),
                     score(e["specialist_avg_score"]), number(e["improvement"], "{:+.3f}"),
                     number(e["improvement_pct"], "{:+.1f}%"),
                     f"{percent(e['baseline_success_rate'])} → "
                     f"{percent(e['specialist_success_rate'])}"])
        if len(e["models_compared"]) > 1:
            for m in e["models_compared"]:
                rows.append(["", m["model"], score(m["baseline_score"]),
                             score(m["specialist_score"]),
                             number(m["improvement"], "{:+.3f}"), "", ""])
    return rows
