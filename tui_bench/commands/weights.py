"""``tui-bench weights``: routing weights per category, learned from the latest scores.

Without ``--update`` it shows the stored weights. ``--update`` moves each (model, category)
weight toward the model's mean score in the newest batch that ran it,
``new = old + rate * (mean - old)``, records the change in the history, writes
``routing_weights.json`` and shows what moved and by how much.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from tui_bench.analysis.weights import (
    DEFAULT_LEARNING_RATE,
    WEIGHTS_FILE,
    WeightChange,
    current_weights,
    plan_update,
    update_weights,
    write_weights_file,
)
from tui_bench.commands.context import make_console, open_store
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.present import number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--update", action="store_true",
                        help="learn from the latest scores and write the weights file")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE,
                        metavar="R", help=f"how far one update moves a weight, 0..1 "
                        f"(default {DEFAULT_LEARNING_RATE})")
    parser.add_argument("--batch", metavar="ID",
                        help="learn from this batch instead of each model's newest")
    parser.add_argument("--output", "-o", metavar="FILE", default=WEIGHTS_FILE,
                        help=f"where to write the weights (default ./{WEIGHTS_FILE})")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --update: show the changes without storing them")
    parser.add_argument("--history", action="store_true", help="show the latest changes")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def changes_table(changes: list[WeightChange]) -> Table:
    table = Table(title="Routing weight changes", title_justify="left")
    for name in ("category", "model", "old", "mean score", "new", "change", "runs", "batch"):
        table.add_column(name, justify="left" if name in ("category", "model", "batch")
                         else "right")
    for c in changes:
        if c.skipped:
            change = "already learned"
        elif c.old_weight is None:
            change = "new"
        else:
            change = number(c.change, "{:+.4f}")
        table.add_row(c.category, c.model, number(c.old_weight, "{:.4f}"),
                      f"{c.mean_score:.4f}", f"{c.new_weight:.4f}", change, str(c.runs),
                      c.source_batch)
    return table


def run(args: argparse.Namespace) -> int:
    if not 0 < args.learning_rate <= 1:
        raise UsageError("--learning-rate must be in (0, 1]")
    store = open_store(args)
    if args.batch and store.get_batch(args.batch) is None:
        raise CommandError(f"no batch {args.batch!r} in {store.path}")
    console = make_console()
    if args.history:
        rows = store.weight_history()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        table = Table(title="Routing weight history (newest first)", title_justify="left")
        for name in ("when", "category", "model", "old", "new", "mean", "rate", "batch"):
            table.add_column(name)
        for r in rows:
            table.add_row(r["updated_at"][:19].replace("T", " "), r["category"], r["model"],
                          number(r["old_weight"], "{:.4f}"), f"{r['new_weight']:.4f}",
                          f"{r['mean_score']:.4f}", f"{r['learning_rate']:g}",
                          r["source_batch"] or "—")
        console.print(table)
        return 0
    if args.update:
        if args.dry_run:
            changes = plan_update(store, learning_rate=args.learning_rate, batch_id=args.batch)
        else:
            changes = update_weights(store, learning_rate=args.learning_rate,
                                     batch_id=args.batch)
        if not args.dry_run:
            try:
                write_weights_file(store, Path(args.output))
            except OSError as exc:
                raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        if args.json:
            print(json.dumps([c.to_dict() for c in changes], indent=2))
            return 0
        if not changes:
            console.print("No scored runs yet: nothing to learn from.")
            return 0
        console.print(changes_table(changes))
        moved = [c for c in changes if not c.skipped]
        verb = "would change" if args.dry_run else "changed"
        console.print(f"{len(moved)} weight(s) {verb}"
                      + ("" if args.dry_run else f"; written to {args.output}"))
        return 0
    weights = current_weights(store)
    if args.json:
        print(json.dumps(weights, indent=2, sort_keys=True))
        return 0
    if not weights:
        console.print("No routing weights yet: tui-bench weights --update")
        return 0
    table = Table(title="Routing weights", title_justify="left")
    for name in ("category", "model", "weight"):
        table.add_column(name, justify="right" if name == "weight" else "left")
    for category, models in weights.items():
        for index, (model, weight) in enumerate(sorted(models.items(),
                                                       key=lambda kv: (-kv[1], kv[0]))):
            table.add_row(category if index == 0 else "", model, f"{weight:.4f}")
    console.print(table)
    return 0
