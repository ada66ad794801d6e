"""``tui-bench batches suspects|clear-suspect``: runs held back because their answer reached
for its own scoring (scoring/suspect.py), listed, and cleared by a person who looked."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from tui_bench.commands.context import make_console
from tui_bench.commands.errors import CommandError
from tui_bench.store import Store, StoreError


def add_actions(actions: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    listing = actions.add_parser("suspects", parents=[shared],
                                 help="runs held as suspect (not counted as a success)")
    listing.add_argument("batch", metavar="BATCH", nargs="?", help="only this batch")
    clear = actions.add_parser("clear-suspect", parents=[shared],
                               help="count a suspect run again, after looking at its answer")
    clear.add_argument("run_id", metavar="RUN_ID")


def list_suspects(store: Store, args: argparse.Namespace) -> int:
    rows = store.suspect_runs(getattr(args, "batch", None))
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2, default=str))
        return 0
    table = Table(title=f"Suspect runs ({len(rows)})", title_justify="left")
    for name in ("run", "batch", "model", "scenario", "held verdict", "why"):
        table.add_column(name)
    for r in rows:
        held = "—" if r["suspect_success"] is None else ("pass" if r["suspect_success"] else "fail")
        table.add_row(r["run_id"], r["batch_id"], r["model"], r["scenario_id"], held,
                      r["suspect"])
    make_console().print(table)
    return 0


def clear_suspect(store: Store, args: argparse.Namespace) -> int:
    try:
        verdict = store.clear_suspect(args.run_id)
    except StoreError as exc:
        raise CommandError(f"{exc} in {store.path}") from None
    shown = "—" if verdict is None else ("pass" if verdict else "fail")
    if getattr(args, "json", False):
        print(json.dumps({"run_id": args.run_id, "success": verdict}))
    else:
        make_console().print(f"{args.run_id} cleared: counted again as {shown}")
    return 0
