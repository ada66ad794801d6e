"""``tui-bench batches list|show|compare|gate|suspects|clear-suspect``: batches for scripts.

Tables by default, ``--json`` for machines. ``gate`` exits 1 when a batch is below the bar
or regressed against a baseline, so a CI job can run it after any batch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from tui_bench.analysis.compare import BatchComparison, CellChange, compare_batches
from tui_bench.analysis.gate import DEFAULT_MARGIN, GateResult, evaluate_gate
from tui_bench.analysis.summary import batch_summary
from tui_bench.commands import suspects
from tui_bench.commands.context import make_console, open_store
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.present import duration, number, percent, rate, score, seconds_between
from tui_bench.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # --db after the action word too (``batches list --db x.db``); SUPPRESS keeps the value
    # given before it when it is not repeated.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file (default: $TUI_BENCH_DB or ./bench.db)")
    shared.add_argument("--json", action="store_true", help="print JSON instead of tables")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser("list", parents=[shared], help="batches, newest first")
    listing.add_argument("--limit", type=int, default=20, metavar="N")
    listing.add_argument("--offset", type=int, default=0, metavar="N")
    listing.add_argument("--search", metavar="TEXT", help="in ids, models, scenarios, notes")
    listing.add_argument("--mode", help="zero-shot, iterative or comparative")
    listing.add_argument("--status", help="running, finished, cancelled, ...")

    show = actions.add_parser("show", parents=[shared], help="one batch: figures and runs")
    show.add_argument("batch", metavar="BATCH")
    show.add_argument("--scoring", type=int, metavar="N",
                      help="scores from the batch's scoring N (default: the latest)")

    compare = actions.add_parser("compare", parents=[shared],
                                 help="two batches cell by cell: changes and flips")
    compare.add_argument("before", metavar="BEFORE", help="the earlier (baseline) batch")
    compare.add_argument("after", metavar="AFTER", nargs="?",
                         help="the later batch (not with --scorings)")
    compare.add_argument("--scorings", nargs="*", type=int, metavar="N",
                         help="compare scorings of the batch BEFORE instead: the last two, or "
                         "the two numbers given")
    compare.add_argument("--min-change", type=float, default=0.01, metavar="X",
                         help="smallest score change that counts (default 0.01)")
    compare.add_argument("--all", action="store_true", help="list every cell, not just changes")

    gate = actions.add_parser("gate", parents=[shared],
                              help="exit 1 if the batch is below the bar or regressed")
    gate.add_argument("batch", metavar="BATCH")
    gate.add_argument("--fail-under", type=float, metavar="X",
                      help="lowest success rate and mean score that pass, 0..1")
    gate.add_argument("--baseline", metavar="BATCH", help="batch to hold this one against")
    gate.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="X",
                      help=f"largest drop against the baseline that passes "
                      f"(default {DEFAULT_MARGIN})")
    gate.add_argument("--significance", type=float, metavar="ALPHA",
                      help="fail on a drop only when it is significant at ALPHA (e.g. 0.05)")
    suspects.add_actions(actions, shared)


def run(args: argparse.Namespace) -> int:
    action = args.action or "list"
    store = open_store(args)
    if action == "list":
        return list_batches(store, args)
    if action == "show":
        return show_batch(store, args)
    if action == "compare":
        return compare(store, args)
    if action == "suspects":
        return suspects.list_suspects(store, args)
    if action == "clear-suspect":
        return suspects.clear_suspect(store, args)
    return gate(store, args)


# --------------------------------------------------------------------------- helpers


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# --------------------------------------------------------------------------- list


def list_batches(store: Store, args: argparse.Namespace) -> int:
    json_out = getattr(args, "json", False)
    limit = getattr(args, "limit", 20)
    offset = getattr(args, "offset", 0)
    filters = {"search": getattr(args, "search", None), "mode": getattr(args, "mode", None),
               "status": getattr(args, "status", None)}
    if limit < 1 or offset < 0:
        raise UsageError("--limit must be 1 or more and --offset 0 or more")
    rows = store.batch_page(limit=limit, offset=offset, **filters)
    total = store.count_batch_page(**filters)
    for row in rows:
        row["duration_s"] = seconds_between(row["started_at"], row["finished_at"])
    if json_out:
        _print_json({"total": total, "offset": offset, "batches": rows})
        return 0
    table = Table(title=f"Batches {offset + 1 if rows else 0}–{offset + len(rows)} of {total}",
                  title_justify="left")
    for name in ("batch", "created", "mode", "status", "models", "scenarios", "cells", "done",
                 "failed", "score", "duration"):
        table.add_column(name, justify="right" if name in (
            "models", "scenarios", "cells", "done", "failed", "score", "duration") else "left")
    for r in rows:
        table.add_row(r["batch_id"], r["created_at"][:16].replace("T", " "), r["mode"],
                      r["status"], str(len(r["models"])), str(len(r["scenarios"])),
                      str(r["total_cells"]), str(r["done"]), str(r["failed"]),
                      score(r["mean_score"]), duration(r["duration_s"]))
    make_console().print(table)
    return 0


# --------------------------------------------------------------------------- show


def show_batch(store: Store, args: argparse.Namespace) -> int:
    from tui_bench.commands.export import check_scoring

    scoring = getattr(args, "scoring", None)
    try:
        check_scoring(store, args.batch, scoring)
        summary = batch_summary(store, args.batch, scoring=scoring)
    except KeyError:
        raise CommandError(f"no batch {args.batch!r} in {store.path}") from None
    if args.json:
        _print_json(summary)
        return 0
    from tui_bench.headless import results_table

    console = make_console()
    batch = store.get_batch(args.batch) or {}
    s = summary["summary"]
    console.print(f"[bold]{args.batch}[/] · {summary['mode']} · {summary['status']} · "
                  f"created {str(batch.get('created_at', ''))[:16].replace('T', ' ')} · "
                  f"{duration(summary['duration_s'])}")
    console.print(f"models: {', '.join(batch.get('models', [])) or '—'}")
    console.print(f"scenarios: {', '.join(batch.get('scenarios', [])) or '—'}")
    console.print(f"{summary['cells']} cells · {s['ok']} ok, {s['failed']} failed, "
                  f"{s['cancelled']} cancelled · success {percent(s['success_rate'])} · "
                  f"mean score {score(s['mean_score'])} · "
                  f"{rate(s['mean_tokens_per_s'])} tok/s")
    runs = store.runs(args.batch, limit=10_000, with_evaluations=True)
    if scoring is not None:
        runs = store.as_scored(runs, scoring)
    console.print(results_table(runs, title=f"Runs · {args.batch} · scoring "
                                f"{summary['scoring']}"))
    return 0


# --------------------------------------------------------------------------- compare


def cells_table(title: str, cells: list[CellChange]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("model", "scenario", "tier", "version", "specialist", "#", "before", "after",
                 "change", "flip", "tok/s change"):
        table.add_column(name, justify="right" if name in (
            "#", "before", "after", "change", "tok/s change") else "left")
    for c in cells:
        before = score(c.score_before) if c.status_before == "ok" else c.status_before
        after = score(c.score_after) if c.status_after == "ok" else c.status_after
        flip = {"fixed": "[green]fail → pass[/]", "broke": "[red]pass → fail[/]"}.get(
            c.flip or "", "")
        table.add_row(c.model, c.scenario_id, c.tier, c.prompt_version, c.specialist or "—",
                      str(c.iteration), before, after, number(c.score_change, "{:+.3f}"), flip,
                      number(c.tps_change, "{:+.1f}"))
    return table


def print_comparison(console: Console, comparison: BatchComparison, *, every: bool) -> None:
    s = comparison.summary
    console.print(f"[bold]{comparison.before}[/] → [bold]{comparison.after}[/]: "
                  f"{s.cells} shared cells · [green]{s.improved} improved[/] · "
                  f"[red]{s.regressed} regressed[/] · {s.same} unchanged · "
                  f"{s.fixed} fail→pass · {s.broke} pass→fail"
                  + (f" · {s.not_compared} not compared (cancelled)" if s.not_compared else ""))
    console.print(f"mean score {score(s.mean_before)} → {score(s.mean_after)}"
                  f" ({number(s.mean_change, '{:+.3f}')}) · success {percent(s.success_before)} → "
                  f"{percent(s.success_after)} · tok/s {number(s.tps_before, '{:.1f}')} → "
                  f"{number(s.tps_after, '{:.1f}')}")
    paired = comparison.paired()
    console.print(f"paired on the shared cells: {paired.describe()}", highlight=False)
    console.print("  (the interval is where the true mean score change lies with 95% "
                  "confidence; McNemar p is the chance of flips this lopsided if nothing "
                  "changed)", style="dim", highlight=False)
    if comparison.only_before or comparison.only_after:
        console.print(f"{len(comparison.only_before)} cell(s) only in {comparison.before}, "
                      f"{len(comparison.only_after)} only in {comparison.after}")
    table = Table(title="Per model", title_justify="left")
    for name in ("model", "cells", "improved", "regressed", "fixed", "broke", "before", "after",
                 "change", "95% CI", "McNemar p", "tok/s change"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for model, g in comparison.per_model().items():
        p = comparison.paired(model)
        ci = ("—" if p.diff_low is None or p.diff_high is None
              else f"[{p.diff_low:+.3f}, {p.diff_high:+.3f}]")
        table.add_row(model, str(g.cells), str(g.improved), str(g.regressed), str(g.fixed),
                      str(g.broke), score(g.mean_before), score(g.mean_after),
                      number(g.mean_change, "{:+.3f}"), ci, number(p.p_value, "{:.3g}"),
                      number(g.tps_change, "{:+.1f}"))
    console.print(table)
    if every:
        console.print(cells_table("Every cell", comparison.cells))
        return
    regressed = comparison.with_verdict("regressed")
    improved = comparison.with_verdict("improved")
    if regressed:
        console.print(cells_table("Regressed", sorted(
            regressed, key=lambda c: (c.flip != "broke", c.score_change or 0.0))))
    if improved:
        console.print(cells_table("Improved", sorted(
            improved, key=lambda c: (c.flip != "fixed", -(c.score_change or 0.0)))))


def compare(store: Store, args: argparse.Namespace) -> int:
    scorings = getattr(args, "scorings", None)
    if (scorings is None) == (args.after is None):
        raise UsageError("compare takes BEFORE AFTER batches, or BATCH --scorings [N N]")
    if scorings is not None and len(scorings) not in (0, 2):
        raise UsageError("--scorings takes no number (the last two scorings) or two")
    try:
        if scorings is not None:
            from tui_bench.analysis.scorings import compare_scorings

            comparison = compare_scorings(store, args.before, *scorings,
                                          min_change=args.min_change)
        else:
            comparison = compare_batches(store, args.before, args.after,
                                         min_change=args.min_change)
    except KeyError as exc:
        raise CommandError(f"no batch {exc.args[0]!r} in {store.path}") from None
    except ValueError as exc:
        raise UsageError(f"--scorings: {exc}") from None
    if args.json:
        _print_json(comparison.to_dict())
        return 0
    print_comparison(make_console(), comparison, every=args.all)
    return 0


# --------------------------------------------------------------------------- gate


def print_gate(result: GateResult, console: Console, err: Console) -> None:
    """The verdict on one line, then each reason (on stderr when the gate failed).

    Shared with the headless run, which calls the gate after ``--run ... --fail-under``.
    """
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"gate {verdict} · {result.batch_id} · success {percent(result.success_rate)} · "
                  f"mean score {score(result.mean_score)}"
                  + (f" · baseline {result.baseline}" if result.baseline else ""))
    for reason in result.reasons:
        (err if not result.passed else console).print(f"  {reason}", highlight=False)
    if result.regressed_cells and result.passed:
        console.print(f"  {len(result.regressed_cells)} cell(s) regressed, within the margin "
                      "overall")


def gate(store: Store, args: argparse.Namespace) -> int:
    if args.fail_under is None and args.baseline is None:
        raise UsageError("gate needs --fail-under X, --baseline BATCH or both")
    if args.fail_under is not None and not 0 <= args.fail_under <= 1:
        raise UsageError("--fail-under must be between 0 and 1")
    significance = getattr(args, "significance", None)
    if significance is not None and not 0 < significance < 1:
        raise UsageError("--significance must be between 0 and 1, e.g. 0.05")
    result = evaluate_gate(store, args.batch, fail_under=args.fail_under,
                           baseline=args.baseline, margin=args.margin, significance=significance)
    if args.json:
        _print_json(result.to_dict())
        return result.exit_code
    print_gate(result, make_console(), make_console(stderr=True))
    sys.stdout.flush()
    return result.exit_code
