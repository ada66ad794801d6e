"""``tui-bench rescore BATCH``: score stored outputs again, without calling the model.

Each rescore is a new scoring of the batch; earlier scorings are kept and reports read the
latest (``--scoring N`` on ``batches show`` and ``export`` reads another). ``--compare`` shows
which runs changed verdict between two scorings; ``--list`` lists them. Interrupted, the same
command finishes the scoring it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from tui_bench.analysis.scorings import compare_scorings
from tui_bench.commands.context import load, make_console, open_store, settings_from
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.present import duration
from tui_bench.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch", metavar="BATCH", help="the batch whose outputs to score again")
    parser.add_argument("--evaluators", metavar="NAMES",
                        help="score with these evaluators instead of each scenario's own, "
                        "comma-separated, each optionally NAME=WEIGHT")
    parser.add_argument("--rubric", metavar="ID", help="judge against this rubric")
    parser.add_argument("--judge", metavar="MODEL", help="grade every run with this model too")
    parser.add_argument("--concurrency", "-j", type=int, default=2, metavar="N",
                        help="runs scored at once (default 2)")
    parser.add_argument("--compare", nargs="*", type=int, metavar="N",
                        help="compare two scorings instead (default: the last two; or give "
                        "BEFORE AFTER numbers)")
    parser.add_argument("--list", action="store_true", help="list the batch's scorings")
    parser.add_argument("--all", action="store_true", help="with --compare: every run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    store = open_store(args)
    if store.get_batch(args.batch) is None:
        raise CommandError(f"no batch {args.batch!r} in {store.path}")
    if args.list:
        return list_scorings(store, args)
    if args.compare is not None:
        return compare(store, args)
    return rescore(store, args)


def list_scorings(store: Store, args: argparse.Namespace) -> int:
    rows = store.scorings(args.batch)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    from rich.table import Table

    table = Table(title=f"Scorings · {args.batch}", title_justify="left")
    for name in ("#", "kind", "status", "evaluators", "rubric", "judge", "created"):
        table.add_column(name)
    latest = rows[-1]["number"]
    for r in rows:
        table.add_row(f"{r['number']}{' (latest)' if r['number'] == latest else ''}",
                      r["kind"], r["status"], ",".join(r["evaluators"]) or "scenarios' own",
                      r["rubric"] or "scenarios' own", r["judge"] or "—",
                      str(r["created_at"])[:19].replace("T", " "))
    make_console().print(table)
    return 0


def compare(store: Store, args: argparse.Namespace) -> int:
    numbers = args.compare or []
    if len(numbers) not in (0, 2):
        raise UsageError("--compare takes no number (the last two scorings) or two: BEFORE AFTER")
    try:
        comparison = compare_scorings(store, args.batch, *numbers)
    except ValueError as exc:
        raise UsageError(f"--compare: {exc}") from None
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, default=str))
        return 0
    from tui_bench.commands.batches import print_comparison

    print_comparison(make_console(), comparison, every=args.all)
    return 0


def rescore(store: Store, args: argparse.Namespace) -> int:
    from tui_bench.backends import BackendPool
    from tui_bench.engine.rescore import RescoreError, Rescorer

    if args.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more")
    console = make_console(stderr=args.json)
    catalog = load(args)
    pool = BackendPool(settings_from(args)) if args.judge else None
    counter = {"n": 0}

    def on_scored(run: Any, scored: Any) -> None:
        counter["n"] += 1
        if counter["n"] % 50 == 0:
            console.print(f"  {counter['n']} runs scored")

    rescorer = Rescorer(store, catalog, pool=pool, on_scored=on_scored)

    async def go() -> Any:
        try:
            return await rescorer.run(args.batch, evaluators=args.evaluators,
                                      rubric=args.rubric, judge=args.judge,
                                      concurrency=args.concurrency)
        finally:
            if pool is not None:
                await pool.aclose()

    try:
        result = asyncio.run(go())
    except RescoreError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        number = store.latest_scoring(args.batch)
        print(f"tui-bench: rescore of {args.batch} stopped at scoring {number}; run the same "
              "command again to finish it", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps({"batch_id": result.batch_id, "scoring": result.scoring,
                          "status": result.status, "scored": result.scored,
                          "skipped": result.skipped, "unscorable": result.unscorable,
                          "resumed": result.resumed, "elapsed_s": result.elapsed_s}, indent=2))
        return 0
    verb = "continued" if result.resumed else "new"
    console.print(f"[bold]{args.batch}[/] scoring {result.scoring} ({verb}): "
                  f"{result.scored} runs scored, {result.skipped} already scored, "
                  f"{len(result.unscorable)} not scorable · {duration(result.elapsed_s)}")
    for line in result.unscorable[:10]:
        console.print(f"  not scored: {line}", highlight=False)
    if result.scoring > 1:
        from tui_bench.commands.batches import print_comparison

        print_comparison(console, compare_scorings(store, args.batch), every=False)
    return 0
