"""``tui-bench export BATCH --format json|csv|md|html``: a batch in a file others can open.

Without ``--output`` the export goes to standard output; the format defaults to the output
file's suffix, else JSON. HTML is one standalone file with its charts inline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_bench.analysis.export import FORMATS, export_batch
from tui_bench.commands.context import open_store
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.store import Store

SUFFIXES = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md", ".html": "html",
            ".htm": "html"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch", metavar="BATCH", help="the batch id")
    parser.add_argument("--format", "-f", choices=FORMATS,
                        help="json (the portable summary), csv (one row per run), md or html "
                        "(default: from --output's suffix, else json)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument("--scoring", type=int, metavar="N",
                        help="scores from the batch's scoring N (default: the latest; see "
                        "tui-bench rescore BATCH --list)")


def chosen_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        suffix = Path(args.output).suffix.lower()
        if suffix not in SUFFIXES:
            raise UsageError(f"cannot tell the format from {args.output!r}; pass --format")
        return SUFFIXES[suffix]
    return "json"


def write_atomically(path: Path, text: str) -> None:
    """A half-written export is worse than none: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def check_scoring(store: Store, batch_id: str, number: int | None) -> None:
    """``--scoring N`` must name a scoring the batch has (``KeyError`` if no batch)."""
    if number is None:
        return
    if store.get_batch(batch_id) is None:
        raise KeyError(batch_id)
    numbers = [row["number"] for row in store.scorings(batch_id)]
    if number not in numbers:
        raise UsageError(f"--scoring: batch {batch_id} has no scoring {number} (it has "
                         f"{', '.join(map(str, numbers))})")


def run(args: argparse.Namespace) -> int:
    fmt_name = chosen_format(args)
    store = open_store(args)
    try:
        check_scoring(store, args.batch, args.scoring)
        text = export_batch(store, args.batch, fmt_name, scoring=args.scoring)
    except KeyError:
        raise CommandError(f"no batch {args.batch!r} in {store.path}") from None
    if args.output:
        try:
            write_atomically(Path(args.output), text)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"{fmt_name} export of {args.batch} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
