"""``tui-bench doctor``: check the database with SQLite's integrity check; copy out what is
readable with ``--recover OUT``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_bench import locations
from tui_bench.commands.checks import check_db_path
from tui_bench.commands.errors import CommandError
from tui_bench.store import StoreError
from tui_bench.store.doctor import integrity_problems, recover_copy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recover", metavar="OUT",
                        help="write a new database with every row that can still be read")
    parser.add_argument("--method", choices=("auto", "cli", "rows"), default="auto",
                        help="recovery: SQLite's .recover (cli), a row copy (rows), or the "
                        "first available (auto)")


def run(args: argparse.Namespace) -> int:
    path = locations.db_path(args.db)
    check_db_path(path)
    try:
        problems = integrity_problems(path)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if problems:
        print(f"{path}: damaged ({len(problems)} problem(s) found)", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    else:
        print(f"{path}: ok (integrity check passed)")
    if args.recover:
        out = Path(args.recover)
        try:
            recovery = recover_copy(path, out, method=args.method)
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        kept = ", ".join(f"{n} {c}" for n, c in sorted(recovery.rows.items()) if c)
        print(f"recovered into {out} by {recovery.method}: {kept or 'no rows'}")
        if recovery.lost_tables:
            print(f"  unreadable tables: {', '.join(recovery.lost_tables)}")
        after = integrity_problems(out)
        print(f"  {out}: " + ("ok (integrity check passed)" if not after
                              else f"{len(after)} problem(s) remain"))
        return 0
    return 1 if problems else 0
