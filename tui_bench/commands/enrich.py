"""``tui-bench enrich TEMPLATE``: fetch a template's documents and add model-written metadata."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tui_bench import locations
from tui_bench.backends import BackendPool
from tui_bench.commands.context import settings_from
from tui_bench.domain import DEFAULT_MODEL
from tui_bench.specialists.enrich import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_TOKENS,
    EnrichError,
    EnrichProgress,
    enrich_template,
)
from tui_bench.specialists.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S
from tui_bench.specialists.fetch_policy import FetchPolicy
from tui_bench.specialists.paths import UnsafePathError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", metavar="TEMPLATE",
                        help="template name (python-craftsman) or file (templates/x.json5)")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="REF",
                        help=f"model that writes the metadata (default {DEFAULT_MODEL})")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, metavar="N",
                        help="longest metadata answer per document")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, metavar="N",
                        help="document text given to the model, in characters")
    parser.add_argument("--fetch-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help="longest wait for one document")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                        help="largest download per document")
    parser.add_argument("--allow-path", action="append", default=[], metavar="PATH",
                        help="a file or folder outside the template's folder its documents "
                        "may read (repeatable)")
    parser.add_argument("--allow-private", action="store_true",
                        help="let documents be fetched from loopback, private and link-local "
                        "addresses")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the file written")


def run(args: argparse.Namespace) -> int:
    def progress(step: EnrichProgress) -> None:
        if not args.quiet and step.state in ("fetching", "enriched", "skipped"):
            tail = f": {step.reason}" if step.reason else ""
            print(f"[{step.index + 1}/{step.total}] {step.state} {step.title}{tail}",
                  file=sys.stderr)

    try:
        result = asyncio.run(enrich_template(
            args.template, templates_dir=locations.templates_dir(args.templates_dir),
            model=args.model, pool=BackendPool(settings_from(args)), max_chars=args.max_chars,
            max_tokens=args.max_tokens, timeout_s=args.fetch_timeout, max_bytes=args.max_bytes,
            on_progress=progress,
            policy=FetchPolicy(allowed_paths=tuple(Path(p) for p in args.allow_path),
                               allow_private=args.allow_private)))
    except (EnrichError, UnsafePathError, ValueError) as exc:
        print(f"tui-bench: {exc}", file=sys.stderr)
        return 1
    if args.quiet:
        print(result.path)
        return 0
    print(f"enriched {len(result.enriched)} of {len(result.outcomes)} documents of "
          f"{result.template.name} {result.template.version} with {args.model}")
    for outcome in result.enriched:
        print(f"  enriched  {outcome.title}")
    for outcome in result.skipped:
        print(f"  skipped   {outcome.title}: {outcome.reason}")
    print(f"written to {result.path}")
    return 0
