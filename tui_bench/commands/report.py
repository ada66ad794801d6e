"""``tui-bench report``: rankings, score over time, difficulty, specialists, effort, surprises.

Over every batch by default, or one with ``--batch``; ``--json`` prints the whole report as
JSON (format ``tui-bench.report/1``) for scripts. ``--html FILE`` writes the team dashboard,
one self-contained page (``analysis.dashboard``), over every batch or each ``--batch`` given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tui_bench.analysis.findings import SURPRISE_MARGIN
from tui_bench.analysis.leaderboard import Standing
from tui_bench.analysis.report import Report, build_report
from tui_bench.commands.context import make_console, open_store
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.present import cost, interval, number, percent, score
from tui_bench.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", metavar="ID", action="append",
                        help="only this batch (default: every batch); repeatable with --html")
    parser.add_argument("--category", metavar="NAME",
                        help="show only this category's ranking (default: every category)")
    parser.add_argument("--margin", type=float, default=SURPRISE_MARGIN, metavar="X",
                        help="how far a model must beat the favoured one to be a surprise "
                        f"(default {SURPRISE_MARGIN})")
    parser.add_argument("--top", type=int, default=15, metavar="N",
                        help="rows per section for difficulty, surprises, score over time")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--settings", action="store_true",
                        help="per model, each setting combination's quality, speed and the "
                        "Pareto front of quality against speed")
    parser.add_argument("--effort", action="store_true",
                        help="only the effort report: iterative attempts and refine effort "
                        "per model and threshold or level")
    parser.add_argument("--html", metavar="FILE",
                        help="write the dashboard: one HTML file, charts inline, no network")


def standings_table(title: str, rows: list[Standing]) -> Table:
    """A ranking as a rich table; unknown figures show as "—"."""
    table = Table(title=title, title_justify="left")
    for name in ("#", "model", "version", "runs", "score", "spread", "success", "judged %",
                 "judged", "ttft ms", "tok/s", "cost", "score 95% CI", "success 95% CI",
                 "vs next"):
        table.add_column(name, justify="left" if name in ("model", "version") else "right")
    for s in rows:
        table.add_row(str(s.rank), s.model, s.prompt_version, str(s.runs),
                      score(s.mean_score), score(s.score_spread),
                      percent(s.success_rate), number(s.mean_judged, "{:.1f}"), str(s.judged),
                      number(s.mean_ttft_ms, "{:.0f}"), number(s.mean_tokens_per_s, "{:.1f}"),
                      cost(s.cost), interval(s.score_low, s.score_high, "{:.2f}"),
                      interval(s.success_low, s.success_high, "{:.0%}"), s.versus_next())
    return table



def print_report(console: Console, report: Report, *, category: str | None = None,
                 top: int = 15) -> None:
    scope = f"batch {report.batch_id}" if report.batch_id else "every batch"
    board = report.leaderboard
    if not board.overall:
        console.print(f"No finished runs in {scope} yet.")
        return
    if category is None:
        console.print(standings_table(f"Ranking · {scope}", board.overall))
    for name, rows in board.by_category.items():
        if category is None or name == category:
            console.print(standings_table(f"Ranking · {name}", rows))

    if board.overall:
        console.print("Intervals are 95%: the true mean score (or success rate) lies inside with "
                      "95% confidence. \"≈ next\" means the next entry's interval overlaps: "
                      "these runs do not show which of the two is better.", style="dim",
                      highlight=False)

    if report.over_time:
        table = Table(title="Score over time (mean score per batch)", title_justify="left")
        for name in ("model", "batch", "created", "score", "runs"):
            table.add_column(name, justify="right" if name in ("score", "runs") else "left")
        for model, points in report.over_time.items():
            for point in points[-top:]:
                table.add_row(model, point.batch_id, point.created_at[:16].replace("T", " "),
                              score(point.mean_score), str(point.scored))
        console.print(table)

    if report.difficulty:
        table = Table(title="Hardest scenarios (models that pass under half their runs)",
                      title_justify="left")
        for name in ("scenario", "category", "failed", "of models", "success", "score",
                     "failed by"):
            table.add_column(name, justify="right" if name in (
                "failed", "of models", "success", "score") else "left")
        for d in report.difficulty[:top]:
            table.add_row(d.scenario_id, d.category, str(d.models_failed), str(d.models),
                          percent(d.success_rate), score(d.mean_score),
                          ", ".join(d.failed_by) or "—")
        console.print(table)

    if report.specialists:
        table = Table(title="Specialist against baseline (same cells, same batch)",
                      title_justify="left")
        for name in ("model", "specialist", "pairs", "batches", "baseline", "specialist score",
                     "change", "success", "change 95% CI", "McNemar p"):
            table.add_column(name, justify="left" if name in ("model", "specialist") else "right")
        for s in report.specialists:
            table.add_row(s.model, s.specialist, str(s.pairs), str(s.batches),
                          score(s.baseline_score), score(s.specialist_score),
                          number(s.score_change, "{:+.3f}"),
                          f"{percent(s.baseline_success)} → {percent(s.specialist_success)}",
                          interval(s.change_low, s.change_high, "{:+.3f}"),
                          number(s.p_value, "{:.3g}"))
        console.print(table)

    print_effort(console, report)

    if report.surprises:
        table = Table(title=f"Surprises: beat the favoured model by ≥ {report.surprise_margin}",
                      title_justify="left")
        for name in ("batch", "category", "scenario", "model", "score", "favoured", "its score",
                     "margin"):
            table.add_column(name, justify="right" if name in (
                "score", "its score", "margin") else "left")
        for surprise in report.surprises[:top]:
            table.add_row(surprise.batch_id, surprise.category, surprise.scenario_id,
                          surprise.model, f"{surprise.score:.3f}", surprise.favoured_model,
                          f"{surprise.favoured_score:.3f}", f"{surprise.margin:+.3f}")
        console.print(table)
    else:
        console.print("No surprises (none beat the favoured model by "
                      f"{report.surprise_margin}, or no routing weights yet: "
                      "tui-bench weights --update).")


def print_effort(console: Console, report: Report) -> None:
    """The effort sections: attempts in iterative runs, then refine effort (tui-bench calibrate
    and --effort batches)."""
    if report.effort:
        table = Table(title="Effort in iterative runs", title_justify="left")
        for name in ("model", "runs", "mean attempts", "of budget", "stopped at first answer"):
            table.add_column(name, justify="left" if name == "model" else "right")
        for e in report.effort:
            table.add_row(e.model, str(e.runs), number(e.mean_attempts), percent(e.budget_share),
                          percent(e.first_answer_share))
        console.print(table)
    from tui_bench.commands.calibrate import effort_table

    if report.refine.by_threshold:
        console.print(effort_table("Refine effort by threshold", report.refine.by_threshold))
    if report.refine.by_level:
        console.print(effort_table("Effort levels: measured against target",
                                   report.refine.by_level))


def run(args: argparse.Namespace) -> int:
    if args.margin < 0:
        raise UsageError("--margin must be 0 or more")
    store = open_store(args)
    for batch in args.batch or ():
        if store.get_batch(batch) is None:
            raise CommandError(f"no batch {batch!r} in {store.path}")
    if args.html:
        return _write_dashboard(args, store)
    if args.settings:
        from tui_bench.commands.settings_report import print_settings

        if args.batch and len(args.batch) > 1:
            raise UsageError("--batch: one batch for the settings report")
        return print_settings(store, args, args.batch[0] if args.batch else None)
    if args.batch and len(args.batch) > 1:
        raise UsageError("--batch: one batch for the terminal report (several with --html)")
    batch_id = args.batch[0] if args.batch else None
    report = build_report(store, batch_id=batch_id, margin=args.margin)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
        return 0
    console = make_console()
    if args.category and args.category not in report.leaderboard.by_category:
        known = ", ".join(report.leaderboard.by_category) or "none"
        raise CommandError(f"no category {args.category!r} (known: {known})")
    if args.effort:
        if not (report.effort or report.refine):
            console.print("No effort to show yet: run a batch with --mode iterative or refine, "
                          "or tui-bench calibrate.")
        print_effort(console, report)
        return 0
    print_report(console, report, category=args.category, top=args.top)
    return 0


def _write_dashboard(args: argparse.Namespace, store: Store) -> int:
    from tui_bench.analysis.dashboard import dashboard_html
    from tui_bench.commands.export import write_atomically

    batches = list(dict.fromkeys(args.batch)) if args.batch else None
    page = dashboard_html(store, batches, top=args.top)
    try:
        write_atomically(Path(args.html), page)
    except OSError as exc:
        raise CommandError(f"cannot write {args.html}: {exc.strerror or exc}") from None
    print(f"dashboard written to {args.html}", file=sys.stderr)
    return 0
