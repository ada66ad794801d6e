"""The team dashboard: one self-contained HTML file over the whole database or chosen batches.

``tui-bench report --html FILE`` writes it. Every figure comes from the same analysis functions
as ``tui-bench report`` (leaderboard, score over time, difficulty, specialist effect), plus the
judged-against-automatic pairs; the charts are SVG drawn by the templates from
``analysis.charts`` geometry, so the file needs no script and no network and prints cleanly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui_bench import __version__
from tui_bench.analysis.charts import bar_chart, line_chart, scatter_chart
from tui_bench.analysis.findings import difficulty, specialist_effect
from tui_bench.analysis.html import render_page
from tui_bench.analysis.leaderboard import Standing, leaderboard, ratio, score_over_time
from tui_bench.domain import utc_now
from tui_bench.present import DASH, cost, number, percent, rate, score, timestamp
from tui_bench.store import Store

STANDING_HEADERS = ["#", "model", "version", "runs", "score", "spread", "success",
                    "judged %", "judged", "judged spread", "ttft ms", "tok/s", "cost"]
LISTED_BATCHES = 50


def standing_rows(rows: Sequence[Standing]) -> list[list[str]]:
    """A ranking as table rows: counts and spread beside every mean, "—" for unknowns."""
    return [[str(s.rank), s.model, s.prompt_version, str(s.runs), score(s.mean_score),
             score(s.score_spread), percent(s.success_rate), number(s.mean_judged, "{:.1f}"),
             str(s.judged), number(s.judged_spread, "{:.1f}"), number(s.mean_ttft_ms, "{:.0f}"),
             rate(s.mean_tokens_per_s), cost(s.cost)] for s in rows]


def pearson(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Correlation of automatic and judged scores; ``None`` under three pairs or no variance."""
    if len(pairs) < 3:
        return None
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


@dataclass
class JudgedFigures:
    """Per model and judge kind: how judged runs scored automatically and by the judges."""

    model: str
    judge_kind: str
    runs: int
    mean_auto: float | None
    mean_judged: float | None
    correlation: float | None


def judged_against_auto(rows: Sequence[dict[str, Any]]) -> list[JudgedFigures]:
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["judge_kind"]), []).append(
            (float(row["auto_score"]), float(row["percent"])))
    return [JudgedFigures(model=model, judge_kind=kind, runs=len(pairs),
                          mean_auto=ratio(sum(p[0] for p in pairs), len(pairs)),
                          mean_judged=ratio(sum(p[1] for p in pairs), len(pairs)),
                          correlation=pearson(pairs))
            for (model, kind), pairs in sorted(groups.items())]


def _batches(store: Store, batch_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    if batch_ids is None:
        return store.list_batches(limit=LISTED_BATCHES)
    found = [store.get_batch(b) for b in batch_ids]
    return [b for b in found if b is not None]


def dashboard_context(store: Store, batch_ids: Sequence[str] | None = None, *,
                      top: int = 15) -> dict[str, Any]:
    """Everything the dashboard shows, as template-ready rows and chart geometry."""
    board = leaderboard(store, batch_ids=batch_ids)
    over_time = score_over_time(store, last=30 if batch_ids is None else None)
    if batch_ids is not None:
        chosen = set(batch_ids)
        over_time = {m: kept for m, pts in over_time.items()
                     if (kept := [p for p in pts if p.batch_id in chosen])}
    hardest = difficulty(store, batch_ids=batch_ids)[:top]
    specialists = specialist_effect(store, batch_ids=batch_ids)
    pairs = store.judged_pairs(batch_ids=batch_ids)
    judged = judged_against_auto(pairs)

    charts: dict[str, Any] = {}
    if board.overall:
        label = [f"{s.model} · {s.prompt_version}" for s in board.overall]
        charts["score"] = bar_chart("Mean automatic score (overall ranking)",
                                    list(zip(label, (s.mean_score for s in board.overall),
                                             strict=True)),
                                    maximum=1.0, label="{:.3f}")
        charts["success"] = bar_chart("Success rate",
                                      list(zip(label, (s.success_rate for s in board.overall),
                                               strict=True)),
                                      maximum=1.0, label="{:.0%}")
        speed = [(name, s.mean_tokens_per_s, s.mean_score)
                 for name, s in zip(label, board.overall, strict=True)
                 if s.mean_tokens_per_s is not None and s.mean_score is not None]
        if speed:
            charts["speed"] = scatter_chart("Speed against quality, one dot per model",
                                            speed, x_label="tokens/s", y_label="mean score")
    if over_time:
        charts["over_time"] = line_chart(
            "Mean score per batch, oldest first",
            {m: [(f"{p.created_at[:16].replace('T', ' ')} {p.batch_id}", p.mean_score)
                 for p in pts if p.mean_score is not None] for m, pts in over_time.items()},
            y_label="mean score")
    if hardest:
        charts["hardest"] = bar_chart("Success rate of the hardest scenarios",
                                      [(d.scenario_id, d.success_rate) for d in hardest],
                                      maximum=1.0, label="{:.0%}")
    if pairs:
        charts["judged"] = scatter_chart(
            "Judged against automatic score, one dot per run and judge kind",
            [(f"{r['judge_kind']} judge", r["auto_score"], r["percent"]) for r in pairs],
            x_label="automatic score", y_label="judged %", x_max=1.0, y_max=100.0,
            x_format="{:.2f}", y_format="{:.0f}")

    batches = _batches(store, batch_ids)
    return {
        "scope": ("every batch" if batch_ids is None
                  else "batches " + ", ".join(batch_ids)),
        "written_at": utc_now()[:19].replace("T", " ") + " UTC",
        "tool": f"tui-bench {__version__}",
        "batch_count": store.count_batches() if batch_ids is None else len(batches),
        "run_count": sum(s.runs for s in board.overall),
        "model_count": len({s.model for s in board.overall}),
        "batches": [[b["batch_id"], timestamp(b["created_at"]),
                     b["mode"], b["status"], ", ".join(b["models"])] for b in batches],
        "batches_listed": len(batches),
        "standing_headers": STANDING_HEADERS,
        "overall": standing_rows(board.overall),
        "categories": {c: standing_rows(rows) for c, rows in board.by_category.items()},
        "over_time": [[m, p.batch_id, p.created_at[:16].replace("T", " "),
                       score(p.mean_score), str(p.scored)]
                      for m, pts in over_time.items() for p in pts[-top:]],
        "hardest": [[d.scenario_id, d.category, f"{d.models_failed} of {d.models}",
                     percent(d.success_rate), score(d.mean_score),
                     ", ".join(d.failed_by) or DASH] for d in hardest],
        "specialists": [[s.model, s.specialist, str(s.pairs), str(s.batches),
                         score(s.baseline_score), score(s.specialist_score),
                         number(s.score_change, "{:+.3f}"),
                         f"{percent(s.baseline_success)} → {percent(s.specialist_success)}"]
                        for s in specialists],
        "judged": [[j.model, j.judge_kind, str(j.runs), score(j.mean_auto),
                    number(j.mean_judged, "{:.1f}"), number(j.correlation, "{:+.2f}")]
                   for j in judged],
        "charts": charts,
    }


def dashboard_html(store: Store, batch_ids: Sequence[str] | None = None, *,
                   top: int = 15) -> str:
    """The dashboard page (see the module docstring)."""
    return render_page("dashboard.html.j2", **dashboard_context(store, batch_ids, top=top))
